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
- messages are acknowledged late (after the step) with a visibility timeout just above the step
  timeout, so a message whose worker died before it started the step goes back to the queue, and a
  step that is still running legitimately is never handed to a second worker.
"""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

from celery import states
from dagster_celery.core_execution_loop import core_celery_execution_loop
from dagster_celery.executor import CeleryExecutor, _submit_task

from analytics_pipeline.executors import MISSED_BEATS, STEP_TIMEOUT_ENV, heartbeat_seconds, step_timeout_seconds


class StepLost(RuntimeError):
    """The worker running a step stopped beating: stopped, killed or cut off."""


class StepTimeout(RuntimeError):
    """A step ran longer than ANALYTICS_CELERY_STEP_TIMEOUT."""


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
            task.update_state(task_id=task_id, state=states.STARTED, meta={"worker": worker, "beat": count})
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


class SupervisedStep:
    """A step's Celery task as dagster-celery's loop polls it (``ready``, ``get``, ``revoke``), ended
    by the executor when its worker stops beating or its time is up."""

    def __init__(self, result, step_key: str, beat_seconds: float, timeout_seconds: float):
        self._result = result
        self._step_key = step_key
        self._lost_after = beat_seconds * MISSED_BEATS
        # The worker interrupts the step at the timeout; this is the bound when it cannot.
        self._timeout = timeout_seconds + self._lost_after
        self._started: float | None = None
        self._beat = None
        self._beat_seen = 0.0
        self._failure: Exception | None = None

    def ready(self) -> bool:
        if self._failure is not None:
            return True
        meta = self._result.backend.get_task_meta(self._result.id)
        if meta["status"] in states.READY_STATES:
            return True
        if meta["status"] != states.STARTED:
            return False  # still queued: waiting for a worker is not a failure
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
    return SupervisedStep(result, step.key, heartbeat_seconds(), step_timeout_seconds())


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
