"""Data-quality checks on the analytics tables; the logic lives in ``analytics_pipeline.quality``.

Blocking checks (ERROR) stop everything downstream of the checked asset in the same run,
so training sets are never built on data that leaks PII or breaks integrity. Warnings
(quarantine rate, lateness, freshness) are visible in the UI but let the run go on.
Each check is made by a small factory per table; every one reads DuckDB through the
resource, read-only, in the writers' pool.
"""

from datetime import UTC, date, datetime

import dagster as dg
import duckdb

from analytics_pipeline.defs.resources import (
    AnalyticsDuckDBResource,
    QualityThresholdsResource,
    RawEventLogResource,
)
from analytics_pipeline.defs.shared import DUCKDB_WRITER_POOL, daily_partitions, table_asset_key
from analytics_pipeline.quality import integrity
from analytics_pipeline.quality.explain import freshness_reason, lateness_reason, quarantine_rate_reason
from analytics_pipeline.quality.pii import partition_detector
from analytics_pipeline.quality.reconcile import reconcile
from analytics_pipeline.schema import ANALYTICS_TABLES, INTERACTIONS, QUARANTINE, RESUME_EVENTS, USERS, Table

MAX_REPORTED = 20  # event IDs listed per finding; the counts are complete
EVENT_TABLES = (RESUME_EVENTS, INTERACTIONS)
EVENT_TABLE_DEPS = [table_asset_key(table) for table in EVENT_TABLES]


def table_check(table: Table, name: str, description: str, blocking: bool = False, **kwargs):
    """The decorator every table check shares: keyed on the table's asset, in the DuckDB pool.

    Checks of the day-partitioned tables are partitioned like them: each result belongs to the day
    its run loaded, and the UI shows each day's status (also for checks that read the whole table).
    """
    return dg.asset_check(
        asset=table_asset_key(table),
        name=name,
        blocking=blocking,
        pool=DUCKDB_WRITER_POOL,
        description=description,
        partitions_def=None if table is USERS else daily_partitions,
        **kwargs,
    )


def checked_day(context: dg.AssetCheckExecutionContext, conn: duckdb.DuckDBPyConnection, table: Table) -> date | None:
    """The run's partition; a check run on its own (from the UI) checks the newest loaded day."""
    op_context = context.op_execution_context
    if op_context.has_partition_key:
        return date.fromisoformat(op_context.partition_key)
    return integrity.latest_partition(conn, table)


def no_partition(table: Table) -> dg.AssetCheckResult:
    return dg.AssetCheckResult(passed=False, metadata={"reason": f"{table.qualified_name} has no partition loaded"})


def by_rule(violations: dict[str, list[str]]) -> dict:
    return {
        "violations_by_rule": {rule: len(ids) for rule, ids in violations.items()},
        "event_ids": {rule: ids[:MAX_REPORTED] for rule, ids in violations.items()},
    }


# --- event tables --------------------------------------------------------------------------


def no_residual_pii_check(table: Table) -> dg.AssetChecksDefinition:
    @table_check(
        table,
        "no_residual_pii",
        "Independent of the scrubber: strict patterns for e-mails, phones, SSNs and URLs, plus "
        "the day's raw user/resume IDs and canary values, searched in every text column (element, page, "
        "tailoring_mode and source_file included) and the pseudonym columns. The same scan runs on the staged "
        "files before the load, which refuses a leaky day, so this is the second look. Any hit blocks "
        "everything downstream. Reports counts per type and event IDs, never values.",
        blocking=True,
    )
    def no_residual_pii(
        context: dg.AssetCheckExecutionContext,
        duckdb: AnalyticsDuckDBResource,
        raw_log: RawEventLogResource,
        quality: QualityThresholdsResource,
    ) -> dg.AssetCheckResult:
        with duckdb.get_connection(read_only=True) as conn:
            if (day := checked_day(context, conn, table)) is None:
                return no_partition(table)
            partition = day.isoformat()
            detector = partition_detector(raw_log.lines(partition), partition, quality.canary_texts)
            text_columns = integrity.SCANNED_TEXT_COLUMNS[table.name]
            id_columns = integrity.PSEUDONYM_COLUMNS[table.name]
            rows = integrity.iter_rows(conn, table, ["event_id", *text_columns, *id_columns], day)
            findings = detector.scan_rows(rows, text_columns, id_columns)
        return dg.AssetCheckResult(passed=findings.clean, metadata={"partition": partition, **findings.metadata()})

    return no_residual_pii


