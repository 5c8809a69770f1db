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


# --- erasure after killed or live staging runs --------------------------------------------------------

USER, OTHER = "a" * 64, "b" * 64  # pseudonyms
# The pipeline's staging writer (staging._staged_tables) writes rows of USER and OTHER, says so, then pauses:
# killed in the pause, it leaves a torn work directory; let be, it renames its work into place.
STAGING_WRITER = f"""
import sys, time
from pathlib import Path
import pyarrow as pa
from analytics_pipeline.schema import INTERACTIONS
from analytics_pipeline.staging import _staged_tables

partition_dir, pause = Path(sys.argv[1]), float(sys.argv[2])
rows = [{{"event_id": str(n), "anon_user_id": user, "element": "refine-button"}} for n, user in
        enumerate(["{USER}", "{OTHER}"] * 500)]
with _staged_tables(partition_dir) as (_, writers):
    writers[INTERACTIONS.name].write_table(pa.Table.from_pylist(rows, schema=INTERACTIONS.arrow_schema))
    print("written", flush=True)
    time.sleep(pause)
"""


def start_writer(partition_dir: Path, pause: float) -> subprocess.Popen:
    child = subprocess.Popen(
        [sys.executable, "-c", STAGING_WRITER, str(partition_dir), str(pause)], stdout=subprocess.PIPE
    )
    assert child.stdout.readline() == b"written\n"
    return child


def users_in(partition_dir: Path) -> list[str]:
    return pq.read_table(staged_file(partition_dir, INTERACTIONS))["anon_user_id"].to_pylist()


@pytest.mark.slow
def test_erasure_deletes_a_killed_runs_torn_shard_and_rewrites_its_finished_ones(tmp_path):
    from analytics_pipeline.lifecycle.erasure import erase_from_parquet

    run_dir = tmp_path / "staging" / ".shards" / DAY.isoformat() / "run-1"
    finished = start_writer(run_dir / "shard_000_of_002", 0)
    assert finished.wait(timeout=60) == 0
    with start_writer(run_dir / "shard_001_of_002", 600) as killed:
        killed.send_signal(signal.SIGKILL)
        assert killed.wait(timeout=30) == -signal.SIGKILL
    torn = run_dir / f".shard_001_of_002.tmp-{killed.pid}"
    assert (torn / "interactions.parquet").is_file()
    with pytest.raises(pa.ArrowInvalid):  # what made every erasure fail before
        pq.read_schema(torn / "interactions.parquet")

    sweep = erase_from_parquet(tmp_path / "staging", USER)
    assert not torn.exists() and not torn.with_name(torn.name + ".lock").exists()
    assert sweep.leftovers == [str(torn.relative_to(tmp_path / "staging"))]
    assert sweep.erased == {f".shards/{DAY.isoformat()}/run-1/shard_000_of_002/interactions.parquet": 500}
    assert users_in(run_dir / "shard_000_of_002") == [OTHER] * 500
    assert (sweep.unreadable, sweep.in_progress) == ([], [])


@pytest.mark.slow
def test_erasure_waits_for_a_live_writer_then_erases_what_it_renamed_into_place(tmp_path):
    from analytics_pipeline.lifecycle.erasure import erase_from_parquet

    partition_dir = tmp_path / "staging" / DAY.isoformat()
    with start_writer(partition_dir, 2) as live:
        sweep = erase_from_parquet(tmp_path / "staging", USER, wait_seconds=120)
        assert live.wait(timeout=30) == 0
    assert sweep.in_progress == [] and sweep.leftovers == []
    assert sweep.erased == {f"{DAY.isoformat()}/interactions.parquet": 500}
    assert users_in(partition_dir) == [OTHER] * 500


@pytest.mark.slow
def test_erasure_names_a_writer_that_outlasts_its_wait_and_a_torn_file_it_cannot_read(tmp_path):
    from analytics_pipeline.lifecycle.erasure import erase_from_parquet

    staging = tmp_path / "staging"
    start_writer(staging / "2026-11-03", 0).wait(timeout=60)
    torn = staging_file = staged_file(staging / "2026-11-03", INTERACTIONS)
    torn.write_bytes(staging_file.read_bytes()[:200])  # cut by hand, outside any work directory
    with start_writer(staging / DAY.isoformat(), 600) as live:
        sweep = erase_from_parquet(staging, USER, wait_seconds=1)
        live.send_signal(signal.SIGKILL)
        live.wait(timeout=30)
    assert sweep.in_progress == [f".{DAY.isoformat()}.tmp-{live.pid}"]
    assert sweep.unreadable == ["2026-11-03/interactions.parquet"]
