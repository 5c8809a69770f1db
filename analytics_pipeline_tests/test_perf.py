"""The speed-ups change nothing but speed: caches, paragraph-level NER, the skip rule, the phone matcher, worker processes, chunking."""

from __future__ import annotations

import copy
import json
import re
from collections import Counter
from datetime import date
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from faker import Faker
from hypothesis import given, settings
from hypothesis import strategies as st

from analytics_pipeline.cleaning import EventCleaner
from analytics_pipeline.privacy.scrubber import can_hold_name, paragraphs
from analytics_pipeline.privacy.span_cache import BoundedCache, content_key
from analytics_pipeline.raw_log import iter_raw_lines
from analytics_pipeline.sample_data import NAME_LOCALES, SampleGenerator, write_sample
from analytics_pipeline.staging import STAGED_TABLES, stage_partition, staged_file
from analytics_pipeline.warehouse import connect

DAY = date(2026, 11, 2)


@pytest.fixture(scope="module")
def chain_texts() -> list[str]:
    """Texts of a few tailoring chains in event order: the resume recurs, tailored texts share its paragraphs."""
    lines = SampleGenerator(seed=5, users=10, text_scale=2).day_lines(DAY, sessions=4, malformed_share=0)
    events = [json.loads(line) for line in lines]
    texts = [e[k] for e in events for k in ("resume_text", "job_description", "tailored_text") if e.get(k)]
    return texts + ["+1 (415) 555-0134", None, ""]


def test_texts_repeat_in_the_workload(chain_texts):
    present = [t for t in chain_texts if t]
    assert len(set(present)) < len(present)


def test_cached_and_deduplicated_scrubbing_equals_fresh_scrubbing_one_text_at_a_time(scrubber, chain_texts):
    scrubber.clear_cache()
    first, first_counts = scrubber.scrub_batch_with_counts(chain_texts)  # repeats analysed once
    again, again_counts = scrubber.scrub_batch_with_counts(chain_texts)  # everything from the cache
    fresh, fresh_counts = [], Counter()
    for text in chain_texts:
        scrubber.clear_cache()  # nothing shared: each text on its own, every paragraph through spaCy
        output, counts = scrubber.scrub_batch_with_counts([text])
        fresh += output
        fresh_counts += counts
    assert first == again == fresh
    assert first_counts == again_counts == fresh_counts
    assert "<PERSON>" in first[0]


def test_worker_processes_give_the_same_output(scrubber, chain_texts):
    parallel = copy.copy(scrubber)  # same model and recognizers, NER in two spaCy processes
    parallel.n_process = 2
    scrubber.clear_cache()
    expected = scrubber.scrub_batch(chain_texts)
    scrubber.clear_cache()
    assert parallel.scrub_batch(chain_texts) == expected


def test_analysis_cache_is_bounded_and_forgets_the_least_recently_used():
    cache: BoundedCache[int] = BoundedCache(max_entries=3)
    keys = [content_key(str(i)) for i in range(5)]
    for value, key in enumerate(keys[:3]):
        cache.put(key, value)
    assert cache.get(keys[0]) == 0  # now the most recently used
    cache.put(keys[3], 3)
    cache.put(keys[4], 4)
    assert len(cache) == 3
    assert cache.get(keys[1]) is None and cache.get(keys[2]) is None
    assert [cache.get(k) for k in (keys[0], keys[3], keys[4])] == [0, 3, 4]
    disabled: BoundedCache[int] = BoundedCache(max_entries=0)
    disabled.put(keys[0], 0)
    assert len(disabled) == 0 and disabled.get(keys[0]) is None


def test_content_keys_differ_for_different_texts():
    assert content_key("Jane Doe") != content_key("Jane Doe ")
    assert content_key("Jane Doe") == content_key("Jane " + "Doe")


@settings(max_examples=300, deadline=None)
@given(st.text(), st.characters(categories=["Lu", "Ll", "Lt", "Lo"]), st.text())
def test_skip_rule_never_skips_text_with_a_letter(before, letter, after):
    assert can_hold_name(before + letter + after)


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=st.characters(categories=["Nd", "P", "S", "Zs", "Cc"])))
def test_only_text_without_letters_skips_the_ner(text):
    assert not can_hold_name(text)


def test_skip_rule_keeps_every_name_in_every_locale():
    fake = Faker(NAME_LOCALES + ["ja_JP", "zh_CN", "ru_RU", "ar_AA", "hi_IN", "ko_KR", "el_GR"])
    fake.seed_instance(3)
    assert all(can_hold_name(fake.name()) for _ in range(500))
    assert all(can_hold_name(name) for name in ("Li", "O'Neil", "Ng", "Åsa", "Ömer", "李娜"))


def test_text_skipping_the_ner_is_still_scrubbed_by_the_pattern_recognizers(scrubber):
    assert scrubber.scrub_batch(["+1 (415) 555-0134", "212-555-0188 / 10.0.12.7"]) == [
        "<PHONE_NUMBER>",
        "<PHONE_NUMBER> / <IP_ADDRESS>",
    ]


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("ab \t\n.J"))))
def test_paragraphs_cover_every_non_blank_character(text):
    bounds = paragraphs(text)
    inside = {i for start, end in bounds for i in range(start, end)}
    assert all(i in inside for i, c in enumerate(text) if not c.isspace())
    assert all(not re.search(r"\n[ \t]*\n", text[start:end]) for start, end in bounds)
    assert all(a_end <= b_start for (_, a_end), (b_start, _) in zip(bounds, bounds[1:]))


