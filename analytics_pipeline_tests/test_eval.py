"""The labeled evaluation set and the evaluation logic; the scrubber's targets on the committed set."""

import json
import re
from collections import Counter
from pathlib import Path

import pytest

import analytics_pipeline
from analytics_pipeline.privacy.scrubber import STOCK_MODEL
from tools.eval_set import EVAL_SET_PATH, KINDS, PII_TYPES, generate, load_jsonl, write_jsonl
from tools.evaluate import (
    CORPORA_PATH,
    RESUME_DEV_PATH,
    SHARED_SET_PATH,
    WRITTEN_RESUMES_PATH,
    Replacement,
    align_replacements,
    evaluate_outputs,
    evaluate_scrubber,
    format_comparison,
    load_presidio_research_set,
    stock_presidio_scrub_batch,
)
from tools.ner_corpora import dev_sets

# Committed set: every type but PERSON at issue 12's 0.99, keep-words, PERSON precision. PERSON is below issue
# 12's 0.99 since the trained detector replaced the name rules (detector 1.3.0 measures 0.989; README "Where it
# falls short").
COMMITTED_RECALL_FLOOR = 0.99
COMMITTED_PERSON_FLOOR = 0.98
KEEP_TARGET = 0.98
PERSON_PRECISION_FLOOR = 0.85
# Public presidio-research set: per type, and every type at least stock Presidio's recall in the same run.
PUBLIC_RECALL_FLOORS = {"PERSON": 0.89, "STREET_ADDRESS": 0.85, "PHONE_NUMBER": 0.95, "CREDIT_CARD": 0.99}
PUBLIC_OTHER_FLOOR = 0.99
# The resume-shaped dev set (names held out of training) and the corpora's dev splits (PERSON recall,
# precision, keep-rate), set a little under what the shipped detector measures (README "Measured").
RESUME_DEV_FLOORS = {"PERSON": 0.97, "URL": 0.98, "PERSON precision": 0.95, "keep": 0.98}
MAX_SPURIOUS_PERSON_PER_DOC = 0.5
# The 70 resumes written by hand (a dev set: their failures shaped the rules). The spurious-name ceiling guards
# against regressions (3.4 per resume now); the issue's 0.5 per real resume is not met.
WRITTEN_RESUME_FLOORS = {"PERSON": 0.99, "URL": 0.98, "STREET_ADDRESS": 0.95, "keep": 0.98}
WRITTEN_RESUME_OTHER_FLOOR = 0.99
MAX_SPURIOUS_PERSON_PER_WRITTEN_RESUME = 4.0
REAL_DEV_FLOORS = {"news": (0.95, 0.90, 0.95), "social": (0.63, 0.77, 0.85), "tweets": (0.63, 0.72, 0.93)}


@pytest.fixture(scope="module")
def committed_docs() -> list[dict]:
    return load_jsonl(EVAL_SET_PATH)


def test_committed_set_is_exactly_what_the_seeded_generator_writes(committed_docs, tmp_path):
    regenerated = tmp_path / "labeled_docs.jsonl"
    write_jsonl(generate(), regenerated)
    assert regenerated.read_bytes() == EVAL_SET_PATH.read_bytes()
    assert generate(seed=7, docs_per_kind=3) == generate(seed=7, docs_per_kind=3)
    assert generate(seed=7, docs_per_kind=3) != generate(seed=8, docs_per_kind=3)


def test_committed_set_covers_every_kind_and_type_with_correct_offsets(committed_docs):
    assert {doc["kind"] for doc in committed_docs} == set(KINDS)
    per_type = Counter(label["type"] for doc in committed_docs for label in doc["pii"])
    assert set(per_type) == set(PII_TYPES)
    assert sum(per_type.values()) >= 1000
    assert all(not doc["pii"] for doc in committed_docs if doc["kind"] == "no_pii")
    for doc in committed_docs:
        for item in doc["pii"] + doc["keep"]:
            assert doc["text"][item["start"] : item["end"]] == item["value"]


def test_alignment_finds_the_replaced_regions():
    original = "Jane Doe | jane@x.org | Go"
    assert align_replacements(original, "<PERSON> | <EMAIL_ADDRESS_1> | Go") == [
        Replacement("PERSON", 0, 8),
        Replacement("EMAIL_ADDRESS", 11, 21),
    ]
    assert align_replacements(original, original) == []
    assert align_replacements(original, "<PERSON> | rewritten") is None


