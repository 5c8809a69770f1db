"""Right to erasure: remove one pseudonymous user from every table, Parquet file and raw log.

Works from the pseudonym alone (HMAC of the user ID), so the raw user ID never has to
be stored anywhere, not even in Dagster's run config. Every step is idempotent and may be
interrupted (a crash, ``kill -9``): running it again completes it. Leftovers of killed runs
(torn Parquet in a writer's work directory, half-written rewrites) are deleted, never read;
live writers are waited for; a file that cannot be read is named, and the erasure fails after
doing everything else rather than report itself complete.
"""

from __future__ import annotations

import gzip
import json
import os
import re
import shutil
import time
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from analytics_pipeline.privacy.hashing import PSEUDONYM_PATTERN, USER_DOMAIN, pseudonymize
from analytics_pipeline.raw_log import json_object, open_raw_file, read_lines
from analytics_pipeline.schema import ERASURE_LEDGER
from analytics_pipeline.warehouse import CATALOG, MEMORY_LIMIT, ensure_tables, transaction
from analytics_pipeline.work_dirs import DISCARDED_NAME, WORK_DIR_NAME, is_written, remove_if_abandoned

USER_COLUMN = "anon_user_id"
ERASABLE_SCHEMAS = ("analytics", "training")
# A truncated line (crash mid-write) is not JSON but may still name its user and resume.
_ID_FIELDS = {name: re.compile(rb'"%s"\s*:\s*"((?:[^"\\]|\\.)*)"' % name.encode()) for name in ("user_id", "resume_id")}
# How long an erasure waits for a run that is writing a work directory (a shard takes ~30 s, a day a few minutes).
IN_PROGRESS_WAIT_SECONDS = 600
_GZIP_MAGIC = b"\x1f\x8b"
# In the raw dir (not a day directory, so never read as a log): the size and modification time of each raw file
# an erasure is about to edit in place, written before the edit. Blanking a line keeps the file's size, and
# the old mtime is put back after it, so an erasure is not "new data" for retention (which would otherwise
# keep the day for ever) nor for the raw-log sensor. After a crash between the edit and the restore, the next
# erasure restores what the journal lists, for files whose size is still the recorded one (an append since
# is new data: its mtime stays). Holds relative file names and numbers only.
MTIME_JOURNAL = ".erasure-mtimes.json"
_BLANK_CHUNK_BYTES = 1024 * 1024
# Reading or decompressing a file can fail in these ways; such a file is reported, not guessed at.
_UNREADABLE = (OSError, EOFError, zlib.error, pa.ArrowException)


@dataclass
class Sweep:
    """What an erasure did under one directory. Paths are relative to it (escaped if not printable)."""

    erased: dict[str, int] = field(default_factory=dict)  # rows (Parquet) or lines (raw files) per file
    leftovers: list[str] = field(default_factory=list)  # work files of killed runs, deleted unread
    unreadable: list[str] = field(default_factory=list)  # could not be read: not known to be free of the user
    in_progress: list[str] = field(default_factory=list)  # still written by a live run when the wait ran out


def _relative(path: Path, root: Path) -> str:
    name = str(path.relative_to(root))
    return name if name.isprintable() else ascii(name)


def validate_pseudonym(anon_user_id: str) -> str:
    if not PSEUDONYM_PATTERN.match(anon_user_id):
        raise ValueError("anon_user_id must be a 64-hex-digit pseudonym (analytics-pipeline pseudonym USER_ID)")
    return anon_user_id


def user_tables(conn: duckdb.DuckDBPyConnection) -> list[str]:
    """Every table in the analytics and training schemas with a user column, found in the
    catalog so tables added later (training sets) are covered. The ledger is kept."""
    rows = conn.execute(
        f"""
        SELECT table_schema || '.' || table_name FROM information_schema.columns
        WHERE table_catalog = ? AND column_name = ? AND table_schema IN {ERASABLE_SCHEMAS}
          AND NOT (table_schema = ? AND table_name = ?)
        ORDER BY 1
        """,
        [CATALOG, USER_COLUMN, ERASURE_LEDGER.schema, ERASURE_LEDGER.name],
    ).fetchall()
    return [name for (name,) in rows]


