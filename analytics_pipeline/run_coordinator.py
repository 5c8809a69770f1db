"""The local instance's run coordinator: Dagster's run queue, except for runs the operator CLI waits for.

Named in ``data/dagster_home/dagster.yaml``. Runs from the UI, schedules, sensors and backfills queue as
usual (at most ``concurrency.runs.max_concurrent_runs`` at once, dequeued by the daemon of ``make dev``).
Runs tagged ``analytics_pipeline/launch: immediate`` are launched at once instead: ``analytics-pipeline
run`` and ``forget`` submit them through the instance, limit how many run at a time themselves and wait
for them, so ``make run`` needs no daemon.

Every submission first ends the runs of this machine whose process is gone and frees the pool slots they
held (``dead_runs.py``): a run killed with ``kill -9`` does not block the next one launched from the UI.
"""

import dagster as dg

from analytics_pipeline.dead_runs import end_dead_runs

LAUNCH_TAG = "analytics_pipeline/launch"
IMMEDIATE = "immediate"


class ImmediateOrQueuedRunCoordinator(dg.QueuedRunCoordinator):
    """A ``QueuedRunCoordinator`` (same configuration) that launches runs tagged ``LAUNCH_TAG: immediate`` at once."""

    def submit_run(self, context: dg.SubmitRunContext) -> dg.DagsterRun:
        end_dead_runs(self._instance)
        run = context.dagster_run
        if run.tags.get(LAUNCH_TAG) != IMMEDIATE or run.status != dg.DagsterRunStatus.NOT_STARTED:
            return super().submit_run(context)
        self._instance.launch_run(run.run_id, context.workspace)
        return self._instance.get_run_by_id(run.run_id)
