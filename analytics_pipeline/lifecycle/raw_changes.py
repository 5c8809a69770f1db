"""What changed in the raw log since last looked: the raw-log sensor's pure logic."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from analytics_pipeline.raw_log import day_files


def file_sizes(raw_dir: Path, days: Iterable[str]) -> dict[str, int]:
    """Size of every raw file of ``days``, keyed by its path relative to the raw dir."""
    return {f"{day}/{path.name}": path.stat().st_size for day in days for path in day_files(raw_dir, day)}


def changed_days(current: dict[str, int], seen: dict[str, int]) -> list[str]:
    """Days with a file that is new or whose size changed. Erasure blanks lines in place, keeping sizes,
    so it does not count as a change; a gzip'd file it rewrites changes size but keeps its mtime, so the
    sensor finds the day materialized after its last change and does not run it again."""
    return sorted({name.split("/", 1)[0] for name, size in current.items() if seen.get(name) != size})


def last_modified(raw_dir: Path, day: str) -> float:
    """When the day's raw files last changed. An erasure's edits do not count: it puts the old mtime back
    (``lifecycle.erasure.MTIME_JOURNAL``), so erasing a user never blocks the day's retention."""
    return max((path.stat().st_mtime for path in day_files(raw_dir, day)), default=0.0)