def erase_from_tables(conn: duckdb.DuckDBPyConnection, anon_user_id: str) -> dict[str, int]:
    """Record the user in the ledger and delete their rows everywhere, in one transaction.

    Returns rows deleted per table. The ledger row is what keeps late or replayed events
    of the user out of later loads (``warehouse.load_partition``).
    """
    ensure_tables(conn)
    with transaction(conn):
        conn.execute(
            f"""INSERT INTO {ERASURE_LEDGER.qualified_name}
                SELECT ?, now() AT TIME ZONE 'UTC'
                WHERE NOT EXISTS (SELECT 1 FROM {ERASURE_LEDGER.qualified_name} WHERE anon_user_id = ?)""",
            [anon_user_id, anon_user_id],
        )
        deleted = {}
        for table in user_tables(conn):
            (deleted[table],) = conn.execute(f"DELETE FROM {table} WHERE {USER_COLUMN} = ?", [anon_user_id]).fetchone()
    # Write the deletions into the file now rather than leaving them in the WAL.
    conn.execute("CHECKPOINT")
    return deleted


def compact_database(database: Path) -> tuple[int, int]:
    """Rewrite the DuckDB file with its live data only, so erased values are not left in its free blocks.

    DuckDB marks deleted rows and reuses their blocks later but never scrubs them: the bytes of an
    erased user stay readable in the file. ``COPY FROM DATABASE`` into a fresh file (0600), then an
    atomic rename over the old one, leaves nothing of them. Call it with no connection open for
    writing (the erasure op holds the writers' pool). Returns the file's size before and after.
    A killed compaction's copy (any process's: they hold the user's rows) is deleted first.
    """
    database = Path(database)
    tmp = database.with_name(f".{database.name}.compacting-{os.getpid()}")
    for leftover in database.parent.glob(f".{database.name}.compacting-*"):
        leftover.unlink(missing_ok=True)
    before = database.stat().st_size
    conn = duckdb.connect()
    try:
        conn.execute(f"SET memory_limit = '{MEMORY_LIMIT}'")
        conn.execute("ATTACH ? AS erased_source (READ_ONLY)", [str(database)])
        conn.execute("ATTACH ? AS compacted", [str(tmp)])
        conn.execute("COPY FROM DATABASE erased_source TO compacted")
        conn.execute("DETACH compacted")
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    finally:
        conn.close()
    os.chmod(tmp, 0o600)
    os.replace(tmp, database)
    return before, database.stat().st_size


def erased_users(conn: duckdb.DuckDBPyConnection) -> set[str]:
    ensure_tables(conn)
    return {v for (v,) in conn.execute(f"SELECT anon_user_id FROM {ERASURE_LEDGER.qualified_name}").fetchall()}


def _replace_atomically(path: Path, write: Callable[[Path], None], keep_mtime: bool = False) -> None:
    """Write a sibling temp file (0600), then rename it over ``path``: readers see old or new, never half.
    ``keep_mtime``: the new file gets the old one's modification time (a raw file: an erasure is no new data)."""
    tmp = path.with_name(f".{path.name}.erasing-{os.getpid()}")
    try:
        mtime_ns = path.lstat().st_mtime_ns if keep_mtime else None
        write(tmp)
        os.chmod(tmp, 0o600)
        if keep_mtime:
            os.utime(tmp, ns=(time.time_ns(), mtime_ns))
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def _erase_parquet_file(path: Path, anon_user_id: str) -> int:
    """Rewrite one Parquet file without the user's rows, batch by batch; returns the rows removed."""
    parquet = pq.ParquetFile(path)
    try:
        if USER_COLUMN not in parquet.schema_arrow.names:
            return 0
        users = parquet.read(columns=[USER_COLUMN]).column(USER_COLUMN)
        removed = pc.sum(pc.equal(users, anon_user_id)).as_py() or 0
        if removed:

            def write(tmp: Path) -> None:
                with pq.ParquetWriter(tmp, parquet.schema_arrow) as writer:
                    for batch in parquet.iter_batches():
                        users = pc.fill_null(pc.equal(batch[USER_COLUMN], anon_user_id), False)
                        writer.write_batch(batch.filter(pc.invert(users)))

            _replace_atomically(path, write)
        return removed
    finally:
        parquet.close()


