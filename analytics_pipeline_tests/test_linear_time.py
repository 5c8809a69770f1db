"""The residual-PII gate and the finders it shares with the scrubber take linear time on hostile text.

A contract-valid event holds texts of up to 200,000 characters; unanchored or unbounded patterns rescanned a
long run from every start in it (a quadratic scan took minutes per text). The bound is generous so a loaded
machine does not fail it, but a quadratic regression does.
"""

from __future__ import annotations

import time

import pytest

from analytics_pipeline.privacy.formats import (
    card_spans,
    cued_phone_spans,
    cued_ssn_spans,
    iban_spans,
    international_address_spans,
)
from analytics_pipeline.privacy.normalize import disguised_email_spans, disguised_number_spans
from analytics_pipeline.quality.pii import ResidualPiiDetector

N = 200_000
BOUND_SECONDS = 20.0


def _repeat(unit: str, n: int = N) -> str:
    return (unit * (n // len(unit) + 1))[:n]


HOSTILE = {
    "dotted": _repeat("a."),
    "dotted_caps": _repeat("A."),
    "hyphenated": _repeat("a-"),
    "dots": _repeat("."),
    "at_signs": _repeat("a@"),
    "letter_spaced": _repeat("a "),
    "digit_dashes": _repeat("1 - "),
    "spelled_dots": _repeat("a dot "),
    "bracketed_dots": _repeat("a (dot) "),
    "long_local_part": ("a" * 64 + "@" + _repeat("a."))[:N],
    "dotted_around_at": _repeat("a.", N // 2) + " (at) " + _repeat("a.", N // 2),
    # Every word starts an IBAN candidate that runs on for 30 characters and holds none.
    "iban_starts": _repeat("AB12 "),
}
FINDERS = {
    "disguised_email": disguised_email_spans,
    "disguised_number": disguised_number_spans,
    "international_address": international_address_spans,
    "card": card_spans,
    "cued_phone": cued_phone_spans,
    "cued_ssn": cued_ssn_spans,
    "iban": iban_spans,
}


def _timed(function, text):
    start = time.perf_counter()
    result = function(text)
    return result, time.perf_counter() - start


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_gate_is_linear_on_hostile_text(name):
    hits, seconds = _timed(ResidualPiiDetector().scan_text, HOSTILE[name])
    assert seconds < BOUND_SECONDS, f"{name}: {seconds:.1f} s"
    # None of these holds an e-mail, a link, a phone number, a card or a street.
    assert not hits, hits


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_finders_are_linear_on_hostile_text(name):
    for finder, find in FINDERS.items():
        spans, seconds = _timed(find, HOSTILE[name])
        assert seconds < BOUND_SECONDS, f"{finder} on {name}: {seconds:.1f} s"
        assert spans == [], f"{finder} on {name}"


def test_values_behind_hostile_padding_are_still_found():
    """The bounds keep every start cheap, but a value after a long run is found all the same."""
    padding = _repeat("a.", N // 2)
    detector = ResidualPiiDetector()
    assert detector.scan_text(padding + " jane.doe@example.com")["email"] == 1
    assert detector.scan_text(padding + "/ linkedin.com/in/jane-doe")["url"] == 1
    assert detector.scan_text(padding + " Rantakatu 4")["street_address"] == 1
    # Glued to the padding: the address starts later, but is still found.
    assert detector.scan_text(padding + "jane@example.com")["email"] == 1
    assert detector.scan_text(padding + "linkedin.com/in/jane")["url"] == 1
    assert disguised_email_spans(padding + "a (at) example (dot) com") != []
    assert disguised_email_spans("x" * 300 + "jane (at) example (dot) com") != []
    assert disguised_email_spans(" dot ".join(["a"] * 100) + " (at) example (dot) com") != []


@pytest.mark.parametrize("name", ["dotted", "dots", "at_signs", "long_local_part", "dotted_around_at"])
def test_the_scrubber_is_linear_on_hostile_text(scrubber, name):
    """Presidio's own URL and e-mail patterns rescanned from every start too (20,000 dots took 23 s, and past
    Presidio's regex timeout a pattern is skipped, so its PII stays): the scrubber uses linear-time ones."""
    text = HOSTILE[name] + " jane.doe@example.com, see example.org/cv"
    scrubbed, seconds = _timed(scrubber.scrub, text)
    assert seconds < BOUND_SECONDS, f"{name}: {seconds:.1f} s"
    # (the 64 letters "@" a.a.a... of long_local_part are e-mail-shaped themselves and merge with it)
    assert scrubbed.endswith("<EMAIL_ADDRESS>, see <URL>") and "jane" not in scrubbed


# (text, what the scrubbed text must hold, what it must not): a list of tens of thousands of items, one taken for
# a name each (the list filter once read every item for every name: 10,000 characters took 37 s), and lines
# that are each a reading for the detector.
NAME_SHAPED = {
    "tool_list": ("Skills: " + _repeat("Grafana, ", N // 4), "Grafana", "<PERSON>"),
    "name_list": ("Team: " + _repeat("Priya Raman, ", N // 4), "<PERSON>", "Priya"),
    "town_list": ("Place: " + _repeat("Korba, ", N // 4), "Korba", "<PERSON>"),
    "surname_first_lines": ("OKWUOSA, Ifeyinwa\n" * (N // 4 // 18), "<PERSON>", "Ifeyinwa"),
    # Only the first camel-case hashtags are read apart (one NER pass each).
    "camel_case_hashtags": ("Posted in " + "#DataScience " * (N // 4 // 13), "#DataScience", "<PERSON>"),
    "long_camel_case_hashtag": ("#" + "Ab" * (N // 8), "#AbAb", "<PERSON>"),
}


@pytest.mark.parametrize("name", sorted(NAME_SHAPED))
def test_the_scrubber_is_linear_on_name_shaped_hostile_text(scrubber, name):
    text, kept, gone = NAME_SHAPED[name]
    scrubbed, seconds = _timed(scrubber.scrub, text)
    assert seconds < BOUND_SECONDS, f"{name}: {seconds:.1f} s"
    assert kept in scrubbed and gone not in scrubbed
