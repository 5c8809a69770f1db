"""`analytics-pipeline run` (what `make run` calls) configured only through environment variables."""

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import dagster as dg
import psutil
import pytest
from dagster._daemon.types import DaemonHeartbeat

from analytics_pipeline.cli import RESCRUB_TAG
from analytics_pipeline.defs.resources import ScrubberResource
from analytics_pipeline.defs.shared import DUCKDB_WRITER_POOL
from analytics_pipeline.launcher import (
    LAUNCH_RUN,
    LOCATION_NAME,
    REPOSITORY_NAME,
    CodeLocationServer,
    LaunchError,
    graphql,
    wait_for_run,
)
from analytics_pipeline.sample_data import write_sample
from analytics_pipeline.warehouse import connect, ensure_tables
from analytics_pipeline_tests.conftest import TEST_SALT, build_pipeline
from tools.scale_bench import table_rows

pytestmark = pytest.mark.slow

PROJECT_ROOT = Path(__file__).resolve().parents[1]
REEXECUTE = """
mutation Reexecute($parent: String!) {
  launchPipelineReexecution(reexecutionParams: {parentRunId: $parent, strategy: ALL_STEPS}) {
    __typename
    ... on LaunchRunSuccess { run { runId } }
    ... on PythonError { message }
  }
}
"""
JOB_RUNS = """
query JobRuns($selector: PipelineSelector!) {
  pipelineOrError(params: $selector) { ... on Pipeline { runs { runId } } }
}
"""


def cli_env(tmp_path, salt: str | None) -> dict[str, str]:
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
    return env


def make_run_instance(tmp_path) -> Path:
    """The instance of `make run`: the project's dagster.yaml (its run coordinator, its limits)."""
    (tmp_path / "dagster_home").mkdir(exist_ok=True)
    shutil.copy(PROJECT_ROOT / "data" / "dagster_home" / "dagster.yaml", tmp_path / "dagster_home")
    return tmp_path / "dagster_home"


def cli_instance(tmp_path, salt: str | None, monkeypatch) -> dg.DagsterInstance:
    """The instance the CLI ran against, opened from the same environment."""
    for name, value in cli_env(tmp_path, salt).items():
        monkeypatch.setenv(name, value)
    return dg.DagsterInstance.get()


def run_cli(tmp_path, salt: str | None, *args: str) -> subprocess.CompletedProcess:
    make_run_instance(tmp_path)
    return subprocess.run(
        [sys.executable, "-m", "analytics_pipeline.cli", *(args or ["run"])],
        capture_output=True,
        text=True,
        env=cli_env(tmp_path, salt),
        cwd=tmp_path,
        timeout=600,
    )


def test_run_launches_runs_of_the_code_location_that_re_execute_from_the_ui(tmp_path, monkeypatch):
    write_sample(tmp_path / "raw", days=1, sessions_per_day=4, users=5, seed=3)
    done = run_cli(tmp_path, TEST_SALT)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "2026-11-02: ok" in done.stdout and "PII entities replaced" in done.stdout
    # Each check's outcome, with the reason when it did not pass.
    (passed,) = [line for line in done.stdout.splitlines() if line.strip().startswith("passed:")]
    assert "analytics/resume_events:no_residual_pii" in passed
    assert "warned: analytics/resume_events:latest_partition_fresh: " in done.stdout
    with connect(tmp_path / "db" / "analytics.duckdb", read_only=True) as conn:
        assert conn.execute("SELECT count(*) FROM analytics.resume_events").fetchone()[0] > 0
    assert TEST_SALT not in done.stdout + done.stderr

    monkeypatch.chdir(tmp_path)
    with cli_instance(tmp_path, TEST_SALT, monkeypatch) as instance:
        runs = {run.job_name: run for run in instance.get_runs()}
        assert set(runs) == {"daily_events_job", "training_job"}
        day_run = runs["daily_events_job"]
        # Launched through the instance with the workspace's origin, as the UI launches runs.
        assert day_run.remote_job_origin is not None
        assert day_run.remote_job_origin.location_name == LOCATION_NAME
        assert day_run.tags["dagster/partition"] == "2026-11-02"
        # The real webserver: the runs are on their job's page, and Re-execute (all steps) works.
        with CodeLocationServer(instance) as server:
            server.wait_until_loaded()
            selector = {"repositoryLocationName": LOCATION_NAME, "repositoryName": REPOSITORY_NAME}
            job_runs = graphql(server.port, JOB_RUNS, {"selector": {**selector, "pipelineName": "daily_events_job"}})
            assert {r["runId"] for r in job_runs["pipelineOrError"]["runs"]} == {day_run.run_id}
            answer = graphql(server.port, REEXECUTE, {"parent": day_run.run_id})["launchPipelineReexecution"]
            assert answer["__typename"] == "LaunchRunSuccess", answer
            child = wait_for_run(instance, answer["run"]["runId"])
            # Any other run (the UI's, a schedule's) still queues for the daemon, and the CLI does not wait forever.
            params = {"selector": {**selector, "jobName": "training_job"}, "executionMetadata": {"tags": []}}
            queued = graphql(server.port, LAUNCH_RUN, {"params": params})["launchRun"]["run"]["runId"]
            assert instance.get_run_by_id(queued).status == dg.DagsterRunStatus.QUEUED
            with pytest.raises(LaunchError, match="still queued"):
                wait_for_run(instance, queued, queued_timeout=1)
        assert child.status == dg.DagsterRunStatus.SUCCESS
        assert child.parent_run_id == day_run.run_id and child.tags["dagster/partition"] == "2026-11-02"


