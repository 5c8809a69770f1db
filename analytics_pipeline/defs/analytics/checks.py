"""Data-quality checks on the analytics tables; the logic lives in ``analytics_pipeline.quality``.

Blocking checks (ERROR) stop everything downstream of the checked asset in the same run,
so training sets are never built on data that leaks PII or breaks integrity. Warnings
(quarantine rate, lateness, freshness) are visible in the UI but let the run go on.
Each check is declared by a small factory per table; the checks of a table group run in one
step that reads DuckDB through the resource, read-only, in the writers' pool.
"""

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime

import dagster as dg
import duckdb

from analytics_pipeline.defs.resources import (
    AnalyticsDuckDBResource,
    PseudonymizerResource,
    QualityThresholdsResource,
    RawEventLogResource,
    StagingAreaResource,
)
from analytics_pipeline.defs.shared import DUCKDB_WRITER_POOL, daily_partitions, day_check_results, table_asset_key
from analytics_pipeline.quality import integrity
from analytics_pipeline.quality.explain import freshness_reason, lateness_reason, quarantine_rate_reason
from analytics_pipeline.quality.pii import partition_detector, read_findings
from analytics_pipeline.quality.reconcile import reconcile
from analytics_pipeline.schema import EVENT_TABLES, INTERACTIONS, QUARANTINE, RESUME_EVENTS, USERS, Table
from analytics_pipeline.staging import staged_file

MAX_REPORTED = 20  # event IDs listed per finding; the counts are complete
EVENT_TABLE_DEPS = [table_asset_key(table) for table in EVENT_TABLES]


@dataclass(frozen=True)
class TableCheck:
    """One check of a table: its spec (name, description, blocking) and the function that evaluates it."""

    spec: dg.AssetCheckSpec
    evaluate: Callable[["CheckRun"], dg.AssetCheckResult]


@dataclass(frozen=True)
class CheckRun:
    """What a check reads: the day it checks (None for analytics.users, one table over all days), one
    read-only DuckDB connection, the raw log, the thresholds."""

    day: date | None
    conn: duckdb.DuckDBPyConnection
    key: dg.AssetCheckKey
    # The checks of analytics.users read DuckDB only (they run inside the users asset's step).
    raw_log: RawEventLogResource | None = None
    staging: StagingAreaResource | None = None
    quality: QualityThresholdsResource | None = None
    pseudonymizer: PseudonymizerResource | None = None

    def result(self, passed: bool, **fields) -> dg.AssetCheckResult:
        return dg.AssetCheckResult(asset_key=self.key.asset_key, check_name=self.key.name, passed=passed, **fields)


def table_check(table: Table, name: str, description: str, blocking: bool = False, **spec_fields):
    """Declares a check of ``table``; it runs in its table group's step (see ``checks_step``).

    Checks of the day-partitioned tables are partitioned like them: each result belongs to the day
    it checked, and the UI shows each day's status (also for checks that read the whole table).
    """

    def declare(evaluate: Callable[[CheckRun], dg.AssetCheckResult]) -> TableCheck:
        spec = dg.AssetCheckSpec(
            name,
            asset=table_asset_key(table),
            description=description,
            blocking=blocking,
            partitions_def=None if table is USERS else daily_partitions,
            **spec_fields,
        )
        return TableCheck(spec, evaluate)

    return declare


def checks_step(name: str, checks: list[TableCheck], description: str) -> dg.AssetChecksDefinition:
    """One step for many checks: they share a read-only connection and one claim of the DuckDB pool.

    One step per table group, not per check: on Celery or Kubernetes every step costs a task or a
    pod and a turn of the pool, which two dozen sub-second checks would pay one after another.
    The UI still shows each check on its own; one check can be run alone (the step is subsettable).
    """

    @dg.multi_asset_check(
        name=name,
        specs=[check.spec for check in checks],
        description=description,
        can_subset=True,
        pool=DUCKDB_WRITER_POOL,
    )
    def run_checks(
        context: dg.AssetCheckExecutionContext,
        duckdb: AnalyticsDuckDBResource,
        raw_log: RawEventLogResource,
        staging: StagingAreaResource,
        quality: QualityThresholdsResource,
        pseudonymizer: PseudonymizerResource,
    ):
        selected = [check for check in checks if check.spec.key in context.selected_asset_check_keys]
        with duckdb.get_connection(read_only=True) as conn:

            def evaluate(day: str | None) -> Iterator[dg.AssetCheckResult]:
                checked = date.fromisoformat(day) if day else None
                for check in selected:
                    yield check.evaluate(
                        CheckRun(checked, conn, check.spec.key, raw_log, staging, quality, pseudonymizer)
                    )

            yield from day_check_results(context, evaluate)

    return run_checks


