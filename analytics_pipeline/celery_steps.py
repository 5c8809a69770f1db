"""Every step on Celery ends: a step whose worker is lost or whose time is up fails instead of hanging.

dagster-celery's executor waits for each step's task result with no bound. A worker killed mid-step
(``kill -9``, OOM, a lost machine) never answers, and its message sits unacknowledged in Redis for the
visibility timeout (an hour by default) before any other worker sees it. So:

- a worker beats while it runs a step: every ``ANALYTICS_CELERY_HEARTBEAT_SECONDS`` it stores the
  task's state ``STARTED`` with a counter, in the result backend;
- the executor fails a started step whose counter has not moved for ``MISSED_BEATS`` beats (its
  worker is gone) or that runs longer than ``ANALYTICS_CELERY_STEP_TIMEOUT``, and revokes its task;
- the worker interrupts its own step at the step timeout (``step_deadline``), so a hung step does not
  hold a worker for good;
- a step still waiting for a worker fails once its message is gone from the broker (neither queued nor
  taken by a worker: a Redis restarted without persistence loses both) for ``MISSED_BEATS`` beats, or
  once it has waited ``ANALYTICS_CELERY_QUEUE_TIMEOUT`` (no worker reads its queue);
- messages are acknowledged late (after the step) with a visibility timeout just above the step
  timeout, so a message whose worker died before it started the step goes back to the queue, and a
  step that is still running legitimately is never handed to a second worker.
"""

from __future__ import annotations

import json
import logging
import signal
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

from celery import states
from dagster_celery.core_execution_loop import core_celery_execution_loop
from dagster_celery.executor import CeleryExecutor, _submit_task

from analytics_pipeline.executors import (
    MISSED_BEATS,
    QUEUE_TIMEOUT_ENV,
    STEP_TIMEOUT_ENV,
    heartbeat_seconds,
    queue_timeout_seconds,
    step_timeout_seconds,
)

log = logging.getLogger(__name__)


class StepLost(RuntimeError):
    """The worker running a step stopped beating: stopped, killed or cut off."""


class StepTimeout(RuntimeError):
    """A step ran longer than ANALYTICS_CELERY_STEP_TIMEOUT."""


class StepNeverStarted(RuntimeError):
    """A step's message was lost by the broker, or no worker took it within ANALYTICS_CELERY_QUEUE_TIMEOUT."""


def timeout_message(step_keys, seconds: float) -> str:
    return f"step {', '.join(step_keys)} did not end within {seconds:.0f} s ({STEP_TIMEOUT_ENV})"


@contextmanager
def heartbeat(task, task_id: str, interval: float) -> Iterator[None]:
    """Store ``STARTED`` with a growing counter for ``task_id`` every ``interval`` seconds while the block runs."""
    stop = threading.Event()
    worker = task.request.hostname

    def beat() -> None:
        count = 0
        while True:
            try:
                task.update_state(task_id=task_id, state=states.STARTED, meta={"worker": worker, "beat": count})
            except Exception as error:  # a broker blip: the next beat tries again (the executor allows MISSED_BEATS)
                log.warning("heartbeat %s of task %s not stored: %s", count, task_id, type(error).__name__)
            count += 1
            if stop.wait(interval):
                return

    beating = threading.Thread(target=beat, name=f"heartbeat-{task_id}", daemon=True)
    beating.start()
    try:
        yield
    finally:
        stop.set()
        beating.join()  # no STARTED may land after the task's result


@contextmanager
def step_deadline(seconds: float, step_keys) -> Iterator[None]:
    """Raise StepTimeout in the step when it runs past ``seconds`` (a solo worker runs steps in its main
    thread; elsewhere only the executor's deadline applies)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def expire(_signum, _frame):
        raise StepTimeout(timeout_message(step_keys, seconds))

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


class BrokerQueue:
    """Which task messages a Redis broker still holds for ``queue``: waiting in the queue (any priority) or
    taken by a worker and not yet acknowledged. Read at most once per ``max_age`` seconds for every step."""

    _snapshots: dict[tuple[str, str], tuple[float, set[str] | None]] = {}

    def __init__(self, app, queue: str, max_age: float = 1.0):
        self._app, self._queue, self._max_age = app, queue, max_age

    def holds(self, task_id: str) -> bool | None:
        """Whether the broker holds the task's message; None when that cannot be told (not Redis, unreachable)."""
        key = (str(self._app.conf.broker_url), self._queue)
        taken, ids = self._snapshots.get(key, (float("-inf"), None))
        if time.monotonic() - taken > self._max_age:
            ids = self._read()
            self._snapshots[key] = (time.monotonic(), ids)
        return None if ids is None else task_id in ids

    def _read(self) -> set[str] | None:
        try:
            with self._app.connection_for_read() as connection:
                if connection.transport.driver_type != "redis":
                    return None
                channel = connection.default_channel
                client = channel.client
                queued = {channel._q_for_pri(self._queue, priority) for priority in channel.priority_steps}
                raw = [message for name in queued for message in client.lrange(name, 0, -1)]
                # Read after the queues: a message moves from a queue to here, never back while its task is pending.
                raw += [json.loads(entry)[0] for entry in client.hvals(channel.unacked_key)]
        except Exception as error:  # the broker is down or restarting: no verdict now
            log.warning("could not read the Celery broker's queue %s: %s", self._queue, type(error).__name__)
            return None
        ids = set()
        for message in raw:
            try:
                message = json.loads(message) if isinstance(message, str | bytes) else message
                ids.add(message["headers"]["id"])
            except (ValueError, KeyError, TypeError):
                continue
        return ids


