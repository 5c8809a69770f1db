"""The asset checks in Dagster: each passes on the pipeline's real output and fails on tampered data.

One day is materialized once per module (real Presidio, spaCy, DuckDB); each test copies
that pipeline, breaks one thing in the copy's DuckDB file and runs only the checks.
"""

import shutil
from datetime import UTC, datetime, timedelta

import dagster as dg
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from analytics_pipeline import warehouse
from analytics_pipeline.defs.analytics.checks import users_check_results
from analytics_pipeline.defs.resources import QualityThresholdsResource
from analytics_pipeline.defs.shared import register_days
from analytics_pipeline.quality.canary import CANARY_TYPES
from analytics_pipeline.quality.pii import raw_identifiers
from analytics_pipeline.raw_log import available_days, iter_raw_lines
from analytics_pipeline.sample_data import write_sample
from analytics_pipeline_tests.conftest import build_pipeline

pytestmark = pytest.mark.slow

RESUME_EVENTS = "analytics/resume_events"
INTERACTIONS = "analytics/interactions"
QUARANTINE = "analytics/quarantine"
USERS = "analytics/users"
LEAKED_EMAIL = "jane.leak@example.org"


@pytest.fixture(scope="module")
def loaded(tmp_path_factory, scrubber):
    """One generated day, materialized with every check; returns the pipeline, the day and the run."""
    root = tmp_path_factory.mktemp("checked")
    pipeline = build_pipeline(root)
    write_sample(pipeline.raw_dir, days=1, sessions_per_day=8, users=10, seed=5, malformed_share=0.08)
    (day,) = available_days(pipeline.raw_dir)
    result = pipeline.run(day)
    return pipeline, day, result


@pytest.fixture
def copy(loaded, tmp_path):
    """A private copy of the loaded pipeline (raw log + DuckDB) to tamper with."""
    pipeline, _, _ = loaded
    shutil.copytree(pipeline.raw_dir, tmp_path / "raw")
    shutil.copy(pipeline.database, tmp_path / pipeline.database.name)
    return build_pipeline(tmp_path)


def tamper(pipeline, *statements: str, params: list | None = None) -> None:
    with warehouse.connect(pipeline.database) as conn:
        for sql in statements:
            conn.execute(sql, params or [])


def run_checks(pipeline, asset: str, **resources) -> dict[str, dg.AssetCheckEvaluation]:
    """Run only the checks of one asset, as from the UI: in daily_events_job, for the loaded day
    (checks of the day-partitioned tables are partitioned like them). Returns their evaluations by name."""
    definitions = pipeline.definitions
    definitions = dg.Definitions(
        assets=definitions.assets,
        asset_checks=definitions.asset_checks,
        jobs=definitions.jobs,
        resources={**definitions.resources, **resources},
    )
    key = dg.AssetKey.from_user_string(asset)
    checks = [c for c in definitions.asset_checks if any(k.asset_key == key for k in c.check_keys)]
    (day,) = available_days(pipeline.raw_dir)
    register_days(pipeline.instance, [day])
    result = definitions.resolve_job_def("daily_events_job").execute_in_process(
        partition_key=day,
        op_selection=[c.node_def.name for c in checks],
        instance=pipeline.instance,
        raise_on_error=False,
    )
    evaluations = {e.check_name: e for e in result.get_asset_check_evaluations() if e.asset_key == key}
    assert all(e.partition == (None if asset == USERS else day) for e in evaluations.values())
    return evaluations


def values(evaluation: dg.AssetCheckEvaluation) -> dict:
    return {key: entry.value for key, entry in evaluation.metadata.items()}


def test_blocking_checks_pass_on_the_pipelines_own_output(loaded):
    pipeline, _, result = loaded
    assert result.success
    evaluations = result.get_asset_check_evaluations()
    failed_blocking = [
        (e.asset_key.to_user_string(), e.check_name)
        for e in evaluations
        if not e.passed and e.severity == dg.AssetCheckSeverity.ERROR and e.blocking
    ]
    assert not failed_blocking
    ran = {e.asset_check_key for e in evaluations}
    defined = set(pipeline.definitions.resolve_asset_graph().asset_check_keys)
    assert ran == defined, "the daily job runs every check of every asset it materializes"
    assert dg.AssetCheckKey(dg.AssetKey(["analytics", "resume_events"]), "no_residual_pii") in ran


