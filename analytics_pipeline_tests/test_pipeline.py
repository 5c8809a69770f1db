"""The whole graph materialized for real (Presidio, spaCy, DuckDB) on generated data."""

import json
import uuid
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from analytics_pipeline.contract import PLANNED_ELEMENTS, PLANNED_PAGES
from analytics_pipeline.privacy.hashing import PSEUDONYM_PATTERN, USER_DOMAIN, pseudonymize
from analytics_pipeline.schema import ANALYTICS_TABLES
from analytics_pipeline_tests.conftest import TEST_SALT, build_pipeline
from analytics_pipeline_tests.test_contract import PERSONAL_ELEMENTS, PERSONAL_PAGES

pytestmark = pytest.mark.slow


def raw_line_count(raw_dir: Path, day: str) -> int:
    return sum(len(p.read_bytes().splitlines()) for p in (raw_dir / day).glob("*.jsonl"))


def all_text_values(pipeline) -> list[str]:
    values = []
    for table in ANALYTICS_TABLES:
        for column in table.columns:
            if column.duckdb_type == "VARCHAR":
                values += [v for (v,) in pipeline.query(f"SELECT {column.name} FROM {table.qualified_name}") if v]
    return values


@pytest.fixture
def loaded(pipeline, sample_days):
    for day in sample_days.days:
        assert pipeline.run(day).success
    return pipeline, sample_days


def test_every_raw_line_is_loaded_or_quarantined(loaded):
    pipeline, sample = loaded
    for day in sample.days:
        (events,) = (
            pipeline.query(
                "SELECT (SELECT count(*) FROM analytics.resume_events WHERE partition_date = ?) + "
                "(SELECT count(*) FROM analytics.interactions WHERE partition_date = ?)",
                [day, day],
            )[0],
        )
        (quarantined,) = (
            pipeline.query("SELECT count(*) FROM analytics.quarantine WHERE partition_date = ?", [day])[0],
        )
        assert events[0] + quarantined[0] == raw_line_count(pipeline.raw_dir, day)
        assert quarantined[0] > 0, "the generator plants malformed lines"


def test_ids_are_pseudonymized(loaded):
    pipeline, sample = loaded
    anon_ids = {v for (v,) in pipeline.query("SELECT anon_user_id FROM analytics.users")}
    assert anon_ids and all(PSEUDONYM_PATTERN.match(v) for v in anon_ids)
    expected = {pseudonymize(u, TEST_SALT.encode(), USER_DOMAIN) for u in sample.pii.values["user_id"]}
    assert anon_ids <= expected
    event_ids = {
        v
        for (v,) in pipeline.query(
            "SELECT anon_user_id FROM analytics.resume_events UNION SELECT anon_user_id FROM analytics.interactions"
        )
    }
    assert event_ids == anon_ids, "every event's user is in analytics.users and vice versa"


def test_no_seeded_pii_value_appears_in_any_table(loaded):
    pipeline, sample = loaded
    stored = "\n".join(all_text_values(pipeline)).lower()
    leaked = sorted(
        (kind, value) for kind, values in sample.pii.values.items() for value in values if value.lower() in stored
    )
    assert not leaked, f"{len(leaked)} seeded PII values survived: kinds {sorted({k for k, _ in leaked})}"


def test_rematerializing_a_partition_replaces_it(loaded):
    pipeline, sample = loaded
    before = [pipeline.query(f"SELECT count(*) FROM {t.qualified_name}")[0][0] for t in ANALYTICS_TABLES]
    assert pipeline.run(sample.days[0]).success
    after = [pipeline.query(f"SELECT count(*) FROM {t.qualified_name}")[0][0] for t in ANALYTICS_TABLES]
    assert after == before
    (dupes,) = pipeline.query("SELECT count(*) - count(DISTINCT event_id) FROM analytics.resume_events")[0]
    assert dupes == 0


def test_users_aggregate_across_partitions(loaded):
    pipeline, _ = loaded
    (mismatch,) = pipeline.query(
        """SELECT count(*) FROM analytics.users u JOIN (
               SELECT anon_user_id, count(*) AS n FROM (
                   SELECT anon_user_id FROM analytics.resume_events
                   UNION ALL SELECT anon_user_id FROM analytics.interactions) GROUP BY 1) e
           USING (anon_user_id) WHERE u.event_count <> e.n"""
    )[0]
    assert mismatch == 0
    (multi_day,) = pipeline.query("SELECT count(*) FROM analytics.users WHERE active_days > 1")[0]
    assert multi_day > 0, "with 20 users over 2 days some users come back"


def test_missing_salt_fails_with_instructions(tmp_path, scrubber, sample_days):
    unsalted = build_pipeline(tmp_path / "unsalted")
    unsalted = build_pipeline(
        tmp_path / "unsalted", pseudonymizer=type(unsalted.definitions.resources["pseudonymizer"])(salt="")
    )
    result = unsalted.run(sample_days.days[0])
    assert not result.success
    failure = result.get_step_failure_events()[0].step_failure_data.error
    assert "ANALYTICS_SALT" in failure.message and "export" in failure.message


def latest_metadata(pipeline, key: str, day: str | None = None) -> dict:
    import dagster as dg

    records = pipeline.instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=dg.AssetKey.from_user_string(key), asset_partitions=[day] if day else None),
        limit=1,
    ).records
    return records[0].asset_materialization.metadata


