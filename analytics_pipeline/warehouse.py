"""DuckDB side of the pipeline: create the tables, load a staged partition, rebuild users.

Plain functions over a DuckDB connection (no Dagster), so they are testable alone.
Values are always bound with ``?``; only table and column names from ``schema`` are
formatted into SQL.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import duckdb

from analytics_pipeline.schema import (
    ANALYTICS_TABLES,
    ERASURE_LEDGER,
    EVENT_TABLES,
    INTERACTIONS,
    LIFECYCLE_TABLES,
    QUARANTINE,
    RESUME_EVENTS,
    USERS,
    Table,
)
from analytics_pipeline.staging import staged_file

# DuckDB names a file's catalog after its stem: a file called analytics.duckdb would make
# "analytics.users" ambiguous (catalog or schema?). Attaching any file under this alias keeps
# "analytics.users" and "training.*" meaning schema.table; the default file is warehouse.duckdb,
# so a plain duckdb.connect() of it reads the same names.
CATALOG = "warehouse"
# DuckDB's buffer pool would otherwise grow to 80% of RAM while loading a large partition; capped,
# it spills to a temporary directory beside the file, so a load's memory does not grow with its size.
MEMORY_LIMIT = "1GB"


LOCK_WAIT_ENV = "ANALYTICS_DUCKDB_LOCK_WAIT"
DEFAULT_LOCK_WAIT_SECONDS = 20


class DatabaseBusy(RuntimeError):
    """Another process held the DuckDB file's lock for longer than ANALYTICS_DUCKDB_LOCK_WAIT."""


def lock_wait_seconds() -> float:
    value = os.getenv(LOCK_WAIT_ENV) or str(DEFAULT_LOCK_WAIT_SECONDS)
    try:
        seconds = float(value)
    except ValueError:
        seconds = -1.0
    if not seconds >= 0:
        raise ValueError(f"{LOCK_WAIT_ENV} must be a number of seconds (0 or more), got {value!r}")
    return seconds


def connect(database: str | Path, read_only: bool = False, wait: float | None = None) -> duckdb.DuckDBPyConnection:
    """Open the pipeline's DuckDB file, retrying for up to ``wait`` seconds (``ANALYTICS_DUCKDB_LOCK_WAIT``)
    while another process holds its lock; then DatabaseBusy. DuckDB locks the whole file: a writer waits for
    every other process that has it open, read-only connections included, and a reader for a writer."""
    wait = lock_wait_seconds() if wait is None else wait
    deadline = time.monotonic() + wait
    attempt = 0
    while True:
        conn = duckdb.connect()
        try:
            mode = " (READ_ONLY)" if read_only else ""
            conn.execute(f"ATTACH ? AS {CATALOG}{mode}", [str(database)])
            conn.execute(f"USE {CATALOG}")
            if not read_only:
                make_owner_only(database)
            conn.execute(f"SET memory_limit = '{MEMORY_LIMIT}'")
            return conn
        except duckdb.IOException as error:
            conn.close()
            if "lock" not in str(error).lower():  # not busy: a corrupt or unreadable file, a full disk
                raise
            if time.monotonic() >= deadline:
                raise DatabaseBusy(
                    f"another process holds the DuckDB file {database} and kept it for {wait:.0f} s "
                    f"({LOCK_WAIT_ENV}): DuckDB lets one process write and no one else open the file meanwhile, "
                    "so close read-only connections (notebooks, the duckdb shell) before a load, or read the "
                    f"Parquet snapshots or a copy of the file instead. DuckDB: {_lock_holder(error)}"
                ) from None
            time.sleep(max(0.0, min(0.1 * 2**attempt, 5.0, deadline - time.monotonic())))
            attempt += 1


def _lock_holder(error: duckdb.IOException) -> str:
    """DuckDB's own words on who holds the lock (a program and pid), on one line."""
    text = " ".join(str(error).split())
    return text if len(text) <= 300 else text[:299] + "…"


def make_owner_only(database: str | Path) -> None:
    """The DuckDB file and its write-ahead log are readable by their owner only (0600)."""
    for path in (Path(database), Path(f"{database}.wal")):
        if path.exists():
            os.chmod(path, 0o600)


