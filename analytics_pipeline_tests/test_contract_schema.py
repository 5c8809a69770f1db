"""The JSON Schema the browser client validates with: committed, generated from the contract, equal to it."""

from __future__ import annotations

import uuid

import pytest

from analytics_pipeline.contract import InvalidEvent, parse_event
from analytics_pipeline.contract_schema import SCHEMA_PATH, event_json_schema_text
from analytics_pipeline_tests.ingest_helpers import interaction
from analytics_pipeline_tests.js_client import js_validation_errors


def test_committed_schema_matches_the_contract():
    assert SCHEMA_PATH.read_text(encoding="utf-8") == event_json_schema_text(), (
        "clients/js/src/contract.schema.json is stale: run `python -m analytics_pipeline.contract_schema`"
    )


def _resume(**overrides):
    return {
        "event_id": str(uuid.uuid4()),
        "occurred_at": "2026-11-02T10:00:00.123Z",
        "event_type": "resume.tailor",
        "user_id": "synthetic-user",
        "resume_id": "resume-1",
        "version": 2,
        "is_refinement": False,
        "resume_text": "text",
        "ats_score": 81.5,
        "jd_score": 70,
        "tailoring_mode": "personalized",
    } | overrides


def _interaction(**overrides):
    return interaction(page="/tailor", occurred_at="2026-11-02T10:00:00+01:00") | overrides


def _without(event, name):
    return {k: v for k, v in event.items() if k != name}


# What an app could pass: each case is valid or invalid for pydantic, and must be the same for the client.
CASES = [
    _resume(),
    _interaction(),
    _resume(event_type="resume.refine", is_refinement=True, resume_text=None, ats_score=None),
    _resume(unknown_field="ignored"),
    _resume(received_at=None),
    _resume(received_at="2026-11-02T10:00:01Z"),
    *[_without(_resume(), name) for name in ("event_id", "occurred_at", "user_id", "resume_id", "version")],
    _without(_resume(), "is_refinement"),
    *[_without(_interaction(), name) for name in ("event_type", "action", "element")],
    _without(_interaction(), "page"),
    _resume(event_type="resume.delete"),
    _resume(event_type=None),
    _resume(event_type=7),
    "not an object",
    [_resume()],
    None,
    _resume(event_id="not-a-uuid"),
    _resume(event_id=str(uuid.uuid4()).upper()),
    _resume(occurred_at="2026-11-02T10:00:00"),
    _resume(occurred_at="2026-11-02"),
    _resume(occurred_at="2026-13-02T10:00:00Z"),
    _resume(occurred_at="yesterday"),
    _resume(occurred_at=1762077600),
    _resume(user_id=""),
    _resume(user_id="u" * 256),
    _resume(user_id="u" * 257),
    _resume(user_id="😀" * 256),
    _resume(user_id="😀" * 257),
    _resume(user_id=42),
    _resume(version=0),
    _resume(version=1),
    _resume(version="2"),
    _resume(version=2.5),
    _resume(version=True),
    _resume(is_refinement="false"),
    _resume(is_refinement=0),
    _resume(ats_score=0),
    _resume(ats_score=100),
    _resume(ats_score=100.01),
    _resume(ats_score=-0.5),
    _resume(ats_score="85"),
    _resume(ats_score=True),
    _resume(resume_text=""),
    _resume(resume_text="x" * 200_000),
    _resume(resume_text="x" * 200_001),
    _resume(resume_text=["text"]),
    _resume(tailoring_mode=""),
    _resume(tailoring_mode="m" * 129),
    _interaction(action="poke"),
    _interaction(action="Click"),
    _interaction(element="refine button"),
    _interaction(element="jane@example.com"),
    _interaction(element="-button"),
    _interaction(element="nav:main#tailor.button_2"),
    _interaction(element="e" * 128),
    _interaction(element="e" * 129),
    _interaction(element=""),
    _interaction(page=None),
    _interaction(page="/a b"),
    _interaction(page="/ok/path~x-1.html"),
    _interaction(page="/" + "p" * 256),
    _interaction(page=""),
]


def _pydantic_accepts(event) -> bool:
    try:
        parse_event(event)
    except InvalidEvent:
        return False
    return True


def test_the_client_validator_agrees_with_the_contract():
    js = js_validation_errors(CASES)
    disagreements = [
        (index, _pydantic_accepts(event), errors)
        for index, (event, errors) in enumerate(zip(CASES, js, strict=True))
        if _pydantic_accepts(event) != (errors == [])
    ]
    assert disagreements == []
    assert sum(errors == [] for errors in js) >= 15  # both sides accept real events, not only reject


# Fixed values: pytest-xdist's workers must collect the same test ids.
ANY_UUID = uuid.UUID("5b0e6a2c-8f14-4d7a-9c3e-2a61f0b8d947")


@pytest.mark.parametrize("event_id", [ANY_UUID.hex, "{" + str(ANY_UUID) + "}"])
def test_the_client_is_stricter_only_on_uuid_spellings_it_never_produces(event_id):
    # pydantic also reads unhyphenated and braced UUIDs; the client generates crypto.randomUUID() only.
    assert _pydantic_accepts(_resume(event_id=event_id))
    assert js_validation_errors([_resume(event_id=event_id)]) == [["event_id: must be a UUID"]]


def test_client_errors_name_the_rule_not_the_value():
    [errors] = js_validation_errors([_interaction(element="jane@example.com", user_id="")])
    assert errors and not any("jane" in e for e in errors)
