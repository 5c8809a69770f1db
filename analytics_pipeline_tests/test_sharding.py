"""A day cut into shards: every raw line read once, as the unsharded reader reads it, and the same tables."""

import gzip
import json
import shutil
from datetime import date
from pathlib import Path

import dagster as dg
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from analytics_pipeline.cleaning import EventCleaner
from analytics_pipeline.defs.resources import ShardIOManager, StagingAreaResource
from analytics_pipeline.raw_log import MAX_LINE_BYTES, iter_raw_lines
from analytics_pipeline.schema import ANALYTICS_TABLES
from analytics_pipeline.sharding import iter_shard_lines, plan_shards, shard_count
from analytics_pipeline.staging import shards_dir, stage_partition
from analytics_pipeline.work_dirs import writing
from analytics_pipeline_tests.conftest import TEST_SALT, build_pipeline

DAY = "2026-11-02"


def write_files(raw_dir: Path, files: dict[str, bytes]) -> None:
    day_dir = raw_dir / DAY
    day_dir.mkdir(parents=True, exist_ok=True)
    for name, content in files.items():
        (day_dir / name).write_bytes(gzip.compress(content) if name.endswith(".gz") else content)


def sharded_lines(raw_dir: Path, target: int, max_shards: int, max_line_bytes: int = MAX_LINE_BYTES) -> list:
    return [
        line
        for shard in plan_shards(raw_dir, DAY, target, max_shards)
        for line in iter_shard_lines(raw_dir, DAY, shard, max_line_bytes)
    ]


def test_shard_count_follows_the_day_size_within_bounds():
    assert shard_count(0, 5000, 64) == 1
    assert shard_count(50_000, 5000, 64) == 10
    assert shard_count(50_001, 5000, 64) == 11
    assert shard_count(10_000_000, 5000, 64) == 64
    with pytest.raises(ValueError, match="at least 1"):
        shard_count(10, 0, 64)


@settings(max_examples=60, deadline=None)
@given(
    files=st.lists(
        st.lists(st.binary(min_size=0, max_size=40).map(lambda b: b.replace(b"\n", b"")), max_size=30),
        min_size=0,
        max_size=4,
    ),
    gzipped=st.lists(st.booleans(), min_size=4, max_size=4),
    crlf=st.booleans(),
    trailing_newline=st.booleans(),
    target=st.integers(1, 20),
    max_shards=st.integers(1, 12),
    max_line_bytes=st.sampled_from([MAX_LINE_BYTES, 1, 12, 30]),
)
def test_shards_read_every_line_once_as_the_unsharded_reader(
    tmp_path_factory, files, gzipped, crlf, trailing_newline, target, max_shards, max_line_bytes
):
    raw_dir = tmp_path_factory.mktemp("raw")
    ending = b"\r\n" if crlf else b"\n"
    write_files(
        raw_dir,
        {
            f"events-{i}.jsonl{'.gz' if gzipped[i] else ''}": ending.join(lines) + (ending if trailing_newline else b"")
            for i, lines in enumerate(files)
        },
    )
    expected = list(iter_raw_lines(raw_dir, DAY, max_line_bytes))
    shards = plan_shards(raw_dir, DAY, target, max_shards)
    assert 1 <= len(shards) <= max_shards
    assert sum(shard.lines for shard in shards) == len(expected)
    assert sharded_lines(raw_dir, target, max_shards, max_line_bytes) == expected
    # A line longer than the limit (its newline not counted) comes without its content, flagged; the rest whole.
    if trailing_newline and not crlf:
        contents = [content for lines in files for content in lines or [b""]]
        assert [(line.too_long, line.content) for line in expected] == [
            (True, b"") if len(c) > max_line_bytes else (False, c.rstrip(b"\r")) for c in contents
        ]


def test_shards_are_cut_by_bytes_so_long_texts_spread_evenly(tmp_path):
    # 100 short interaction-like lines, then 100 long resume-like lines: equal line counts would put all the NER in one shard.
    short, long = b'{"a":1}', b'{"t":"' + b"x" * 2000 + b'"}'
    write_files(tmp_path, {"events-a.jsonl": b"\n".join([short] * 100 + [long] * 100) + b"\n"})
    shards = plan_shards(tmp_path, DAY, target_lines=50, max_shards=4)
    # About 50,400 bytes each: the 100 short lines with 25 long ones, then 25 long ones per shard.
    assert [shard.lines for shard in shards] == [125, 25, 25, 25]


def test_one_line_larger_than_every_shard_target_gives_fewer_shards(tmp_path):
    write_files(tmp_path, {"events-a.jsonl": b"a\n" + b"x" * 10_000 + b"\nb\n"})
    shards = plan_shards(tmp_path, DAY, target_lines=1, max_shards=3)
    assert len(shards) == 2
    assert [line.content[:1] for line in sharded_lines(tmp_path, 1, 3)] == [b"a", b"x", b"b"]


