"""Make a pool slot of Dagster's SQLite storage a real semaphore, so the `duckdb_writer` pool admits one writer.

Dagster claims a slot by selecting a free one ``FOR UPDATE SKIP LOCKED``, then updating it by id. SQLite
has no row locks, so two run processes that claim in the same instant both select the one free slot and
both update it: both steps start, and two writers open the DuckDB file at once (seen in
``test_deploy``; 11 of 12 trials of four processes racing for a one-slot pool). Postgres (the Kubernetes
deployment) locks the row and is unaffected. Here the update only takes a slot that is still free, under
SQLite's write lock; a step that loses gets BLOCKED, stays in the pool's queue and claims again later, as
Dagster's own code intends ("the slot rows as a semaphore"). Imported by the code location, so every run
process that claims slots has it; written for dagster 1.13 (pinned in pyproject.toml), and the only runtime
module allowed Dagster's private modules (test_definitions).
"""

from __future__ import annotations

import sqlalchemy as db
from dagster._core.storage.event_log.schema import ConcurrencySlotsTable
from dagster._core.storage.event_log.sqlite.sqlite_event_log import SqliteEventLogStorage
from dagster._utils.concurrency import ConcurrencySlotStatus


def claim_free_slot(storage: SqliteEventLogStorage, concurrency_key: str, run_id: str, step_key: str):
    free = db.and_(
        ConcurrencySlotsTable.c.concurrency_key == concurrency_key,
        ConcurrencySlotsTable.c.step_key.is_(None),
        ConcurrencySlotsTable.c.deleted.is_(False),
    )
    with storage.index_connection() as conn:
        row = conn.execute(db.select(ConcurrencySlotsTable.c.id).where(free).limit(1)).fetchone()
        if row is None:
            return ConcurrencySlotStatus.BLOCKED
        taken = conn.execute(
            ConcurrencySlotsTable.update()
            .values(run_id=run_id, step_key=step_key)
            .where(db.and_(ConcurrencySlotsTable.c.id == row[0], free))
        ).rowcount
    return ConcurrencySlotStatus.CLAIMED if taken else ConcurrencySlotStatus.BLOCKED


SqliteEventLogStorage._claim_concurrency_slot = claim_free_slot
