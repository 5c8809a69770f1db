"""A run killed half-way (SIGKILL: no cleanup code runs) leaves the old partition whole,
and running again completes cleanly."""

import hashlib
import os
import signal
import subprocess
import sys
import time
import uuid
from datetime import date
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from analytics_pipeline import warehouse
from analytics_pipeline.cleaning import EventCleaner
from analytics_pipeline.raw_log import iter_raw_lines
from analytics_pipeline.sample_data import write_sample
from analytics_pipeline.schema import INTERACTIONS, QUARANTINE, RESUME_EVENTS
from analytics_pipeline.staging import stage_partition, staged_file
from analytics_pipeline_tests.conftest import TEST_SALT

DAY = date(2026, 11, 2)


def stage_rows(partition_dir, resume_events: int, interactions: int) -> None:
    partition_dir.mkdir(parents=True, exist_ok=True)
    for table, count in ((RESUME_EVENTS, resume_events), (INTERACTIONS, interactions), (QUARANTINE, 1)):
        rows = [
            {
                "event_id": str(uuid.uuid4()),
                "partition_date": DAY,
                "anon_user_id": "a" * 64,
                "source_file": "f.jsonl",
                "line_number": n,
                "reason_code": "invalid_json",
            }
            for n in range(count)
        ]
        pq.write_table(pa.Table.from_pylist(rows, schema=table.arrow_schema), staged_file(partition_dir, table))


def partition_state(database) -> list:
    with warehouse.connect(database, read_only=True) as conn:
        return [
            sorted(conn.execute(f"SELECT * FROM {t.qualified_name}").fetchall(), key=str)
            for t in (RESUME_EVENTS, INTERACTIONS, QUARANTINE)
        ]


def wait_until_blocked_on_fifo(process, timeout=30.0) -> None:
    """Wait until a thread of ``process`` sits in open() of a FIFO nobody writes to (Linux)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and process.poll() is None:
        for task in Path(f"/proc/{process.pid}/task").glob("*"):
            try:
                if (task / "wchan").read_text() == "wait_for_partner":
                    return
            except OSError:  # the thread just ended
                pass
        time.sleep(0.05)
    raise AssertionError("the load never reached the staged files")


LOAD_SCRIPT = """
import sys
from datetime import date
from pathlib import Path
from pathlib import Path
from analytics_pipeline import warehouse
conn = warehouse.connect(sys.argv[1])
warehouse.load_partition(conn, date.fromisoformat(sys.argv[2]), Path(sys.argv[3]))
print("loaded", flush=True)
"""


@pytest.mark.skipif(not Path("/proc/self/task").exists(), reason="needs Linux /proc")
def test_a_load_killed_mid_transaction_leaves_the_old_partition(tmp_path):
    database = tmp_path / "analytics.duckdb"
    stage_rows(tmp_path / "old", resume_events=3, interactions=2)
    with warehouse.connect(database) as conn:
        warehouse.load_partition(conn, DAY, tmp_path / "old")
    before = partition_state(database)

    # The new partition's interactions file is a FIFO: the load deletes the old rows, inserts
    # the new resume events, then blocks reading it, inside its transaction, until killed.
    new = tmp_path / "new"
    stage_rows(new, resume_events=5, interactions=4)
    fifo = staged_file(new, INTERACTIONS)
    fifo.rename(tmp_path / "interactions.parquet")
    os.mkfifo(fifo)
    with subprocess.Popen(
        [sys.executable, "-c", LOAD_SCRIPT, str(database), DAY.isoformat(), str(new)], stdout=subprocess.PIPE
    ) as child:
        wait_until_blocked_on_fifo(child)
        child.send_signal(signal.SIGKILL)
        assert child.wait(timeout=30) == -signal.SIGKILL and child.stdout.read() == b""

    assert partition_state(database) == before
    fifo.unlink()
    (tmp_path / "interactions.parquet").rename(fifo)
    with warehouse.connect(database) as conn:
        assert warehouse.load_partition(conn, DAY, new) == {"resume_events": 5, "interactions": 4, "quarantine": 1}


STAGE_SCRIPT = """
import sys, time
from datetime import date
from pathlib import Path
from pathlib import Path
from analytics_pipeline.cleaning import EventCleaner
from analytics_pipeline.defs.resources import ScrubberResource
from analytics_pipeline.raw_log import iter_raw_lines
from analytics_pipeline.staging import stage_partition

raw_dir, day, partition_dir, salt = sys.argv[1:]

def lines_then_hang():
    for number, line in enumerate(iter_raw_lines(Path(raw_dir), day)):
        if number == 8:  # two chunks of 4 are written by now
            print("halfway", flush=True)
            time.sleep(600)
        yield line

cleaner = EventCleaner(date.fromisoformat(day), salt.encode(), ScrubberResource().get_scrubber())
stage_partition(lines_then_hang(), cleaner, Path(partition_dir), chunk_lines=4)
"""


def file_digests(directory) -> dict:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(directory.iterdir())}


@pytest.mark.slow
def test_staging_killed_half_way_leaves_the_old_partition(tmp_path, scrubber):
    raw_dir, partition_dir = tmp_path / "raw", tmp_path / "staging" / DAY.isoformat()
    write_sample(raw_dir, days=1, sessions_per_day=3, users=3, seed=2, start=DAY)
    cleaner = lambda: EventCleaner(DAY, TEST_SALT.encode(), scrubber)  # noqa: E731
    stage_partition(iter_raw_lines(raw_dir, DAY.isoformat()), cleaner(), partition_dir, chunk_lines=4)
    before = file_digests(partition_dir)
    write_sample(raw_dir / "later", days=1, sessions_per_day=2, users=2, seed=9, start=DAY)
    (raw_dir / "later" / DAY.isoformat() / "events-sample.jsonl").rename(
        raw_dir / DAY.isoformat() / "events-late.jsonl"
    )

    with subprocess.Popen(
        [sys.executable, "-c", STAGE_SCRIPT, str(raw_dir), DAY.isoformat(), str(partition_dir), TEST_SALT],
        stdout=subprocess.PIPE,
    ) as child:
        assert child.stdout.readline() == b"halfway\n"
        child.send_signal(signal.SIGKILL)
        assert child.wait(timeout=30) == -signal.SIGKILL

    assert file_digests(partition_dir) == before
    leftover = partition_dir.with_name(f".{DAY.isoformat()}.tmp-{child.pid}")
    assert leftover.is_dir(), "the killed run's partial files stay aside (retention removes them)"

    stats = stage_partition(iter_raw_lines(raw_dir, DAY.isoformat()), cleaner(), partition_dir, chunk_lines=4)
    assert stats.reconciles and file_digests(partition_dir) != before
    assert (
        pq.read_table(staged_file(partition_dir, QUARANTINE)).num_rows
        + sum(pq.read_table(staged_file(partition_dir, t)).num_rows for t in (RESUME_EVENTS, INTERACTIONS))
        == stats.lines_read
    )
