"""Training sets for data scientists: labeled tailoring examples, refinement pairs, engagement features.

Plain Python (no Dagster): ``build`` computes the sets in DuckDB, ``splits`` assigns users to
train/validation/test, ``snapshot`` writes versioned Parquet snapshots and loads them.
"""

from analytics_pipeline.training.build import BuildResult, TrainingConfig, build_training_set
from analytics_pipeline.training.snapshot import (
    Snapshot,
    list_versions,
    load_training_set,
    prune_versions,
    read_card,
    write_snapshot,
)
from analytics_pipeline.training.splits import SPLITS, SplitRatios, assign_split
from analytics_pipeline.training.tables import TRAINING_TABLES

__all__ = [
    "SPLITS",
    "TRAINING_TABLES",
    "BuildResult",
    "Snapshot",
    "SplitRatios",
    "TrainingConfig",
    "assign_split",
    "build_training_set",
    "list_versions",
    "load_training_set",
    "prune_versions",
    "read_card",
    "write_snapshot",
]
