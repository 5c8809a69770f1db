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


# Exceptions whose messages are written to carry no event data (PII): this project's own, the operating
# system's (errno, strerror, a path) and DuckDB's file errors (a lock, a full disk, a corrupt file). Other
# messages may quote a value (a DuckDB conversion error quotes it): only their class is printed.
OWN_ERRORS = {
    "DatabaseBusy",
    "ExecutorChoiceError",
    "Failure",
    "ForeignTask",
    "InvalidEvent",
    "LaunchError",
    "SaltError",
    "SaltMismatch",
    "StepLost",
    "StepNeverStarted",
    "StepTimeout",
}
OS_ERRORS = {cls.__name__ for cls in (OSError, *OSError.__subclasses__()) if cls.__module__ == "builtins"}
DUCKDB_FILE_ERRORS = {"IOException", "OutOfMemoryException"}
DUCKDB_CORRUPT_FILE = "Corrupt database file"
ERROR_CHARS = 500


def _without_class(cls_name: str, message: str) -> str:
    """Dagster's messages start with the (qualified) class name: the message alone."""
    message = message.strip()
    head, sep, rest = message.partition(": ")
    return rest.strip() if sep and head.split(".")[-1] == cls_name else message


def error_text(cls_name: str, message: str) -> str:
    """``cls_name: message`` (on one line, truncated) when such messages carry no data, else the class alone."""
    message = _without_class(cls_name, message)
    if not (cls_name in OWN_ERRORS | OS_ERRORS | DUCKDB_FILE_ERRORS or message.startswith(DUCKDB_CORRUPT_FILE)):
        return f"{cls_name} (its message is not shown here, it may quote data: see the step's logs in the UI)"
    message = " ".join(message.split())
    return f"{cls_name}: {message if len(message) <= ERROR_CHARS else message[: ERROR_CHARS - 1] + '…'}"


def describe_error(error) -> str:
    """A step's or run's error for the terminal: Dagster's own message, and the innermost exception it was
    caused by (a lock conflict, a full disk, a corrupt file) rather than Dagster's wrapper alone."""
    cause = error
    while cause.cause is not None:
        cause = cause.cause
    if cause is error:
        return error.message.strip()
    wrapper = (_without_class(error.cls_name, error.message).splitlines() or [error.cls_name])[0]
    return f"{wrapper} {error_text(cause.cls_name, cause.message)}"


def failure_messages(instance: dg.DagsterInstance, run_id: str) -> list[str]:
    """Why the run failed: each failed step's error, else the run's own failure message."""
    steps = [
        f"{event.dagster_event.step_key}: {describe_error(event.dagster_event.step_failure_data.error)}"
        for event in instance.all_logs(run_id, of_type=dg.DagsterEventType.STEP_FAILURE)
    ]
    if steps:
        return steps
    # A step failed outside its own process (a lost Celery worker): the run's error names it.
    return [
        f"{event.message} {describe_error(error)}"
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