@contextmanager
def transaction(conn: duckdb.DuckDBPyConnection) -> Iterator[None]:
    """All or nothing: readers see the state before or after, never a half-written one."""
    conn.execute("BEGIN TRANSACTION")
    try:
        yield
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise


def ensure_tables(conn: duckdb.DuckDBPyConnection) -> None:
    conn.execute("CREATE SCHEMA IF NOT EXISTS analytics")
    for table in (*ANALYTICS_TABLES, *LIFECYCLE_TABLES):
        conn.execute(table.create_sql())


def _insert_staged(conn: duckdb.DuckDBPyConnection, table: Table, path: Path) -> None:
    columns = ", ".join(table.column_names)
    conn.execute(
        f"INSERT INTO {table.qualified_name} ({columns}) SELECT {columns} FROM read_parquet(?)",
        [str(path)],
    )


def _quarantine_cross_partition_duplicates(conn: duckdb.DuckDBPyConnection, table: Table, path: Path) -> None:
    """Events already loaded from another day (a client retry after midnight) are quarantined, not loaded twice.
    Event IDs are unique across both event tables (``event_ids_unique``), so an interaction whose ID a resume
    event of another day already has is a duplicate too."""
    loaded = " UNION ALL ".join(f"SELECT event_id, partition_date FROM {t.qualified_name}" for t in EVENT_TABLES)
    conn.execute(
        f"""
        INSERT INTO {QUARANTINE.qualified_name} ({", ".join(QUARANTINE.column_names)})
        SELECT s.partition_date, s.source_file, s.line_number, 'duplicate_event_id',
               'event_id already loaded from partition ' || strftime(t.partition_date, '%Y-%m-%d')
        FROM read_parquet(?) AS s
        JOIN (SELECT event_id, min(partition_date) AS partition_date FROM ({loaded}) GROUP BY event_id) AS t
        USING (event_id)
        """,
        [str(path)],
    )
    columns = ", ".join(table.column_names)
    conn.execute(
        f"""
        INSERT INTO {table.qualified_name} ({columns})
        SELECT {columns} FROM read_parquet(?) AS s
        WHERE NOT EXISTS (SELECT 1 FROM ({loaded}) AS t WHERE t.event_id = s.event_id)
        """,
        [str(path)],
    )


def _quarantine_erased_users(conn: duckdb.DuckDBPyConnection, day: date) -> None:
    """Events of users in the erasure ledger (late or replayed) become quarantine rows, so a
    forgotten user never reappears and lines read = events loaded + lines quarantined still holds."""
    for table in (RESUME_EVENTS, INTERACTIONS):
        erased = f"partition_date = ? AND anon_user_id IN (SELECT anon_user_id FROM {ERASURE_LEDGER.qualified_name})"
        conn.execute(
            f"""
            INSERT INTO {QUARANTINE.qualified_name} ({", ".join(QUARANTINE.column_names)})
            SELECT partition_date, source_file, line_number, 'erased_user',
                   'the user asked to be forgotten (analytics.erasure_ledger)'
            FROM {table.qualified_name} WHERE {erased}
            """,
            [day],
        )
        conn.execute(f"DELETE FROM {table.qualified_name} WHERE {erased}", [day])


def load_partition(conn: duckdb.DuckDBPyConnection, day: date, partition_dir: Path) -> dict[str, int]:
    """Replace one day's rows in the event and quarantine tables with the staged files.

    One transaction: readers see the old partition or the new one, never a mix,
    and a failure half-way leaves the old partition in place.
    """
    ensure_tables(conn)
    with transaction(conn):
        for table in (RESUME_EVENTS, INTERACTIONS, QUARANTINE):
            conn.execute(f"DELETE FROM {table.qualified_name} WHERE partition_date = ?", [day])
        _insert_staged(conn, QUARANTINE, staged_file(partition_dir, QUARANTINE))
        for table in (RESUME_EVENTS, INTERACTIONS):
            _quarantine_cross_partition_duplicates(conn, table, staged_file(partition_dir, table))
        _quarantine_erased_users(conn, day)
        counts = partition_row_counts(conn, day)
    return counts


