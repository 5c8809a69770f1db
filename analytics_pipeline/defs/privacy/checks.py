"""Checks on the scrubbing step: the scrubber's recall on canaries, and the salt matching the tables."""

from pathlib import Path

import dagster as dg

from analytics_pipeline.defs.privacy.assets import scrubbed_events
from analytics_pipeline.defs.resources import (
    AnalyticsDuckDBResource,
    PseudonymizerResource,
    QualityThresholdsResource,
    RawEventLogResource,
    ScrubberResource,
)
from analytics_pipeline.defs.shared import daily_partitions
from analytics_pipeline.lifecycle.salt import salt_mismatch, stored_salt_fingerprint
from analytics_pipeline.quality.canary import measure_canary_recall, sample_texts
from analytics_pipeline.quality.explain import canary_reason


@dg.asset_check(
    asset=scrubbed_events,
    partitions_def=daily_partitions,
    description="Plants synthetic canary PII (name, e-mail, phone, SSN, street address) in a copy of a "
    "sample of the day's texts, runs the real scrubber on it and reports recall per type. Fails if any "
    "canary survives. The copy is discarded; it never reaches the tables.",
)
def canary_pii_removed(
    context: dg.AssetCheckExecutionContext,
    raw_log: RawEventLogResource,
    scrubber: ScrubberResource,
    quality: QualityThresholdsResource,
) -> dg.AssetCheckResult:
    op_context = context.op_execution_context
    day = op_context.partition_key if op_context.has_partition_key else raw_log.days()[-1]
    texts = sample_texts(raw_log.lines(day), quality.canary_texts, day)
    report = measure_canary_recall(texts, scrubber.get_scrubber().scrub_batch, day)
    # WARN: it measures the scrubber on synthetic values; no_residual_pii gates the real data,
    # and an ERROR here would also hold back the raw-log retention of the day.
    metadata = report.metadata()
    return dg.AssetCheckResult(
        passed=report.passed,
        severity=dg.AssetCheckSeverity.WARN,
        description=None
        if report.passed
        else canary_reason(metadata["survived_by_type"], metadata["canaries_planted"], report.texts_tested),
        metadata=metadata,
    )


@dg.asset_check(
    asset=scrubbed_events,
    name="salt_matches_tables",
    blocking=True,
    partitions_def=daily_partitions,
    description="The salt in use has the fingerprint stored with the DuckDB tables. A different salt "
    "would give every user a second pseudonym; blocking, so nothing is loaded with it.",
)
def salt_matches_tables(duckdb: AnalyticsDuckDBResource, pseudonymizer: PseudonymizerResource) -> dg.AssetCheckResult:
    running = pseudonymizer.fingerprint()
    stored, problem = None, None
    if Path(duckdb.database).exists():
        with duckdb.get_connection(read_only=True) as conn:
            stored, problem = stored_salt_fingerprint(conn), salt_mismatch(conn, running)
    return dg.AssetCheckResult(
        passed=problem is None,
        severity=dg.AssetCheckSeverity.ERROR,
        description=problem,
        metadata={"running_salt_fingerprint": running, "stored_salt_fingerprint": stored or "none (first load)"},
    )


@dg.asset_check(
    asset=scrubbed_events,
    description="Every entry of the day's raw directory is read: fails (WARN) while any file is skipped "
    "(an unknown name or extension, a symlink, a nested directory, a name with control characters), "
    "listing each with its reason, so no raw file is ignored without a trace.",
)
def no_raw_files_skipped(context: dg.AssetCheckExecutionContext, raw_log: RawEventLogResource) -> dg.AssetCheckResult:
    op_context = context.op_execution_context
    day = op_context.partition_key if op_context.has_partition_key else raw_log.days()[-1]
    skipped = raw_log.skipped(day)
    return dg.AssetCheckResult(
        passed=not skipped,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={
            "partition": day,
            "files_read": len(raw_log.files(day)),
            "skipped_files": {s.name: s.reason for s in skipped},
        },
    )
