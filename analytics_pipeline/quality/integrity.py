"""Integrity, schema and freshness of the DuckDB tables: plain SQL over a connection.

Each function returns what is wrong (counts, offending event IDs, differences), empty
when all is well. Only table and column names from ``schema`` are formatted into SQL;
values are bound with ``?``.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime, timedelta
from pathlib import Path

import duckdb

from analytics_pipeline.contract import (
    INTERACTION_ACTIONS,
    PLANNED_ELEMENTS,
    PLANNED_PAGES,
    RESUME_EVENT_TYPES,
    TAILORING_MODES,
)
from analytics_pipeline.privacy.hashing import PSEUDONYM_PATTERN
from analytics_pipeline.schema import (
    EVENT_TABLES,
    INTERACTIONS,
    RESUME_EVENTS,
    USERS,
    Table,
)
from analytics_pipeline.warehouse import CATALOG

PSEUDONYM_COLUMNS = {
    RESUME_EVENTS.name: ("anon_user_id", "anon_resume_id"),
    INTERACTIONS.name: ("anon_user_id",),
    USERS.name: ("anon_user_id",),
}
PSEUDONYM_REGEX = PSEUDONYM_PATTERN.pattern.strip("^$")
# Every text column but the event ID and the pseudonyms (checked as IDs): scrubbed texts, identifiers such
# as element, page and tailoring_mode, closed vocabularies and lineage. The residual-PII gate reads them all,
# so a column added to the schema is scanned without anyone remembering to list it.
SCANNED_TEXT_COLUMNS = {
    table.name: tuple(
        c.name
        for c in table.columns
        if c.duckdb_type == "VARCHAR" and c.name != "event_id" and c.name not in PSEUDONYM_COLUMNS[table.name]
    )
    for table in EVENT_TABLES
}
# Columns every event has (the contract requires them or gives a default): a NULL there (a hand-edited staged
# file) fails values_in_allowed_ranges. A condition below must be TRUE for a bad row: `NOT list_contains(...)`
# of a NULL is NULL, which would count as a pass, hence the explicit IS NULL tests. The pseudonyms are
# pseudonyms_well_formed's; optional fields (page, tailoring_mode, scores, texts) may be NULL.
REQUIRED_COLUMNS = {
    RESUME_EVENTS.name: ("event_id", "occurred_at", "event_type", "version", "is_refinement"),
    INTERACTIONS.name: ("event_id", "occurred_at", "action", "element"),
}
# Rule name -> SQL condition that is TRUE for a violating row; ``?`` placeholders in the order of the params.
VALUE_RULES: dict[str, dict[str, tuple[str, list]]] = {
    RESUME_EVENTS.name: {
        "required_columns_present": (" OR ".join(f"{c} IS NULL" for c in REQUIRED_COLUMNS[RESUME_EVENTS.name]), []),
        "event_type_allowed": ("event_type IS NULL OR NOT list_contains(?, event_type)", [list(RESUME_EVENT_TYPES)]),
        "ats_score_0_to_100": ("ats_score < 0 OR ats_score > 100 OR isnan(ats_score)", []),
        "jd_score_0_to_100": ("jd_score < 0 OR jd_score > 100 OR isnan(jd_score)", []),
        "version_at_least_1": ("version IS NULL OR version < 1", []),
        "tailoring_mode_allowed": ("NOT list_contains(?, tailoring_mode)", [list(TAILORING_MODES)]),
    },
    INTERACTIONS.name: {
        "required_columns_present": (" OR ".join(f"{c} IS NULL" for c in REQUIRED_COLUMNS[INTERACTIONS.name]), []),
        "action_allowed": ("action IS NULL OR NOT list_contains(?, action)", [list(INTERACTION_ACTIONS)]),
        "element_in_tracking_plan": ("element IS NULL OR NOT list_contains(?, element)", [sorted(PLANNED_ELEMENTS)]),
        "page_in_tracking_plan": ("NOT list_contains(?, page)", [sorted(PLANNED_PAGES)]),
    },
}


def _partition_filter(day: date | None) -> tuple[str, list]:
    return ("WHERE partition_date = ?", [day]) if day is not None else ("", [])


def iter_rows(
    conn: duckdb.DuckDBPyConnection, table: Table, columns: list[str], day: date, batch_rows: int = 1000
) -> Iterator[dict]:
    """A partition's rows as dicts, fetched in batches so memory stays bounded."""
    cursor = conn.execute(f"SELECT {', '.join(columns)} FROM {table.qualified_name} WHERE partition_date = ?", [day])
    return _dicts(cursor, columns, batch_rows)


def _dicts(cursor: duckdb.DuckDBPyConnection, columns: list[str], batch_rows: int) -> Iterator[dict]:
    while batch := cursor.fetchmany(batch_rows):
        for values in batch:
            yield dict(zip(columns, values))


def iter_rows_unlike_staged(
    conn: duckdb.DuckDBPyConnection, table: Table, columns: list[str], day: date, staged: Path, batch_rows: int = 1000
) -> Iterator[dict]:
    """A partition's rows whose ``columns`` differ from those of every staged row of the same event ID (in the
    Parquet file ``staged``): what the table holds that the scan of the staged files did not see."""
    same = " AND ".join(f"s.{c} IS NOT DISTINCT FROM t.{c}" for c in columns)
    cursor = conn.execute(
        f"SELECT {', '.join(f't.{c}' for c in columns)} FROM {table.qualified_name} AS t WHERE t.partition_date = ? "
        f"AND NOT EXISTS (SELECT 1 FROM read_parquet(?) AS s WHERE {same})",
        [day, str(staged)],
    )
    return _dicts(cursor, columns, batch_rows)


