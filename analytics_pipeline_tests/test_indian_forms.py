"""PiiScrubber on the forms of Indian resumes: relatives' names on relation lines and fields, street and
locality words and Kerala house names in addresses; and the look-alike prose that must stay."""

import re

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
        # a house number ending in a letter, a quarter or block number, a building of flats, a crescent
        ("H.No. 7-1-23/C, Ravi Nagar Colony, Kothapet, Hyderabad – 500035", "Hyderabad – 500035", "Ravi 23/C"),
        ("Qr. No. C/118, Sector 2, Bokaro, Jharkhand – 827001", "Bokaro, Jharkhand – 827001", "C/118"),
        ("Address: Block No. D-7, Room No. 11, Near Bus Depot, Kalyan 421301", "Kalyan 421301", "D-7 Depot"),
        ("B-512, Devika Flats, Near Kankaria Lake, Vadodara 390007", "Vadodara 390007", "Devika Kankaria"),
        ("No. 14, Adetokunbo Crescent, Garki, Abuja", "Garki, Abuja", "Adetokunbo"),
        # an address label's first part, a line opening with its locality, a slashed number after a house name
        ("Add: Roshan Villa, Near Idgah Maidan, Bhopal – 462001", "Bhopal – 462001", "Roshan Idgah"),
        ("Mohalla – Rampur, Near Kali Mandir, Gaya – 823001", "823001", "Rampur Kali"),
        ('Address: "Shree Krupa", 3-45/2, Kodialbail Road, Mangaluru 575003', "Mangaluru 575003", "3-45/2"),
        ("Address: D.No. 40-9-18, Gunadala, Vijayawada", "Gunadala, Vijayawada", "40-9-18"),
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
        "Address: Pune, Maharashtra",
        "Infosys, 2019-2021, Bengaluru, MG Road office",
        "Sold 300 units, Path to Growth program 2021",
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


HEADER = "NIRMAYA TALPADE\nStaff Nurse | Mobile: 98450 11223\n\nPERSONAL DETAILS\n"
FOOTER = "\nDate of Birth : 03/04/1995\nLanguages Known : Marathi, Hindi, English"


@pytest.mark.parametrize(
    ("line", "label", "name"),
    [
        ("D/o Ojasvit Rangnekar", "D/o ", "Ojasvit Rangnekar"),
        ("W/o Shri Harshvardhan Kelkote", "W/o ", "Harshvardhan Kelkote"),
        ("S/o Shri Devvrat Prasad Mahindrakar", "S/o ", "Devvrat Prasad Mahindrakar"),
        ("S/O : PRAVEER KUNDALKAR", "S/O : ", "PRAVEER KUNDALKAR"),
        ("s/o Shri Yagnesh Baraskar, Nashik", "s/o ", "Yagnesh Baraskar"),
        ("D/O. Late Shri Omkarnath Paithankar", "D/O. ", "Omkarnath Paithankar"),
        ("C/o Shri Vishwajeet Dongarkar", "C/o ", "Vishwajeet Dongarkar"),
        ("Son of Shri Devvrat Mahindrakar", "Son of ", "Devvrat Mahindrakar"),
        ("Daughter of Mr. Ranvijay Kolhatkar (retired)", "Daughter of ", "Ranvijay Kolhatkar"),
        ("Husband of Smt. Ilavenil Marudhar", "Husband of ", "Ilavenil Marudhar"),
        ("Father's Name : Chinmayanathan", "Father's Name : ", "Chinmayanathan"),
        ("Mother's Name - Smt. Vaidehika Rangnekar", "Mother's Name - ", "Vaidehika Rangnekar"),
        ("Husband's Name\tRudransh Palav", "Husband's Name\t", "Rudransh Palav"),
        ("Spouse Name – Kaveriamma Tholpadi", "Spouse Name – ", "Kaveriamma Tholpadi"),
        ("Spouse's Name: R. Thenmozhiyal", "Spouse's Name: ", "Thenmozhiyal"),
        ("Guardian's Name: Anantrao Bhilawadekar", "Guardian's Name: ", "Anantrao Bhilawadekar"),
        ("FATHER NAME : K. OMKARESHWAR", "FATHER NAME : ", "OMKARESHWAR"),
        ("father's name: Mr. Hemaditya Sarnobat", "father's name: ", "Hemaditya Sarnobat"),
    ],
)
def test_a_relatives_name_goes_and_the_relation_stays(scrubber, line, label, name):
    scrubbed = scrubber.scrub(HEADER + line + FOOTER)
    [scrubbed_line] = [row for row in scrubbed.splitlines() if row.startswith(label)]
    assert "<PERSON>" in scrubbed_line, scrubbed
    assert_gone(scrubbed, name)
    assert scrubbed.endswith(FOOTER), scrubbed


@pytest.mark.parametrize(
    "text",
    [
        "Migrated the billing service w/o downtime, Docker and Kubernetes",
        "Raised as the son of a farmer, I value hard work.",
        "Mother tongue: Marathi\nFather's Occupation : Farmer",
    ],
)
def test_prose_holds_no_relatives_name(scrubber, text):
    assert scrubber.scrub(text) == text


def test_a_relatives_name_is_hunted_elsewhere_but_not_into_an_institution(scrubber):
    text = "Rudransh Palav Kelkote\nC/o Shri Ojasvit Kelkote\n\nB.Com – Shri Ojasvit College, 2012\nOjasvit said so."
    scrubbed = scrubber.scrub(text)
    assert "Shri Ojasvit College" in scrubbed and not re.search(r"Ojasvit said", scrubbed), scrubbed


@pytest.mark.parametrize(
    ("text", "kept"),
    [
        ("Branch Manager at the Dist- Sitapur branch", "Dist- Sitapur"),
        ("Lives at Jaydeep Vihar, Bhubaneswar", "Jaydeep Vihar"),
        ("Regional office, Sardar Patel Marg, Jaipur", "Sardar Patel Marg"),
    ],
)
def test_a_locality_or_landmark_is_no_name(scrubber, text, kept):
    """The detector reads some localities as people; no name ends in Vihar or Marg or opens with Vill-."""
    assert kept in scrubber.scrub(text)
