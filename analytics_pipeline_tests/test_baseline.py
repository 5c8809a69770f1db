"""The data scientist's path: `analytics-pipeline sample`, `analytics-pipeline run`, `python -m tools.train_baseline`,
and the README's snippets for data scientists, on a fresh raw dir."""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import subprocess
import sys
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pytest

from analytics_pipeline.cli import write_sample_history
from analytics_pipeline.raw_log import SAMPLE_FILE_NAME
from analytics_pipeline.sample_data import SampleGenerator
from analytics_pipeline.training import SPLITS, write_snapshot
from analytics_pipeline.training.tables import TAILORING_EXAMPLES, snapshot_columns
from analytics_pipeline_tests.conftest import TEST_SALT
from tools import train_baseline

PROJECT_ROOT = Path(__file__).resolve().parents[1]
START = date(2026, 11, 2)


def environment(root: Path) -> dict[str, str]:
    """Everything through the environment, as the README says: the defaults' layout under ``root``.

    No DAGSTER_HOME (`make test` exports the project's), as in a data scientist's shell: `run` uses a
    throwaway instance with the project's limits.
    """
    return {
        **{k: v for k, v in os.environ.items() if k != "DAGSTER_HOME"},
        "ANALYTICS_SALT": TEST_SALT,
        "ANALYTICS_RAW_DIR": str(root / "raw"),
        "ANALYTICS_DUCKDB_PATH": str(root / "data" / "warehouse.duckdb"),
        "ANALYTICS_TRAINING_DIR": str(root / "data" / "training"),
        "ANALYTICS_STAGING_DIR": str(root / "staging"),
        # More users in the small splits, so a three-day history has test rows of both labels.
        "ANALYTICS_TRAINING_SPLIT": "0.6,0.2,0.2",
    }