def test_residual_pii_reports_types_and_event_ids_never_values(copy):
    pipeline = copy
    (day,) = available_days(pipeline.raw_dir)
    raw_user = min(
        v for values in raw_identifiers(iter_raw_lines(pipeline.raw_dir, day), b"-").values() for v in values
    )
    tamper(
        pipeline,
        f"UPDATE analytics.resume_events SET resume_text = resume_text || ' mail {LEAKED_EMAIL} or (617) 396-5537' "
        "WHERE event_id = (SELECT min(event_id) FROM analytics.resume_events WHERE resume_text IS NOT NULL)",
    )
    tamper(
        pipeline,
        "UPDATE analytics.interactions SET anon_user_id = ? WHERE event_id = (SELECT min(event_id) FROM analytics.interactions)",
        params=[raw_user],
    )
    resume = run_checks(pipeline, RESUME_EVENTS)["no_residual_pii"]
    assert not resume.passed and resume.severity == dg.AssetCheckSeverity.ERROR
    meta = values(resume)
    assert meta["hits_by_type"] == {"email": 1, "phone": 1} and meta["affected_events"] == 1
    assert LEAKED_EMAIL not in str(meta) and "396-5537" not in str(meta)
    interactions = values(run_checks(pipeline, INTERACTIONS)["no_residual_pii"])
    assert interactions["hits_by_type"] == {"raw_identifier": 1} and raw_user not in str(interactions)


def test_leaked_pii_stops_everything_downstream_in_the_run(loaded, tmp_path):
    pipeline, day, _ = loaded
    leaky = build_pipeline(tmp_path)
    shutil.copytree(pipeline.raw_dir, leaky.raw_dir)
    # A staged day whose scrubbing missed an e-mail: the load runs, the gate must stop what follows.
    staged = pq.read_table(pipeline.root / "staging" / day / "resume_events.parquet")
    texts = staged.column("resume_text").to_pylist()
    texts[0] = f"{texts[0]} {LEAKED_EMAIL}"
    shutil.copytree(pipeline.root / "staging" / day, tmp_path / "staging" / day, dirs_exist_ok=True)
    pq.write_table(
        staged.set_column(staged.schema.get_field_index("resume_text"), "resume_text", pa.array(texts)),
        tmp_path / "staging" / day / "resume_events.parquet",
    )
    definitions = leaky.definitions
    register_days(leaky.instance, [day])
    result = dg.materialize(
        [*definitions.assets, *definitions.asset_checks],
        selection=dg.AssetSelection.key_prefixes(["analytics"]),
        partition_key=day,
        resources=definitions.resources,
        instance=leaky.instance,
        raise_on_error=False,
    )
    assert not result.success
    # The gate runs on the staged files before the load: the leaky day is never published.
    failure = next(e for e in result.all_events if e.event_type_value == "STEP_FAILURE")
    assert failure.step_key == "event_tables"
    assert failure.event_specific_data.user_failure_data.metadata["hits_by_type"].value == {"email": 1}
    assert LEAKED_EMAIL not in str(failure.event_specific_data)
    assert leaky.query(f"SELECT count(*) FROM {RESUME_EVENTS.replace('/', '.')}") == [(0,)]
    assert not (tmp_path / "staging" / day).exists()
    materialized = {e.asset_key.to_user_string() for e in result.get_asset_materialization_events()}
    assert RESUME_EVENTS not in materialized and USERS not in materialized, "nothing downstream runs on leaked PII"


def test_canary_recall_is_measured_with_the_real_scrubber(loaded):
    _, _, result = loaded
    (canary,) = [e for e in result.get_asset_check_evaluations() if e.check_name == "canary_pii_removed"]
    assert canary.severity == dg.AssetCheckSeverity.WARN
    meta = values(canary)
    assert meta["texts_tested"] > 0 and meta["canaries_planted"] == len(CANARY_TYPES) * meta["texts_tested"]
    assert meta["recall_by_type"]["email"] == meta["recall_by_type"]["ssn"] == 1.0


