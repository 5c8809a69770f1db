"""Runs of the code location launched through the Dagster instance, as the UI launches them.

``analytics-pipeline run`` and ``forget`` start a webserver for the code location (``analytics_pipeline``,
as in workspace.yaml) on a free loopback port, launch each run through its GraphQL API and wait for it.
So every run carries the location's origin: it can be re-executed from the UI and shows on its job's
page and the timeline. The runs are tagged to start at once (``run_coordinator.py``): no daemon needed.
"""

from __future__ import annotations

import ctypes
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import dagster as dg
import psutil

from analytics_pipeline.dead_runs import end_dead_runs
from analytics_pipeline.run_coordinator import IMMEDIATE, LAUNCH_TAG, ImmediateOrQueuedRunCoordinator

LOCATION_NAME = "analytics_pipeline"  # the name workspace.yaml and pyproject.toml give the code location
REPOSITORY_NAME = "__repository__"  # what Dagster calls the repository of a Definitions object
PARTITION_TAG = "dagster/partition"
LOAD_TIMEOUT_SECONDS = 300
# A run the instance queues (a coordinator without the immediate launch, e.g. on Kubernetes) needs a daemon.
QUEUED_TIMEOUT_SECONDS = 300
# How long the CLI waits for a started run before it asks the run to terminate and gives up.
RUN_TIMEOUT_ENV = "ANALYTICS_RUN_TIMEOUT"
DEFAULT_RUN_TIMEOUT_SECONDS = 6 * 3600
# How often a wait checks that the runs of this machine still have a process (dead_runs.py).
LIVENESS_SECONDS = 5
STOP_SECONDS = 30  # for the webserver, then its code server and runs, to stop before they are killed
QUEUE_DAEMON = "QUEUED_RUN_COORDINATOR"
BACKFILL_DAEMON = "BACKFILL"

LAUNCH_RUN = """
mutation LaunchRun($params: ExecutionParams!) {
  launchRun(executionParams: $params) {
    __typename
    ... on LaunchRunSuccess { run { runId } }
    ... on RunConfigValidationInvalid { errors { message } }
    ... on Error { message }
  }
}
"""
LAUNCH_BACKFILL = """
mutation LaunchBackfill($params: LaunchBackfillParams!) {
  launchPartitionBackfill(backfillParams: $params) {
    __typename
    ... on LaunchBackfillSuccess { backfillId }
    ... on Error { message }
  }
}
"""
LOCATION_STATUS = """
{ workspaceOrError { ... on Workspace { locationEntries { name loadStatus
  locationOrLoadError { __typename ... on PythonError { message } } } } } }
"""


class LaunchError(RuntimeError):
    """The code location did not load, or a run could not be launched or did not start."""


PR_SET_PDEATHSIG = 1  # linux/prctl.h


