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

from analytics_pipeline.raw_log import available_days, day_dir, day_files, is_day, is_gzip, open_raw_file
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


def other_entries(raw_dir: Path, day: str) -> list[Path]:
    """Entries of a day directory that are not its raw log files nor the tombstone: what the pipeline skips
    (``notes.txt``, ``events.jsonl.bak``, nested directories, symlinks). They may hold the same personal data."""
    directory = day_dir(raw_dir, day)
    if directory.is_symlink() or not directory.is_dir():
        return []
    read = set(day_files(raw_dir, day))
    return sorted(p for p in directory.iterdir() if p.name != TOMBSTONE and p not in read)


def _delete_entry(path: Path) -> None:
    """Delete a file, a symlink (never its target) or a directory tree (whose symlinks are not followed)."""
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    else:
        path.unlink(missing_ok=True)


def purge_raw_day(raw_dir: Path, day: str) -> list[PurgedFile]:
    """Delete every entry of a day's raw directory (its log files and whatever else is in it) and write
    its tombstone; returns the log files deleted. The other entries are counted in the tombstone
    (``other_entries_deleted``), never named: a name can be personal data too."""
    purged = [PurgedFile(f"{day}/{path.name}", day, _count_lines(path)) for path in day_files(raw_dir, day)]
    others = other_entries(raw_dir, day)
    tombstone = day_dir(raw_dir, day) / TOMBSTONE
    earlier = json.loads(tombstone.read_text()) if tombstone.exists() else {}
    tombstone.write_text(
        json.dumps(
            {
                "purged_at": datetime.now(UTC).isoformat(),
                "files": earlier.get("files", []) + [asdict(p) for p in purged],
                "other_entries_deleted": earlier.get("other_entries_deleted", 0) + len(others),
            },
            indent=1,
        )
    )
    tombstone.chmod(0o600)
    for path in day_files(raw_dir, day):
        path.unlink()
    for path in others:
        _delete_entry(path)
    return purged


def purge_leftovers(raw_dir: Path, today: date, retention_days: int) -> dict[str, int]:
    """Entries left in day directories already purged and past the retention period (an older release
    deleted only the log files): deleted, counted per day in the tombstone and the result."""
    cutoff = today - timedelta(days=retention_days)
    raw_dir = Path(raw_dir)
    deleted = {}
    for entry in sorted(raw_dir.iterdir()) if raw_dir.is_dir() else ():
        if (
            entry.is_symlink()
            or not entry.is_dir()
            or not is_day(entry.name)
            or date.fromisoformat(entry.name) >= cutoff
        ):
            continue
        if was_purged(raw_dir, entry.name) and not day_files(raw_dir, entry.name):
            if leftovers := other_entries(raw_dir, entry.name):
                deleted[entry.name] = len(leftovers)
                purge_raw_day(raw_dir, entry.name)
    return deleted


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
