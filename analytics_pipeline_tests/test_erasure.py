"""Right to erasure, end to end: a forgotten user is gone everywhere and stays gone."""

import contextlib
import gzip
import json
import os
import shutil
import signal
import stat
import subprocess
import sys
import time
import uuid
from pathlib import Path

import dagster as dg
import psutil
import pyarrow.parquet as pq
import pytest

from analytics_pipeline import cli, warehouse
from analytics_pipeline.contract import PLANNED_ELEMENTS
from analytics_pipeline.privacy.hashing import USER_DOMAIN, pseudonymize
from analytics_pipeline.sample_data import write_sample
from analytics_pipeline_tests.conftest import TEST_SALT, SampleDays, build_pipeline
from analytics_pipeline_tests.test_cli import PROJECT_ROOT

pytestmark = pytest.mark.slow
SALT = TEST_SALT.encode()


def pseudonym(user_id: str) -> str:
    return pseudonymize(user_id, SALT, USER_DOMAIN)


def raw_line_count(pipeline, day: str) -> int:
    return sum(len(p.read_bytes().splitlines()) for p in (pipeline.raw_dir / day).glob("*.jsonl"))


def tables_mentioning(pipeline, value: str) -> list[str]:
    """Every table (ledger aside) with a text column holding ``value``."""
    columns = pipeline.query(
        "SELECT table_schema, table_name, column_name FROM information_schema.columns "
        "WHERE table_catalog = 'warehouse' AND data_type = 'VARCHAR' AND table_name <> 'erasure_ledger'"
    )
    return sorted(
        {
            f"{schema}.{table}"
            for schema, table, column in columns
            if pipeline.query(f"SELECT count(*) FROM {schema}.{table} WHERE {column} = ?", [value])[0][0]
        }
    )


def parquet_files_mentioning(root, value: str) -> list[str]:
    return [
        str(path)
        for path in root.rglob("*.parquet")
        if "anon_user_id" in pq.read_schema(path).names
        and value in pq.read_table(path, columns=["anon_user_id"]).column(0).to_pylist()
    ]


def raw_files_mentioning(pipeline, user_id: str) -> list[str]:
    return [str(p) for p in pipeline.raw_dir.rglob("*.jsonl") if user_id.encode() in p.read_bytes()]


@pytest.fixture
def small_sample(pipeline) -> SampleDays:
    """Two short days with few users, so users come back on the second day."""
    pii = write_sample(pipeline.raw_dir, days=2, sessions_per_day=5, users=4, seed=5, malformed_share=0.1)
    return SampleDays(sorted(p.name for p in pipeline.raw_dir.iterdir()), pii)


@pytest.fixture
def loaded(pipeline, small_sample, monkeypatch):
    sample_days = small_sample
    for day in sample_days.days:
        assert pipeline.run(day).success
    # Stand-ins for the training sets (another module): a table and a versioned Parquet snapshot.
    with warehouse.connect(pipeline.database) as conn:
        conn.execute("CREATE SCHEMA training")
        conn.execute("CREATE TABLE training.examples AS SELECT anon_user_id, event_id FROM analytics.resume_events")
        snapshot = pipeline.root / "training" / "examples" / "v1"
        snapshot.mkdir(parents=True)
        pq.write_table(conn.sql("SELECT * FROM training.examples").to_arrow_table(), snapshot / "part-0.parquet")
    # The CLI reads the same paths from the environment.
    for name, value in {
        "ANALYTICS_SALT": TEST_SALT,
        "ANALYTICS_RAW_DIR": pipeline.raw_dir,
        "ANALYTICS_STAGING_DIR": pipeline.root / "staging",
        "ANALYTICS_DUCKDB_PATH": pipeline.database,
        "ANALYTICS_TRAINING_DIR": pipeline.root / "training",
    }.items():
        monkeypatch.setenv(name, str(value))
    monkeypatch.delenv("DAGSTER_HOME", raising=False)  # ephemeral instance, nothing in the working dir
    return pipeline, sample_days