def by_rule(violations: dict[str, list[str]]) -> dict:
    return {
        "violations_by_rule": {rule: len(ids) for rule, ids in violations.items()},
        "event_ids": {rule: ids[:MAX_REPORTED] for rule, ids in violations.items()},
    }


# --- event tables --------------------------------------------------------------------------


def no_residual_pii_check(table: Table) -> TableCheck:
    @table_check(
        table,
        "no_residual_pii",
        "Independent of the scrubber: strict patterns for e-mails, phones, SSNs and URLs, also in disguise "
        "(after NFKC and removing invisible characters; letter-spaced, 'at'/'dot' or digits spelled out), plus "
        "the day's raw user/resume IDs and canary values, searched in every text column (element, page, "
        "tailoring_mode and source_file included) and the pseudonym columns; element, page and tailoring_mode "
        "must hold a value of the tracking plan or the contract's vocabulary. The same scan runs on the staged "
        "files (shard by shard) before the load, which refuses a leaky day; this second look scans every row "
        "of the table that is not identical to a staged row that scan found clean (every row when the staged "
        "files changed since or are gone). Any hit blocks everything downstream. Reports counts per type and "
        "event IDs, never values.",
        blocking=True,
    )
    def no_residual_pii(run: CheckRun) -> dg.AssetCheckResult:
        day = run.day
        partition = day.isoformat()
        detector = partition_detector(
            run.raw_log.lines(partition), partition, run.quality.canary_texts, run.pseudonymizer.salt_bytes()
        )
        text_columns = integrity.SCANNED_TEXT_COLUMNS[table.name]
        id_columns = integrity.PSEUDONYM_COLUMNS[table.name]
        columns = ["event_id", *text_columns, *id_columns]
        # Rows identical to staged rows that the gate's scan found clean (its verdict still matches the staged
        # files) need no second scan; any other row of the day is scanned here.
        staged = run.staging.partition_dir(partition)
        verdict = read_findings(staged) if staged.is_dir() else None
        if verdict is not None and verdict.clean:
            rows = integrity.iter_rows_unlike_staged(run.conn, table, columns, day, staged_file(staged, table))
        else:
            rows = integrity.iter_rows(run.conn, table, columns, day)
        findings = detector.scan_rows(rows, text_columns, id_columns)
        return run.result(
            passed=findings.clean,
            metadata={"partition": partition, "verified_against_gate": verdict is not None, **findings.metadata()},
        )

    return no_residual_pii


def event_ids_unique_check(table: Table) -> TableCheck:
    @table_check(
        table,
        "event_ids_unique",
        "No event_id of the partition occurs twice across all partitions of the event tables (a duplicate "
        "between two other days fails their checks, not this day's).",
        blocking=True,
    )
    def event_ids_unique(run: CheckRun) -> dg.AssetCheckResult:
        day = run.day
        duplicates = integrity.duplicate_event_ids(run.conn, table, day)
        return run.result(
            passed=not duplicates,
            metadata={
                "partition": day.isoformat(),
                "duplicate_event_ids": len(duplicates),
                "examples": duplicates[:MAX_REPORTED],
            },
        )

    return event_ids_unique


