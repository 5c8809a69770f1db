"""Configurable resources. Paths come from environment variables with local defaults; the salt only from the environment."""

from __future__ import annotations

import os
import pickle
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from functools import lru_cache
from pathlib import Path

import dagster as dg
import duckdb
from dagster_duckdb import DuckDBResource

from analytics_pipeline import warehouse
from analytics_pipeline.privacy.hashing import salt_fingerprint, validate_salt
from analytics_pipeline.privacy.scrubber import DEFAULT_MODEL, PiiScrubber, scrubber_version
from analytics_pipeline.raw_log import (
    RawLine,
    SkippedFile,
    available_days,
    day_files,
    is_sample_day,
    iter_raw_lines,
    skipped_files,
)
from analytics_pipeline.staging import shards_dir
from analytics_pipeline.training import SplitRatios, TrainingConfig
from analytics_pipeline.training.build import DEFAULT_LABEL_WINDOW_HOURS, DEFAULT_MAX_PLACEHOLDER_SHARE
from analytics_pipeline.training.snapshot import DEFAULT_KEEP_VERSIONS, DEFAULT_TRAINING_DIR

DEFAULT_RAW_DIR = "data/raw/events"
DEFAULT_DUCKDB_PATH = "data/warehouse.duckdb"
DEFAULT_STAGING_DIR = "data/staging"
DEFAULT_RETENTION_DAYS = 30
# About 10 s of NER per shard on one core: small enough to spread a day evenly over workers,
# large enough that a step's own cost (about a second on Celery) stays small beside it.
DEFAULT_SHARD_EVENTS = 5000
DEFAULT_MAX_SHARDS = 64


def setting(name: str, default: str | int) -> str | int | dg.EnvVar:
    """A setting from its environment variable when that is set, else the default.

    The one way settings are read: as a ``dg.EnvVar`` the UI shows where the value came from.
    """
    if not os.getenv(name):
        return default
    return dg.EnvVar.int(name) if isinstance(default, int) else dg.EnvVar(name)


class PseudonymizerResource(dg.ConfigurableResource):
    """Holds the secret salt for keyed pseudonyms, bound to ``dg.EnvVar("ANALYTICS_SALT")``."""

    salt: str = ""

    def salt_bytes(self) -> bytes:
        """The validated salt; fails with instructions when it is missing or weak."""
        return validate_salt(self.salt)

    def fingerprint(self) -> str:
        return salt_fingerprint(self.salt_bytes())


@lru_cache(maxsize=4)
def _shared_scrubber(model_name: str, score_threshold: float, n_process: int) -> PiiScrubber:
    # One model load per process, however many assets and runs use it.
    return PiiScrubber(model_name=model_name, score_threshold=score_threshold, n_process=n_process)


class ScrubberResource(dg.ConfigurableResource):
    """The PII scrubber (Presidio + spaCy) used for every free-text field.

    ``n_process`` > 1 runs the NER in that many worker processes: use the cores for one
    partition at a time; leave it at 1 when partitions already run in parallel.
    """

    model_name: str = DEFAULT_MODEL
    score_threshold: float = 0.35
    n_process: int = 1

    def get_scrubber(self) -> PiiScrubber:
        return _shared_scrubber(self.model_name, self.score_threshold, self.n_process)

    def version(self) -> str:
        """The scrubber_version its rows get (what ``analytics-pipeline rescrub --stale`` compares)."""
        return scrubber_version(self.model_name, self.score_threshold)


class RawEventLogResource(dg.ConfigurableResource):
    """The raw event log: ``<raw_dir>/<YYYY-MM-DD>/*.jsonl`` (contains PII)."""

    raw_dir: str = DEFAULT_RAW_DIR

    def days(self) -> list[str]:
        return available_days(Path(self.raw_dir))

    def files(self, day: str) -> list[Path]:
        return day_files(Path(self.raw_dir), day)

    def lines(self, day: str) -> Iterator[RawLine]:
        return iter_raw_lines(Path(self.raw_dir), day)

    def skipped(self, day: str) -> list[SkippedFile]:
        return skipped_files(Path(self.raw_dir), day)

    def is_sample_day(self, day: str) -> bool:
        return is_sample_day(Path(self.raw_dir), day)


class StagingAreaResource(dg.ConfigurableResource):
    """Scrubbed per-partition Parquet files between the scrubbing and the DuckDB load.

    ``chunk_lines`` bounds memory: lines are cleaned and written this many at a time.
    A day is scrubbed in shards of about ``shard_events`` raw lines (at most ``max_shards``),
    each its own step: the executor spreads them over processes, Celery workers or pods.
    """

    staging_dir: str = DEFAULT_STAGING_DIR
    chunk_lines: int = 2000
    shard_events: int = DEFAULT_SHARD_EVENTS
    max_shards: int = DEFAULT_MAX_SHARDS

    def partition_dir(self, day: str) -> Path:
        return Path(self.staging_dir) / day

    def run_shards_dir(self, day: str, run_id: str) -> Path:
        return shards_dir(Path(self.staging_dir), day) / run_id


class ShardIOManager(dg.ConfigurableIOManager):
    """Keeps the small values passed between the shard steps of a day (shard plans, per-shard counts)
    beside the staged shards, on the staging volume every process, worker and pod mounts; the merge
    step deletes them with the shards. Dagster's default IO manager would keep them under the local
    DAGSTER_HOME, which other machines cannot read."""

    staging_dir: str = DEFAULT_STAGING_DIR

    def _path(self, context: dg.OutputContext | dg.InputContext, identifier: list[str]) -> Path:
        run_id, *step = identifier
        return shards_dir(Path(self.staging_dir), context.partition_key) / run_id / "io" / "-".join(step)

    def handle_output(self, context: dg.OutputContext, obj) -> None:
        path = self._path(context, context.get_identifier())
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        path.write_bytes(pickle.dumps(obj))

    def load_input(self, context: dg.InputContext):
        return pickle.loads(self._path(context, context.upstream_output.get_identifier()).read_bytes())


