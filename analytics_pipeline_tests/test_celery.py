"""A sharded day on a real Celery cluster: Redis and two worker processes, started and stopped by the test."""

import shutil
from datetime import date

import dagster as dg
import psutil
import pytest

from analytics_pipeline_tests.conftest import TEST_SALT, build_pipeline
from analytics_pipeline_tests.test_sharding import table_rows
from tools.bench import Workspace, session_lines, write_day
from tools.celery_cluster import local_celery_cluster
from tools.scale_bench import DAY, run_in

pytestmark = pytest.mark.slow
EVENTS = 600


def celery_workers_of(home) -> set[str]:
    """The workers that executed the run's steps, from dagster-celery's engine events."""
    with dg.DagsterInstance.from_config(str(home)) as instance:
        (run,) = instance.get_runs()
        return {
            entry.dagster_event.engine_event_data.metadata["Celery worker"].value
            for entry in instance.all_logs(run.run_id, of_type=dg.DagsterEventType.ENGINE_EVENT)
            if "Celery worker" in entry.dagster_event.engine_event_data.metadata
        }


def test_a_sharded_day_on_two_celery_workers_gives_the_tables_of_one_process(tmp_path, scrubber):
    source = tmp_path / "source"
    write_day(source, DAY, session_lines(3, text_scale=1, ui_scale=1, day=date.fromisoformat(DAY)), EVENTS)
    workspace = Workspace(tmp_path / "celery", TEST_SALT)
    shutil.copytree(source, workspace.raw_dir)
    env = {**workspace.env(), "ANALYTICS_EXECUTOR": "celery", "ANALYTICS_SHARD_EVENTS": "100"}

    before = {p.pid for p in psutil.Process().children(recursive=True)}
    with local_celery_cluster(2, env, tmp_path / "cluster") as broker:
        started = [p for p in psutil.Process().children(recursive=True) if p.pid not in before]
        assert [p.name() for p in started].count("redis-server") == 1 and len(started) == 3
        timing = run_in(workspace, {**env, "ANALYTICS_CELERY_BROKER": broker}, "celery", warm=False)
    assert not [p for p in started if p.is_running() and p.status() != psutil.STATUS_ZOMBIE], "left behind"

    assert timing.shards == 6
    assert len(celery_workers_of(workspace.root / "dagster_home")) == 2, "both workers ran steps"
    one_process = build_pipeline(tmp_path / "one_process")
    shutil.copytree(source, one_process.raw_dir)
    assert one_process.run(DAY).success
    celery_tables = table_rows(build_pipeline(workspace.root))  # the Celery run's DuckDB file, read-only
    assert sum(len(rows) for name, rows in celery_tables.items() if name != "users") == EVENTS
    assert celery_tables == table_rows(one_process)
