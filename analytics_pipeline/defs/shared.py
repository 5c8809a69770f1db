"""Dagster helpers every domain uses: the day partitions, the DuckDB writer pool, table keys and schemas."""

import dagster as dg

from analytics_pipeline.schema import Table

# One partition per arrival day (UTC) of the raw event log.
daily_partitions = dg.DailyPartitionsDefinition(start_date="2026-11-01", timezone="UTC")

# DuckDB allows one writer: every step that opens the file runs in this pool (limit 1 in dagster.yaml).
DUCKDB_WRITER_POOL = "duckdb_writer"


def table_schema(table: Table) -> dg.TableSchema:
    return dg.TableSchema(
        columns=[dg.TableColumn(c.name, c.duckdb_type.lower(), description=c.description) for c in table.columns]
    )


def table_asset_key(table: Table) -> dg.AssetKey:
    """Asset key prefix = DuckDB schema: analytics/users is the table analytics.users."""
    return dg.AssetKey([table.schema, table.name])


def latest_materialization_time(instance: dg.DagsterInstance, key: dg.AssetKey, day: str) -> float | None:
    records = instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=key, asset_partitions=[day]), limit=1
    ).records
    return records[0].timestamp if records else None
