"""Versioned Parquet snapshots of the training sets, each with a dataset card, and the loader.

Layout: ``<training_dir>/<name>/<version>/{train,validation,test}.parquet`` + ``dataset_card.json``.
A version is the UTC creation time plus a hash of the content, so versions sort by age and a
trained model can record exactly which files it saw. Snapshots are written to a hidden
temporary directory and renamed into place, so readers never see half a snapshot.
Reading a snapshot never touches DuckDB, so it works while the pipeline holds the write lock.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from datetime import UTC, datetime
from importlib.metadata import version as package_version
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from analytics_pipeline.private_files import DIR_MODE, restrict_tree
from analytics_pipeline.schema import Table
from analytics_pipeline.training.splits import SPLITS
from analytics_pipeline.training.tables import TRAINING_TABLES

DEFAULT_TRAINING_DIR = "data/training"
TRAINING_DIR_ENV = "ANALYTICS_TRAINING_DIR"
CARD_FILE = "dataset_card.json"
# Bump when labels, filters or columns change meaning; recorded in every dataset card.
TRAINING_CODE_VERSION = "1"


def code_version() -> str:
    return f"analytics_pipeline {package_version('analytics_pipeline')} / training {TRAINING_CODE_VERSION}"


def training_dir(directory: str | Path | None = None) -> Path:
    return Path(directory or os.getenv(TRAINING_DIR_ENV) or DEFAULT_TRAINING_DIR)


def _column_summary(table: Table) -> list[dict]:
    return [{"name": c.name, "type": c.duckdb_type, "description": c.description} for c in table.columns]


def _date_range(data: pa.Table) -> dict:
    column = "occurred_at" if "occurred_at" in data.column_names else "activity_date"
    values = data.column(column)
    if len(values) == 0:
        return {"column": column, "first": None, "last": None}
    bounds = pc.min_max(values)
    return {"column": column, "first": str(bounds["min"].as_py()), "last": str(bounds["max"].as_py())}


def write_snapshot(directory: Path, table: Table, data: pa.Table, details: dict) -> tuple[Path, dict]:
    """Write ``data`` (the whole set, with its ``split`` column) as a new version; returns (path, card).

    ``details`` (config, filter counts, excluded partitions) is recorded in the card as given.
    """
    created = datetime.now(UTC)
    set_dir = directory / table.name
    set_dir.mkdir(parents=True, exist_ok=True)
    staging = set_dir / f".tmp-{created:%Y%m%dT%H%M%S%f}-{os.getpid()}"
    staging.mkdir()
    try:
        files, digest = {}, hashlib.sha256()
        for split in SPLITS:
            part = data.filter(pc.equal(data.column("split"), split))
            path = staging / f"{split}.parquet"
            pq.write_table(part, path)
            content = path.read_bytes()
            digest.update(content)
            files[split] = {"file": path.name, "rows": part.num_rows, "sha256": hashlib.sha256(content).hexdigest()}
        version = f"{created:%Y%m%dT%H%M%S.%f}Z-{digest.hexdigest()[:8]}"
        scrubber_versions = (
            sorted(v for v in pc.unique(data.column("scrubber_version")).to_pylist() if v)
            if "scrubber_version" in data.column_names
            else []
        )
        card = {
            "name": table.name,
            "version": version,
            "created_at": created.isoformat(),
            "code_version": code_version(),
            "row_count": data.num_rows,
            "rows_per_split": {split: files[split]["rows"] for split in SPLITS},
            "users_per_split": {
                split: len(pc.unique(data.filter(pc.equal(data.column("split"), split)).column("anon_user_id")))
                for split in SPLITS
            },
            "date_range": _date_range(data),
            "scrubber_versions": scrubber_versions,
            "columns": _column_summary(table),
            "files": files,
            **details,
        }
        (staging / CARD_FILE).write_text(json.dumps(card, indent=2, default=str) + "\n")
        final = set_dir / version
        restrict_tree(staging)  # whatever the umask: pseudonymous training data, owner only
        for parent in (set_dir, directory):
            os.chmod(parent, DIR_MODE)
        staging.rename(final)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return final, card


def list_versions(name: str, directory: str | Path | None = None) -> list[str]:
    """Complete snapshot versions of a training set, oldest first."""
    set_dir = training_dir(directory) / name
    if not set_dir.is_dir():
        return []
    return sorted(
        p.name for p in set_dir.iterdir() if p.is_dir() and not p.name.startswith(".") and (p / CARD_FILE).exists()
    )


def _snapshot_dir(name: str, version: str, directory: str | Path | None) -> Path:
    if name not in TRAINING_TABLES:
        raise ValueError(f"unknown training set {name!r}; choose one of {', '.join(TRAINING_TABLES)}")
    versions = list_versions(name, directory)
    if not versions:
        raise FileNotFoundError(
            f"no snapshot of {name} under {training_dir(directory)}: materialize training/{name} "
            "first (`make run` does)"
        )
    if version == "latest":
        version = versions[-1]
    elif version not in versions:
        raise FileNotFoundError(f"{name} has no version {version!r}; available: {', '.join(versions)}")
    return training_dir(directory) / name / version


def read_card(name: str, version: str = "latest", directory: str | Path | None = None) -> dict:
    """The dataset card of a snapshot (row counts, date range, columns, versions, config, filter counts)."""
    return json.loads((_snapshot_dir(name, version, directory) / CARD_FILE).read_text())


def load_training_set(
    name: str, split: str | None = "train", version: str = "latest", directory: str | Path | None = None
) -> pd.DataFrame:
    """A training set snapshot as a pandas DataFrame.

    ``split`` is train, validation or test, or None for all splits; ``version`` is "latest" or a
    version from ``list_versions`` / a dataset card. ``directory`` defaults to
    ``$ANALYTICS_TRAINING_DIR`` or ``data/training``. Map columns come back as dicts.
    """
    if split is not None and split not in SPLITS:
        raise ValueError(f"split must be one of {', '.join(SPLITS)} or None, got {split!r}")
    snapshot = _snapshot_dir(name, version, directory)
    files = [snapshot / f"{s}.parquet" for s in ([split] if split else SPLITS)]
    data = pa.concat_tables([pq.read_table(f) for f in files])
    return data.to_pandas(maps_as_pydicts="strict")