def test_previews_are_tables_of_scrubbed_values_without_identifiers(loaded):
    import dagster as dg

    pipeline, sample = loaded
    day = sample.days[-1]
    identifiers = set(sample.pii.values["user_id"])
    for key in ("analytics/resume_events", "analytics/interactions", "analytics/quarantine", "analytics/users"):
        preview = latest_metadata(pipeline, key, None if key == "analytics/users" else day)["preview"]
        assert isinstance(preview, dg.TableMetadataValue), key
        columns = {c.name for c in preview.schema.columns}
        assert not columns & {"anon_user_id", "anon_resume_id", "event_id", "source_file", "element", "page"}, key
        for record in preview.records:
            for value in record.data.values():
                assert value != "nan" and not (isinstance(value, float) and value != value), (key, value)
                assert not (isinstance(value, str) and (PSEUDONYM_PATTERN.search(value) or value in identifiers))
    # No texts either: previews live in Dagster's run storage, which an erasure cannot reach.
    preview = latest_metadata(pipeline, "analytics/resume_events", day)["preview"]
    assert not {c.name for c in preview.schema.columns} & {"resume_text", "job_description", "tailored_text"}


def test_row_counts_show_the_table_and_the_partition(loaded):
    pipeline, sample = loaded
    for day in sample.days:
        metadata = latest_metadata(pipeline, "analytics/interactions", day)
        (in_day,) = pipeline.query("SELECT count(*) FROM analytics.interactions WHERE partition_date = ?", [day])[0]
        assert metadata["partition_rows"].value == in_day
    (total,) = pipeline.query("SELECT count(*) FROM analytics.interactions")[0]
    assert latest_metadata(pipeline, "analytics/interactions", sample.days[-1])["dagster/row_count"].value == total


def test_each_raw_day_is_reported_present_outside_the_run(loaded):
    """The raw log is external: each day read shows as materialized (what the UI counts as present), with
    files, lines and bytes, and the day's run lists only the assets it computes, as its job does."""
    import dagster as dg

    pipeline, sample = loaded
    for day in sample.days:
        (record,) = pipeline.instance.fetch_materializations(
            dg.AssetRecordsFilter(asset_key=dg.AssetKey(["raw", "events"]), asset_partitions=[day]), limit=1
        ).records
        metadata = record.asset_materialization.metadata
        assert metadata["lines"].value == raw_line_count(pipeline.raw_dir, day)
        assert metadata["files"].value >= 1 and metadata["bytes"].value > 0
        assert record.run_id == "", "reported outside the run: the run did not write the raw files"
    job_assets = pipeline.definitions.resolve_job_def("daily_events_job").asset_layer.executable_asset_keys
    (run,) = pipeline.instance.get_runs(dg.RunsFilter(tags={"dagster/partition": sample.days[0]}), limit=1)
    run_assets = {
        event.dagster_event.asset_key
        for event in pipeline.instance.all_logs(run.run_id)
        if event.dagster_event and event.dagster_event.asset_key
    }
    assert run_assets == set(job_assets) and len(job_assets) == 5


def test_users_is_one_table_over_all_days(loaded):
    import dagster as dg

    pipeline, sample = loaded
    users = pipeline.definitions.resolve_assets_def(dg.AssetKey(["analytics", "users"]))
    assert users.partitions_def is None
    metadata = {k: v.value for k, v in latest_metadata(pipeline, "analytics/users").items()}
    (rows, events) = pipeline.query("SELECT count(*), sum(event_count) FROM analytics.users")[0]
    assert metadata["dagster/row_count"] == rows and metadata["events_aggregated"] == events
    assert metadata["days_aggregated"] == len(sample.days)
    assert "partition_rows" not in metadata


def test_the_default_file_opens_plainly_in_duckdb(loaded):
    """No ATTACH trick: duckdb.connect on the file, then analytics.users and training.* by their names."""
    import duckdb

    pipeline, _ = loaded
    assert pipeline.database.name == "warehouse.duckdb"
    with duckdb.connect(str(pipeline.database), read_only=True) as conn:
        (users,) = conn.execute("SELECT count(*) FROM analytics.users").fetchone()
    assert users == pipeline.query("SELECT count(*) FROM analytics.users")[0][0] > 0


def test_identifier_fields_carry_no_person_into_tables_staging_training_or_run_storage(pipeline, sample_days):
    """A careless app puts a person into element and page: the day loads, and nothing of the person is in
    DuckDB, the staged Parquet, the training sets (element_counts) or Dagster's run storage."""
    day = sample_days.days[0]
    events = [
        {
            "event_id": str(uuid.uuid4()),
            "event_type": "interaction",
            "occurred_at": f"{day}T09:00:00Z",
            "user_id": "synthetic-user-5",
            "action": "click",
            "element": element,
            "page": page,
        }
        for element, page in zip(PERSONAL_ELEMENTS * 2, PERSONAL_PAGES, strict=False)
    ]
    # First in the day, so they would be the first rows of any preview.
    (pipeline.raw_dir / day / "events-a.jsonl").write_text("".join(json.dumps(e) + "\n" for e in events))
    assert pipeline.run(day).success
    assert pipeline.run(None, "training_job").success
    stored = pipeline.query("SELECT DISTINCT element, page FROM analytics.interactions")
    assert {e for e, _ in stored} <= PLANNED_ELEMENTS and {p for _, p in stored} <= PLANNED_PAGES | {None}
    (counts,) = pipeline.query("SELECT list(element_counts) FROM training.engagement_features")[0]
    assert {key for mapping in counts for key in mapping} <= PLANNED_ELEMENTS
    leaks = []
    for path in pipeline.root.rglob("*"):
        if path.is_file() and pipeline.raw_dir not in path.parents:  # the raw log holds PII until retention
            data = path.read_bytes().lower()
            if path.suffix == ".parquet":
                data += str(pq.read_table(path).to_pylist()).lower().encode()
            leaks += [str(path.relative_to(pipeline.root))] if b"amara" in data or b"okafor" in data else []
    assert leaks == []
