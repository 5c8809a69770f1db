"""The code location: every asset, check, job, schedule, sensor and resource of the pipeline."""

from pathlib import Path

import dagster as dg

from analytics_pipeline.private_files import restrict_process


@dg.definitions
def defs() -> dg.Definitions:
    # Every process that loads the code location (code server, run workers, the CLI) writes owner-only files.
    restrict_process()
    return dg.load_from_defs_folder(path_within_project=Path(__file__).parent)