def _doc(text: str, pii: list[tuple[str, str]], keep: list[str]) -> dict:
    def label(value: str) -> dict:
        start = text.index(value)
        return {"start": start, "end": start + len(value), "value": value}

    return {"text": text, "pii": [{"type": t, **label(v)} for t, v in pii], "keep": [label(w) for w in keep]}


def test_a_leftover_surname_is_a_leak_and_a_touched_keep_word_is_lost():
    doc = _doc(
        "Ada Obi, Rust dev at Stripe. Call 555-123-4567.",
        [("PERSON", "Ada Obi"), ("PHONE_NUMBER", "555-123-4567")],
        ["Rust", "Stripe"],
    )
    report = evaluate_outputs([doc], ["<PERSON> Obi, Rust dev at <PERSON>. Call <PHONE_NUMBER>."], record_leaks=True)
    assert report.score("PERSON").recall == 0.0
    assert report.score("PERSON").precision == 0.5
    assert report.score("PHONE_NUMBER").recall == 1.0
    assert report.keep_rate == 0.5
    assert report.leaks == [("PERSON", "Ada Obi")]


def test_unalignable_output_falls_back_to_looking_for_the_words():
    doc = _doc("Ada Obi uses Go.", [("PERSON", "Ada Obi")], ["Go"])
    report = evaluate_outputs([doc], ["[redacted] uses Go."])
    assert report.unaligned_documents == 1
    assert report.score("PERSON").recall == 1.0
    assert report.keep_rate == 1.0


def test_public_set_is_read_in_the_same_document_format(tmp_path):
    record = {
        "full_text": "Call Ana at 555-0100 on example.com, Acme Corp",
        "spans": [
            {"entity_type": "PERSON", "entity_value": "Ana", "start_position": 5, "end_position": 8},
            {"entity_type": "DOMAIN_NAME", "entity_value": "example.com", "start_position": 24, "end_position": 35},
            {"entity_type": "ORGANIZATION", "entity_value": "Acme Corp", "start_position": 37, "end_position": 46},
            {"entity_type": "GPE", "entity_value": "x", "start_position": 0, "end_position": 1},
        ],
    }
    path = tmp_path / "synth.json"
    path.write_text(json.dumps([record]))
    [doc] = load_presidio_research_set(path)
    assert [(p["type"], p["value"]) for p in doc["pii"]] == [("PERSON", "Ana"), ("URL", "example.com")]
    assert [k["value"] for k in doc["keep"]] == ["Acme Corp"]


def test_scrubber_meets_the_targets_on_the_committed_set(scrubber, committed_docs):
    report = evaluate_scrubber(scrubber.scrub_batch, committed_docs, record_leaks=True)
    recalls = {entity: report.score(entity).recall for entity in PII_TYPES}
    floors = {entity: COMMITTED_PERSON_FLOOR if entity == "PERSON" else COMMITTED_RECALL_FLOOR for entity in recalls}
    assert all(recalls[e] >= floors[e] for e in recalls), (recalls, report.leaks[:20])
    assert report.keep_rate >= KEEP_TARGET
    assert report.score("PERSON").precision >= PERSON_PRECISION_FLOOR
    assert report.unaligned_documents == 0
    assert "| PERSON |" in format_comparison({"project": report}, "committed set")


def test_a_trace_is_what_issue_12_calls_one():
    doc = _doc(
        "Dear Ms. Ada Obi, call 0612 345 678 or visit Koskikatu 25, 00100 Helsinki.",
        [
            ("PERSON", "Ms. Ada Obi"),
            ("PHONE_NUMBER", "0612 345 678"),
            ("STREET_ADDRESS", "Koskikatu 25, 00100 Helsinki"),
        ],
        [],
    )
    # Honorific and city left, 3 of 10 phone digits left: no trace. Ada (3 letters) left: a trace.
    removed = evaluate_outputs([doc], ["Dear Ms. <PERSON>, call 061<PHONE_NUMBER> or visit <STREET_ADDRESS> Helsinki."])
    assert [removed.score(t).recall for t in ("PERSON", "PHONE_NUMBER", "STREET_ADDRESS")] == [1.0, 1.0, 1.0]
    leaked = evaluate_outputs(
        [doc], ["Dear Ms. Ada <PERSON>, call 0612 345<PHONE_NUMBER> or visit Koskikatu <STREET_ADDRESS>."]
    )
    assert leaked.score("PERSON").recall == 0.0
    assert leaked.score("PHONE_NUMBER").recall == 0.0  # 7 digits in a row
    assert leaked.score("STREET_ADDRESS").recall == 1.0  # the street name without any of its numbers
    street_and_number = evaluate_outputs(
        [doc], ["Dear <PERSON>, call <PHONE_NUMBER> or visit Koskikatu 25, <STREET_ADDRESS>."]
    )
    assert street_and_number.score("STREET_ADDRESS").recall == 0.0


