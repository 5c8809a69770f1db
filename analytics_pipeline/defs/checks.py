"""Data-quality checks on every asset of the pipeline; the logic lives in ``analytics_pipeline.quality``.

Blocking checks (ERROR) stop everything downstream of the checked asset in the same run,
so training sets are never built on data that leaks PII or breaks integrity. Warnings
(quarantine rate, lateness, freshness, canary recall) are visible in the UI but let the
run go on.
"""

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime

import dagster as dg
import duckdb

from analytics_pipeline import warehouse
from analytics_pipeline.defs.analytics import DUCKDB_WRITER_POOL, table_asset_key
from analytics_pipeline.defs.privacy import scrubbed_events
from analytics_pipeline.defs.resources import (
    AnalyticsDuckDBResource,
    QualityThresholdsResource,
    RawEventLogResource,
    ScrubberResource,
)
from analytics_pipeline.quality import integrity
from analytics_pipeline.quality.canary import make_canaries, measure_canary_recall, sample_texts
from analytics_pipeline.quality.pii import ResidualPiiDetector, raw_identifiers
from analytics_pipeline.quality.reconcile import reconcile
from analytics_pipeline.schema import ANALYTICS_TABLES, INTERACTIONS, QUARANTINE, RESUME_EVENTS, USERS, Table

SCRUBBED_EVENTS = scrubbed_events.key
MAX_REPORTED = 20  # event IDs listed per finding; the counts are complete


@contextmanager
def read_only(duckdb_resource: AnalyticsDuckDBResource) -> Iterator[duckdb.DuckDBPyConnection]:
    """A read-only connection. The DuckDB checks still run in the writers' pool: a reader in
    another process collides with a writer's file lock all the same."""
    conn = warehouse.connect(duckdb_resource.database, read_only=True)
    try:
        yield conn
    finally:
        conn.close()


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


# --- staging -----------------------------------------------------------------------------


@dg.asset_check(
    asset=SCRUBBED_EVENTS,
    description="Plants synthetic canary PII (name, e-mail, phone, SSN, street address) in a copy of a "
    "sample of the day's texts, runs the real scrubber on it and reports recall per type. Fails if any "
    "canary survives. The copy is discarded; it never reaches the tables.",
)
def canary_pii_removed(
    context: dg.AssetCheckExecutionContext,
    raw_log: RawEventLogResource,
    scrubber: ScrubberResource,
    quality: QualityThresholdsResource,
) -> dg.AssetCheckResult:
    op_context = context.op_execution_context
    day = op_context.partition_key if op_context.has_partition_key else raw_log.days()[-1]
    texts = sample_texts(raw_log.lines(day), quality.canary_texts, day)
    report = measure_canary_recall(texts, scrubber.get_scrubber().scrub_batch, day)
    # WARN: it measures the scrubber on synthetic values; no_residual_pii gates the real data,
    # and an ERROR here would also hold back the raw-log retention of the day.
    return dg.AssetCheckResult(passed=report.passed, severity=dg.AssetCheckSeverity.WARN, metadata=report.metadata())


# --- event tables --------------------------------------------------------------------------


