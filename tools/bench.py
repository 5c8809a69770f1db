"""Benchmark the scrubber and the pipeline: ``python -m tools.bench`` (or ``make bench``).

Generates a workload with ``analytics_pipeline.sample_data`` (resumes and job
descriptions of 300-800 words, tailoring chains that repeat the resume text across
upload, tailor and refine events, UI interactions) and prints, measured in the
same run:

1. stock Presidio, one text at a time (``AnalyzerEngine.analyze`` + ``AnonymizerEngine.anonymize``);
2. ``PiiScrubber.scrub_batch`` on the same texts, with one and with two spaCy processes;
3. the spaCy model alone (``nlp.pipe``) on the same texts: NER only (the floor), and the full model;
4. end-to-end materialization of day partitions through Dagster (the job's own executor, one
   process per run; ``duckdb_writer`` pool from ``data/dagster_home/dagster.yaml``): events/s and peak RSS, for
   one large partition, for a 1,000,000-event partition (memory), and for two partitions
   run one after the other versus in parallel;

and checks that (2) removes at least as much PII as (1) on the labeled evaluation sets.
Throughput on a shared machine is noisy: (1)-(3) are therefore measured in interleaved
rounds over the same texts, and only their ratios are meant to be compared.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from tools.evaluate import PROJECT_ROOT, SHARED_SET_PATH

INSTANCE_CONFIG = PROJECT_ROOT / "data" / "dagster_home" / "dagster.yaml"
TEXT_FIELDS = ("resume_text", "job_description", "tailored_text")
BENCH_DAYS = ("2026-11-02", "2026-11-03", "2026-11-04", "2026-11-05")
# Resumes ~430, job descriptions ~340, tailored texts ~445 words.
TEXT_SCALE = 10


# --- workload ---------------------------------------------------------------------------------


def session_lines(seed: int, text_scale: int, ui_scale: int, day: date, users: int = 2000) -> Iterator[str]:
    """An endless stream of raw event lines for ``day``, session after session (deterministic)."""
    from analytics_pipeline.sample_data import SampleGenerator

    generator = SampleGenerator(seed=seed, users=users, text_scale=text_scale, ui_scale=ui_scale)
    while True:
        yield from generator.day_lines(day, sessions=50, malformed_share=0.01)


def write_day(raw_dir: Path, day: str, lines: Iterator[str], events: int) -> int:
    """Write ``events`` lines from ``lines`` as the day's raw file; returns the count written."""
    target = Path(raw_dir) / day
    target.mkdir(parents=True, exist_ok=True)
    with (target / "events-bench.jsonl").open("w", encoding="utf-8") as handle:
        for _, line in zip(range(events), lines):
            handle.write(line + "\n")
    return events


def replayed(lines: Sequence[str]) -> Iterator[str]:
    """The same events over and over, each with a fresh event ID (so none is a duplicate).

    Used for the memory run: volume without a proportional NER cost.
    """
    import uuid

    while True:
        for line in lines:
            try:
                event = json.loads(line)
            except json.JSONDecodeError:
                yield line  # malformed lines stay malformed
                continue
            if isinstance(event, dict) and "event_id" in event:
                event["event_id"] = str(uuid.uuid4())
            yield json.dumps(event)


def workload_texts(lines: Iterator[str], count: int) -> list[str]:
    """The free texts of the first resume events, in event order, repeats included (as the pipeline sees them)."""
    texts: list[str] = []
    for line in lines:
        try:
            event = json.loads(line)
        except json.JSONDecodeError:
            continue
        texts += [event[name] for name in TEXT_FIELDS if isinstance(event, dict) and event.get(name)]
        if len(texts) >= count:
            return texts[:count]
    raise AssertionError("unreachable: the line stream is endless")


# --- text throughput (1)-(3) ------------------------------------------------------------------


@dataclass
class Timed:
    name: str
    run: Callable[[list[str]], object]
    seconds: float = 0.0
    documents: int = 0

    @property
    def docs_per_second(self) -> float:
        return self.documents / self.seconds if self.seconds else 0.0