def run(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess:
    done = subprocess.run(args, capture_output=True, text=True, env=env, cwd=cwd, timeout=600)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return done


@pytest.fixture(scope="module")
def history(tmp_path_factory) -> tuple[Path, dict[str, str], str]:
    """Three days written by `sample` into an empty raw dir, then `run` (the same commands as the README's)."""
    root = tmp_path_factory.mktemp("history")
    env = environment(root)
    cli = [sys.executable, "-m", "analytics_pipeline.cli"]
    sample = run(
        [*cli, "sample", "--days", "3", "--users", "40", "--sessions-per-day", "25", "--start", "2026-11-02"], env, root
    )
    pipeline = run([*cli, "run"], env, root)
    assert "training sets: ok" in pipeline.stdout
    return root, env, sample.stdout


@pytest.mark.slow
def test_sample_run_and_train_baseline_print_test_metrics_from_what_the_environment_names(history):
    root, env, sample_output = history
    assert f"wrote 3 day(s), {START} to 2026-11-04, under {root / 'raw'}" in sample_output
    assert sorted(p.name for p in (root / "raw").iterdir()) == ["2026-11-02", "2026-11-03", "2026-11-04"]

    # From another directory: only the environment can lead it to the snapshot.
    elsewhere = root / "elsewhere"
    elsewhere.mkdir()
    done = run([sys.executable, "-m", "tools.train_baseline"], {**env, "PYTHONPATH": str(PROJECT_ROOT)}, elsewhere)
    version = json.loads(next((root / "data/training/tailoring_examples").glob("*/dataset_card.json")).read_text())[
        "version"
    ]
    assert f"snapshot: tailoring_examples {version} under {root / 'data/training'}" in done.stdout
    (test_line,) = [line for line in done.stdout.splitlines() if line.startswith("TEST ")]
    metrics = dict(field.split("=") for field in test_line.split()[1:])
    assert metrics["version"] == version and int(metrics["rows"]) > 0
    for name in ("auc", "log_loss", "accuracy", "baseline_log_loss", "baseline_accuracy"):
        assert 0 <= float(metrics[name]) < 10, test_line
    assert re.search(r"^test +\d+ +[\d.]+ \| +[\d.]+ +[\d.]+ +[\d.]+ \| +0\.500 ", done.stdout, re.M), done.stdout


def readme_section(title: str) -> str:
    text = (PROJECT_ROOT / "README.md").read_text()
    start = text.index(f"\n## {title}\n")
    end = text.find("\n## ", start + 1)
    return text[start : end if end != -1 else len(text)]


@pytest.mark.slow
def test_every_python_snippet_for_data_scientists_in_the_readme_runs_as_written(history, monkeypatch):
    root, env, _ = history
    blocks = re.findall(r"```python\n(.*?)```", readme_section("For data scientists"), re.S)
    assert len(blocks) >= 3
    # A fresh clone's defaults: data/warehouse.duckdb and data/training, relative to the project root.
    monkeypatch.chdir(root)
    monkeypatch.delenv("ANALYTICS_TRAINING_DIR", raising=False)
    monkeypatch.delenv("ANALYTICS_DUCKDB_PATH", raising=False)
    for block in blocks:
        namespace: dict = {}
        printed = io.StringIO()
        with contextlib.redirect_stdout(printed):
            exec(compile(block, "README.md", "exec"), namespace)
        frames = [v for v in namespace.values() if type(v).__name__ == "DataFrame"]
        assert all(len(frame) for frame in frames), block
        if ".show()" in block:
            assert printed.getvalue().strip(), block


def test_sample_refuses_days_that_have_files_unless_told_and_ends_yesterday(tmp_path, monkeypatch, capsys):
    raw = tmp_path / "raw"
    monkeypatch.setenv("ANALYTICS_RAW_DIR", str(raw))
    yesterday = datetime.now(UTC).date() - timedelta(days=1)
    assert write_sample_history(2, 3, 2, None, 7, overwrite=False) == 0
    assert sorted(p.name for p in raw.iterdir()) == [str(yesterday - timedelta(days=1)), str(yesterday)]

    # An existing day (here with a file the ingestion API wrote) is refused: nothing is written at all.
    (raw / "2026-11-03").mkdir()
    (raw / "2026-11-03" / "events-api-1.jsonl").write_text("{}\n")
    assert write_sample_history(3, 3, 2, date(2026, 11, 2), 7, overwrite=False) == 1
    assert "1 of these days already have files" in capsys.readouterr().err
    assert not (raw / "2026-11-02").exists()

    # Told to, it replaces the sample file of such a day and leaves the other files alone.
    assert write_sample_history(3, 3, 2, date(2026, 11, 2), 7, overwrite=True) == 0
    assert sorted(p.name for p in (raw / "2026-11-03").iterdir()) == ["events-api-1.jsonl", SAMPLE_FILE_NAME]
    assert write_sample_history(0, 3, 2, None, 7, overwrite=False) == 2


def test_the_synthetic_history_makes_acceptance_learnable():
    """Users take away outputs with higher scores more often: the signal the baseline should find."""
    events = [json.loads(line) for line in SampleGenerator(seed=3, users=50).day_lines(START, 800, 0.0)]
    finals, taken = {}, set()
    for event in events:  # the last output of a resume is the one a copy or download acts on
        if event["event_type"] in ("resume.tailor", "resume.refine"):
            finals[event["resume_id"]] = event["ats_score"]
        elif event["event_type"] in ("resume.copy", "resume.download"):
            taken.add(event["resume_id"])

    def rate(low: int, high: int) -> float:
        outputs = [r for r, score in finals.items() if low <= score < high]
        return sum(r in taken for r in outputs) / len(outputs)

    assert rate(80, 100) > rate(35, 60) + 0.25


def crafted_snapshot(directory: Path, rows: int, seed: int = 1) -> None:
    """A tailoring_examples snapshot whose label follows the ATS score (plus noise)."""
    import numpy as np

    rng = np.random.default_rng(seed)
    ats = rng.integers(35, 100, rows).astype(float)
    accepted = rng.random(rows) < 1 / (1 + np.exp(-(ats - 65) / 6))
    users = [f"{i:064x}" for i in range(rows)]
    values = {
        "event_id": [f"e{i}" for i in range(rows)],
        "anon_user_id": users,
        "split": [SPLITS[i % 5 // 3 + i % 5 // 4] for i in range(rows)],  # 3/5 train, 1/5 each other
        "version": [1] * rows,
        "is_refinement": [False] * rows,
        "tailoring_mode": [["concise", "executive", None][i % 3] for i in range(rows)],
        "ats_score": ats,
        "jd_score": [None if i % 7 == 0 else 60.0 for i in range(rows)],
        "accepted": accepted,
        "copied": accepted,
        "downloaded": [False] * rows,
        "refined_again": [False] * rows,
        "label_window_closed": [i % 10 != 0 for i in range(rows)],
    }
    schema = pa.schema([(c.name, c.arrow_type) for c in snapshot_columns(TAILORING_EXAMPLES)])
    data = pa.table({c: values.get(c, [None] * rows) for c in schema.names}, schema=schema)
    write_snapshot(directory, TAILORING_EXAMPLES, data, {"config": {"label_window_hours": 24}})


def test_the_baseline_beats_the_base_rate_when_the_label_follows_a_feature(tmp_path, capsys):
    crafted_snapshot(tmp_path, 1500)
    assert train_baseline.main(["--training-dir", str(tmp_path)]) == 0
    output = capsys.readouterr().out
    metrics = dict(field.split("=") for field in output.splitlines()[-1].split()[1:])
    assert float(metrics["auc"]) > 0.8
    assert float(metrics["log_loss"]) < float(metrics["baseline_log_loss"]) - 0.1
    assert float(metrics["accuracy"]) > float(metrics["baseline_accuracy"])
    assert (
        "rows with final labels (label_window_closed): train 750 of 900, validation 300 of 300, test 300 of 300"
        in output
    )


def test_the_baseline_says_why_it_cannot_train(tmp_path, capsys):
    assert train_baseline.main(["--training-dir", str(tmp_path)]) == 1
    assert "no snapshot of tailoring_examples" in capsys.readouterr().err
    crafted_snapshot(tmp_path, 4)
    assert train_baseline.main(["--training-dir", str(tmp_path)]) == 1
    assert "too little data" in capsys.readouterr().err
