"""raw_log_sensor: new or grown raw files of older days launch runs, once."""

import json
from datetime import UTC, datetime, timedelta

import dagster as dg
import pytest

from analytics_pipeline.defs.ingestion.sensors import raw_log_sensor
from analytics_pipeline.defs.privacy.assets import scrubbed_events
from analytics_pipeline.defs.resources import RawEventLogResource
from analytics_pipeline.defs.shared import daily_partitions
from analytics_pipeline.lifecycle.raw_changes import changed_days, file_sizes

TODAY = datetime.now(UTC).date()
OLD_DAYS = [(TODAY - timedelta(days=n)).isoformat() for n in (5, 4)]
YESTERDAY = (TODAY - timedelta(days=1)).isoformat()


def write_raw(raw_dir, day: str, name: str = "events-a.jsonl", lines: int = 3) -> None:
    (raw_dir / day).mkdir(parents=True, exist_ok=True)
    with (raw_dir / day / name).open("a") as handle:
        handle.write('{"event_id": "x"}\n' * lines)


def tick(raw_dir, instance, cursor=None) -> dg.SensorResult:
    context = dg.build_sensor_context(
        instance=instance, cursor=cursor, resources={"raw_log": RawEventLogResource(raw_dir=str(raw_dir))}
    )
    return raw_log_sensor(context)


@pytest.fixture
def instance():
    with dg.DagsterInstance.ephemeral() as instance:
        yield instance


@pytest.fixture
def raw_dir(tmp_path):
    for day in (*OLD_DAYS, YESTERDAY, TODAY.isoformat()):
        write_raw(tmp_path, day)
    return tmp_path


def requested(result: dg.SensorResult) -> list[str]:
    return sorted(r.partition_key for r in result.run_requests)


def test_new_files_of_older_days_trigger_once(raw_dir, instance):
    first = tick(raw_dir, instance)
    # Yesterday is the daily schedule's; today is not a partition yet.
    assert requested(first) == OLD_DAYS
    second = tick(raw_dir, instance, first.cursor)
    assert requested(second) == [] and second.cursor == first.cursor


def test_a_new_or_grown_file_triggers_only_its_day(raw_dir, instance):
    cursor = tick(raw_dir, instance).cursor
    write_raw(raw_dir, OLD_DAYS[0], "events-late.jsonl")
    after_new = tick(raw_dir, instance, cursor)
    assert requested(after_new) == [OLD_DAYS[0]]
    write_raw(raw_dir, OLD_DAYS[1])  # appended to an existing file
    after_growth = tick(raw_dir, instance, after_new.cursor)
    assert requested(after_growth) == [OLD_DAYS[1]]
    assert after_growth.run_requests[0].run_key != after_new.run_requests[0].run_key


def test_days_materialized_after_their_last_change_are_not_rerun(raw_dir, instance):
    instance.report_runless_asset_event(dg.AssetMaterialization(scrubbed_events.key, partition=OLD_DAYS[0]))
    result = tick(raw_dir, instance)
    assert requested(result) == [OLD_DAYS[1]]
    assert f"{OLD_DAYS[0]}/events-a.jsonl" in json.loads(result.cursor), "recorded, so not looked at again"


def test_changed_days_ignores_same_size_and_deleted_files(tmp_path):
    write_raw(tmp_path, "2026-11-02")
    write_raw(tmp_path, "2026-11-03")
    seen = file_sizes(tmp_path, ["2026-11-02", "2026-11-03"])
    # Erasure blanks lines in place: same size, no new run.
    path = tmp_path / "2026-11-02" / "events-a.jsonl"
    path.write_bytes(b" " * (path.stat().st_size - 1) + b"\n")
    (tmp_path / "2026-11-03" / "events-a.jsonl").unlink()
    current = file_sizes(tmp_path, ["2026-11-02", "2026-11-03"])
    assert changed_days(current, seen) == []
    write_raw(tmp_path, "2026-11-03", "events-b.jsonl")
    assert changed_days(file_sizes(tmp_path, ["2026-11-02", "2026-11-03"]), seen) == ["2026-11-03"]


def test_sensor_targets_the_daily_job():
    from analytics_pipeline.definitions import defs

    sensor = defs().resolve_sensor_def("raw_log_sensor")
    assert sensor.job_name == "daily_events_job"


def test_sensor_makes_its_days_partitions(raw_dir, instance):
    result = tick(raw_dir, instance)
    (add,) = result.dynamic_partitions_requests
    assert add.partitions_def_name == daily_partitions.name and sorted(add.partition_keys) == OLD_DAYS


def schedule_tick(raw_dir, instance, scheduled: datetime):
    from analytics_pipeline.defs.analytics.jobs import daily_partition_schedule

    # As a context manager, so the instance it opens from the ref is closed again.
    with dg.build_schedule_context(
        instance=instance,
        scheduled_execution_time=scheduled,
        resources={"raw_log": RawEventLogResource(raw_dir=str(raw_dir))},
    ) as context:
        return daily_partition_schedule(context)


def test_schedule_loads_the_day_that_ended_and_skips_a_day_without_files(raw_dir, tmp_path):
    # A schedule's context needs a persistent instance.
    with dg.DagsterInstance.local_temp(tempdir=str(tmp_path)) as instance:
        check_schedule(raw_dir, instance)


def check_schedule(raw_dir, instance):
    midnight = datetime.combine(TODAY, datetime.min.time(), tzinfo=UTC)
    request = schedule_tick(raw_dir, instance, midnight.replace(minute=15))
    assert isinstance(request, dg.RunRequest) and request.partition_key == YESTERDAY
    assert instance.get_dynamic_partitions(daily_partitions.name) == [YESTERDAY]
    # A week ago there were no files: no partition, no run, and the tick says why.
    skipped = schedule_tick(raw_dir, instance, midnight - timedelta(days=7))
    assert isinstance(skipped, dg.SkipReason) and "no raw files" in skipped.skip_message
    assert instance.get_dynamic_partitions(daily_partitions.name) == [YESTERDAY]