def test_the_code_location_is_named_as_in_the_workspace_and_pyproject():
    assert f"location_name: {LOCATION_NAME}" in (PROJECT_ROOT / "workspace.yaml").read_text()
    assert f'code_location_name = "{LOCATION_NAME}"' in (PROJECT_ROOT / "pyproject.toml").read_text()


def test_run_without_salt_fails_and_says_how_to_set_it_before_any_run(tmp_path, monkeypatch):
    write_sample(tmp_path / "raw", days=1, sessions_per_day=1, users=1, seed=3)
    done = run_cli(tmp_path, None)
    assert done.returncode == 1
    assert "export ANALYTICS_SALT" in done.stderr
    with cli_instance(tmp_path, None, monkeypatch) as instance:
        assert instance.get_runs() == []


def test_rescrub_submits_a_backfill_of_the_days_to_scrub_again_for_the_daemon(tmp_path):
    write_sample(tmp_path / "raw", days=3, sessions_per_day=1, users=2, seed=3)  # 2026-11-02 .. 2026-11-04
    (tmp_path / "db").mkdir()
    current = ScrubberResource().version()
    with connect(tmp_path / "db" / "analytics.duckdb") as conn:
        ensure_tables(conn)
        for day, version in (("2026-11-02", current), ("2026-11-03", "pii-scrubber/0 older")):
            conn.execute(
                "INSERT INTO analytics.resume_events (event_id, partition_date, scrubber_version) VALUES (?, ?, ?)",
                [f"event-{day}", day, version],
            )

    # Without a daemon nothing would ever run the backfill: refused, nothing submitted.
    refused = run_cli(tmp_path, TEST_SALT, "rescrub", "--stale")
    assert refused.returncode == 1 and "no Dagster daemon is running" in refused.stderr, refused.stderr[-2000:]
    with dg.DagsterInstance.from_config(str(tmp_path / "dagster_home")) as instance:
        assert not instance.get_backfills()
        for daemon in ("BACKFILL", "QUEUED_RUN_COORDINATOR"):  # a daemon's heartbeats, as `dagster-daemon run` writes
            instance.add_daemon_heartbeat(DaemonHeartbeat(time.time(), daemon, "test-daemon", errors=[]))

    stale = run_cli(tmp_path, TEST_SALT, "rescrub", "--stale")
    ranged = run_cli(tmp_path, TEST_SALT, "rescrub", "--since", "2026-11-03")
    assert stale.returncode == ranged.returncode == 0, stale.stderr[-2000:] + ranged.stderr[-2000:]
    assert "progress: UI > Runs > Backfills" in ranged.stdout
    with dg.DagsterInstance.from_config(str(tmp_path / "dagster_home")) as instance:
        backfills = sorted(instance.get_backfills(), key=lambda b: b.backfill_timestamp)
        assert [b.partition_names for b in backfills] == [["2026-11-03"], ["2026-11-03", "2026-11-04"]]
        assert all(b.tags[RESCRUB_TAG] == current for b in backfills)
        assert all(b.partition_set_origin.partition_set_name == "daily_events_job_partition_set" for b in backfills)
        # Runs of the day's partitions wait for the daemon: the CLI itself started none.
        assert not instance.get_runs()
    assert run_cli(tmp_path, TEST_SALT, "rescrub", "--since", "2026-13-01").returncode == 2


