"""A real Celery cluster (Redis and three worker processes, started and stopped here): a sharded day gives
the tables of one process, a worker killed mid-shard ends its run, and the broker and the workers refuse
what does not come from this deployment."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import stat
import subprocess
import time
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import dagster as dg
import psutil
import pytest
import redis
from celery import Celery
from dagster._core.code_pointer import FileCodePointer
from dagster._core.definitions.reconstruct import ReconstructableRepository
from dagster._core.instance.ref import InstanceRef
from dagster._grpc.types import ExecuteStepArgs
from dagster._serdes import ConfigurableClassData, pack_value

from analytics_pipeline.run_report import failure_messages
from analytics_pipeline_tests.conftest import TEST_SALT, build_pipeline
from analytics_pipeline_tests.test_sharding import table_rows
from tools.bench import Workspace, session_lines, write_day
from tools.celery_cluster import local_celery_cluster
from tools.scale_bench import DAY, code_location_job, run_in, start_run

pytestmark = pytest.mark.slow
EVENTS = 600
WORKERS = 3
HEARTBEAT_SECONDS = 2  # a lost worker is noticed after 6 missed beats: 12 s
LOST_RUN_BOUND_SECONDS = 120


@dataclass
class Cluster:
    broker: str
    workspace: Workspace
    env: dict[str, str]
    source: Path
    workdir: Path

    @property
    def home(self) -> Path:
        return self.workspace.root / "dagster_home"

    @property
    def password(self) -> str:
        return self.broker.split("://:", 1)[1].split("@", 1)[0]

    @property
    def socket_path(self) -> str:
        return self.broker.split("@", 1)[1].split("?", 1)[0]

    @staticmethod
    def _leads_its_group(process: psutil.Process) -> bool:
        try:
            return os.getpgid(process.pid) == process.pid
        except ProcessLookupError:
            return False

    def processes(self) -> dict[str, psutil.Process]:
        """The cluster's live processes: ``redis`` and each worker by its name."""
        found = {}
        for process in psutil.Process().children(recursive=True):
            try:
                cmdline = process.cmdline()
            except psutil.NoSuchProcess:
                continue
            if cmdline and cmdline[0].endswith("redis-server"):
                found["redis"] = process
            elif "--hostname" in cmdline and self._leads_its_group(process):
                # The worker itself (started in a session of its own), not a child forked with its command line.
                found[cmdline[cmdline.index("--hostname") + 1].split("@")[0]] = process
        return found


@pytest.fixture(scope="module")
def cluster(tmp_path_factory, scrubber):
    root = tmp_path_factory.mktemp("celery")
    source = root / "source"
    write_day(source, DAY, session_lines(3, text_scale=1, ui_scale=1, day=date.fromisoformat(DAY)), EVENTS)
    workspace = Workspace(root / "workspace", TEST_SALT)
    shutil.copytree(source, workspace.raw_dir)
    env = {
        **workspace.env(),
        "ANALYTICS_EXECUTOR": "celery",
        "ANALYTICS_SHARD_EVENTS": "100",
        "ANALYTICS_CELERY_HEARTBEAT_SECONDS": str(HEARTBEAT_SECONDS),
    }
    before = {p.pid for p in psutil.Process().children(recursive=True)}
    with local_celery_cluster(WORKERS, env, root / "cluster") as broker:
        started = [p for p in psutil.Process().children(recursive=True) if p.pid not in before]
        assert [p.name() for p in started].count("redis-server") == 1 and len(started) == WORKERS + 1
        yield Cluster(broker, workspace, {**env, "ANALYTICS_CELERY_BROKER": broker}, source, root / "cluster")
    assert not [p for p in started if p.is_running() and p.status() != psutil.STATUS_ZOMBIE], "left behind"


def celery_workers_of(home: Path, run_id: str) -> set[str]:
    """The workers that executed the run's steps, from dagster-celery's engine events."""
    with dg.DagsterInstance.from_config(str(home)) as instance:
        return {
            entry.dagster_event.engine_event_data.metadata["Celery worker"].value
            for entry in instance.all_logs(run_id, of_type=dg.DagsterEventType.ENGINE_EVENT)
            if "Celery worker" in entry.dagster_event.engine_event_data.metadata
        }


def attacker_module(directory: Path, marker: Path, name: str) -> None:
    """A module that, once imported, leaves ``marker``: the proof that a worker ran foreign code."""
    (directory / f"{name}.py").write_text(
        f"open({str(marker)!r}, 'w').write('ran')\ndefs = None\nclass Storage: pass\n"
    )


