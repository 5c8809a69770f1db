"""Privacy lifecycle in Dagster: salt check, raw-data retention, right to erasure."""

from datetime import UTC, datetime
from pathlib import Path

import dagster as dg

from analytics_pipeline import warehouse
from analytics_pipeline.defs.analytics import DUCKDB_WRITER_POOL, event_tables, users
from analytics_pipeline.defs.ingestion import raw_events
from analytics_pipeline.defs.privacy import scrubbed_events
from analytics_pipeline.defs.resources import (
    AnalyticsDuckDBResource,
    LifecycleResource,
    PseudonymizerResource,
    RawEventLogResource,
    StagingAreaResource,
    TrainingSetsResource,
)
from analytics_pipeline.defs.sensors import latest_materialization_time
from analytics_pipeline.lifecycle import erasure, retention
from analytics_pipeline.lifecycle.raw_changes import last_modified
from analytics_pipeline.lifecycle.salt import mismatch_message, stored_salt_fingerprint

# Every partitioned asset a day's raw data feeds: all must be loaded before the raw files go.
LOADED_FROM_RAW = (scrubbed_events.key, *event_tables.keys, users.key)


@dg.asset_check(
    asset=scrubbed_events,
    name="salt_matches_tables",
    blocking=True,
    description="The salt in use has the fingerprint stored with the DuckDB tables. A different salt "
    "would give every user a second pseudonym; blocking, so nothing is loaded with it.",
)
def salt_matches_tables(duckdb: AnalyticsDuckDBResource, pseudonymizer: PseudonymizerResource) -> dg.AssetCheckResult:
    running = pseudonymizer.fingerprint()
    stored = None
    if Path(duckdb.database).exists():
        with warehouse.connect(duckdb.database, read_only=True) as conn:
            stored = stored_salt_fingerprint(conn)
    passed = stored is None or stored == running
    return dg.AssetCheckResult(
        passed=passed,
        severity=dg.AssetCheckSeverity.ERROR,
        description=None if passed else mismatch_message(stored, running),
        metadata={"running_salt_fingerprint": running, "stored_salt_fingerprint": stored or "none (first load)"},
    )


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
    after the files last changed and no blocking-severity check failed in those runs."""
    for key in LOADED_FROM_RAW:
        records = instance.fetch_materializations(
            dg.AssetRecordsFilter(asset_key=key, asset_partitions=[day]), limit=1
        ).records
        if not records:
            return f"{key.to_user_string()} never materialized"
        if failed := _check_failures(instance, records[0].run_id):
            return f"checks failed: {', '.join(sorted(failed))}"
    loaded_at = latest_materialization_time(instance, scrubbed_events.key, day)
    if loaded_at < last_modified(raw_dir, day):
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
        purged = retention.purge_raw_day(raw_dir, day)
        staging_purged = retention.purge_staging_day(Path(staging.staging_dir), day)
        context.log_event(
            dg.AssetObservation(
                asset_key=raw_events.key,
                partition=day,
                metadata={
                    "purged_files": dg.MetadataValue.json([{"file": p.file, "lines": p.lines} for p in purged]),
                    "purged_lines": sum(p.lines for p in purged),
                    "staging_purged": staging_purged,
                    "retention_days": lifecycle.retention_days,
                },
            )
        )
        context.log.info(f"purged {len(purged)} raw files of {day}")


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


class ForgetUserConfig(dg.Config):
    """The user's pseudonym, not their ID: run config is stored in Dagster's run history.
    Get it with ``analytics-pipeline pseudonym USER_ID`` (or use ``analytics-pipeline forget``)."""

    anon_user_id: str


@dg.op(pool=DUCKDB_WRITER_POOL, description="Right to erasure for one pseudonymous user.")
def forget_user(
    context: dg.OpExecutionContext,
    config: ForgetUserConfig,
    duckdb: AnalyticsDuckDBResource,
    raw_log: RawEventLogResource,
    staging: StagingAreaResource,
    training: TrainingSetsResource,
    pseudonymizer: PseudonymizerResource,
) -> dg.Output:
    """Ledger + every user table (one transaction), then staged and training Parquet, then raw logs."""
    try:
        anon_user_id = erasure.validate_pseudonym(config.anon_user_id)
    except ValueError as error:
        raise dg.Failure(description=str(error)) from None
    with duckdb.get_connection() as conn:
        stored = stored_salt_fingerprint(conn)
        # Under another salt the pseudonym would match nothing and the erasure would silently do nothing.
        if stored is not None and stored != pseudonymizer.fingerprint():
            raise dg.Failure(description=mismatch_message(stored, pseudonymizer.fingerprint()))
        table_rows = erasure.erase_from_tables(conn, anon_user_id)
    parquet_rows = {
        **{f"staging/{k}": v for k, v in erasure.erase_from_parquet(Path(staging.staging_dir), anon_user_id).items()},
        **{
            f"training/{k}": v for k, v in erasure.erase_from_parquet(Path(training.training_dir), anon_user_id).items()
        },
    }
    raw_lines = erasure.erase_from_raw_log(Path(raw_log.raw_dir), anon_user_id, pseudonymizer.salt_bytes())
    context.log.info(
        f"erased {sum(table_rows.values())} table rows, {sum(parquet_rows.values())} Parquet rows, "
        f"{sum(raw_lines.values())} raw lines"
    )
    return dg.Output(
        None,
        metadata={
            "table_rows_deleted": dg.MetadataValue.json(table_rows),
            "parquet_rows_deleted": dg.MetadataValue.json(parquet_rows),
            "raw_lines_blanked": dg.MetadataValue.json(raw_lines),
        },
    )


@dg.job(
    description="Right to erasure: forget one user everywhere and keep them out of later loads. "
    "Config: ops.forget_user.config.anon_user_id (the pseudonym)."
)
def erasure_job():
    forget_user()