def test_a_day_without_files_is_one_empty_shard(tmp_path):
    (shard,) = plan_shards(tmp_path, DAY, 100, 8)
    assert shard.lines == 0 and list(iter_shard_lines(tmp_path, DAY, shard)) == []


def table_rows(pipeline) -> dict[str, list[tuple]]:
    return {t.name: sorted(pipeline.query(f"SELECT * FROM {t.qualified_name}"), key=repr) for t in ANALYTICS_TABLES}


def staged_run(root: Path, raw_dir: Path, shards: int):
    root.mkdir()
    shutil.copytree(raw_dir, root / "raw")
    staging = StagingAreaResource(staging_dir=str(root / "staging"), chunk_lines=64, shard_events=1, max_shards=shards)
    pipeline = build_pipeline(root, staging=staging, shard_io_manager=ShardIOManager(staging_dir=str(root / "staging")))
    result = pipeline.run(DAY)
    assert result.success
    return pipeline, result


@pytest.mark.slow
def test_a_sharded_day_gives_the_same_tables_as_the_unsharded_day(tmp_path, scrubber):
    from analytics_pipeline.sample_data import write_sample

    source = tmp_path / "source"
    write_sample(source, days=1, sessions_per_day=10, users=8, seed=5, malformed_share=0.1)
    (day_dir,) = source.iterdir()
    day_dir.rename(source / DAY)
    sample = next((source / DAY).iterdir())
    lines = sample.read_bytes().splitlines()
    first_valid = next(line for line in lines if (json.loads(line) if line.startswith(b"{") else None))
    # A client retry at the end of the day: its first copy is in the first shard, the repeat in the last.
    with sample.open("ab") as handle:
        handle.write(first_valid + b"\n")

    unsharded, _ = staged_run(tmp_path / "n1", source, 1)
    expected = table_rows(unsharded)
    retry = (f"{DAY}/{sample.name}", len(lines) + 1, "duplicate_event_id")
    assert retry in {row[1:4] for row in expected["quarantine"]}
    for shards in (3, 8):
        pipeline, result = staged_run(tmp_path / f"n{shards}", source, shards)
        scrub_steps = [s for s in result.all_events if s.is_step_success and "scrub_shard[" in s.step_key]
        assert len(scrub_steps) == shards
        assert table_rows(pipeline) == expected, f"{shards} shards"
        # The merge leaves no shard behind: the day's staged files are the only copy.
        assert not shards_dir(pipeline.root / "staging", DAY).exists()


def test_a_staging_that_fails_leaves_no_work_directory(tmp_path, scrubber):
    def lines():
        yield from iter_raw_lines(tmp_path / "raw", DAY)
        raise OSError(28, "No space left on device")

    write_files(tmp_path / "raw", {"a.jsonl": b'{"not": "an event"}\n' * 3})
    cleaner = EventCleaner(date.fromisoformat(DAY), TEST_SALT.encode(), scrubber)
    with pytest.raises(OSError, match="No space left"):
        stage_partition(lines(), cleaner, tmp_path / "staging" / DAY, chunk_lines=2)
    assert list((tmp_path / "staging").iterdir()) == [], "no work directory, no lock, no partition"


def test_a_days_plan_removes_what_ended_runs_left_in_staging(tmp_path):
    write_files(tmp_path / "raw", {"a.jsonl": b""})
    pipeline = build_pipeline(tmp_path)
    job = dg.GraphDefinition("g").to_job()
    ended = pipeline.instance.create_run_for_job(job, status=dg.DagsterRunStatus.FAILURE)
    live = pipeline.instance.create_run_for_job(job, status=dg.DagsterRunStatus.STARTED)
    staging = tmp_path / "staging"
    for run in (ended, live):
        (shards_dir(staging, DAY) / run.run_id / "shard_000").mkdir(parents=True)
    (staging / f".{DAY}.tmp-99999999").mkdir()  # a staging that failed or was killed: its lock is free
    (staging / f".{DAY}.tmp-99999998").mkdir()
    (staging / ".2026-11-03.tmp-99999999").mkdir()  # another day's: that day's plan decides
    with writing(staging / f".{DAY}.tmp-99999998"):  # a live writer's
        assert pipeline.run(DAY).success
    assert sorted(path.name for path in shards_dir(staging, DAY).iterdir()) == [live.run_id]
    assert not (staging / f".{DAY}.tmp-99999999").exists()
    assert (staging / f".{DAY}.tmp-99999998").exists() and (staging / ".2026-11-03.tmp-99999999").exists()
