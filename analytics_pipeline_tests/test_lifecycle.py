"""Raw-data retention and salt safety, on the real pipeline with a persistent Dagster instance."""

import json
import os
import stat
import time
from datetime import date

import dagster as dg
import pytest

from analytics_pipeline.defs.lifecycle.retention import retention_blocker
from analytics_pipeline.defs.resources import LifecycleResource, PseudonymizerResource
from analytics_pipeline.defs.shared import register_days
from analytics_pipeline.lifecycle import retention
from analytics_pipeline.lifecycle.erasure import erase_from_raw_log
from analytics_pipeline.privacy.hashing import USER_DOMAIN, pseudonymize
from analytics_pipeline.raw_log import json_object
from analytics_pipeline.sample_data import write_sample
from analytics_pipeline_tests.conftest import build_pipeline

DAY = "2026-11-02"


def write_raw(raw_dir, day: str, lines: int) -> None:
    (raw_dir / day).mkdir(parents=True, exist_ok=True)
    (raw_dir / day / "events-a.jsonl").write_text("{}\n" * lines)


def test_expired_days_are_older_than_the_retention_period(tmp_path):
    for day in ("2026-10-01", "2026-10-27", "2026-10-28"):
        write_raw(tmp_path, day, 1)
    assert retention.expired_days(tmp_path, date(2026, 11, 27), 30) == ["2026-10-01", "2026-10-27"]
    with pytest.raises(ValueError):
        retention.expired_days(tmp_path, date(2026, 11, 27), 0)


def test_purge_records_files_and_lines_never_content(tmp_path):
    write_raw(tmp_path, DAY, 4)
    (purged,) = retention.purge_raw_day(tmp_path, DAY)
    assert (purged.file, purged.day, purged.lines) == (f"{DAY}/events-a.jsonl", DAY, 4)
    assert not list((tmp_path / DAY).glob("*.jsonl"))
    tombstone = json.loads((tmp_path / DAY / retention.TOMBSTONE).read_text())
    assert tombstone["files"] == [{"file": f"{DAY}/events-a.jsonl", "day": DAY, "lines": 4}]
    assert retention.was_purged(tmp_path, DAY) and DAY not in retention.available_days(tmp_path)


def test_purge_deletes_every_entry_of_the_day_and_counts_what_it_does_not_read(tmp_path):
    raw_dir = tmp_path / "raw"
    write_raw(raw_dir, DAY, 2)
    day = raw_dir / DAY
    (day / "events.jsonl.bak").write_text('{"user_id": "jane"}\n')
    (day / "notes.txt").write_text("Jane called about her SSN\n")
    (day / "old").mkdir()
    (day / "old" / "x.jsonl").write_text('{"user_id": "jane"}\n')
    outside = tmp_path / "outside.jsonl"
    outside.write_text("not the raw log's\n")
    (day / "link.jsonl").symlink_to(outside)

    assert len(retention.other_entries(raw_dir, DAY)) == 4
    (purged,) = retention.purge_raw_day(raw_dir, DAY)
    assert purged.file == f"{DAY}/events-a.jsonl"
    assert [p.name for p in day.iterdir()] == [retention.TOMBSTONE]
    assert outside.read_text() == "not the raw log's\n"  # a symlink is deleted, never followed
    tombstone = json.loads((day / retention.TOMBSTONE).read_text())
    assert tombstone["other_entries_deleted"] == 4 and "notes" not in json.dumps(tombstone)


