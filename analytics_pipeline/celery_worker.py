"""The Celery app that workers run: ``celery -A analytics_pipeline.celery_worker worker --pool solo``.

dagster-celery's step task, on an app that reaches the same broker and result backend as the
executor (``ANALYTICS_CELERY_BROKER``, ``ANALYTICS_CELERY_BACKEND``). A worker loads the NER model
once when it starts, so no shard step pays for it. ``--pool solo`` runs one step at a time in the
worker process itself, where that model stays loaded; start one worker per core.

A worker runs steps of this code location only, on its own instance. dagster-celery's task would build
the job from the code pointer in the message and the instance from the message's instance reference:
anyone who can write to the broker could make the worker import code from a path of their choosing.
Here a message must name this code location (``analytics_pipeline.definitions``) and the instance of the
worker's ``DAGSTER_HOME``, and a run that has not ended; the step then runs from the worker's own code
pointer and instance, never the message's. A refused task fails with the reason, before anything is
loaded. The worker needs the code location's ``ANALYTICS_*`` variables (salt, paths, executor) and
its ``DAGSTER_HOME``.
"""

from __future__ import annotations

import json
import os
from functools import cache

import dagster as dg
from celery import Task
from celery.signals import worker_init
from dagster_celery.config import dict_wrapper
from dagster_celery.make_app import make_app
from dagster_celery.tasks import create_task

from analytics_pipeline.celery_steps import heartbeat, step_deadline
from analytics_pipeline.executors import (
    CODE_LOCATION_ATTRIBUTE,
    CODE_LOCATION_MODULE,
    celery_backend,
    celery_broker,
    celery_settings,
    heartbeat_seconds,
    step_timeout_seconds,
)

# How the code location's code pointer describes itself (a module or package pointer alike).
OWN_CODE = f"from {CODE_LOCATION_MODULE} import {CODE_LOCATION_ATTRIBUTE}"


class ForeignTask(Exception):
    """A task this worker must not run: another code location or instance, or a run that has ended."""


@cache
def own_instance_ref():
    """The reference of the instance in this worker's ``DAGSTER_HOME``: the only one whose steps it runs."""
    home = os.getenv("DAGSTER_HOME")
    if not home:
        raise ForeignTask("DAGSTER_HOME is not set: a worker runs the steps of the instance it names, and only those")
    with dg.DagsterInstance.from_config(home) as instance:
        return instance.get_ref()


def own_step(packed_args: dict, executable: dict):
    """The message's step arguments, checked, and this worker's own job to run them with (packed).

    Unpacking builds Dagster's plain data classes only (its serialization whitelist): nothing is imported
    or loaded before the checks pass. Of the message's job, only the name and the selection are kept: the
    code pointer loses its working directory (a sys.path entry) and the repository everything else the
    sender chose (image, interpreter, container context, cached load data). Raises ForeignTask.
    """
    try:
        args = dg.deserialize_value(json.dumps(packed_args))
        job = dg.deserialize_value(json.dumps(executable))
        pointers = (job.repository.pointer, args.job_origin.repository_origin.code_pointer)
        instance_ref = args.instance_ref
    except Exception as error:  # any malformed message
        raise ForeignTask(f"refused a message that is not a step of a Dagster run: {type(error).__name__}") from None
    for pointer in pointers:
        if pointer.describe() != OWN_CODE:
            raise ForeignTask(f"refused a step of code {pointer.describe()!r}: this worker runs {OWN_CODE!r}")
    if instance_ref != own_instance_ref():
        raise ForeignTask("refused a step for another Dagster instance: this worker runs its DAGSTER_HOME's runs only")
    repository = job.repository._replace(
        pointer=job.repository.pointer._replace(working_directory=None),
        container_image=None,
        executable_path=None,
        container_context=None,
        repository_load_data=None,
    )
    return args, json.loads(dg.serialize_value(job._replace(repository=repository)))


def check_run_is_live(args) -> None:
    """A redelivered or late message of a run that has ended (failed on a lost worker, canceled) does not run."""
    with dg.DagsterInstance.from_ref(own_instance_ref()) as instance:
        run = instance.get_run_by_id(args.run_id)
    if run is None or run.is_finished:
        state = "does not exist" if run is None else f"has ended ({run.status.value})"
        raise ForeignTask(f"refused a step of run {args.run_id}: the run {state}")


class OwnCodeLocationTask(Task):
    """dagster-celery's step task, run only for this code location and instance, with heartbeats and a deadline."""

    def __call__(self, execute_step_args_packed, executable_dict):
        args, executable = own_step(execute_step_args_packed, executable_dict)
        check_run_is_live(args)
        with heartbeat(self, self.request.id, heartbeat_seconds()):
            with step_deadline(step_timeout_seconds(), args.step_keys_to_execute or []):
                return super().__call__(execute_step_args_packed, executable)


app = make_app(
    {"broker": celery_broker(), "backend": celery_backend(), "config_source": dict_wrapper(celery_settings())}
)
execute_plan = create_task(app, base=OwnCodeLocationTask)


@worker_init.connect
def load_the_scrubber(**_) -> None:
    """The scrubber the steps' ScrubberResource hands out (cached per process), loaded before the first task."""
    from analytics_pipeline.defs.resources import ScrubberResource
    from analytics_pipeline.private_files import restrict_process

    try:
        own_instance_ref()
    except ForeignTask as error:  # stop the worker (Celery logs and ignores exceptions of signal handlers)
        raise SystemExit(f"analytics_pipeline.celery_worker: {error}") from None
    restrict_process()  # the worker writes staged Parquet: owner-only, as every other pipeline process
    ScrubberResource(n_process=int(os.getenv("ANALYTICS_SCRUB_PROCESSES") or 1)).get_scrubber()