def event_ids_unique_check(table: Table) -> dg.AssetChecksDefinition:
    @table_check(
        table,
        "event_ids_unique",
        "No event_id occurs twice across all partitions of the event tables.",
        blocking=True,
    )
    def event_ids_unique(duckdb: AnalyticsDuckDBResource) -> dg.AssetCheckResult:
        with duckdb.get_connection(read_only=True) as conn:
            duplicates = integrity.duplicate_event_ids(conn, table)
        return dg.AssetCheckResult(
            passed=not duplicates,
            metadata={"duplicate_event_ids": len(duplicates), "examples": duplicates[:MAX_REPORTED]},
        )

    return event_ids_unique


def pseudonyms_well_formed_check(table: Table) -> dg.AssetChecksDefinition:
    partitioned = table is not USERS

    @table_check(
        table,
        "pseudonyms_well_formed",
        "Every pseudonym column holds 64 lowercase hex digits (an HMAC-SHA256), never a raw ID or a missing value.",
        blocking=True,
    )
    def pseudonyms_well_formed(
        context: dg.AssetCheckExecutionContext, duckdb: AnalyticsDuckDBResource
    ) -> dg.AssetCheckResult:
        with duckdb.get_connection(read_only=True) as conn:
            if not partitioned:
                return dg.AssetCheckResult(
                    passed=not (malformed := integrity.malformed_pseudonyms(conn, table)),
                    metadata={"malformed_by_column": malformed},
                )
            if (day := checked_day(context, conn, table)) is None:
                return no_partition(table)
            malformed = integrity.malformed_pseudonyms(conn, table, day)
        return dg.AssetCheckResult(
            passed=not malformed, metadata={"partition": day.isoformat(), "malformed_by_column": malformed}
        )

    return pseudonyms_well_formed


def values_in_allowed_ranges_check(table: Table) -> dg.AssetChecksDefinition:
    @table_check(
        table,
        "values_in_allowed_ranges",
        "event_type, action and tailoring_mode are in the contract's sets, scores within 0-100, version >= 1.",
        blocking=True,
    )
    def values_in_allowed_ranges(
        context: dg.AssetCheckExecutionContext, duckdb: AnalyticsDuckDBResource
    ) -> dg.AssetCheckResult:
        with duckdb.get_connection(read_only=True) as conn:
            if (day := checked_day(context, conn, table)) is None:
                return no_partition(table)
            violations = integrity.value_violations(conn, table, day)
        return dg.AssetCheckResult(
            passed=not violations, metadata={"partition": day.isoformat(), **by_rule(violations)}
        )

    return values_in_allowed_ranges


def occurred_at_plausible_check(table: Table) -> dg.AssetChecksDefinition:
    @table_check(
        table,
        "occurred_at_plausible",
        "occurred_at is not in the future and not earlier than the lateness window "
        "(ANALYTICS_LATENESS_DAYS) before the partition's arrival day. Warns: client clocks are not ours.",
    )
    def occurred_at_plausible(
        context: dg.AssetCheckExecutionContext, duckdb: AnalyticsDuckDBResource, quality: QualityThresholdsResource
    ) -> dg.AssetCheckResult:
        now = datetime.now(UTC).replace(tzinfo=None)
        with duckdb.get_connection(read_only=True) as conn:
            if (day := checked_day(context, conn, table)) is None:
                return no_partition(table)
            violations = integrity.occurred_at_violations(conn, table, day, now, quality.lateness_days)
        return dg.AssetCheckResult(
            passed=not violations,
            severity=dg.AssetCheckSeverity.WARN,
            description=lateness_reason(violations, day, quality.lateness_days) if violations else None,
            metadata={"partition": day.isoformat(), "lateness_days": quality.lateness_days, **by_rule(violations)},
        )

    return occurred_at_plausible


