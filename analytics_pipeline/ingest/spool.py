"""Request bodies on disk instead of in memory, so the server's memory does not grow with the bodies in flight.

A :class:`Spool` is an anonymous temporary file in ``TMPDIR`` (``O_TMPFILE`` where the file system has it,
else created and unlinked at once), owner-only (0600): no other user can open it, and nothing of it is
left on disk once the server closes it or dies, kill -9 included. A parser process opens it through
``/proc/<server pid>/fd/<fd>`` (Linux) from a :class:`SpoolRef`, which also names the file's inode, so a
descriptor number reused after its request was abandoned can never hand over another request's body.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class SpoolRef:
    """A server process's spool file, as a parser process can open it (picklable)."""

    pid: int
    fd: int
    device: int
    inode: int

    def read(self) -> bytes:
        fd = os.open(f"/proc/{self.pid}/fd/{self.fd}", os.O_RDONLY | os.O_CLOEXEC)
        with open(fd, "rb", buffering=0) as file:
            stat = os.fstat(fd)
            if (stat.st_dev, stat.st_ino) != (self.device, self.inode):
                raise FileNotFoundError("the request's spool file is gone")
            return file.read()


class Spool:
    """An anonymous, owner-only temporary file holding one request body; closing it frees it."""

    def __init__(self):
        self._file = tempfile.TemporaryFile()

    def write(self, chunks: Iterable[bytes]) -> None:
        """Append ``chunks``, flushed to the file so that a parser process can read them (blocking I/O)."""
        self._file.writelines(chunks)
        self._file.flush()

    def ref(self) -> SpoolRef:
        fd = self._file.fileno()
        stat = os.fstat(fd)
        return SpoolRef(os.getpid(), fd, stat.st_dev, stat.st_ino)

    def close(self) -> None:
        self._file.close()
