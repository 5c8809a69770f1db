"""Analytics hooks: contract-valid events, ValueError on wrong arguments, never a transport error."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from analytics_pipeline.contract import parse_event_line
from analytics_pipeline.ingest import analytics_hooks as hooks
from analytics_pipeline.ingest.client import AnalyticsClient, HttpTransport, LocalTransport
from analytics_pipeline.raw_log import available_days, iter_raw_lines

SECRET = "jane.doe@example.com"


@pytest.fixture
def local_client(tmp_path):
    client = AnalyticsClient(LocalTransport(tmp_path), sync=True)
    previous = hooks.set_client(client)
    yield client
    hooks.set_client(previous)
    client.shutdown()


def stored_events(raw_dir):
    return {
        str(event.event_id): event
        for day in available_days(raw_dir)
        for event in (parse_event_line(line.content) for line in iter_raw_lines(raw_dir, day))
    }


def test_every_hook_logs_a_contract_valid_event(local_client, tmp_path):
    before = datetime.now(UTC)
    ids = {
        "resume.upload": hooks.log_resume_upload_event(user_id="u1", resume_id="r1", resume_text="Synthetic resume"),
        "resume.tailor": hooks.log_resume_tailoring_event(
            user_id="u1",
            resume_id="r1",
            is_refinement=False,
            resume_text="Synthetic resume",
            job_description="Synthetic job",
            tailored_text="Tailored",
            ats_score=81.5,
            jd_score=70,
            tailoring_mode="concise",
            version=2,
        ),
        "resume.refine": hooks.log_resume_tailoring_event(
            user_id="u1", resume_id="r1", is_refinement=True, tailored_text="Refined", version=3
        ),
        "resume.copy": hooks.log_resume_copy_event(user_id="u1", resume_id="r1", version=3),
        "resume.download": hooks.log_resume_download_event(user_id="u1", resume_id="r1", version=3),
        "interaction": hooks.log_interaction_event(user_id="u1", action="hover", element="score-badge", page="editor"),
    }
    stored = stored_events(tmp_path)
    assert set(stored) == set(ids.values())
    for event_type, event_id in ids.items():
        event = stored[event_id]
        assert event.event_type == event_type
        assert uuid.UUID(event_id).version == 4
        assert event.occurred_at.utcoffset() == timedelta(0)
        assert before <= event.occurred_at <= event.received_at
    tailored = stored[ids["resume.tailor"]]
    assert (tailored.ats_score, tailored.jd_score, tailored.version) == (81.5, 70, 2)
    assert stored[ids["resume.refine"]].is_refinement is True
    assert stored[ids["interaction"]].page == "/editor"  # the tracking plan's route
    assert local_client.stats().sent == 6


@pytest.mark.parametrize(
    ("hook", "arguments", "field"),
    [
        (hooks.log_interaction_event, {"user_id": None, "action": "click", "element": "b"}, "user_id"),
        (hooks.log_interaction_event, {"user_id": "", "action": "click", "element": "b"}, "user_id"),
        (hooks.log_interaction_event, {"user_id": "u", "action": SECRET, "element": "b"}, "action"),
        (
            hooks.log_resume_tailoring_event,
            {"user_id": "u", "resume_id": "r", "is_refinement": False, "ats_score": 100.5},
            "ats_score",
        ),
        (
            hooks.log_resume_tailoring_event,
            {"user_id": "u", "resume_id": "r", "is_refinement": False, "jd_score": -1},
            "jd_score",
        ),
        (hooks.log_resume_copy_event, {"user_id": "u", "resume_id": "r", "version": 0}, "version"),
    ],
)
def test_wrong_arguments_raise_value_error_without_the_value(local_client, hook, arguments, field):
    with pytest.raises(ValueError, match=field) as raised:
        hook(**arguments)
    assert SECRET not in str(raised.value)
    assert local_client.stats().sent == 0


def test_transport_problems_never_raise(tmp_path):
    # Nothing listens on port 1 of loopback.
    unreachable = AnalyticsClient(HttpTransport("http://127.0.0.1:1", "k"), sync=True, max_retries=1, backoff_base=0.01)
    previous = hooks.set_client(unreachable)
    try:
        event_id = hooks.log_interaction_event(user_id="u", action="click", element="b")
    finally:
        hooks.set_client(previous)
        unreachable.shutdown()
    assert uuid.UUID(event_id)
    assert unreachable.stats().dropped == 1


def test_default_client_comes_from_the_environment(tmp_path, monkeypatch):
    monkeypatch.delenv("ANALYTICS_ENDPOINT", raising=False)
    monkeypatch.setenv("ANALYTICS_RAW_DIR", str(tmp_path))
    previous = hooks.set_client(None)
    try:
        event_id = hooks.log_interaction_event(user_id="u", action="view", element="page")
        client = hooks.get_client()
        assert client.flush(timeout=10)
    finally:
        hooks.set_client(previous)
        client.shutdown()
    assert set(stored_events(tmp_path)) == {event_id}
