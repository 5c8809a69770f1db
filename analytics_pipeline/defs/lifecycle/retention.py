"""Raw-data retention: raw files (PII) are deleted once their day is safely loaded and old enough."""

from datetime import UTC, datetime
from pathlib import Path

import dagster as dg

from analytics_pipeline.defs.analytics.assets import event_tables, users
from analytics_pipeline.defs.ingestion.assets import raw_events
from analytics_pipeline.defs.privacy.assets import scrubbed_events
from analytics_pipeline.defs.resources import LifecycleResource, RawEventLogResource, StagingAreaResource
from analytics_pipeline.defs.shared import latest_materialization
from analytics_pipeline.lifecycle import retention
from analytics_pipeline.lifecycle.raw_changes import last_modified

# The day partitions a day's raw data feeds; analytics/users, one table over all days, must be rebuilt after them.
LOADED_FROM_RAW = (scrubbed_events.key, *event_tables.keys)


def _check_failures(instance: dg.DagsterInstance, run_id: str) -> list[str]:
    """Names of the ERROR-severity checks that failed in a run (warnings do not block retention)."""
    failed = []
    for record in instance.all_logs(run_id, of_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION):
        evaluation = record.dagster_event.event_specific_data
        if not evaluation.passed and evaluation.severity == dg.AssetCheckSeverity.ERROR:
            failed.append(evaluation.asset_check_key.to_user_string())
    return failed


def retention_blocker(instance: dg.DagsterInstance, raw_dir: Path, day: str) -> str | None:
    """Why a day's raw files must be kept, or None when every asset fed by it was materialized
    after the files last changed (analytics/users after the day's load) and no blocking-severity
    check failed in those runs."""
    loaded = []
    for key in LOADED_FROM_RAW:
        if (record := latest_materialization(instance, key, day)) is None:
            return f"{key.to_user_string()} never materialized"
        loaded.append(record)
    rebuilt = latest_materialization(instance, users.key)
    if rebuilt is None or rebuilt.timestamp < max(r.timestamp for r in loaded):
        return f"{users.key.to_user_string()} not rebuilt since the day was loaded"
    for record in (*loaded, rebuilt):
        if failed := _check_failures(instance, record.run_id):
            return f"checks failed: {', '.join(sorted(failed))}"
    if loaded[0].timestamp < last_modified(raw_dir, day):
        return "raw files changed after the last materialization"
    return None


@dg.op(
    description="Deletes raw log files (PII) older than the retention period, only for days that "
    "were fully materialized with no failed check; records file, day and line count, never content."
)
def purge_expired_raw_logs(
    context: dg.OpExecutionContext,
    raw_log: RawEventLogResource,
    staging: StagingAreaResource,
    lifecycle: LifecycleResource,
) -> None:
    raw_dir = Path(raw_log.raw_dir)
    today = datetime.now(UTC).date()
    for day in retention.expired_days(raw_dir, today, lifecycle.retention_days):
        if blocker := retention_blocker(context.instance, raw_dir, day):
            context.log.warning(f"keeping raw log of {day}: {blocker}")
            continue
        others = len(retention.other_entries(raw_dir, day))
        purged = retention.purge_raw_day(raw_dir, day)
        staging_purged = retention.purge_staging_day(Path(staging.staging_dir), day)
        context.log_event(
            dg.AssetObservation(
                asset_key=raw_events.key,
                partition=day,
                metadata={
                    "purged_files": dg.MetadataValue.json([{"file": p.file, "lines": p.lines} for p in purged]),
                    "purged_lines": sum(p.lines for p in purged),
                    # Skipped files, nested directories, symlinks: deleted too, counted, never named.
                    "other_entries_deleted": others,
                    "staging_purged": staging_purged,
                    "retention_days": lifecycle.retention_days,
                },
            )
        )
        context.log.info(f"purged {len(purged)} raw files and {others} other entries of {day}")
    # Days an older release purged of their log files only: what it left there goes too.
    for day, count in retention.purge_leftovers(raw_dir, today, lifecycle.retention_days).items():
        context.log_event(
            dg.AssetObservation(
                asset_key=raw_events.key,
                partition=day,
                metadata={"other_entries_deleted": count, "retention_days": lifecycle.retention_days},
            )
        )
        context.log.info(f"deleted {count} entries left in the purged day {day}")


@dg.job(description="Raw-data retention: delete loaded raw logs older than ANALYTICS_RETENTION_DAYS.")
def raw_retention_job():
    purge_expired_raw_logs()


raw_retention_schedule = dg.ScheduleDefinition(
    name="raw_retention_schedule",
    job=raw_retention_job,
    cron_schedule="30 3 * * *",
    execution_timezone="UTC",
    default_status=dg.DefaultScheduleStatus.STOPPED,
)