def pseudonyms_well_formed_check(table: Table) -> TableCheck:
    @table_check(
        table,
        "pseudonyms_well_formed",
        "Every pseudonym column holds 64 lowercase hex digits (an HMAC-SHA256), never a raw ID or a missing value.",
        blocking=True,
    )
    def pseudonyms_well_formed(run: CheckRun) -> dg.AssetCheckResult:
        if table is USERS:
            malformed = integrity.malformed_pseudonyms(run.conn, table)
            return run.result(passed=not malformed, metadata={"malformed_by_column": malformed})
        day = run.day
        malformed = integrity.malformed_pseudonyms(run.conn, table, day)
        return run.result(
            passed=not malformed, metadata={"partition": day.isoformat(), "malformed_by_column": malformed}
        )

    return pseudonyms_well_formed


def values_in_allowed_ranges_check(table: Table) -> TableCheck:
    @table_check(
        table,
        "values_in_allowed_ranges",
        "Required values are present (no NULL event_id, occurred_at, event_type, action...), "
        "event_type, action and tailoring_mode are in the contract's sets, element and page in the app's tracking "
        "plan (or 'other'), scores within 0-100, version >= 1.",
        blocking=True,
    )
    def values_in_allowed_ranges(run: CheckRun) -> dg.AssetCheckResult:
        day = run.day
        violations = integrity.value_violations(run.conn, table, day)
        return run.result(passed=not violations, metadata={"partition": day.isoformat(), **by_rule(violations)})

    return values_in_allowed_ranges


def occurred_at_plausible_check(table: Table) -> TableCheck:
    @table_check(
        table,
        "occurred_at_plausible",
        "occurred_at is not in the future and not earlier than the lateness window "
        "(ANALYTICS_LATENESS_DAYS) before the partition's arrival day. Warns: client clocks are not ours.",
    )
    def occurred_at_plausible(run: CheckRun) -> dg.AssetCheckResult:
        now, day = datetime.now(UTC).replace(tzinfo=None), run.day
        lateness_days = run.quality.lateness_days
        violations = integrity.occurred_at_violations(run.conn, table, day, now, lateness_days)
        return run.result(
            passed=not violations,
            severity=dg.AssetCheckSeverity.WARN,
            description=lateness_reason(violations, day, lateness_days) if violations else None,
            metadata={"partition": day.isoformat(), "lateness_days": lateness_days, **by_rule(violations)},
        )

    return occurred_at_plausible


