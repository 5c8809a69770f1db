"""The daily job that scrubs and loads one day, and the schedule that runs it after midnight."""

import dagster as dg

daily_events_job = dg.define_asset_job(
    "daily_events_job",
    selection=dg.AssetSelection.key_prefixes(["staging"], ["analytics"]),
    description="Scrub one day of raw events and load it into the analytics tables.",
    # One process per run: after the scrubbing step come ~25 sub-second DuckDB steps (loads and
    # checks) that the duckdb_writer pool serializes anyway; as subprocesses they cost ~3 s apiece.
    # Parallelism comes from runs: one per day partition (see dagster.yaml).
    executor_def=dg.in_process_executor,
)

# Runs shortly after midnight UTC for the day that just ended.
daily_partition_schedule = dg.build_schedule_from_partitioned_job(
    daily_events_job, name="daily_partition_schedule", minute_of_hour=15
)