class LifecycleResource(dg.ConfigurableResource):
    """How long raw event files are kept once their day is safely loaded."""

    retention_days: int = DEFAULT_RETENTION_DAYS


class AnalyticsDuckDBResource(DuckDBResource):
    """The analytics DuckDB file, attached so that ``analytics.users`` means schema.table.

    The one way into the file for assets, checks, jobs and the CLI. Read-only connections
    still run in the writers' pool: a reader in another process collides with a writer's
    file lock all the same.
    """

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        Path(self.database).parent.mkdir(parents=True, exist_ok=True, mode=0o700)

    @contextmanager
    def get_connection(self, read_only: bool = False) -> Iterator[duckdb.DuckDBPyConnection]:
        conn = warehouse.connect(self.database, read_only=read_only)
        try:
            yield conn
        finally:
            conn.close()


class TrainingSetsResource(dg.ConfigurableResource):
    """Where training-set snapshots go and how the sets are labeled, split and filtered."""

    training_dir: str = DEFAULT_TRAINING_DIR
    # train,validation,test shares; a user's split depends only on their pseudonym and these.
    split_ratios: str = str(SplitRatios())
    # A copy, download or refinement this long after an output still counts as its outcome.
    label_window_hours: int = DEFAULT_LABEL_WINDOW_HOURS
    # Texts with a larger share of scrubber placeholders among their tokens are dropped.
    max_placeholder_share: float = DEFAULT_MAX_PLACEHOLDER_SHARE
    # Snapshot versions kept per set (the newest; at least 1): older ones are deleted after each build.
    keep_versions: int = DEFAULT_KEEP_VERSIONS

    def config(self) -> TrainingConfig:
        return TrainingConfig(
            split_ratios=SplitRatios.parse(self.split_ratios),
            label_window=timedelta(hours=self.label_window_hours),
            max_placeholder_share=self.max_placeholder_share,
        )


class QualityThresholdsResource(dg.ConfigurableResource):
    """Thresholds of the data-quality checks (defs/analytics/checks.py, defs/privacy/checks.py)."""

    # Share of a day's raw lines that may be quarantined before the check warns. A string so that
    # it can come from ANALYTICS_MAX_QUARANTINE_RATE (Dagster's EnvVar has no float form).
    max_quarantine_rate: str = "0.01"
    lateness_days: int = 7  # how long before its arrival day an event may have occurred
    freshness_max_age_days: int = 2  # how old the newest loaded partition may be
    canary_texts: int = 20  # texts per partition that get canaries planted and scrubbed

    @property
    def max_rate(self) -> float:
        try:
            rate = float(self.max_quarantine_rate)
        except ValueError:
            raise ValueError(f"max_quarantine_rate must be a number, got {self.max_quarantine_rate!r}") from None
        if not 0 <= rate <= 1:
            raise ValueError(f"max_quarantine_rate must be between 0 and 1, got {rate}")
        return rate


def default_resources() -> dict[str, dg.ConfigurableResource]:
    return {
        # Unset, the salt is "" and materialization fails with instructions (SaltError), not a config error.
        "pseudonymizer": PseudonymizerResource(salt=setting("ANALYTICS_SALT", "")),
        "scrubber": ScrubberResource(n_process=setting("ANALYTICS_SCRUB_PROCESSES", 1)),
        "raw_log": RawEventLogResource(raw_dir=setting("ANALYTICS_RAW_DIR", DEFAULT_RAW_DIR)),
        "staging": StagingAreaResource(
            staging_dir=setting("ANALYTICS_STAGING_DIR", DEFAULT_STAGING_DIR),
            shard_events=setting("ANALYTICS_SHARD_EVENTS", DEFAULT_SHARD_EVENTS),
            max_shards=setting("ANALYTICS_MAX_SHARDS", DEFAULT_MAX_SHARDS),
        ),
        "shard_io_manager": ShardIOManager(staging_dir=setting("ANALYTICS_STAGING_DIR", DEFAULT_STAGING_DIR)),
        "lifecycle": LifecycleResource(retention_days=setting("ANALYTICS_RETENTION_DAYS", DEFAULT_RETENTION_DAYS)),
        "duckdb": AnalyticsDuckDBResource(database=setting("ANALYTICS_DUCKDB_PATH", DEFAULT_DUCKDB_PATH)),
        "training": TrainingSetsResource(
            training_dir=setting("ANALYTICS_TRAINING_DIR", DEFAULT_TRAINING_DIR),
            split_ratios=setting("ANALYTICS_TRAINING_SPLIT", str(SplitRatios())),
            label_window_hours=setting("ANALYTICS_LABEL_WINDOW_HOURS", DEFAULT_LABEL_WINDOW_HOURS),
            keep_versions=setting("ANALYTICS_TRAINING_KEEP_VERSIONS", DEFAULT_KEEP_VERSIONS),
        ),
        "quality": QualityThresholdsResource(
            max_quarantine_rate=setting("ANALYTICS_MAX_QUARANTINE_RATE", "0.01"),
            lateness_days=setting("ANALYTICS_LATENESS_DAYS", 7),
            freshness_max_age_days=setting("ANALYTICS_FRESHNESS_MAX_AGE_DAYS", 2),
            canary_texts=setting("ANALYTICS_CANARY_TEXTS", 20),
        ),
    }


@dg.definitions
def resources() -> dg.Definitions:
    return dg.Definitions(resources=default_resources())
