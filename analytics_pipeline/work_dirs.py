"""Work directories: where a writer builds files before renaming them into place, and how another
process tells a live writer's work from a killed writer's leftovers.

A writer holds an exclusive ``flock`` on ``<work dir>.lock`` (beside it) from before it creates the
work directory until it has renamed it into place. The kernel releases the lock when the process ends,
however it ends (``kill -9`` included), so a work directory whose lock is free is a leftover: it will
never be renamed, and its Parquet may be torn (no footer). Erasure deletes leftovers instead of reading
them and waits for live writers (``lifecycle/erasure.py``).
"""

from __future__ import annotations

import fcntl
import os
import re
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

# The work directories of the pipeline's writers: staging's ``.<name>.tmp-<pid>`` (locked while written)
# and the training snapshots' ``.tmp-<time>-<pid>`` (not locked: written in the duckdb_writer pool, like
# erasure, so erasure only ever meets a killed run's).
WORK_DIR_NAME = re.compile(r"^\.(?:.+\.tmp|tmp-.+)-\d+$")
# Files and directories no process needs once it is gone: staging's swapped-out partition
# (``.<name>.old-<pid>``, deleted right after the swap) and erasure's own rewrites (``.erasing-``).
DISCARDED_NAME = re.compile(r"^\..+\.(?:old|erasing)-\d+$")


def lock_path(work_dir: Path) -> Path:
    return work_dir.with_name(f"{work_dir.name}.lock")


@contextmanager
def writing(work_dir: Path) -> Iterator[None]:
    """Hold the lock of ``work_dir`` for the block; create the directory inside it, rename it before it ends."""
    lock = lock_path(work_dir)
    fd = os.open(lock, os.O_CREAT | os.O_RDWR | os.O_CLOEXEC | os.O_NOFOLLOW, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        lock.unlink(missing_ok=True)
        os.close(fd)


@contextmanager
def _taken(work_dir: Path) -> Iterator[bool]:
    """Whether the lock of ``work_dir`` could be taken (no live writer), holding it for the block if so."""
    try:
        fd = os.open(lock_path(work_dir), os.O_RDWR | os.O_CLOEXEC | os.O_NOFOLLOW)
    except FileNotFoundError:  # its writer renamed it and let go, or never locked it (an older release)
        yield True
        return
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        yield False
        return
    try:
        yield True
    finally:
        os.close(fd)


def is_written(work_dir: Path) -> bool:
    """Whether a live process holds the lock of ``work_dir``."""
    with _taken(work_dir) as free:
        return not free


def remove_if_abandoned(work_dir: Path) -> bool:
    """Delete ``work_dir`` and its lock if no live process writes it; False while one does."""
    with _taken(work_dir) as abandoned:
        if abandoned:
            shutil.rmtree(work_dir, ignore_errors=True)
            lock_path(work_dir).unlink(missing_ok=True)
    return abandoned
