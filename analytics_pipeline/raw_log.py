"""Layout of the raw event log: ``<raw_dir>/<YYYY-MM-DD>/*.jsonl``, one event per line.

A day directory holds the events that *arrived* that day (UTC); the day is the
Dagster partition key. Raw files hold PII until the pipeline scrubs them.

What is read: regular files directly in a day directory named ``*.jsonl``, rotated
``*.jsonl.<N>`` and gzip'd ``*.jsonl.gz`` / ``*.jsonl.<N>.gz`` (suffixes in any case). Everything
else in a day directory (other names, names with control or bidi characters, nested directories,
symlinks, devices) is *skipped and reported* (:func:`skipped_files`), never silently ignored;
symlinks are never followed, for reading or writing. A directory of the raw dir that is not a
real date is skipped with a warning.
"""

from __future__ import annotations

import gzip
import json
import logging
import os
import re
import stat
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from itertools import islice
from pathlib import Path
from typing import BinaryIO

log = logging.getLogger(__name__)
DAY_PATTERN = re.compile(r"^\d{4}-\d{2}-\d{2}$")
# A name made of these characters only can go into source_file and metadata as it is.
RAW_FILE_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*\.jsonl(?:\.\d+)?(?:\.gz)?$", re.IGNORECASE)
# Written by retention in a purged day directory: known, not a skipped file.
KNOWN_NON_LOG_FILES = frozenset({"PURGED.json"})
# The file name of the committed synthetic sample (sample_data.py); the ingestion API writes events-<host>-<pid>.jsonl.
SAMPLE_FILE_NAME = "events-sample.jsonl"
# The longest line the ingestion API writes is one event of at most ~2.4 MB (ingest/api.py MAX_EVENT_BYTES:
# three 200,000-character texts at 4 UTF-8 bytes each, plus 64 KiB). A longer line is no event (a torn write
# of NULs, a small .jsonl.gz that inflates to one huge line): it is skipped unread and quarantined, so reading
# a day takes bounded memory whatever its files hold.
MAX_LINE_BYTES = 4 * 1024 * 1024
# What a too-long line is skipped by, until its newline.
_SKIP_CHUNK_BYTES = 1024 * 1024
LINE_TOO_LONG_CODE = "line_too_long"
LINE_TOO_LONG_REASON = f"a line is at most {MAX_LINE_BYTES} bytes"


@dataclass(frozen=True)
class RawLine:
    source_file: str  # relative to the raw dir, e.g. "2026-11-02/events-host-123.jsonl"
    line_number: int  # 1-based
    content: bytes  # b"" for a line that was too long to read
    too_long: bool = False  # longer than the reader's limit (MAX_LINE_BYTES): quarantined as LINE_TOO_LONG_CODE


def json_object(content: bytes) -> dict | None:
    """A raw line as a JSON object, or None: any line (bad JSON, 5,000 nested brackets) is survivable."""
    try:
        data = json.loads(content)
    except (ValueError, RecursionError):
        return None
    return data if isinstance(data, dict) else None


def is_day(name: str) -> bool:
    """YYYY-MM-DD and a real date (2026-13-45 is not)."""
    try:
        return bool(DAY_PATTERN.match(name)) and date.fromisoformat(name).isoformat() == name
    except ValueError:
        return False


def day_dir(raw_dir: Path, day: str) -> Path:
    if not is_day(day):
        raise ValueError(f"a day partition is a date YYYY-MM-DD, got {day!r}")
    return Path(raw_dir) / day


@dataclass(frozen=True)
class SkippedFile:
    name: str  # escaped (ascii()) when it holds characters that could forge a line or reverse text
    reason: str


def _classify(entry: os.DirEntry) -> str | None:
    """None for a raw log file to read, else why it is skipped."""
    if entry.is_symlink():
        return "symlink (never followed)"
    if entry.is_dir(follow_symlinks=False):
        return "nested directory (only files directly in a day directory are read)"
    if not entry.is_file(follow_symlinks=False):
        return "not a regular file"
    if not RAW_FILE_PATTERN.match(entry.name):
        return "name is not *.jsonl, *.jsonl.N or *.jsonl[.N].gz of letters, digits, '.', '_', '-'"
    return None


