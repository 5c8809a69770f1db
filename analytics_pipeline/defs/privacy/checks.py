"""Checks on the scrubbing step: the scrubber's recall on canaries, the salt matching the tables, no raw file skipped.

Each runs in its own step (they need different resources, and only the salt check blocks the load), as a
one-check ``multi_asset_check`` so that a run without a day (the UI's "Execute all") can record its result
for the day it checked (``day_check_results``).
"""

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
from analytics_pipeline.defs.shared import daily_partitions, day_check_results
from analytics_pipeline.lifecycle.salt import salt_mismatch, stored_salt_fingerprint
from analytics_pipeline.quality.canary import measure_canary_recall, sample_texts
from analytics_pipeline.quality.explain import canary_reason


def scrubbed_events_check(name: str, description: str, blocking: bool = False):
    """Declares the check ``name`` of the day's staging/scrubbed_events, evaluated by the decorated step."""
    spec = dg.AssetCheckSpec(
        name, asset=scrubbed_events.key, description=description, blocking=blocking, partitions_def=daily_partitions
    )
    return dg.multi_asset_check(name=name, specs=[spec], can_subset=True)


def result(name: str, **fields) -> dg.AssetCheckResult:
    return dg.AssetCheckResult(asset_key=scrubbed_events.key, check_name=name, **fields)


@scrubbed_events_check(
    "canary_pii_removed",
    "Plants synthetic canary PII (name, e-mail, phone, SSN, street address) in a copy of a sample of the "
    "day's texts, runs the real scrubber on it and reports recall per type. Fails if any canary survives. "
    "The copy is discarded; it never reaches the tables.",
)
def canary_pii_removed(
    context: dg.AssetCheckExecutionContext,
    raw_log: RawEventLogResource,
    scrubber: ScrubberResource,
    quality: QualityThresholdsResource,
):
    def evaluate(day: str):
        texts = sample_texts(raw_log.lines(day), quality.canary_texts, day)
        report = measure_canary_recall(texts, scrubber.get_scrubber().scrub_batch, day)
        # WARN: it measures the scrubber on synthetic values; no_residual_pii gates the real data,
        # and an ERROR here would also hold back the raw-log retention of the day.
        metadata = report.metadata()
        description = canary_reason(metadata["survived_by_type"], metadata["canaries_planted"], report.texts_tested)
        yield result(
            "canary_pii_removed",
            passed=report.passed,
            severity=dg.AssetCheckSeverity.WARN,
            description=None if report.passed else description,
            metadata=metadata,
        )

    yield from day_check_results(context, evaluate)


@scrubbed_events_check(
    "salt_matches_tables",
    "The salt in use has the fingerprint stored with the DuckDB tables. A different salt would give every "
    "user a second pseudonym; blocking, so nothing is loaded with it.",
    blocking=True,
)
def salt_matches_tables(
    context: dg.AssetCheckExecutionContext, duckdb: AnalyticsDuckDBResource, pseudonymizer: PseudonymizerResource
):
    def evaluate(day: str):
        running = pseudonymizer.fingerprint()
        stored, problem = None, None
        if Path(duckdb.database).exists():
            with duckdb.get_connection(read_only=True) as conn:
                stored, problem = stored_salt_fingerprint(conn), salt_mismatch(conn, running)
        yield result(
            "salt_matches_tables",
            passed=problem is None,
            severity=dg.AssetCheckSeverity.ERROR,
            description=problem,
            metadata={"running_salt_fingerprint": running, "stored_salt_fingerprint": stored or "none (first load)"},
        )

    yield from day_check_results(context, evaluate)


@scrubbed_events_check(
    "no_raw_files_skipped",
    "Every entry of the day's raw directory is read: fails (WARN) while any file is skipped (an unknown "
    "name or extension, a symlink, a nested directory, a name with control characters), listing each with "
    "its reason, so no raw file is ignored without a trace.",
)
def no_raw_files_skipped(context: dg.AssetCheckExecutionContext, raw_log: RawEventLogResource):
    def evaluate(day: str):
        skipped = raw_log.skipped(day)
        yield result(
            "no_raw_files_skipped",
            passed=not skipped,
            severity=dg.AssetCheckSeverity.WARN,
            metadata={
                "partition": day,
                "files_read": len(raw_log.files(day)),
                "skipped_files": {s.name: s.reason for s in skipped},
            },
        )

    yield from day_check_results(context, evaluate)
