import json
import uuid
from datetime import UTC, datetime

import pytest

from analytics_pipeline import sample_data
from analytics_pipeline.contract import (
    OTHER,
    PLANNED_ELEMENTS,
    PLANNED_PAGES,
    InteractionEvent,
    InvalidEvent,
    ResumeEvent,
    event_to_json,
    page_route,
    parse_event,
    parse_event_line,
)
from analytics_pipeline.tracking_plan import ELEMENTS, ROUTES
from analytics_pipeline_tests.ingest_helpers import interaction

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


def test_python_values_are_json_values_uuids_or_datetimes_never_their_repr():
    """An app that passes bytes or its own object must get an error, not "b'...'" stored as the user's text."""
    event = parse_event(resume_event(event_id=uuid.uuid4(), occurred_at=datetime(2026, 11, 2, 9, tzinfo=UTC)))
    assert event.occurred_at.isoformat() == "2026-11-02T09:00:00+00:00"
    for field, value in [
        ("resume_text", b"Jane Doe"),
        ("user_id", b"u1"),
        ("ats_score", {81.5}),
        ("tailored_text", object()),
    ]:
        with pytest.raises(InvalidEvent) as error:
            parse_event(resume_event(**{field: value}))
        assert error.value.code == "invalid_field" and str(error.value).startswith(f"invalid_field: {field}:")
        assert "Jane" not in str(error.value)
    # An unknown field is ignored, whatever its value.
    assert parse_event(resume_event(attachment=b"%PDF")).resume_text == "text"


def test_interaction_event_with_optional_page():
    event = parse_event_line(json.dumps(interaction(action="hover", element="ats-score-badge")))
    assert isinstance(event, InteractionEvent) and event.page is None


def test_interaction_page_keeps_only_the_path():
    assert parse_event(interaction(page=f"/tailor?email={SECRET}#top")).page == "/tailor"


@pytest.mark.parametrize("element", ["Jane Doe", SECRET, "", "x" * 129])
def test_interaction_element_must_be_an_identifier(element):
    with pytest.raises(InvalidEvent) as caught:
        parse_event(interaction(element=element))
    assert "element" in caught.value.detail and SECRET not in str(caught.value)


# Identifier fields a careless app fills with a person: names and e-mails reshaped into slugs, phone and ID
# numbers cut into short digit groups, fake placeholders and route words. Well-shaped, so the event is kept;
# none of these values may be stored.
PERSONAL_ELEMENTS = [
    "amara.okafor",
    "amara-okafor-mail-example-com",
    "amara_okafor.at.example.net",
    "tel-62-17-44-90-23",
    "id-47-12-93-55-8",
    "user:amaraokafor",
    "amara",
]
PERSONAL_PAGES = [
    "/amara-okafor",
    "/amara",
    "/u/:amara_okafor/profile",
    "/{amara_okafor}/edit",
    "/[amara]/resume",
    "/amara~okafor/x/amara~okafor",
    "/in/amara.okafor",
    "/resume/62-17-44-90-23/share",
    "/editor/amara",
    "https://amara:secret@app.example.com/u/amara.okafor/x",
]


@pytest.mark.parametrize("element", PERSONAL_ELEMENTS)
def test_an_element_outside_the_tracking_plan_is_stored_as_other(element):
    assert parse_event(interaction(element=element)).element == OTHER


@pytest.mark.parametrize("page", PERSONAL_PAGES)
def test_a_page_is_stored_as_its_route_or_other_never_as_sent(page):
    stored = parse_event(interaction(page=page)).page
    assert stored in PLANNED_PAGES and "amara" not in stored and not any(c.isdigit() for c in stored)


def test_planned_elements_and_routes_are_kept_and_paths_become_their_route():
    assert {parse_event(interaction(element=e)).element for e in ELEMENTS} == set(ELEMENTS)
    assert {parse_event(interaction(page=r)).page for r in ROUTES} == set(ROUTES)
    assert page_route("/u/amara.okafor/profile?tab=1#top") == "/u/:handle/profile"
    assert page_route("https://app.example.com/resume/8821/edit") == "/resume/:resume_id/edit"
    assert page_route("/resume/new") == "/resume/new"  # a literal segment beats a placeholder
    assert page_route("/resume/{id}/edit/") == "/resume/:resume_id/edit"
    assert page_route("editor") == page_route("/Editor/") == "/editor"


def test_the_tracking_plan_itself_holds_identifiers_only():
    """What may be stored must itself be well-shaped: no route or element the plan lists can carry a value."""
    for element in ELEMENTS:
        assert parse_event(interaction(element=element)).element == element
    for route in ROUTES:
        assert route.startswith("/") and not any(c.isdigit() or c.isupper() for c in route), route
    assert OTHER in PLANNED_ELEMENTS and OTHER in PLANNED_PAGES
    # The synthetic sample uses the app's own values, so its interactions keep theirs.
    assert set(sample_data.ELEMENTS) <= PLANNED_ELEMENTS and set(sample_data.PAGES) <= PLANNED_PAGES


@pytest.mark.parametrize("page", ["", "/" + "p" * 256])
def test_a_page_longer_than_256_characters_or_empty_is_refused(page):
    with pytest.raises(InvalidEvent, match="page"):
        parse_event(interaction(page=page))


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
        (json.dumps(resume_event(event_id=SECRET)), "invalid_field", "event_id"),
        (json.dumps(resume_event(occurred_at="1700000000")), "invalid_field", "occurred_at"),
        (json.dumps(resume_event(occurred_at=1700000000)), "invalid_field", "occurred_at"),
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
    assert "`" not in caught.value.detail  # pydantic quotes a character of the input between backticks