def returning_user(pipeline, sample) -> str:
    """A raw user ID active on both days, with resume events."""
    anon_ids = {
        v
        for (v,) in pipeline.query(
            "SELECT anon_user_id FROM analytics.users WHERE active_days > 1 AND resume_event_count > 0"
        )
    }
    return next(u for u in sorted(sample.pii.values["user_id"]) if pseudonym(u) in anon_ids)


def test_forget_removes_the_user_everywhere_and_replays_stay_out(loaded, capsys):
    pipeline, sample = loaded
    user_id = returning_user(pipeline, sample)
    anon = pseudonym(user_id)
    assert tables_mentioning(pipeline, anon) and raw_files_mentioning(pipeline, user_id)
    assert parquet_files_mentioning(pipeline.root / "training", anon)
    assert parquet_files_mentioning(pipeline.root / "staging", anon)
    replayed = next(
        line
        for line in (pipeline.raw_dir / sample.days[0] / "events-sample.jsonl").read_text().splitlines()
        if f'"{user_id}"' in line and '"resume.' in line
    )
    other_users_before = pipeline.query("SELECT count(*) FROM analytics.users")[0][0]

    assert cli.main(["forget", user_id]) == 0
    report = capsys.readouterr().out
    assert anon not in report and user_id not in report

    assert tables_mentioning(pipeline, anon) == []
    assert parquet_files_mentioning(pipeline.root, anon) == []
    assert raw_files_mentioning(pipeline, user_id) == []
    assert pipeline.query("SELECT count(*) FROM analytics.users")[0][0] == other_users_before - 1
    (ledger,) = pipeline.query("SELECT anon_user_id FROM analytics.erasure_ledger")
    assert ledger == (anon,)
    (snapshot,) = (pipeline.root / "training").rglob("*.parquet")  # rewritten owner-only
    assert stat.S_IMODE(snapshot.stat().st_mode) == 0o600

    # A late replay of one of the user's events (new event_id), then every day re-materialized.
    event = json.loads(replayed) | {"event_id": "6f1c1f4e-0000-4000-8000-000000000001"}
    (pipeline.raw_dir / sample.days[1] / "events-late.jsonl").write_text(json.dumps(event) + "\n")
    for day in sample.days:
        assert pipeline.run(day).success
    assert tables_mentioning(pipeline, anon) == []
    assert pipeline.query("SELECT count(*) FROM analytics.quarantine WHERE reason_code = 'erased_user'")[0][0] == 1
    for day in sample.days:  # nothing lost: every line is loaded or quarantined
        (events,) = pipeline.query(
            "SELECT (SELECT count(*) FROM analytics.resume_events WHERE partition_date = ?) + "
            "(SELECT count(*) FROM analytics.interactions WHERE partition_date = ?) + "
            "(SELECT count(*) FROM analytics.quarantine WHERE partition_date = ?)",
            [day, day, day],
        )[0]
        assert events == raw_line_count(pipeline, day)


def test_forget_of_a_spaced_id_erases_that_id_only_and_says_when_nothing_was_found(loaded, capsys):
    pipeline, sample = loaded
    user_id = returning_user(pipeline, sample)
    spaced = f" {user_id} "  # another user for the contract, which stores user_id as sent
    day = pipeline.raw_dir / sample.days[0] / "events-sample.jsonl"
    with day.open("a") as raw:  # one event of the spaced ID, as the app sent it
        raw.write(
            json.dumps(
                {
                    "event_id": str(uuid.uuid4()),
                    "event_type": "interaction",
                    "user_id": spaced,
                    "occurred_at": "2026-11-02T10:00:00Z",
                    "action": "click",
                    "element": "other",
                }
            )
            + "\n"
        )

    assert cli.main(["forget", f"  {user_id}  "]) == cli.NOTHING_ERASED_EXIT_CODE  # nobody sent this one
    assert cli.NOTHING_ERASED_WARNING in capsys.readouterr().err
    assert raw_files_mentioning(pipeline, user_id) and tables_mentioning(pipeline, pseudonym(user_id))

    assert cli.main(["forget", spaced]) == 0
    assert json.dumps(spaced).encode() not in day.read_bytes()  # its line is blanked
    assert f'"{user_id}"'.encode() in day.read_bytes()  # the other user's are not
    assert tables_mentioning(pipeline, pseudonym(user_id))