class RecordingCleaner:
    """A real EventCleaner that records how far the raw line stream ran ahead of each chunk it cleaned."""

    def __init__(self, cleaner: EventCleaner, pulled: list[int]):
        self._cleaner = cleaner
        self._pulled = pulled
        self.lines_in_memory: list[int] = []
        self._done = 0

    @property
    def claimed_event_ids(self) -> list[str]:
        return self._cleaner.claimed_event_ids

    def clean(self, chunk):
        self.lines_in_memory.append(self._pulled[0] - self._done)
        self._done += len(chunk)
        return self._cleaner.clean(chunk)


def test_staging_holds_at_most_chunk_lines_lines_whatever_the_partition_size(tmp_path, scrubber):
    raw_dir = tmp_path / "raw"
    write_sample(raw_dir, days=1, sessions_per_day=6, users=5, seed=9, start=DAY)
    pulled = [0]

    def counted_lines():
        for line in iter_raw_lines(raw_dir, DAY.isoformat()):
            pulled[0] += 1
            yield line

    chunk_lines = 5
    cleaner = RecordingCleaner(EventCleaner(DAY, b"test-salt-0123456789abcdef", scrubber), pulled)
    stats = stage_partition(counted_lines(), cleaner, tmp_path / "staging" / DAY.isoformat(), chunk_lines)

    assert stats.lines_read == pulled[0] > 6 * chunk_lines
    assert max(cleaner.lines_in_memory) <= chunk_lines
    for table in STAGED_TABLES:
        metadata = pq.ParquetFile(staged_file(Path(tmp_path / "staging" / DAY.isoformat()), table)).metadata
        assert all(metadata.row_group(i).num_rows <= chunk_lines for i in range(metadata.num_row_groups))


def test_duckdb_connections_cap_their_memory(tmp_path):
    with connect(tmp_path / "analytics.duckdb") as conn:
        limit = conn.execute("SELECT current_setting('memory_limit')").fetchone()[0]
    assert limit.endswith("MiB") and float(limit.split()[0]) <= 1024


# Where a line-by-line, short-candidate-skipping matcher could differ from matching the whole text.
PHONE_EDGE_CASES = [
    "Call 415 555 0134\nor +44 20 7946 0958 x12, not (2019-2021) or 35%.",
    "abc4155550134 and 4155550134def are not numbers; $415 555 0134 is money",
    "Tel: 030 901820\nFax: 089 1234567\nBüro: 0221 9876543",  # short German numbers
    "2021-03-04 12:30\n2021-03-04 12\n:30 and 12/03/2021 and 415 555\n0134",
    "+972 3 123 4567 / +91 98765 43210 / (11) 91234-5678 / 01 23 45 67 89",
    "1-800-FLOWERS, 1 800 356 9377; ext. 7, 555x123x4567, pp. 123-145 (2001)",
    "\n\n  +1 (212) 555-0188\t\n415.555.0134\r\n",
    "",
]


def test_fast_phone_recognizer_finds_exactly_what_presidios_finds(chain_texts):
    from presidio_analyzer.predefined_recognizers import PhoneRecognizer

    from analytics_pipeline.privacy.recognizers import FastPhoneRecognizer
    from tools.eval_set import load_jsonl

    stock, fast = PhoneRecognizer(), FastPhoneRecognizer()
    texts = [t for t in chain_texts if t] + [doc["text"] for doc in load_jsonl()] + PHONE_EDGE_CASES

    def found(recognizer, text):
        return sorted((r.start, r.end, r.score, r.entity_type) for r in recognizer.analyze(text, ["PHONE_NUMBER"]))

    for text in texts:
        assert found(fast, text) == found(stock, text)
    assert sum(len(found(fast, text)) for text in texts) > 400  # the eval set's phones are found at all
    fast.clear_cache()
    assert [found(fast, t) for t in PHONE_EDGE_CASES] == [found(stock, t) for t in PHONE_EDGE_CASES]


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("0123456789") * 3 + list(" \n\t-().+/x%$:,#aZé٣"))))
def test_fast_phone_recognizer_matches_presidio_on_arbitrary_digit_text(text):
    from presidio_analyzer.predefined_recognizers import PhoneRecognizer

    from analytics_pipeline.privacy.recognizers import FastPhoneRecognizer

    def found(recognizer):
        return sorted((r.start, r.end) for r in recognizer.analyze(text, ["PHONE_NUMBER"]))

    assert found(FastPhoneRecognizer()) == found(PhoneRecognizer())


def test_phone_next_to_a_context_word_is_scrubbed(scrubber):
    # Presidio raises context-supported scores by writing to each result's explanation.
    assert scrubber.scrub("Call my cell phone: 020 7946 0958 (UK)") == "Call my cell phone: <PHONE_NUMBER> (UK)"


def test_short_digit_runs_are_never_parsed(monkeypatch):
    # Guards the override of libphonenumber's private _extract_match: if a release renames it, this fails.
    import phonenumbers

    from analytics_pipeline.privacy.recognizers import _ShortCandidateSkippingMatcher

    parsed: list[str] = []
    original = phonenumbers.PhoneNumberMatcher._extract_match
    monkeypatch.setattr(
        phonenumbers.PhoneNumberMatcher,
        "_extract_match",
        lambda self, candidate, offset: parsed.append(candidate) or original(self, candidate, offset),
    )
    assert list(_ShortCandidateSkippingMatcher("Since 2019, 35% faster, 3 teams", "US", 1)) == []
    assert parsed == []
    assert [m.raw_string for m in _ShortCandidateSkippingMatcher("Call 415 555 0134", "US", 1)] == ["415 555 0134"]
    assert parsed == ["415 555 0134"]
