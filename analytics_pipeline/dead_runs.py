"""Runs whose process is gone are ended, and their pool slots freed, so no later run waits for them.

A run killed with ``kill -9`` (the run process alone, or the whole ``make run`` with its webserver and
code server) stays STARTED in the instance, and a pool slot its step had claimed stays claimed: every
later step of the ``duckdb_writer`` pool waits for it, for ever. Dagster's daemon frees the slots of runs
that have *ended* (``run_monitoring.free_slots_after_run_end_seconds``), but cannot tell that a local run
process died (the default run launcher has no health check), and ``make run`` has no daemon anyway.

On an instance whose runs are processes of this machine (the default run launcher: ``make run``, ``make
dev``), a started run is alive while its process (the pid of its RUN_START event) runs; a run still
starting (or canceled before it started) is given ``START_TIMEOUT_SECONDS``. ``end_dead_runs`` marks a dead run failed (a canceling one canceled),
records why on the run, and frees its slots; it also frees the slots still held by runs that ended.
"""

from __future__ import annotations

import time

import dagster as dg
import psutil

IN_PROGRESS = (dg.DagsterRunStatus.STARTING, dg.DagsterRunStatus.STARTED, dg.DagsterRunStatus.CANCELING)
# A run still STARTING (its process not yet running the job) this long after it was launched has no
# process that will ever start it (Dagster's run monitoring uses the same default).
START_TIMEOUT_SECONDS = 180


def _run_process(instance: dg.DagsterInstance, run_id: str) -> tuple[int, float] | None:
    """The pid of the run's process and when it started the run (its latest RUN_START event)."""
    records = instance.get_records_for_run(
        run_id, of_type=dg.DagsterEventType.RUN_START, limit=1, ascending=False
    ).records
    if records and records[0].event_log_entry.dagster_event.pid is not None:
        return records[0].event_log_entry.dagster_event.pid, records[0].event_log_entry.timestamp
    return None


def _is_running(pid: int, since: float) -> bool:
    """``pid`` runs and is the process that started before ``since`` (not a later one reusing its number)."""
    try:
        process = psutil.Process(pid)
        return process.status() != psutil.STATUS_ZOMBIE and process.create_time() <= since + 1
    except psutil.NoSuchProcess:
        return False


def why_dead(instance: dg.DagsterInstance, record) -> str | None:
    """Why this in-progress run can never end by itself, or None while it may."""
    run = record.dagster_run
    announced = _run_process(instance, run.run_id)
    if announced is None:
        # STARTING, or CANCELING before its process started (asked to stop when its code server was gone):
        # no process will ever run it. Counted from its last status change (a queued run starts late).
        since = max(record.create_timestamp.timestamp(), record.update_timestamp.timestamp())
        if time.time() - since > START_TIMEOUT_SECONDS:
            return f"its process did not start within {START_TIMEOUT_SECONDS} s"
        return None
    pid, since = announced
    return None if _is_running(pid, since) else f"its process (pid {pid}) is gone (killed or crashed)"


def end_dead_runs(instance: dg.DagsterInstance) -> list[str]:
    """End this machine's runs whose process is gone, free every slot an ended run holds; what was done."""
    done = []
    if isinstance(instance.run_launcher, dg.DefaultRunLauncher):
        for record in instance.get_run_records(dg.RunsFilter(statuses=list(IN_PROGRESS))):
            run = record.dagster_run
            reason = why_dead(instance, record)
            if reason is None:
                continue
            instance.report_engine_event(f"analytics-pipeline: the run is ended because {reason}", run)
            if run.status == dg.DagsterRunStatus.CANCELING:
                instance.report_run_canceled(run)
            else:
                instance.report_run_failed(run)
            done.append(f"run {run.run_id} ({run.job_name}) ended: {reason}")
    storage = instance.event_log_storage
    holders = storage.get_concurrency_run_ids() if storage.supports_global_concurrency_limits else set()
    if holders:
        for record in instance.get_run_records(dg.RunsFilter(run_ids=list(holders))):
            if record.dagster_run.is_finished:
                storage.free_concurrency_slots_for_run(record.dagster_run.run_id)
                done.append(f"pool slots of ended run {record.dagster_run.run_id} freed")
    return done
