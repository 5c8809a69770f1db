"""Right to erasure: remove one pseudonymous user from every table, Parquet file and raw log.

Works from the pseudonym alone (HMAC of the user ID), so the raw user ID never has to
be stored anywhere, not even in Dagster's run config. Every step is idempotent: a
failed erasure is completed by running it again.
"""

from __future__ import annotations

import gzip
import os
import re
from pathlib import Path

import duckdb
import pyarrow.compute as pc
import pyarrow.parquet as pq

from analytics_pipeline.privacy.hashing import PSEUDONYM_PATTERN, USER_DOMAIN, pseudonymize
from analytics_pipeline.raw_log import day_files, is_day, is_gzip, json_object, open_raw_file
from analytics_pipeline.schema import ERASURE_LEDGER
from analytics_pipeline.warehouse import CATALOG, MEMORY_LIMIT, ensure_tables, transaction

USER_COLUMN = "anon_user_id"
ERASABLE_SCHEMAS = ("analytics", "training")
# A truncated line (crash mid-write) is not JSON but may still name its user.
_USER_ID_FIELD = re.compile(rb'"user_id"\s*:\s*"((?:[^"\\]|\\.)*)"')


def validate_pseudonym(anon_user_id: str) -> str:
    if not PSEUDONYM_PATTERN.match(anon_user_id):
        raise ValueError("anon_user_id must be a 64-hex-digit pseudonym (analytics-pipeline pseudonym USER_ID)")
    return anon_user_id


def user_tables(conn: duckdb.DuckDBPyConnection) -> list[str]:
    """Every table in the analytics and training schemas with a user column, found in the
    catalog so tables added later (training sets) are covered. The ledger is kept."""
    rows = conn.execute(
        f"""
        SELECT table_schema || '.' || table_name FROM information_schema.columns
        WHERE table_catalog = ? AND column_name = ? AND table_schema IN {ERASABLE_SCHEMAS}
          AND NOT (table_schema = ? AND table_name = ?)
        ORDER BY 1
        """,
        [CATALOG, USER_COLUMN, ERASURE_LEDGER.schema, ERASURE_LEDGER.name],
    ).fetchall()
    return [name for (name,) in rows]


def erase_from_tables(conn: duckdb.DuckDBPyConnection, anon_user_id: str) -> dict[str, int]:
    """Record the user in the ledger and delete their rows everywhere, in one transaction.

    Returns rows deleted per table. The ledger row is what keeps late or replayed events
    of the user out of later loads (``warehouse.load_partition``).
    """
    ensure_tables(conn)
    with transaction(conn):
        conn.execute(
            f"""INSERT INTO {ERASURE_LEDGER.qualified_name}
                SELECT ?, now() AT TIME ZONE 'UTC'
                WHERE NOT EXISTS (SELECT 1 FROM {ERASURE_LEDGER.qualified_name} WHERE anon_user_id = ?)""",
            [anon_user_id, anon_user_id],
        )
        deleted = {}
        for table in user_tables(conn):
            (deleted[table],) = conn.execute(f"DELETE FROM {table} WHERE {USER_COLUMN} = ?", [anon_user_id]).fetchone()
    # Write the deletions into the file now rather than leaving them in the WAL.
    conn.execute("CHECKPOINT")
    return deleted


def compact_database(database: Path) -> tuple[int, int]:
    """Rewrite the DuckDB file with its live data only, so erased values are not left in its free blocks.

    DuckDB marks deleted rows and reuses their blocks later but never scrubs them: the bytes of an
    erased user stay readable in the file. ``COPY FROM DATABASE`` into a fresh file (0600), then an
    atomic rename over the old one, leaves nothing of them. Call it with no connection open for
    writing (the erasure op holds the writers' pool). Returns the file's size before and after.
    """
    database = Path(database)
    tmp = database.with_name(f".{database.name}.compacting-{os.getpid()}")
    for leftover in (tmp, Path(f"{tmp}.wal")):
        leftover.unlink(missing_ok=True)
    before = database.stat().st_size
    conn = duckdb.connect()
    try:
        conn.execute(f"SET memory_limit = '{MEMORY_LIMIT}'")
        conn.execute("ATTACH ? AS erased_source (READ_ONLY)", [str(database)])
        conn.execute("ATTACH ? AS compacted", [str(tmp)])
        conn.execute("COPY FROM DATABASE erased_source TO compacted")
        conn.execute("DETACH compacted")
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    finally:
        conn.close()
    os.chmod(tmp, 0o600)
    os.replace(tmp, database)
    return before, database.stat().st_size


