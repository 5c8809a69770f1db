"""The scrubbing step: a day of raw events validated, pseudonymized, scrubbed and staged as Parquet."""

from datetime import date
from pathlib import Path

import dagster as dg

from analytics_pipeline.cleaning import EventCleaner
from analytics_pipeline.defs.ingestion.assets import raw_events
from analytics_pipeline.defs.resources import (
    PseudonymizerResource,
    RawEventLogResource,
    ScrubberResource,
    StagingAreaResource,
)
from analytics_pipeline.defs.shared import daily_partitions
from analytics_pipeline.lifecycle.retention import was_purged
from analytics_pipeline.privacy.hashing import SaltError
from analytics_pipeline.staging import stage_partition


@dg.asset(
    key=["staging", "scrubbed_events"],
    deps=[raw_events],
    partitions_def=daily_partitions,
    group_name="staging",
    kinds={"python", "parquet"},
    owners=["team:privacy"],
    tags={"pii": "scrubbed"},
)
def scrubbed_events(
    context: dg.AssetExecutionContext,
    raw_log: RawEventLogResource,
    staging: StagingAreaResource,
    pseudonymizer: PseudonymizerResource,
    scrubber: ScrubberResource,
) -> dg.MaterializeResult:
    """One day of raw events, validated against the event contract, with user and resume IDs
    replaced by keyed pseudonyms and every free-text field scrubbed of PII, staged as Parquet.

    Invalid lines become quarantine rows (file, line, reason; never content). Every raw line
    ends up in exactly one staged row, so lines read = events + quarantined.
    """
    day = context.partition_key
    if was_purged(Path(raw_log.raw_dir), day):
        raise dg.Failure(
            f"the raw log of {day} was deleted by retention; its loaded rows stay in the tables, "
            "and staging it again would replace them with nothing"
        )
    try:
        salt = pseudonymizer.salt_bytes()
    except SaltError as error:
        raise dg.Failure(description=str(error)) from None
    pii_scrubber = scrubber.get_scrubber()
    cleaner = EventCleaner(date.fromisoformat(day), salt, pii_scrubber)
    stats = stage_partition(raw_log.lines(day), cleaner, staging.partition_dir(day), staging.chunk_lines)
    if not stats.reconciles:  # cannot happen unless cleaning drops a line: refuse to go on
        raise dg.Failure(f"{stats.lines_read} lines read but {sum(stats.rows.values())} rows staged")
    files = raw_log.files(day)
    # The raw log is external: what was read of it shows on raw/events, day by day.
    context.log_event(
        dg.AssetObservation(
            asset_key=raw_events.key,
            partition=day,
            metadata={
                "files": len(files),
                "lines": stats.lines_read,
                "bytes": sum(path.stat().st_size for path in files),
            },
        )
    )
    context.log.info(
        f"{day}: {stats.lines_read} lines, {stats.rows['quarantine']} quarantined, "
        f"{sum(stats.entity_counts.values())} PII entities replaced"
    )
    return dg.MaterializeResult(
        metadata={
            "raw_files": len(files),
            "skipped_raw_files": {s.name: s.reason for s in raw_log.skipped(day)},
            "lines_read": stats.lines_read,
            "resume_events": stats.rows["resume_events"],
            "interactions": stats.rows["interactions"],
            "quarantined": stats.rows["quarantine"],
            "quarantine_reasons": dict(stats.quarantine_reasons),
            "pii_entities_replaced": dict(stats.entity_counts),
            "scrubber_version": pii_scrubber.version,
            "salt_fingerprint": pseudonymizer.fingerprint(),
            "staging_dir": dg.MetadataValue.path(str(staging.partition_dir(day))),
        }
    )
