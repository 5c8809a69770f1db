"""The raw directory as a careless operator or a malicious insider leaves it: rotated, gzip'd,
upper-case, nested, symlinked and oddly named files, and directories that are not days."""

from __future__ import annotations

import gzip
import json
import logging
import os
import uuid

import pytest

from analytics_pipeline.lifecycle.erasure import erase_from_raw_log
from analytics_pipeline.privacy.hashing import USER_DOMAIN, pseudonymize
from analytics_pipeline.raw_log import available_days, day_files, iter_raw_lines, skipped_files
from analytics_pipeline.sample_data import write_sample
from analytics_pipeline_tests.conftest import TEST_SALT

DAY = "2026-11-02"
SALT = TEST_SALT.encode()


def event(user_id: str = "synthetic-user-1", **overrides) -> str:
    data = {
        "event_id": str(uuid.uuid4()),
        "event_type": "interaction",
        "occurred_at": "2026-11-02T10:00:00Z",
        "user_id": user_id,
        "action": "click",
        "element": "tailor-button",
    }
    return json.dumps(data | overrides)


@pytest.fixture
def messy_raw_dir(tmp_path):
    """A day directory with every kind of entry, and a file outside the raw dir a symlink points at."""
    raw = tmp_path / "raw"
    day = raw / DAY
    day.mkdir(parents=True)
    (day / "events-a.jsonl").write_text(event() + "\n" + event("synthetic-user-2") + "\n")
    (day / "events-a.jsonl.1").write_text(event() + "\n")
    (day / "events-b.JSONL").write_text(event() + "\n")
    with gzip.open(day / "events-a.jsonl.2.gz", "wt") as handle:
        handle.write(event() + "\n" + event("synthetic-user-2") + "\n")
    (day / "notes.txt").write_text("not events\n")
    (day / "nested").mkdir()
    (day / "nested" / "events.jsonl").write_text(event() + "\n")
    (day / "evil\nname.jsonl").write_text(event() + "\n")
    (day / "evil\u202elnosj.jsonl").write_text(event() + "\n")
    outside = tmp_path / "outside.jsonl"
    outside.write_text(event("synthetic-user-2") + "\n")
    (day / "link.jsonl").symlink_to(outside)
    (raw / "2026-13-45").mkdir()
    (raw / "2026-13-45" / "events.jsonl").write_text(event() + "\n")
    (raw / "scratch").mkdir()
    return raw, outside


def test_rotated_gzip_and_any_case_files_are_read_the_rest_is_reported(messy_raw_dir):
    raw, _ = messy_raw_dir
    assert [p.name for p in day_files(raw, DAY)] == [
        "events-a.jsonl",
        "events-a.jsonl.1",
        "events-a.jsonl.2.gz",
        "events-b.JSONL",
    ]
    lines = list(iter_raw_lines(raw, DAY))
    assert len(lines) == 6 and all(json.loads(line.content)["event_type"] == "interaction" for line in lines)
    assert {line.source_file for line in lines} == {f"{DAY}/{p.name}" for p in day_files(raw, DAY)}
    skipped = {s.name: s.reason for s in skipped_files(raw, DAY)}
    assert set(skipped) == {
        "notes.txt",
        "nested",
        "link.jsonl",
        ascii("evil\nname.jsonl"),
        ascii("evil\u202elnosj.jsonl"),
    }
    assert "symlink" in skipped["link.jsonl"] and "nested" in skipped["nested"]
    assert all("\n" not in name and "\u202e" not in name for name in skipped)


def test_a_directory_that_is_not_a_day_is_skipped_with_a_warning(messy_raw_dir, caplog):
    raw, _ = messy_raw_dir
    with caplog.at_level(logging.WARNING, logger="analytics_pipeline.raw_log"):
        assert available_days(raw) == [DAY]
    assert "2026-13-45" in caplog.text and "scratch" in caplog.text


def test_symlinks_are_never_followed_for_reading_or_writing(messy_raw_dir):
    raw, outside = messy_raw_dir
    before = outside.read_bytes()
    assert all("link" not in line.source_file for line in iter_raw_lines(raw, DAY))
    blanked = erase_from_raw_log(raw, pseudonymize("synthetic-user-2", SALT, USER_DOMAIN), SALT)
    assert outside.read_bytes() == before  # the file outside the raw dir is untouched
    assert blanked == {f"{DAY}/events-a.jsonl": 1, f"{DAY}/events-a.jsonl.2.gz": 1}
    remaining = [line.content for line in iter_raw_lines(raw, DAY)]
    assert not any(b"synthetic-user-2" in content for content in remaining)
    assert sum(1 for content in remaining if not content.strip()) == 2  # blanked, line numbers kept
    assert oct(os.stat(raw / DAY / "events-a.jsonl.2.gz").st_mode & 0o777) == "0o600"


def test_forget_blanks_a_torn_last_line(tmp_path):
    day = tmp_path / "raw" / DAY
    day.mkdir(parents=True)
    torn = event("synthetic-user-3")[:-20]  # a writer killed mid-line: no newline, not JSON
    path = day / "events-a.jsonl"
    path.write_text(event() + "\n" + torn)
    blanked = erase_from_raw_log(tmp_path / "raw", pseudonymize("synthetic-user-3", SALT, USER_DOMAIN), SALT)
    assert blanked == {f"{DAY}/events-a.jsonl": 1}
    assert b"synthetic-user-3" not in path.read_bytes()
    assert path.read_bytes().endswith(b" " * len(torn))


@pytest.mark.slow
def test_the_pipeline_reads_rotated_files_and_warns_about_skipped_ones(pipeline):
    write_sample(pipeline.raw_dir, days=1, sessions_per_day=3, users=3, seed=3, malformed_share=0.0)
    (day,) = sorted(p.name for p in pipeline.raw_dir.iterdir())
    with gzip.open(pipeline.raw_dir / day / "events-old.jsonl.1.gz", "wt") as handle:
        handle.write(event(occurred_at=f"{day}T10:00:00Z") + "\n")
    (pipeline.raw_dir / day / "events.jsonl.bak").write_text(event() + "\n")
    result = pipeline.run(day)
    assert result.success
    checks = {e.check_name: e for e in result.get_asset_check_evaluations()}
    skipped = checks["no_raw_files_skipped"]
    assert not skipped.passed and skipped.severity.value == "WARN"
    assert list(skipped.metadata["skipped_files"].data) == ["events.jsonl.bak"]
    assert checks["raw_lines_reconcile"].passed
    files = {f for (f,) in pipeline.query("SELECT DISTINCT source_file FROM analytics.interactions")}
    assert f"{day}/events-old.jsonl.1.gz" in files
