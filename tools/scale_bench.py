"""Scale-out benchmark: ``python -m tools.scale_bench`` (or ``make bench-scale``).

Generates one day of events with the sample data's mix (default 50,000), then materializes it
through ``daily_events_job`` twice, each in its own workspace (raw copy, staging, DuckDB file,
Dagster instance with the project's pool limits):

1. unsharded, in one process (in-process executor, one shard): the baseline;
2. sharded (about ``--shard-events`` lines per shard) on a real Celery cluster on this machine:
   a Redis broker and ``--workers`` worker processes (tools/celery_cluster.py).

Both runs start warm: the baseline process and every Celery worker load the NER model before
the run starts (a long-lived worker pays it once, not per day). Run durations are Dagster's own
(run start to run end); per-step times come from the runs' step stats. The two workspaces'
tables are then compared row for row, and the last line is::

    SCALE events=<n> shards=<k> workers=<w> speedup=<x> identical=<true|false>
"""

from __future__ import annotations

import argparse
import json
import secrets
import shutil
import subprocess
import sys
import tempfile
from collections import defaultdict
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from tools.bench import Workspace, session_lines, write_day

DAY = "2026-11-02"
DEFAULT_EVENTS = 50_000


def sample_mix_lines(day: str):
    """The sample data's mix (``make run``'s texts and interactions), endless and deterministic."""
    return session_lines(seed=16, text_scale=1, ui_scale=1, day=date.fromisoformat(day))


def step_group(step_key: str) -> str:
    """``staging__scrubbed_events.scrub_shard[shard_001_of_010]`` -> ``scrub_shard``; checks grouped."""
    name = step_key.split("[")[0].rsplit(".", 1)[-1]
    known = ("plan_scrub_shards", "scrub_shard", "merge_scrubbed_shards", "event_tables", "analytics__users")
    return name if name in known else "checks"


@dataclass
class RunTiming:
    name: str
    seconds: float  # the run, start to end
    steps: dict[str, tuple[int, float, float]]  # group -> (steps, summed seconds, longest step)
    shards: int


def run_timing(name: str, home: Path) -> RunTiming:
    import dagster as dg

    with dg.DagsterInstance.from_config(str(home)) as instance:
        run = instance.get_runs(limit=1)[0]  # the latest
        stats = instance.get_run_stats(run.run_id)
        if run.status != dg.DagsterRunStatus.SUCCESS:
            raise RuntimeError(f"{name}: run {run.run_id} ended {run.status.value}")
        grouped: dict[str, list[float]] = defaultdict(list)
        for step in instance.get_run_step_stats(run.run_id):
            grouped[step_group(step.step_key)].append((step.end_time or 0) - (step.start_time or 0))
    steps = {group: (len(times), sum(times), max(times)) for group, times in grouped.items()}
    return RunTiming(name, stats.end_time - stats.start_time, steps, steps["scrub_shard"][0])


def code_location_job(name: str):
    """Job ``name`` of the code location (``workspace.yaml``) as a reconstructable job: the code pointer of the
    runs the UI launches, and the only one Celery workers run steps of."""
    from dagster._core.code_pointer import ModuleCodePointer
    from dagster._core.definitions.reconstruct import ReconstructableRepository

    from analytics_pipeline.executors import CODE_LOCATION_ATTRIBUTE, CODE_LOCATION_MODULE

    pointer = ModuleCodePointer(CODE_LOCATION_MODULE, CODE_LOCATION_ATTRIBUTE)
    return ReconstructableRepository(pointer).get_reconstructable_job(name)


def materialize(day: str, warm: bool) -> None:
    """In a workspace's environment: run the day once (the executor comes from the env), the model loaded first if ``warm``."""
    import dagster as dg

    from analytics_pipeline.defs.resources import ScrubberResource
    from analytics_pipeline.defs.shared import register_days

    if warm:
        ScrubberResource().get_scrubber()  # like a long-lived worker
    with dg.DagsterInstance.get() as instance:
        register_days(instance, [day])
        # The code location's job, as the UI launches it: Celery workers run no other code.
        result = dg.execute_job(
            code_location_job("daily_events_job"),
            instance=instance,
            tags={"dagster/partition": day},
            run_config={"loggers": {"console": {"config": {"log_level": "WARNING"}}}},
        )
        if not result.success:
            raise SystemExit(f"the run for {day} failed (run {result.run_id})")


def start_run(workspace: Workspace, env: dict[str, str], warm: bool = True) -> subprocess.Popen:
    """The day's run in its own process with the workspace's settings plus ``env``; output to ``run.log``."""
    with (workspace.root / "run.log").open("w") as handle:
        return subprocess.Popen(
            [sys.executable, "-m", "tools.scale_bench", "materialize", DAY, *([] if warm else ["--cold"])],
            env={**workspace.env(), **env},
            cwd=workspace.root,
            stdout=handle,
            stderr=subprocess.STDOUT,
        )


