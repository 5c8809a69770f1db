"""``analytics-pipeline``: the operator's command line."""

from __future__ import annotations

import argparse
import os
import sys
from collections import Counter

import dagster as dg

from analytics_pipeline.ingest.serve import add_serve_command


# Step logs stay in the run (visible in the UI); the terminal gets warnings and the summary.
QUIET_CONSOLE = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}
SCRUBBED_EVENTS_KEY = dg.AssetKey(["staging", "scrubbed_events"])


def _instance() -> dg.DagsterInstance:
    # With DAGSTER_HOME set (the Makefile sets it) runs are recorded and show in the UI.
    return dg.DagsterInstance.get() if os.getenv("DAGSTER_HOME") else dg.DagsterInstance.ephemeral()


def run_pipeline(days: list[str] | None = None) -> int:
    """Materialize every asset for each day partition (default: every day in the raw log)."""
    from analytics_pipeline.definitions import defs
    from analytics_pipeline.summary import print_summary

    definitions = defs()
    # Outside a run, resources still hold EnvVar placeholders: resolve them to values.
    raw_log = definitions.resources["raw_log"].process_config_and_initialize()
    days = days or raw_log.days()
    if not days:
        print(f"no raw event files under {raw_log.raw_dir}", file=sys.stderr)
        return 1
    job = definitions.resolve_job_def("daily_events_job")
    failed = []
    entities: Counter[str] = Counter()
    with _instance() as instance:
        for day in days:
            result = job.execute_in_process(
                partition_key=day, instance=instance, raise_on_error=False, run_config=QUIET_CONSOLE
            )
            print(f"{day}: {'ok' if result.success else 'FAILED'} (run {result.run_id})")
            if not result.success:
                failed.append(day)
                for failure in result.get_step_failure_events():
                    print(f"  {failure.step_key}: {failure.step_failure_data.error.message.strip()}")
                continue
            for event in result.get_asset_materialization_events():
                if event.asset_key == SCRUBBED_EVENTS_KEY:
                    entities.update(event.materialization.metadata["pii_entities_replaced"].value)
        # Training sets read every loaded day, so they are rebuilt once, after the partitions.
        if len(failed) < len(days):
            training = definitions.resolve_job_def("training_job").execute_in_process(
                instance=instance, raise_on_error=False, run_config=QUIET_CONSOLE
            )
            print(f"training sets: {'ok' if training.success else 'FAILED'} (run {training.run_id})")
            if not training.success:
                failed.append("training")
    database = definitions.resources["duckdb"].process_config_and_initialize().database
    if os.path.exists(database):
        print_summary(database, entities)
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="analytics-pipeline", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("run", help="materialize the pipeline for day partitions")
    run.add_argument("days", nargs="*", help="YYYY-MM-DD partitions (default: all in the raw log)")
    run.set_defaults(handler=lambda args: run_pipeline(args.days))
    add_serve_command(commands)
    args = parser.parse_args(argv)
    return args.handler(args)


if __name__ == "__main__":
    sys.exit(main())
