"""Instance configurations: the local one (pool limit for partition-parallel runs) and the Kubernetes one."""

from __future__ import annotations

import configparser
import shutil
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

import dagster as dg
import pytest
from dagster._config import process_config
from dagster._core.instance.config import dagster_instance_config
from dagster._core.run_coordinator import QueuedRunCoordinator
from dagster_k8s import K8sRunLauncher, k8s_job_executor
from dagster_k8s.container_context import K8sContainerContext
from dagster_k8s.job import (
    DagsterK8sJobConfig,
    UserDefinedDagsterK8sConfig,
    construct_dagster_k8s_job,
    get_user_defined_k8s_config,
)
from dagster_postgres import DagsterPostgresStorage

from analytics_pipeline.definitions import defs
from analytics_pipeline.defs.shared import DUCKDB_WRITER_POOL
from analytics_pipeline.executors import EXECUTOR_ENV, ExecutorChoiceError, pipeline_executor
from tools import bench

PROJECT_ROOT = Path(__file__).resolve().parents[1]
LOCAL_INSTANCE = PROJECT_ROOT / "data" / "dagster_home"
KUBERNETES_INSTANCE = PROJECT_ROOT / "deploy" / "k8s"
CELERY_WORKER_UNIT = PROJECT_ROOT / "deploy" / "celery" / "analytics-celery-worker@.service"


def op_pools() -> dict[str, str | None]:
    return {op.name: op.pool for op in defs().resolve_job_def("daily_events_job").graph.iterate_op_defs()}


def op_name(step_key: str) -> str:
    """``staging__scrubbed_events.scrub_shard[shard_000_of_002]`` -> ``scrub_shard``."""
    return step_key.split("[")[0].rsplit(".", 1)[-1]


def test_scrubbing_runs_outside_the_duckdb_writer_pool_and_loading_inside_it():
    pools = op_pools()
    # Partitions and the shards of a partition scrub in parallel.
    assert pools["plan_scrub_shards"] is pools["scrub_shard"] is pools["merge_scrubbed_shards"] is None
    assert pools["event_tables"] == pools["analytics__users"] == DUCKDB_WRITER_POOL
    # The only pool, so the instance's default limit (1) is its limit.
    assert set(pools.values()) <= {None, DUCKDB_WRITER_POOL}


def test_local_instance_runs_two_partitions_at_once_with_one_duckdb_writer(tmp_path, monkeypatch):
    shutil.copy(LOCAL_INSTANCE / "dagster.yaml", tmp_path / "dagster.yaml")
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path))
    with dg.DagsterInstance.get() as instance:
        assert instance.event_log_storage.get_concurrency_info(DUCKDB_WRITER_POOL).limit == 1
        assert instance.get_concurrency_config().run_queue_config.max_concurrent_runs == 2


# One process of the race below: opens the instance, says it is ready, waits for the start, then does what a
# run's first step in a pool does (sets the pool up with the default limit, claims a slot).
CLAIMANT = """
import sys, time
from pathlib import Path
import dagster as dg
import analytics_pipeline.pool_slots
home, index = Path(sys.argv[1]), sys.argv[2]
with dg.DagsterInstance.from_config(str(home)) as instance:
    storage = instance.event_log_storage
    storage.get_concurrency_info("race")  # connected before the start
    (home / f"ready-{index}").touch()
    deadline = time.monotonic() + 60
    while not (home / "go").exists() and time.monotonic() < deadline:
        time.sleep(0.001)
    storage.initialize_concurrency_limit_to_default("race")
    print(storage._claim_concurrency_slot("race", f"run-{index}", "load").name)
"""


