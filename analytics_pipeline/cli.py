"""``analytics-pipeline``: the operator's command line."""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import dagster as dg

from analytics_pipeline.ingest.serve import add_serve_command
from analytics_pipeline.private_files import restrict_process

# `sample`'s defaults: with `run` and `python -m tools.train_baseline` within 10 minutes on 2 cores (README).
SAMPLE_DAYS = 30
SAMPLE_USERS = 400
SAMPLE_SESSIONS_PER_DAY = 60
SCRUBBED_EVENTS_KEY = dg.AssetKey(["staging", "scrubbed_events"])  # reports the PII entities it replaced
# Without DAGSTER_HOME the runs go to a throwaway instance that still launches them at once, with the
# limits of data/dagster_home/dagster.yaml (else Dagster's default: ten runs at once, each with its model).
THROWAWAY_INSTANCE = """run_coordinator:
  module: analytics_pipeline.run_coordinator
  class: ImmediateOrQueuedRunCoordinator
concurrency:
  runs:
    max_concurrent_runs: 2
  pools:
    default_limit: 1
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


def _ready_to_launch(instance: dg.DagsterInstance) -> bool:
    """End runs left behind by killed processes (their pool slots with them), and check that runs can start."""
    from analytics_pipeline.dead_runs import end_dead_runs
    from analytics_pipeline.launcher import LaunchError, check_runs_can_start

    for message in end_dead_runs(instance):
        print(message, file=sys.stderr)
    try:
        check_runs_can_start(instance)
    except LaunchError as error:
        print(f"cannot launch runs: {error}", file=sys.stderr)
        return False
    return True


def _report_failure(instance: dg.DagsterInstance, run: dg.DagsterRun, stream=sys.stdout) -> None:
    from analytics_pipeline.run_report import failure_messages

    for message in failure_messages(instance, run.run_id):
        print(f"  {message}", file=stream)


def run_pipeline(days: list[str] | None = None) -> int:
    """Launch daily_events_job for each day partition (default: every day in the raw log), then training_job.

    Each run is a normal run of the code location, launched through the instance and waited for.
    """
    from analytics_pipeline.defs.resources import default_resources
    from analytics_pipeline.privacy.hashing import SaltError
    from analytics_pipeline.summary import print_summary

    # Resources without the rest of the definitions: the webserver loads those.
    # Outside a run, resources still hold EnvVar placeholders: resolve them to values.
    resources = default_resources()
    try:  # before any run starts: each run's first step would fail on it
        resources["pseudonymizer"].process_config_and_initialize().salt_bytes()
    except SaltError as error:
        print(error, file=sys.stderr)
        return 1
    raw_log = resources["raw_log"].process_config_and_initialize()
    days = days or raw_log.days()
    if not days:
        print(f"no raw event files under {raw_log.raw_dir}", file=sys.stderr)
        return 1
    entities: Counter[str] = Counter()
    with _instance() as instance:
        if not _ready_to_launch(instance):
            return 1
        failed = _run_days(instance, days, entities)
    if failed is None:
        return 1
    duckdb = resources["duckdb"].process_config_and_initialize()
    summarized = print_summary(duckdb, entities) if os.path.exists(duckdb.database) else True
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed or not summarized else 0


def _run_days(instance: dg.DagsterInstance, days: list[str], entities: Counter[str]) -> list[str] | None:
    """Each day's run, then training_job's, launched and waited for: what failed (None: could not run)."""
    from analytics_pipeline.defs.shared import register_days
    from analytics_pipeline.launcher import PARTITION_TAG, CodeLocationServer, LaunchError, run_window, wait_for_run
    from analytics_pipeline.run_report import check_outcomes, format_check_outcomes, materialization_metadata

    failed = []
    with CodeLocationServer(instance) as location:
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
            return None
    return failed


def write_sample_history(
    days: int, users: int, sessions_per_day: int, start: date | None, seed: int, overwrite: bool
) -> int:
    """Write ``days`` days of synthetic events (``sample_data``) into the raw dir, ending yesterday by default.

    A day whose directory already holds anything is refused (its raw files may be real) unless
    ``overwrite``, which replaces only the day's sample file and leaves other files alone.
    """
    from analytics_pipeline.defs.resources import default_resources
    from analytics_pipeline.raw_log import SAMPLE_FILE_NAME
    from analytics_pipeline.sample_data import write_sample

    if min(days, users, sessions_per_day) < 1:
        print("--days, --users and --sessions-per-day must be at least 1", file=sys.stderr)
        return 2
    raw_dir = Path(default_resources()["raw_log"].process_config_and_initialize().raw_dir)
    start = start or datetime.now(UTC).date() - timedelta(days=days)
    targets = [(start + timedelta(days=i)).isoformat() for i in range(days)]
    taken = [day for day in targets if (raw_dir / day).is_dir() and any((raw_dir / day).iterdir())]
    if taken and not overwrite:
        print(
            f"{len(taken)} of these days already have files under {raw_dir} ({', '.join(taken[:3])}"
            f"{', ...' if len(taken) > 3 else ''}): nothing written. Point ANALYTICS_RAW_DIR at an empty "
            f"directory, pick another --start, or pass --overwrite to replace their {SAMPLE_FILE_NAME}",
            file=sys.stderr,
        )
        return 1
    write_sample(raw_dir, days, sessions_per_day, users, seed, start)
    lines = sum(sum(1 for _ in (raw_dir / day / SAMPLE_FILE_NAME).open("rb")) for day in targets)
    print(
        f"wrote {days} day(s), {targets[0]} to {targets[-1]}, under {raw_dir}: {lines} lines, "
        f"{sessions_per_day} sessions a day from {users} users (synthetic: seeded Faker PII, ~2% malformed lines)"
    )
    return 0


RESCRUB_TAG = "analytics_pipeline/rescrub"


def rescrub(since: str | None, until: str | None, stale_only: bool) -> int:
    """Submit a backfill of daily_events_job that scrubs and loads again the days with raw files in
    [since, until] (only those scrubbed by another scrubber version with ``stale_only``). The instance's
    daemon runs it, a run per day, each sharded by the job's executor; the UI shows its progress."""
    from analytics_pipeline import warehouse
    from analytics_pipeline.defs.resources import default_resources
    from analytics_pipeline.defs.shared import register_days
    from analytics_pipeline.launcher import CodeLocationServer, LaunchError, check_backfills_can_run

    if not os.getenv("DAGSTER_HOME"):
        print("rescrub needs DAGSTER_HOME: the instance whose daemon runs the backfill", file=sys.stderr)
        return 1
    resources = default_resources()
    raw_log = resources["raw_log"].process_config_and_initialize()
    # Days whose raw files retention deleted have no raw files left: they cannot be scrubbed again.
    days = [d for d in raw_log.days() if (since is None or d >= since) and (until is None or d <= until)]
    version = resources["scrubber"].process_config_and_initialize().version()
    if stale_only:
        duckdb = resources["duckdb"].process_config_and_initialize()
        stale = set()
        if os.path.exists(duckdb.database):
            with duckdb.get_connection(read_only=True) as conn:
                stale = set(warehouse.days_scrubbed_otherwise(conn, version))
        days = [d for d in days if d in stale]
    if not days:
        print(
            "no day to scrub again: none with raw files in that range"
            + (" and another scrubber version" if stale_only else "")
        )
        return 0
    with _instance() as instance:
        try:
            check_backfills_can_run(instance)
        except LaunchError as error:
            print(f"cannot submit the backfill: {error}", file=sys.stderr)
            return 1
    with _instance() as instance, CodeLocationServer(instance) as location:
        register_days(instance, days)
        try:
            backfill_id = location.launch_backfill(
                "daily_events_job",
                days,
                title=f"re-scrub {days[0]} to {days[-1]}",
                tags={RESCRUB_TAG: version},
            )
        except LaunchError as error:
            print(f"could not submit the backfill: {error}", file=sys.stderr)
            return 1
    print(f"backfill {backfill_id}: {len(days)} day(s), {days[0]} to {days[-1]}, with {version}")
    print("the daemon runs it (`make dev` or `dagster-daemon run`); progress: UI > Runs > Backfills")
    return 0


