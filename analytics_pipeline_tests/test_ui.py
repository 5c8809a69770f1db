"""The Dagster UI tells the truth: the GraphQL calls its buttons send, on a real webserver and daemon.

One webserver and one daemon for the module, on a temporary instance configured like the project's
(``data/dagster_home/dagster.yaml``: runs from the UI queue for the daemon). Two generated days are
loaded first in this process (setup, not under test). Then an operator's session, as the UI sends it:
a day materialized again, the automation sensor switched on, "Execute all" on a Checks tab (all at once,
so the daemon works on them together), and once the day is reloaded, "Re-execute" of its check step.
The tests read what came of it, and headless Chromium takes screenshots of the asset pages
(``tools/ui_screenshots.py``).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import dagster as dg
import pytest

from analytics_pipeline.defs.shared import register_days
from analytics_pipeline.launcher import LOCATION_NAME, REPOSITORY_NAME, CodeLocationServer, graphql
from analytics_pipeline.sample_data import write_sample
from analytics_pipeline_tests.conftest import TEST_SALT, build_pipeline
from tools.ui_screenshots import take_screenshots

pytestmark = pytest.mark.slow

PROJECT_ROOT = Path(__file__).resolve().parents[1]
REPOSITORY = {"repositoryLocationName": LOCATION_NAME, "repositoryName": REPOSITORY_NAME}
RUN_TIMEOUT_SECONDS = 300
# The acceptance bound: a training_job run requested within 3 minutes of a day's reload (the automation
# sensor ticks every 30 s).
AUTOMATION_BOUND_SECONDS = 180
RESUME_EVENTS = ["analytics", "resume_events"]
AUTOMATION_SENSOR = {**REPOSITORY, "sensorName": "default_automation_condition_sensor"}

# The UI's own operations (dagster-webserver 1.13's ui-core), trimmed to the fields read here.
ASSET_CHECKS_QUERY = """
query AssetChecksQuery($assetKey: AssetKeyInput!) {
  assetNodeOrError(assetKey: $assetKey) { ... on AssetNode {
    jobNames assetKey { path } repository { name location { name } }
    assetChecksOrError { ... on AssetChecks { checks { name canExecuteIndividually jobNames } } }
  } }
}
"""
LAUNCH_PIPELINE_EXECUTION = """
mutation LaunchPipelineExecution($executionParams: ExecutionParams!) {
  launchPipelineExecution(executionParams: $executionParams) {
    __typename
    ... on LaunchRunSuccess { run { id pipelineName } }
    ... on PythonError { message }
    ... on InvalidSubsetError { message }
  }
}
"""
LAUNCH_PIPELINE_REEXECUTION = """
mutation LaunchPipelineReexecution($executionParams: ExecutionParams, $reexecutionParams: ReexecutionParams) {
  launchPipelineReexecution(executionParams: $executionParams, reexecutionParams: $reexecutionParams) {
    __typename
    ... on LaunchRunSuccess { run { id pipelineName rootRunId parentRunId } }
    ... on PythonError { message }
    ... on InvalidSubsetError { message }
  }
}
"""
RUN_FOR_REEXECUTION = """
query Run($runId: ID!) {
  runOrError(runId: $runId) { ... on Run {
    id rootRunId mode runConfigYaml pipelineName solidSelection
    assetSelection { path } assetCheckSelection { name assetKey { path } } tags { key value }
  } }
}
"""
CHECK_EXECUTIONS = """
query($assetKey: AssetKeyInput!, $checkName: String!) {
  assetCheckExecutions(assetKey: $assetKey, checkName: $checkName, limit: 20) {
    runId status evaluation { partition severity }
  }
}
"""
PARTITION_HEALTH_QUERY = """
query PartitionHealthQuery($assetKey: AssetKeyInput!) {
  assetNodeOrError(assetKey: $assetKey) { ... on AssetNode {
    partitionKeysByDimension { name type partitionKeys }
    assetPartitionStatuses { ... on DefaultPartitionStatuses {
      materializedPartitions materializingPartitions failedPartitions
    } }
  } }
}
"""
START_SENSOR = """
mutation StartSensor($sensorSelector: SensorSelector!) {
  startSensor(sensorSelector: $sensorSelector) { __typename ... on Sensor { sensorState { status } } }
}
"""


@dataclass
class Ui:
    """The running webserver and daemon, the instance they share, the loaded days and the runs launched."""

    port: int
    instance: dg.DagsterInstance
    days: list[str]
    runs: dict[str, str] = field(default_factory=dict)  # what the operator did -> its run ID

    def query(self, query: str, **variables) -> dict:
        return graphql(self.port, query, variables)

    def launch(self, params: dict) -> str:
        answer = self.query(LAUNCH_PIPELINE_EXECUTION, executionParams=params)["launchPipelineExecution"]
        assert answer["__typename"] == "LaunchRunSuccess", answer
        return answer["run"]["id"]

    def wait(self, run_id: str) -> dg.DagsterRun:
        deadline = time.monotonic() + RUN_TIMEOUT_SECONDS
        while not (run := self.instance.get_run_by_id(run_id)).is_finished:
            assert time.monotonic() < deadline, f"run {run_id} ({run.status}) did not finish"
            time.sleep(0.5)
        return run


def start_daemon(env: dict[str, str], log: Path) -> subprocess.Popen:
    with log.open("w") as handle:
        # A session of its own: the code server it starts is stopped with it.
        return subprocess.Popen(
            [str(Path(sys.executable).with_name("dagster-daemon")), "run", "-w", "workspace.yaml"],
            cwd=PROJECT_ROOT,
            env=env,
            stdout=handle,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def stop(process: subprocess.Popen) -> None:
    """Stop the process and the code server it started: asked first, killed if it does not end."""
    for sig, wait in ((signal.SIGTERM, 30), (signal.SIGKILL, 10)):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, sig)
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=wait)
            return


@pytest.fixture(scope="module")
def ui(tmp_path_factory, scrubber):
    root = tmp_path_factory.mktemp("ui")
    home = root / "dagster_home"
    home.mkdir()
    shutil.copy(PROJECT_ROOT / "data" / "dagster_home" / "dagster.yaml", home)
    env = {
        "ANALYTICS_SALT": TEST_SALT,
        "ANALYTICS_RAW_DIR": str(root / "raw"),
        "ANALYTICS_DUCKDB_PATH": str(root / "warehouse.duckdb"),
        "ANALYTICS_STAGING_DIR": str(root / "staging"),
        "ANALYTICS_TRAINING_DIR": str(root / "training"),
    }
    # The instance's storage is created here first (the webserver and the daemon would race to create it);
    # both start while the days load.
    with (
        dg.DagsterInstance.from_config(str(home)) as instance,
        CodeLocationServer(instance, env=env) as server,
    ):
        daemon = start_daemon({**os.environ, **env, "DAGSTER_HOME": str(home)}, root / "daemon.log")
        try:
            write_sample(root / "raw", days=2, sessions_per_day=3, users=4, seed=7)
            days = sorted(path.name for path in (root / "raw").iterdir())
            pipeline = build_pipeline(root)  # the same raw dir, DuckDB file, staging and training dirs
            register_days(instance, days)
            for day in days:
                daily = pipeline.definitions.resolve_job_def("daily_events_job")
                assert daily.execute_in_process(partition_key=day, instance=instance).success
            server.wait_until_loaded()
            assert daemon.poll() is None, (root / "daemon.log").read_text()[-3000:]
            ui = Ui(server.port, instance, days)
            # The operator's session. The newest day is loaded again first, so that the automation sensor's first
            # tick finds it in progress: the training sets it then builds follow that reload.
            ui.runs["reload"] = ui.launch(
                {
                    "mode": "default",
                    "runConfigData": "{}",
                    "executionMetadata": {"tags": [{"key": "dagster/partition", "value": days[-1]}]},
                    "selector": {**REPOSITORY, "jobName": "daily_events_job"},
                }
            )
            started = ui.query(START_SENSOR, sensorSelector=AUTOMATION_SENSOR)["startSensor"]
            assert started["sensorState"]["status"] == "RUNNING", started
            ui.runs["execute_all"] = ui.launch(execute_all_params(ui, RESUME_EVENTS))
            yield ui
        finally:
            stop(daemon)


def execute_all_params(ui: Ui, asset: list[str]) -> dict:
    """What the Checks tab's "Execute all" sends (ExecuteChecksButton): the checks' first common job, no day."""
    node = ui.query(ASSET_CHECKS_QUERY, assetKey={"path": asset})["assetNodeOrError"]
    checks = node["assetChecksOrError"]["checks"]
    launchable = [c for c in checks if c["canExecuteIndividually"] == "CAN_EXECUTE"]
    assert launchable == checks, "every check can run without materializing the asset"
    common = [name for name in checks[0]["jobNames"] if all(name in c["jobNames"] for c in checks)]
    return {
        "mode": "default",
        "executionMetadata": {},
        "runConfigData": "{}",
        "selector": {
            "jobName": (common or node["jobNames"])[0],
            "repositoryLocationName": node["repository"]["location"]["name"],
            "repositoryName": node["repository"]["name"],
            "assetSelection": [],
            "assetCheckSelection": [{"assetKey": {"path": asset}, "name": c["name"]} for c in launchable],
        },
    }


def reexecute_step_params(ui: Ui, run_id: str, step_key: str) -> dict:
    """What a run page's Re-execute > Selected step sends (getReexecutionParamsForSelection)."""
    run = ui.query(RUN_FOR_REEXECUTION, runId=run_id)["runOrError"]
    hidden = {"dagster/is_resume_retry", "dagster/step_selection"}
    root_run = run["rootRunId"] or run["id"]
    tags = [t for t in run["tags"] if t["key"] not in hidden]
    tags += [
        {"key": "dagster/parent_run_id", "value": run["id"]},
        {"key": "dagster/root_run_id", "value": root_run},
        {"key": "dagster/step_selection", "value": step_key},
    ]
    return {
        "mode": run["mode"],
        "runConfigData": run["runConfigYaml"],
        "executionMetadata": {"parentRunId": run["id"], "rootRunId": root_run, "tags": tags},
        "selector": {
            **REPOSITORY,
            "pipelineName": run["pipelineName"],
            "solidSelection": run["solidSelection"],
            "assetSelection": [{"path": a["path"]} for a in run["assetSelection"] or []],
            "assetCheckSelection": [
                {"assetKey": {"path": c["assetKey"]["path"]}, "name": c["name"]}
                for c in run["assetCheckSelection"] or []
            ],
        },
        "stepKeys": [step_key],
    }