def event_table_checks(table: Table) -> list[dg.AssetChecksDefinition]:
    key = table_asset_key(table)

    @dg.asset_check(
        asset=key,
        pool=DUCKDB_WRITER_POOL,
        name="no_residual_pii",
        blocking=True,
        description="Independent of the scrubber: strict patterns for e-mails, phones, SSNs and URLs, plus "
        "the day's raw user/resume IDs and canary values, searched in every free-text column and the "
        "pseudonym columns. Any hit blocks everything downstream. Reports counts per type and event IDs, "
        "never values.",
    )
    def no_residual_pii(
        context: dg.AssetCheckExecutionContext,
        duckdb: AnalyticsDuckDBResource,
        raw_log: RawEventLogResource,
        quality: QualityThresholdsResource,
    ) -> dg.AssetCheckResult:
        with read_only(duckdb) as conn:
            if (day := checked_day(context, conn, table)) is None:
                return no_partition(table)
            partition = day.isoformat()
            canaries = [v for canary in make_canaries(partition, quality.canary_texts) for v in canary.values.values()]
            detector = ResidualPiiDetector(raw_identifiers(raw_log.lines(partition)), canaries)
            text_columns = integrity.SCANNED_TEXT_COLUMNS[table.name]
            id_columns = integrity.PSEUDONYM_COLUMNS[table.name]
            rows = integrity.iter_rows(conn, table, ["event_id", *text_columns, *id_columns], day)
            findings = detector.scan_rows(rows, text_columns, id_columns)
        return dg.AssetCheckResult(passed=findings.clean, metadata={"partition": partition, **findings.metadata()})

    @dg.asset_check(
        asset=key,
        pool=DUCKDB_WRITER_POOL,
        name="event_ids_unique",
        blocking=True,
        description="No event_id occurs twice across all partitions of the event tables.",
    )
    def event_ids_unique(duckdb: AnalyticsDuckDBResource) -> dg.AssetCheckResult:
        with read_only(duckdb) as conn:
            duplicates = integrity.duplicate_event_ids(conn, table)
        return dg.AssetCheckResult(
            passed=not duplicates,
            metadata={"duplicate_event_ids": len(duplicates), "examples": duplicates[:MAX_REPORTED]},
        )

    @dg.asset_check(
        asset=key,
        pool=DUCKDB_WRITER_POOL,
        name="pseudonyms_well_formed",
        blocking=True,
        description="Every pseudonym column holds 64 lowercase hex digits (an HMAC-SHA256), never a raw ID "
        "or a missing value.",
    )
    def pseudonyms_well_formed(
        context: dg.AssetCheckExecutionContext, duckdb: AnalyticsDuckDBResource
    ) -> dg.AssetCheckResult:
        with read_only(duckdb) as conn:
            if (day := checked_day(context, conn, table)) is None:
                return no_partition(table)
            malformed = integrity.malformed_pseudonyms(conn, table, day)
        return dg.AssetCheckResult(
            passed=not malformed, metadata={"partition": day.isoformat(), "malformed_by_column": malformed}
        )

    @dg.asset_check(
        asset=key,
        pool=DUCKDB_WRITER_POOL,
        name="values_in_allowed_ranges",
        blocking=True,
        description="event_type and action are in the contract's sets, scores within 0-100, version >= 1.",
    )
    def values_in_allowed_ranges(
        context: dg.AssetCheckExecutionContext, duckdb: AnalyticsDuckDBResource
    ) -> dg.AssetCheckResult:
        with read_only(duckdb) as conn:
            if (day := checked_day(context, conn, table)) is None:
                return no_partition(table)
            violations = integrity.value_violations(conn, table, day)
        return dg.AssetCheckResult(
            passed=not violations, metadata={"partition": day.isoformat(), **by_rule(violations)}
        )

    @dg.asset_check(
        asset=key,
        pool=DUCKDB_WRITER_POOL,
        name="occurred_at_plausible",
        description="occurred_at is not in the future and not earlier than the lateness window "
        "(ANALYTICS_LATENESS_DAYS) before the partition's arrival day. Warns: client clocks are not ours.",
    )
    def occurred_at_plausible(
        context: dg.AssetCheckExecutionContext, duckdb: AnalyticsDuckDBResource, quality: QualityThresholdsResource
    ) -> dg.AssetCheckResult:
        now = datetime.now(UTC).replace(tzinfo=None)
        with read_only(duckdb) as conn:
            if (day := checked_day(context, conn, table)) is None:
                return no_partition(table)
            violations = integrity.occurred_at_violations(conn, table, day, now, quality.lateness_days)
        return dg.AssetCheckResult(
            passed=not violations,
            severity=dg.AssetCheckSeverity.WARN,
            metadata={"partition": day.isoformat(), "lateness_days": quality.lateness_days, **by_rule(violations)},
        )

    @dg.asset_check(
        asset=key,
        pool=DUCKDB_WRITER_POOL,
        name="latest_partition_fresh",
        description="The newest loaded partition is at most ANALYTICS_FRESHNESS_MAX_AGE_DAYS days old, so a "
        "stalled schedule shows. Warns (the committed sample data is from November 2026 and goes stale).",
    )
    def latest_partition_fresh(
        duckdb: AnalyticsDuckDBResource, quality: QualityThresholdsResource
    ) -> dg.AssetCheckResult:
        with read_only(duckdb) as conn:
            latest = integrity.latest_partition(conn, table)
        age_days = (datetime.now(UTC).date() - latest).days if latest else None
        return dg.AssetCheckResult(
            passed=age_days is not None and age_days <= quality.freshness_max_age_days,
            severity=dg.AssetCheckSeverity.WARN,
            metadata={
                "latest_partition": latest.isoformat() if latest else "none",
                "age_days": age_days if age_days is not None else -1,
                "max_age_days": quality.freshness_max_age_days,
            },
        )

    return [
        no_residual_pii,
        event_ids_unique,
        pseudonyms_well_formed,
        values_in_allowed_ranges,
        occurred_at_plausible,
        latest_partition_fresh,
    ]


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


EVENT_TABLE_DEPS = [table_asset_key(RESUME_EVENTS), table_asset_key(INTERACTIONS)]