def die_with(parent: int):
    """A ``preexec_fn`` for a child of ``parent``: the kernel sends it SIGKILL when ``parent`` dies, ``kill -9``
    included, so the webserver of a killed CLI stops instead of living on under init, and its code server, left
    without the webserver's heartbeats, stops after its heartbeat timeout (30 s). SIGKILL, not SIGTERM: a
    webserver still starting up was seen to outlive SIGTERM. Linux only; elsewhere a no-op."""

    def preexec() -> None:
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        except (OSError, AttributeError):
            return
        if os.getppid() != parent:  # the parent died before the signal was set up
            os.kill(os.getpid(), signal.SIGKILL)

    return preexec


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def graphql(port: int, query: str, variables: dict | None = None, timeout: float = 60) -> dict:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/graphql",
        data=json.dumps({"query": query, "variables": variables or {}}).encode(),
        headers={"Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            body = json.load(response)
    except urllib.error.HTTPError as error:  # the webserver's own failure, e.g. its code server is gone
        raise LaunchError(
            f"the Dagster webserver answered HTTP {error.code} ({error.reason}): its code server may have "
            "stopped or crashed; see the run's logs in the UI and run again"
        ) from None
    except (OSError, ValueError) as error:  # unreachable, timed out, cut off, not JSON
        raise LaunchError(f"the Dagster webserver did not answer: {type(error).__name__}: {error}") from None
    if body.get("errors"):
        raise LaunchError("; ".join(error["message"] for error in body["errors"]))
    return body["data"]


def workspace_yaml(working_directory: str) -> str:
    """The location of workspace.yaml, with relative paths (data/...) resolved against ``working_directory``."""
    entry = {"module_name": "analytics_pipeline.definitions", "location_name": LOCATION_NAME}
    return json.dumps({"load_from": [{"python_module": {**entry, "working_directory": working_directory}}]})


@dataclass
class CodeLocationServer:
    """A webserver for the code location, on a free loopback port, for as long as the ``with`` block lasts."""

    instance: dg.DagsterInstance
    port: int = field(default_factory=free_port)
    env: dict[str, str] = field(default_factory=dict)  # more environment for the webserver (and its runs)
    _loaded: bool = False
    _launched: list[str] = field(default_factory=list)

    def __enter__(self) -> CodeLocationServer:
        self._dir = tempfile.TemporaryDirectory(prefix="analytics-pipeline-", ignore_cleanup_errors=True)
        workspace = Path(self._dir.name) / "workspace.yaml"
        workspace.write_text(workspace_yaml(os.getcwd()))  # JSON is YAML
        self.log = Path(self._dir.name) / "webserver.log"
        with self.log.open("w") as log:
            self._process = subprocess.Popen(
                [sys.executable, "-m", "dagster_webserver", "-w", str(workspace), "-h", "127.0.0.1"]
                + ["-p", str(self.port)],
                stdout=log,
                stderr=subprocess.STDOUT,
                env={**os.environ, **self.env, "DAGSTER_HOME": self.instance.root_directory},
                # Ends with this process, however it ends; its code server stops without the webserver's heartbeat.
                preexec_fn=die_with(os.getpid()),
            )
        return self  # it loads while the caller prepares; the first launch waits for it

    def __exit__(self, *exc_info) -> None:
        """Stop what this server started: its unfinished runs (a wait that gave up), then the webserver, and
        then its code server and run processes if they outlive it (a code server with a run in it does)."""
        self._terminate_unfinished_runs()
        tree = psutil.Process(self._process.pid).children(recursive=True)
        self._process.terminate()
        try:
            self._process.wait(timeout=STOP_SECONDS)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()
        kill_survivors(tree, STOP_SECONDS)
        self._dir.cleanup()

    def _terminate_unfinished_runs(self) -> None:
        unfinished = [run_id for run_id in self._launched if not self.instance.get_run_by_id(run_id).is_finished]
        for run_id in unfinished:
            terminate(self.instance, run_id)
        deadline = time.monotonic() + STOP_SECONDS
        while unfinished and time.monotonic() < deadline:
            time.sleep(0.5)
            unfinished = [run_id for run_id in unfinished if not self.instance.get_run_by_id(run_id).is_finished]

    def _log_tail(self) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-20:])

    def wait_until_loaded(self) -> None:
        if self._loaded:
            return
        deadline = time.monotonic() + LOAD_TIMEOUT_SECONDS
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise LaunchError(f"the Dagster webserver exited:\n{self._log_tail()}")
            try:
                entries = graphql(self.port, LOCATION_STATUS, timeout=10)["workspaceOrError"]["locationEntries"]
            except (OSError, LaunchError):
                entries = None
            if entries and entries[0]["loadStatus"] == "LOADED":
                location = entries[0]["locationOrLoadError"]
                if location["__typename"] != "RepositoryLocation":
                    raise LaunchError(f"the code location did not load: {location.get('message', location)}")
                self._loaded = True
                return
            time.sleep(0.5)
        raise LaunchError(f"the code location did not load within {LOAD_TIMEOUT_SECONDS} s:\n{self._log_tail()}")

    def launch(self, job_name: str, tags: dict[str, str] | None = None, run_config: dict | None = None) -> str:
        """Submit a run of ``job_name`` through the instance (tagged to start at once); its run ID."""
        self.wait_until_loaded()
        params = {
            "selector": {
                "repositoryLocationName": LOCATION_NAME,
                "repositoryName": REPOSITORY_NAME,
                "jobName": job_name,
            },
            "runConfigData": run_config or {},
            "executionMetadata": {
                "tags": [{"key": k, "value": v} for k, v in {**(tags or {}), LAUNCH_TAG: IMMEDIATE}.items()]
            },
        }
        result = graphql(self.port, LAUNCH_RUN, {"params": params})["launchRun"]
        if result["__typename"] != "LaunchRunSuccess":
            detail = result.get("message") or "; ".join(e["message"] for e in result.get("errors", []))
            raise LaunchError(f"{job_name} was not launched ({result['__typename']}): {detail}")
        self._launched.append(result["run"]["runId"])
        return result["run"]["runId"]

    def launch_backfill(self, job_name: str, partitions: list[str], title: str, tags: dict[str, str]) -> str:
        """Submit a backfill of ``job_name`` over ``partitions``, as the UI's "Launch backfill" does; its ID.

        The daemon turns it into one queued run per partition and starts them within the instance's run
        limit; the UI's backfill page shows the progress.
        """
        self.wait_until_loaded()
        repository = {"repositoryLocationName": LOCATION_NAME, "repositoryName": REPOSITORY_NAME}
        params = {
            "selector": {"partitionSetName": f"{job_name}_partition_set", "repositorySelector": repository},
            "partitionNames": partitions,
            "title": title,
            "tags": [{"key": k, "value": v} for k, v in tags.items()],
        }
        result = graphql(self.port, LAUNCH_BACKFILL, {"params": params})["launchPartitionBackfill"]
        if result["__typename"] != "LaunchBackfillSuccess":
            raise LaunchError(
                f"the backfill of {job_name} was not launched ({result['__typename']}): {result.get('message')}"
            )
        return result["backfillId"]


def kill_survivors(processes: list[psutil.Process], grace: float) -> list[str]:
    """Wait up to ``grace`` seconds for ``processes`` to end, then kill the rest; a description of each one killed."""
    _, alive = psutil.wait_procs(processes, timeout=grace)
    killed = []
    for process in alive:
        try:
            killed.append(f"pid {process.pid} ({' '.join(process.cmdline())[:160]})")
            process.kill()
        except psutil.NoSuchProcess:
            pass
    psutil.wait_procs(alive, timeout=grace)
    return killed