def drop_partition(conn: duckdb.DuckDBPyConnection, day: date) -> None:
    """Remove one day from the event and quarantine tables (a day that must not be readable)."""
    ensure_tables(conn)
    with transaction(conn):
        for table in (RESUME_EVENTS, INTERACTIONS, QUARANTINE):
            conn.execute(f"DELETE FROM {table.qualified_name} WHERE partition_date = ?", [day])


def partition_row_counts(conn: duckdb.DuckDBPyConnection, day: date) -> dict[str, int]:
    return {
        table.name: conn.execute(
            f"SELECT count(*) FROM {table.qualified_name} WHERE partition_date = ?", [day]
        ).fetchone()[0]
        for table in (RESUME_EVENTS, INTERACTIONS, QUARANTINE)
    }


_USERS_SQL = f"""
WITH events AS (
    SELECT anon_user_id, occurred_at, event_type, anon_resume_id FROM {RESUME_EVENTS.qualified_name}
    UNION ALL
    SELECT anon_user_id, occurred_at, 'interaction', NULL FROM {INTERACTIONS.qualified_name}
)
SELECT
    anon_user_id,
    min(occurred_at),
    max(occurred_at),
    count(DISTINCT CAST(occurred_at AS DATE)),
    count(*),
    count(*) FILTER (WHERE event_type <> 'interaction'),
    count(*) FILTER (WHERE event_type = 'interaction'),
    count(DISTINCT anon_resume_id),
    count(*) FILTER (WHERE event_type = 'resume.upload'),
    count(*) FILTER (WHERE event_type = 'resume.tailor'),
    count(*) FILTER (WHERE event_type = 'resume.refine'),
    count(*) FILTER (WHERE event_type = 'resume.copy'),
    count(*) FILTER (WHERE event_type = 'resume.download')
FROM events
GROUP BY anon_user_id
"""


@dataclass(frozen=True)
class UsersTotals:
    """What a users rebuild aggregated: its rows, and the loaded days and events they summarize."""

    users: int
    days: int
    events: int


def rebuild_users(conn: duckdb.DuckDBPyConnection) -> UsersTotals:
    """Recompute analytics.users from all loaded events, so users aggregate across every partition."""
    ensure_tables(conn)
    with transaction(conn):
        conn.execute(f"DELETE FROM {USERS.qualified_name}")
        conn.execute(f"INSERT INTO {USERS.qualified_name} ({', '.join(USERS.column_names)}) {_USERS_SQL}")
        users, events = conn.execute(
            f"SELECT count(*), coalesce(sum(event_count), 0) FROM {USERS.qualified_name}"
        ).fetchone()
        (days,) = conn.execute(
            f"SELECT count(*) FROM (SELECT partition_date FROM {RESUME_EVENTS.qualified_name} "
            f"UNION SELECT partition_date FROM {INTERACTIONS.qualified_name})"
        ).fetchone()
    return UsersTotals(users, days, int(events))


def preview_rows(
    conn: duckdb.DuckDBPyConnection, table: Table, columns: list[str], day: date | None = None, limit: int = 5
) -> list[dict]:
    """A few rows of ``columns``. Only ever called on scrubbed tables, never with identifier columns."""
    where = "WHERE partition_date = ?" if day is not None else ""
    cursor = conn.execute(
        f"SELECT {', '.join(columns)} FROM {table.qualified_name} {where} LIMIT {int(limit)}",
        [day] if day is not None else [],
    )
    return [dict(zip(columns, row)) for row in cursor.fetchall()]


def days_scrubbed_otherwise(conn: duckdb.DuckDBPyConnection, version: str) -> list[str]:
    """Loaded days that hold a resume event scrubbed by another scrubber version than ``version``."""
    rows = conn.execute(
        f"SELECT DISTINCT partition_date FROM {RESUME_EVENTS.qualified_name} "
        "WHERE scrubber_version IS DISTINCT FROM ? ORDER BY 1",
        [version],
    ).fetchall()
    return [day.isoformat() for (day,) in rows]
