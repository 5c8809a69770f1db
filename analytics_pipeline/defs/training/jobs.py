"""The training job, its nightly schedule and its automation: rebuilt after the analytics days it reads change."""

import dagster as dg

# True for the job once an analytics day a training set reads was loaded again (or on the condition's first
# evaluation, so that switching the automation on brings the sets up to date), while none of those days is
# being loaded and no rebuild is queued or running. A job-scoped condition, so the automation sensor
# launches training_job itself (an asset-scoped one would launch an unnamed __ASSET_JOB run). Unlike
# AutomationCondition.eager() it does not wait for missing days: a day the residual-PII gate refused stays
# missing, and the privacy gate of the training sets leaves out such days anyway. A request of the job does
# not count as handled for its assets (only their materialization does), so after a failed rebuild it waits
# for one that succeeds (training_schedule, or a run from the UI) instead of launching one every tick.
ANALYTICS_DAY_RELOADED = (
    (dg.AutomationCondition.any_deps_updated().since_last_handled() | dg.AutomationCondition.initial_evaluation())
    & ~dg.AutomationCondition.any_deps_in_progress()
    & ~dg.AutomationCondition.in_progress()
    & ~dg.AutomationCondition.execution_failed()
).with_label("an analytics day it reads was loaded")

training_job = dg.define_asset_job(
    "training_job",
    selection=dg.AssetSelection.groups("training"),
    description="Rebuild every training set from all analytics data and snapshot it.",
    # Three steps in the duckdb_writer pool, one at a time anyway: one process, not one per step (~5 s each).
    executor_def=dg.in_process_executor,
    # Evaluated by default_automation_condition_sensor (Automation page), which Dagster starts stopped.
    automation_condition=dg.AutomationCondition.any_job_root_assets_match(ANALYTICS_DAY_RELOADED),
)

# After daily_partition_schedule (00:15 UTC) has loaded yesterday; a failed or late day is
# simply left out (or picked up) by the next rebuild, since every rebuild reads all data.
training_schedule = dg.ScheduleDefinition(
    name="training_schedule", job=training_job, cron_schedule="0 2 * * *", execution_timezone="UTC"
)
