"""Dagster helpers every domain uses: the day partitions, the DuckDB writer pool, table keys and schemas,
the latest materialization of an asset, and check results that carry their day."""

from collections.abc import Callable, Iterable, Iterator

import dagster as dg

# Makes the pool below admit one step at a time also on SQLite storage (imported for that effect).
import analytics_pipeline.pool_slots  # noqa: F401
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


def day_check_results(
    context: dg.AssetCheckExecutionContext, evaluate: Callable[[str | None], Iterable[dg.AssetCheckResult]]
) -> Iterator[dg.AssetCheckResult]:
    """The results of a check step for the day it checks: ``evaluate(day)``, each result naming its check.

    In a day's run that day (or None for checks of a whole table). A run without a day is what the UI's
    "Execute all" on an asset's Checks tab launches, and Dagster 1.13 fails a step that yields a result for
    a day-partitioned check in it; so such a run checks the day of the checked assets' latest
    materialization and records each result as an evaluation that carries that day.
    """
    op_context = context.op_execution_context
    selected = [spec for spec in context.check_specs if spec.key in context.selected_asset_check_keys]
    if op_context.has_partition_key or all(spec.partitions_def is None for spec in selected):
        yield from evaluate(op_context.partition_key if op_context.has_partition_key else None)
        return
    materialized = [
        record
        for key in sorted({spec.asset_key for spec in selected}, key=str)
        if (record := latest_materialization(context.instance, key)) is not None
    ]
    if not materialized:
        context.log.warning("no day to check: the checked assets were never materialized")
        return
    day = max(materialized, key=lambda record: record.storage_id).partition_key
    context.log.info(f"this run has no day (the UI's Execute all sends none): checking {day}, the latest materialized")
    blocking = {spec.key: spec.blocking for spec in selected}
    for result in evaluate(day):
        key = dg.AssetCheckKey(result.asset_key, result.check_name)
        op_context.log_event(
            dg.AssetCheckEvaluation(
                asset_key=result.asset_key,
                check_name=result.check_name,
                passed=result.passed,
                metadata=result.metadata,
                severity=result.severity,
                description=result.description,
                blocking=blocking[key],
                partition=day,
            )
        )
