"""Dagster helpers every domain uses: the day partitions, the DuckDB writer pool, table keys and schemas."""

import dagster as dg

from analytics_pipeline.schema import Table

# One partition per arrival day (UTC) that has raw files. A day becomes a partition when its files are
# first handled (the daily schedule, raw_log_sensor, `analytics-pipeline run`), so the UI counts real
# days only and a backfill of "missing" partitions never launches runs for days without data.
daily_partitions = dg.DynamicPartitionsDefinition(name="arrival_days")

# DuckDB allows one writer: every step that opens the file runs in this pool (limit 1 in dagster.yaml).
DUCKDB_WRITER_POOL = "duckdb_writer"


def table_schema(table: Table) -> dg.TableSchema:
    return dg.TableSchema(
        columns=[dg.TableColumn(c.name, c.duckdb_type.lower(), description=c.description) for c in table.columns]
    )


def table_asset_key(table: Table) -> dg.AssetKey:
    """Asset key prefix = DuckDB schema: analytics/users is the table analytics.users."""
    return dg.AssetKey([table.schema, table.name])


PREVIEW_TEXT_CHARS = 120


def _preview_cell(value) -> str | int | float | bool | None:
    if value is None or isinstance(value, bool | int):
        return value
    if isinstance(value, float):
        return None if value != value else value  # NaN shows as empty, like any missing value
    text = value.isoformat() if hasattr(value, "isoformat") else str(value)
    return text if len(text) <= PREVIEW_TEXT_CHARS else text[: PREVIEW_TEXT_CHARS - 1] + "…"


def preview_table(table: Table, columns: list[str], rows: list[dict]) -> dg.MetadataValue:
    """Rows of scrubbed data as table metadata: placeholders such as ``<PERSON>`` show as text, a ``|``
    stays inside its cell, missing values are empty, long texts are cut. Never pass identifier columns."""
    types = {column.name: column.duckdb_type.lower() for column in table.columns}
    return dg.MetadataValue.table(
        records=[dg.TableRecord({c: _preview_cell(row[c]) for c in columns}) for row in rows],
        schema=dg.TableSchema(columns=[dg.TableColumn(c, types[c]) for c in columns]),
    )


def latest_materialization(
    instance: dg.DagsterInstance, key: dg.AssetKey, day: str | None = None
) -> dg.EventLogRecord | None:
    """The newest materialization of ``key`` (of its partition ``day``, if given)."""
    records = instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=key, asset_partitions=[day] if day else None), limit=1
    ).records
    return records[0] if records else None


def register_days(instance: dg.DagsterInstance, days: list[str]) -> None:
    """Make arrival days (YYYY-MM-DD, with raw files) partitions, before runs are launched for them."""
    new = [day for day in days if not instance.has_dynamic_partition(daily_partitions.name, day)]
    if new:
        instance.add_dynamic_partitions(daily_partitions.name, new)
