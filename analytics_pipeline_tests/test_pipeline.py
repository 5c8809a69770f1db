"""The whole graph materialized for real (Presidio, spaCy, DuckDB) on generated data."""

from pathlib import Path

import pytest

from analytics_pipeline.privacy.hashing import PSEUDONYM_PATTERN, USER_DOMAIN, pseudonymize
from analytics_pipeline.schema import ANALYTICS_TABLES
from analytics_pipeline_tests.conftest import TEST_SALT, build_pipeline

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
