"""Links as PDF text extraction leaves them in resumes: LinkedIn paths without a host, links cut across a line
break (real Presidio and spaCy model). Names are invented."""

import time

import pytest

from analytics_pipeline.privacy.recognizers import LinkedInPathRecognizer, LinkRecognizer


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


@pytest.mark.parametrize(
    ("text", "scrubbed"),
    [
        ("Portfolio: https://zorvathkellemund.\ngithub.io", "Portfolio: <URL>"),
        ("Portfolio: https://zorvathkellemund.\ngithub.io | Pune", "Portfolio: <URL> | Pune"),
        ("Site: www.zorvathk.\ncom/work", "Site: <URL>"),
        ("Site: https://blog.zorvathk.\nco.in  Python", "Site: <URL>  Python"),
    ],
)
def test_a_host_cut_after_its_dot_goes_on_with_the_next_lines_suffix(scrubber, text, scrubbed):
    assert scrubber.scrub(text) == scrubbed


@pytest.mark.parametrize(
    ("text", "scrubbed"),
    [
        ("I studied in the U.S.\ncommunity work was my focus.", None),
        ("Tools, e.g.\ncom ports and serial lines", None),
        ("Visit https://example.com.\nin addition we did more", "Visit <URL>.\nin addition we did more"),
        ("Visit www.example.com.\nme and the team", "Visit <URL>.\nme and the team"),
    ],
)
def test_a_line_after_a_dot_is_no_host_suffix_in_prose(scrubber, text, scrubbed):
    assert scrubber.scrub(text) == (scrubbed or text)


@pytest.mark.parametrize(
    "text",
    ["| in/" + "a-" * 100_000, "\nin/ " * 50_000, "https://" + "a." * 100_000, ("www.a.\n" + "a." * 20) * 7_000],
)
def test_the_link_patterns_are_linear_on_hostile_text(text):
    start = time.perf_counter()
    LinkedInPathRecognizer.find(text)
    LinkRecognizer._cut_hosts(text)
    assert time.perf_counter() - start < 5.0