def test_erasure_job_refuses_another_salt(loaded, tmp_path):
    pipeline, sample = loaded
    user_id = returning_user(pipeline, sample)
    other_salt = build_pipeline(
        pipeline.root,
        pseudonymizer=type(pipeline.definitions.resources["pseudonymizer"])(
            salt="synthetic-other-salt-5be08d2f61a9c374"
        ),
    )
    result = other_salt.definitions.resolve_job_def("erasure_job").execute_in_process(
        run_config={"ops": {"forget_user": {"config": {"anon_user_id": pseudonym(user_id)}}}},
        raise_on_error=False,
    )
    assert not result.success
    message = result.get_step_failure_events()[0].step_failure_data.error.message
    assert "fingerprint" in message and TEST_SALT not in message
    assert tables_mentioning(pipeline, pseudonym(user_id)), "nothing was erased"


def test_erasure_job_rejects_a_raw_user_id_as_config(pipeline):
    result = pipeline.definitions.resolve_job_def("erasure_job").execute_in_process(
        run_config={"ops": {"forget_user": {"config": {"anon_user_id": "usr_1234"}}}}, raise_on_error=False
    )
    assert not result.success
    assert "64-hex-digit" in result.get_step_failure_events()[0].step_failure_data.error.message


def test_erasure_fails_naming_the_files_it_cannot_read_after_erasing_the_rest(pipeline):
    user_id = "synthetic-user-12"
    line = json.dumps(
        {
            "event_id": str(uuid.uuid4()),
            "event_type": "interaction",
            "occurred_at": "2026-11-02T10:00:00Z",
            "user_id": user_id,
            "action": "click",
            "element": "refine-button",
        }
    )
    day = pipeline.raw_dir / "2026-11-02"
    day.mkdir(parents=True)
    (day / "events-a.jsonl").write_text(line + "\n")
    (day / "events-b.jsonl.gz").write_bytes(gzip.compress((line + "\n").encode())[:-8])  # cut short
    torn = pipeline.root / "staging" / "2026-11-02" / "interactions.parquet"
    torn.parent.mkdir(parents=True)
    torn.write_bytes(b"PAR1 and no footer")  # outside any work directory: not a leftover, not readable
    config = {"ops": {"forget_user": {"config": {"anon_user_id": pseudonym(user_id)}}}}
    job = pipeline.definitions.resolve_job_def("erasure_job")

    result = job.execute_in_process(run_config=config, instance=pipeline.instance, raise_on_error=False)
    assert not result.success
    message = result.get_step_failure_events()[0].step_failure_data.error.message
    assert "raw/2026-11-02/events-b.jsonl.gz" in message and "staging/2026-11-02/interactions.parquet" in message
    assert user_id not in message
    assert user_id.encode() not in (day / "events-a.jsonl").read_bytes()  # the rest was done

    torn.unlink()
    (day / "events-b.jsonl.gz").unlink()
    assert job.execute_in_process(run_config=config, instance=pipeline.instance, raise_on_error=False).success


# --- after a killed run, through the command line, every file searched -------------------------------

