"""The durable raw-log appender: layout, permissions, atomicity under threads, processes and failures."""

from __future__ import annotations

import errno
import json
import multiprocessing
import os
import shutil
import stat
import threading
from datetime import UTC, datetime, timedelta, timezone

import httpx
import pytest

from analytics_pipeline.contract import parse_event, parse_event_line
from analytics_pipeline.ingest import writer as writer_module
from analytics_pipeline.ingest.writer import RawLogWriter, stamp_received
from analytics_pipeline.raw_log import iter_raw_lines
from analytics_pipeline_tests.ingest_helpers import TEST_WRITE_KEY, ingest_server, interaction, raw_event_ids

# 00:30 in UTC+02:00 is still the previous day in UTC: the partition is the UTC arrival day.
ARRIVAL = datetime(2026, 3, 2, 0, 30, tzinfo=timezone(timedelta(hours=2)))


def lines(count: int, **overrides) -> list[str]:
    events = [parse_event(interaction(**overrides)) for _ in range(count)]
    return stamp_received(events, ARRIVAL)


def test_appends_to_the_utc_arrival_day_with_received_at(tmp_path):
    writer = RawLogWriter(tmp_path)
    writer.append(lines(3), ARRIVAL)
    [path] = tmp_path.glob("*/*.jsonl")
    assert path.parent.name == "2026-03-01"
    assert path.name == writer.file_name() and f"-{os.getpid()}.jsonl" in path.name
    stored = [parse_event_line(raw.content) for raw in iter_raw_lines(tmp_path, "2026-03-01")]
    assert len(stored) == 3
    assert all(e.received_at == ARRIVAL.astimezone(UTC) for e in stored)


def test_files_and_directories_are_private_whatever_the_umask(tmp_path):
    old_umask = os.umask(0)
    try:
        RawLogWriter(tmp_path / "a" / "raw").append(lines(1), ARRIVAL)
    finally:
        os.umask(old_umask)
    [path] = (tmp_path / "a").glob("raw/*/*.jsonl")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    for directory in (path.parent, tmp_path / "a" / "raw", tmp_path / "a"):
        assert stat.S_IMODE(directory.stat().st_mode) == 0o700


def test_a_truncated_last_line_stays_alone(tmp_path):
    """A crash left half a line and the pid was reused: new lines must not glue onto it."""
    writer = RawLogWriter(tmp_path)
    path = tmp_path / "2026-03-01" / writer.file_name()
    path.parent.mkdir()
    path.write_bytes(b'{"event_id": "trunc')
    writer.append(lines(2), ARRIVAL)
    contents = [raw.content for raw in iter_raw_lines(tmp_path, "2026-03-01")]
    assert contents[0] == b'{"event_id": "trunc'
    assert [parse_event_line(c).event_type for c in contents[1:]] == ["interaction"] * 2


