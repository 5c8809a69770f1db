"""The raw event log, an external asset: written by the ingestion API, read by the scrubbing step."""

import dagster as dg

from analytics_pipeline.defs.shared import daily_partitions

raw_events = dg.AssetSpec(
    key=["raw", "events"],
    description=(
        "Raw app events as the ingestion API wrote them: JSON Lines under "
        "`$ANALYTICS_RAW_DIR/<YYYY-MM-DD>/*.jsonl`, one directory per arrival day (UTC). "
        "Contains PII; nothing downstream stores it unscrubbed."
    ),
    group_name="raw",
    kinds={"json"},
    owners=["team:data-platform"],
    tags={"pii": "raw"},
    partitions_def=daily_partitions,
)