def run_in(workspace: Workspace, env: dict[str, str], name: str, warm: bool = True) -> RunTiming:
    """Run the day (``start_run``) and wait for it; its timing from the instance."""
    if start_run(workspace, env, warm).wait():
        tail = "\n".join((workspace.root / "run.log").read_text(errors="replace").splitlines()[-30:])
        raise RuntimeError(f"{name}: the run failed:\n{tail}")
    return run_timing(name, workspace.root / "dagster_home")


def table_rows(database: Path) -> dict[str, list[tuple]]:
    from analytics_pipeline.schema import ANALYTICS_TABLES
    from analytics_pipeline.warehouse import connect

    with connect(database, read_only=True) as conn:
        return {
            table.name: sorted(conn.execute(f"SELECT * FROM {table.qualified_name}").fetchall(), key=repr)
            for table in ANALYTICS_TABLES
        }


def format_table(runs: list[RunTiming]) -> str:
    groups = ["plan_scrub_shards", "scrub_shard", "merge_scrubbed_shards", "event_tables", "analytics__users", "checks"]
    lines = [
        "| step | " + " | ".join(run.name for run in runs) + " |",
        "|---|" + "---:|" * len(runs),
    ]
    for group in groups:
        cells = []
        for run in runs:
            count, total, longest = run.steps.get(group, (0, 0.0, 0.0))
            cells.append(f"{total:.1f} s" if count == 1 else f"{count} steps, {total:.1f} s (longest {longest:.1f} s)")
        lines.append(f"| {group} | " + " | ".join(cells) + " |")
    lines.append("| **run, start to end** | " + " | ".join(f"**{run.seconds:.1f} s**" for run in runs) + " |")
    return "\n".join(lines)


def benchmark(args: argparse.Namespace, scratch: Path) -> str:
    from tools.celery_cluster import local_celery_cluster

    source = scratch / "source"
    write_day(source, DAY, sample_mix_lines(DAY), args.events)
    workspaces = {}
    salt = secrets.token_hex(32)  # one salt for both, so that their pseudonyms can be compared
    for name in ("unsharded", "sharded"):
        workspaces[name] = Workspace(scratch / name, salt)
        shutil.copytree(source, workspaces[name].raw_dir)
    unsharded = run_in(
        workspaces["unsharded"],
        {"ANALYTICS_EXECUTOR": "in_process", "ANALYTICS_MAX_SHARDS": "1"},
        "1 process, unsharded",
    )
    sharded_env = {"ANALYTICS_EXECUTOR": "celery", "ANALYTICS_SHARD_EVENTS": str(args.shard_events)}
    sharded_workspace = workspaces["sharded"]
    with local_celery_cluster(args.workers, {**sharded_workspace.env(), **sharded_env}, scratch / "celery") as broker:
        sharded = run_in(
            sharded_workspace,
            {**sharded_env, "ANALYTICS_CELERY_BROKER": broker},
            f"{args.workers} Celery workers, sharded",
        )
    identical = table_rows(workspaces["unsharded"].root / "warehouse.duckdb") == table_rows(
        sharded_workspace.root / "warehouse.duckdb"
    )
    speedup = unsharded.seconds / sharded.seconds
    report = [
        f"One day of {args.events} events (sample mix), {sharded.shards} shards of about {args.shard_events} lines.",
        "",
        format_table([unsharded, sharded]),
        "",
        json.dumps({"unsharded_s": round(unsharded.seconds, 1), "sharded_s": round(sharded.seconds, 1)}),
        f"SCALE events={args.events} shards={sharded.shards} workers={args.workers} "
        f"speedup={speedup:.2f} identical={'true' if identical else 'false'}",
    ]
    return "\n".join(report)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command")
    one = sub.add_parser("materialize", help="(internal) run one day in this environment, warm")
    one.add_argument("day")
    one.add_argument("--cold", action="store_true", help="do not load the model before the run")
    parser.add_argument("--events", type=int, default=DEFAULT_EVENTS)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--shard-events", type=int, default=5000, help="target lines per shard of the sharded run")
    parser.add_argument("--keep", type=Path, help="work here and keep it (default: a temporary directory)")
    args = parser.parse_args(argv)
    if args.command == "materialize":
        materialize(args.day, warm=not args.cold)
        return 0
    if args.keep:
        args.keep.mkdir(parents=True, exist_ok=True)
        print(benchmark(args, args.keep))
        return 0
    with tempfile.TemporaryDirectory(prefix="scale-bench-") as scratch:
        print(benchmark(args, Path(scratch)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