def _scan(raw_dir: Path, day: str) -> tuple[list[Path], list[SkippedFile]]:
    directory = day_dir(raw_dir, day)
    if directory.is_symlink() or not directory.is_dir():
        return [], []
    read, skipped = [], []
    with os.scandir(directory) as entries:
        for entry in entries:
            if entry.name in KNOWN_NON_LOG_FILES:
                continue
            reason = _classify(entry)
            if reason is None:
                read.append(Path(entry.path))
            else:
                name = (
                    entry.name if RAW_FILE_PATTERN.match(entry.name) or entry.name.isprintable() else ascii(entry.name)
                )
                skipped.append(SkippedFile(name, reason))
    return sorted(read), sorted(skipped, key=lambda s: s.name)


def day_files(raw_dir: Path, day: str) -> list[Path]:
    """The raw log files of one day that are read, in a stable order."""
    return _scan(raw_dir, day)[0]


def skipped_files(raw_dir: Path, day: str) -> list[SkippedFile]:
    """Entries of a day directory that are not read, with the reason: reported, never silent."""
    return _scan(raw_dir, day)[1]


def is_sample_day(raw_dir: Path, day: str) -> bool:
    """Whether the day's raw files are the synthetic sample (which plants bad lines and is dated November 2026)."""
    files = day_files(raw_dir, day)
    return bool(files) and all(f.name == SAMPLE_FILE_NAME for f in files)


def available_days(raw_dir: Path) -> list[str]:
    """Days that have at least one raw log file, oldest first. Other directories are skipped with a warning."""
    raw_dir = Path(raw_dir)
    if not raw_dir.is_dir():
        return []
    days = []
    for entry in sorted(raw_dir.iterdir()):
        if not entry.is_dir() or entry.is_symlink():
            continue
        if not is_day(entry.name):
            log.warning("skipping %s in the raw log: not a day directory (YYYY-MM-DD, a real date)", ascii(entry.name))
            continue
        if day_files(raw_dir, entry.name):
            days.append(entry.name)
    return days


def open_raw_file(path: Path, mode: str = "rb"):
    """Open a raw file without following a symlink (O_NOFOLLOW), even one swapped in after the scan; a FIFO
    swapped in does not block the open (O_NONBLOCK, which a regular file's reads and writes ignore)."""
    flags = os.O_RDONLY if mode == "rb" else os.O_RDWR
    fd = os.open(path, flags | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK)
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise OSError(f"{path.name!a} is not a regular file")
    return os.fdopen(fd, mode)


def is_gzip(path: Path) -> bool:
    return path.name.lower().endswith(".gz")


def read_lines(handle: BinaryIO, max_line_bytes: int = MAX_LINE_BYTES) -> Iterator[tuple[bytes | None, int]]:
    """Each line of ``handle`` as (its bytes with the newline, or None when longer than ``max_line_bytes``
    without it; its length in bytes with the newline). Memory is bounded by ``max_line_bytes``: a longer
    line is never held, only skipped to its newline in bounded chunks (``for line in handle`` would hold it whole).
    """
    while line := handle.readline(max_line_bytes + 1):
        # Up to the limit, readline stops after a newline or at the end of the file: the whole line.
        if len(line) <= max_line_bytes or line.endswith(b"\n"):
            yield line, len(line)
            continue
        length = len(line)
        while chunk := handle.readline(_SKIP_CHUNK_BYTES):
            length += len(chunk)
            if chunk.endswith(b"\n"):
                break
        yield None, length


def raw_line(source_file: str, line_number: int, line: bytes | None) -> RawLine:
    """The :class:`RawLine` of a line from :func:`read_lines` (newline stripped, or flagged too long)."""
    if line is None:
        return RawLine(source_file, line_number, b"", too_long=True)
    return RawLine(source_file, line_number, line.rstrip(b"\r\n"))


def iter_raw_lines(raw_dir: Path, day: str, max_line_bytes: int = MAX_LINE_BYTES) -> Iterator[RawLine]:
    """Every line of a day's files, streamed in bounded memory (a file is never read whole, nor a line
    longer than ``max_line_bytes``: that one comes flagged ``too_long``, without its content)."""
    for path in day_files(raw_dir, day):
        relative = f"{day}/{path.name}"
        with open_raw_file(path) as raw, gzip.open(raw) if is_gzip(path) else raw as handle:
            for number, (line, _) in enumerate(read_lines(handle, max_line_bytes), start=1):
                yield raw_line(relative, number, line)


def chunked(lines: Iterator[RawLine], size: int) -> Iterator[list[RawLine]]:
    """Groups of at most ``size`` lines: the unit of memory in the pipeline."""
    while chunk := list(islice(lines, size)):
        yield chunk