def test_processes_claiming_a_one_slot_pool_at_once_get_one_slot_on_sqlite_storage(tmp_path):
    """Without analytics_pipeline/pool_slots.py several of four racing processes took the one slot."""
    for trial in range(3):
        home = tmp_path / f"trial-{trial}"
        home.mkdir()
        (home / "dagster.yaml").write_text("concurrency:\n  pools:\n    default_limit: 1\n")
        with dg.DagsterInstance.from_config(str(home)) as instance:  # its database, not yet the pool
            instance.event_log_storage.get_concurrency_info("race")
        claimants = [
            subprocess.Popen([sys.executable, "-c", CLAIMANT, str(home), str(i)], stdout=subprocess.PIPE, text=True)
            for i in range(4)
        ]
        deadline = time.monotonic() + 60
        while len(list(home.glob("ready-*"))) < len(claimants) and time.monotonic() < deadline:
            time.sleep(0.01)
        (home / "go").touch()
        outcomes = sorted(claimant.communicate(timeout=60)[0].strip() for claimant in claimants)
        assert outcomes == ["BLOCKED", "BLOCKED", "BLOCKED", "CLAIMED"], f"trial {trial}: {outcomes}"


def test_two_partition_runs_at_once_never_use_duckdb_at_the_same_time(tmp_path):
    days = {"2026-11-03": 150, "2026-11-04": 150}
    for seed, (day, events) in enumerate(days.items()):
        lines = bench.session_lines(seed, text_scale=1, ui_scale=2, day=date.fromisoformat(day))
        bench.write_day(tmp_path / "raw", day, lines, events)
    # Two real worker processes with the project's dagster.yaml; raises unless both succeed and rows reconcile.
    bench.run_partitions(tmp_path, "2 partitions in parallel", days, parallel=True)

    pools = op_pools()
    with dg.DagsterInstance.from_config(str(tmp_path / "dagster_home")) as instance:
        runs = instance.get_runs()
        assert sorted(run.tags["dagster/partition"] for run in runs) == sorted(days)
        windows = [
            [
                (step.start_time, step.end_time)
                for step in instance.get_run_step_stats(run.run_id)
                if pools[op_name(step.step_key)]
            ]
            for run in runs
        ]
    # Per run: the load, the event tables' checks, and users with its own checks.
    assert all(len(run_windows) >= 3 for run_windows in windows)
    assert not [(a, b) for a in windows[0] for b in windows[1] if a[0] < b[1] and b[0] < a[1]], (
        "steps of the duckdb_writer pool overlapped across runs"
    )


@pytest.mark.parametrize(
    "section, config_type",
    [
        ("run_launcher", K8sRunLauncher.config_type()),
        ("run_coordinator", QueuedRunCoordinator.config_type()),
        ("storage", DagsterPostgresStorage.config_type()),
    ],
)
def test_kubernetes_instance_config_is_valid_for_its_classes(monkeypatch, section, config_type):
    monkeypatch.setenv("DAGSTER_PG_PASSWORD", "not-a-real-password")
    config, _ = dagster_instance_config(str(KUBERNETES_INSTANCE))  # validates the file's own schema
    assert config["concurrency"]["pools"]["default_limit"] == 1
    class_config = config[section]["postgres"] if section == "storage" else config[section].get("config") or {}
    result = process_config(config_type, class_config)
    assert result.success, result.errors


def kubernetes_run_env() -> dict[str, str]:
    config, _ = dagster_instance_config(str(KUBERNETES_INSTANCE))
    return dict(item.split("=", 1) for item in config["run_launcher"]["config"]["env_vars"])


@pytest.mark.parametrize(
    "choice, executor_name",
    [(None, "in_process"), ("in_process", "in_process"), ("multiprocess", "multiprocess"), ("k8s", "k8s")],
)
def test_the_executor_is_the_one_the_environment_names(monkeypatch, choice, executor_name):
    if choice is None:
        monkeypatch.delenv(EXECUTOR_ENV, raising=False)
    else:
        monkeypatch.setenv(EXECUTOR_ENV, choice)
    assert pipeline_executor().name == executor_name


