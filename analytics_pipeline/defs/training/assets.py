"""Training-set assets: recomputed from all analytics data, gated on the analytics checks, snapshotted.

Unpartitioned on purpose: outcome labels look forward in time (a tailored output on day D may be
downloaded on day D+1) and the split is per user across all days, so each materialization
rebuilds every set from every loaded partition. They therefore have their own job,
``training_job``, scheduled after the daily job; ``analytics-pipeline run`` runs it after the partitions.
"""

from datetime import date
from pathlib import Path

import dagster as dg

from analytics_pipeline.defs.analytics.checks import check_keys_on
from analytics_pipeline.defs.resources import AnalyticsDuckDBResource, TrainingSetsResource
from analytics_pipeline.defs.shared import DUCKDB_WRITER_POOL, preview_table, table_asset_key, table_schema
from analytics_pipeline.schema import INTERACTIONS, RESUME_EVENTS
from analytics_pipeline.training import build_training_set, prune_versions, write_snapshot
from analytics_pipeline.training.build import snapshot_rows
from analytics_pipeline.training.snapshot import TRAINING_CODE_VERSION
from analytics_pipeline.training.splits import SPLIT_HASH_PREFIX
from analytics_pipeline.training.tables import ENGAGEMENT_FEATURES, REFINEMENT_PAIRS, TAILORING_EXAMPLES

RESUME_EVENTS_KEY = table_asset_key(RESUME_EVENTS)
INTERACTIONS_KEY = table_asset_key(INTERACTIONS)
PREVIEW_ROWS = 5
# No pseudonyms and no texts: Dagster's run storage keeps previews, and an erasure cannot reach it.
PREVIEW_COLUMNS = {
    TAILORING_EXAMPLES.name: [
        "split",
        "event_type",
        "version",
        "ats_score",
        "copied",
        "downloaded",
        "refined_again",
    ],
    REFINEMENT_PAIRS.name: [
        "split",
        "before_version",
        "after_version",
        "ats_score_delta",
        "after_accepted",
    ],
    ENGAGEMENT_FEATURES.name: [
        "split",
        "activity_date",
        "events",
        "uploads",
        "tailors",
        "downloads",
        "funnel_depth",
        "seconds_to_first_download",
    ],
}


def gate_failures(
    instance: dg.DagsterInstance, check_keys: set[dg.AssetCheckKey], partitions: list[str]
) -> dict[str, str]:
    """Partitions that did not pass every check on the source assets -> why.

    A partition passes when, for each check, its latest evaluation on that partition did not
    fail with ERROR severity (the severity that blocks downstream assets). Failed, crashed or
    never-run evaluations all exclude the partition: training data must have passed the
    residual-PII gate, not merely not have failed it. Without checks there is nothing to require.
    """
    if not check_keys or not partitions:
        return {}
    storage = instance.event_log_storage
    latest: dict[tuple[dg.AssetCheckKey, str], object] = {}
    for check_key in check_keys:
        records = storage.get_asset_check_execution_history(check_key, limit=50 * len(partitions) + 100)
        runs = {run.run_id: run for run in instance.get_runs(dg.RunsFilter(run_ids=list({r.run_id for r in records})))}
        for record in records:  # newest first
            run = runs.get(record.run_id)
            partition = record.partition or (run.tags.get("dagster/partition") if run else None)
            latest.setdefault((check_key, partition), record)
    failures = {}
    for partition in partitions:
        for check_key in sorted(check_keys, key=lambda k: k.to_user_string()):
            record = latest.get((check_key, partition))
            name = check_key.to_user_string()
            if record is None:
                failures[partition] = f"{name} never evaluated"
            elif record.event.dagster_event_type != dg.DagsterEventType.ASSET_CHECK_EVALUATION:
                failures[partition] = f"{name} did not complete"  # planned, never evaluated (crash, skip)
            else:
                evaluation = record.event.dagster_event.event_specific_data
                if not evaluation.passed and evaluation.severity == dg.AssetCheckSeverity.ERROR:
                    failures[partition] = f"{name} failed"
            if partition in failures:
                break
    return failures


def _source_partitions(conn) -> list[str]:
    rows = conn.execute(
        f"SELECT DISTINCT partition_date FROM {RESUME_EVENTS.qualified_name} "
        f"UNION SELECT DISTINCT partition_date FROM {INTERACTIONS.qualified_name} ORDER BY 1"
    ).fetchall()
    return [row[0].isoformat() for row in rows]


def _label_lines(card: dict) -> list[str]:
    """Per split: the share of final labels and each label's rate among them."""
    lines = []
    for split, stats in card["label_stats"].items():
        if stats["rows"]:
            rates = ", ".join(
                f"{label} {rate:.1%}" for label, rate in stats["rates_label_window_closed"].items() if rate is not None
            )
            lines.append(
                f"- {split}: {stats['label_window_closed_share']:.1%} final labels (label window closed)"
                + (f"; among them {rates}" if rates else "")
            )
    return lines


