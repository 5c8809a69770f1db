"""Raw-data retention: raw logs hold PII, so they are deleted once loaded and old enough.

Deleting a day leaves a small tombstone (file names and line counts, never content), so
the pipeline can refuse to re-stage a purged day, which would otherwise replace its
loaded rows with nothing.
"""

from __future__ import annotations

import gzip
import json
import shutil
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from analytics_pipeline.raw_log import available_days, day_dir, day_files, is_gzip, open_raw_file
from analytics_pipeline.staging import shards_dir

DEFAULT_RETENTION_DAYS = 30
TOMBSTONE = "PURGED.json"


@dataclass(frozen=True)
class PurgedFile:
    file: str  # relative to the raw dir
    day: str
    lines: int


def expired_days(raw_dir: Path, today: date, retention_days: int) -> list[str]:
    """Days with raw files that are more than ``retention_days`` days old."""
    if retention_days < 1:
        raise ValueError("retention_days must be at least 1")
    cutoff = today - timedelta(days=retention_days)
    return [day for day in available_days(raw_dir) if date.fromisoformat(day) < cutoff]


def _count_lines(path: Path) -> int:
    with open_raw_file(path) as raw, gzip.open(raw) if is_gzip(path) else raw as handle:
        return sum(1 for _ in handle)


def purge_raw_day(raw_dir: Path, day: str) -> list[PurgedFile]:
    """Delete a day's raw files and write its tombstone; returns what was deleted."""
    purged = [PurgedFile(f"{day}/{path.name}", day, _count_lines(path)) for path in day_files(raw_dir, day)]
    tombstone = day_dir(raw_dir, day) / TOMBSTONE
    earlier = json.loads(tombstone.read_text())["files"] if tombstone.exists() else []
    tombstone.write_text(
        json.dumps(
            {"purged_at": datetime.now(UTC).isoformat(), "files": earlier + [asdict(p) for p in purged]},
            indent=1,
        )
    )
    tombstone.chmod(0o600)
    for path in day_files(raw_dir, day):
        path.unlink()
    return purged


def was_purged(raw_dir: Path, day: str) -> bool:
    return (day_dir(raw_dir, day) / TOMBSTONE).exists()


def purge_staging_day(staging_dir: Path, day: str) -> bool:
    """Delete a day's staged Parquet, and leftovers of runs killed while staging it (or its shards)."""
    staging_dir = Path(staging_dir)
    targets = [
        staging_dir / day,
        *staging_dir.glob(f".{day}.tmp-*"),
        *staging_dir.glob(f".{day}.old-*"),
        shards_dir(staging_dir, day),
    ]
    existing = [t for t in targets if t.exists()]
    for target in existing:
        if target.is_dir():
            shutil.rmtree(target)
        else:  # a work directory's lock file
            target.unlink()
    return bool(existing)