def test_entries_left_in_days_purged_by_an_older_release_are_deleted_once_expired(tmp_path):
    for day, left in (("2026-10-01", "events.jsonl.bak"), ("2026-11-20", "notes.txt")):
        (tmp_path / day).mkdir()
        (tmp_path / day / retention.TOMBSTONE).write_text(json.dumps({"purged_at": "x", "files": []}))
        (tmp_path / day / left).write_text("personal data\n")
    (tmp_path / "2026-10-02").mkdir()  # never a partition (no log file, no tombstone): not retention's
    (tmp_path / "2026-10-02" / "notes.txt").write_text("x\n")

    assert retention.purge_leftovers(tmp_path, date(2026, 11, 27), 30) == {"2026-10-01": 1}
    assert [p.name for p in (tmp_path / "2026-10-01").iterdir()] == [retention.TOMBSTONE]
    assert (tmp_path / "2026-11-20" / "notes.txt").exists()  # not expired yet
    assert (tmp_path / "2026-10-02" / "notes.txt").exists()
    assert retention.purge_leftovers(tmp_path, date(2026, 11, 27), 30) == {}


def test_purge_staging_removes_leftovers_of_killed_runs(tmp_path):
    for name in (DAY, f".{DAY}.tmp-123", f".{DAY}.old-9", "2026-11-03", f".shards/{DAY}/run-1/shard_000_of_002"):
        (tmp_path / name).mkdir(parents=True)
    assert retention.purge_staging_day(tmp_path, DAY)
    assert sorted(p.name for p in tmp_path.iterdir()) == [".shards", "2026-11-03"]
    assert not any((tmp_path / ".shards").iterdir())
    assert not retention.purge_staging_day(tmp_path, DAY)


def run(pipeline, job: str, instance, **kwargs) -> dg.ExecuteInProcessResult:
    if "partition_key" in kwargs:
        register_days(instance, [kwargs["partition_key"]])
    return pipeline.definitions.resolve_job_def(job).execute_in_process(
        instance=instance, raise_on_error=False, **kwargs
    )


@pytest.fixture
def one_day(tmp_path, scrubber):
    """One small loaded day whose raw files are past a 1-day retention period."""
    pipeline = build_pipeline(tmp_path, lifecycle=LifecycleResource(retention_days=1))
    write_sample(pipeline.raw_dir, days=1, sessions_per_day=4, users=3, seed=3, start=date.fromisoformat(DAY))
    with dg.DagsterInstance.ephemeral() as instance:
        assert run(pipeline, "daily_events_job", instance, partition_key=DAY).success
        yield pipeline, instance


@pytest.mark.slow
def test_retention_purges_loaded_days_and_refuses_to_restage_them(one_day):
    pipeline, instance = one_day
    lines = len((pipeline.raw_dir / DAY / "events-sample.jsonl").read_bytes().splitlines())
    rows_before = pipeline.query("SELECT count(*) FROM analytics.resume_events")[0][0]

    result = run(pipeline, "raw_retention_job", instance)
    assert result.success
    assert not list((pipeline.raw_dir / DAY).glob("*.jsonl"))
    assert not (pipeline.root / "staging" / DAY).exists()
    (observation,) = [
        e.asset_observation_data.asset_observation
        for e in result.all_events
        if e.event_type == dg.DagsterEventType.ASSET_OBSERVATION
    ]
    assert observation.partition == DAY and observation.metadata["purged_lines"].value == lines
    assert observation.metadata["purged_files"].value == [{"file": f"{DAY}/events-sample.jsonl", "lines": lines}]

    again = run(pipeline, "daily_events_job", instance, partition_key=DAY)
    assert not again.success
    assert "deleted by retention" in again.get_step_failure_events()[0].step_failure_data.error.message
    assert pipeline.query("SELECT count(*) FROM analytics.resume_events")[0][0] == rows_before