class SupervisedStep:
    """A step's Celery task as dagster-celery's loop polls it (``ready``, ``get``, ``revoke``), ended
    by the executor when its worker stops beating, its time is up, or its message is lost or never taken."""

    def __init__(
        self,
        result,
        step_key: str,
        beat_seconds: float,
        timeout_seconds: float,
        queue_timeout: float | None = None,
        broker: BrokerQueue | None = None,
    ):
        self._result = result
        self._step_key = step_key
        self._lost_after = beat_seconds * MISSED_BEATS
        # The worker interrupts the step at the timeout; this is the bound when it cannot.
        self._timeout = timeout_seconds + self._lost_after
        self._submitted = time.monotonic()
        self._queue_timeout = queue_timeout
        self._broker = broker
        self._missing_since: float | None = None
        self._started: float | None = None
        self._beat = None
        self._beat_seen = 0.0
        self._failure: Exception | None = None

    @property
    def task_id(self) -> str:
        return self._result.id

    def ready(self) -> bool:
        if self._failure is not None:
            return True
        meta = self._result.backend.get_task_meta(self._result.id)
        if meta["status"] in states.READY_STATES:
            return True
        if meta["status"] != states.STARTED:
            return self._check_queued()
        self._missing_since = None
        now = time.monotonic()
        info = meta.get("result") if isinstance(meta.get("result"), dict) else {}
        if self._started is None:
            self._started = now
        if info.get("beat") != self._beat:
            self._beat, self._beat_seen = info.get("beat"), now
        worker = info.get("worker", "?")
        if now - self._beat_seen > self._lost_after:
            self._fail(
                StepLost(
                    f"step {self._step_key}: its Celery worker {worker} sent no heartbeat for "
                    f"{self._lost_after:.0f} s (stopped or killed); the step failed, re-execute the run"
                )
            )
        elif now - self._started > self._timeout:
            self._fail(StepTimeout(f"{timeout_message([self._step_key], self._timeout)} on worker {worker}"))
        return self._failure is not None

    def _check_queued(self) -> bool:
        """A pending step: waiting for a worker is not a failure, unless its message is gone or it waited too long."""
        now = time.monotonic()
        if self._queue_timeout is not None and now - self._submitted > self._queue_timeout:
            self._fail(
                StepNeverStarted(
                    f"step {self._step_key}: no Celery worker took it within {self._queue_timeout:.0f} s "
                    f"({QUEUE_TIMEOUT_ENV}): are workers running and reading its queue? The step failed, "
                    "re-execute the run"
                )
            )
        elif self._broker is not None:
            holds = self._broker.holds(self._result.id)
            if holds or holds is None:
                self._missing_since = None
            elif self._missing_since is None:
                self._missing_since = now
            elif now - self._missing_since > self._lost_after:
                self._fail(
                    StepNeverStarted(
                        f"step {self._step_key}: its Celery task message is gone from the broker (neither queued "
                        f"nor taken by a worker for {self._lost_after:.0f} s; a broker restarted without "
                        "persistence loses its messages); the step failed, re-execute the run"
                    )
                )
        return self._failure is not None

    def _fail(self, error: Exception) -> None:
        self._failure = error
        # A message of a lost worker comes back after the visibility timeout: no worker may run it then.
        self._result.revoke()

    def get(self):
        if self._failure is not None:
            raise self._failure
        return self._result.get()

    def revoke(self) -> None:
        self._result.revoke()


def _submit_supervised(app, plan_context, step, queue, priority, known_state) -> SupervisedStep:
    result = _submit_task(app, plan_context, step, queue, priority, known_state)
    return SupervisedStep(
        result,
        step.key,
        heartbeat_seconds(),
        step_timeout_seconds(),
        queue_timeout=queue_timeout_seconds(),
        broker=BrokerQueue(app, queue),
    )


class SupervisedCeleryExecutor(CeleryExecutor):
    """dagster-celery's executor whose steps end (see the module docstring)."""

    @classmethod
    def supervising(cls, executor: CeleryExecutor) -> SupervisedCeleryExecutor:
        """The same executor (broker, backend, settings, retries), supervised."""
        return cls(
            retries=executor.retries,
            broker=executor.broker,
            backend=executor.backend,
            include=executor.include,
            config_source=vars(executor.config_source),
        )

    def execute(self, plan_context, execution_plan):
        return core_celery_execution_loop(plan_context, execution_plan, step_execution_fn=_submit_supervised)