def test_checks_run_without_a_day_check_the_latest_loaded_day(loaded):
    """The UI's "Execute all" on a Checks tab runs an asset's checks with no partition: each step checks the day
    of the asset's latest materialization and every result carries that day, instead of a failed step."""
    pipeline, day, _ = loaded
    definitions = pipeline.definitions
    # analytics/users is not among them: its checks run in its own rebuild's step (see the users test below).
    for asset in (RESUME_EVENTS, QUARANTINE, "staging/scrubbed_events"):
        key = dg.AssetKey.from_user_string(asset)
        result = dg.materialize(
            [*definitions.assets, *definitions.asset_checks],
            selection=dg.AssetSelection.checks_for_assets(key),
            resources=definitions.resources,
            instance=pipeline.instance,
            raise_on_error=False,
        )
        assert result.success, asset
        evaluations = result.get_asset_check_evaluations()
        defined = {k for checks in definitions.asset_checks for k in checks.check_keys if k.asset_key == key}
        assert {e.asset_check_key for e in evaluations} == defined
        assert all(e.partition == day for e in evaluations), asset
        assert all(e.passed or e.severity == dg.AssetCheckSeverity.WARN for e in evaluations), asset


def test_duplicate_event_ids_fail(copy):
    pipeline = copy
    assert run_checks(pipeline, INTERACTIONS)["event_ids_unique"].passed
    tamper(
        pipeline,
        "INSERT INTO analytics.interactions SELECT * REPLACE (partition_date - 1 AS partition_date) "
        "FROM analytics.interactions LIMIT 1",
    )
    evaluation = run_checks(pipeline, INTERACTIONS)["event_ids_unique"]
    assert not evaluation.passed and values(evaluation)["duplicate_event_ids"] == 1


def test_a_duplicate_between_two_other_days_does_not_fail_this_day(copy):
    pipeline = copy
    # An older release loaded one event twice: as a resume event of one day and an interaction of another.
    tamper(
        pipeline,
        "INSERT INTO analytics.resume_events SELECT * REPLACE (partition_date - 9 AS partition_date, "
        "'00000000-0000-4000-8000-000000000001' AS event_id) FROM analytics.resume_events LIMIT 1",
        "INSERT INTO analytics.interactions SELECT * REPLACE (partition_date - 8 AS partition_date, "
        "'00000000-0000-4000-8000-000000000001' AS event_id) FROM analytics.interactions LIMIT 1",
    )
    for asset in (RESUME_EVENTS, INTERACTIONS):
        evaluation = run_checks(pipeline, asset)["event_ids_unique"]
        assert evaluation.passed and values(evaluation)["duplicate_event_ids"] == 0, asset


def test_missing_required_values_fail(copy):
    pipeline = copy
    tamper(
        pipeline,
        "UPDATE analytics.resume_events SET event_type = NULL "
        "WHERE event_id = (SELECT min(event_id) FROM analytics.resume_events)",
        "UPDATE analytics.resume_events SET occurred_at = NULL "
        "WHERE event_id = (SELECT max(event_id) FROM analytics.resume_events)",
        "UPDATE analytics.interactions SET event_id = NULL "
        "WHERE event_id = (SELECT min(event_id) FROM analytics.interactions)",
    )
    resume = run_checks(pipeline, RESUME_EVENTS)["values_in_allowed_ranges"]
    assert not resume.passed
    assert values(resume)["violations_by_rule"] == {"required_columns_present": 2, "event_type_allowed": 1}
    interactions = run_checks(pipeline, INTERACTIONS)["values_in_allowed_ranges"]
    assert not interactions.passed
    assert values(interactions)["violations_by_rule"] == {"required_columns_present": 1}


def test_malformed_pseudonyms_fail(copy):
    pipeline = copy
    tamper(
        pipeline,
        "UPDATE analytics.resume_events SET anon_resume_id = 'res_1905c5b2e75a' "
        "WHERE event_id = (SELECT min(event_id) FROM analytics.resume_events)",
    )
    evaluation = run_checks(pipeline, RESUME_EVENTS)["pseudonyms_well_formed"]
    assert not evaluation.passed and values(evaluation)["malformed_by_column"] == {"anon_resume_id": 1}