@pytest.mark.slow
def test_another_salt_is_blocked_and_its_day_is_kept(one_day):
    pipeline, instance = one_day
    stored = pipeline.query("SELECT value FROM analytics.pipeline_metadata WHERE key = 'salt_fingerprint'")
    assert stored == [(pipeline.definitions.resources["pseudonymizer"].fingerprint(),)]
    rows_before = pipeline.query("SELECT count(*), min(anon_user_id) FROM analytics.resume_events")
    resalted = build_pipeline(
        pipeline.root,
        pseudonymizer=PseudonymizerResource(salt="synthetic-rotated-salt-e93c1570ab4d26f8"),
        lifecycle=LifecycleResource(retention_days=1),
    )

    result = run(resalted, "daily_events_job", instance, partition_key=DAY)
    assert not result.success
    # The staging asset's other checks (canary_pii_removed) still run; only this one blocks.
    check = {e.check_name: e for e in result.get_asset_check_evaluations()}["salt_matches_tables"]
    assert check.check_name == "salt_matches_tables" and not check.passed
    assert "rotation" in check.description
    assert pipeline.query("SELECT count(*), min(anon_user_id) FROM analytics.resume_events") == rows_before

    # The failed check blocks retention: the raw log may be needed to rebuild.
    assert run(resalted, "raw_retention_job", instance).success
    assert list((pipeline.raw_dir / DAY).glob("*.jsonl"))


@pytest.mark.slow
def test_days_not_fully_loaded_are_kept(one_day):
    pipeline, instance = one_day
    assert retention_blocker(instance, pipeline.raw_dir, DAY) is None
    write_raw(pipeline.raw_dir, "2026-11-03", 2)
    assert "never materialized" in retention_blocker(instance, pipeline.raw_dir, "2026-11-03")
    # The day's tables loaded again (e.g. a run of the analytics assets alone): users no longer includes it.
    instance.report_runless_asset_event(
        dg.AssetMaterialization(dg.AssetKey(["analytics", "resume_events"]), partition=DAY)
    )
    assert retention_blocker(instance, pipeline.raw_dir, DAY) == "analytics/users not rebuilt since the day was loaded"
    instance.report_runless_asset_event(dg.AssetMaterialization(dg.AssetKey(["analytics", "users"])))
    assert retention_blocker(instance, pipeline.raw_dir, DAY) is None
    later = time.time() + 60  # a file copied in after the load
    os.utime(pipeline.raw_dir / DAY / "events-sample.jsonl", (later, later))
    assert "changed after" in retention_blocker(instance, pipeline.raw_dir, DAY)


@pytest.mark.slow
def test_an_erasure_does_not_block_retention_but_new_data_does(one_day):
    pipeline, instance = one_day
    assert retention_blocker(instance, pipeline.raw_dir, DAY) is None
    raw_file = pipeline.raw_dir / DAY / "events-sample.jsonl"
    user_id = next(
        event["user_id"]
        for event in map(json_object, raw_file.read_bytes().splitlines())
        if event and "user_id" in event
    )
    time.sleep(0.05)  # an edit now would be newer than the load
    salt = pipeline.definitions.resources["pseudonymizer"].salt_bytes()
    sweep = erase_from_raw_log(pipeline.raw_dir, pseudonymize(user_id, salt, USER_DOMAIN), salt)
    assert sweep.erased  # blanked in place
    assert retention_blocker(instance, pipeline.raw_dir, DAY) is None
    with raw_file.open("a") as raw:  # a late copy: new data, loaded first
        raw.write("{}\n")
    assert "changed after" in retention_blocker(instance, pipeline.raw_dir, DAY)


@pytest.mark.slow
def test_the_duckdb_file_is_owner_only(one_day):
    pipeline, _ = one_day
    assert stat.S_IMODE(pipeline.database.stat().st_mode) == 0o600


def test_lifecycle_definitions_resolve():
    from analytics_pipeline.definitions import defs

    definitions = defs()
    assert definitions.resolve_schedule_def("raw_retention_schedule").job_name == "raw_retention_job"
    assert definitions.resolve_job_def("erasure_job")
    check_keys = definitions.resolve_job_def("daily_events_job").asset_layer.asset_graph.asset_check_keys
    assert dg.AssetCheckKey(dg.AssetKey(["staging", "scrubbed_events"]), "salt_matches_tables") in check_keys
