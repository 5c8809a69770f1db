"""Versioned Parquet snapshots of the training sets, each with a dataset card, and the loader.

Layout: ``<training_dir>/<name>/<version>/{train,validation,test}.parquet`` + ``dataset_card.json``.
A version is the UTC creation time plus a hash of the content, so versions sort by age and a
trained model can record exactly which files it saw. A rebuild whose content hash equals the
latest version's writes no new version; ``prune_versions`` keeps the newest few. Snapshots are
written to a hidden temporary directory and renamed into place, so readers never see half a snapshot.
Reading a snapshot never touches DuckDB, so it works while the pipeline holds the write lock.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from dataclasses import dataclass
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
from analytics_pipeline.training.tables import TRAINING_TABLES, label_columns, snapshot_columns

DEFAULT_TRAINING_DIR = "data/training"
DEFAULT_KEEP_VERSIONS = 10
TRAINING_DIR_ENV = "ANALYTICS_TRAINING_DIR"
CARD_FILE = "dataset_card.json"
# A version being deleted by ``prune_versions``: hidden, so never listed or loaded.
PRUNED_PREFIX = ".pruned-"
# What a card says about when and by whom it was written, not about its content: not hashed.
VOLATILE_CARD_FIELDS = frozenset({"version", "created_at", "run_id", "content_hash"})
# Bump when labels, filters or columns change meaning; recorded in every dataset card.
TRAINING_CODE_VERSION = "1"


def code_version() -> str:
    return f"analytics_pipeline {package_version('analytics_pipeline')} / training {TRAINING_CODE_VERSION}"


def training_dir(directory: str | Path | None = None) -> Path:
    return Path(directory or os.getenv(TRAINING_DIR_ENV) or DEFAULT_TRAINING_DIR)


def _column_summary(table: Table) -> list[dict]:
    return [{"name": c.name, "type": c.duckdb_type, "description": c.description} for c in snapshot_columns(table)]


def _date_range(data: pa.Table) -> dict:
    column = "occurred_at" if "occurred_at" in data.column_names else "activity_date"
    values = data.column(column)
    if len(values) == 0:
        return {"column": column, "first": None, "last": None}
    bounds = pc.min_max(values)
    return {"column": column, "first": str(bounds["min"].as_py()), "last": str(bounds["max"].as_py())}


def _rates(part: pa.Table, labels: list[str]) -> dict[str, float | None]:
    """Share of rows where each label is true (None without rows)."""
    return {
        label: round(pc.sum(part.column(label).cast(pa.int64())).as_py() / part.num_rows, 4) if part.num_rows else None
        for label in labels
    }


def _label_stats(part: pa.Table, labels: list[str]) -> dict:
    """A split's label rates, over all its rows and over its final rows (label window closed)."""
    closed = part.filter(pc.equal(part.column("label_window_closed"), True))
    return {
        "rows": part.num_rows,
        "label_window_closed_share": round(closed.num_rows / part.num_rows, 4) if part.num_rows else None,
        "rates": _rates(part, labels),
        "rates_label_window_closed": _rates(closed, labels),
    }


@dataclass(frozen=True)
class Snapshot:
    path: Path
    card: dict
    # False when the content matched the latest version's: nothing was written, ``path`` is that version.
    new: bool


def content_hash(card: dict) -> str:
    """SHA-256 of everything a card says but when and by which run it was written.

    Covers the rows (each split file's SHA-256; ``loaded_at`` is not in the files), the columns, the
    code version, the config, the filter counts, the excluded partitions and the gating checks; not
    the version, ``created_at`` or ``run_id``. Identical rebuilds therefore hash alike.
    """
    stable = {k: v for k, v in card.items() if k not in VOLATILE_CARD_FIELDS}
    return hashlib.sha256(json.dumps(stable, sort_keys=True, default=str).encode()).hexdigest()


