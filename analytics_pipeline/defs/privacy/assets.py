"""The scrubbing step: a day of raw events validated, pseudonymized, scrubbed and staged as Parquet.

A graph-backed asset, so that one day is many steps: the day is cut into shards (line-aligned
byte ranges of its raw files), each shard is scrubbed by its own step, and the shards are merged
into the day's staged files. Any executor runs the same graph: in one process (the default), in
subprocesses, on Celery workers or in Kubernetes pods (README "Beyond one machine").
"""

import shutil
from contextlib import suppress
from dataclasses import dataclass
from datetime import date
from functools import lru_cache
from pathlib import Path

import dagster as dg

from analytics_pipeline.cleaning import EventCleaner
from analytics_pipeline.defs.ingestion.assets import raw_events
from analytics_pipeline.defs.resources import (
    PseudonymizerResource,
    QualityThresholdsResource,
    RawEventLogResource,
    ScrubberResource,
    StagingAreaResource,
)
from analytics_pipeline.defs.shared import daily_partitions
from analytics_pipeline.lifecycle.retention import was_purged
from analytics_pipeline.privacy.hashing import SaltError
from analytics_pipeline.quality.pii import (
    PiiFindings,
    ResidualPiiDetector,
    partition_detector,
    scan_staged,
    write_findings,
)
from analytics_pipeline.raw_log import iter_raw_lines
from analytics_pipeline.sharding import Shard, iter_shard_lines, plan_shards
from analytics_pipeline.staging import StageStats, merge_shards, remove_leftovers, shards_dir, stage_partition

SHARD_IO = "shard_io_manager"
# On Kubernetes (k8s_job_executor) each shard step is a pod: one core for the NER, memory bounded by chunk_lines.
SHARD_POD = {
    "container_config": {"resources": {"requests": {"cpu": "1", "memory": "1Gi"}, "limits": {"memory": "2Gi"}}}
}


@dataclass(frozen=True)
class StagedShard:
    """What a shard step hands to the merge: where its Parquet is and what it counted."""

    shard: Shard
    directory: str
    stats: StageStats
    scrubber_version: str
    findings: PiiFindings  # the residual-PII gate's scan of the shard's rows


def _salt(pseudonymizer: PseudonymizerResource) -> bytes:
    try:
        return pseudonymizer.salt_bytes()
    except SaltError as error:
        raise dg.Failure(description=str(error)) from None


def _day_detector(raw_log: RawEventLogResource, day: str, canary_texts: int, salt: bytes) -> ResidualPiiDetector:
    """The whole day's raw identifiers, not only the shard's (a user's events may lie in several shards).
    Reading them is a pass over the day's raw lines: a worker does it once per day, not once per shard."""
    # ctime too: an erasure keeps a file's size and puts its mtime back, but it changes the ctime.
    files = tuple(
        (path.name, (stat := path.stat()).st_size, stat.st_mtime_ns, stat.st_ctime_ns) for path in raw_log.files(day)
    )
    return _cached_detector(raw_log.raw_dir, day, canary_texts, salt, files)


@lru_cache(maxsize=1)  # one day's identifiers in memory at a time; new or grown files mean a new pass
def _cached_detector(raw_dir: str, day: str, canary_texts: int, salt: bytes, _files: tuple) -> ResidualPiiDetector:
    return partition_detector(iter_raw_lines(Path(raw_dir), day), day, canary_texts, salt)


def _has_ended(context: dg.OpExecutionContext, run_id: str) -> bool:
    """Whether ``run_id`` names a run of this instance that has ended (not this one, not one still going)."""
    if run_id == context.run_id:
        return False
    run = context.instance.get_run_by_id(run_id)
    return run is not None and run.is_finished


@dg.op(ins={"raw_events": dg.In(dg.Nothing)}, out=dg.DynamicOut(Shard, io_manager_key=SHARD_IO))
def plan_scrub_shards(
    context: dg.OpExecutionContext,
    raw_log: RawEventLogResource,
    staging: StagingAreaResource,
    pseudonymizer: PseudonymizerResource,
):
    """Cuts the day's raw files into shards of about ``shard_events`` lines, on line boundaries."""
    day = context.partition_key
    if was_purged(Path(raw_log.raw_dir), day):
        raise dg.Failure(
            f"the raw log of {day} was deleted by retention; its loaded rows stay in the tables, "
            "and staging it again would replace them with nothing"
        )
    _salt(pseudonymizer)  # before any shard starts: a missing salt fails the day once, with instructions
    for leftover in remove_leftovers(Path(staging.staging_dir), day, lambda run_id: _has_ended(context, run_id)):
        context.log.info(f"removed {leftover}: left in staging by a run that ended")
    shards = plan_shards(Path(raw_log.raw_dir), day, staging.shard_events, staging.max_shards)
    lines = sum(s.lines for s in shards)
    files = raw_log.files(day)
    # The raw log is written by the ingestion API, not by a run: the day's files are reported present as a
    # materialization outside this run (the UI counts a partition as present by its materializations; the
    # run lists only the assets it computes), with what they hold, plotted per day on raw/events.
    context.instance.report_runless_asset_event(
        dg.AssetMaterialization(
            asset_key=raw_events.key,
            partition=day,
            description=f"raw files of {day} as read by run {context.run_id}",
            metadata={"files": len(files), "lines": lines, "bytes": sum(path.stat().st_size for path in files)},
        )
    )
    context.log.info(
        f"{day}: {lines} lines in {len(shards)} shard(s) of about {staging.shard_events} lines (at most {staging.max_shards})"
    )
    for shard in shards:
        yield dg.DynamicOutput(shard, mapping_key=shard.mapping_key)


