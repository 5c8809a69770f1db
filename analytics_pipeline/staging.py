"""Stage a day partition as scrubbed Parquet files, chunk by chunk, in bounded memory.

Scrubbing (CPU-bound, parallel across partitions and across the shards of a day) is split
from loading DuckDB (one writer at a time): each partition is first written here, then loaded.
A sharded day is staged shard by shard under ``.shards/<day>/<run>/``, then merged into the
day's directory. A partition directory appears whole or not at all (written aside, then renamed).
"""

from __future__ import annotations

import os
import shutil
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from analytics_pipeline.cleaning import DUPLICATE_CODE, DUPLICATE_REASON, EventCleaner
from analytics_pipeline.private_files import DIR_MODE, restrict_tree
from analytics_pipeline.raw_log import RawLine, chunked
from analytics_pipeline.schema import INTERACTIONS, QUARANTINE, RESUME_EVENTS, Table
from analytics_pipeline.work_dirs import WORK_DIR_NAME, remove_if_abandoned, writing

STAGED_TABLES = (RESUME_EVENTS, INTERACTIONS, QUARANTINE)
# Beside a shard's tables: the event IDs it claimed, so the merge can settle duplicates across shards.
CLAIMED_IDS_FILE = "claimed_event_ids.parquet"
CLAIMED_IDS_SCHEMA = pa.schema([pa.field("event_id", pa.string(), nullable=False)])


def staged_file(partition_dir: Path, table: Table) -> Path:
    return Path(partition_dir) / f"{table.name}.parquet"


def shards_dir(staging_dir: Path, day: str) -> Path:
    """Where the shards of a day are staged before their merge (every run's, so retention can purge them)."""
    return Path(staging_dir) / ".shards" / day


def remove_leftovers(staging_dir: Path, day: str, run_ended: Callable[[str], bool]) -> list[str]:
    """Delete what runs that ended left of ``day``'s staging: the day's work directories no live process
    writes (``work_dirs``), and the shard directories ``.shards/<day>/<run>`` of runs for which ``run_ended``
    is true. What was deleted, relative to ``staging_dir``."""
    staging_dir = Path(staging_dir)
    removed = []
    for work_dir in sorted(staging_dir.glob(f".{day}.tmp-*")):
        if WORK_DIR_NAME.match(work_dir.name) and work_dir.is_dir() and remove_if_abandoned(work_dir):
            removed.append(work_dir.name)
    shards = shards_dir(staging_dir, day)
    for run_dir in sorted(shards.iterdir()) if shards.is_dir() else []:
        if run_dir.is_dir() and run_ended(run_dir.name):
            shutil.rmtree(run_dir, ignore_errors=True)
            removed.append(str(run_dir.relative_to(staging_dir)))
    return removed


@dataclass
class StageStats:
    lines_read: int = 0
    rows: Counter[str] = field(default_factory=Counter)  # per staged table
    quarantine_reasons: Counter[str] = field(default_factory=Counter)
    entity_counts: Counter[str] = field(default_factory=Counter)

    @property
    def reconciles(self) -> bool:
        return self.lines_read == sum(self.rows.values())

    def __add__(self, other: StageStats) -> StageStats:
        return StageStats(
            self.lines_read + other.lines_read,
            self.rows + other.rows,
            self.quarantine_reasons + other.quarantine_reasons,
            self.entity_counts + other.entity_counts,
        )


@contextmanager
def _staged_tables(partition_dir: Path) -> Iterator[tuple[Path, dict[str, pq.ParquetWriter]]]:
    """A Parquet writer per staged table in a work directory beside ``partition_dir``, swapped in whole
    once the block has written everything (a failure leaves the old partition as it was). The work
    directory's lock (``work_dirs``) tells erasure it is being written, and is free once this process
    is gone, however it ended: a killed run's torn Parquet is then a leftover to delete, not to read."""
    partition_dir = Path(partition_dir)
    work_dir = partition_dir.with_name(f".{partition_dir.name}.tmp-{os.getpid()}")
    partition_dir.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    with writing(work_dir):
        shutil.rmtree(work_dir, ignore_errors=True)
        work_dir.mkdir(mode=0o700)
        try:
            writers = {
                table.name: pq.ParquetWriter(staged_file(work_dir, table), table.arrow_schema)
                for table in STAGED_TABLES
            }
            try:
                yield work_dir, writers
            finally:
                for writer in writers.values():
                    writer.close()
            _swap_in(work_dir, partition_dir)
        except BaseException:  # nothing of a failed staging stays (a killed one's is removed at the next plan)
            shutil.rmtree(work_dir, ignore_errors=True)
            raise