def evaluations_in(ui: Ui, run_id: str, asset: list[str], checks: list[str]) -> list[dict]:
    """The run's executions of ``checks`` as the Checks tab's history lists them (status, partition)."""
    found = []
    for name in checks:
        executions = ui.query(CHECK_EXECUTIONS, assetKey={"path": asset}, checkName=name)["assetCheckExecutions"]
        found += [{"check": name, **e} for e in executions if e["runId"] == run_id]
    return found


def assert_checked_day(evaluations: list[dict], day: str) -> None:
    """Every check evaluated, for ``day``; none failed to execute; only warnings may fail."""
    evaluated = [e for e in evaluations if e["evaluation"]]
    assert evaluated and all(e["evaluation"]["partition"] == day for e in evaluated), evaluations
    assert not [e for e in evaluations if e["status"] == "EXECUTION_FAILED"], evaluations
    assert all(e["status"] == "SUCCEEDED" or e["evaluation"]["severity"] == "WARN" for e in evaluated), evaluations


def test_execute_all_on_a_checks_tab_checks_the_latest_day(ui):
    """The UI sends no day: the run succeeds and its results carry the day of the asset's latest
    materialization. The run's own planned entry without a day stays beside them, as skipped."""
    params = execute_all_params(ui, RESUME_EVENTS)
    assert params["selector"]["jobName"] == "__ASSET_JOB" and "tags" not in params["executionMetadata"]
    run_id = ui.runs["execute_all"]
    assert ui.wait(run_id).status == dg.DagsterRunStatus.SUCCESS
    checks = [c["name"] for c in params["selector"]["assetCheckSelection"]]
    evaluations = evaluations_in(ui, run_id, RESUME_EVENTS, checks)
    assert {e["check"] for e in evaluations if e["evaluation"]} == set(checks)
    assert_checked_day(evaluations, ui.days[-1])  # the newest day, loaded before and reloaded meanwhile
    assert {e["status"] for e in evaluations if not e["evaluation"]} <= {"SKIPPED"}