def time_interleaved(contenders: list[Timed], texts: list[str], rounds: int) -> None:
    """Each contender processes the same texts, slice by slice, in turn, so load changes hit all alike."""
    size = -(-len(texts) // rounds)
    for start in range(0, len(texts), size):
        part = texts[start : start + size]
        for contender in contenders:
            began = time.perf_counter()
            contender.run(part)
            contender.seconds += time.perf_counter() - began
            contender.documents += len(part)


def text_benchmarks(texts: list[str]) -> list[Timed]:
    from analytics_pipeline.privacy.scrubber import DEFAULT_MODEL, STOCK_MODEL, VECTORS_MODEL, PiiScrubber, load_model
    from tools.evaluate import stock_presidio_scrub_batch

    single = PiiScrubber()
    dual = PiiScrubber(n_process=2)
    full_model = load_model(VECTORS_MODEL)  # en_core_web_md, all components: the previous scrubber's model
    ner_only = load_model(DEFAULT_MODEL)  # the detector is tok2vec + ner only: all of it is the floor

    def scrub_with(scrubber: PiiScrubber) -> Callable[[list[str]], object]:
        def run(part: list[str]) -> object:
            scrubber.clear_cache()  # every contender starts each round cold: no reuse across rounds
            return scrubber.scrub_batch(part)

        return run

    contenders = [
        Timed("(1) stock Presidio, one text at a time", stock_presidio_scrub_batch(STOCK_MODEL)),
        Timed("(2) PiiScrubber.scrub_batch, 1 process", scrub_with(single)),
        Timed("(2b) PiiScrubber.scrub_batch, n_process=2", scrub_with(dual)),
        Timed("(3) spaCy nlp.pipe, NER only (floor)", lambda part: list(ner_only.pipe(part, batch_size=32))),
        Timed(
            "(3b) spaCy nlp.pipe, en_core_web_md full pipeline", lambda part: list(full_model.pipe(part, batch_size=32))
        ),
    ]
    warm_up = texts[:4]
    for contender in contenders:
        contender.run(warm_up)
    time_interleaved(contenders, texts, rounds=4)
    return contenders


# --- recall check -------------------------------------------------------------------------------


@dataclass
class RecallComparison:
    set_name: str
    documents: int
    recalls: dict[str, tuple[float, float]] = field(default_factory=dict)  # type -> (stock, project)

    @property
    def worse_types(self) -> list[str]:
        return [t for t, (stock, project) in self.recalls.items() if project < stock]


def recall_check(shared_set: Path | None) -> list[RecallComparison]:
    from analytics_pipeline.privacy.scrubber import STOCK_MODEL, PiiScrubber
    from tools.eval_set import EVAL_SET_PATH, load_jsonl
    from tools.evaluate import (
        evaluate_scrubber,
        load_presidio_research_set,
        stock_presidio_scrub_batch,
    )

    sets = {"committed evaluation set": load_jsonl(EVAL_SET_PATH)}
    if shared_set and shared_set.exists():
        sets["presidio-research synth_dataset_v2"] = load_presidio_research_set(shared_set)
    stock, project = stock_presidio_scrub_batch(STOCK_MODEL), PiiScrubber()
    comparisons = []
    for name, docs in sets.items():
        stock_report, project_report = evaluate_scrubber(stock, docs), evaluate_scrubber(project.scrub_batch, docs)
        comparison = RecallComparison(name, len(docs))
        for entity_type, score in sorted(project_report.per_type.items()):
            if score.labeled:
                comparison.recalls[entity_type] = (stock_report.score(entity_type).recall, score.recall)
        comparisons.append(comparison)
    return comparisons


# --- end-to-end (4) -----------------------------------------------------------------------------


def daily_events_job():
    """The pipeline's daily job, importable so ``dg.execute_job`` can reconstruct it (it needs a reconstructable job)."""
    from analytics_pipeline.definitions import defs

    return defs().resolve_job_def("daily_events_job")


def materialize(days: list[str], n_process: int) -> None:
    """Materialize ``days`` one after another, one run each, as the schedule or a backfill would."""
    import dagster as dg

    run_config = {
        "resources": {"scrubber": {"config": {"n_process": n_process}}},
        "loggers": {"console": {"config": {"log_level": "WARNING"}}},
    }
    from analytics_pipeline.defs.shared import register_days

    with dg.DagsterInstance.get() as instance:
        register_days(instance, days)
        for day in days:
            result = dg.execute_job(
                dg.reconstructable(daily_events_job),
                instance=instance,
                tags={"dagster/partition": day},
                run_config=run_config,
            )
            if not result.success:
                raise RuntimeError(f"the run for {day} failed (run {result.run_id})")


class PeakMemory:
    """Samples the resident memory of a process tree: the largest single process and the largest total."""

    def __init__(self) -> None:
        self.process_mib = 0.0
        self.tree_mib = 0.0

    def sample(self, pids: list[int]) -> None:
        import psutil

        sizes = []
        for pid in pids:
            try:
                root = psutil.Process(pid)
                tree = [root, *root.children(recursive=True)]
            except psutil.NoSuchProcess:
                continue
            for process in tree:
                try:
                    sizes.append(process.memory_info().rss / 2**20)
                except psutil.NoSuchProcess:
                    pass
        if sizes:
            self.process_mib = max(self.process_mib, max(sizes))
            self.tree_mib = max(self.tree_mib, sum(sizes))


@dataclass
class Workspace:
    """Raw dir, staging dir, DuckDB file and Dagster instance (with the project's pool limits) under one root."""

    root: Path
    salt: str = field(default_factory=lambda: secrets.token_hex(32))

    def __post_init__(self) -> None:
        home = self.root / "dagster_home"
        home.mkdir(parents=True, exist_ok=True)
        if not INSTANCE_CONFIG.exists():
            raise FileNotFoundError(f"{INSTANCE_CONFIG} (the instance config with the pool limit) is missing")
        shutil.copy(INSTANCE_CONFIG, home / "dagster.yaml")
        import dagster as dg

        # Create the instance's storage once, here: workers starting together would race to create it.
        dg.DagsterInstance.from_config(str(home)).dispose()

    @property
    def raw_dir(self) -> Path:
        return self.root / "raw"

    def env(self) -> dict[str, str]:
        return {
            **os.environ,
            "DAGSTER_HOME": str(self.root / "dagster_home"),
            "ANALYTICS_SALT": self.salt,
            "ANALYTICS_RAW_DIR": str(self.raw_dir),
            "ANALYTICS_STAGING_DIR": str(self.root / "staging"),
            "ANALYTICS_DUCKDB_PATH": str(self.root / "warehouse.duckdb"),
            # The workers run in the scratch folder; `tools` is found from the project root.
            "PYTHONPATH": str(PROJECT_ROOT),
        }

    def log(self, days: list[str]) -> Path:
        return self.root / f"worker-{days[0]}.log"

    def start(self, days: list[str], n_process: int = 1) -> subprocess.Popen:
        """A worker process materializing ``days``; its Dagster logs go to ``log(days)``."""
        command = [
            sys.executable,
            "-m",
            "tools.bench",
            "materialize",
            *days,
            "--n-process",
            str(n_process),
        ]
        with self.log(days).open("w") as log:
            return subprocess.Popen(command, env=self.env(), cwd=self.root, stdout=log, stderr=subprocess.STDOUT)

    def loaded_events(self) -> int:
        from analytics_pipeline.warehouse import connect

        with connect(self.root / "warehouse.duckdb", read_only=True) as conn:
            return conn.execute(
                "SELECT (SELECT count(*) FROM analytics.resume_events) + (SELECT count(*) FROM analytics.interactions)"
                " + (SELECT count(*) FROM analytics.quarantine)"
            ).fetchone()[0]


@dataclass
class RunResult:
    name: str
    events: int
    seconds: float
    peak_rss_mib: float  # largest single process (the scrubbing step)
    peak_tree_mib: float  # all processes of the run(s) together

    @property
    def events_per_second(self) -> float:
        return self.events / self.seconds


def run_partitions(root: Path, name: str, days_lines: dict[str, int], parallel: bool, n_process: int = 1) -> RunResult:
    """Materialize the already-written days of ``root`` sequentially in one worker, or one worker per day at once."""
    workspace = Workspace(root)
    days = list(days_lines)
    memory = PeakMemory()
    began = time.perf_counter()
    groups = [[day] for day in days] if parallel else [days]
    workers = [workspace.start(group, n_process) for group in groups]
    while any(worker.poll() is None for worker in workers):
        memory.sample([worker.pid for worker in workers])
        time.sleep(0.2)
    seconds = time.perf_counter() - began
    for group, worker in zip(groups, workers):
        if worker.returncode:
            tail = workspace.log(group).read_text(errors="replace").splitlines()[-20:]
            raise RuntimeError(f"{name}: the worker for {group} failed:\n" + "\n".join(tail))
    events = sum(days_lines.values())
    if workspace.loaded_events() != events:
        raise RuntimeError(f"{name}: {events} lines written but {workspace.loaded_events()} rows loaded")
    return RunResult(name, events, seconds, memory.process_mib, memory.tree_mib)


# --- report ---------------------------------------------------------------------------------------


def format_report(texts: list[str], timed: list[Timed], runs: list[RunResult], recalls: list[RecallComparison]) -> str:
    by_name = {t.name[: t.name.index(")") + 1]: t for t in timed}
    stock, floor = by_name["(1)"].docs_per_second, by_name["(3)"].docs_per_second
    words = sum(len(t.split()) for t in texts) / len(texts)
    lines = [
        f"Texts: {len(texts)} free texts of consecutive resume events ({len(set(texts))} distinct; "
        f"{words:.0f} words on average); docs/s counts every text.",
        "",
        "| measurement | docs/s | vs (1) stock | vs (3) NER floor |",
        "|---|---|---|---|",
    ]
    for t in timed:
        lines.append(
            f"| {t.name} | {t.docs_per_second:.1f} | {t.docs_per_second / stock:.2f}x | {t.docs_per_second / floor:.2f}x |"
        )
    if runs:
        lines += [
            "",
            "| end-to-end (4) | events | seconds | events/s | peak RSS, largest process | peak RSS, all processes |",
            "|---|---|---|---|---|---|",
        ]
        for run in runs:
            lines.append(
                f"| {run.name} | {run.events:,} | {run.seconds:.0f} | {run.events_per_second:,.0f} "
                f"| {run.peak_rss_mib:,.0f} MiB | {run.peak_tree_mib:,.0f} MiB |"
            )
        sequential = next((r for r in runs if r.name.startswith("2 partitions, one after")), None)
        parallel = next((r for r in runs if r.name.startswith("2 partitions in parallel")), None)
        if sequential and parallel:
            lines += ["", f"Partition-parallel speed-up: {sequential.seconds / parallel.seconds:.2f}x"]
    for comparison in recalls:
        lines += [
            "",
            f"Recall on the {comparison.set_name} ({comparison.documents} documents): stock (1) -> PiiScrubber (2)",
            "",
            "| type | stock | PiiScrubber |",
            "|---|---|---|",
        ]
        lines += [f"| {t} | {s:.3f} | {p:.3f} |" for t, (s, p) in comparison.recalls.items()]
        verdict = (
            "equal or better on every type"
            if not comparison.worse_types
            else ("LOWER than stock on " + ", ".join(comparison.worse_types))
        )
        lines += ["", f"(2) recall vs (1): {verdict}"]
    return "\n".join(lines)


def run_benchmark(args: argparse.Namespace) -> str:
    load_before = os.getloadavg()[0]
    day = date.fromisoformat(BENCH_DAYS[0])
    texts = workload_texts(session_lines(args.seed, TEXT_SCALE, args.ui_scale, day), args.docs)
    print(f"(1)-(3): {len(texts)} texts ...", file=sys.stderr, flush=True)
    timed = text_benchmarks(texts)
    runs: list[RunResult] = []
    if args.events:
        with tempfile.TemporaryDirectory(prefix="analytics-bench-") as scratch:
            runs += end_to_end_runs(Path(scratch), args)
    recalls = recall_check(args.shared_set) if not args.skip_recall else []
    machine = f"{os.cpu_count()} CPUs; 1-minute load average {load_before:.1f} at the start, {os.getloadavg()[0]:.1f} at the end."
    return machine + "\n\n" + format_report(texts, timed, runs, recalls)


def end_to_end_runs(scratch: Path, args: argparse.Namespace) -> list[RunResult]:
    runs = []
    print(f"(4): one partition of {args.events:,} events ...", file=sys.stderr, flush=True)
    root = scratch / "large"
    day = BENCH_DAYS[0]
    lines = session_lines(args.seed, TEXT_SCALE, args.ui_scale, date.fromisoformat(day))
    events = write_day(Workspace(root).raw_dir, day, lines, args.events)
    runs.append(run_partitions(root, f"1 partition, n_process={args.n_process}", {day: events}, False, args.n_process))
    shutil.rmtree(root)

    if args.memory_events:
        print(f"(4) memory: one partition of {args.memory_events:,} events ...", file=sys.stderr, flush=True)
        root = scratch / "memory"
        pool = list(
            zip(
                range(args.memory_pool),
                session_lines(args.seed + 1, TEXT_SCALE, args.ui_scale, date.fromisoformat(day)),
            )
        )
        events = write_day(Workspace(root).raw_dir, day, replayed([line for _, line in pool]), args.memory_events)
        runs.append(
            run_partitions(
                root,
                f"1 partition replaying {args.memory_pool:,} distinct events (memory)",
                {day: events},
                False,
            )
        )
        shutil.rmtree(root)

    if args.parallel_events:
        print(f"(4) parallel: 2 partitions of {args.parallel_events:,} events ...", file=sys.stderr, flush=True)
        days = BENCH_DAYS[1:3]
        for parallel in (False, True):
            root = scratch / f"parallel-{parallel}"
            written = {
                d: write_day(
                    Workspace(root).raw_dir,
                    d,
                    session_lines(args.seed + 2 + i, TEXT_SCALE, args.ui_scale, date.fromisoformat(d)),
                    args.parallel_events,
                )
                for i, d in enumerate(days)
            }
            name = "2 partitions in parallel (2 runs)" if parallel else "2 partitions, one after the other (1 run each)"
            runs.append(run_partitions(root, name, written, parallel))
            shutil.rmtree(root)
    return runs


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.bench", description=__doc__.split("\n\n")[0])
    parser.add_argument("--docs", type=int, default=240, help="texts for (1)-(3)")
    parser.add_argument("--events", type=int, default=100_000, help="events in the end-to-end partition (0: skip (4))")
    parser.add_argument("--memory-events", type=int, default=1_000_000, help="events in the memory run (0: skip)")
    parser.add_argument("--memory-pool", type=int, default=20_000, help="distinct events the memory run replays")
    parser.add_argument(
        "--parallel-events", type=int, default=25_000, help="events per partition in the parallel run (0: skip)"
    )
    parser.add_argument("--ui-scale", type=int, default=25, help="UI interactions per session, x4 on average")
    parser.add_argument("--n-process", type=int, default=1, help="spaCy processes in the large partition run")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--shared-set",
        type=Path,
        default=SHARED_SET_PATH,
        help="presidio-research synth_dataset_v2.json: the recall check uses it too if present",
    )
    parser.add_argument("--skip-recall", action="store_true", help="skip the recall check")
    if argv is None:
        argv = sys.argv[1:]
    if argv[:1] == ["materialize"]:  # internal: one worker of (4), run by the benchmark itself
        worker = argparse.ArgumentParser(prog="python -m tools.bench materialize")
        worker.add_argument("days", nargs="+")
        worker.add_argument("--n-process", type=int, default=1)
        worker_args = worker.parse_args(argv[1:])
        materialize(worker_args.days, worker_args.n_process)
        return 0
    print(run_benchmark(parser.parse_args(argv)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