def _user_pseudonym(user_id: str) -> str:
    from analytics_pipeline.privacy.hashing import USER_DOMAIN, SaltError, pseudonymize, validate_salt

    # "-" reads the ID from stdin, keeping it out of the shell history and the process list. The ID is
    # hashed exactly as the app sent it (the contract keeps spaces: " victim " is not "victim"), so
    # nothing is stripped but the line ending of stdin.
    if user_id == "-":
        user_id = sys.stdin.readline().removesuffix("\n").removesuffix("\r")
    if not user_id:
        sys.exit("the user ID is empty")
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
        if not _ready_to_launch(instance):
            return 1
        try:
            with CodeLocationServer(instance) as location:
                run = wait_for_run(instance, location.launch("erasure_job", run_config=config))
        except LaunchError as error:
            print(f"could not run erasure_job: {error}", file=sys.stderr)
            return 1
        if run.status != dg.DagsterRunStatus.SUCCESS:
            _report_failure(instance, run, sys.stderr)
            return 1
        metadata = output_metadata(instance, run.run_id)
        for name, value in metadata.items():
            print(f"{name}: {value}")
    print(f"run {run.run_id}")
    if nothing_erased(metadata):
        print(NOTHING_ERASED_WARNING, file=sys.stderr)
        return NOTHING_ERASED_EXIT_CODE
    return 0


