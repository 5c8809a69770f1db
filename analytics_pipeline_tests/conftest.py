"""Shared fixtures. The spaCy model behind PiiScrubber loads once per test session."""

from __future__ import annotations

import os
import tempfile
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import dagster as dg
import psutil
import pytest

from analytics_pipeline import warehouse
from analytics_pipeline.definitions import defs
from analytics_pipeline.defs.resources import (
    AnalyticsDuckDBResource,
    LifecycleResource,
    PseudonymizerResource,
    QualityThresholdsResource,
    RawEventLogResource,
    ScrubberResource,
    ShardIOManager,
    StagingAreaResource,
    TrainingSetsResource,
)
from analytics_pipeline.defs.shared import register_days
from analytics_pipeline.launcher import kill_survivors
from analytics_pipeline.privacy import PiiScrubber
from analytics_pipeline.sample_data import SeededPii, write_sample

# Strong enough for validate_salt (32+ bytes, not predictable), and clearly not a real secret.
TEST_SALT = "synthetic-test-salt-7c41e9a02fd35b86"

# Tests never write into the working directory; hypothesis would put its cache there.
os.environ.setdefault("HYPOTHESIS_STORAGE_DIRECTORY", tempfile.mkdtemp(prefix="hypothesis-"))

# Every process the suite starts inherits this mark, so it is found even after its parent died.
SESSION_MARK_ENV = "ANALYTICS_TEST_SESSION"
SURVIVOR_GRACE_SECONDS = 10
# Helpers Python's multiprocessing keeps for the life of the pytest process itself; they end with it.
MULTIPROCESSING_HELPERS = ("multiprocessing.resource_tracker", "multiprocessing.forkserver")


def suite_processes(mark: str) -> list[psutil.Process]:
    """Live processes the suite started: descendants of pytest and any process carrying the session's
    mark (an orphan reparented to init keeps its environment). Not the process group: a pipe's other
    end (`pytest | tail`) shares it."""
    me = psutil.Process()
    exempt = {me.pid} | {parent.pid for parent in me.parents()}
    descendants = {child.pid for child in me.children(recursive=True)}
    found = []
    # Fresh Process objects, not process_iter's cache: one parallel run missed a just-made orphan (cause unproven).
    for pid in psutil.pids():
        try:
            process = psutil.Process(pid)
            if process.pid in exempt or process.status() == psutil.STATUS_ZOMBIE:
                continue
            if process.ppid() == me.pid and any(h in " ".join(process.cmdline()) for h in MULTIPROCESSING_HELPERS):
                continue
            if process.pid in descendants or process.environ().get(SESSION_MARK_ENV) == mark:
                found.append(process)
        except psutil.Error:  # gone meanwhile, or another user's process
            continue
    return found


@pytest.fixture(scope="session", autouse=True)
def no_process_left_behind():
    """The suite leaves no process behind: survivors get a grace period, then are killed and fail the session."""
    mark = uuid.uuid4().hex
    os.environ[SESSION_MARK_ENV] = mark
    yield
    killed = kill_survivors(suite_processes(mark), SURVIVOR_GRACE_SECONDS)
    if killed:
        pytest.fail("the test suite left processes behind (killed now): " + "; ".join(killed), pytrace=False)


@pytest.fixture(scope="session")
def scrubber() -> PiiScrubber:
    # The same cached instance the pipeline's ScrubberResource hands out: one model load per session.
    return ScrubberResource().get_scrubber()


@pytest.fixture
def salt_env(monkeypatch) -> str:
    monkeypatch.setenv("ANALYTICS_SALT", TEST_SALT)
    return TEST_SALT


@dataclass
class Pipeline:
    """The real pipeline definitions wired to a temporary raw dir, staging dir and DuckDB file."""

    root: Path
    definitions: dg.Definitions
    # One instance for all runs, so later runs (training) see earlier runs' check results.
    # Its artifacts live under root: nothing to clean up, no stray temporary directory.
    instance: dg.DagsterInstance = field(init=False)

    def __post_init__(self):
        self.instance = dg.DagsterInstance.ephemeral(tempdir=str(self.root / "dagster"))

    @property
    def raw_dir(self) -> Path:
        return self.root / "raw"

    @property
    def database(self) -> Path:
        return self.root / "warehouse.duckdb"

    def run(self, day: str | None, job: str = "daily_events_job") -> dg.ExecuteInProcessResult:
        if day is not None:
            register_days(self.instance, [day])
        return self.definitions.resolve_job_def(job).execute_in_process(
            partition_key=day, instance=self.instance, raise_on_error=False
        )

    def query(self, sql: str, params: list | None = None) -> list[tuple]:
        with warehouse.connect(self.database, read_only=True) as conn:
            return conn.execute(sql, params or []).fetchall()


def pipeline_resources(root: Path, salt: str = TEST_SALT) -> dict:
    return {
        "pseudonymizer": PseudonymizerResource(salt=salt),
        "scrubber": ScrubberResource(),
        "raw_log": RawEventLogResource(raw_dir=str(root / "raw")),
        # Small chunks and shards so tests cross chunk and shard boundaries.
        "staging": StagingAreaResource(staging_dir=str(root / "staging"), chunk_lines=64, shard_events=100),
        "shard_io_manager": ShardIOManager(staging_dir=str(root / "staging")),
        "duckdb": AnalyticsDuckDBResource(database=str(root / "warehouse.duckdb")),
        "training": TrainingSetsResource(training_dir=str(root / "training")),
        "lifecycle": LifecycleResource(),
        "quality": QualityThresholdsResource(),
    }


def build_pipeline(root: Path, **resource_overrides) -> Pipeline:
    loaded = defs()
    resources = {**pipeline_resources(root), **resource_overrides}
    return Pipeline(
        root,
        dg.Definitions(assets=loaded.assets, asset_checks=loaded.asset_checks, jobs=loaded.jobs, resources=resources),
    )


@pytest.fixture
def pipeline(tmp_path, scrubber) -> Pipeline:
    return build_pipeline(tmp_path)


@dataclass
class SampleDays:
    days: list[str]
    pii: SeededPii


@pytest.fixture
def sample_days(pipeline) -> SampleDays:
    """Two small generated days in the pipeline's raw dir."""
    pii = write_sample(pipeline.raw_dir, days=2, sessions_per_day=12, users=20, seed=11, malformed_share=0.08)
    return SampleDays(sorted(p.name for p in pipeline.raw_dir.iterdir()), pii)
