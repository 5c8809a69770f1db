"""An erasure's edits of raw files are no new data: their modification time is put back, even after a crash."""

import gzip
import json
import os

import pytest

from analytics_pipeline.lifecycle import erasure
from analytics_pipeline.lifecycle.raw_changes import last_modified
from analytics_pipeline.privacy.hashing import USER_DOMAIN, pseudonymize
from analytics_pipeline_tests.conftest import TEST_SALT

SALT = TEST_SALT.encode()
DAY = "2026-10-01"
OLD = 1_790_000_000_000_000_000  # ns: the time the file was last written by the API


def line(user_id: str, n: int) -> str:
    return json.dumps({"event_id": f"e{n}", "event_type": "interaction", "user_id": user_id}) + "\n"


@pytest.fixture
def raw_dir(tmp_path):
    day = tmp_path / "raw" / DAY
    day.mkdir(parents=True)
    (day / "events-a.jsonl").write_text(line("victim", 1) + line("other", 2) + line("victim", 3))
    with gzip.open(day / "events-b.jsonl.1.gz", "wt") as handle:
        handle.write(line("victim", 4) + line("other", 5))
    (day / "events-c.jsonl").write_text(line("other", 6))
    for path in day.iterdir():
        os.utime(path, ns=(OLD, OLD))
    return tmp_path / "raw"


def erase(raw_dir) -> erasure.Sweep:
    return erasure.erase_from_raw_log(raw_dir, pseudonymize("victim", SALT, USER_DOMAIN), SALT)


def test_erased_files_keep_their_modification_time(raw_dir):
    sizes = {p.name: p.stat().st_size for p in (raw_dir / DAY).iterdir()}
    sweep = erase(raw_dir)
    assert sweep.erased == {f"{DAY}/events-a.jsonl": 2, f"{DAY}/events-b.jsonl.1.gz": 1}
    assert b"victim" not in (raw_dir / DAY / "events-a.jsonl").read_bytes()
    assert b"victim" not in gzip.decompress((raw_dir / DAY / "events-b.jsonl.1.gz").read_bytes())
    assert {p.name: p.stat().st_mtime_ns for p in (raw_dir / DAY).iterdir()} == dict.fromkeys(sizes, OLD)
    assert (raw_dir / DAY / "events-a.jsonl").stat().st_size == sizes["events-a.jsonl"]
    assert last_modified(raw_dir, DAY) == OLD / 1e9  # what retention compares with the last load
    assert not (raw_dir / erasure.MTIME_JOURNAL).exists()


def test_a_crash_between_the_edit_and_the_restore_is_repaired_by_the_next_erasure(raw_dir, monkeypatch):
    def killed(*_):
        raise KeyboardInterrupt("killed after the edit")

    with monkeypatch.context() as patch:
        patch.setattr(erasure._MtimeJournal, "restore", killed)
        with pytest.raises(KeyboardInterrupt):
            erase(raw_dir)
    edited = raw_dir / DAY / "events-a.jsonl"
    assert b"victim" not in edited.read_bytes() and edited.stat().st_mtime_ns != OLD
    assert (raw_dir / erasure.MTIME_JOURNAL).exists()  # names and numbers only
    assert "victim" not in (raw_dir / erasure.MTIME_JOURNAL).read_text()

    assert erase(raw_dir).erased == {f"{DAY}/events-b.jsonl.1.gz": 1}  # the rest, and the mtime put back
    assert edited.stat().st_mtime_ns == OLD
    assert not (raw_dir / erasure.MTIME_JOURNAL).exists()


def test_a_file_grown_since_the_crash_keeps_its_new_mtime(raw_dir, monkeypatch):
    with monkeypatch.context() as patch:
        patch.setattr(erasure._MtimeJournal, "restore", lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
        with pytest.raises(KeyboardInterrupt):
            erase(raw_dir)
    edited = raw_dir / DAY / "events-a.jsonl"
    with edited.open("a") as handle:  # a late copy appended: new data, which retention must wait for
        handle.write(line("other", 7))
    appended_at = edited.stat().st_mtime_ns
    erase(raw_dir)
    assert edited.stat().st_mtime_ns == appended_at != OLD
