"""Links as PDF text extraction leaves them in resumes: LinkedIn paths without a host, links cut across a line
break (real Presidio and spaCy model). Names are invented."""

import pytest


@pytest.mark.parametrize(
    ("text", "scrubbed"),
    [
        ("in/ zorvath-kellemund-7c2f91", "<URL>"),  # the space PDF extraction puts after the slash
        ("/in/zorvath-kellemund-7c2f91\nSUMMARY", "<URL>\nSUMMARY"),
        ("in/zorvath-kellemund | +91 98765 12340", "<URL> | <PHONE_NUMBER>"),
        ("🔗 in/zorvathk • Python", "🔗 <URL> • Python"),
        ("Pune | in/zorvath-kellemund-7c2f91 | Python", "Pune | <URL> | Python"),
        ("LinkedIn: in/zorvathk", "LinkedIn: <URL>"),
        ("linkedin: in/zorvath-kellemund (preferred)", "linkedin: <URL> (preferred)"),
        ("LinkedIn – /in/zorvath-k", "LinkedIn – <URL>"),
    ],
)
def test_a_linkedin_path_without_its_host_is_a_link(scrubber, text, scrubbed):
    assert scrubber.scrub(text) == scrubbed


@pytest.mark.parametrize(
    "text",
    [
        "Please log in/ sign up to continue.",
        "The in/out ratio was high.",
        "Check-in/check-out times are fixed.",
        "We moved the in/ex-house team.",
        "Log\nin/ sign up to continue",  # prose wrapped before the slash
        "in/out processing was my job",
        "Sep 2019 – Dec 2021 | Pune",
    ],
)
def test_in_slash_in_prose_is_not_a_link(scrubber, text):
    assert scrubber.scrub(text) == text
