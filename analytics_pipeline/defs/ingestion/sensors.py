"""Watches the raw event log for late or replayed files of days already closed."""

import hashlib
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import dagster as dg

from analytics_pipeline.defs.analytics.jobs import daily_events_job
from analytics_pipeline.defs.privacy.assets import scrubbed_events
from analytics_pipeline.defs.resources import RawEventLogResource
from analytics_pipeline.defs.shared import daily_partitions, latest_materialization
from analytics_pipeline.lifecycle.raw_changes import changed_days, file_sizes, last_modified


@dg.sensor(
    job=daily_events_job,
    minimum_interval_seconds=120,
    default_status=dg.DefaultSensorStatus.STOPPED,
    description="Launches daily_events_job for older day partitions whose raw files are new or grew "
    "(files copied in late, replays). The day that just ended is left to daily_partition_schedule; "
    "the current day is not a partition yet. Cursor: the size of every raw file already handled.",
)
def raw_log_sensor(context: dg.SensorEvaluationContext, raw_log: RawEventLogResource) -> dg.SensorResult:
    seen = json.loads(context.cursor) if context.cursor else {}
    yesterday = (datetime.now(UTC).date() - timedelta(days=1)).isoformat()
    days = [day for day in raw_log.days() if day < yesterday]  # yesterday is the schedule's; today is open
    current = file_sizes(Path(raw_log.raw_dir), days)
    run_requests = []
    for day in changed_days(current, seen):
        loaded = latest_materialization(context.instance, scrubbed_events.key, day)
        if loaded is not None and loaded.timestamp >= last_modified(Path(raw_log.raw_dir), day):
            continue  # already materialized after its last change (e.g. by the schedule)
        sizes = sorted((name, size) for name, size in current.items() if name.startswith(f"{day}/"))
        run_requests.append(
            dg.RunRequest(
                partition_key=day, run_key=f"{day}:{hashlib.sha256(json.dumps(sizes).encode()).hexdigest()[:16]}"
            )
        )
    return dg.SensorResult(
        run_requests=run_requests,
        cursor=json.dumps(current, sort_keys=True),
        dynamic_partitions_requests=[daily_partitions.build_add_request([r.partition_key for r in run_requests])]
        if run_requests
        else None,
    )
