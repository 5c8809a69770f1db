"""The benchmark's workload and bookkeeping (the benchmark itself is `make bench`: no timings are asserted here)."""

from __future__ import annotations

import json
import os
from datetime import date
from itertools import islice

from analytics_pipeline.raw_log import iter_raw_lines, json_object
from tools import bench

DAY = date(2026, 11, 2)


def test_workload_texts_are_resume_length_and_repeat_along_tailoring_chains():
    texts = bench.workload_texts(bench.session_lines(3, bench.TEXT_SCALE, 1, DAY), 60)
    words = [len(text.split()) for text in texts]
    assert len(texts) == 60
    assert 300 <= min(words) and max(words) <= 800
    assert len(set(texts)) < len(texts)  # the resume recurs across upload, tailor and refine


def test_written_day_has_the_requested_events_and_mostly_ui_interactions(tmp_path):
    lines = bench.session_lines(3, 1, 25, DAY)
    assert bench.write_day(tmp_path, DAY.isoformat(), lines, 500) == 500
    raw = list(iter_raw_lines(tmp_path, DAY.isoformat()))
    assert len(raw) == 500
    # Malformed lines (a truncated one may start like an event) are left out.
    types = [event.get("event_type") for line in raw if (event := json_object(line.content))]
    assert types.count("interaction") > 0.8 * len(types)


def test_replayed_events_repeat_content_under_fresh_event_ids():
    source = list(islice(bench.session_lines(3, 1, 1, DAY), 20)) + ["{truncated"]
    replay = list(islice(bench.replayed(source), 3 * len(source)))
    events = [json.loads(line) for line in replay if line != "{truncated"]
    assert replay.count("{truncated") == 3
    ids = [e["event_id"] for e in events if isinstance(e, dict) and "event_id" in e]
    assert len(set(ids)) == len(ids)
    source_texts = [json.loads(line).get("resume_text") for line in source[:-1]]
    texts = [e.get("resume_text") for e in events if isinstance(e, dict)]
    assert texts == source_texts * 3


def test_interleaved_timing_gives_every_contender_every_text_once():
    seen: dict[str, list[str]] = {"a": [], "b": []}
    contenders = [bench.Timed(name, seen[name].extend) for name in seen]
    texts = [f"text {i}" for i in range(10)]
    bench.time_interleaved(contenders, texts, rounds=3)
    assert seen["a"] == seen["b"] == texts
    assert all(c.documents == 10 and c.seconds > 0 for c in contenders)


def test_report_shows_ratios_runs_speed_up_and_recall_verdicts():
    names = ["(1) stock", "(2) scrubber", "(3) floor"]
    timed = [bench.Timed(name, print, seconds=10.0, documents=docs) for name, docs in zip(names, (50, 300, 200))]
    runs = [
        bench.RunResult("2 partitions, one after the other (1 run each)", 1000, 100.0, 500.0, 900.0),
        bench.RunResult("2 partitions in parallel (2 runs)", 1000, 60.0, 520.0, 1500.0),
    ]
    recall = bench.RecallComparison(
        "committed evaluation set", 10, {"PERSON": (0.8, 0.9), "STREET_ADDRESS": (0.5, 0.4)}
    )
    report = bench.format_report(["one two", "one two three four"], timed, runs, [recall])
    assert "| (2) scrubber | 30.0 | 6.00x | 1.50x |" in report
    assert "Partition-parallel speed-up: 1.67x" in report
    assert "LOWER than stock on STREET_ADDRESS" in report


def test_peak_memory_sampler_sees_this_process():
    memory = bench.PeakMemory()
    memory.sample([os.getpid()])
    assert 10 < memory.process_mib <= memory.tree_mib