@pytest.mark.skipif(not SHARED_SET_PATH.exists(), reason="../shared/pii_eval is beside the clone in CI")
def test_scrubber_meets_the_floors_and_beats_stock_presidio_on_the_public_set(scrubber):
    docs = load_presidio_research_set()
    ours = evaluate_scrubber(scrubber.scrub_batch, docs, record_leaks=True)
    stock = evaluate_scrubber(stock_presidio_scrub_batch(STOCK_MODEL), docs)  # ~10 s on 2 cores
    recalls = {t: s.recall for t, s in ours.per_type.items() if s.labeled}
    floors = {t: PUBLIC_RECALL_FLOORS.get(t, PUBLIC_OTHER_FLOOR) for t in recalls}
    assert all(recalls[t] >= floors[t] for t in recalls), (recalls, ours.leaks[:20])
    assert all(recalls[t] >= stock.score(t).recall for t in recalls), {
        t: (recalls[t], stock.score(t).recall) for t in recalls
    }


def test_scrubber_meets_the_floors_on_the_resume_shaped_dev_set(scrubber):
    """Names the detector never saw, laid out as resumes, letters and chat requests (tools/resume_text.py)."""
    report = evaluate_scrubber(scrubber.scrub_batch, load_jsonl(RESUME_DEV_PATH), record_leaks=True)
    person, url = report.score("PERSON"), report.score("URL")
    assert person.recall >= RESUME_DEV_FLOORS["PERSON"], report.leaks[:20]
    assert url.recall >= RESUME_DEV_FLOORS["URL"], report.leaks[:20]
    assert person.precision >= RESUME_DEV_FLOORS["PERSON precision"]
    assert person.spurious / report.documents <= MAX_SPURIOUS_PERSON_PER_DOC
    assert report.keep_rate >= RESUME_DEV_FLOORS["keep"]


def test_scrubber_meets_the_floors_on_the_written_resumes(scrubber):
    report = evaluate_scrubber(scrubber.scrub_batch, load_jsonl(WRITTEN_RESUMES_PATH), record_leaks=True)
    recalls = {t: s.recall for t, s in report.per_type.items() if s.labeled}
    floors = {t: WRITTEN_RESUME_FLOORS.get(t, WRITTEN_RESUME_OTHER_FLOOR) for t in recalls}
    assert len(recalls) == 6 and all(recalls[t] >= floors[t] for t in recalls), (recalls, report.leaks[:20])
    assert report.score("PERSON").spurious / report.documents <= MAX_SPURIOUS_PERSON_PER_WRITTEN_RESUME
    assert report.keep_rate >= WRITTEN_RESUME_FLOORS["keep"]


@pytest.mark.skipif(not dev_sets(CORPORA_PATH), reason="the corpora's dev splits are downloaded by make train-ner")
def test_scrubber_meets_the_floors_on_the_real_dev_splits(scrubber):
    for name, docs in dev_sets(CORPORA_PATH).items():
        report = evaluate_scrubber(scrubber.scrub_batch, docs)
        person = report.score("PERSON")
        floors = REAL_DEV_FLOORS[name.split()[0]]
        measured = (person.recall, person.precision, report.keep_rate)
        assert all(value >= floor for value, floor in zip(measured, floors)), (name, measured)
        if any(span["type"] == "USERNAME" for doc in docs for span in doc["pii"]):
            assert report.score("USERNAME").recall >= COMMITTED_RECALL_FLOOR, name


def test_the_runtime_package_quotes_no_evaluation_set():
    """No rule, list or comment of the runtime package names a value of an evaluation set (tuning to the test)."""
    sets = [load_jsonl(EVAL_SET_PATH), load_jsonl(RESUME_DEV_PATH), load_jsonl(WRITTEN_RESUMES_PATH)]
    if SHARED_SET_PATH.exists():
        sets.append(load_presidio_research_set())
    values = {label["value"] for docs in sets for doc in docs for label in doc["pii"] if len(label["value"]) >= 6}
    package = Path(analytics_pipeline.__file__).parent
    sources = {path: path.read_text(encoding="utf-8") for path in package.rglob("*.py")}
    quoted = {
        (path.name, value)
        for path, source in sources.items()
        for value in values
        if value in source and re.search(rf"(?<!\w){re.escape(value)}(?!\w)", source)
    }
    assert not quoted, sorted(quoted)[:20]
