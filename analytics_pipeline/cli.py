"""``analytics-pipeline``: the operator's command line."""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import dagster as dg

from analytics_pipeline.ingest.serve import add_serve_command
from analytics_pipeline.private_files import restrict_process

SCRUBBED_EVENTS_KEY = dg.AssetKey(["staging", "scrubbed_events"])  # reports the PII entities it replaced
# Without DAGSTER_HOME the runs go to a throwaway instance that still launches them at once.
THROWAWAY_INSTANCE = """run_coordinator:
  module: analytics_pipeline.run_coordinator
  class: ImmediateOrQueuedRunCoordinator
"""


@contextmanager
def _instance() -> Iterator[dg.DagsterInstance]:
    # With DAGSTER_HOME set (the Makefile sets it) runs are recorded and show in the UI.
    if os.getenv("DAGSTER_HOME"):
        with dg.DagsterInstance.get() as instance:
            yield instance
        return
    # The location's code server may still be closing its storage as the directory goes: ignore that.
    with tempfile.TemporaryDirectory(prefix="dagster-home-", ignore_cleanup_errors=True) as home:
        Path(home, "dagster.yaml").write_text(THROWAWAY_INSTANCE)
        with dg.DagsterInstance.from_config(home) as instance:
            yield instance


def _report_failure(instance: dg.DagsterInstance, run: dg.DagsterRun, stream=sys.stdout) -> None:
    from analytics_pipeline.run_report import failure_messages

    for message in failure_messages(instance, run.run_id):
        print(f"  {message}", file=stream)


def run_pipeline(days: list[str] | None = None) -> int:
    """Launch daily_events_job for each day partition (default: every day in the raw log), then training_job.

    Each run is a normal run of the code location, launched through the instance and waited for.
    """
    from analytics_pipeline.defs.resources import default_resources
    from analytics_pipeline.defs.shared import register_days
    from analytics_pipeline.launcher import PARTITION_TAG, CodeLocationServer, LaunchError, run_window, wait_for_run
    from analytics_pipeline.run_report import check_outcomes, format_check_outcomes, materialization_metadata
    from analytics_pipeline.summary import print_summary

    # Resources without the rest of the definitions: the webserver loads those.
    # Outside a run, resources still hold EnvVar placeholders: resolve them to values.
    resources = default_resources()
    raw_log = resources["raw_log"].process_config_and_initialize()
    days = days or raw_log.days()
    if not days:
        print(f"no raw event files under {raw_log.raw_dir}", file=sys.stderr)
        return 1
    failed = []
    entities: Counter[str] = Counter()
    with _instance() as instance, CodeLocationServer(instance) as location:
        register_days(instance, days)
        try:
            # Up to the instance's run limit at once (scrubbing uses a core each; DuckDB steps take turns).
            pending = iter(days)
            launched = {}

            def launch_next() -> None:
                if (day := next(pending, None)) is not None:
                    launched[day] = location.launch("daily_events_job", tags={PARTITION_TAG: day})

            for _ in range(run_window(instance)):
                launch_next()
            for day in days:
                run = wait_for_run(instance, launched[day])
                launch_next()
                ok = run.status == dg.DagsterRunStatus.SUCCESS
                print(f"{day}: {'ok' if ok else 'FAILED'} (run {run.run_id})")
                for line in format_check_outcomes(check_outcomes(instance, run.run_id)):
                    print(line)
                if not ok:
                    failed.append(day)
                    _report_failure(instance, run)
                    continue
                for metadata in materialization_metadata(instance, run.run_id, SCRUBBED_EVENTS_KEY):
                    entities.update(metadata["pii_entities_replaced"])
            # Training sets read every loaded day, so they are rebuilt once, after the partitions.
            if len(failed) < len(days):
                training = wait_for_run(instance, location.launch("training_job"))
                ok = training.status == dg.DagsterRunStatus.SUCCESS
                print(f"training sets: {'ok' if ok else 'FAILED'} (run {training.run_id})")
                if not ok:
                    failed.append("training")
                    _report_failure(instance, training)
        except LaunchError as error:
            print(f"could not run the pipeline: {error}", file=sys.stderr)
            return 1
    duckdb = resources["duckdb"].process_config_and_initialize()
    if os.path.exists(duckdb.database):
        print_summary(duckdb, entities)
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
    """Run erasure_job for one user, launched through the instance. Only the pseudonym goes into the run config."""
    from analytics_pipeline.launcher import CodeLocationServer, LaunchError, wait_for_run
    from analytics_pipeline.run_report import output_metadata

    config = {"ops": {"forget_user": {"config": {"anon_user_id": _user_pseudonym(user_id)}}}}
    with _instance() as instance:
        try:
            with CodeLocationServer(instance) as location:
                run = wait_for_run(instance, location.launch("erasure_job", run_config=config))
        except LaunchError as error:
            print(f"could not run erasure_job: {error}", file=sys.stderr)
            return 1
        if run.status != dg.DagsterRunStatus.SUCCESS:
            _report_failure(instance, run, sys.stderr)
            return 1
        for name, value in output_metadata(instance, run.run_id).items():
            print(f"{name}: {value}")
    print(f"run {run.run_id}")
    return 0


def main(argv: list[str] | None = None) -> int:
    # Everything the commands and their child processes (webserver, run workers) write is owner-only.
    restrict_process()
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