def _parquet_pass(root: Path, anon_user_id: str, sweep: Sweep) -> list[Path]:
    """One walk of ``root``: leftovers deleted, every other Parquet file rewritten without the user.
    Returns the work directories that a live run is still writing (not read: their Parquet is unfinished)."""
    written = []
    for directory, subdirs, files in os.walk(root):  # symlinks are never followed
        here = Path(directory)
        for name in [n for n in subdirs if WORK_DIR_NAME.match(n) or DISCARDED_NAME.match(n)]:
            subdirs.remove(name)
            path = here / name
            if DISCARDED_NAME.match(name):
                shutil.rmtree(path, ignore_errors=True)
            elif not remove_if_abandoned(path):
                written.append(path)
                continue
            sweep.leftovers.append(_relative(path, root))
        for name in files:
            path = here / name
            relative = _relative(path, root)
            if DISCARDED_NAME.match(name):
                path.unlink(missing_ok=True)
                sweep.leftovers.append(relative)
            elif name.endswith(".parquet") and not path.is_symlink():
                try:
                    if removed := _erase_parquet_file(path, anon_user_id):
                        sweep.erased[relative] = sweep.erased.get(relative, 0) + removed
                except _UNREADABLE:
                    if relative not in sweep.unreadable:
                        sweep.unreadable.append(relative)
    return written


def erase_from_parquet(root: Path, anon_user_id: str, wait_seconds: float = IN_PROGRESS_WAIT_SECONDS) -> Sweep:
    """Rewrite every Parquet file under ``root`` that holds the user's rows, without them.

    A killed run's work directories (torn Parquet) are deleted. A live run's are waited for (up to
    ``wait_seconds``), then the tree is walked again: what the run renamed into place may hold the
    user's rows. Whatever could not be read or was still being written is listed in the result.
    """
    root = Path(root)
    sweep = Sweep()
    deadline = time.monotonic() + wait_seconds
    while root.is_dir() and (written := _parquet_pass(root, anon_user_id, sweep)):
        while written and time.monotonic() < deadline:
            time.sleep(0.5)
            written = [path for path in written if path.exists() and is_written(path)]
        if written:  # out of time: named, so the erasure fails instead of claiming to be complete
            sweep.in_progress = [_relative(path, root) for path in written]
            break
        # The writers are done: walk again, for what they renamed into place (and any newer work).
    return sweep


# --- raw files -------------------------------------------------------------------------------------


def _field_values(body: bytes, event: dict | None, name: str) -> list[str]:
    if event is not None:
        value = event.get(name)
        return [value] if isinstance(value, str) else []
    match = _ID_FIELDS[name].search(body)  # a torn line: the field may still be there
    return [match.group(1).decode("utf-8", "replace")] if match else []


def _line_user_id(body: bytes) -> str | None:
    values = _field_values(body, json_object(body), "user_id")
    return values[0] if values else None


@contextmanager
def _raw_lines(path: Path) -> Iterator[Iterator[bytes]]:
    """A raw file's lines, gunzipped when it is gzip (by its first bytes, whatever its name)."""
    with open_raw_file(path) as raw:  # O_NOFOLLOW, a regular file only
        if raw.peek(2)[:2] == _GZIP_MAGIC:
            with gzip.open(raw) as handle:
                yield handle
        else:
            yield raw


def _is_gzip(path: Path) -> bool:
    with open_raw_file(path) as raw:
        return raw.peek(2)[:2] == _GZIP_MAGIC


def _blank_too_long(fd: int, offset: int, length: int) -> None:
    """Overwrite a line too long to be read whole (``length`` bytes from ``offset``) with spaces, keeping its
    line break, a chunk at a time."""
    tail = os.pread(fd, 2, offset + max(length - 2, 0))
    end = offset + length - (2 if tail == b"\r\n" else 1 if tail.endswith(b"\n") else 0)
    for start in range(offset, end, _BLANK_CHUNK_BYTES):
        os.pwrite(fd, b" " * min(_BLANK_CHUNK_BYTES, end - start), start)