DAY_1, DAY_2 = "2026-11-02", "2026-11-03"
# One user's raw IDs and personal data, written plainly into texts and, as a careless app would, into the
# identifier fields. After `forget` not one of these byte strings may remain (case-insensitive).
TARGET = {"user_id": "usr_tq_48213", "resume_id": "res_tq_77102"}
RESUME = (
    "Thandiwe Quellbrand\nthandiwe.quellbrand@example.net | (415) 555-0142 | SSN 536-22-8841\n"
    "Data engineer with six years of Spark; built the quokka-ledger reconciliation service."
)
TRACES = [
    *(v.encode() for v in TARGET.values()),
    b"thandiwe",
    b"quellbrand",
    b"555-0142",
    b"4155550142",
    b"41-55-55",
    b"536-22-8841",
    b"536228841",
    b"53-62-28",
    b"quokka-ledger",  # a stretch of the user's text that scrubbing keeps
]
HOSTILE_ELEMENTS = ["thandiwe.quellbrand", "thandiwe-quellbrand-example-net", "ph-41-55-55-01-42", "ssn-53-62-28-84-1"]
HOSTILE_PAGES = [
    "/thandiwe-quellbrand",
    "/u/:thandiwe_quellbrand/profile",
    "/{thandiwe_quellbrand}/edit",
    "/thandiwe~q/x",
]


def target_lines(day: str) -> list[str]:
    base = {"user_id": TARGET["user_id"], "occurred_at": f"{day}T08:00:00Z"}
    resume = base | {"resume_id": TARGET["resume_id"], "version": 1}
    events = [
        base | {"event_type": "interaction", "action": "click", "element": element, "page": page}
        for element, page in zip(HOSTILE_ELEMENTS, HOSTILE_PAGES, strict=True)
    ]
    events += [
        resume | {"event_type": "resume.upload", "resume_text": RESUME},
        resume | {"event_type": "resume.tailor", "resume_text": RESUME, "tailored_text": RESUME, "ats_score": 70},
    ]
    return [json.dumps({"event_id": str(uuid.uuid4())} | e) for e in events]


def files_with_traces(root: Path) -> dict[str, list[bytes]]:
    """Every regular file under ``root`` holding a trace, byte for byte (lower-cased), and for Parquet
    also in its decoded values (compression could hide a value from the byte search)."""
    found = {}
    for path in sorted(p for p in root.rglob("*") if p.is_file() and not p.is_symlink()):
        data = path.read_bytes().lower()
        if path.suffix == ".parquet":
            data += str(pq.read_table(path).to_pylist()).lower().encode()
        if hits := [t for t in TRACES if t in data]:
            found[str(path.relative_to(root))] = hits
    return found


def descendants(process: subprocess.Popen) -> list[psutil.Process]:
    with contextlib.suppress(psutil.NoSuchProcess):
        return psutil.Process(process.pid).children(recursive=True)
    return []


def kill_all(process: subprocess.Popen, others: list[psutil.Process]) -> None:
    """SIGKILL ``process`` and ``others`` (its descendants, listed before any of them was killed), by pid."""
    for other in others:
        with contextlib.suppress(psutil.NoSuchProcess):
            other.kill()
    process.kill()
    process.wait(timeout=30)


