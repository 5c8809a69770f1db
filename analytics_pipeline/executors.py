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


class ExecutorChoiceError(ValueError):
    pass


def celery_broker() -> str:
    return os.getenv(BROKER_ENV) or DEFAULT_BROKER


def celery_backend() -> str:
    """Results go back through the broker's Redis unless a separate backend is named."""
    return os.getenv(BACKEND_ENV) or celery_broker()


def _celery_executor() -> dg.ExecutorDefinition:
    from dagster_celery import celery_executor

    # Read from the environment when a run starts: a broker URL with a password never lands in run config.
    source = {"env": BROKER_ENV} if os.getenv(BROKER_ENV) else DEFAULT_BROKER
    backend = {"env": BACKEND_ENV} if os.getenv(BACKEND_ENV) else source
    return celery_executor.configured({"broker": source, "backend": backend}, name="celery")


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