@dg.op(out=dg.Out(StagedShard, io_manager_key=SHARD_IO), tags={"dagster-k8s/config": SHARD_POD})
def scrub_shard(
    context: dg.OpExecutionContext,
    shard: Shard,
    raw_log: RawEventLogResource,
    staging: StagingAreaResource,
    pseudonymizer: PseudonymizerResource,
    scrubber: ScrubberResource,
    quality: QualityThresholdsResource,
) -> StagedShard:
    """Validates, pseudonymizes and scrubs one shard's lines into Parquet (the CPU-bound NER work), then
    scans the result for residual PII with the day's detector: the gate's work, shared by the shards."""
    day = context.partition_key
    pii_scrubber = scrubber.get_scrubber()
    cleaner = EventCleaner(date.fromisoformat(day), _salt(pseudonymizer), pii_scrubber)
    directory = staging.run_shards_dir(day, context.run_id) / shard.mapping_key
    lines = iter_shard_lines(Path(raw_log.raw_dir), day, shard)
    stats = stage_partition(lines, cleaner, directory, staging.chunk_lines)
    findings = scan_staged(directory, _day_detector(raw_log, day, quality.canary_texts, _salt(pseudonymizer)))
    context.log.info(
        f"{day} {shard.mapping_key}: {stats.lines_read} lines, {stats.rows['quarantine']} quarantined, "
        f"{sum(stats.entity_counts.values())} PII entities replaced"
    )
    return StagedShard(shard, str(directory), stats, pii_scrubber.version, findings)


@dg.op(out=dg.Out(dg.Nothing))
def merge_scrubbed_shards(
    context: dg.OpExecutionContext,
    staged: list[StagedShard],
    raw_log: RawEventLogResource,
    staging: StagingAreaResource,
    pseudonymizer: PseudonymizerResource,
) -> None:
    """Merges the day's scrubbed shards into its staged files; settles duplicate event IDs across shards."""
    day = context.partition_key
    staged = sorted(staged, key=lambda s: s.shard.index)
    merged = merge_shards([Path(s.directory) for s in staged], staging.partition_dir(day))
    # The load reads this verdict instead of scanning again; a leak found here stops the day there.
    write_findings(staging.partition_dir(day), sum((s.findings for s in staged), PiiFindings()))
    stats = sum((s.stats for s in staged), StageStats())
    stats.rows = merged.rows  # after cross-shard duplicates moved to quarantine
    stats.quarantine_reasons += merged.quarantine_reasons
    if not stats.reconciles:  # cannot happen unless cleaning drops a line: refuse to go on
        raise dg.Failure(f"{stats.lines_read} lines read but {sum(stats.rows.values())} rows staged")
    for directory in {Path(s.directory).parent for s in staged}:  # this run's shards (or a re-executed run's)
        shutil.rmtree(directory, ignore_errors=True)
    with suppress(OSError):  # the day's shard folder, unless another run of the day still uses it
        shards_dir(Path(staging.staging_dir), day).rmdir()
    context.log.info(
        f"{day}: {stats.lines_read} lines in {len(staged)} shard(s), {stats.rows['quarantine']} quarantined, "
        f"{sum(stats.entity_counts.values())} PII entities replaced"
    )
    context.add_output_metadata(
        {
            "raw_files": len(raw_log.files(day)),
            "skipped_raw_files": {s.name: s.reason for s in raw_log.skipped(day)},
            "lines_read": stats.lines_read,
            "shards": len(staged),
            "resume_events": stats.rows["resume_events"],
            "interactions": stats.rows["interactions"],
            "quarantined": stats.rows["quarantine"],
            "quarantine_reasons": dict(stats.quarantine_reasons),
            "pii_entities_replaced": dict(stats.entity_counts),
            "scrubber_version": staged[0].scrubber_version,
            "salt_fingerprint": pseudonymizer.fingerprint(),
            "staging_dir": dg.MetadataValue.path(str(staging.partition_dir(day))),
        }
    )


@dg.graph_asset(
    key=["staging", "scrubbed_events"],
    ins={"raw_events": dg.AssetIn(key=raw_events.key, dagster_type=dg.Nothing)},
    partitions_def=daily_partitions,
    group_name="staging",
    kinds={"python", "parquet"},
    owners=["team:privacy"],
    tags={"pii": "scrubbed"},
)
def scrubbed_events(raw_events):
    """One day of raw events, validated against the event contract, with user and resume IDs
    replaced by keyed pseudonyms and every free-text field scrubbed of PII, staged as Parquet.

    Scrubbed in shards (one step each, run in parallel by the executor), then merged. Invalid
    lines become quarantine rows (file, line, reason; never content). Every raw line ends up in
    exactly one staged row, so lines read = events + quarantined, whatever the number of shards.
    """
    return merge_scrubbed_shards(plan_scrub_shards(raw_events).map(scrub_shard).collect())
