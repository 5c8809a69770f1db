"""Where the steps of a run execute, chosen per deployment by ``ANALYTICS_EXECUTOR``.

The graph is the same on every executor; only where its steps run changes:

- ``in_process`` (default): every step in the run's process. A day's shards run one after
  another; parallelism comes from runs (one per day partition).
- ``multiprocess``: each step in its own subprocess of the run's machine.
- ``celery``: each step is a task on Celery workers (``celery -A analytics_pipeline.celery_worker
  worker``) reached through ``ANALYTICS_CELERY_BROKER``; a day's shards spread over every worker.
- ``k8s``: each step in its own Kubernetes pod (``dagster-k8s``; deploy/k8s/).

Chosen when the code location loads, so the run's process and the workers that rebuild the job
must see the same environment.
"""

from __future__ import annotations

import os

import dagster as dg

EXECUTOR_ENV = "ANALYTICS_EXECUTOR"
BROKER_ENV = "ANALYTICS_CELERY_BROKER"
BACKEND_ENV = "ANALYTICS_CELERY_BACKEND"
DEFAULT_BROKER = "redis://localhost:6379/0"
EXECUTORS = ("in_process", "multiprocess", "celery", "k8s")
# How a Celery step ends (celery_steps.py): a started step whose worker misses MISSED_BEATS heartbeats
# fails, so does one running past the step timeout; the broker hands an unacknowledged message to
# another worker only after the step timeout and a margin.
HEARTBEAT_ENV = "ANALYTICS_CELERY_HEARTBEAT_SECONDS"
STEP_TIMEOUT_ENV = "ANALYTICS_CELERY_STEP_TIMEOUT"
# A step still waiting for a worker this long after it was submitted fails (no worker reads its queue).
QUEUE_TIMEOUT_ENV = "ANALYTICS_CELERY_QUEUE_TIMEOUT"
DEFAULT_HEARTBEAT_SECONDS = 10
DEFAULT_STEP_TIMEOUT_SECONDS = 3600
DEFAULT_QUEUE_TIMEOUT_SECONDS = 3600
MISSED_BEATS = 6
VISIBILITY_MARGIN_SECONDS = 300
# The code location every worker serves (workspace.yaml), and the only one it runs steps of.
CODE_LOCATION_MODULE = "analytics_pipeline.definitions"
CODE_LOCATION_ATTRIBUTE = "defs"


class ExecutorChoiceError(ValueError):
    pass


def celery_broker() -> str:
    return os.getenv(BROKER_ENV) or DEFAULT_BROKER


def celery_backend() -> str:
    """Results go back through the broker's Redis unless a separate backend is named."""
    return os.getenv(BACKEND_ENV) or celery_broker()


def _positive_seconds(name: str, default: int) -> int:
    value = os.getenv(name) or str(default)
    if not value.isdigit() or int(value) < 1:
        raise ExecutorChoiceError(f"{name} must be a whole number of seconds (at least 1), got {value!r}")
    return int(value)


def heartbeat_seconds() -> int:
    return _positive_seconds(HEARTBEAT_ENV, DEFAULT_HEARTBEAT_SECONDS)


def step_timeout_seconds() -> int:
    return _positive_seconds(STEP_TIMEOUT_ENV, DEFAULT_STEP_TIMEOUT_SECONDS)


def queue_timeout_seconds() -> int:
    return _positive_seconds(QUEUE_TIMEOUT_ENV, DEFAULT_QUEUE_TIMEOUT_SECONDS)


def celery_settings() -> dict:
    """The Celery settings of the executor and the workers alike: dagster-celery's, plus late acknowledgement
    (a step's message is acknowledged once the step ended, so a worker that dies first does not lose it) with
    a visibility timeout above the step timeout, and JSON only (a pickled message would run code on load)."""
    from dagster_celery.config import DEFAULT_CONFIG

    transport = {
        **DEFAULT_CONFIG["broker_transport_options"],
        "visibility_timeout": step_timeout_seconds() + VISIBILITY_MARGIN_SECONDS,
    }
    return {
        **DEFAULT_CONFIG,
        "worker_prefetch_multiplier": 1,
        "task_acks_late": True,
        "broker_transport_options": transport,
        "accept_content": ["json"],
        "result_accept_content": ["json"],
    }


def _celery_executor() -> dg.ExecutorDefinition:
    from dagster_celery import celery_executor
    from dagster_celery.executor import CELERY_CONFIG

    from analytics_pipeline.celery_steps import SupervisedCeleryExecutor

    @dg.executor(name="celery", config_schema=CELERY_CONFIG, requirements=dg.multiple_process_executor_requirements())
    def supervised_celery_executor(init_context) -> SupervisedCeleryExecutor:
        return SupervisedCeleryExecutor.supervising(celery_executor.executor_creation_fn(init_context))

    # Read from the environment when a run starts: a broker URL with a password never lands in run config.
    source = {"env": BROKER_ENV} if os.getenv(BROKER_ENV) else DEFAULT_BROKER
    backend = {"env": BACKEND_ENV} if os.getenv(BACKEND_ENV) else source
    config = {"broker": source, "backend": backend, "config_source": celery_settings()}
    return supervised_celery_executor.configured(config, name="celery")


def _k8s_executor() -> dg.ExecutorDefinition:
    try:
        from dagster_k8s import k8s_job_executor
    except ImportError:
        raise ExecutorChoiceError(f"{EXECUTOR_ENV}=k8s needs the dagster-k8s package in the image") from None
    return k8s_job_executor


def pipeline_executor() -> dg.ExecutorDefinition:
    """The executor named by ``ANALYTICS_EXECUTOR`` (default ``in_process``)."""
    choice = os.getenv(EXECUTOR_ENV) or "in_process"
    if choice == "in_process":
        return dg.in_process_executor
    if choice == "multiprocess":
        return dg.multiprocess_executor
    if choice == "celery":
        return _celery_executor()
    if choice == "k8s":
        return _k8s_executor()
    raise ExecutorChoiceError(f"{EXECUTOR_ENV} must be one of {', '.join(EXECUTORS)}, got {choice!r}")
