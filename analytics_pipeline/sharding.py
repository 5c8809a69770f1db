"""Cut a day of raw files into shards: line-aligned byte ranges that are scrubbed independently.

Scrubbing a day is almost all NER, and one line never depends on another (the one exception,
duplicate event IDs, is settled when the shards are merged: see ``staging.merge_shards``). So the
day is cut into N ranges of about equal size in bytes (NER cost follows text length, not line
count), each a list of segments ``(file, start, end, first_line)`` that start and end on line
boundaries. N comes from the number of lines: ``ceil(lines / target_lines)``, at most ``max_shards``.

Reading a shard yields exactly the :class:`RawLine` objects (same file, same line numbers, same
bytes) the unsharded reader yields for those lines, so a sharded day stages the same rows.
A gzip'd file is cut in its decompressed bytes (a shard seeks by decompressing up to its start).
"""

from __future__ import annotations

import gzip
import math
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from analytics_pipeline.raw_log import (
    MAX_LINE_BYTES,
    RawLine,
    day_dir,
    day_files,
    is_gzip,
    open_raw_file,
    raw_line,
    read_lines,
)


@dataclass(frozen=True)
class Segment:
    """Lines of one raw file: from byte ``start`` (where line ``first_line`` begins) up to byte ``end``.

    ``end`` is None for the last segment of a file: it reads to the end of the file, as the unsharded reader does.
    """

    file: str  # the file's name in the day directory
    start: int
    end: int | None
    first_line: int  # 1-based


@dataclass(frozen=True)
class Shard:
    index: int
    count: int  # shards of the day
    segments: tuple[Segment, ...]
    lines: int  # as counted when planned

    @property
    def mapping_key(self) -> str:
        """The shard's name in Dagster step keys: ``scrub_shard[shard_003_of_008]``."""
        return f"shard_{self.index:03d}_of_{self.count:03d}"


@contextmanager
def _open_lines(path: Path) -> Iterator[BinaryIO]:
    with open_raw_file(path) as raw, gzip.open(raw) if is_gzip(path) else raw as handle:
        yield handle


def _line_lengths(path: Path) -> Iterator[int]:
    with _open_lines(path) as handle:
        for _, length in read_lines(handle):
            yield length


def shard_count(lines: int, target_lines: int, max_shards: int) -> int:
    """How many shards a day of ``lines`` lines gets: about ``target_lines`` each, 1 to ``max_shards``."""
    if target_lines < 1 or max_shards < 1:
        raise ValueError(f"target_lines and max_shards must be at least 1, got {target_lines} and {max_shards}")
    return max(1, min(max_shards, math.ceil(lines / target_lines)))


def plan_shards(raw_dir: Path, day: str, target_lines: int, max_shards: int) -> list[Shard]:
    """Cut the day's raw files into shards of about equal bytes, on line boundaries.

    Two streaming passes over the files (count, then cut), in bounded memory; a day without
    lines is one empty shard, so every day has a staging step.
    """
    files = day_files(raw_dir, day)
    sizes = []  # (lines, bytes) per file
    for path in files:
        lines = size = 0
        for length in _line_lengths(path):
            lines, size = lines + 1, size + length
        sizes.append((lines, size))
    total_lines, total_bytes = sum(s[0] for s in sizes), sum(s[1] for s in sizes)
    count = shard_count(total_lines, target_lines, max_shards)
    # Cut before the first line that starts at or after each target.
    targets = [total_bytes * k // count for k in range(1, count)]
    cuts: list[tuple[int, int, int]] = []  # (file index, byte offset, line number) where a new shard starts
    offset = 0  # bytes of the day before the current file
    for index, (path, (_, size)) in enumerate(zip(files, sizes)):
        if targets and offset + size > targets[0]:
            position = 0
            for number, length in enumerate(_line_lengths(path), start=1):
                while targets and offset + position >= targets[0]:
                    targets.pop(0)
                    if not cuts or cuts[-1] != (index, position, number):
                        cuts.append((index, position, number))
                position += length
        offset += size
    while targets and targets[0] <= offset:  # targets past the last line start (one huge line): fewer shards
        targets.pop(0)
    return _shards_from_cuts(files, sizes, cuts)


def _shards_from_cuts(files: list[Path], sizes: list[tuple[int, int]], cuts: list[tuple[int, int, int]]) -> list[Shard]:
    if not files:
        return [Shard(0, 1, (), 0)]
    boundaries = [(0, 0, 1), *cuts, (len(files), 0, 1)]  # shard k runs from boundaries[k] to boundaries[k + 1]
    count = len(boundaries) - 1
    shards = []
    for index in range(count):
        (first_file, start, first_line), (last_file, end, end_line) = boundaries[index], boundaries[index + 1]
        segments, lines = [], 0
        for file_index in range(first_file, min(last_file, len(files) - 1) + 1):
            begins_here = file_index == first_file
            ends_here = file_index == last_file
            if ends_here and end == 0:
                break  # the shard ends where this file starts
            file_lines = sizes[file_index][0]
            segment_start = start if begins_here else 0
            segment_line = first_line if begins_here else 1
            segments.append(Segment(files[file_index].name, segment_start, end if ends_here else None, segment_line))
            lines += (end_line if ends_here else file_lines + 1) - segment_line
        shards.append(Shard(index, count, tuple(segments), lines))
    return shards


def iter_shard_lines(raw_dir: Path, day: str, shard: Shard, max_line_bytes: int = MAX_LINE_BYTES) -> Iterator[RawLine]:
    """The shard's lines, streamed in bounded memory, as the unsharded reader (``raw_log.iter_raw_lines``) yields them."""
    directory = day_dir(raw_dir, day)
    for segment in shard.segments:
        with _open_lines(directory / segment.file) as handle:
            handle.seek(segment.start)
            position, number = segment.start, segment.first_line
            lines = read_lines(handle, max_line_bytes)
            # Checked before reading on: the next shard's first line may be a long one to skip.
            while segment.end is None or position < segment.end:
                if (item := next(lines, None)) is None:
                    break
                line, length = item
                yield raw_line(f"{day}/{segment.file}", number, line)
                position += length
                number += 1
