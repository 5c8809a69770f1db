"""Right to erasure: one pseudonymous user forgotten in every table, Parquet file and raw file."""

from pathlib import Path

import dagster as dg

from analytics_pipeline.defs.resources import (
    AnalyticsDuckDBResource,
    PseudonymizerResource,
    RawEventLogResource,
    StagingAreaResource,
    TrainingSetsResource,
)
from analytics_pipeline.defs.shared import DUCKDB_WRITER_POOL
from analytics_pipeline.lifecycle import erasure
from analytics_pipeline.lifecycle.salt import salt_mismatch


class ForgetUserConfig(dg.Config):
    """The user's pseudonym, not their ID: run config is stored in Dagster's run history.
    Get it with ``analytics-pipeline pseudonym USER_ID`` (or use ``analytics-pipeline forget``)."""

    anon_user_id: str


@dg.op(pool=DUCKDB_WRITER_POOL, description="Right to erasure for one pseudonymous user.")
def forget_user(
    context: dg.OpExecutionContext,
    config: ForgetUserConfig,
    duckdb: AnalyticsDuckDBResource,
    raw_log: RawEventLogResource,
    staging: StagingAreaResource,
    training: TrainingSetsResource,
    pseudonymizer: PseudonymizerResource,
) -> dg.Output:
    """Ledger + every user table (one transaction) and a compacted DuckDB file, then staged and
    training Parquet (killed runs' leftovers deleted, live runs waited for), then every file under the
    raw dir. Fails, after doing all it can, if a file could not be read or a run kept writing."""
    try:
        anon_user_id = erasure.validate_pseudonym(config.anon_user_id)
    except ValueError as error:
        raise dg.Failure(description=str(error)) from None
    with duckdb.get_connection() as conn:
        # Under another salt the pseudonym would match nothing and the erasure would silently do nothing.
        if problem := salt_mismatch(conn, pseudonymizer.fingerprint()):
            raise dg.Failure(description=problem)
        table_rows = erasure.erase_from_tables(conn, anon_user_id)
    # The deleted rows' bytes would stay in the file's free blocks: rewrite it with live data only.
    size_before, size_after = erasure.compact_database(Path(duckdb.database))
    sweeps = {
        "staging": erasure.erase_from_parquet(Path(staging.staging_dir), anon_user_id),
        "training": erasure.erase_from_parquet(Path(training.training_dir), anon_user_id),
        "raw": erasure.erase_from_raw_log(Path(raw_log.raw_dir), anon_user_id, pseudonymizer.salt_bytes()),
    }

    def listed(attribute: str) -> list[str]:
        return [f"{where}/{name}" for where, sweep in sweeps.items() for name in getattr(sweep, attribute)]

    parquet_rows = {f"{where}/{k}": v for where in ("staging", "training") for k, v in sweeps[where].erased.items()}
    raw_lines = sweeps["raw"].erased
    context.log.info(
        f"erased {sum(table_rows.values())} table rows, {sum(parquet_rows.values())} Parquet rows, "
        f"{sum(raw_lines.values())} raw lines; {len(listed('leftovers'))} leftovers of killed runs deleted"
    )
    metadata = {
        "table_rows_deleted": dg.MetadataValue.json(table_rows),
        "parquet_rows_deleted": dg.MetadataValue.json(parquet_rows),
        "raw_lines_blanked": dg.MetadataValue.json(raw_lines),
        "leftovers_deleted": dg.MetadataValue.json(listed("leftovers")),
        "duckdb_bytes_before_compaction": size_before,
        "duckdb_bytes_after_compaction": size_after,
    }
    # Done with everything it could reach; a file it could not read may still hold the user: say so and fail.
    if unreadable := listed("unreadable"):
        raise dg.Failure(
            description=f"erasure incomplete: {len(unreadable)} file(s) could not be read, so they may still hold "
            f"the user: {', '.join(unreadable[:20])}. Repair or remove them, then run the erasure again.",
            metadata=metadata | {"unreadable_files": dg.MetadataValue.json(unreadable)},
        )
    if in_progress := listed("in_progress"):
        raise dg.Failure(
            description=f"erasure incomplete: a run was still writing {', '.join(in_progress[:20])} after "
            f"{erasure.IN_PROGRESS_WAIT_SECONDS} s. Run the erasure again once it has ended.",
            metadata=metadata | {"still_written": dg.MetadataValue.json(in_progress)},
        )
    return dg.Output(None, metadata=metadata)


@dg.job(
    description="Right to erasure: forget one user everywhere and keep them out of later loads. "
    "Config: ops.forget_user.config.anon_user_id (the pseudonym)."
)
def erasure_job():
    forget_user()
