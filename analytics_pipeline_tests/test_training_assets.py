"""The training assets in Dagster: the check gate on a real instance, materialization, end to end."""

import dagster as dg
import pytest

from analytics_pipeline.defs.training.assets import gate_failures
from analytics_pipeline.training import list_versions, load_training_set, read_card

GATED = dg.AssetKey(["gated", "events"])
PARTITIONS = dg.StaticPartitionsDefinition(["2026-11-02", "2026-11-03", "2026-11-04"])


@dg.asset(key=GATED, partitions_def=PARTITIONS)
def gated_events() -> None:
    """Stands in for a partitioned analytics table."""


def gate_checks(partitioned: bool) -> tuple[dg.AssetChecksDefinition, dg.AssetChecksDefinition]:
    """A blocking check and a warning on the stand-in table; partitioned like the real ones, or not
    (results recorded before the checks were partitioned carry the day only in their run's tags)."""
    partitions_def = PARTITIONS if partitioned else None

    @dg.asset_check(asset=GATED, blocking=True, partitions_def=partitions_def)
    def no_residual_pii(context: dg.AssetCheckExecutionContext) -> dg.AssetCheckResult:
        # Fails on one day only, the way a residual-PII finding would.
        return dg.AssetCheckResult(passed=context.op_execution_context.partition_key != "2026-11-03")

    @dg.asset_check(asset=GATED, partitions_def=partitions_def)
    def looks_fresh() -> dg.AssetCheckResult:
        return dg.AssetCheckResult(passed=False, severity=dg.AssetCheckSeverity.WARN)

    return no_residual_pii, looks_fresh


@pytest.mark.parametrize("partitioned", [True, False])
def test_gate_excludes_failed_and_unchecked_partitions_but_not_warnings(partitioned):
    no_residual_pii, looks_fresh = gate_checks(partitioned)
    with dg.DagsterInstance.ephemeral() as instance:
        for day in ("2026-11-02", "2026-11-03"):
            result = dg.materialize(
                [gated_events, no_residual_pii, looks_fresh], partition_key=day, instance=instance, raise_on_error=False
            )
            evaluations = result.get_asset_check_evaluations()
            assert evaluations and all(e.partition == (day if partitioned else None) for e in evaluations)
        checks = {no_residual_pii.check_key, looks_fresh.check_key}
        failures = gate_failures(instance, checks, ["2026-11-02", "2026-11-03", "2026-11-04"])
        assert gate_failures(instance, set(), ["2026-11-03"]) == {}

    assert failures == {
        "2026-11-03": "gated/events:no_residual_pii failed",
        "2026-11-04": "gated/events:looks_fresh never evaluated",
    }


@pytest.mark.slow
def test_training_job_after_the_daily_job_builds_loadable_leak_free_sets(pipeline, sample_days, monkeypatch):
    for day in sample_days.days:
        assert pipeline.run(day).success
    result = pipeline.run(None, job="training_job")
    assert result.success

    materializations = {
        e.asset_key.to_user_string(): e.materialization for e in result.get_asset_materialization_events()
    }
    assert set(materializations) == {
        "training/tailoring_examples",
        "training/refinement_pairs",
        "training/engagement_features",
    }
    monkeypatch.setenv("ANALYTICS_TRAINING_DIR", str(pipeline.root / "training"))
    for key, materialization in materializations.items():
        name = key.split("/")[1]
        metadata = materialization.metadata
        card = read_card(name)
        assert metadata["snapshot_version"].value == card["version"] == list_versions(name)[-1]
        assert metadata["dagster/row_count"].value == card["row_count"] > 0
        assert metadata["excluded_partitions"].value == []
        frame = load_training_set(name, split=None)
        assert len(frame) == card["row_count"]
        assert frame.groupby("anon_user_id")["split"].nunique().max() == 1
        in_duckdb = pipeline.query(f"SELECT count(*) FROM training.{name}")[0][0]
        assert in_duckdb == card["row_count"]

    examples = load_training_set("tailoring_examples", split=None)
    assert examples["event_type"].isin(["resume.tailor", "resume.refine"]).all()
    assert examples["accepted"].any() and not examples["accepted"].all()
    assert not examples["tailored_text"].str.contains(max(sample_days.pii.values["email"], key=len), regex=False).any()

    card = read_card("tailoring_examples")
    assert card["run_id"] == result.run_id
    assert sum(s["rows"] for s in card["label_stats"].values()) == card["row_count"]
    # Only the blocking checks gate; the warnings on the same table are not required to pass.
    assert card["gating_checks"] == [
        f"analytics/resume_events:{name}"
        for name in (
            "event_ids_unique",
            "matches_schema",
            "no_residual_pii",
            "pseudonyms_well_formed",
            "values_in_allowed_ranges",
        )
    ]
    assert (
        "- gating checks (blocking, ERROR severity): 5"
        in materializations["training/tailoring_examples"].metadata["dataset_card"].value
    )

    # A rebuild of unchanged data: the tables are written again (a new loaded_at), the snapshots are not.
    loaded_at = pipeline.query("SELECT DISTINCT loaded_at FROM training.tailoring_examples")
    again = pipeline.run(None, job="training_job")
    assert again.success
    for event in again.get_asset_materialization_events():
        name, metadata = event.asset_key.path[1], event.materialization.metadata
        assert metadata["new_snapshot"].value is False
        assert list_versions(name) == [metadata["snapshot_version"].value] == [read_card(name)["version"]]
    assert read_card("tailoring_examples")["run_id"] == result.run_id  # the run that wrote it
    later = pipeline.query("SELECT DISTINCT loaded_at FROM training.tailoring_examples")
    assert len(loaded_at) == len(later) == 1 and later[0][0] > loaded_at[0][0]


def test_training_job_is_requested_once_an_analytics_day_is_loaded_again(tmp_path):
    """The job-scoped automation: requested when first evaluated and after a day is loaded again, not
    again once the sets are rebuilt, and not every tick after a rebuild failed."""
    from analytics_pipeline.defs.shared import register_days
    from analytics_pipeline_tests.conftest import build_pipeline

    definitions = build_pipeline(tmp_path).definitions
    training = {k for k in definitions.resolve_asset_graph().get_all_asset_keys() if k.path[0] == "training"}
    with dg.DagsterInstance.ephemeral() as instance:
        register_days(instance, ["2026-11-02"])
        cursor = None

        def tick(*updated: dg.AssetKey, partition: str | None = None) -> int:
            """Runs requested by one tick (training_job is the only conditioned entity) after ``updated``."""
            nonlocal cursor
            for key in updated:
                instance.report_runless_asset_event(dg.AssetMaterialization(key, partition=partition))
            result = dg.evaluate_automation_conditions(defs=definitions, instance=instance, cursor=cursor)
            cursor = result.cursor
            return result.total_requested

        day_loaded = [dg.AssetKey(["analytics", key]) for key in ("resume_events", "interactions")]
        assert tick() == 1, "switched on: brings the sets up to date once"
        assert tick(*training) == 0
        assert tick(*day_loaded, partition="2026-11-02") == 1
        assert tick(*training) == 0, "rebuilt"
        # A rebuild that fails (no tables in this DuckDB file) is not retried every tick.
        assert (
            not definitions.resolve_job_def("training_job")
            .execute_in_process(instance=instance, raise_on_error=False)
            .success
        )
        assert tick(*day_loaded, partition="2026-11-02") == 0
