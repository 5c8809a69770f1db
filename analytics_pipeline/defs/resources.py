"""Configurable resources. Paths come from environment variables with local defaults; the salt only from the environment."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path

import dagster as dg
import duckdb
from dagster_duckdb import DuckDBResource

from analytics_pipeline import warehouse
from analytics_pipeline.ingest.raw_log import RawLine, available_days, day_files, iter_raw_lines
from analytics_pipeline.privacy.hashing import salt_fingerprint, validate_salt
from analytics_pipeline.privacy.scrubber import DEFAULT_MODEL, PiiScrubber

DEFAULT_RAW_DIR = "data/raw/events"
DEFAULT_DUCKDB_PATH = "data/analytics.duckdb"
DEFAULT_STAGING_DIR = "data/staging"
DEFAULT_TRAINING_DIR = "data/training"
DEFAULT_RETENTION_DAYS = 30


def env_or_default(name: str, default: str) -> str | dg.EnvVar:
    """An EnvVar when the variable is set (the UI then shows where the value came from), else the default."""
    return dg.EnvVar(name) if os.getenv(name) else default


class PseudonymizerResource(dg.ConfigurableResource):
    """Holds the secret salt for keyed pseudonyms, bound to ``dg.EnvVar("ANALYTICS_SALT")``."""

    salt: str = ""

    def salt_bytes(self) -> bytes:
        """The validated salt; fails with instructions when it is missing or weak."""
        return validate_salt(self.salt)

    def fingerprint(self) -> str:
        return salt_fingerprint(self.salt_bytes())


@lru_cache(maxsize=4)
def _shared_scrubber(model_name: str, score_threshold: float) -> PiiScrubber:
    # One model load per process, however many assets and runs use it.
    return PiiScrubber(model_name=model_name, score_threshold=score_threshold)


class ScrubberResource(dg.ConfigurableResource):
    """The PII scrubber (Presidio + spaCy) used for every free-text field."""

    model_name: str = DEFAULT_MODEL
    score_threshold: float = 0.35

    def get_scrubber(self) -> PiiScrubber:
        return _shared_scrubber(self.model_name, self.score_threshold)


class RawEventLogResource(dg.ConfigurableResource):
    """The raw event log: ``<raw_dir>/<YYYY-MM-DD>/*.jsonl`` (contains PII)."""

    raw_dir: str = DEFAULT_RAW_DIR

    def days(self) -> list[str]:
        return available_days(Path(self.raw_dir))

    def files(self, day: str) -> list[Path]:
        return day_files(Path(self.raw_dir), day)

    def lines(self, day: str) -> Iterator[RawLine]:
        return iter_raw_lines(Path(self.raw_dir), day)


class StagingAreaResource(dg.ConfigurableResource):
    """Scrubbed per-partition Parquet files between the scrubbing and the DuckDB load.

    ``chunk_lines`` bounds memory: lines are cleaned and written this many at a time.
    """

    staging_dir: str = DEFAULT_STAGING_DIR
    chunk_lines: int = 2000

    def partition_dir(self, day: str) -> Path:
        return Path(self.staging_dir) / day


class LifecycleResource(dg.ConfigurableResource):
    """Raw-data retention and where the Parquet snapshots that erasure must rewrite live."""

    retention_days: int = DEFAULT_RETENTION_DAYS
    training_dir: str = DEFAULT_TRAINING_DIR


class AnalyticsDuckDBResource(DuckDBResource):
    """The analytics DuckDB file, attached so that ``analytics.users`` means schema.table."""

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        Path(self.database).parent.mkdir(parents=True, exist_ok=True, mode=0o700)

    @contextmanager
    def get_connection(self) -> Iterator[duckdb.DuckDBPyConnection]:
        conn = warehouse.connect(self.database)
        try:
            yield conn
        finally:
            conn.close()


def default_resources() -> dict[str, dg.ConfigurableResource]:
    return {
        # Unset, the salt is "" and materialization fails with instructions (SaltError), not a config error.
        "pseudonymizer": PseudonymizerResource(salt=env_or_default("ANALYTICS_SALT", "")),
        "scrubber": ScrubberResource(),
        "raw_log": RawEventLogResource(raw_dir=env_or_default("ANALYTICS_RAW_DIR", DEFAULT_RAW_DIR)),
        "staging": StagingAreaResource(
            staging_dir=env_or_default("ANALYTICS_STAGING_DIR", DEFAULT_STAGING_DIR)
        ),
        "lifecycle": LifecycleResource(
            retention_days=dg.EnvVar.int("ANALYTICS_RETENTION_DAYS")
            if os.getenv("ANALYTICS_RETENTION_DAYS")
            else DEFAULT_RETENTION_DAYS,
            training_dir=env_or_default("ANALYTICS_TRAINING_DIR", DEFAULT_TRAINING_DIR),
        ),
        "duckdb": AnalyticsDuckDBResource(
            database=env_or_default("ANALYTICS_DUCKDB_PATH", DEFAULT_DUCKDB_PATH)
        ),
    }


@dg.definitions
def resources() -> dg.Definitions:
    return dg.Definitions(resources=default_resources())