def write_snapshot(directory: Path, table: Table, data: pa.Table, details: dict) -> Snapshot:
    """Write ``data`` (the whole set, with its ``split`` column) as a new version, unless it equals the latest.

    ``details`` (config, filter counts, excluded partitions, run ID) is recorded in the card as given.
    When the content hash (``content_hash``) equals the latest version's, the files just written are
    dropped and the latest version is returned with ``new=False``: rebuilding unchanged data adds no version.
    """
    created = datetime.now(UTC)
    set_dir = directory / table.name
    set_dir.mkdir(parents=True, exist_ok=True)
    staging = set_dir / f".tmp-{created:%Y%m%dT%H%M%S%f}-{os.getpid()}"
    staging.mkdir()
    try:
        files, parts = {}, {}
        for split in SPLITS:
            part = parts[split] = data.filter(pc.equal(data.column("split"), split))
            path = staging / f"{split}.parquet"
            pq.write_table(part, path)
            files[split] = {"file": path.name, "rows": part.num_rows, "sha256": _file_sha256(path)}
        scrubber_versions = (
            sorted(v for v in pc.unique(data.column("scrubber_version")).to_pylist() if v)
            if "scrubber_version" in data.column_names
            else []
        )
        labels = label_columns(table)
        card = {
            "name": table.name,
            "version": None,
            "created_at": created.isoformat(),
            "code_version": code_version(),
            "row_count": data.num_rows,
            "rows_per_split": {split: files[split]["rows"] for split in SPLITS},
            "users_per_split": {split: len(pc.unique(parts[split].column("anon_user_id"))) for split in SPLITS},
            "date_range": _date_range(data),
            "scrubber_versions": scrubber_versions,
            "labels": labels,
            "label_stats": {split: _label_stats(parts[split], labels) for split in SPLITS} if labels else {},
            "columns": _column_summary(table),
            "files": files,
            **details,
        }
        card["content_hash"] = digest = content_hash(card)
        versions = list_versions(table.name, directory)
        latest = _read_card(set_dir / versions[-1]) if versions else {}
        if latest.get("content_hash") == digest:
            shutil.rmtree(staging)
            return Snapshot(set_dir / versions[-1], latest, new=False)
        card["version"] = version = f"{created:%Y%m%dT%H%M%S.%f}Z-{digest[:8]}"
        (staging / CARD_FILE).write_text(json.dumps(card, indent=2, default=str) + "\n")
        final = set_dir / version
        restrict_tree(staging)  # whatever the umask: pseudonymous training data, owner only
        for parent in (set_dir, directory):
            os.chmod(parent, DIR_MODE)
        staging.rename(final)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return Snapshot(final, card, new=True)


def prune_versions(
    name: str, keep: int, directory: str | Path | None = None, protect: frozenset[str] = frozenset()
) -> list[str]:
    """Delete all but the newest ``keep`` versions of a set; returns those deleted.

    ``latest`` (the newest) always stays, and so do the versions in ``protect`` (the one a run just
    wrote or reused, should the clock have gone back).

    A version is first renamed to a hidden name, which ``list_versions`` never shows, then deleted:
    nobody finds half a version; leftovers of a deletion that was killed go on the next call.
    Erasure rewrites every Parquet file under the training dir, so the versions kept stay covered.
    """
    if keep < 1:
        raise ValueError(f"keep must be at least 1 (the latest version stays), got {keep}")
    set_dir = training_dir(directory) / name
    versions = list_versions(name, directory)
    doomed = [v for v in versions[:-keep] if v not in protect]
    for version in doomed:
        (set_dir / version).rename(set_dir / f"{PRUNED_PREFIX}{version}")
    for leftover in set_dir.glob(f"{PRUNED_PREFIX}*") if set_dir.is_dir() else []:
        shutil.rmtree(leftover)
    return doomed


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


def _read_card(snapshot: Path) -> dict:
    return json.loads((snapshot / CARD_FILE).read_text())


def _file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while block := handle.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


def read_card(name: str, version: str = "latest", directory: str | Path | None = None) -> dict:
    """The dataset card of a snapshot (row counts, label rates, date range, columns, versions, config, run)."""
    return _read_card(_snapshot_dir(name, version, directory))


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
