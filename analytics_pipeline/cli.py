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


def _instance() -> dg.DagsterInstance:
    # With DAGSTER_HOME set (the Makefile sets it) runs are recorded and show in the UI.
    return dg.DagsterInstance.get() if os.getenv("DAGSTER_HOME") else dg.DagsterInstance.ephemeral()


def run_pipeline(days: list[str] | None = None) -> int:
    """Materialize every asset for each day partition (default: every day in the raw log)."""
    from analytics_pipeline.definitions import defs
    from analytics_pipeline.defs.privacy.assets import scrubbed_events
    from analytics_pipeline.defs.shared import register_days
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
        register_days(instance, days)
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
                if event.asset_key == scrubbed_events.key:
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


def _user_pseudonym(user_id: str) -> str:
    from analytics_pipeline.privacy.hashing import USER_DOMAIN, SaltError, pseudonymize, validate_salt

    # "-" reads the ID from stdin, keeping it out of the shell history and the process list.
    user_id = (sys.stdin.readline() if user_id == "-" else user_id).strip()
    try:  # the same variable the pseudonymizer resource reads (through dg.EnvVar)
        salt = validate_salt(os.getenv("ANALYTICS_SALT"))
    except SaltError as error:
        sys.exit(str(error))
    return pseudonymize(user_id, salt, USER_DOMAIN)


def print_pseudonym(user_id: str) -> int:
    print(_user_pseudonym(user_id))
    return 0


def forget(user_id: str) -> int:
    """Run erasure_job for one user. Only the pseudonym goes into the run config."""
    from analytics_pipeline.definitions import defs

    config = {
        **QUIET_CONSOLE,
        "ops": {"forget_user": {"config": {"anon_user_id": _user_pseudonym(user_id)}}},
    }
    with _instance() as instance:
        result = (
            defs()
            .resolve_job_def("erasure_job")
            .execute_in_process(run_config=config, instance=instance, raise_on_error=False)
        )
    if not result.success:
        for event in result.get_step_failure_events():
            print(event.step_failure_data.error.message, file=sys.stderr)
        return 1
    (output,) = [e for e in result.all_events if e.is_successful_output]
    for name, value in output.step_output_data.metadata.items():
        print(f"{name}: {value.value}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="analytics-pipeline", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("run", help="materialize the pipeline for day partitions")
    run.add_argument("days", nargs="*", help="YYYY-MM-DD partitions (default: all in the raw log)")
    run.set_defaults(handler=lambda args: run_pipeline(args.days))
    add_serve_command(commands)
    forget_cmd = commands.add_parser("forget", help="right to erasure: remove a user everywhere, keep them out")
    forget_cmd.add_argument("user_id", help="the app's user ID, or - to read it from stdin")
    forget_cmd.set_defaults(handler=lambda args: forget(args.user_id))
    pseudonym = commands.add_parser("pseudonym", help="print a user's pseudonym (for erasure_job's config)")
    pseudonym.add_argument("user_id", help="the app's user ID, or - to read it from stdin")
    pseudonym.set_defaults(handler=lambda args: print_pseudonym(args.user_id))
    args = parser.parse_args(argv)
    return args.handler(args)


if __name__ == "__main__":
    sys.exit(main())
