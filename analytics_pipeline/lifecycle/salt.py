"""The salt fingerprint stored with the tables, so a run with another salt is caught.

A different salt gives every user a different pseudonym: loading with it would silently
split each user in two. The fingerprint (a keyed hash of a fixed message) tells salts
apart without revealing them.
"""

from __future__ import annotations

import duckdb

from analytics_pipeline.schema import PIPELINE_METADATA
from analytics_pipeline.warehouse import CATALOG

SALT_FINGERPRINT_KEY = "salt_fingerprint"


class SaltMismatch(RuntimeError):
    """The running salt is not the one the tables were built with. Never contains either salt."""


def stored_salt_fingerprint(conn: duckdb.DuckDBPyConnection) -> str | None:
    """The fingerprint recorded with the tables, or None for a fresh database."""
    exists = conn.execute(
        "SELECT count(*) FROM information_schema.tables "
        "WHERE table_catalog = ? AND table_schema = ? AND table_name = ?",
        [CATALOG, PIPELINE_METADATA.schema, PIPELINE_METADATA.name],
    ).fetchone()[0]
    if not exists:
        return None
    row = conn.execute(
        f"SELECT value FROM {PIPELINE_METADATA.qualified_name} WHERE key = ?", [SALT_FINGERPRINT_KEY]
    ).fetchone()
    return row[0] if row else None


def mismatch_message(stored: str, running: str) -> str:
    return (
        f"ANALYTICS_SALT has fingerprint {running} but the tables were built with {stored}: "
        "loading would give every user a second pseudonym. Restore the original salt, or rotate "
        "on purpose (README: Operations and privacy lifecycle, salt rotation)."
    )


def salt_mismatch(conn: duckdb.DuckDBPyConnection, running: str) -> str | None:
    """Why the running salt must not touch these tables, or None when it is theirs (or they have none yet)."""
    stored = stored_salt_fingerprint(conn)
    return None if stored is None or stored == running else mismatch_message(stored, running)


def ensure_salt_fingerprint(conn: duckdb.DuckDBPyConnection, fingerprint: str) -> None:
    """Record the fingerprint on the first load; raise SaltMismatch if another one is recorded.

    Expects the lifecycle tables to exist (``warehouse.ensure_tables``).
    """
    if problem := salt_mismatch(conn, fingerprint):
        raise SaltMismatch(problem)
    if stored_salt_fingerprint(conn) is None:
        conn.execute(
            f"INSERT INTO {PIPELINE_METADATA.qualified_name} VALUES (?, ?, now() AT TIME ZONE 'UTC')",
            [SALT_FINGERPRINT_KEY, fingerprint],
        )