def test_celery_executor_reads_the_broker_from_the_environment_so_no_password_lands_in_run_config(monkeypatch):
    monkeypatch.setenv(EXECUTOR_ENV, "celery")
    monkeypatch.setenv("ANALYTICS_CELERY_BROKER", "redis://:s3cret-password@redis.internal:6379/0")
    executor = pipeline_executor()
    assert executor.name == "celery"
    # Resolved when a run starts, from that process's environment: not a value baked into the definitions.
    monkeypatch.setenv("ANALYTICS_CELERY_BROKER", "redis://:rotated-password@redis.internal:6379/0")
    resolved = executor.config_schema.resolve_config({}).value["config"]
    assert resolved["broker"] == resolved["backend"] == "redis://:rotated-password@redis.internal:6379/0"


def test_an_unknown_executor_is_a_clear_error(monkeypatch):
    monkeypatch.setenv(EXECUTOR_ENV, "spark")
    with pytest.raises(ExecutorChoiceError, match="in_process, multiprocess, celery, k8s"):
        pipeline_executor()


def test_kubernetes_runs_shard_a_day_into_pods_that_ask_for_one_core(monkeypatch):
    env = kubernetes_run_env()
    assert env["ANALYTICS_EXECUTOR"] == "k8s" and int(env["ANALYTICS_SHARD_EVENTS"]) > 0
    monkeypatch.setenv(EXECUTOR_ENV, env["ANALYTICS_EXECUTOR"])
    assert pipeline_executor() is k8s_job_executor
    (scrub_shard,) = [
        op for op in defs().resolve_job_def("daily_events_job").graph.iterate_op_defs() if op.name == "scrub_shard"
    ]
    pod = get_user_defined_k8s_config(scrub_shard.tags)  # raises unless the tag is valid K8s config
    assert pod.container_config["resources"]["requests"]["cpu"] == "1"


def test_no_kubernetes_container_of_a_run_or_a_step_runs_as_root():
    config, _ = dagster_instance_config(str(KUBERNETES_INSTANCE))
    launcher = config["run_launcher"]["config"]
    # What the run launcher and k8s_job_executor (which inherits the launcher's settings) build a pod from.
    context = K8sContainerContext(
        security_context=launcher["security_context"],
        run_k8s_config=UserDefinedDagsterK8sConfig.from_dict(launcher["run_k8s_config"]),
    )
    job_config = DagsterK8sJobConfig(job_image=launcher["job_image"], dagster_home="/opt/dagster/dagster_home")
    job = construct_dagster_k8s_job(job_config, ["dagster"], "step", user_defined_k8s_config=context.run_k8s_config)
    (container,) = job.spec.template.spec.containers
    assert container.security_context.run_as_non_root and container.security_context.run_as_user not in (None, 0)
    assert container.security_context.allow_privilege_escalation is False
    assert container.security_context.capabilities.drop == ["ALL"]
    assert job.spec.template.spec.security_context.fs_group == container.security_context.run_as_group


def test_the_celery_worker_unit_runs_unprivileged_with_secrets_from_a_file():
    unit = configparser.ConfigParser(interpolation=None, strict=False)
    unit.optionxform = str
    unit.read(CELERY_WORKER_UNIT)
    service = unit["Service"]
    assert service["User"] not in ("root", "0") and service["Group"] not in ("root", "0")
    assert service["NoNewPrivileges"] == "yes" and service["CapabilityBoundingSet"] == ""
    assert service["EnvironmentFile"].startswith("/etc/"), "secrets in a root-only file, not in the unit"
    assert "ANALYTICS_SALT=" not in CELERY_WORKER_UNIT.read_text() and "Environment=" not in service
    command = service["ExecStart"].split()
    assert command[command.index("-A") + 1] == "analytics_pipeline.celery_worker"
    assert command[command.index("--pool") + 1] == "solo" and command[command.index("--queues") + 1] == "dagster"
