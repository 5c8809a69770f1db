"""Durable appends to the raw event log.

Each process writes its own file per arrival day (``<raw_dir>/<day>/events-<host>-<pid>.jsonl``),
so workers never interleave lines. An append is one ``write`` of whole lines followed by
``fdatasync``: when :meth:`RawLogWriter.append` returns, the lines are on disk. A crash
mid-write can leave at most one truncated last line, which the pipeline quarantines.
Raw files hold PII until the pipeline scrubs them: files are 0600, directories 0700. A day directory or
file that is a symlink is refused (``OSError``: the API answers 503), never written through; the raw dir
itself may be one.
"""

from __future__ import annotations

import os
import socket
import stat
import threading
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from analytics_pipeline.contract import InteractionEvent, ResumeEvent, event_to_json
from analytics_pipeline.raw_log import day_dir

DEFAULT_RAW_DIR = "data/raw/events"
FILE_MODE = 0o600
DIR_MODE = 0o700
_sync = getattr(os, "fdatasync", os.fsync)


def raw_dir_from_env() -> Path:
    return Path(os.environ.get("ANALYTICS_RAW_DIR") or DEFAULT_RAW_DIR)


def encode_lines(lines: Sequence[str]) -> bytes:
    """JSON lines as the bytes appended to the raw log, each ending in a newline."""
    return ("\n".join(lines) + "\n").encode("utf-8") if lines else b""


def stamp_received(events: Sequence[ResumeEvent | InteractionEvent], received_at: datetime) -> list[str]:
    """Raw-log lines for events that arrived at ``received_at`` (the server's clock wins)."""
    return [event_to_json(e.model_copy(update={"received_at": received_at})) for e in events]


def _safe_host() -> str:
    host = socket.gethostname().split(".")[0]
    return "".join(c if c.isalnum() or c == "-" else "_" for c in host) or "host"


def _make_private_dir(path: Path) -> None:
    # mkdir's mode is masked by the umask, so set it explicitly on what we create.
    missing = [p for p in (path, *path.parents) if not p.exists()]
    path.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)
    for created in missing:
        os.chmod(created, DIR_MODE)


def _open_day_dir(directory: Path) -> int:
    """A day directory, created private if missing, opened without following a symlink (the reader skips a
    linked day directory: lines written through it would be lost, or land in someone else's files)."""
    try:
        os.mkdir(directory, DIR_MODE)
        created = True
    except FileExistsError:
        created = False
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
    if created:
        os.fchmod(fd, DIR_MODE)
    return fd


def _open_log_file(dir_fd: int, name: str) -> tuple[int, bool]:
    """The day's log file, opened for appending without following a symlink; whether it was created."""
    # O_NONBLOCK: a FIFO planted under the name must not block the open (regular files ignore it).
    flags = os.O_RDWR | os.O_APPEND | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
    try:
        fd, created = os.open(name, flags | os.O_CREAT | os.O_EXCL, FILE_MODE, dir_fd=dir_fd), True
    except FileExistsError:
        fd, created = os.open(name, flags, dir_fd=dir_fd), False
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise OSError(f"{name!a} in the raw log is not a regular file")
    return fd, created


class RawLogWriter:
    """Appends raw-log lines for this process; thread-safe; one open file per day."""

    def __init__(self, raw_dir: Path | str):
        self.raw_dir = Path(raw_dir)
        self._lock = threading.Lock()
        self._day: str | None = None
        self._fd: int | None = None
        self._pid: int | None = None
        self._path: Path | None = None

    def file_name(self) -> str:
        return f"events-{_safe_host()}-{os.getpid()}.jsonl"

    def append(self, lines: Sequence[str], received_at: datetime) -> None:
        """Append JSON lines (no newlines inside) to the file of ``received_at``'s UTC day.

        Returns only once the data is flushed to disk. On failure the file is cut back
        to its previous length, so a failed append never leaves a partial line behind.
        """
        if lines:
            self.append_payload(encode_lines(lines), received_at)

    def append_payload(self, payload: bytes, received_at: datetime) -> None:
        """:meth:`append` of lines already encoded by :func:`encode_lines` (the API encodes in its parsers)."""
        if not payload:
            return
        day = received_at.astimezone(UTC).strftime("%Y-%m-%d")
        with self._lock:
            fd = self._file_for(day)
            start = os.lseek(fd, 0, os.SEEK_END)
            try:
                view = memoryview(payload)
                while view:
                    view = view[os.write(fd, view) :]
                _sync(fd)
            except BaseException:
                os.ftruncate(fd, start)
                raise

    def close(self) -> None:
        with self._lock:
            self._close_file()

    def _close_file(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
        self._fd = self._day = self._pid = self._path = None

    def _file_for(self, day: str) -> int:
        # A forked worker must not share its parent's file: the name carries the pid.
        if self._fd is not None and self._day == day and self._pid == os.getpid() and self._still_there():
            return self._fd
        self._close_file()
        path = day_dir(self.raw_dir, day) / self.file_name()
        _make_private_dir(self.raw_dir)
        dir_fd = _open_day_dir(path.parent)
        try:
            fd, created = _open_log_file(dir_fd, path.name)
            os.fchmod(fd, FILE_MODE)
            if created:
                os.fsync(dir_fd)  # make the new directory entry durable too, not just the file's data
            else:
                _terminate_truncated_line(fd)
        finally:
            os.close(dir_fd)
        self._fd, self._day, self._pid, self._path = fd, day, os.getpid(), path
        return fd

    def _still_there(self) -> bool:
        """Whether the open file is still the one at its path: lines appended to a file whose day directory
        (or the raw dir) was removed or moved would be answered 200 and lost."""
        try:
            there = os.stat(self._path, follow_symlinks=False)
        except OSError:
            return False
        here = os.fstat(self._fd)
        return (there.st_dev, there.st_ino) == (here.st_dev, here.st_ino)


def _terminate_truncated_line(fd: int) -> None:
    """After a crash (and a reused pid), end a truncated last line so new lines start clean."""
    size = os.fstat(fd).st_size
    if size and os.pread(fd, 1, size - 1) != b"\n":
        os.write(fd, b"\n")
        _sync(fd)