def test_the_raw_log_shows_every_day_with_files_as_present(ui):
    node = ui.query(PARTITION_HEALTH_QUERY, assetKey={"path": ["raw", "events"]})["assetNodeOrError"]
    (dimension,) = node["partitionKeysByDimension"]
    assert dimension["partitionKeys"] == ui.days
    statuses = node["assetPartitionStatuses"]
    assert statuses["materializedPartitions"] == ui.days and not statuses["failedPartitions"]


def test_a_reloaded_day_rebuilds_the_training_sets_with_training_job(ui):
    """With the automation sensor on, a day materialized again from the UI makes the sensor launch
    training_job (named, not __ASSET_JOB) within the bound, and it succeeds. Meanwhile, the UI's
    Re-execute > Selected step on the day's run: a check-only run for that day, whose results carry it."""
    reload = ui.wait(ui.runs["reload"])
    assert reload.status == dg.DagsterRunStatus.SUCCESS
    reloaded_at = ui.instance.get_run_record_by_id(reload.run_id).end_time
    params = reexecute_step_params(ui, reload.run_id, "event_table_checks")
    recheck = ui.query(LAUNCH_PIPELINE_REEXECUTION, executionParams=params)["launchPipelineReexecution"]
    assert recheck["__typename"] == "LaunchRunSuccess", recheck

    deadline = reloaded_at + AUTOMATION_BOUND_SECONDS
    while not (rebuilds := ui.instance.get_run_records(dg.RunsFilter(job_name="training_job"))):
        assert time.time() < deadline, f"no training_job run within {AUTOMATION_BOUND_SECONDS} s of the reload"
        time.sleep(1)
    (rebuild,) = rebuilds  # the sensor's first tick found the reload in progress: one rebuild, after it
    assert rebuild.create_timestamp.timestamp() > reloaded_at
    print(f"training_job requested {rebuild.create_timestamp.timestamp() - reloaded_at:.0f} s after the reload")
    assert rebuild.dagster_run.tags["dagster/sensor_name"] == AUTOMATION_SENSOR["sensorName"]
    assert rebuild.dagster_run.tags["dagster/from_automation_condition"] == "true"
    assert ui.wait(rebuild.dagster_run.run_id).status == dg.DagsterRunStatus.SUCCESS
    assert not ui.instance.get_runs(
        dg.RunsFilter(job_name="__ASSET_JOB", tags={"dagster/from_automation_condition": "true"})
    )

    assert ui.wait(recheck["run"]["id"]).status == dg.DagsterRunStatus.SUCCESS
    checks = ["no_residual_pii", "event_ids_unique", "pseudonyms_well_formed", "values_in_allowed_ranges"]
    assert_checked_day(evaluations_in(ui, recheck["run"]["id"], RESUME_EVENTS, checks), ui.days[-1])


def test_screenshots_of_the_asset_pages(ui, tmp_path):
    """What an operator sees, after all of the above: no raw day "Never materialized", no check run failed."""
    shots = take_screenshots(f"http://127.0.0.1:{ui.port}", tmp_path)
    for shot in shots:
        print(shot.png)
        assert shot.png.stat().st_size > 10_000 and not shot.misleading, (shot.name, shot.misleading)
    text = {shot.name: shot.text for shot in shots}
    partitions = text["raw_events_partitions"]
    assert f"Materialized ({len(ui.days)})" in partitions and "Missing (0)" in partitions
    assert "Execute all" in text["resume_events_checks"]