def test_a_failed_write_leaves_no_partial_line(tmp_path, monkeypatch):
    writer = RawLogWriter(tmp_path)
    writer.append(lines(1), ARRIVAL)
    real_write = os.write

    def disk_fills_up(fd, data):
        real_write(fd, bytes(data[: len(data) // 2]))
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(writer_module.os, "write", disk_fills_up)
    with pytest.raises(OSError):
        writer.append(lines(5), ARRIVAL)
    monkeypatch.setattr(writer_module.os, "write", real_write)
    writer.append(lines(1), ARRIVAL)
    assert len(raw_event_ids(tmp_path)) == 2  # every line parses; the failed five left nothing


def test_concurrent_threads_never_interleave(tmp_path):
    writer = RawLogWriter(tmp_path)
    # Long lines (~40 kB) make torn writes likely if appends were not serialised.
    batches = [lines(5, element="x" * 100, page="p" * 100) for _ in range(40)]
    for batch in batches:
        batch[0] = batch[0][:-1] + ',"padding":"' + "y" * 40_000 + '"}'
    threads = [threading.Thread(target=writer.append, args=(b, ARRIVAL)) for b in batches]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    expected = {json.loads(line)["event_id"] for batch in batches for line in batch}
    stored = raw_event_ids(tmp_path)
    assert len(stored) == 200 and set(stored) == expected


def _append_in_child(raw_dir: str, count: int) -> None:
    RawLogWriter(raw_dir).append(lines(count), ARRIVAL)


def test_each_process_writes_its_own_file(tmp_path):
    context = multiprocessing.get_context("fork")
    children = [context.Process(target=_append_in_child, args=(str(tmp_path), 50)) for _ in range(3)]
    for child in children:
        child.start()
    for child in children:
        child.join(timeout=30)
        assert child.exitcode == 0
    assert len(list(tmp_path.glob("2026-03-01/*.jsonl"))) == 3
    assert len(set(raw_event_ids(tmp_path))) == 150


@pytest.mark.parametrize("removed", ["day", "raw_dir", "moved_day"])
def test_a_day_directory_removed_while_the_writer_runs_is_made_again(tmp_path, removed):
    """The writer kept its file open per day: after the raw dir (or the day) was removed, appends went to a
    file in no directory, answered 200 and lost. A file that is no longer at its path is opened again."""
    raw_dir = tmp_path / "raw"
    writer = RawLogWriter(raw_dir)
    writer.append(lines(1), ARRIVAL)
    if removed == "day":
        shutil.rmtree(raw_dir / "2026-03-01")
    elif removed == "raw_dir":
        shutil.rmtree(raw_dir)
    else:
        (raw_dir / "2026-03-01").rename(tmp_path / "moved")
    writer.append(lines(2), ARRIVAL)
    assert len(raw_event_ids(raw_dir)) == 2


def test_symlinks_in_the_raw_log_are_never_written_through(tmp_path):
    """raw_log.py promises symlinks are never followed, for reading or writing; the writer followed a linked
    day directory and a linked file (lines the reader skips, written wherever the link pointed)."""
    raw_dir, victim = tmp_path / "raw", tmp_path / "victim"
    victim.mkdir()
    (victim / "file").write_bytes(b"untouched\n")
    raw_dir.mkdir()
    (raw_dir / "2026-03-01").symlink_to(victim, target_is_directory=True)
    writer = RawLogWriter(raw_dir)
    with pytest.raises(OSError):
        writer.append(lines(1), ARRIVAL)
    assert os.listdir(victim) == ["file"]

    (raw_dir / "2026-03-01").unlink()
    (raw_dir / "2026-03-01").mkdir()
    (raw_dir / "2026-03-01" / writer.file_name()).symlink_to(victim / "file")
    with pytest.raises(OSError):
        writer.append(lines(1), ARRIVAL)
    (raw_dir / "2026-03-01" / writer.file_name()).unlink()
    os.mkfifo(raw_dir / "2026-03-01" / writer.file_name())
    with pytest.raises(OSError):  # refused at once: opening a FIFO does not block
        writer.append(lines(1), ARRIVAL)
    assert (victim / "file").read_bytes() == b"untouched\n"


def test_the_api_answers_503_for_a_linked_day_directory(tmp_path):
    raw_dir, victim = tmp_path / "raw", tmp_path / "victim"
    victim.mkdir()
    raw_dir.mkdir()
    today = datetime.now(UTC).date()
    for day in (today, today + timedelta(days=1)):  # the test may run across midnight
        (raw_dir / day.isoformat()).symlink_to(victim, target_is_directory=True)
    with ingest_server(raw_dir) as server:
        response = httpx.post(
            server.url + "/v1/batch",
            json={"batch": [interaction()]},
            headers={"Authorization": f"Bearer {TEST_WRITE_KEY}"},
            timeout=60,
        )
    assert response.status_code == 503
    assert os.listdir(victim) == []
