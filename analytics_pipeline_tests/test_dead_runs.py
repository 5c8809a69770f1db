"""A run killed with kill -9 while it holds the duckdb_writer slot is ended and its slot freed; waits are bounded."""

from __future__ import annotations

import http.server
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import dagster as dg
import pytest

from analytics_pipeline import dead_runs
from analytics_pipeline.dead_runs import end_dead_runs
from analytics_pipeline.defs.shared import DUCKDB_WRITER_POOL
from analytics_pipeline.launcher import LaunchError, check_runs_can_start, graphql, wait_for_run

PROJECT_ROOT = Path(__file__).resolve().parents[1]
# A real run, in its own process, whose only step holds the duckdb_writer slot until it is killed.
SLOT_HOLDER = """
import time
import dagster as dg

@dg.op(pool="duckdb_writer")
def hold_the_writer_slot():
    print("holding", flush=True)
    time.sleep(600)

@dg.job(executor_def=dg.in_process_executor)
def slot_holder():
    hold_the_writer_slot()

if __name__ == "__main__":
    with dg.DagsterInstance.get() as instance:
        dg.execute_job(dg.reconstructable(slot_holder), instance=instance)
"""


def claimed(instance: dg.DagsterInstance) -> list[str]:
    return [slot.run_id for slot in instance.event_log_storage.get_concurrency_info(DUCKDB_WRITER_POOL).claimed_slots]


@pytest.fixture
def local_instance(tmp_path, monkeypatch):
    """The instance of `make run` (the project's dagster.yaml: pool limit 1, local run processes)."""
    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copy(PROJECT_ROOT / "data" / "dagster_home" / "dagster.yaml", home)
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    with dg.DagsterInstance.get() as instance:
        yield instance


@pytest.fixture
def slot_holder(tmp_path, local_instance):
    """A run holding the duckdb_writer slot in a process of its own; its process and run."""
    script = tmp_path / "slot_holder.py"
    script.write_text(SLOT_HOLDER)
    holder = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, cwd=tmp_path)
    try:
        assert holder.stdout.readline() == b"holding\n"
        (run,) = local_instance.get_runs()
        assert claimed(local_instance) == [run.run_id]
        yield holder, run
    finally:
        if holder.poll() is None:
            holder.kill()
        holder.wait()


def kill_9(process: subprocess.Popen) -> None:
    process.send_signal(signal.SIGKILL)
    assert process.wait(timeout=30) == -signal.SIGKILL


def test_a_run_killed_inside_the_pool_is_ended_and_its_slot_freed(local_instance, slot_holder):
    holder, run = slot_holder
    assert not end_dead_runs(local_instance), "a live run is left alone"
    kill_9(holder)
    # What kill -9 leaves: a run STARTED for ever, and the slot every later DuckDB step would wait for.
    assert local_instance.get_run_by_id(run.run_id).status == dg.DagsterRunStatus.STARTED
    assert claimed(local_instance) == [run.run_id]

    ended = wait_for_run(local_instance, run.run_id)  # returns: the wait itself ends the dead run
    assert ended.status == dg.DagsterRunStatus.FAILURE
    assert not claimed(local_instance)
    reasons = [entry.message for entry in local_instance.all_logs(run.run_id) if "is gone" in (entry.message or "")]
    assert reasons == [
        f"analytics-pipeline: the run is ended because its process (pid {holder.pid}) is gone (killed or crashed)"
    ]
    assert not end_dead_runs(local_instance), "nothing left to do"


def test_a_wait_for_a_run_that_takes_too_long_gives_up_and_asks_it_to_terminate(local_instance, slot_holder):
    holder, run = slot_holder
    with pytest.raises(LaunchError, match=r"has run for more than 1 s \(ANALYTICS_RUN_TIMEOUT\)"):
        wait_for_run(local_instance, run.run_id, run_timeout=1)
    assert local_instance.get_run_by_id(run.run_id).status == dg.DagsterRunStatus.CANCELING
    kill_9(holder)  # the request could not reach it (no code server): it dies hard instead, CANCELING
    end_dead_runs(local_instance)
    assert local_instance.get_run_by_id(run.run_id).status == dg.DagsterRunStatus.CANCELED
    assert not claimed(local_instance)


def test_slots_still_held_by_a_run_that_ended_are_freed(local_instance):
    run = local_instance.create_run_for_job(dg.GraphDefinition("g").to_job(), status=dg.DagsterRunStatus.STARTED)
    local_instance.event_log_storage.initialize_concurrency_limit_to_default(DUCKDB_WRITER_POOL)  # limit 1
    local_instance.event_log_storage.claim_concurrency_slot(DUCKDB_WRITER_POOL, run.run_id, "step")
    local_instance.report_run_failed(run)  # as the code server does for a run process that died
    assert claimed(local_instance) == [run.run_id]
    assert end_dead_runs(local_instance) == [f"pool slots of ended run {run.run_id} freed"]
    assert not claimed(local_instance)


def test_an_instance_that_queues_runs_without_a_daemon_is_refused_at_once(tmp_path, monkeypatch):
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path))  # no dagster.yaml: Dagster's default run queue
    with dg.DagsterInstance.get() as instance:
        assert isinstance(instance.run_coordinator, dg.QueuedRunCoordinator)
        with pytest.raises(LaunchError, match="queues runs for the Dagster daemon, and no daemon is running"):
            check_runs_can_start(instance)


@pytest.mark.parametrize("status", [dg.DagsterRunStatus.STARTING, dg.DagsterRunStatus.CANCELING])
def test_a_run_whose_process_never_started_is_ended_after_the_start_timeout(local_instance, monkeypatch, status):
    # Launched, then asked to terminate when its code server was already gone: CANCELING without a process.
    run = local_instance.create_run_for_job(dg.GraphDefinition("g").to_job(), status=status)
    assert not end_dead_runs(local_instance), "a run may take START_TIMEOUT_SECONDS to start"
    monkeypatch.setattr(dead_runs, "START_TIMEOUT_SECONDS", 0)
    time.sleep(0.01)
    assert end_dead_runs(local_instance) == [f"run {run.run_id} (g) ended: its process did not start within 0 s"]
    ended = dg.DagsterRunStatus.CANCELED if status == dg.DagsterRunStatus.CANCELING else dg.DagsterRunStatus.FAILURE
    assert local_instance.get_run_by_id(run.run_id).status == ended


class Failing(http.server.BaseHTTPRequestHandler):
    def do_POST(self):  # what the webserver answers when its code server was killed mid-request
        self.send_response(500)
        self.end_headers()
        self.wfile.write(b"Internal Server Error")

    def log_message(self, *args):
        pass


def test_a_webserver_that_fails_or_is_gone_is_a_launch_error_not_a_traceback():
    server = http.server.HTTPServer(("127.0.0.1", 0), Failing)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        with pytest.raises(LaunchError, match=r"answered HTTP 500 .*code server may have stopped"):
            graphql(server.server_address[1], "{ version }")
    finally:
        server.shutdown()
        server.server_close()
    with pytest.raises(LaunchError, match="did not answer: URLError"):
        graphql(server.server_address[1], "{ version }")  # nothing listens there any more