def test_values_outside_the_contract_fail(copy):
    pipeline = copy
    assert run_checks(pipeline, RESUME_EVENTS)["values_in_allowed_ranges"].passed
    tamper(
        pipeline,
        "UPDATE analytics.resume_events SET ats_score = 150, version = 0 "
        "WHERE event_id = (SELECT min(event_id) FROM analytics.resume_events)",
        "UPDATE analytics.resume_events SET event_type = 'resume.delete', tailoring_mode = 'jane@example.org' "
        "WHERE event_id = (SELECT max(event_id) FROM analytics.resume_events)",
        "UPDATE analytics.interactions SET action = 'explode' "
        "WHERE event_id = (SELECT min(event_id) FROM analytics.interactions)",
    )
    resume = values(run_checks(pipeline, RESUME_EVENTS)["values_in_allowed_ranges"])
    assert resume["violations_by_rule"] == {
        "event_type_allowed": 1,
        "ats_score_0_to_100": 1,
        "version_at_least_1": 1,
        "tailoring_mode_allowed": 1,
    }
    interactions = run_checks(pipeline, INTERACTIONS)["values_in_allowed_ranges"]
    assert not interactions.passed and values(interactions)["violations_by_rule"] == {"action_allowed": 1}


def test_future_and_too_late_events_warn(copy):
    pipeline = copy
    assert run_checks(pipeline, INTERACTIONS)["occurred_at_plausible"].passed
    future = datetime.now(UTC).replace(tzinfo=None) + timedelta(days=1)
    tamper(
        pipeline,
        "UPDATE analytics.interactions SET occurred_at = ? "
        "WHERE event_id = (SELECT min(event_id) FROM analytics.interactions)",
        params=[future],
    )
    tamper(
        pipeline,
        "UPDATE analytics.interactions SET occurred_at = partition_date - INTERVAL 30 DAY "
        "WHERE event_id = (SELECT max(event_id) FROM analytics.interactions)",
    )
    evaluation = run_checks(pipeline, INTERACTIONS)["occurred_at_plausible"]
    assert not evaluation.passed and evaluation.severity == dg.AssetCheckSeverity.WARN
    assert values(evaluation)["violations_by_rule"] == {"in_future": 1, "too_late": 1}
    assert evaluation.description.startswith("1 events occurred in the future; 1 events occurred more than 7 days")
    lenient = QualityThresholdsResource(lateness_days=60)
    assert values(run_checks(pipeline, INTERACTIONS, quality=lenient)["occurred_at_plausible"])[
        "violations_by_rule"
    ] == {"in_future": 1}


def test_stale_tables_warn_and_fresh_ones_pass(copy):
    pipeline = copy
    stale = run_checks(pipeline, RESUME_EVENTS)["latest_partition_fresh"]
    assert not stale.passed and stale.severity == dg.AssetCheckSeverity.WARN, "the sample day is in the past"
    assert stale.description.startswith("The newest loaded partition, 2026-11-02, is ")
    assert "committed synthetic sample" in stale.description and values(stale)["sample_data"]
    tamper(
        pipeline,
        "UPDATE analytics.resume_events SET partition_date = current_date "
        "WHERE event_id = (SELECT min(event_id) FROM analytics.resume_events)",
    )
    assert run_checks(pipeline, RESUME_EVENTS)["latest_partition_fresh"].passed


def test_lost_rows_and_stray_quarantine_rows_break_reconciliation(copy):
    pipeline = copy
    assert run_checks(pipeline, QUARANTINE)["raw_lines_reconcile"].passed
    tamper(
        pipeline,
        "DELETE FROM analytics.interactions WHERE event_id = (SELECT min(event_id) FROM analytics.interactions)",
    )
    lost = values(run_checks(pipeline, QUARANTINE)["raw_lines_reconcile"])
    assert lost["mismatched_event_types"] == ["interaction"]
    tamper(
        pipeline,
        "INSERT INTO analytics.quarantine SELECT partition_date, 'elsewhere.jsonl', 1, 'invalid_json', 'x' "
        "FROM analytics.quarantine LIMIT 1",
    )
    stray = values(run_checks(pipeline, QUARANTINE)["raw_lines_reconcile"])
    assert stray["unmatched_quarantine_rows"] == 1


