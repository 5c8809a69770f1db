import dagster as dg

# One partition per arrival day (UTC) of the raw event log.
daily_partitions = dg.DailyPartitionsDefinition(start_date="2026-11-01", timezone="UTC")
