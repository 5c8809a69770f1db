"""Layout of the raw event log: ``<raw_dir>/<YYYY-MM-DD>/*.jsonl``, one event per line.

A day directory holds the events that *arrived* that day (UTC); the day is the
Dagster partition key. Raw files hold PII until the pipeline scrubs them.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from itertools import islice
from pathlib import Path

DAY_PATTERN = re.compile(r"^\d{4}-\d{2}-\d{2}$")
# The file name of the committed synthetic sample (sample_data.py); the ingestion API writes events-<host>-<pid>.jsonl.
SAMPLE_FILE_NAME = "events-sample.jsonl"


@dataclass(frozen=True)
class RawLine:
    source_file: str  # relative to the raw dir, e.g. "2026-11-02/events-host-123.jsonl"
    line_number: int  # 1-based
    content: bytes


def day_dir(raw_dir: Path, day: str) -> Path:
    if not DAY_PATTERN.match(day):
        raise ValueError(f"a day partition is YYYY-MM-DD, got {day!r}")
    return Path(raw_dir) / day


def day_files(raw_dir: Path, day: str) -> list[Path]:
    """The raw log files of one day, in a stable order."""
    return sorted(day_dir(raw_dir, day).glob("*.jsonl"))


def is_sample_day(raw_dir: Path, day: str) -> bool:
    """Whether the day's raw files are the synthetic sample (which plants bad lines and is dated November 2026)."""
    files = day_files(raw_dir, day)
    return bool(files) and all(f.name == SAMPLE_FILE_NAME for f in files)


def available_days(raw_dir: Path) -> list[str]:
    """Days that have at least one raw log file, oldest first."""
    raw_dir = Path(raw_dir)
    if not raw_dir.is_dir():
        return []
    return sorted(d.name for d in raw_dir.iterdir() if DAY_PATTERN.match(d.name) and any(d.glob("*.jsonl")))


def iter_raw_lines(raw_dir: Path, day: str) -> Iterator[RawLine]:
    """Every line of a day's files, streamed (a file is never read whole into memory)."""
    for path in day_files(raw_dir, day):
        relative = f"{day}/{path.name}"
        with path.open("rb") as handle:
            for number, line in enumerate(handle, start=1):
                yield RawLine(relative, number, line.rstrip(b"\r\n"))


def chunked(lines: Iterator[RawLine], size: int) -> Iterator[list[RawLine]]:
    """Groups of at most ``size`` lines: the unit of memory in the pipeline."""
    while chunk := list(islice(lines, size)):
        yield chunk
