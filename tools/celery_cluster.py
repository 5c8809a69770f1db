"""A real Celery cluster on this machine, for the tests and ``make bench-scale``.

``local_celery_cluster(workers, env, workdir)`` starts Debian's ``redis-server`` as broker and result
backend, then ``workers`` Celery worker processes (``analytics_pipeline.celery_worker``, ``--pool solo``),
waits until every worker answers a ping, and yields the broker URL. On exit, even when the body raises,
it stops the workers, then Redis, and kills any process group that does not stop in time: nothing is
left behind.

Redis listens on a Unix socket only (no TCP port), in a directory only its owner can enter, and requires
a password generated for this cluster. The password reaches Redis through its standard input and the
workers through their environment (``ANALYTICS_CELERY_BROKER``), never a command line or a log: any other
local user could otherwise push a task message.
"""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

STOP_SECONDS = 15


def _stop(processes: list[subprocess.Popen]) -> None:
    """SIGTERM each process group (a warm shutdown), then SIGKILL what is still alive."""
    for process in processes:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
    deadline = time.monotonic() + STOP_SECONDS
    for process in processes:
        try:
            process.wait(max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            pass
        try:
            os.killpg(process.pid, signal.SIGKILL)  # the group: a worker's children too
        except ProcessLookupError:
            pass
        process.wait()


def _tail(path: Path, lines: int = 25) -> str:
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:]) if path.exists() else ""


def redis_config(socket_path: Path, password: str, workdir: Path) -> str:
    """No TCP port, an owner-only Unix socket, a password, no persistence."""
    return "\n".join(
        [
            "port 0",
            f"unixsocket {socket_path}",
            "unixsocketperm 700",
            f"requirepass {password}",
            'save ""',
            "appendonly no",
            f"dir {workdir}",
            "",
        ]
    )


def broker_url(socket_path: Path, password: str) -> str:
    return f"redis+socket://:{password}@{socket_path}?virtual_host=0"


def start_redis(redis_server: str, socket_path: Path, password: str, workdir: Path, log: Path) -> subprocess.Popen:
    """A redis-server of ``redis_config`` (output to ``log``), once it answers on its socket."""
    with log.open("w") as output:
        # "-": the configuration, password included, comes from standard input, not argv (`ps` shows argv).
        redis = subprocess.Popen(
            [redis_server, "-"],
            stdin=subprocess.PIPE,
            stdout=output,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )
    redis.stdin.write(redis_config(socket_path, password, workdir))
    redis.stdin.close()
    _wait_for_redis(socket_path, redis, log)
    return redis


def _wait_for_redis(socket_path: Path, process: subprocess.Popen, log: Path, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"redis-server exited with {process.returncode}:\n{_tail(log)}")
        try:
            with socket.socket(socket.AF_UNIX) as conn:
                conn.settimeout(1)
                conn.connect(str(socket_path))
                conn.sendall(b"PING\r\n")
                if conn.recv(64).startswith(b"-NOAUTH"):  # up, and asking for the password
                    return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"redis-server did not answer on {socket_path} within {timeout} s:\n{_tail(log)}")


def _wait_for_workers(broker: str, names: list[str], processes, logs: list[Path], timeout: float) -> None:
    from celery import Celery

    app = Celery(broker=broker)
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            for process, log in zip(processes, logs):
                if process.poll() is not None:
                    raise RuntimeError(f"a Celery worker exited with {process.returncode}:\n{_tail(log)}")
            answered = {name for reply in app.control.ping(timeout=1.0) for name in reply}
            if set(names) <= answered:
                return
            time.sleep(0.5)
    finally:
        app.close()
    tails = "\n".join(f"--- {log.name}\n{_tail(log)}" for log in logs)
    raise RuntimeError(f"Celery workers {names} did not all answer within {timeout} s:\n{tails}")


@contextmanager
def local_celery_cluster(workers: int, env: dict[str, str], workdir: Path, timeout: float = 180) -> Iterator[str]:
    """Redis plus ``workers`` Celery workers with ``env`` (the pipeline's ANALYTICS_* settings); yields the broker URL."""
    redis_server = shutil.which("redis-server")
    if redis_server is None:
        raise RuntimeError("redis-server is not installed: `make redis` installs Debian's redis-server")
    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    # A short path (a Unix socket's is limited to 107 bytes), created 0700.
    broker_dir = Path(tempfile.mkdtemp(prefix="analytics-broker-"))
    socket_path = broker_dir / "redis.sock"
    password = secrets.token_hex(32)
    broker = broker_url(socket_path, password)
    processes: list[subprocess.Popen] = []  # stopped in this order: workers first, Redis last
    try:
        processes.append(start_redis(redis_server, socket_path, password, broker_dir, workdir / "redis.log"))
        worker_env = {**env, "ANALYTICS_CELERY_BROKER": broker, "ANALYTICS_CELERY_BACKEND": broker}
        names, logs = [], []
        for index in range(1, workers + 1):
            name = f"worker{index}@{socket.gethostname()}"
            log_path = workdir / f"worker{index}.log"
            with log_path.open("w") as log:
                worker = subprocess.Popen(
                    [
                        sys.executable,
                        "-m",
                        "celery",
                        "-A",
                        "analytics_pipeline.celery_worker",
                        "worker",
                        "--pool",
                        "solo",
                        "--concurrency",
                        "1",
                        "--prefetch-multiplier",
                        "1",
                        "--hostname",
                        name,
                        "--queues",
                        "dagster",
                        "--without-gossip",
                        "--without-mingle",
                        "--loglevel",
                        "INFO",
                    ],  # fmt: skip
                    env=worker_env,
                    cwd=workdir,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
            processes.insert(index - 1, worker)
            names.append(name)
            logs.append(log_path)
        _wait_for_workers(broker, names, processes[:workers], logs, timeout)
        yield broker
    finally:
        _stop(processes)
        shutil.rmtree(broker_dir, ignore_errors=True)