def _card_markdown(card: dict) -> str:
    splits = ", ".join(f"{s} {n}" for s, n in card["rows_per_split"].items())
    users = ", ".join(f"{s} {n}" for s, n in card["users_per_split"].items())
    removed = ", ".join(f"{f} {n}" for f, n in card["removed_by_filter"].items()) or "none"
    dates = card["date_range"]
    return "\n".join(
        [
            f"**{card['name']}** version `{card['version']}` (written by run `{card['run_id']}`)",
            "",
            f"- rows per split: {splits}",
            f"- users per split: {users}",
            *_label_lines(card),
            f"- {dates['column']}: {dates['first']} to {dates['last']}",
            f"- removed by filter: {removed}",
            f"- excluded partitions (did not pass the checks): {', '.join(card['excluded_partitions']) or 'none'}",
            f"- gating checks (blocking, ERROR severity): {len(card['gating_checks'])}",
            f"- scrubber: {', '.join(card['scrubber_versions']) or 'n/a'}",
            f"- code: {card['code_version']}",
            f"- split ratios (train,validation,test): {card['config']['split_ratios']}",
        ]
    )


def materialize_training_set(
    context: dg.AssetExecutionContext,
    duckdb: AnalyticsDuckDBResource,
    training: TrainingSetsResource,
    name: str,
    sources: set[dg.AssetKey],
) -> dg.MaterializeResult:
    """Gate, build into DuckDB, snapshot to Parquet with a dataset card, and report it all as metadata."""
    config = training.config()
    check_keys = check_keys_on(sources)
    with duckdb.get_connection() as conn:
        failures = gate_failures(context.instance, check_keys, _source_partitions(conn))
        for partition, reason in failures.items():
            context.log.warning(f"partition {partition} left out of training/{name}: {reason}")
        excluded = sorted(failures)
        result = build_training_set(conn, name, config, [date.fromisoformat(p) for p in excluded])
        data = snapshot_rows(conn, result.table)
    details = {
        "run_id": context.run.run_id,
        "removed_by_filter": result.removed,
        "excluded_partitions": excluded,
        "gating_checks": sorted(k.to_user_string() for k in check_keys),
        "config": {
            "split_ratios": str(config.split_ratios),
            "split_hash_prefix": SPLIT_HASH_PREFIX.decode(),
            "label_window_hours": config.label_window.total_seconds() / 3600,
            "max_placeholder_share": config.max_placeholder_share,
        },
        "duckdb_table": result.table.qualified_name,
    }
    snapshot = write_snapshot(Path(training.training_dir), result.table, data, details)
    path, card = snapshot.path, snapshot.card
    pruned = prune_versions(name, training.keep_versions, training.training_dir, protect=frozenset({path.name}))
    context.log.info(
        f"training/{name}: {result.rows} rows, "
        + (f"snapshot {path}" if snapshot.new else f"content unchanged: no new snapshot, latest stays {path}")
        + (f"; pruned {len(pruned)} old version(s)" if pruned else "")
    )
    columns = PREVIEW_COLUMNS[name]
    preview = preview_table(result.table, columns, data.select(columns).slice(0, PREVIEW_ROWS).to_pylist())
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": result.rows,
            "rows_per_split": card["rows_per_split"],
            "users_per_split": card["users_per_split"],
            "removed_by_filter": result.removed,
            "excluded_partitions": excluded,
            "snapshot_version": card["version"],
            "snapshot_path": dg.MetadataValue.path(str(path)),
            # False: the rebuild matched the latest version's content hash, which stays the latest.
            "new_snapshot": snapshot.new,
            "pruned_versions": pruned,
            "label_stats": card["label_stats"],
            "date_range": card["date_range"],
            "scrubber_versions": card["scrubber_versions"],
            "code_version": card["code_version"],
            "dataset_card": dg.MetadataValue.md(_card_markdown(card)),
            "preview": preview,
        },
        data_version=dg.DataVersion(card["version"]),
    )


def training_asset(table, sources: set[dg.AssetKey], description: str):
    """A training-set asset: same catalogue fields, resources and pool for all three."""

    @dg.asset(
        key=table_asset_key(table),
        description=description,
        deps=sorted(sources, key=str),
        group_name="training",
        kinds={"duckdb", "parquet"},
        owners=["team:data-science"],
        tags={"pii": "scrubbed"},
        pool=DUCKDB_WRITER_POOL,
        code_version=TRAINING_CODE_VERSION,
        metadata={"dagster/column_schema": table_schema(table), "dagster/table_name": table.qualified_name},
    )
    def _asset(
        context: dg.AssetExecutionContext, duckdb: AnalyticsDuckDBResource, training: TrainingSetsResource
    ) -> dg.MaterializeResult:
        return materialize_training_set(context, duckdb, training, table.name, sources)

    return _asset


tailoring_examples = training_asset(
    TAILORING_EXAMPLES,
    {RESUME_EVENTS_KEY},
    "One row per tailor or refine event: scrubbed resume, job description and tailored output, "
    "scores, mode and version, with outcome labels from what the same user did next with that "
    "output within the label window (copied, downloaded, refined again). Split by user.",
)
refinement_pairs = training_asset(
    REFINEMENT_PAIRS,
    {RESUME_EVENTS_KEY},
    "Consecutive versions of the same resume for the same job description: the output before "
    "and after each refinement, score deltas, and whether the refined output was accepted. Split by user.",
)
engagement_features = training_asset(
    ENGAGEMENT_FEATURES,
    {RESUME_EVENTS_KEY, INTERACTIONS_KEY},
    "Per pseudonymous user and UTC day: counts per event type, action and UI element, funnel "
    "steps (upload -> tailor -> copy/download) and time to first download. Split by user.",
)