def start_run_in_background(tmp_path) -> subprocess.Popen:
    """`analytics-pipeline run` on ``tmp_path``'s instance, silent, in a process group of its own."""
    return subprocess.Popen(
        [sys.executable, "-m", "analytics_pipeline.cli", "run"],
        env=cli_env(tmp_path, TEST_SALT),
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )


def test_make_run_killed_inside_the_duckdb_pool_leaves_the_next_run_working_and_the_tables_identical(tmp_path):
    write_sample(tmp_path / "raw", days=1, sessions_per_day=4, users=5, seed=3)
    home = make_run_instance(tmp_path)
    # The CLI, its webserver, code server and run process share one process group: kill -9 them all at once
    # while the day's run holds the duckdb_writer slot.
    cli = start_run_in_background(tmp_path)
    try:
        with dg.DagsterInstance.from_config(str(home)) as instance:
            deadline = time.monotonic() + 300
            while not (holders := instance.event_log_storage.get_concurrency_info(DUCKDB_WRITER_POOL).claimed_slots):
                assert cli.poll() is None and time.monotonic() < deadline, "the run never reached the pool"
                time.sleep(0.05)
            os.killpg(cli.pid, signal.SIGKILL)
            cli.wait()
            (holder,) = {slot.run_id for slot in holders}
            assert instance.get_run_by_id(holder).status == dg.DagsterRunStatus.STARTED
    finally:
        if cli.poll() is None:
            os.killpg(cli.pid, signal.SIGKILL)
            cli.wait()

    done = run_cli(tmp_path, TEST_SALT)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert f"run {holder} (daily_events_job) ended: its process" in done.stderr
    with dg.DagsterInstance.from_config(str(home)) as instance:
        assert instance.get_run_by_id(holder).status == dg.DagsterRunStatus.FAILURE
        assert not instance.event_log_storage.get_concurrency_info(DUCKDB_WRITER_POOL).claimed_slots
    clean = build_pipeline(tmp_path / "clean")
    shutil.copytree(tmp_path / "raw", clean.raw_dir)
    assert clean.run("2026-11-02").success
    assert table_rows(tmp_path / "db" / "analytics.duckdb") == table_rows(clean.database)


def test_run_on_an_instance_that_queues_runs_without_a_daemon_says_so_at_once(tmp_path):
    write_sample(tmp_path / "raw", days=1, sessions_per_day=1, users=1, seed=3)
    (tmp_path / "dagster_home").mkdir()  # a fresh DAGSTER_HOME: no dagster.yaml, Dagster's default run queue
    done = subprocess.run(
        [sys.executable, "-m", "analytics_pipeline.cli", "run"],
        capture_output=True,
        text=True,
        env=cli_env(tmp_path, TEST_SALT),
        cwd=tmp_path,
        timeout=120,
    )
    assert done.returncode == 1
    assert "queues runs for the Dagster daemon, and no daemon is running" in done.stderr
    assert "dagster-daemon run" in done.stderr and "data/dagster_home/dagster.yaml" in done.stderr
    with dg.DagsterInstance.from_config(str(tmp_path / "dagster_home")) as instance:
        assert not instance.get_runs(), "nothing was queued for a daemon that does not exist"


def test_run_killed_alone_with_kill_9_leaves_no_webserver_or_code_server_behind(tmp_path):
    write_sample(tmp_path / "raw", days=1, sessions_per_day=1, users=1, seed=3)
    make_run_instance(tmp_path)
    cli = start_run_in_background(tmp_path)
    children: list[psutil.Process] = []
    try:
        deadline = time.monotonic() + 120
        # Killed once its webserver has started its code server (`dagster api grpc`), before any run.
        while not any("grpc" in " ".join(p.cmdline()) for p in children if p.is_running()):
            assert cli.poll() is None and time.monotonic() < deadline, "the webserver never started a code server"
            time.sleep(0.05)
            try:
                children = psutil.Process(cli.pid).children(recursive=True)
            except psutil.NoSuchProcess:
                children = []
        cli.kill()  # the CLI alone: its children are not signalled
        cli.wait()
        began = time.monotonic()
        # The webserver goes at once; its code server after its 30 s heartbeat timeout.
        _, alive = psutil.wait_procs(children, timeout=90)
        print(f"the CLI's {len(children)} processes ended {time.monotonic() - began:.1f} s after it was killed")
        assert not alive, [" ".join(p.cmdline())[:120] for p in alive]
    finally:
        if cli.poll() is None:
            cli.kill()
            cli.wait()
        for process in children:
            try:
                process.kill()
            except psutil.NoSuchProcess:
                pass