@dg.asset_check(
    asset=table_asset_key(QUARANTINE),
    pool=DUCKDB_WRITER_POOL,
    additional_deps=EVENT_TABLE_DEPS,
    blocking=True,
    description="Nothing lost: per partition and per declared event type, raw lines read = clean rows + "
    "quarantined rows, and every quarantine row points at a raw line.",
)
def raw_lines_reconcile(
    context: dg.AssetCheckExecutionContext, duckdb: AnalyticsDuckDBResource, raw_log: RawEventLogResource
) -> dg.AssetCheckResult:
    with read_only(duckdb) as conn:
        if (day := checked_day(context, conn, QUARANTINE)) is None:
            return no_partition(QUARANTINE)
        result = partition_reconciliation(conn, raw_log, day)
    return dg.AssetCheckResult(passed=result.balanced, metadata={"partition": day.isoformat(), **result.metadata()})


@dg.asset_check(
    asset=table_asset_key(QUARANTINE),
    pool=DUCKDB_WRITER_POOL,
    additional_deps=EVENT_TABLE_DEPS,
    description="The share of the day's raw lines that were quarantined is at most "
    "ANALYTICS_MAX_QUARANTINE_RATE (default 1%). Warns: a rising rate usually means a client broke the contract.",
)
def quarantine_rate_below_threshold(
    context: dg.AssetCheckExecutionContext,
    duckdb: AnalyticsDuckDBResource,
    raw_log: RawEventLogResource,
    quality: QualityThresholdsResource,
) -> dg.AssetCheckResult:
    with read_only(duckdb) as conn:
        if (day := checked_day(context, conn, QUARANTINE)) is None:
            return no_partition(QUARANTINE)
        result = partition_reconciliation(conn, raw_log, day)
    return dg.AssetCheckResult(
        passed=result.quarantine_rate <= quality.max_quarantine_rate,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={
            "partition": day.isoformat(),
            "quarantine_rate": round(result.quarantine_rate, 4),
            "max_quarantine_rate": quality.max_quarantine_rate,
            "lines_read": result.lines_read,
        },
    )


# --- users ---------------------------------------------------------------------------------


@dg.asset_check(
    asset=table_asset_key(USERS),
    pool=DUCKDB_WRITER_POOL,
    blocking=True,
    description="analytics.users has exactly one row per anon_user_id.",
)
def anon_user_ids_unique(duckdb: AnalyticsDuckDBResource) -> dg.AssetCheckResult:
    with read_only(duckdb) as conn:
        duplicates = integrity.duplicate_users(conn)
    return dg.AssetCheckResult(passed=not duplicates, metadata={"duplicated_anon_user_ids": duplicates})


@dg.asset_check(
    asset=table_asset_key(USERS),
    pool=DUCKDB_WRITER_POOL,
    name="pseudonyms_well_formed",
    blocking=True,
    description="Every anon_user_id in analytics.users is 64 lowercase hex digits (an HMAC-SHA256).",
)
def users_pseudonyms_well_formed(duckdb: AnalyticsDuckDBResource) -> dg.AssetCheckResult:
    with read_only(duckdb) as conn:
        malformed = integrity.malformed_pseudonyms(conn, USERS)
    return dg.AssetCheckResult(passed=not malformed, metadata={"malformed_by_column": malformed})


@dg.asset_check(
    asset=table_asset_key(USERS),
    pool=DUCKDB_WRITER_POOL,
    blocking=True,
    description="Referential integrity: every event's anon_user_id has a row in analytics.users.",
)
def every_event_has_user(duckdb: AnalyticsDuckDBResource) -> dg.AssetCheckResult:
    with read_only(duckdb) as conn:
        orphans = integrity.events_without_user(conn)
    return dg.AssetCheckResult(passed=not orphans, metadata={"events_without_user_by_table": orphans})


# --- schema of every table -----------------------------------------------------------------


def schema_check(table: Table) -> dg.AssetChecksDefinition:
    @dg.asset_check(
        asset=table_asset_key(table),
        pool=DUCKDB_WRITER_POOL,
        name="matches_schema",
        blocking=True,
        description=f"The DuckDB table {table.qualified_name} has exactly the columns and types of "
        "analytics_pipeline/schema.py, in order: a column change is caught, not silently accepted.",
    )
    def matches_schema(duckdb: AnalyticsDuckDBResource) -> dg.AssetCheckResult:
        with read_only(duckdb) as conn:
            differences = integrity.schema_differences(conn, table)
        return dg.AssetCheckResult(passed=not differences, metadata={"differences": differences})

    return matches_schema


resume_events_checks = event_table_checks(RESUME_EVENTS)
interactions_checks = event_table_checks(INTERACTIONS)
schema_checks = [schema_check(table) for table in ANALYTICS_TABLES]