def test_forget_after_a_killed_run_leaves_no_byte_of_the_user_in_data_or_dagster_home(pipeline, tmp_path):
    raw = pipeline.raw_dir
    write_sample(raw, days=2, sessions_per_day=8, users=6, seed=21, malformed_share=0.0)
    for day in (DAY_1, DAY_2):  # first in its day, so it would be first in any preview
        (raw / day / "events-a.jsonl").write_text("\n".join(target_lines(day)) + "\n")
    # Copies the pipeline does not read: a backup, a note, a nested and a non-day folder.
    (raw / DAY_1 / "events-a.jsonl.bak").write_bytes((raw / DAY_1 / "events-a.jsonl").read_bytes())
    (raw / DAY_1 / "notes.txt").write_text(f"{TARGET['user_id']} called from (415) 555-0142 about the SSN\n")
    (raw / DAY_1 / "old").mkdir()
    (raw / DAY_1 / "old" / "events.jsonl").write_bytes((raw / DAY_2 / "events-a.jsonl").read_bytes())
    (raw / "scratch").mkdir()
    (raw / "scratch" / "copy.jsonl").write_bytes((raw / DAY_1 / "events-a.jsonl").read_bytes())
    assert files_with_traces(raw)
    anon = pseudonym(TARGET["user_id"])

    # The first day and the training sets, recorded in a real instance (the project's dagster.yaml): its run
    # storage is where previews and metadata live. In this process, where the scrubber is already loaded.
    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copy(PROJECT_ROOT / "data" / "dagster_home" / "dagster.yaml", home)
    with dg.DagsterInstance.from_config(str(home)) as instance:
        pipeline.instance = instance
        assert pipeline.run(DAY_1).success and pipeline.run(None, "training_job").success
    elements = {e for (e,) in pipeline.query("SELECT DISTINCT element FROM analytics.interactions")}
    ((counts,),) = pipeline.query("SELECT list(element_counts) FROM training.engagement_features")
    assert "other" in elements and elements <= PLANNED_ELEMENTS
    assert {key for mapping in counts for key in mapping} <= PLANNED_ELEMENTS
    # Run storage never held a pseudonym either (the erasure run's config will: it is the request).
    assert [p for p in home.rglob("*") if p.is_file() and anon.encode() in p.read_bytes()] == []
    env = {
        **os.environ,
        "ANALYTICS_SALT": TEST_SALT,
        "ANALYTICS_RAW_DIR": str(raw),
        "ANALYTICS_DUCKDB_PATH": str(pipeline.database),
        "ANALYTICS_STAGING_DIR": str(tmp_path / "staging"),
        "ANALYTICS_TRAINING_DIR": str(tmp_path / "training"),
        "DAGSTER_HOME": str(home),
    }

    # The second day in two shards; the run is killed (SIGKILL) while its second shard is being written.
    lines = sum(len(path.read_bytes().splitlines()) for path in (raw / DAY_2).glob("*.jsonl"))
    shards = tmp_path / "staging" / ".shards" / DAY_2
    output = (tmp_path / "second-run.log").open("wb")
    second = subprocess.Popen(
        [sys.executable, "-m", "analytics_pipeline.cli", "run", DAY_2],
        env=env | {"ANALYTICS_SHARD_EVENTS": str(lines // 2 + 1)},
        cwd=tmp_path,
        stdout=output,
        stderr=subprocess.STDOUT,
    )
    processes = []
    try:
        deadline = time.monotonic() + 300
        while not (torn := list(shards.glob("*/.shard_001_of_002.tmp-*[0-9]"))):
            assert time.monotonic() < deadline and second.poll() is None, (tmp_path / "second-run.log").read_text()
            time.sleep(0.05)
        processes = descendants(second)  # before the kill orphans any of them
        os.kill(int(torn[0].name.rsplit("-", 1)[1]), signal.SIGKILL)  # the run's process: its pid is in the name
    finally:
        kill_all(second, processes or descendants(second))
        output.close()
    finished_shard = torn[0].parent / "shard_000_of_002"
    assert finished_shard.is_dir() and torn[0].exists()

    forgotten = subprocess.run(
        [sys.executable, "-m", "analytics_pipeline.cli", "forget", "-"],
        input=TARGET["user_id"] + "\n",
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=600,
    )
    assert forgotten.returncode == 0, forgotten.stdout[-3000:] + forgotten.stderr[-3000:]
    assert ".shard_001_of_002.tmp-" in forgotten.stdout  # reported among the leftovers deleted

    assert not torn[0].exists() and finished_shard.is_dir()
    assert files_with_traces(tmp_path) == {}  # raw, staging, shards, training, DuckDB, DAGSTER_HOME
    assert [p for p in tmp_path.rglob("*.parquet") if anon in str(pq.read_table(p).to_pylist())] == []
    assert stat.S_IMODE(pipeline.database.stat().st_mode) == 0o600
    assert pipeline.query("SELECT count(*) FROM analytics.erasure_ledger") == [(1,)]
