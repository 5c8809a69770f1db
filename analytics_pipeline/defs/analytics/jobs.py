"""The daily job that scrubs and loads one day, and the schedule that runs it after midnight."""

from datetime import timedelta

import dagster as dg

from analytics_pipeline.defs.resources import RawEventLogResource
from analytics_pipeline.defs.shared import register_days
from analytics_pipeline.executors import pipeline_executor

daily_events_job = dg.define_asset_job(
    "daily_events_job",
    selection=dg.AssetSelection.key_prefixes(["staging"], ["analytics"]),
    description="Scrub one day of raw events and load it into the analytics tables.",
    # ANALYTICS_EXECUTOR (analytics_pipeline/executors.py); by default one process per run: the DuckDB steps
    # (load, users, their checks) are short and the duckdb_writer pool serializes them anyway, and parallelism
    # comes from runs, one per day (dagster.yaml). On Celery or Kubernetes a day's shards spread over workers too.
    executor_def=pipeline_executor(),
)


@dg.schedule(
    job=daily_events_job,
    cron_schedule="15 0 * * *",
    execution_timezone="UTC",
    default_status=dg.DefaultScheduleStatus.STOPPED,
    description="Shortly after midnight UTC: the day that just ended becomes a partition and is scrubbed "
    "and loaded. A day without raw files is skipped, with the reason on the tick.",
)
def daily_partition_schedule(
    context: dg.ScheduleEvaluationContext, raw_log: RawEventLogResource
) -> dg.RunRequest | dg.SkipReason:
    day = (context.scheduled_execution_time.date() - timedelta(days=1)).isoformat()
    if not raw_log.files(day):
        return dg.SkipReason(f"no raw files for {day}")
    register_days(context.instance, [day])
    return dg.RunRequest(partition_key=day, run_key=day)