def latest_partition_fresh_check(table: Table) -> TableCheck:
    @table_check(
        table,
        "latest_partition_fresh",
        "The newest loaded partition is at most ANALYTICS_FRESHNESS_MAX_AGE_DAYS days old, so a "
        "stalled schedule shows. Warns (the committed sample data is from November 2026 and goes stale).",
    )
    def latest_partition_fresh(run: CheckRun) -> dg.AssetCheckResult:
        latest = integrity.latest_partition(run.conn, table)
        max_age_days = run.quality.freshness_max_age_days
        age_days = (datetime.now(UTC).date() - latest).days if latest else None
        passed = age_days is not None and age_days <= max_age_days
        sample = latest is not None and run.raw_log.is_sample_day(latest.isoformat())
        return run.result(
            passed=passed,
            severity=dg.AssetCheckSeverity.WARN,
            description=None if passed else freshness_reason(latest, age_days, max_age_days, sample),
            metadata={
                "latest_partition": latest.isoformat() if latest else "none",
                "age_days": age_days if age_days is not None else -1,
                "max_age_days": max_age_days,
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
def raw_lines_reconcile(run: CheckRun) -> dg.AssetCheckResult:
    result = partition_reconciliation(run.conn, run.raw_log, run.day)
    return run.result(passed=result.balanced, metadata={"partition": run.day.isoformat(), **result.metadata()})


@table_check(
    QUARANTINE,
    "quarantine_rate_below_threshold",
    "The share of the day's raw lines that were quarantined is at most ANALYTICS_MAX_QUARANTINE_RATE "
    "(default 1%). Warns: a rising rate usually means a client broke the contract.",
    additional_deps=EVENT_TABLE_DEPS,
)
def quarantine_rate_below_threshold(run: CheckRun) -> dg.AssetCheckResult:
    day = run.day
    result = partition_reconciliation(run.conn, run.raw_log, day)
    max_rate = run.quality.max_rate
    passed = result.quarantine_rate <= max_rate
    quarantined = sum(result.quarantined.values())
    sample = run.raw_log.is_sample_day(day.isoformat())
    return run.result(
        passed=passed,
        severity=dg.AssetCheckSeverity.WARN,
        description=None if passed else quarantine_rate_reason(quarantined, result.lines_read, max_rate, sample),
        metadata={
            "partition": day.isoformat(),
            "quarantine_rate": round(result.quarantine_rate, 4),
            "max_quarantine_rate": max_rate,
            "lines_read": result.lines_read,
            "lines_quarantined": quarantined,
            "sample_data": sample,
        },
    )


# --- users ---------------------------------------------------------------------------------


@table_check(USERS, "anon_user_ids_unique", "analytics.users has exactly one row per anon_user_id.", blocking=True)
def anon_user_ids_unique(run: CheckRun) -> dg.AssetCheckResult:
    duplicates = integrity.duplicate_users(run.conn)
    return run.result(passed=not duplicates, metadata={"duplicated_anon_user_ids": duplicates})


@table_check(
    USERS,
    "every_event_has_user",
    "Referential integrity: every event's anon_user_id has a row in analytics.users.",
    blocking=True,
)
def every_event_has_user(run: CheckRun) -> dg.AssetCheckResult:
    orphans = integrity.events_without_user(run.conn)
    return run.result(passed=not orphans, metadata={"events_without_user_by_table": orphans})


# --- schema of every table -----------------------------------------------------------------


def matches_schema_check(table: Table) -> TableCheck:
    @table_check(
        table,
        "matches_schema",
        f"The DuckDB table {table.qualified_name} has exactly the columns and types of "
        "analytics_pipeline/schema.py, in order: a column change is caught, not silently accepted.",
        blocking=True,
    )
    def matches_schema(run: CheckRun) -> dg.AssetCheckResult:
        differences = integrity.schema_differences(run.conn, table)
        return run.result(passed=not differences, metadata={"differences": differences})

    return matches_schema


EVENT_TABLE_CHECK_FACTORIES = (
    no_residual_pii_check,
    event_ids_unique_check,
    pseudonyms_well_formed_check,
    values_in_allowed_ranges_check,
    occurred_at_plausible_check,
    latest_partition_fresh_check,
)
event_table_checks = checks_step(
    "event_table_checks",
    [
        *(factory(table) for table in EVENT_TABLES for factory in EVENT_TABLE_CHECK_FACTORIES),
        raw_lines_reconcile,
        quarantine_rate_below_threshold,
        *(matches_schema_check(table) for table in (*EVENT_TABLES, QUARANTINE)),
    ],
    "The checks of the day's event and quarantine tables, after their load.",
)
# Evaluated by the users asset itself, in its step and DuckDB connection, right after the rebuild: as a step of
# their own they read the table after the pool slot was released, and another day's run that loaded its events
# in between made every_event_has_user fail a correct rebuild.
USERS_CHECKS = [
    anon_user_ids_unique,
    pseudonyms_well_formed_check(USERS),
    every_event_has_user,
    matches_schema_check(USERS),
]
ANALYTICS_CHECKS = [event_table_checks]


def users_check_results(conn: duckdb.DuckDBPyConnection) -> Iterator[dg.AssetCheckResult]:
    """The results of analytics.users' checks, read through ``conn`` (the rebuild's own connection)."""
    for check in USERS_CHECKS:
        yield check.evaluate(CheckRun(None, conn, check.spec.key))


def check_keys_on(assets: set[dg.AssetKey]) -> set[dg.AssetCheckKey]:
    """The blocking (ERROR) analytics checks guarding one of ``assets``: what the training gate requires
    to have passed. Warnings never gate, so they are not required to have run either."""
    specs = [spec for check in ANALYTICS_CHECKS for spec in check.check_specs] + [c.spec for c in USERS_CHECKS]
    return {spec.key for spec in specs if spec.blocking and spec.asset_key in assets}