def test_quarantine_rate_above_threshold_warns(copy):
    pipeline = copy
    # The generator plants ~8% malformed lines.
    evaluation = run_checks(pipeline, QUARANTINE)["quarantine_rate_below_threshold"]
    assert not evaluation.passed and evaluation.severity == dg.AssetCheckSeverity.WARN
    assert values(evaluation)["quarantine_rate"] > 0.01
    quarantined, read = values(evaluation)["lines_quarantined"], values(evaluation)["lines_read"]
    assert evaluation.description.startswith(f"{quarantined} of {read} raw lines quarantined (")
    assert (
        "above the 1.0% threshold" in evaluation.description and "committed synthetic sample" in evaluation.description
    )
    lenient = QualityThresholdsResource(max_quarantine_rate="0.5")
    assert run_checks(pipeline, QUARANTINE, quality=lenient)["quarantine_rate_below_threshold"].passed


def users_checks(pipeline) -> dict[str, dg.AssetCheckResult]:
    """The users checks as the users asset evaluates them after its rebuild, on the table as it is now."""
    with warehouse.connect(pipeline.database, read_only=True) as conn:
        return {result.check_name: result for result in users_check_results(conn)}


def test_users_integrity_failures(copy):
    pipeline = copy
    good = users_checks(pipeline)
    assert all(good[name].passed for name in ("anon_user_ids_unique", "every_event_has_user", "pseudonyms_well_formed"))
    tamper(
        pipeline,
        "INSERT INTO analytics.users SELECT * FROM analytics.users ORDER BY anon_user_id LIMIT 1",
        "DELETE FROM analytics.users WHERE anon_user_id = (SELECT max(anon_user_id) FROM analytics.users)",
        "INSERT INTO analytics.users (anon_user_id) VALUES ('usr_785729763a12917c')",
    )
    bad = users_checks(pipeline)
    assert bad["anon_user_ids_unique"].metadata["duplicated_anon_user_ids"].value == 1
    assert not bad["every_event_has_user"].passed
    assert bad["pseudonyms_well_formed"].metadata["malformed_by_column"].value == {"anon_user_id": 1}


def test_users_checks_judge_the_rebuild_they_follow_not_a_later_load(copy):
    """Two days' runs in parallel: day B's events were loaded after day A's users rebuild. Checked in a step of
    their own, A's every_event_has_user saw B's new users missing and failed a correct rebuild (make run exit 1).
    They now run in the users asset's own step and connection, so each judges its own rebuild."""
    pipeline = copy
    result = dg.materialize(
        [*pipeline.definitions.assets, *pipeline.definitions.asset_checks],
        selection=dg.AssetSelection.assets(dg.AssetKey.from_user_string(USERS)),
        resources=pipeline.definitions.resources,
        instance=pipeline.instance,
    )
    checked = {e.check_name: e.passed for e in result.get_asset_check_evaluations()}
    assert checked == dict.fromkeys(
        ("anon_user_ids_unique", "pseudonyms_well_formed", "every_event_has_user", "matches_schema"), True
    )
    # Nothing but the users asset itself evaluates them: no separate step can run after another day's load.
    users_key = dg.AssetKey.from_user_string(USERS)
    assert all(key.asset_key != users_key for checks in pipeline.definitions.asset_checks for key in checks.check_keys)


def test_schema_change_fails(copy):
    pipeline = copy
    assert run_checks(pipeline, QUARANTINE)["matches_schema"].passed
    tamper(
        pipeline,
        "ALTER TABLE analytics.quarantine ADD COLUMN raw_line VARCHAR",
        "ALTER TABLE analytics.quarantine ALTER line_number TYPE BIGINT",
    )
    differences = values(run_checks(pipeline, QUARANTINE)["matches_schema"])["differences"]
    assert differences == ["unexpected column raw_line", "column line_number is BIGINT, expected INTEGER"]
