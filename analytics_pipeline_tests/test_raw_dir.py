"""The raw directory as a careless operator or a malicious insider leaves it: rotated, gzip'd,
upper-case, nested, symlinked and oddly named files, and directories that are not days."""

from __future__ import annotations

import gzip
import json
import logging
import os
import signal
import subprocess
import sys
import textwrap
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest

from analytics_pipeline.contract import MAX_TEXT_CHARS, parse_event, parse_event_line
from analytics_pipeline.ingest.api import MAX_EVENT_BYTES
from analytics_pipeline.ingest.writer import encode_lines, stamp_received
from analytics_pipeline.lifecycle.erasure import MTIME_JOURNAL, erase_from_raw_log
from analytics_pipeline.privacy.hashing import USER_DOMAIN, pseudonymize
from analytics_pipeline.raw_log import MAX_LINE_BYTES, available_days, day_files, iter_raw_lines, skipped_files
from analytics_pipeline.sample_data import write_sample
from analytics_pipeline_tests.conftest import TEST_SALT

DAY = "2026-11-02"
SALT = TEST_SALT.encode()


def event(user_id: str = "synthetic-user-1", **overrides) -> str:
    data = {
        "event_id": str(uuid.uuid4()),
        "event_type": "interaction",
        "occurred_at": "2026-11-02T10:00:00Z",
        "user_id": user_id,
        "action": "click",
        "element": "tailor-button",
    }
    return json.dumps(data | overrides)


@pytest.fixture
def messy_raw_dir(tmp_path):
    """A day directory with every kind of entry, and a file outside the raw dir a symlink points at."""
    raw = tmp_path / "raw"
    day = raw / DAY
    day.mkdir(parents=True)
    (day / "events-a.jsonl").write_text(event() + "\n" + event("synthetic-user-2") + "\n")
    (day / "events-a.jsonl.1").write_text(event() + "\n")
    (day / "events-b.JSONL").write_text(event() + "\n")
    with gzip.open(day / "events-a.jsonl.2.gz", "wt") as handle:
        handle.write(event() + "\n" + event("synthetic-user-2") + "\n")
    (day / "notes.txt").write_text("not events\n")
    (day / "nested").mkdir()
    (day / "nested" / "events.jsonl").write_text(event() + "\n")
    (day / "evil\nname.jsonl").write_text(event() + "\n")
    (day / "evil\u202elnosj.jsonl").write_text(event() + "\n")
    outside = tmp_path / "outside.jsonl"
    outside.write_text(event("synthetic-user-2") + "\n")
    (day / "link.jsonl").symlink_to(outside)
    (raw / "2026-13-45").mkdir()
    (raw / "2026-13-45" / "events.jsonl").write_text(event() + "\n")
    (raw / "scratch").mkdir()
    return raw, outside


def test_rotated_gzip_and_any_case_files_are_read_the_rest_is_reported(messy_raw_dir):
    raw, _ = messy_raw_dir
    assert [p.name for p in day_files(raw, DAY)] == [
        "events-a.jsonl",
        "events-a.jsonl.1",
        "events-a.jsonl.2.gz",
        "events-b.JSONL",
    ]
    lines = list(iter_raw_lines(raw, DAY))
    assert len(lines) == 6 and all(json.loads(line.content)["event_type"] == "interaction" for line in lines)
    assert {line.source_file for line in lines} == {f"{DAY}/{p.name}" for p in day_files(raw, DAY)}
    skipped = {s.name: s.reason for s in skipped_files(raw, DAY)}
    assert set(skipped) == {
        "notes.txt",
        "nested",
        "link.jsonl",
        ascii("evil\nname.jsonl"),
        ascii("evil\u202elnosj.jsonl"),
    }
    assert "symlink" in skipped["link.jsonl"] and "nested" in skipped["nested"]
    assert all("\n" not in name and "\u202e" not in name for name in skipped)


def test_a_directory_that_is_not_a_day_is_skipped_with_a_warning(messy_raw_dir, caplog):
    raw, _ = messy_raw_dir
    with caplog.at_level(logging.WARNING, logger="analytics_pipeline.raw_log"):
        assert available_days(raw) == [DAY]
    assert "2026-13-45" in caplog.text and "scratch" in caplog.text


