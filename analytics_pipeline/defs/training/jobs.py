"""The training job and its nightly schedule, after the daily partitions have loaded."""

import dagster as dg

training_job = dg.define_asset_job(
    "training_job",
    selection=dg.AssetSelection.groups("training"),
    description="Rebuild every training set from all analytics data and snapshot it.",
    # Three steps in the duckdb_writer pool, one at a time anyway: one process, not one per step (~5 s each).
    executor_def=dg.in_process_executor,
)

# After daily_partition_schedule (00:15 UTC) has loaded yesterday; a failed or late day is
# simply left out (or picked up) by the next rebuild, since every rebuild reads all data.
training_schedule = dg.ScheduleDefinition(
    name="training_schedule", job=training_job, cron_schedule="0 2 * * *", execution_timezone="UTC"
)