def latest_partition_fresh_check(table: Table) -> dg.AssetChecksDefinition:
    @table_check(
        table,
        "latest_partition_fresh",
        "The newest loaded partition is at most ANALYTICS_FRESHNESS_MAX_AGE_DAYS days old, so a "
        "stalled schedule shows. Warns (the committed sample data is from November 2026 and goes stale).",
    )
    def latest_partition_fresh(
        duckdb: AnalyticsDuckDBResource, raw_log: RawEventLogResource, quality: QualityThresholdsResource
    ) -> dg.AssetCheckResult:
        with duckdb.get_connection(read_only=True) as conn:
            latest = integrity.latest_partition(conn, table)
        age_days = (datetime.now(UTC).date() - latest).days if latest else None
        passed = age_days is not None and age_days <= quality.freshness_max_age_days
        sample = latest is not None and raw_log.is_sample_day(latest.isoformat())
        return dg.AssetCheckResult(
            passed=passed,
            severity=dg.AssetCheckSeverity.WARN,
            description=None if passed else freshness_reason(latest, age_days, quality.freshness_max_age_days, sample),
            metadata={
                "latest_partition": latest.isoformat() if latest else "none",
                "age_days": age_days if age_days is not None else -1,
                "max_age_days": quality.freshness_max_age_days,
                "sample_data": sample,
            },
        )

    return latest_partition_fresh


# --- quarantine: reconciliation ------------------------------------------------------------


def partition_reconciliation(conn: duckdb.DuckDBPyConnection, raw_log: RawEventLogResource, day: date):
    clean_counts = dict(
        conn.execute(
            f"SELECT event_type, count(*) FROM {RESUME_EVENTS.qualified_name} WHERE partition_date = ? "
            f"GROUP BY 1 UNION ALL SELECT 'interaction', count(*) FROM {INTERACTIONS.qualified_name} "
            "WHERE partition_date = ?",
            [day, day],
        ).fetchall()
    )
    quarantined = conn.execute(
        f"SELECT source_file, line_number FROM {QUARANTINE.qualified_name} WHERE partition_date = ?", [day]
    ).fetchall()
    return reconcile(raw_log.lines(day.isoformat()), clean_counts, quarantined)


@table_check(
    QUARANTINE,
    "raw_lines_reconcile",
    "Nothing lost: per partition and per declared event type, raw lines read = clean rows + "
    "quarantined rows, and every quarantine row points at a raw line.",
    blocking=True,
    additional_deps=EVENT_TABLE_DEPS,
)
def raw_lines_reconcile(
    context: dg.AssetCheckExecutionContext, duckdb: AnalyticsDuckDBResource, raw_log: RawEventLogResource
) -> dg.AssetCheckResult:
    with duckdb.get_connection(read_only=True) as conn:
        if (day := checked_day(context, conn, QUARANTINE)) is None:
            return no_partition(QUARANTINE)
        result = partition_reconciliation(conn, raw_log, day)
    return dg.AssetCheckResult(passed=result.balanced, metadata={"partition": day.isoformat(), **result.metadata()})