def duplicate_event_ids(conn: duckdb.DuckDBPyConnection, table: Table, day: date | None = None) -> list[str]:
    """Event IDs of ``table`` (of its partition ``day``, when given) that occur more than once across all
    partitions of all event tables. A duplicate between two other days is theirs to report, not ``day``'s."""
    union = " UNION ALL ".join(f"SELECT event_id FROM {t.qualified_name}" for t in EVENT_TABLES)
    where, params = _partition_filter(day)
    return [
        event_id
        for (event_id,) in conn.execute(
            f"SELECT event_id FROM ({union}) GROUP BY event_id HAVING count(*) > 1 "
            f"AND event_id IN (SELECT event_id FROM {table.qualified_name} {where}) ORDER BY event_id",
            params,
        ).fetchall()
    ]


def malformed_pseudonyms(conn: duckdb.DuckDBPyConnection, table: Table, day: date | None = None) -> dict[str, int]:
    """Per pseudonym column, rows whose value is missing or not 64 lowercase hex digits."""
    where, params = _partition_filter(day)
    counts = {}
    for column in PSEUDONYM_COLUMNS[table.name]:
        (n,) = conn.execute(
            f"SELECT count(*) FILTER (WHERE {column} IS NULL OR NOT regexp_full_match({column}, ?)) "
            f"FROM {table.qualified_name} {where}",
            [PSEUDONYM_REGEX, *params],
        ).fetchone()
        if n:
            counts[column] = n
    return counts


def value_violations(conn: duckdb.DuckDBPyConnection, table: Table, day: date) -> dict[str, list[str]]:
    """Per rule of ``VALUE_RULES``, the event IDs of the partition's rows that break it."""
    violations = {}
    for rule, (condition, params) in VALUE_RULES[table.name].items():
        event_ids = [
            event_id
            for (event_id,) in conn.execute(
                f"SELECT event_id FROM {table.qualified_name} WHERE partition_date = ? AND ({condition})",
                [day, *params],
            ).fetchall()
        ]
        if event_ids:
            violations[rule] = event_ids
    return violations


def occurred_at_violations(
    conn: duckdb.DuckDBPyConnection, table: Table, day: date, now: datetime, lateness_days: int
) -> dict[str, list[str]]:
    """Event IDs of the partition whose ``occurred_at`` is in the future, or earlier than
    ``lateness_days`` before the partition's day (partitions follow arrival, so some lateness is normal).
    ``now`` is naive UTC, like the stored timestamps."""
    earliest = datetime.combine(day - timedelta(days=lateness_days), datetime.min.time())
    rules = {"in_future": ("occurred_at > ?", now), "too_late": ("occurred_at < ?", earliest)}
    violations = {}
    for rule, (condition, bound) in rules.items():
        event_ids = [
            event_id
            for (event_id,) in conn.execute(
                f"SELECT event_id FROM {table.qualified_name} WHERE partition_date = ? AND {condition}",
                [day, bound],
            ).fetchall()
        ]
        if event_ids:
            violations[rule] = event_ids
    return violations


def duplicate_users(conn: duckdb.DuckDBPyConnection) -> int:
    """How many anon_user_id values occur more than once in analytics.users."""
    (n,) = conn.execute(
        f"SELECT count(*) FROM (SELECT anon_user_id FROM {USERS.qualified_name} "
        "GROUP BY anon_user_id HAVING count(*) > 1)"
    ).fetchone()
    return n


def events_without_user(conn: duckdb.DuckDBPyConnection) -> dict[str, int]:
    """Per event table, rows whose anon_user_id has no row in analytics.users."""
    counts = {}
    for table in EVENT_TABLES:
        (n,) = conn.execute(
            f"SELECT count(*) FROM {table.qualified_name} e WHERE NOT EXISTS "
            f"(SELECT 1 FROM {USERS.qualified_name} u WHERE u.anon_user_id = e.anon_user_id)"
        ).fetchone()
        if n:
            counts[table.name] = n
    return counts


def schema_differences(conn: duckdb.DuckDBPyConnection, table: Table) -> list[str]:
    """How the table in DuckDB differs from its definition in ``schema.py`` (names, types, order)."""
    actual = conn.execute(
        "SELECT column_name, data_type FROM information_schema.columns "
        "WHERE table_catalog = ? AND table_schema = ? AND table_name = ? ORDER BY ordinal_position",
        [CATALOG, table.schema, table.name],
    ).fetchall()
    if not actual:
        return [f"table {table.qualified_name} does not exist"]
    expected = [(c.name, c.duckdb_type) for c in table.columns]
    actual_types, expected_types = dict(actual), dict(expected)
    differences = [f"missing column {name}" for name in expected_types if name not in actual_types]
    differences += [f"unexpected column {name}" for name in actual_types if name not in expected_types]
    differences += [
        f"column {name} is {actual_types[name]}, expected {kind}"
        for name, kind in expected
        if name in actual_types and actual_types[name] != kind
    ]
    if not differences and [name for name, _ in actual] != [name for name, _ in expected]:
        differences.append("columns are in a different order")
    return differences


def latest_partition(conn: duckdb.DuckDBPyConnection, table: Table) -> date | None:
    (latest,) = conn.execute(f"SELECT max(partition_date) FROM {table.qualified_name}").fetchone()
    return latest
