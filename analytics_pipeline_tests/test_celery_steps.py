"""How a Celery step ends, without a cluster: the worker's own deadline, the settings both sides share, and the
executor's bound on a step that waits for a worker (a real Redis, no worker)."""

import gc
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from celery import Celery

from analytics_pipeline.celery_steps import (
    BrokerQueue,
    StepNeverStarted,
    StepTimeout,
    SupervisedStep,
    heartbeat,
    step_deadline,
)
from analytics_pipeline.executors import (
    QUEUE_TIMEOUT_ENV,
    STEP_TIMEOUT_ENV,
    ExecutorChoiceError,
    celery_settings,
    step_timeout_seconds,
)
from tools.celery_cluster import broker_url, start_redis


def test_a_step_past_its_deadline_is_interrupted_in_the_worker():
    began = time.monotonic()
    with pytest.raises(StepTimeout, match=rf"step shard_000 did not end within 0 s \({STEP_TIMEOUT_ENV}\)"):
        with step_deadline(0.2, ["shard_000"]):
            time.sleep(30)
    assert time.monotonic() - began < 30
    time.sleep(0.3)  # the timer is gone with the block: nothing fires later


def test_outside_the_main_thread_the_deadline_is_the_executors_alone():
    outcome = []

    def step() -> None:
        with step_deadline(0.1, ["shard_000"]):
            time.sleep(0.3)
        outcome.append("ended")

    thread = threading.Thread(target=step)
    thread.start()
    thread.join()
    assert outcome == ["ended"]


def test_messages_are_acknowledged_late_and_redelivered_only_after_the_step_timeout(monkeypatch):
    monkeypatch.setenv(STEP_TIMEOUT_ENV, "600")
    settings = celery_settings()
    assert settings["task_acks_late"] and settings["worker_prefetch_multiplier"] == 1
    assert settings["broker_transport_options"]["visibility_timeout"] > step_timeout_seconds() == 600
    assert settings["accept_content"] == settings["result_accept_content"] == ["json"]  # never pickle
    monkeypatch.setenv(STEP_TIMEOUT_ENV, "ten minutes")
    with pytest.raises(ExecutorChoiceError, match=STEP_TIMEOUT_ENV):
        celery_settings()


def test_a_worker_without_dagster_home_does_not_start(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "DAGSTER_HOME"}
    env["ANALYTICS_CELERY_BROKER"] = f"redis+socket://{tmp_path}/no-broker.sock?virtual_host=0"
    worker = subprocess.run(
        [sys.executable, "-m", "celery", "-A", "analytics_pipeline.celery_worker", "worker", "--pool", "solo"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert worker.returncode != 0
    assert "DAGSTER_HOME is not set: a worker runs the steps of the instance it names" in worker.stderr


@contextmanager
def redis_broker(directory: Path) -> Iterator[tuple[str, Callable[[], None]]]:
    """A real redis-server on an owner-only Unix socket, without persistence; yields its URL and a function
    that kills it with SIGKILL and starts it again, empty, on the same socket (a restart that loses every message)."""
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    socket_path, password = directory / "redis.sock", "test-password"
    servers: list[subprocess.Popen] = []

    def start() -> None:
        servers.append(start_redis("redis-server", socket_path, password, directory, directory / "redis.log"))

    def restart() -> None:
        servers[-1].kill()
        servers[-1].wait()
        start()

    start()
    try:
        yield broker_url(socket_path, password), restart
    finally:
        for server in servers:
            server.kill()
            server.wait()


def supervised(app: Celery, queue_timeout: float | None = 3600) -> SupervisedStep:
    """A step task sent to the dagster queue, which no worker reads here; beats of 0.2 s (lost after 1.2 s)."""
    result = app.send_task("execute_plan", kwargs={}, queue="dagster", routing_key="dagster.execute_plan")
    return SupervisedStep(result, "scrub_shard", 0.2, 3600, queue_timeout, BrokerQueue(app, "dagster", max_age=0.1))


def ready_within(step: SupervisedStep, seconds: float) -> float | None:
    """How long ``step.ready()`` took to turn true, polled as dagster-celery's loop does; None if it did not."""
    began = time.monotonic()
    while time.monotonic() - began < seconds:
        if step.ready():
            return time.monotonic() - began
        time.sleep(0.05)
    return None


@pytest.mark.skipif(shutil.which("redis-server") is None, reason="needs redis-server (`make redis`)")
def test_a_queued_step_whose_message_a_restarted_broker_lost_fails_instead_of_waiting_for_ever():
    directory = Path(tempfile.mkdtemp(prefix="broker-"))  # a short path: a Unix socket's is limited
    with redis_broker(directory) as (broker, restart):
        app = Celery(broker=broker, backend=broker)
        worker = app.connection_for_read()  # a worker that takes a message and keeps it unacknowledged
        try:
            taken, waiting = supervised(app), supervised(app)
            message = worker.default_channel.basic_get("dagster", no_ack=False)
            assert message is not None and message.headers["id"] == taken.task_id
            assert ready_within(waiting, 3) is None and ready_within(taken, 0.5) is None, "held messages wait"

            restart()  # kill -9, started again empty: both messages are gone
            lost_after = ready_within(waiting, 10)
            assert lost_after is not None and lost_after < 5, "the lost step ends within a bound"
            with pytest.raises(StepNeverStarted, match="message is gone from the broker"):
                waiting.get()
            assert ready_within(taken, 5) is not None

            # A message still queued, but no worker takes it for ANALYTICS_CELERY_QUEUE_TIMEOUT.
            unread = supervised(app, queue_timeout=1)
            assert ready_within(unread, 5) is not None
            with pytest.raises(StepNeverStarted, match=rf"no Celery worker took it within 1 s \({QUEUE_TIMEOUT_ENV}\)"):
                unread.get()
        finally:
            worker.release()
            taken = waiting = unread = None  # their results unsubscribe while Redis still runs
            gc.collect()
            app.close()
    shutil.rmtree(directory)


def test_a_heartbeat_that_fails_once_goes_on_beating(caplog):
    class Task:
        class request:
            hostname = "worker1@test"

        def __init__(self):
            self.beats = []

        def update_state(self, task_id, state, meta):
            self.beats.append(meta["beat"])
            if meta["beat"] == 1:
                raise ConnectionError("Redis is restarting")

    task = Task()
    with heartbeat(task, "task-1", 0.05):
        deadline = time.monotonic() + 10
        while len(task.beats) < 4 and time.monotonic() < deadline:
            time.sleep(0.05)
    assert task.beats[:4] == [0, 1, 2, 3], "beats after the failed one"
    assert "heartbeat 1 of task task-1 not stored: ConnectionError" in caplog.text
