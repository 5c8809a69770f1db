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


@pytest.mark.parametrize(
    ("text", "scrubbed"),
    [
        (
            "LinkedIn: https://www.linkedin.com/in/zorvath\nkellemund | Phone: 9876512340",
            "LinkedIn: <URL> | Phone: <PHONE_NUMBER>",
        ),
        ("linkedin.com/in/zorvath\nkellemund • Pune", "<URL> • Pune"),
        ("https://www.linkedin.com/in/zorvath\nkellemund - Bengaluru", "<URL> - Bengaluru"),
        ("github.com/zorvath\nkellemund  Python", "<URL>  Python"),
    ],
)
def test_a_profiles_name_cut_at_a_line_end_is_taken_up_to_a_separator(scrubber, text, scrubbed):
    assert scrubber.scrub(text) == scrubbed


@pytest.mark.parametrize(
    ("text", "scrubbed"),
    [
        ("See https://example.com/docs\nhere | there", "See <URL>\nhere | there"),  # not a profile's path
        ("linkedin.com/in/zorvath\nled the team | 2021", "<URL>\nled the team | 2021"),  # prose goes on
        ("linkedin.com/in/zorvath\nKellemund Labs | Pune", "<URL>\nKellemund Labs | Pune"),  # a capitalized name
        ("linkedin.com/in/zorvath/\nskills | python", "<URL>\nskills | python"),  # the path was whole
    ],
)
def test_a_word_after_a_link_at_a_line_end_stays_without_strong_signals(scrubber, text, scrubbed):
    assert scrubber.scrub(text) == scrubbed
