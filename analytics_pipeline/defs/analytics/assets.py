"""The analytics tables in DuckDB: the day's events loaded from staging, and users over all days."""

import shutil
from collections.abc import Iterator
from datetime import date

import dagster as dg

from analytics_pipeline import warehouse
from analytics_pipeline.defs.analytics.checks import USERS_CHECKS, users_check_results
from analytics_pipeline.defs.privacy.assets import scrubbed_events
from analytics_pipeline.defs.resources import (
    AnalyticsDuckDBResource,
    PseudonymizerResource,
    QualityThresholdsResource,
    RawEventLogResource,
    StagingAreaResource,
)
from analytics_pipeline.defs.shared import (
    DUCKDB_WRITER_POOL,
    daily_partitions,
    preview_table,
    table_asset_key,
    table_schema,
)
from analytics_pipeline.lifecycle.salt import SaltMismatch, ensure_salt_fingerprint
from analytics_pipeline.quality.pii import partition_detector, read_findings, scan_staged
from analytics_pipeline.schema import INTERACTIONS, QUARANTINE, RESUME_EVENTS, USERS, Table

OWNERS = ["team:data-platform"]


def table_asset_fields(table: Table, partitions_def: dg.PartitionsDefinition | None = daily_partitions) -> dict:
    """Key, catalogue fields and schema metadata shared by every analytics table asset."""
    return {
        "key": table_asset_key(table),
        "group_name": "analytics",
        "kinds": {"duckdb"},
        "owners": OWNERS,
        "tags": {"pii": "scrubbed"},
        "partitions_def": partitions_def,
        "metadata": {
            "dagster/column_schema": table_schema(table),
            "dagster/table_name": table.qualified_name,
        },
    }


def table_spec(table: Table, description: str, deps) -> dg.AssetSpec:
    return dg.AssetSpec(**table_asset_fields(table), description=description, deps=deps)


# What the UI previews: values no erasure needs to reach, since an erasure cannot reach Dagster's run
# storage: never a pseudonym, a user's text or a user's timestamps, nor an identifier field (element,
# page: closed by the tracking plan, but an app's mistake there must not outlive an erasure either);
# the contract's vocabularies, counts and scores only.
PREVIEW_COLUMNS = {
    RESUME_EVENTS.name: ["event_type", "version", "ats_score", "jd_score", "tailoring_mode"],
    INTERACTIONS.name: ["action"],
    QUARANTINE.name: ["line_number", "reason_code", "reason"],
    USERS.name: ["active_days", "event_count", "resume_count"],
}


def table_rows(conn, table: Table) -> int:
    return conn.execute(f"SELECT count(*) FROM {table.qualified_name}").fetchone()[0]


def table_preview(conn, table: Table, day: date | None = None) -> dg.MetadataValue:
    columns = PREVIEW_COLUMNS[table.name]
    return preview_table(table, columns, warehouse.preview_rows(conn, table, columns, day))


@dg.multi_asset(
    specs=[
        table_spec(
            RESUME_EVENTS,
            "One row per valid resume event (upload, tailor, refine, copy, download): "
            "pseudonymous IDs, scores, and resume / job-description / tailored texts with PII "
            "replaced by typed placeholders.",
            [scrubbed_events],
        ),
        table_spec(
            INTERACTIONS,
            "One row per valid UI interaction (click, hover, ...), with pseudonymous user IDs.",
            [scrubbed_events],
        ),
        table_spec(
            QUARANTINE,
            "Raw lines that broke the event contract: file, line number and reason. Never the line's content.",
            [scrubbed_events],
        ),
    ],
    partitions_def=daily_partitions,
    pool=DUCKDB_WRITER_POOL,
)
def event_tables(
    context: dg.AssetExecutionContext,
    duckdb: AnalyticsDuckDBResource,
    staging: StagingAreaResource,
    pseudonymizer: PseudonymizerResource,
    raw_log: RawEventLogResource,
    quality: QualityThresholdsResource,
):
    """Loads a day's staged, scrubbed events into DuckDB, replacing that day's rows in one transaction,
    once the residual-PII gate has passed on the staged files: a leaky day is never published."""
    day = date.fromisoformat(context.partition_key)
    partition_dir = staging.partition_dir(context.partition_key)
    # The shards' scan (written by the merge), or, for a day staged without one, a scan now.
    findings = read_findings(partition_dir) or scan_staged(
        partition_dir,
        partition_detector(
            raw_log.lines(context.partition_key),
            context.partition_key,
            quality.canary_texts,
            pseudonymizer.salt_bytes(),
        ),
    )
    if not findings.clean:
        # Not readable anywhere: the day's earlier rows go too, and the staged Parquet with the leak.
        with duckdb.get_connection() as conn:
            warehouse.drop_partition(conn, day)
        shutil.rmtree(partition_dir)
        raise dg.Failure(
            description=f"residual PII in the scrubbed rows of {day}: the day is not loaded (see metadata)",
            metadata=findings.metadata(),
        )
    with duckdb.get_connection() as conn:
        warehouse.ensure_tables(conn)
        try:  # also guards runs that skip the salt_matches_tables check
            ensure_salt_fingerprint(conn, pseudonymizer.fingerprint())
        except SaltMismatch as error:
            raise dg.Failure(description=str(error)) from None
        counts = warehouse.load_partition(conn, day, partition_dir)
        for table in (RESUME_EVENTS, INTERACTIONS, QUARANTINE):
            yield dg.MaterializeResult(
                asset_key=table_asset_key(table),
                metadata={
                    "dagster/row_count": table_rows(conn, table),
                    "partition_rows": counts[table.name],
                    "preview": table_preview(conn, table, day),
                },
            )


@dg.asset(
    # A whole table, not a day: every row aggregates all loaded days, so it depends on every partition of
    # the event tables and is rebuilt after each day's load (in that day's run).
    **table_asset_fields(USERS, partitions_def=None),
    deps=[table_asset_key(RESUME_EVENTS), table_asset_key(INTERACTIONS)],
    pool=DUCKDB_WRITER_POOL,
    check_specs=[check.spec for check in USERS_CHECKS],
)
def users(duckdb: AnalyticsDuckDBResource) -> Iterator[dg.MaterializeResult | dg.AssetCheckResult]:
    """One row per pseudonymous user (HMAC-SHA256 of the user ID with the secret salt): first and
    last seen, active days and event counts, aggregated over every loaded day. One table for all
    days (unpartitioned), rebuilt whole after each day is loaded, and checked in the same connection."""
    with duckdb.get_connection() as conn:
        totals = warehouse.rebuild_users(conn)
        yield dg.MaterializeResult(
            metadata={
                "dagster/row_count": totals.users,
                "days_aggregated": totals.days,
                "events_aggregated": totals.events,
                "preview": table_preview(conn, USERS),
            }
        )
        yield from users_check_results(conn)
