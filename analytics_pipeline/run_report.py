"""What a finished run did, read back from the Dagster instance: failures, check outcomes, output metadata."""

from __future__ import annotations

import json
from dataclasses import dataclass

import dagster as dg

REASON_CHARS = 300


@dataclass(frozen=True)
class CheckOutcome:
    check: str  # asset/key:check_name
    outcome: str  # passed | warned | failed | skipped
    reason: str = ""


def _reason(evaluation) -> str:
    if evaluation.description:
        return evaluation.description
    values = {name: value.value for name, value in evaluation.metadata.items()}
    text = json.dumps(values, default=str)
    return text if len(text) <= REASON_CHARS else text[: REASON_CHARS - 1] + "…"


def check_outcomes(instance: dg.DagsterInstance, run_id: str) -> list[CheckOutcome]:
    """Every check the run planned, in order: passed, warned (WARN failed), failed (ERROR) or skipped."""
    events = instance.all_logs(
        run_id, of_type={dg.DagsterEventType.ASSET_CHECK_EVALUATION_PLANNED, dg.DagsterEventType.ASSET_CHECK_EVALUATION}
    )
    planned, evaluated = [], {}
    for event in events:
        data = event.dagster_event.event_specific_data
        name = f"{data.asset_key.to_user_string()}:{data.check_name}"
        if event.dagster_event.event_type == dg.DagsterEventType.ASSET_CHECK_EVALUATION_PLANNED:
            planned.append(name)
        else:
            evaluated[name] = data
    outcomes = []
    for name in sorted(set(planned) | set(evaluated)):
        evaluation = evaluated.get(name)
        if evaluation is None:
            outcomes.append(CheckOutcome(name, "skipped", "not evaluated (an upstream step failed)"))
        elif evaluation.passed:
            outcomes.append(CheckOutcome(name, "passed"))
        else:
            warned = evaluation.severity == dg.AssetCheckSeverity.WARN
            outcomes.append(CheckOutcome(name, "warned" if warned else "failed", _reason(evaluation)))
    return outcomes


def format_check_outcomes(outcomes: list[CheckOutcome], indent: str = "  ") -> list[str]:
    """One line for the checks that passed, one per check that did not, with its reason."""
    if not outcomes:
        return []
    counts = {kind: sum(o.outcome == kind for o in outcomes) for kind in ("passed", "warned", "failed", "skipped")}
    lines = [indent + "checks: " + ", ".join(f"{n} {kind}" for kind, n in counts.items() if n)]
    passed = [o.check for o in outcomes if o.outcome == "passed"]
    if passed:
        lines.append(f"{indent}  passed: {', '.join(passed)}")
    lines += [f"{indent}  {o.outcome}: {o.check}: {o.reason}" for o in outcomes if o.outcome != "passed"]
    return lines


def failure_messages(instance: dg.DagsterInstance, run_id: str) -> list[str]:
    """Why the run failed: each failed step's error, else the run's own failure message."""
    steps = [
        f"{event.dagster_event.step_key}: {event.dagster_event.step_failure_data.error.message.strip()}"
        for event in instance.all_logs(run_id, of_type=dg.DagsterEventType.STEP_FAILURE)
    ]
    if steps:
        return steps
    # A step failed outside its own process (a lost Celery worker): the run's error names it.
    return [
        f"{event.message} {error.message.strip()}"
        if (error := event.dagster_event.job_failure_data.error)
        else event.message
        for event in instance.all_logs(run_id, of_type=dg.DagsterEventType.RUN_FAILURE)
    ]


def materialization_metadata(instance: dg.DagsterInstance, run_id: str, key: dg.AssetKey) -> list[dict]:
    """The metadata of each materialization of ``key`` in the run."""
    return [
        {name: value.value for name, value in event.asset_materialization.metadata.items()}
        for event in instance.all_logs(run_id, of_type=dg.DagsterEventType.ASSET_MATERIALIZATION)
        if event.asset_materialization.asset_key == key
    ]


def output_metadata(instance: dg.DagsterInstance, run_id: str) -> dict:
    """The metadata of the run's step outputs (erasure_job reports what it deleted there)."""
    metadata = {}
    for event in instance.all_logs(run_id, of_type=dg.DagsterEventType.STEP_OUTPUT):
        metadata.update({name: value.value for name, value in event.dagster_event.step_output_data.metadata.items()})
    return metadata