class _MtimeJournal:
    """The journal of in-place edits (``MTIME_JOURNAL``): recorded before an edit, restored after it."""

    def __init__(self, raw_dir: Path) -> None:
        self.raw_dir = raw_dir
        self.path = raw_dir / MTIME_JOURNAL
        self.entries: dict[str, list[int]] = {}

    def recover(self) -> None:
        """Put back the mtimes a crashed erasure recorded but may not have restored, then forget them."""
        try:
            with open_raw_file(self.path) as handle:
                entries = json.loads(handle.read())
        except (OSError, ValueError):  # none (no erasure crashed), or unreadable: restore nothing rather than guess
            entries = {}
        for leftover in self.raw_dir.glob(f"{MTIME_JOURNAL}.tmp-*"):  # torn while written: its edit never began
            leftover.unlink(missing_ok=True)
        for name, (size, mtime_ns) in entries.items() if isinstance(entries, dict) else ():
            path = self.raw_dir / name
            try:
                with open_raw_file(path) as handle:
                    self._restore(handle.fileno(), size, mtime_ns)
            except OSError:
                continue  # gone, or no longer a regular file: nothing to restore
        self.path.unlink(missing_ok=True)

    def record(self, path: Path, size: int, mtime_ns: int) -> None:
        self.entries[str(path.relative_to(self.raw_dir))] = [size, mtime_ns]
        tmp = self.path.with_name(f"{MTIME_JOURNAL}.tmp-{os.getpid()}")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
        with os.fdopen(fd, "w") as handle:
            json.dump(self.entries, handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.rename(tmp, self.path)  # atomic, like os.replace

    @staticmethod
    def _restore(fd: int, size: int, mtime_ns: int) -> None:
        current = os.fstat(fd)
        if current.st_size == size:  # grown meanwhile (the API appending): that is new data, keep its mtime
            os.utime(fd, ns=(current.st_atime_ns, mtime_ns))

    def restore(self, fd: int, path: Path) -> None:
        size, mtime_ns = self.entries[str(path.relative_to(self.raw_dir))]
        self._restore(fd, size, mtime_ns)

    def close(self) -> None:
        self.path.unlink(missing_ok=True)


def _blank_in_place(path: Path, blank: Callable[[bytes], bool], journal: _MtimeJournal | None = None) -> int:
    with open_raw_file(path, "r+b") as handle:  # O_NOFOLLOW: never writes through a symlink
        before = os.fstat(handle.fileno())
        count = offset = 0

        def recorded() -> None:  # before the first byte is written, once
            if journal is not None and not count:
                journal.record(path, before.st_size, before.st_mtime_ns)

        # Streamed in bounded memory; pwrite only touches bytes already read.
        for line, length in read_lines(handle):
            if line is None:
                # Longer than any event (a torn write, never loaded): it is not read, so it may name the
                # user, and it is blanked whoever's erasure this is.
                recorded()
                _blank_too_long(handle.fileno(), offset, length)
                count += 1
            # A last line without its newline (a writer killed mid-line) is blanked too: it may name
            # the user. If it is still being written it is the erased user's own event, lost on purpose.
            elif (body := line.rstrip(b"\r\n")).strip() and blank(body):
                recorded()
                os.pwrite(handle.fileno(), b" " * len(body), offset)
                count += 1
            offset += length
        if count:
            os.fsync(handle.fileno())
            if journal is not None:
                journal.restore(handle.fileno(), path)
    return count


def _blank_gzip(path: Path, blank: Callable[[bytes], bool]) -> int:
    """A gzip'd file (rotated, no longer appended to) is rewritten with the matching lines blanked; one
    without such lines is left as it is (a rewrite would change its size, which the sensor reads as new data)."""
    with _raw_lines(path) as lines:
        if not any(
            line is None or ((body := line.rstrip(b"\r\n")).strip() and blank(body)) for line, _ in read_lines(lines)
        ):
            return 0
    count = 0

    def write(tmp: Path) -> None:
        nonlocal count
        with _raw_lines(path) as source, gzip.open(tmp, "wb") as target:
            for line, _ in read_lines(source):
                if line is None:  # too long to read: an empty line in its place (see _blank_in_place)
                    line, count = b"\n", count + 1
                elif (body := line.rstrip(b"\r\n")).strip() and blank(body):
                    line, count = b" " * len(body) + line[len(body) :], count + 1
                target.write(line)

    _replace_atomically(path, write, keep_mtime=True)
    return count


def _mentions(identifiers: set[str]) -> re.Pattern[bytes]:
    """Any of the user's raw IDs as a whole token, as written in a file or inside a JSON string."""
    spellings = {
        spelling.encode()
        for value in identifiers
        for spelling in (value, json.dumps(value)[1:-1], json.dumps(value, ensure_ascii=False)[1:-1])
    }
    alternatives = b"|".join(re.escape(s) for s in sorted(spellings, key=len, reverse=True))
    return re.compile(rb"(?<![A-Za-z0-9_])(?:" + alternatives + rb")(?![A-Za-z0-9_])")


def erase_from_raw_log(raw_dir: Path, anon_user_id: str, salt: bytes) -> Sweep:
    """Overwrite with spaces every line of the user, and every line too long to be read (over 4 MiB: no event,
    never loaded, it may name anyone), in every file under the raw dir, at any depth:
    the files the pipeline reads and the ones it skips (``notes.txt``, ``*.bak``, nested or non-day
    directories); gzip'd files (by content) are rewritten. Symlinks are never followed.

    A line is the user's when its ``user_id`` (JSON, or a torn line's field) has the pseudonym, or
    when it has no ``user_id`` of its own but names one of the user's raw IDs (user or resume ID, learnt
    from the user's lines). Plain files are blanked in place and keep their length, because the
    ingestion API may be appending to them (a rename would send its appends to a deleted file) and so
    every other event keeps its line number (the lineage columns stay right). Files holding the user's
    own lines go last, so a retry after a crash still learns the raw IDs from them. Returns lines
    blanked per file; files that cannot be read are listed, not guessed at.
    """
    raw_dir = Path(raw_dir)
    sweep = Sweep()
    journal = _MtimeJournal(raw_dir)
    if raw_dir.is_dir():
        journal.recover()  # a crashed erasure's edits: their files get their mtimes back
    files = []
    for directory, _, names in os.walk(raw_dir) if raw_dir.is_dir() else ():  # symlinks are never followed
        for name in names:
            path = Path(directory) / name
            if directory == str(raw_dir) and (name == MTIME_JOURNAL or name.startswith(f"{MTIME_JOURNAL}.tmp-")):
                continue  # the erasure's own bookkeeping (names and numbers only)
            if DISCARDED_NAME.match(name):  # a killed erasure's half-written rewrite
                path.unlink(missing_ok=True)
                sweep.leftovers.append(_relative(path, raw_dir))
            elif path.is_file() and not path.is_symlink():  # no FIFO, device or link
                files.append(path)
    identifiers: set[str] = set()
    affected: dict[Path, tuple[bool, bool]] = {}  # path -> (has lines naming the user, has lines naming no one)
    too_long: set[Path] = set()  # files with lines too long to read, blanked in any erasure
    for path in files:
        named = other = False
        try:
            with _raw_lines(path) as lines:
                for line, _ in read_lines(lines):
                    if line is None:
                        other = True
                        too_long.add(path)
                        continue
                    body = line.rstrip(b"\r\n")
                    if not body.strip():
                        continue
                    event = json_object(body)
                    user_ids = _field_values(body, event, "user_id")
                    if not user_ids:
                        other = True
                    elif pseudonymize(user_ids[0], salt, USER_DOMAIN) == anon_user_id:
                        named = True
                        identifiers.update(user_ids, _field_values(body, event, "resume_id"))
        except _UNREADABLE:
            sweep.unreadable.append(_relative(path, raw_dir))
            continue
        affected[path] = (named, other)
    mentions = _mentions(identifiers) if identifiers else None

    def users_line(body: bytes) -> bool:
        user_id = _line_user_id(body)
        if user_id is None:
            return mentions is not None and bool(mentions.search(body))
        return pseudonymize(user_id, salt, USER_DOMAIN) == anon_user_id

    # Files without the user's own lines first, then those with both kinds, then those with only the user's:
    # while any line naming an ID only is left, a line the IDs can be learnt from is left too.
    order = {(False, True): 0, (True, True): 1, (True, False): 2}
    for path in sorted((p for p, kinds in affected.items() if kinds in order), key=lambda p: order[affected[p]]):
        named, _ = affected[path]
        if (named or mentions is not None or path in too_long) and (
            count := _blank_gzip(path, users_line) if _is_gzip(path) else _blank_in_place(path, users_line, journal)
        ):
            sweep.erased[_relative(path, raw_dir)] = count
    journal.close()
    return sweep