def run_timeout_seconds() -> int:
    value = os.getenv(RUN_TIMEOUT_ENV) or str(DEFAULT_RUN_TIMEOUT_SECONDS)
    if not value.isdigit() or int(value) < 1:
        raise LaunchError(f"{RUN_TIMEOUT_ENV} must be a whole number of seconds (at least 1), got {value!r}")
    return int(value)


def wait_for_run(
    instance: dg.DagsterInstance,
    run_id: str,
    queued_timeout: float = QUEUED_TIMEOUT_SECONDS,
    run_timeout: float | None = None,
    poll_seconds: float = 0.5,
) -> dg.DagsterRun:
    """Block until the run has finished, within bounds.

    Every few seconds the runs of this machine whose process is gone are ended and their pool slots freed
    (``dead_runs.py``): this run, if it died, comes back failed; one whose slot it waits for lets it go on. A run left in the queue (no daemon to take it) or
    running longer than ``run_timeout`` (``ANALYTICS_RUN_TIMEOUT``, asked to terminate) is a LaunchError.
    """
    run_timeout = run_timeout_seconds() if run_timeout is None else run_timeout
    queued_since = time.monotonic()
    checked = 0.0
    while True:
        run = instance.get_run_by_id(run_id)
        if run.is_finished:
            return run
        if time.monotonic() - checked > LIVENESS_SECONDS:
            for message in end_dead_runs(instance):
                print(f"  {message}", file=sys.stderr)
            checked = time.monotonic()
            continue  # read the run again: it may have just been ended
        if run.status != dg.DagsterRunStatus.QUEUED:
            queued_since = time.monotonic()
            started = instance.get_run_record_by_id(run_id).start_time
            if started is not None and time.time() - started > run_timeout:
                terminate(instance, run_id)
                raise LaunchError(
                    f"run {run_id} has run for more than {run_timeout:.0f} s ({RUN_TIMEOUT_ENV}): asked it to "
                    "terminate; its steps and logs are in the UI (`make dev`, Runs)"
                )
        elif time.monotonic() - queued_since > queued_timeout:
            raise LaunchError(
                f"run {run_id} is still queued after {queued_timeout:.0f} s: this instance queues runs for the "
                "daemon (run `dagster-daemon run`), or name analytics_pipeline.run_coordinator."
                "ImmediateOrQueuedRunCoordinator as its run_coordinator (see data/dagster_home/dagster.yaml)"
            )
        time.sleep(poll_seconds)


def terminate(instance: dg.DagsterInstance, run_id: str) -> None:
    try:
        instance.run_launcher.terminate(run_id)
    except Exception as error:  # the code server may be gone: the run then ends as dead (dead_runs.py)
        print(f"  could not ask run {run_id} to terminate: {error}", file=sys.stderr)


def check_runs_can_start(instance: dg.DagsterInstance) -> None:
    """Runs the CLI launches start at once, or a live daemon takes them from the queue: else say so now,
    instead of waiting for a queue nobody reads."""
    if launches_immediately(instance) or not isinstance(instance.run_coordinator, dg.QueuedRunCoordinator):
        return
    if instance.get_daemon_statuses([QUEUE_DAEMON])[QUEUE_DAEMON].healthy:
        return
    raise LaunchError(
        f"the instance at DAGSTER_HOME={instance.root_directory} queues runs for the Dagster daemon, and no daemon "
        "is running: start one (`dagster-daemon run -w workspace.yaml`), or use the project's instance config "
        '(cp data/dagster_home/dagster.yaml "$DAGSTER_HOME"/, whose run coordinator starts these runs at once)'
    )


def check_backfills_can_run(instance: dg.DagsterInstance) -> None:
    """A backfill is turned into runs by the Dagster daemon (and its runs are queued for it): without a live
    daemon nothing would ever run it. Say so instead of submitting it."""
    needed = [BACKFILL_DAEMON] + (
        [QUEUE_DAEMON] if isinstance(instance.run_coordinator, dg.QueuedRunCoordinator) else []
    )
    statuses = instance.get_daemon_statuses(needed)
    if any(statuses[daemon].healthy is False for daemon in needed):
        raise LaunchError(
            f"no Dagster daemon is running for the instance at DAGSTER_HOME={instance.root_directory}, and only "
            "the daemon runs a backfill: start one (`make dev`, or `dagster-daemon run -w workspace.yaml` with "
            "this DAGSTER_HOME) and submit again; nothing was submitted"
        )


def launches_immediately(instance: dg.DagsterInstance) -> bool:
    return isinstance(instance.run_coordinator, ImmediateOrQueuedRunCoordinator)


def run_window(instance: dg.DagsterInstance) -> int:
    """How many runs to have in flight at once: the instance's run limit (the queue's), at least one."""
    limit = instance.get_concurrency_config().run_queue_config.max_concurrent_runs
    return max(1, limit) if limit is not None else 1
