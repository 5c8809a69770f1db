"""Stage a day partition as scrubbed Parquet files, chunk by chunk, in bounded memory.

Scrubbing (CPU-bound, parallel across partitions) is split from loading DuckDB
(one writer at a time): each partition is first written here, then loaded.
A partition directory appears whole or not at all (written aside, then renamed).
"""

from __future__ import annotations

import os
import shutil
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow.parquet as pq

from analytics_pipeline.cleaning import EventCleaner
from analytics_pipeline.private_files import DIR_MODE, restrict_tree
from analytics_pipeline.raw_log import RawLine, chunked
from analytics_pipeline.schema import INTERACTIONS, QUARANTINE, RESUME_EVENTS, Table

STAGED_TABLES = (RESUME_EVENTS, INTERACTIONS, QUARANTINE)


def staged_file(partition_dir: Path, table: Table) -> Path:
    return Path(partition_dir) / f"{table.name}.parquet"


@dataclass
class StageStats:
    lines_read: int = 0
    rows: Counter[str] = field(default_factory=Counter)  # per staged table
    quarantine_reasons: Counter[str] = field(default_factory=Counter)
    entity_counts: Counter[str] = field(default_factory=Counter)

    @property
    def reconciles(self) -> bool:
        return self.lines_read == sum(self.rows.values())


def stage_partition(
    lines: Iterator[RawLine], cleaner: EventCleaner, partition_dir: Path, chunk_lines: int
) -> StageStats:
    """Clean ``lines`` into ``partition_dir``/{resume_events,interactions,quarantine}.parquet."""
    partition_dir = Path(partition_dir)
    work_dir = partition_dir.with_name(f".{partition_dir.name}.tmp-{os.getpid()}")
    shutil.rmtree(work_dir, ignore_errors=True)
    work_dir.mkdir(parents=True, mode=0o700)
    stats = StageStats()
    writers = {
        table.name: pq.ParquetWriter(staged_file(work_dir, table), table.arrow_schema) for table in STAGED_TABLES
    }
    try:
        for chunk in chunked(lines, chunk_lines):
            batch = cleaner.clean(chunk)
            stats.lines_read += len(chunk)
            stats.entity_counts += batch.entity_counts
            stats.quarantine_reasons.update(batch.quarantine.column("reason_code").to_pylist())
            for name, arrow_table in (
                (RESUME_EVENTS.name, batch.resume_events),
                (INTERACTIONS.name, batch.interactions),
                (QUARANTINE.name, batch.quarantine),
            ):
                writers[name].write_table(arrow_table)
                stats.rows[name] += arrow_table.num_rows
    finally:
        for writer in writers.values():
            writer.close()
    _swap_in(work_dir, partition_dir)
    return stats


def _swap_in(work_dir: Path, partition_dir: Path) -> None:
    restrict_tree(work_dir)  # whatever the umask: scrubbed personal data, owner only
    os.chmod(partition_dir.parent, DIR_MODE)
    old = partition_dir.with_name(f".{partition_dir.name}.old-{os.getpid()}")
    if partition_dir.exists():
        partition_dir.rename(old)
    work_dir.rename(partition_dir)
    shutil.rmtree(old, ignore_errors=True)
