"""The Celery app that workers run: ``celery -A analytics_pipeline.celery_worker worker --pool solo``.

dagster-celery's step task, on an app that reaches the same broker and result backend as the
executor (``ANALYTICS_CELERY_BROKER``, ``ANALYTICS_CELERY_BACKEND``). A worker loads the NER model
once when it starts, so no shard step pays for it. ``--pool solo`` runs one step at a time in the
worker process itself, where that model stays loaded; start one worker per core.

A worker rebuilds each job from the code location with its own environment: it needs the same
``ANALYTICS_*`` variables (salt, paths, executor) as the code location.
"""

import os

from celery.signals import worker_init
from dagster_celery.config import DEFAULT_CONFIG, dict_wrapper
from dagster_celery.make_app import make_app
from dagster_celery.tasks import create_task

from analytics_pipeline.executors import celery_backend, celery_broker

app = make_app(
    {"broker": celery_broker(), "backend": celery_backend(), "config_source": dict_wrapper(dict(DEFAULT_CONFIG))}
)
execute_plan = create_task(app)


@worker_init.connect
def load_the_scrubber(**_) -> None:
    """The scrubber the steps' ScrubberResource hands out (cached per process), loaded before the first task."""
    from analytics_pipeline.defs.resources import ScrubberResource
    from analytics_pipeline.private_files import restrict_process

    restrict_process()  # the worker writes staged Parquet: owner-only, as every other pipeline process
    ScrubberResource(n_process=int(os.getenv("ANALYTICS_SCRUB_PROCESSES") or 1)).get_scrubber()
