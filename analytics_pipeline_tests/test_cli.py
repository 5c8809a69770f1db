"""`analytics-pipeline run` (what `make run` calls) configured only through environment variables."""

import os
import subprocess
import sys

import pytest

from analytics_pipeline.sample_data import write_sample
from analytics_pipeline.warehouse import connect
from analytics_pipeline_tests.conftest import TEST_SALT

pytestmark = pytest.mark.slow


def run_cli(tmp_path, salt: str | None) -> subprocess.CompletedProcess:
    env = {
        **os.environ,
        "ANALYTICS_RAW_DIR": str(tmp_path / "raw"),
        "ANALYTICS_DUCKDB_PATH": str(tmp_path / "db" / "analytics.duckdb"),
        "ANALYTICS_STAGING_DIR": str(tmp_path / "staging"),
        "ANALYTICS_TRAINING_DIR": str(tmp_path / "training"),
        "DAGSTER_HOME": str(tmp_path / "dagster_home"),
    }
    env.pop("ANALYTICS_SALT", None)
    if salt:
        env["ANALYTICS_SALT"] = salt
    (tmp_path / "dagster_home").mkdir(exist_ok=True)
    return subprocess.run(
        [sys.executable, "-m", "analytics_pipeline.cli", "run"],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=600,
    )


def test_run_uses_the_configured_paths_and_prints_a_summary(tmp_path):
    write_sample(tmp_path / "raw", days=1, sessions_per_day=4, users=5, seed=3)
    done = run_cli(tmp_path, TEST_SALT)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "2026-11-02: ok" in done.stdout and "PII entities replaced" in done.stdout
    with connect(tmp_path / "db" / "analytics.duckdb", read_only=True) as conn:
        assert conn.execute("SELECT count(*) FROM analytics.resume_events").fetchone()[0] > 0
    assert TEST_SALT not in done.stdout + done.stderr


def test_run_without_salt_fails_and_says_how_to_set_it(tmp_path):
    write_sample(tmp_path / "raw", days=1, sessions_per_day=1, users=1, seed=3)
    done = run_cli(tmp_path, None)
    assert done.returncode == 1
    assert "export ANALYTICS_SALT" in done.stdout