# `forget` exits with this code when the erasure ran (the user is in the ledger, so their later events stay
# out) but found nothing of them: no table or Parquet row, no raw line. Usually a mistyped ID.
NOTHING_ERASED_EXIT_CODE = 3
NOTHING_ERASED_WARNING = (
    "warning: nothing of this user was found: no table row, no Parquet row, no raw line was erased. The ID is "
    "matched exactly as the app sent it (case and leading or trailing spaces included): check it. The "
    "pseudonym is in the erasure ledger, so later events of this exact ID are kept out."
)


def nothing_erased(metadata: dict) -> bool:
    """Whether an erasure run's output metadata says it deleted no row and blanked no raw line."""
    counts = ("table_rows_deleted", "parquet_rows_deleted", "raw_lines_blanked")
    return not any(sum((metadata.get(name) or {}).values()) for name in counts)


def _day(value: str) -> str:
    from analytics_pipeline.raw_log import is_day

    if not is_day(value):
        raise argparse.ArgumentTypeError(f"a day is YYYY-MM-DD, got {value!r}")
    return value


def _date(value: str) -> date:
    return date.fromisoformat(_day(value))


def main(argv: list[str] | None = None) -> int:
    # Everything the commands and their child processes (webserver, run workers) write is owner-only.
    restrict_process()
    parser = argparse.ArgumentParser(prog="analytics-pipeline", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("run", help="materialize the pipeline for day partitions")
    run.add_argument("days", nargs="*", help="YYYY-MM-DD partitions (default: all in the raw log)")
    run.set_defaults(handler=lambda args: run_pipeline(args.days))
    add_serve_command(commands)
    sample = commands.add_parser(
        "sample", help="write a synthetic event history (seeded, fake PII) into the raw dir, ending yesterday"
    )
    sample.add_argument("--days", type=int, default=SAMPLE_DAYS, help=f"days of events (default {SAMPLE_DAYS})")
    sample.add_argument("--users", type=int, default=SAMPLE_USERS, help=f"distinct users (default {SAMPLE_USERS})")
    sample.add_argument(
        "--sessions-per-day",
        type=int,
        default=SAMPLE_SESSIONS_PER_DAY,
        help=f"user visits a day (default {SAMPLE_SESSIONS_PER_DAY})",
    )
    sample.add_argument("--start", type=_date, help="first day, YYYY-MM-DD (default: DAYS days before today, UTC)")
    sample.add_argument("--seed", type=int, default=7, help="same seed and options, same bytes (default 7)")
    sample.add_argument(
        "--overwrite", action="store_true", help="replace the sample file of days that already have files"
    )
    sample.set_defaults(
        handler=lambda args: write_sample_history(
            args.days, args.users, args.sessions_per_day, args.start, args.seed, args.overwrite
        )
    )
    again = commands.add_parser(
        "rescrub", help="submit a backfill that scrubs days again (e.g. after a scrubber upgrade); the daemon runs it"
    )
    again.add_argument("--since", type=_day, help="first day, YYYY-MM-DD (default: the oldest with raw files)")
    again.add_argument("--until", type=_day, help="last day, YYYY-MM-DD (default: the newest)")
    again.add_argument("--stale", action="store_true", help="only days scrubbed by another scrubber version")
    again.set_defaults(handler=lambda args: rescrub(args.since, args.until, args.stale))
    forget_cmd = commands.add_parser("forget", help="right to erasure: remove a user everywhere, keep them out")
    forget_cmd.add_argument(
        "user_id", help="the app's user ID, exactly as sent (spaces are kept), or - to read it from stdin (one line)"
    )
    forget_cmd.set_defaults(handler=lambda args: forget(args.user_id))
    pseudonym = commands.add_parser("pseudonym", help="print a user's pseudonym (for erasure_job's config)")
    pseudonym.add_argument(
        "user_id", help="the app's user ID, exactly as sent (spaces are kept), or - to read it from stdin (one line)"
    )
    pseudonym.set_defaults(handler=lambda args: print_pseudonym(args.user_id))
    args = parser.parse_args(argv)
    return args.handler(args)


if __name__ == "__main__":
    sys.exit(main())
