import dagster as dg

daily_events_job = dg.define_asset_job(
    "daily_events_job",
    selection=dg.AssetSelection.key_prefixes(["staging"], ["analytics"]),
    description="Scrub one day of raw events and load it into the analytics tables.",
)

# Runs shortly after midnight UTC for the day that just ended.
daily_partition_schedule = dg.build_schedule_from_partitioned_job(
    daily_events_job, name="daily_partition_schedule", minute_of_hour=15
)