def stage_partition(
    lines: Iterator[RawLine], cleaner: EventCleaner, partition_dir: Path, chunk_lines: int
) -> StageStats:
    """Clean ``lines`` into ``partition_dir``/{resume_events,interactions,quarantine}.parquet."""
    stats = StageStats()
    with _staged_tables(partition_dir) as (work_dir, writers):
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
        claimed = pa.array(cleaner.claimed_event_ids, pa.string())
        pq.write_table(pa.table([claimed], schema=CLAIMED_IDS_SCHEMA), work_dir / CLAIMED_IDS_FILE)
    return stats


def merge_shards(shard_dirs: list[Path], partition_dir: Path) -> StageStats:
    """Merge staged shards (in day order) into the day's staged files, as one unsharded pass would have staged them.

    Each shard kept the first of its own duplicate event IDs; an event whose ID an earlier shard
    claimed becomes a duplicate quarantine row here. Returns the rows written per table and the
    duplicates found (to add to the shards' lines and reasons). Streams batch by batch; holds the
    day's event IDs in memory (about 50 MB per million events).
    """
    merged = StageStats()
    claimed: list[pa.Array] = []  # event IDs claimed by the shards merged so far
    with _staged_tables(partition_dir) as (_, writers):
        for shard_dir in shard_dirs:
            earlier = pa.concat_arrays(claimed) if claimed else pa.array([], pa.string())
            for table in (RESUME_EVENTS, INTERACTIONS):
                for batch in pq.ParquetFile(staged_file(shard_dir, table)).iter_batches():
                    rows = pa.Table.from_batches([batch])
                    repeated = pc.is_in(rows["event_id"], value_set=earlier)
                    kept, duplicates = rows.filter(pc.invert(repeated)), rows.filter(repeated)
                    writers[table.name].write_table(kept)
                    merged.rows[table.name] += kept.num_rows
                    if duplicates.num_rows:
                        writers[QUARANTINE.name].write_table(_duplicate_rows(duplicates))
                        merged.rows[QUARANTINE.name] += duplicates.num_rows
                        merged.quarantine_reasons[DUPLICATE_CODE] += duplicates.num_rows
            for batch in pq.ParquetFile(staged_file(shard_dir, QUARANTINE)).iter_batches():
                writers[QUARANTINE.name].write_batch(batch)
                merged.rows[QUARANTINE.name] += batch.num_rows
            claimed.append(pq.read_table(Path(shard_dir) / CLAIMED_IDS_FILE)["event_id"].combine_chunks())
    return merged


def _duplicate_rows(rows: pa.Table) -> pa.Table:
    return pa.table(
        {
            "partition_date": rows["partition_date"],
            "source_file": rows["source_file"],
            "line_number": rows["line_number"],
            "reason_code": pa.array([DUPLICATE_CODE] * rows.num_rows),
            "reason": pa.array([DUPLICATE_REASON] * rows.num_rows),
        }
    ).cast(QUARANTINE.arrow_schema)


def _swap_in(work_dir: Path, partition_dir: Path) -> None:
    restrict_tree(work_dir)  # whatever the umask: scrubbed personal data, owner only
    os.chmod(partition_dir.parent, DIR_MODE)
    old = partition_dir.with_name(f".{partition_dir.name}.old-{os.getpid()}")
    if partition_dir.exists():
        partition_dir.rename(old)
    work_dir.rename(partition_dir)
    shutil.rmtree(old, ignore_errors=True)