def test_symlinks_are_never_followed_for_reading_or_writing(messy_raw_dir):
    raw, outside = messy_raw_dir
    before = outside.read_bytes()
    assert all("link" not in line.source_file for line in iter_raw_lines(raw, DAY))
    blanked = erase_from_raw_log(raw, pseudonymize("synthetic-user-2", SALT, USER_DOMAIN), SALT)
    assert outside.read_bytes() == before  # the file outside the raw dir is untouched
    assert blanked.erased == {f"{DAY}/events-a.jsonl": 1, f"{DAY}/events-a.jsonl.2.gz": 1}
    assert (raw / DAY / "link.jsonl").is_symlink()
    remaining = [line.content for line in iter_raw_lines(raw, DAY)]
    assert not any(b"synthetic-user-2" in content for content in remaining)
    assert sum(1 for content in remaining if not content.strip()) == 2  # blanked, line numbers kept
    assert oct(os.stat(raw / DAY / "events-a.jsonl.2.gz").st_mode & 0o777) == "0o600"


def test_forget_blanks_a_torn_last_line(tmp_path):
    day = tmp_path / "raw" / DAY
    day.mkdir(parents=True)
    torn = event("synthetic-user-3")[:-20]  # a writer killed mid-line: no newline, not JSON
    path = day / "events-a.jsonl"
    path.write_text(event() + "\n" + torn)
    blanked = erase_from_raw_log(tmp_path / "raw", pseudonymize("synthetic-user-3", SALT, USER_DOMAIN), SALT)
    assert blanked.erased == {f"{DAY}/events-a.jsonl": 1}
    assert b"synthetic-user-3" not in path.read_bytes()
    assert path.read_bytes().endswith(b" " * len(torn))


@pytest.mark.parametrize("gzipped", [False, True])
def test_forget_blanks_a_line_too_long_to_read_without_holding_it(tmp_path, gzipped):
    """A torn write longer than any event is never loaded and never read whole: it may name the user, so an
    erasure blanks it (line numbers kept), with the user's own lines; the other lines stay as they were."""
    day = tmp_path / "raw" / DAY
    day.mkdir(parents=True)
    long_line = b"\0" * (MAX_LINE_BYTES + 10)  # a torn write: names no one that can be read
    first, last = event().encode(), event().encode()
    content = b"\n".join([first, long_line, event("synthetic-user-3").encode(), last]) + b"\n"
    path = day / ("events-a.jsonl.1.gz" if gzipped else "events-a.jsonl")
    path.write_bytes(gzip.compress(content, mtime=0) if gzipped else content)
    blanked = erase_from_raw_log(tmp_path / "raw", pseudonymize("synthetic-user-3", SALT, USER_DOMAIN), SALT)
    assert blanked.erased == {f"{DAY}/{path.name}": 2}
    lines = (gzip.decompress(path.read_bytes()) if gzipped else path.read_bytes()).split(b"\n")
    assert [line.strip() == b"" for line in lines] == [False, True, True, False, True]
    assert (lines[0], lines[3]) == (first, last)
    if not gzipped:
        assert path.stat().st_size == len(content)  # blanked in place


# Reads a day plainly and in shards in a fresh process and reports its lines and its peak RSS.
READ_DAY = textwrap.dedent(
    """
    import json, re, sys
    from pathlib import Path
    from analytics_pipeline.raw_log import iter_raw_lines
    from analytics_pipeline.sharding import iter_shard_lines, plan_shards

    raw, day = Path(sys.argv[1]), sys.argv[2]
    def peak_mib():  # this process's own peak RSS (getrusage's ru_maxrss keeps the forking parent's across exec)
        return int(re.search(r"VmHWM:\\s+(\\d+) kB", Path("/proc/self/status").read_text()).group(1)) / 1024
    before = peak_mib()
    def described(lines):
        return [[line.source_file, line.line_number, line.too_long, len(line.content)] for line in lines]
    plain = described(iter_raw_lines(raw, day))
    shards = plan_shards(raw, day, target_lines=1, max_shards=4)
    sharded = described(line for shard in shards for line in iter_shard_lines(raw, day, shard))
    print(json.dumps({"plain": plain, "sharded": sharded, "shards": len(shards), "before": before, "peak": peak_mib()}))
    """
)
HUGE_LINE_MIB = 200