@table_check(
    QUARANTINE,
    "quarantine_rate_below_threshold",
    "The share of the day's raw lines that were quarantined is at most ANALYTICS_MAX_QUARANTINE_RATE "
    "(default 1%). Warns: a rising rate usually means a client broke the contract.",
    additional_deps=EVENT_TABLE_DEPS,
)
def quarantine_rate_below_threshold(
    context: dg.AssetCheckExecutionContext,
    duckdb: AnalyticsDuckDBResource,
    raw_log: RawEventLogResource,
    quality: QualityThresholdsResource,
) -> dg.AssetCheckResult:
    with duckdb.get_connection(read_only=True) as conn:
        if (day := checked_day(context, conn, QUARANTINE)) is None:
            return no_partition(QUARANTINE)
        result = partition_reconciliation(conn, raw_log, day)
    passed = result.quarantine_rate <= quality.max_rate
    quarantined = sum(result.quarantined.values())
    sample = raw_log.is_sample_day(day.isoformat())
    return dg.AssetCheckResult(
        passed=passed,
        severity=dg.AssetCheckSeverity.WARN,
        description=None
        if passed
        else quarantine_rate_reason(quarantined, result.lines_read, quality.max_rate, sample),
        metadata={
            "partition": day.isoformat(),
            "quarantine_rate": round(result.quarantine_rate, 4),
            "max_quarantine_rate": quality.max_rate,
            "lines_read": result.lines_read,
            "lines_quarantined": quarantined,
            "sample_data": sample,
        },
    )


# --- users ---------------------------------------------------------------------------------


@table_check(USERS, "anon_user_ids_unique", "analytics.users has exactly one row per anon_user_id.", blocking=True)
def anon_user_ids_unique(duckdb: AnalyticsDuckDBResource) -> dg.AssetCheckResult:
    with duckdb.get_connection(read_only=True) as conn:
        duplicates = integrity.duplicate_users(conn)
    return dg.AssetCheckResult(passed=not duplicates, metadata={"duplicated_anon_user_ids": duplicates})


@table_check(
    USERS,
    "every_event_has_user",
    "Referential integrity: every event's anon_user_id has a row in analytics.users.",
    blocking=True,
)
def every_event_has_user(duckdb: AnalyticsDuckDBResource) -> dg.AssetCheckResult:
    with duckdb.get_connection(read_only=True) as conn:
        orphans = integrity.events_without_user(conn)
    return dg.AssetCheckResult(passed=not orphans, metadata={"events_without_user_by_table": orphans})


# --- schema of every table -----------------------------------------------------------------


def matches_schema_check(table: Table) -> dg.AssetChecksDefinition:
    @table_check(
        table,
        "matches_schema",
        f"The DuckDB table {table.qualified_name} has exactly the columns and types of "
        "analytics_pipeline/schema.py, in order: a column change is caught, not silently accepted.",
        blocking=True,
    )
    def matches_schema(duckdb: AnalyticsDuckDBResource) -> dg.AssetCheckResult:
        with duckdb.get_connection(read_only=True) as conn:
            differences = integrity.schema_differences(conn, table)
        return dg.AssetCheckResult(passed=not differences, metadata={"differences": differences})

    return matches_schema


EVENT_TABLE_CHECK_FACTORIES = (
    no_residual_pii_check,
    event_ids_unique_check,
    pseudonyms_well_formed_check,
    values_in_allowed_ranges_check,
    occurred_at_plausible_check,
    latest_partition_fresh_check,
)
event_table_checks = [factory(table) for table in EVENT_TABLES for factory in EVENT_TABLE_CHECK_FACTORIES]
users_pseudonyms_well_formed = pseudonyms_well_formed_check(USERS)
schema_checks = [matches_schema_check(table) for table in ANALYTICS_TABLES]

ANALYTICS_CHECKS = [
    *event_table_checks,
    raw_lines_reconcile,
    quarantine_rate_below_threshold,
    anon_user_ids_unique,
    users_pseudonyms_well_formed,
    every_event_has_user,
    *schema_checks,
]


def check_keys_on(assets: set[dg.AssetKey]) -> set[dg.AssetCheckKey]:
    """Every analytics check guarding one of ``assets`` (what the training gate requires to have passed)."""
    return {key for check in ANALYTICS_CHECKS for key in check.check_keys if key.asset_key in assets}
