"""The code location loads: in Python, and in the real webserver through workspace.yaml."""

import os
import subprocess
import sys
import time
from pathlib import Path

import dagster as dg
import pytest

from analytics_pipeline.definitions import defs
from analytics_pipeline.launcher import LOCATION_STATUS, LaunchError, free_port, graphql

PROJECT_ROOT = Path(__file__).resolve().parents[1]
EXPECTED_ASSETS = {
    "raw/events",
    "staging/scrubbed_events",
    "analytics/users",
    "analytics/resume_events",
    "analytics/interactions",
    "analytics/quarantine",
}


def test_definitions_resolve_every_asset_job_and_schedule():
    definitions = defs()
    keys = {key.to_user_string() for key in definitions.resolve_asset_graph().get_all_asset_keys()}
    assert EXPECTED_ASSETS <= keys
    assert definitions.resolve_job_def("daily_events_job").partitions_def is not None
    assert definitions.resolve_schedule_def("daily_partition_schedule").job_name == "daily_events_job"
    dg.Definitions.validate_loadable(definitions)


def test_every_asset_is_catalogued():
    for spec in defs().resolve_all_asset_specs():
        assert spec.description and spec.group_name and spec.owners and spec.kinds, spec.key


@pytest.mark.slow
def test_webserver_loads_the_workspace(tmp_path):
    port = free_port()
    env = {**os.environ, "DAGSTER_HOME": str(tmp_path)}
    log = tmp_path / "webserver.log"
    with log.open("w") as log_file:
        server = subprocess.Popen(
            [sys.executable, "-m", "dagster_webserver", "-w", "workspace.yaml", "-h", "127.0.0.1", "-p", str(port)],
            cwd=PROJECT_ROOT,
            env=env,
            stdout=log_file,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 120
        entries = None
        while time.monotonic() < deadline:
            try:
                data = graphql(port, LOCATION_STATUS, timeout=10)
                entries = data["workspaceOrError"]["locationEntries"]
                if entries and all(e["loadStatus"] == "LOADED" for e in entries):
                    break
            except (OSError, LaunchError):
                pass
            time.sleep(1)
        assert entries, f"webserver did not answer: {log.read_text()[-2000:]}"
        (entry,) = entries
        assert entry["name"] == "analytics_pipeline"
        assert entry["locationOrLoadError"]["__typename"] == "RepositoryLocation", entry
        nodes = graphql(port, "{ assetNodes { assetKey { path } } }")["assetNodes"]
        assert EXPECTED_ASSETS <= {"/".join(n["assetKey"]["path"]) for n in nodes}
    finally:
        server.terminate()
        server.wait(timeout=30)


def test_dg_check_defs_passes_without_name_warnings(tmp_path):
    """`dg check defs` (the dg CLI) loads the project as pyproject.toml declares it, under its own name."""
    dg_cli = Path(sys.executable).with_name("dg")
    (tmp_path / "dagster.yaml").write_text("")  # an instance of its own, configured (no warning about it)
    result = subprocess.run(
        [str(dg_cli), "check", "defs"],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=180,
        env={**os.environ, "DAGSTER_HOME": str(tmp_path), "VIRTUAL_ENV": str(Path(sys.executable).parents[1])},
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "All definitions loaded successfully" in output
    assert "warning" not in output.lower(), output


def test_every_defs_module_has_a_docstring():
    for module in (PROJECT_ROOT / "analytics_pipeline" / "defs").rglob("*.py"):
        text = module.read_text()
        assert text.lstrip().startswith('"""'), f"{module.relative_to(PROJECT_ROOT)} has no module docstring"


# The one exception, on purpose: it mends Dagster's SQLite slot claim, and test_deploy's race fails if the
# mend stops taking effect after an upgrade.
DAGSTER_MENDS = {Path("analytics_pipeline/pool_slots.py")}


def test_runtime_code_uses_no_private_dagster_modules():
    for module in (PROJECT_ROOT / "analytics_pipeline").rglob("*.py"):
        if module.relative_to(PROJECT_ROOT) not in DAGSTER_MENDS:
            assert "dagster._" not in module.read_text(), module.relative_to(PROJECT_ROOT)


def test_groups_match_key_prefixes_and_pii_tags_are_consistent():
    for spec in defs().resolve_all_asset_specs():
        prefix = spec.key.path[0]
        assert spec.group_name == prefix, spec.key
        assert spec.tags["pii"] == ("raw" if prefix == "raw" else "scrubbed"), spec.key


def test_automation_launches_training_job_by_name():
    """The training sets carry no automation condition of their own (its runs would be unnamed __ASSET_JOB
    runs): training_job does, and Dagster's default automation sensor evaluates it."""
    definitions = defs()
    assert not [spec.key for spec in definitions.resolve_all_asset_specs() if spec.automation_condition]
    (training_job,) = [job for job in definitions.jobs if job.name == "training_job"]
    assert "an analytics day it reads was loaded" in training_job.automation_condition.get_label()
    sensor = definitions.resolve_sensor_def("default_automation_condition_sensor")
    assert sensor.asset_job_keys == {dg.AssetJobKey("training_job")}


def test_users_is_a_whole_table_in_the_daily_job():
    """analytics/users aggregates every day: unpartitioned, downstream of all days of the event tables,
    rebuilt in each day's run; its checks are unpartitioned like it."""
    definitions = defs()
    graph = definitions.resolve_asset_graph()
    users = graph.get(dg.AssetKey(["analytics", "users"]))
    assert users.partitions_def is None
    assert {
        dg.AssetKey(["analytics", "resume_events"]),
        dg.AssetKey(["analytics", "interactions"]),
    } <= users.parent_keys
    daily = definitions.resolve_job_def("daily_events_job")
    assert users.key in set(daily.asset_layer.executable_asset_keys)
    users_checks = [key for key in graph.asset_check_keys if key.asset_key == users.key]
    assert users_checks and all(graph.get(key).partitions_def is None for key in users_checks)