def erased_users(conn: duckdb.DuckDBPyConnection) -> set[str]:
    ensure_tables(conn)
    return {v for (v,) in conn.execute(f"SELECT anon_user_id FROM {ERASURE_LEDGER.qualified_name}").fetchall()}


def _replace_atomically(path: Path, write) -> None:
    """Write a sibling temp file (0600), then rename it over ``path``: readers see old or new, never half."""
    tmp = path.with_name(f".{path.name}.erasing-{os.getpid()}")
    try:
        write(tmp)
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def erase_from_parquet(root: Path, anon_user_id: str) -> dict[str, int]:
    """Rewrite every Parquet file under ``root`` that holds the user's rows, without them.

    Returns rows removed per rewritten file (relative to ``root``).
    """
    root = Path(root)
    removed: dict[str, int] = {}
    for path in sorted(root.rglob("*.parquet")) if root.is_dir() else []:
        if USER_COLUMN not in pq.read_schema(path).names:
            continue
        table = pq.read_table(path)
        kept = table.filter(pc.invert(pc.fill_null(pc.equal(table[USER_COLUMN], anon_user_id), False)))
        if kept.num_rows < table.num_rows:
            _replace_atomically(path, lambda tmp, kept=kept: pq.write_table(kept, tmp))
            removed[str(path.relative_to(root))] = table.num_rows - kept.num_rows
    return removed


def _line_user_id(line: bytes) -> str | None:
    if (event := json_object(line)) is None:
        match = _USER_ID_FIELD.search(line)
        return match.group(1).decode("utf-8", "replace") if match else None
    user_id = event.get("user_id")
    return user_id if isinstance(user_id, str) else None


def _is_users_line(body: bytes, anon_user_id: str, salt: bytes) -> bool:
    user_id = _line_user_id(body) if body.strip() else None
    return user_id is not None and pseudonymize(user_id, salt, USER_DOMAIN) == anon_user_id


def _blank_in_place(path: Path, anon_user_id: str, salt: bytes) -> int:
    with open_raw_file(path, "r+b") as handle:  # O_NOFOLLOW: never writes through a symlink
        count = offset = 0
        for line in handle:  # streamed; pwrite only touches bytes already read
            # A last line without its newline (a writer killed mid-line) is blanked too: it may name
            # the user. If it is still being written it is the erased user's own event, lost on purpose.
            body = line.rstrip(b"\r\n")
            if _is_users_line(body, anon_user_id, salt):
                os.pwrite(handle.fileno(), b" " * len(body), offset)
                count += 1
            offset += len(line)
        if count:
            os.fsync(handle.fileno())
    return count


def _blank_gzip(path: Path, anon_user_id: str, salt: bytes) -> int:
    """A gzip'd (rotated, no longer appended to) file is rewritten with the user's lines blanked."""
    with open_raw_file(path) as raw, gzip.open(raw) as handle:
        if not any(_is_users_line(line.rstrip(b"\r\n"), anon_user_id, salt) for line in handle):
            return 0
    count = 0

    def write(tmp: Path) -> None:
        nonlocal count
        with open_raw_file(path) as raw, gzip.open(raw) as source, gzip.open(tmp, "wb") as target:
            for line in source:
                body = line.rstrip(b"\r\n")
                if _is_users_line(body, anon_user_id, salt):
                    line, count = b" " * len(body) + line[len(body) :], count + 1
                target.write(line)

    _replace_atomically(path, write)
    return count


def erase_from_raw_log(raw_dir: Path, anon_user_id: str, salt: bytes) -> dict[str, int]:
    """Overwrite the user's raw-log lines with spaces: in every file the pipeline reads
    (``raw_log.day_files``: plain, rotated and gzip'd; symlinks are never followed).

    Plain files in place and same length, because the ingestion API may be appending to the
    file (a rename would send its appends to a deleted file) and so every other event keeps its
    line number (the lineage columns stay right). A blank line is quarantined as
    ``empty_line`` if the day is loaded again. Returns lines blanked per file.
    """
    raw_dir = Path(raw_dir)
    blanked: dict[str, int] = {}
    days = sorted(d.name for d in raw_dir.iterdir() if is_day(d.name)) if raw_dir.is_dir() else []
    for day in days:
        for path in day_files(raw_dir, day):
            erase = _blank_gzip if is_gzip(path) else _blank_in_place
            if count := erase(path, anon_user_id, salt):
                blanked[str(path.relative_to(raw_dir))] = count
    return blanked
