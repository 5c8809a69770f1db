"""PiiScrubber on the forms of Indian resumes: relatives' names on relation lines and fields, street and
locality words and Kerala house names in addresses; and the look-alike prose that must stay."""

import pytest

from analytics_pipeline.privacy.formats import indian_address_spans
from analytics_pipeline_tests.test_scrubber import assert_gone


@pytest.mark.parametrize("address", ["C/o 12, Sadashiv Peth", "C/o 45 Shaniwar Road"])
def test_a_care_of_line_with_a_number_is_an_address(scrubber, address):
    assert scrubber.scrub(address) == "C/o <STREET_ADDRESS>"


@pytest.mark.parametrize(
    ("address", "kept", "gone"),
    [
        ("Address: 16, Sundervan Avenue, Ranjitpura Road, Amritsar – 143001", "Amritsar – 143001", "Sundervan"),
        ("B-7, Dhunjibhoy Baug, Worlikar Causeway, Mumbai 400018", "Mumbai 400018", "Dhunjibhoy Worlikar"),
        ("21/4, Bhavani Galli, Kolhapur 416002", "Kolhapur 416002", "Bhavani"),
        ("No. 8, Kudalkar Gate, Pune 411030", "Pune 411030", "Kudalkar"),
        (
            "Vellaramkunnel House, Erattupetta P.O., Kottayam, Kerala – 686121",
            "Kottayam, Kerala – 686121",
            "Vellaramkunnel Erattupetta",
        ),
        ("Address: Mundackal (H), Kadaplamattom PO, Kottayam", "Kottayam", "Mundackal Kadaplamattom"),
    ],
)
def test_indian_street_words_and_kerala_house_names_go_and_the_city_stays(scrubber, address, kept, gone):
    scrubbed = scrubber.scrub(address)
    assert "<STREET_ADDRESS>" in scrubbed and scrubbed.endswith(kept), scrubbed
    assert_gone(scrubbed, gone)


@pytest.mark.parametrize(
    "text",
    [
        "Store Manager, Avenue Supermarts (DMart), Pune",
        "Worked with the Park Avenue brand on the festive campaign.",
        "Skills: Critical Path, Stage Gate, Jira, Confluence",
        "Trust House, Pune: volunteer, 2019 - 2021",
    ],
)
def test_brands_exams_and_skills_with_street_words_stay(scrubber, text):
    assert scrubber.scrub(text) == text


@pytest.mark.parametrize(
    "text",
    [
        "12, Avenue Supermarts (DMart)",
        "2019, Park Avenue brand launch",
        "Gate exam: 2, cleared",
        "Lead Product House, Bengaluru",
        "Summary: 5, Critical Path",
    ],
)
def test_no_indian_address_in_numbered_prose_or_a_house_without_post_office(text):
    assert indian_address_spans(text) == [], [text[s:e] for s, e in indian_address_spans(text)]