def test_a_huge_line_is_skipped_in_bounded_memory_and_the_next_lines_are_read(tmp_path):
    """A torn write of NULs without a newline (or a small .jsonl.gz inflating to one line) used to be held
    whole as one line: ~4x its size in RSS, a GB-size line killed the run. Now it is a too-long line,
    skipped in bounded chunks, and the lines after it are read, plainly and in shards alike."""
    first, after = event().encode() + b"\n", event().encode() + b"\n"
    day = tmp_path / "raw" / DAY
    day.mkdir(parents=True)
    block = b"\0" * (1 << 20)
    with open(day / "events-a.jsonl", "wb") as plain, gzip.open(day / "events-b.jsonl.gz", "wb", 1) as packed:
        for handle in (plain, packed):
            handle.write(first)
            for _ in range(HUGE_LINE_MIB):
                handle.write(block)
            handle.write(b"\n" + after + block)  # and a torn last line, without its newline
    assert (day / "events-b.jsonl.gz").stat().st_size < 2 << 20  # inflates ~100 times
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    result = subprocess.run(
        [sys.executable, "-c", READ_DAY, str(tmp_path / "raw"), DAY],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    report = json.loads(result.stdout)
    expected = [
        [f"{DAY}/{name}", number, too_long, length]
        for name in ("events-a.jsonl", "events-b.jsonl.gz")
        for number, too_long, length in [
            (1, False, len(first) - 1),
            (2, True, 0),
            (3, False, len(after) - 1),
            (4, False, 1 << 20),
        ]
    ]
    assert report["plain"] == expected
    assert report["sharded"] == expected and report["shards"] > 1
    grown = report["peak"] - report["before"]
    print(f"peak RSS {report['peak']:.0f} MiB, {grown:.0f} MiB while reading {2 * HUGE_LINE_MIB} MiB of long lines")
    assert grown < 32, f"reading grew RSS by {grown:.0f} MiB"


def test_the_longest_line_the_api_writes_is_read_whole(tmp_path):
    """MAX_LINE_BYTES holds the largest event the API accepts (three maximum-size texts of 4-byte characters)."""
    assert MAX_LINE_BYTES > 1.5 * MAX_EVENT_BYTES
    texts = {name: "\U0001d423" * MAX_TEXT_CHARS for name in ("resume_text", "job_description", "tailored_text")}
    largest = parse_event(
        json.loads(event(event_type="resume.tailor", resume_id="r" * 256, version=1)) | texts | {"user_id": "u" * 256}
    )
    day = tmp_path / "raw" / DAY
    day.mkdir(parents=True)
    (day / "events-a.jsonl").write_bytes(encode_lines(stamp_received([largest], datetime.now(UTC))) * 2)
    lines = list(iter_raw_lines(tmp_path / "raw", DAY))
    assert len(lines) == 2 and len(lines[0].content) > 3 * 4 * MAX_TEXT_CHARS
    assert not any(line.too_long for line in lines)
    assert parse_event_line(lines[1].content).resume_text == texts["resume_text"]


USER, RESUME = "synthetic-user-7", "synthetic-resume-7"
# What the user's lines carry; every byte of it must go, from every file under the raw dir.
TRACES = (USER.encode(), RESUME.encode(), b"ada.quist", b"Quist")
# Another user's note, whose ID only starts like the user's: it stays.
KEPT_NOTE = b"ticket 3: synthetic-user-70 asked about pricing\n"


def user_lines() -> list[str]:
    return [
        event(USER),
        json.dumps(
            {
                "event_id": str(uuid.uuid4()),
                "event_type": "resume.upload",
                "occurred_at": "2026-11-02T10:00:00Z",
                "user_id": USER,
                "resume_id": RESUME,
                "version": 1,
                "resume_text": "Ada Quist, ada.quist@example.org, 415-555-0142",
            }
        ),
    ]


def write_lines(path, lines: list[str], gzipped: bool = False) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    data = "".join(line + "\n" for line in lines).encode()
    path.write_bytes(gzip.compress(data) if gzipped else data)


def file_contents(raw) -> dict[str, bytes]:
    """Every regular file under ``raw``, gunzipped when it is gzip (the other user's note left out)."""
    contents = {}
    for path in sorted(p for p in raw.rglob("*") if p.is_file() and not p.is_symlink()):
        data = path.read_bytes()
        data = gzip.decompress(data) if data[:2] == b"\x1f\x8b" else data
        contents[str(path.relative_to(raw))] = data.replace(KEPT_NOTE, b"")
    return contents


@pytest.fixture
def copies_everywhere(tmp_path):
    """The user's lines in the log and in every kind of file beside it: skipped names, a backup, nested and
    non-day directories, a gzip under another name, free-text notes naming the user's IDs, and a killed
    erasure's half-written rewrite."""
    raw = tmp_path / "raw"
    mine, other = user_lines(), event()
    write_lines(raw / DAY / "events-a.jsonl", [other, *mine, other])
    write_lines(raw / DAY / "events-a.jsonl.1.gz", [*mine, other], gzipped=True)
    write_lines(raw / DAY / "events.jsonl.bak", [other, *mine])
    write_lines(raw / DAY / "backup.tar", [*mine, other], gzipped=True)  # gzip by content, not by name
    write_lines(raw / DAY / "nested" / "events.jsonl", mine)
    write_lines(raw / "scratch" / "copy.jsonl", mine)
    write_lines(raw / "2026-13-45" / "events.jsonl", mine)
    write_lines(
        raw / DAY / "notes.txt",
        [
            f"ticket 1: {USER} asked to delete resume {RESUME} (ada.quist@example.org, Ada Quist)",
            f'{{"ticket": 2, "about": "{RESUME}"}}',
            KEPT_NOTE.decode().strip(),
        ],
    )
    write_lines(raw / DAY / ".events-a.jsonl.1.gz.erasing-999", mine)
    return raw


def test_forget_reaches_every_file_under_the_raw_dir_read_or_skipped(copies_everywhere):
    raw = copies_everywhere
    sizes = {path: path.stat().st_size for path in raw.rglob("*") if path.is_file()}
    sweep = erase_from_raw_log(raw, pseudonymize(USER, SALT, USER_DOMAIN), SALT)
    contents = file_contents(raw)
    assert {name: [t for t in TRACES if t in data] for name, data in contents.items()} == dict.fromkeys(contents, [])
    assert sweep.leftovers == [f"{DAY}/.events-a.jsonl.1.gz.erasing-999"] and sweep.unreadable == []
    assert sweep.erased == {
        f"{DAY}/events-a.jsonl": 2,
        f"{DAY}/events-a.jsonl.1.gz": 2,
        f"{DAY}/events.jsonl.bak": 2,
        f"{DAY}/backup.tar": 2,
        f"{DAY}/nested/events.jsonl": 2,
        "scratch/copy.jsonl": 2,
        "2026-13-45/events.jsonl": 2,
        f"{DAY}/notes.txt": 2,
    }
    assert (raw / DAY / "notes.txt").read_bytes().endswith(KEPT_NOTE)
    assert contents[f"{DAY}/events-a.jsonl"].count(b"synthetic-user-1") == 2  # the other user's lines stay
    for path, size in sizes.items():  # plain files are blanked in place: same length, same line numbers
        if path.exists() and path.suffix in (".jsonl", ".bak", ".txt"):
            assert path.stat().st_size == size, path
    again = erase_from_raw_log(raw, pseudonymize(USER, SALT, USER_DOMAIN), SALT)
    assert (again.erased, again.leftovers, again.unreadable) == ({}, [], [])


def test_forget_names_the_raw_files_it_cannot_read(tmp_path):
    raw = tmp_path / "raw"
    write_lines(raw / DAY / "events-a.jsonl", user_lines())
    write_lines(raw / DAY / "events-b.jsonl.gz", user_lines(), gzipped=True)
    truncated = raw / DAY / "events-b.jsonl.gz"
    truncated.write_bytes(truncated.read_bytes()[:-12])  # a rotation that never finished
    sweep = erase_from_raw_log(raw, pseudonymize(USER, SALT, USER_DOMAIN), SALT)
    assert sweep.unreadable == [f"{DAY}/events-b.jsonl.gz"]
    assert sweep.erased == {f"{DAY}/events-a.jsonl": 2}


# Runs an erasure of the raw dir that kills itself (SIGKILL: no cleanup runs) at a chosen point.
CRASHING_ERASURE = """
import os, signal, sys
from pathlib import Path
from analytics_pipeline.lifecycle import erasure

raw_dir, anon_user_id, salt, where = sys.argv[1:]
def crash(*args):
    os.kill(os.getpid(), signal.SIGKILL)
if where == "after_first_blanking":  # once the first file of the user's own lines is blanked
    blank_in_place = erasure._blank_in_place
    def _blank_in_place(path, blank, *journal):
        count = blank_in_place(path, blank, *journal)
        if b"ticket" not in path.read_bytes():
            crash()
        return count
    erasure._blank_in_place = _blank_in_place
else:  # mid-rewrite of a gzip'd file: its temporary copy is written, not yet renamed
    erasure.os.replace = crash
erasure.erase_from_raw_log(Path(raw_dir), anon_user_id, salt.encode())
"""


@pytest.mark.parametrize("where", ["after_first_blanking", "mid_gzip_rewrite"])
def test_an_erasure_killed_half_way_completes_when_run_again(copies_everywhere, where):
    raw = copies_everywhere
    old = 1_790_000_000_000_000_000
    for path in (p for p in raw.rglob("*") if p.is_file()):
        os.utime(path, ns=(old, old))
    anon_user_id = pseudonymize(USER, SALT, USER_DOMAIN)
    crashed = subprocess.run(
        [sys.executable, "-c", CRASHING_ERASURE, str(raw), anon_user_id, TEST_SALT, where], timeout=120
    )
    assert crashed.returncode == -signal.SIGKILL
    assert any(USER.encode() in data for data in file_contents(raw).values()), "killed before the end"
    if where == "after_first_blanking":  # lines naming the user's IDs only go first: the IDs are still known
        assert USER.encode() not in file_contents(raw)[f"{DAY}/notes.txt"]
    sweep = erase_from_raw_log(raw, anon_user_id, SALT)
    contents = file_contents(raw)
    assert [name for name, data in contents.items() if any(t in data for t in TRACES)] == []
    assert not [name for name in contents if ".erasing-" in name] and sweep.unreadable == []
    # Edited files, the one killed after its edit included, keep their mtime: an erasure is no new data.
    assert {p.stat().st_mtime_ns for p in raw.rglob("*") if p.is_file()} == {old}
    assert not (raw / MTIME_JOURNAL).exists()


@pytest.mark.slow
def test_the_pipeline_reads_rotated_files_and_warns_about_skipped_ones(pipeline):
    write_sample(pipeline.raw_dir, days=1, sessions_per_day=3, users=3, seed=3, malformed_share=0.0)
    (day,) = sorted(p.name for p in pipeline.raw_dir.iterdir())
    with gzip.open(pipeline.raw_dir / day / "events-old.jsonl.1.gz", "wt") as handle:
        handle.write(event(occurred_at=f"{day}T10:00:00Z") + "\n")
    (pipeline.raw_dir / day / "events.jsonl.bak").write_text(event() + "\n")
    result = pipeline.run(day)
    assert result.success
    checks = {e.check_name: e for e in result.get_asset_check_evaluations()}
    skipped = checks["no_raw_files_skipped"]
    assert not skipped.passed and skipped.severity.value == "WARN"
    assert list(skipped.metadata["skipped_files"].data) == ["events.jsonl.bak"]
    assert checks["raw_lines_reconcile"].passed
    files = {f for (f,) in pipeline.query("SELECT DISTINCT source_file FROM analytics.interactions")}
    assert f"{day}/events-old.jsonl.1.gz" in files