def step_message(job, instance_ref: InstanceRef, run_id: str = "0" * 36) -> dict:
    """dagster-celery's execute_plan arguments, as its executor builds them."""
    args = ExecuteStepArgs(
        job_origin=job.get_python_origin(),
        run_id=run_id,
        step_keys_to_execute=["staging__scrubbed_events.plan_scrub_shards"],
        instance_ref=instance_ref,
    )
    return {"execute_step_args_packed": pack_value(args), "executable_dict": job.to_dict()}


def resp(*parts: bytes) -> bytes:
    """A Redis command in its wire protocol, as any client would send it."""
    return b"*%d\r\n" % len(parts) + b"".join(b"$%d\r\n%s\r\n" % (len(part), part) for part in parts)


def send_step(broker: str, message: dict):
    app = Celery(broker=broker, backend=broker)
    try:
        result = app.send_task("execute_plan", kwargs=message, queue="dagster", routing_key="dagster.execute_plan")
        result.get(timeout=120, propagate=False)
        return result.state, str(result.result)
    finally:
        app.close()


def test_the_broker_takes_no_message_without_its_password_and_listens_only_to_its_owner(cluster, tmp_path):
    marker = tmp_path / "ran"
    attacker_module(tmp_path, marker, "attacker_code")
    evil = ReconstructableRepository(FileCodePointer(str(tmp_path / "attacker_code.py"), "defs", str(tmp_path)))
    message = step_message(evil.get_reconstructable_job("daily_events_job"), InstanceRef.from_dir(str(cluster.home)))

    # No TCP port; a Unix socket only its owner can reach.
    redis = cluster.processes()["redis"]
    assert not redis.net_connections(kind="inet")
    assert stat.S_IMODE(os.stat(os.path.dirname(cluster.socket_path)).st_mode) == 0o700
    assert stat.S_IMODE(os.stat(cluster.socket_path).st_mode) == 0o700
    # Without the password: no command is taken.
    with socket.socket(socket.AF_UNIX) as conn:
        conn.connect(cluster.socket_path)
        conn.sendall(resp(b"LPUSH", b"dagster", json.dumps(message).encode()))
        assert conn.recv(64).startswith(b"-NOAUTH")
    if os.geteuid() == 0 and Path("/usr/bin/python3").exists():  # another local user cannot even connect
        probe = "import socket, sys; socket.socket(socket.AF_UNIX).connect(sys.argv[1])"
        other = subprocess.run(
            ["/usr/bin/python3", "-c", probe, cluster.socket_path],  # the venv's Python may be under /root
            user="nobody",
            cwd="/",
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert other.returncode != 0 and "Permission denied" in other.stderr
    time.sleep(2 * HEARTBEAT_SECONDS)
    assert not marker.exists()
    # The password is in no command line and no log.
    for process in cluster.processes().values():
        assert cluster.password not in " ".join(process.cmdline())
    for log in cluster.workdir.glob("*.log"):
        assert cluster.password not in log.read_text(errors="replace")


def test_a_worker_refuses_steps_of_other_code_or_another_instance_before_loading_anything(cluster, tmp_path):
    own_instance = InstanceRef.from_dir(str(cluster.home))
    # Another code location: a file of the sender's choosing.
    code_marker = tmp_path / "code-ran"
    attacker_module(tmp_path, code_marker, "attacker_code")
    foreign = ReconstructableRepository(FileCodePointer(str(tmp_path / "attacker_code.py"), "defs", str(tmp_path)))
    state, reason = send_step(
        cluster.broker, step_message(foreign.get_reconstructable_job("daily_events_job"), own_instance)
    )
    assert state == "FAILURE" and "refused a step of code" in reason, reason
    # This code location, but an instance whose class is the sender's module, importable by the worker
    # (in its working directory): DagsterInstance.from_ref would import it first thing.
    instance_marker = tmp_path / "instance-ran"
    attacker_module(cluster.workdir, instance_marker, "attacker_storage")
    hostile_instance = own_instance._replace(
        custom_instance_class_data=ConfigurableClassData("attacker_storage", "Storage", "{}"),
    )
    state, reason = send_step(cluster.broker, step_message(code_location_job("daily_events_job"), hostile_instance))
    assert state == "FAILURE" and "another Dagster instance" in reason, reason
    # This code location and instance, but no such run.
    state, reason = send_step(cluster.broker, step_message(code_location_job("daily_events_job"), own_instance))
    assert state == "FAILURE" and "does not exist" in reason, reason

    assert not code_marker.exists() and not instance_marker.exists()
    assert all(process.is_running() for process in cluster.processes().values())


def shard_workers(home: Path, known_runs: set[str]) -> tuple[str | None, set[str]]:
    """The newest run not in ``known_runs`` and the workers that have started its scrub_shard steps."""
    with dg.DagsterInstance.from_config(str(home)) as instance:
        runs = [run for run in instance.get_runs(limit=1) if run.run_id not in known_runs]
        if not runs:
            return None, set()
        workers = {
            entry.dagster_event.engine_event_data.metadata["Celery worker"].value
            for entry in instance.all_logs(runs[0].run_id, of_type=dg.DagsterEventType.ENGINE_EVENT)
            if "scrub_shard" in (entry.step_key or "")
            and "Celery worker" in entry.dagster_event.engine_event_data.metadata
        }
        return runs[0].run_id, workers


def workers_in_a_step(cluster: Cluster) -> set[str]:
    """The workers whose task is STARTED in the result backend (their heartbeat), read from Redis itself:
    a frozen worker may hold the instance's SQLite lock, never Redis."""
    client = redis.Redis(unix_socket_path=cluster.socket_path, password=cluster.password)
    try:
        metas = [client.get(key) for key in client.scan_iter("celery-task-meta-*")]
    finally:
        client.close()
    found = set()
    for raw in filter(None, metas):
        meta = json.loads(raw)
        if meta.get("status") == "STARTED" and isinstance(meta.get("result"), dict):
            found.add(meta["result"].get("worker"))
    return found


def kill_a_worker_mid_shard(cluster: Cluster, known_runs: set[str], timeout: float = 300) -> tuple[str, str]:
    """SIGKILL a worker while it runs a step of the new run, after one of its shards; its run ID and worker.

    A step can end between seeing it and the kill, so the worker is frozen (SIGSTOP) first and killed only
    if its task is still STARTED; otherwise it goes on and the next chance is taken.
    """
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        run_id, workers = shard_workers(cluster.home, known_runs)
        for worker in workers:
            victim = cluster.processes()[worker.split("@")[0]]
            os.killpg(victim.pid, signal.SIGSTOP)
            if worker in workers_in_a_step(cluster):
                os.killpg(victim.pid, signal.SIGKILL)
                return run_id, worker
            os.killpg(victim.pid, signal.SIGCONT)
        time.sleep(0.2)
    raise AssertionError("no worker of the new run was caught in a step")


def test_a_worker_killed_mid_shard_fails_its_run_and_a_rerun_on_the_others_gives_the_tables_of_one_process(
    cluster, tmp_path
):
    with dg.DagsterInstance.from_config(str(cluster.home)) as instance:
        known_runs = {run.run_id for run in instance.get_runs()}
    run = start_run(cluster.workspace, cluster.env, warm=False)
    try:
        run_id, worker = kill_a_worker_mid_shard(cluster, known_runs)
        killed = time.monotonic()
        run.wait(timeout=LOST_RUN_BOUND_SECONDS)
        ended_after = time.monotonic() - killed
    finally:
        if run.poll() is None:
            run.kill()
            run.wait()
    print(f"run ended {ended_after:.1f} s after the worker was killed")
    with dg.DagsterInstance.from_config(str(cluster.home)) as instance:
        assert instance.get_run_by_id(run_id).status == dg.DagsterRunStatus.FAILURE
        reasons = " ".join(failure_messages(instance, run_id))
    assert f"its Celery worker {worker} sent no heartbeat" in reasons, reasons

    timing = run_in(cluster.workspace, cluster.env, "rerun on the other workers", warm=False)
    assert timing.shards == 6
    with dg.DagsterInstance.from_config(str(cluster.home)) as instance:
        rerun_id = instance.get_runs(limit=1)[0].run_id
    assert len(celery_workers_of(cluster.home, rerun_id)) == WORKERS - 1, "both remaining workers ran steps"
    one_process = build_pipeline(tmp_path / "one_process")
    shutil.copytree(cluster.source, one_process.raw_dir)
    assert one_process.run(DAY).success
    celery_tables = table_rows(build_pipeline(cluster.workspace.root))  # the Celery runs' DuckDB file, read-only
    assert sum(len(rows) for name, rows in celery_tables.items() if name != "users") == EVENTS
    assert celery_tables == table_rows(one_process)
    # Neither run wrote the broker password into Dagster's storage (run config, events, logs).
    stored = [path for path in cluster.home.rglob("*") if path.is_file()]
    assert stored and not [path for path in stored if cluster.password.encode() in path.read_bytes()]
