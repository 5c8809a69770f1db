import json
import uuid

import pytest

from analytics_pipeline.contract import (
    InteractionEvent,
    InvalidEvent,
    ResumeEvent,
    event_to_json,
    parse_event,
    parse_event_line,
)

SECRET = "jane.doe@example.com"


def resume_event(**overrides) -> dict:
    event = {
        "event_id": str(uuid.uuid4()),
        "event_type": "resume.tailor",
        "occurred_at": "2026-11-02T10:00:00+01:00",
        "user_id": SECRET,
        "resume_id": "res_1",
        "version": 2,
        "is_refinement": True,
        "resume_text": "text",
        "ats_score": 81.5,
        "jd_score": 70,
        "tailoring_mode": "personalized",
    }
    event.update(overrides)
    return event


def test_valid_resume_event_is_normalised_to_utc_and_unknown_fields_dropped():
    event = parse_event(resume_event(browser_fingerprint="abc"))
    assert isinstance(event, ResumeEvent)
    assert event.occurred_at.isoformat() == "2026-11-02T09:00:00+00:00"
    assert "browser_fingerprint" not in event_to_json(event)
    assert parse_event_line(event_to_json(event)) == event


def test_interaction_event_with_optional_page():
    event = parse_event_line(
        json.dumps(
            {
                "event_id": str(uuid.uuid4()),
                "event_type": "interaction",
                "occurred_at": "2026-11-02T10:00:00Z",
                "user_id": "u1",
                "action": "hover",
                "element": "ats-score-badge",
            }
        )
    )
    assert isinstance(event, InteractionEvent) and event.page is None


def test_interaction_page_keeps_only_the_path():
    event = parse_event(
        {
            "event_id": str(uuid.uuid4()),
            "event_type": "interaction",
            "occurred_at": "2026-11-02T10:00:00Z",
            "user_id": "u1",
            "action": "click",
            "element": "refine-button",
            "page": f"/tailor?email={SECRET}#top",
        }
    )
    assert event.page == "/tailor"


@pytest.mark.parametrize("element", ["Jane Doe", SECRET, "", "x" * 129])
def test_interaction_element_must_be_an_identifier(element):
    with pytest.raises(InvalidEvent) as caught:
        parse_event(
            {
                "event_id": str(uuid.uuid4()),
                "event_type": "interaction",
                "occurred_at": "2026-11-02T10:00:00Z",
                "user_id": "u1",
                "action": "click",
                "element": element,
            }
        )
    assert "element" in caught.value.detail and SECRET not in str(caught.value)


def test_copy_event_needs_no_texts():
    event = parse_event(resume_event(event_type="resume.copy", resume_text=None, ats_score=None))
    assert event.job_description is None and event.ats_score is None


@pytest.mark.parametrize(
    ("line", "code", "field"),
    [
        ('{"event_id": "x", "event_', "invalid_json", None),
        ("[1, 2]", "not_an_object", None),
        ("", "empty_line", None),
        (b"\xff\xfe{}", "invalid_utf8", None),
        (json.dumps(resume_event(event_type="resume.share")), "unknown_event_type", None),
        (json.dumps({k: v for k, v in resume_event().items() if k != "user_id"}), "invalid_field", "user_id"),
        (json.dumps(resume_event(ats_score=140)), "invalid_field", "ats_score"),
        (json.dumps(resume_event(jd_score=-1)), "invalid_field", "jd_score"),
        (json.dumps(resume_event(ats_score="80")), "invalid_field", "ats_score"),
        (json.dumps(resume_event(is_refinement="yes")), "invalid_field", "is_refinement"),
        (json.dumps(resume_event(version=0)), "invalid_field", "version"),
        (json.dumps(resume_event(occurred_at="2026-11-02T10:00:00")), "invalid_field", "occurred_at"),
        (json.dumps(resume_event(event_id="not-a-uuid")), "invalid_field", "event_id"),
        (json.dumps(resume_event(event_type="interaction", action="poke", element="x")), "invalid_field", "action"),
    ],
)
def test_invalid_lines_are_rejected_with_value_free_reasons(line, code, field):
    with pytest.raises(InvalidEvent) as caught:
        parse_event_line(line)
    assert caught.value.code == code
    if field:
        assert field in caught.value.detail
    assert SECRET not in str(caught.value) and "resume.share" not in str(caught.value)
