"""The daily job that scrubs and loads one day, and the schedule that runs it after midnight."""

from datetime import timedelta

import dagster as dg

from analytics_pipeline.defs.resources import RawEventLogResource
from analytics_pipeline.defs.shared import register_days

daily_events_job = dg.define_asset_job(
    "daily_events_job",
    selection=dg.AssetSelection.key_prefixes(["staging"], ["analytics"]),
    description="Scrub one day of raw events and load it into the analytics tables.",
    # One process per run: after the scrubbing step come ~25 sub-second DuckDB steps (loads and
    # checks) that the duckdb_writer pool serializes anyway; as subprocesses they cost ~3 s apiece.
    # Parallelism comes from runs: one per day partition (see dagster.yaml).
    executor_def=dg.in_process_executor,
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
