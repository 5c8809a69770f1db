"""Hostile input end to end (issue 13): one contract for the API and the pipeline, no poison line,
no 5xx, bodies parsed off the event loop. Real HTTP server, real raw files, real DuckDB."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from analytics_pipeline import warehouse
from analytics_pipeline.cleaning import EventCleaner
from analytics_pipeline.contract import (
    EARLIEST_TIMESTAMP,
    LATEST_TIMESTAMP,
    MAX_VERSION,
    TAILORING_MODES,
    InvalidEvent,
    parse_event,
    parse_event_line,
)
from analytics_pipeline.ingest.api import MAX_REQUEST_BYTES, Body, decode_events
from analytics_pipeline.ingest.writer import encode_lines, stamp_received
from analytics_pipeline.quality.integrity import SCANNED_TEXT_COLUMNS
from analytics_pipeline.quality.pii import ResidualPiiDetector
from analytics_pipeline.raw_log import MAX_LINE_BYTES, iter_raw_lines
from analytics_pipeline.schema import INTERACTIONS, RESUME_EVENTS
from analytics_pipeline.staging import stage_partition
from analytics_pipeline_tests.conftest import TEST_SALT
from analytics_pipeline_tests.ingest_helpers import TEST_WRITE_KEY, ingest_server, interaction, raw_event_ids
from tools import body_bench
from tools.load_bench import free_port, wait_healthy

DAY = "2026-11-02"
AUTH = {"Authorization": f"Bearer {TEST_WRITE_KEY}", "Content-Type": "application/json"}


def resume_event(**overrides) -> dict:
    return {
        "event_id": str(uuid.uuid4()),
        "event_type": "resume.tailor",
        "occurred_at": "2026-11-02T10:00:00Z",
        "user_id": "synthetic-user-2",
        "resume_id": "synthetic-resume-2",
        "version": 1,
        "tailoring_mode": "concise",
    } | overrides


# Each broke staging or the API before the contract checked the ranges every stage can hold.
OUT_OF_RANGE = {
    "version_above_int32": resume_event(version=2**31),
    "year_1_east_of_utc": resume_event(occurred_at="0001-01-01T00:00:00+01:00"),
    "year_9999_west_of_utc": resume_event(occurred_at="9999-12-31T23:59:59-01:00"),
    "before_1970": resume_event(occurred_at="1969-12-31T23:59:59Z"),
    "nul_in_user_id": resume_event(user_id="synthetic\x00user"),
    "element_with_a_phone": interaction(element="call-415-555-0187"),
    "element_with_an_ssn": interaction(element="ssn-536-22-8899"),
    "element_with_a_capitalised_name": interaction(element="Olusegun.Adebayo"),
}


@pytest.mark.parametrize("name", OUT_OF_RANGE)
def test_the_contract_rejects_what_a_later_stage_cannot_hold(name):
    with pytest.raises(InvalidEvent):
        parse_event(OUT_OF_RANGE[name])


def test_the_api_rejects_out_of_range_events_and_keeps_the_valid_ones(tmp_path):
    valid = [interaction(), resume_event()]
    with ingest_server(tmp_path / "raw") as server:
        response = httpx.post(
            server.url + "/v1/batch", json={"batch": [*OUT_OF_RANGE.values(), *valid]}, headers=AUTH, timeout=30
        )
    assert response.status_code == 200  # partial success: the errors are per event
    body = response.json()
    assert body["accepted"] == 2 and body["rejected"] == len(OUT_OF_RANGE)
    assert sorted(raw_event_ids(tmp_path / "raw")) == sorted(e["event_id"] for e in valid)


def test_free_labels_and_paths_lose_what_could_identify_someone():
    mode = parse_event(resume_event(tailoring_mode="jane.doe@example.com"))
    assert mode.tailoring_mode == "other"
    page = parse_event(interaction(page="/u/Zanele-Mokoena/profile?email=a@b.co#x"))
    assert page.page == "/u/:handle/profile"  # the tracking plan's route, whatever the path held
    assert parse_event(interaction(page="/resume/84213377/edit")).page == "/resume/:resume_id/edit"
    assert parse_event(interaction(page="/job-search/results")).page == "/job-search/results"
    assert parse_event(interaction(page="/in/olusegun.adebayo")).page == "other"  # no such route
    assert parse_event(interaction(element="olusegun.adebayo")).element == "other"  # not in the plan


def test_control_characters_never_reach_stored_text(pipeline):
    """NUL, other C0/C1 controls and bidirectional overrides are removed from texts before scrubbing;
    in an ID they make the event invalid. Through the real daily job into DuckDB."""
    dirty = "Led\x00 the\x1b[31m data\u202e team\x85 of five"
    events = [resume_event(resume_text=dirty, tailored_text=dirty), resume_event(resume_id="res\x07bell")]
    _raw_file(pipeline.raw_dir, [json.dumps(e).encode() for e in events])
    assert pipeline.run(DAY).success
    ((resume_text, tailored_text),) = pipeline.query("SELECT resume_text, tailored_text FROM analytics.resume_events")
    assert resume_text == tailored_text == "Led the[31m data team of five"
    assert pipeline.query("SELECT reason_code FROM analytics.quarantine") == [("invalid_field",)]


def _raw_file(raw_dir: Path, lines: list[bytes]) -> Path:
    path = raw_dir / DAY / "events.jsonl"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"\n".join(lines) + b"\n")
    return path


def _stage_and_load(raw_dir: Path, root: Path, scrubber) -> dict[str, int]:
    cleaner = EventCleaner(date.fromisoformat(DAY), TEST_SALT.encode(), scrubber)
    stats = stage_partition(iter_raw_lines(raw_dir, DAY), cleaner, root / "staging" / DAY, chunk_lines=16)
    assert stats.reconciles
    with warehouse.connect(root / "warehouse.duckdb") as conn:
        return warehouse.load_partition(conn, date.fromisoformat(DAY), root / "staging" / DAY)


def test_poison_lines_become_quarantine_rows_and_the_day_loads(pipeline):
    """Through the real daily job: every poison line quarantined with a reason, the rest loaded,
    the reconciliation check passes. IDs that are common words (in a quarantined line or a valid one) do not
    make other users' texts a leak."""
    good = [
        resume_event(resume_text="Ten years of experience with undefined requirements."),
        interaction(occurred_at="2026-11-02T09:00:00Z"),
        # A buggy or hostile client's user ID that is a common word of other users' texts.
        interaction(occurred_at="2026-11-02T09:30:00Z", user_id="undefined"),
    ]
    poison = [json.dumps(event).encode() for event in OUT_OF_RANGE.values()]
    poison += [b'{"event_id": "\x00"}', b"\xff\xfe", b'{"version": 1e400}', b"[" * 5000]
    poison += [b'{"user_id": "experience"}']
    # 1,080,000 characters once NFKC-normalised (the contract refuses it); a torn write longer than any event.
    poison += [json.dumps(resume_event(tailored_text="\ufdfa" * 60_000)).encode(), b"\0" * (MAX_LINE_BYTES + 1)]
    _raw_file(pipeline.raw_dir, [*poison, *(json.dumps(e).encode() for e in good)])
    result = pipeline.run(DAY)
    assert result.success
    checks = {e.check_name: e.passed for e in result.get_asset_check_evaluations()}
    assert checks["raw_lines_reconcile"]
    loaded = pipeline.query(
        "SELECT event_id FROM analytics.resume_events UNION ALL SELECT event_id FROM analytics.interactions"
    )
    assert sorted(v for (v,) in loaded) == sorted(e["event_id"] for e in good)
    reasons = pipeline.query("SELECT reason_code, reason FROM analytics.quarantine")
    assert len(reasons) == len(poison) and all(code and reason for code, reason in reasons)


def test_a_value_arrow_cannot_hold_is_quarantined_not_fatal(tmp_path, scrubber, monkeypatch):
    """Behind the contract: should it ever let through a value the table's column type cannot
    hold, that line is quarantined and the rest of its chunk still loads."""
    from analytics_pipeline import cleaning

    def too_big_version(content):
        event = parse_event_line(content)
        return event.model_copy(update={"version": 2**40}) if b"too-big" in content else event

    monkeypatch.setattr(cleaning, "parse_event_line", too_big_version)
    lines = [json.dumps(resume_event(resume_id="too-big")).encode(), json.dumps(resume_event()).encode()]
    _raw_file(tmp_path / "raw", lines)
    counts = _stage_and_load(tmp_path / "raw", tmp_path, scrubber)
    assert counts == {"resume_events": 1, "interactions": 0, "quarantine": 1}


def _quarantine_rows(root: Path) -> list[tuple]:
    with warehouse.connect(root / "warehouse.duckdb") as conn:
        return conn.sql("SELECT line_number, reason_code, reason FROM analytics.quarantine ORDER BY 1").fetchall()


def test_a_text_nfkc_makes_longer_than_the_contract_allows_is_refused_and_quarantined(tmp_path, scrubber):
    """U+FDFA is 18 characters once NFKC-normalised: 60,000 of them passed the contract (and the API) but became
    1,080,000 characters, past spaCy's max_length, and the whole day failed with E088. The limit holds for the
    normalised text: such an event is refused (by field and rule), a text normalised to exactly the limit loads."""
    ligatures = resume_event(resume_text="Led the data team", tailored_text="\ufdfa" * 60_000)
    at_limit = resume_event(job_description="\u2475" * 66_666 + "12")  # "⑵" is "(2)": 200,000 characters
    past_limit = resume_event(resume_text="\u2475" * 66_667)
    lines = [json.dumps(e).encode() for e in (ligatures, at_limit, past_limit, resume_event())]
    for line, field in ((lines[0], "tailored_text"), (lines[2], "resume_text")):
        with pytest.raises(InvalidEvent, match=f"{field}: .*at most 200000 characters once normalised"):
            parse_event_line(line)
    _raw_file(tmp_path / "raw", lines)
    counts = _stage_and_load(tmp_path / "raw", tmp_path, scrubber)
    assert counts == {"resume_events": 2, "interactions": 0, "quarantine": 2}
    assert [(number, code) for number, code, _ in _quarantine_rows(tmp_path)] == [
        (1, "invalid_field"),
        (3, "invalid_field"),
    ]


def test_a_line_longer_than_any_event_is_quarantined_and_the_next_lines_load(tmp_path, scrubber):
    """A torn write of NULs (4 MiB and more, no event is that long) is one quarantine row; line numbers stay right."""
    lines = [json.dumps(resume_event()).encode(), b"\0" * (MAX_LINE_BYTES + 1), json.dumps(interaction()).encode()]
    _raw_file(tmp_path / "raw", lines)
    counts = _stage_and_load(tmp_path / "raw", tmp_path, scrubber)
    assert counts == {"resume_events": 1, "interactions": 1, "quarantine": 1}
    assert _quarantine_rows(tmp_path) == [(2, "line_too_long", f"a line is at most {MAX_LINE_BYTES} bytes")]


# --- property: what the API accepts, the pipeline loads ----------------------------------------

offsets = st.integers(-23 * 60 - 59, 23 * 60 + 59).map(lambda m: timezone(timedelta(minutes=m)))
timestamps = st.builds(
    lambda dt, tz: dt.replace(tzinfo=UTC).astimezone(tz).isoformat(),
    st.datetimes(
        EARLIEST_TIMESTAMP.replace(tzinfo=None), (LATEST_TIMESTAMP - timedelta(seconds=1)).replace(tzinfo=None)
    ),
    offsets,
)
any_text = st.text(st.characters(codec="utf-8"), max_size=40)
identifiers = st.text(st.characters(codec="utf-8", exclude_categories=["Cc"]), min_size=1, max_size=20)
element_names = st.from_regex(r"\A[a-z]{1,5}[0-9]{0,2}(?:[-_.:#][a-z]{1,4}[0-9]{0,2}){0,3}\Z")
pages = st.lists(st.sampled_from(["editor", "u", "Jane", "a@b.co", "12345", ":id", "{id}", "x-y"]), max_size=4).map(
    lambda parts: "/" + "/".join(parts)
)


@st.composite
def hostile_valid_events(draw) -> dict:
    base = {"event_id": str(uuid.uuid4()), "occurred_at": draw(timestamps), "user_id": draw(identifiers)}
    if draw(st.booleans()):
        return base | {
            "event_type": "interaction",
            "action": draw(st.sampled_from(["click", "hover", "view"])),
            "element": draw(element_names),
            "page": draw(pages),
        }
    return base | {
        "event_type": draw(st.sampled_from(["resume.tailor", "resume.refine", "resume.copy"])),
        "resume_id": draw(identifiers),
        "version": draw(st.sampled_from([1, 2, MAX_VERSION - 1, MAX_VERSION]) | st.integers(1, MAX_VERSION)),
        "is_refinement": draw(st.booleans()),
        "resume_text": draw(any_text),
        "ats_score": draw(st.none() | st.floats(0, 100) | st.integers(0, 100)),
        "tailoring_mode": draw(st.sampled_from([*TAILORING_MODES, "x" * 129, "me@example.com", ""])),
    }


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(events=st.lists(hostile_valid_events(), min_size=1, max_size=8))
def test_every_event_the_api_accepts_stages_and_loads(events, tmp_path_factory, scrubber):
    root = tmp_path_factory.mktemp("property")
    received_at = datetime(2026, 11, 2, 12, tzinfo=UTC)
    valid, errors = decode_events(Body(json.dumps({"batch": events}).encode()), (MAX_REQUEST_BYTES, 1000, 3 * 2**20))
    assert not errors and len(valid) == len(events), errors
    (root / "raw" / DAY).mkdir(parents=True)
    (root / "raw" / DAY / "events.jsonl").write_bytes(encode_lines(stamp_received(valid, received_at)))
    counts = _stage_and_load(root / "raw", root, scrubber)
    assert counts["quarantine"] == 0
    assert counts["resume_events"] + counts["interactions"] == len(events)


# --- bodies parsed off the event loop ------------------------------------------------------------


def max_size_body() -> bytes:
    """A valid batch just under the request limit: long texts of many small JSON values."""
    body = body_bench.max_size_body("resumes")
    assert MAX_REQUEST_BYTES * 0.9 < len(body) <= MAX_REQUEST_BYTES
    return body


# Each body is sent by its own process, so neither the senders nor the server share the prober's GIL.
SENDER = (
    "import http.client, sys; body = open(sys.argv[2], 'rb').read(); "
    "c = http.client.HTTPConnection('127.0.0.1', int(sys.argv[1]), timeout=120); "
    "c.request('POST', '/v1/batch', body, {'Authorization': sys.argv[3], 'Content-Type': 'application/json'}); "
    "print(c.getresponse().status)"
)


def probe(client: httpx.Client, url: str) -> float:
    started = time.perf_counter()
    assert client.get(url + "/healthz").status_code == 200
    elapsed = time.perf_counter() - started
    time.sleep(0.02)
    return elapsed


def test_healthz_stays_fast_while_four_max_size_bodies_are_parsed(tmp_path):
    """The server in its own process, as deployed; /healthz probed while four maximum-size bodies arrive."""
    body_file = tmp_path / "body.json"
    body_file.write_bytes(max_size_body())
    port = free_port()
    env = os.environ | {"ANALYTICS_WRITE_KEY": TEST_WRITE_KEY, "ANALYTICS_RAW_DIR": str(tmp_path / "raw")}
    command = [sys.executable, "-m", "analytics_pipeline.ingest.serve", "--port", str(port)]
    server = subprocess.Popen(command, env=env, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    latencies: list[float] = []
    try:
        wait_healthy(port, server)
        with httpx.Client(timeout=5) as health:
            baseline = sorted(probe(health, url) for _ in range(100))  # same machine load, no bodies
            senders = [
                subprocess.Popen(
                    [sys.executable, "-c", SENDER, str(port), str(body_file), AUTH["Authorization"]],
                    stdout=subprocess.PIPE,
                    text=True,
                )
                for _ in range(4)
            ]
            peak_rss = 0
            while any(sender.poll() is None for sender in senders):
                latencies.append(probe(health, url))
                peak_rss = max(peak_rss, body_bench.tree_rss(server.pid)[1])
        statuses = [sender.communicate()[0].strip() for sender in senders]
    finally:
        server.terminate()
        server.wait(timeout=30)
    assert statuses == ["200"] * 4
    latencies.sort()
    assert len(latencies) > 20
    p99 = latencies[int(len(latencies) * 0.99)]
    # A timed test on a shared 2-core machine: the bound shows /healthz is not held for a whole parse
    # (2.4 s per body before); the precise numbers are printed and reported, not asserted.
    summary = f"/healthz p50 {latencies[len(latencies) // 2] * 1000:.0f} ms, p99 {p99 * 1000:.0f} ms, "
    summary += f"max {latencies[-1] * 1000:.0f} ms over {len(latencies)} probes; without bodies: "
    summary += f"p50 {baseline[50] * 1000:.0f} ms, p99 {baseline[99] * 1000:.0f} ms; "
    summary += f"server + parsers peak RSS {peak_rss / 2**20:.0f} MiB"
    print(summary)
    assert latencies[len(latencies) // 2] < 0.1 and latencies[-1] < 1.0, summary
    # Memory is bounded by the parse slots, not the bodies: four 32 MB bodies once cost ~760 MB each.
    assert peak_rss < 2**30, summary


# --- identifier fields and the residual-PII gate -------------------------------------------------


def test_the_gate_scans_every_text_column_including_identifiers():
    assert {"tailoring_mode", "source_file", "resume_text"} <= set(SCANNED_TEXT_COLUMNS[RESUME_EVENTS.name])
    assert {"element", "page", "source_file"} <= set(SCANNED_TEXT_COLUMNS[INTERACTIONS.name])
    detector = ResidualPiiDetector()
    for leaky in ("ssn-536-22-8899", "call-415-555-0187", "/u/jane@example.com/profile", "tel.415.555.0187"):
        row = {"event_id": "e", "element": leaky, "page": None, "action": "click", "source_file": "d/f.jsonl"}
        assert not detector.scan_rows([row], SCANNED_TEXT_COLUMNS[INTERACTIONS.name], []).clean, leaky


def test_a_day_whose_gate_fails_is_not_readable_and_nothing_downstream_runs(pipeline):
    """The scrubber cannot know a raw user ID that an app wrote into a text; the gate can. The day,
    loaded clean before, disappears from analytics.* and staging, and users does not run."""
    clean = [resume_event(user_id="usr_leaky1"), interaction(user_id="usr_other1", occurred_at="2026-11-02T09:00:00Z")]
    path = _raw_file(pipeline.raw_dir, [json.dumps(e).encode() for e in clean])
    assert pipeline.run(DAY).success
    assert pipeline.query("SELECT count(*) FROM analytics.resume_events") == [(1,)]
    leaky = resume_event(user_id="usr_leaky1", resume_text="Support ticket for account usr_leaky1, thanks")
    with path.open("ab") as handle:
        handle.write(json.dumps(leaky).encode() + b"\n")
    result = pipeline.run(DAY)
    assert not result.success
    for table in ("resume_events", "interactions", "quarantine"):
        assert pipeline.query(f"SELECT count(*) FROM analytics.{table}") == [(0,)], table
    assert not (pipeline.root / "staging" / DAY).exists()
    materialized = {e.asset_key.to_user_string() for e in result.get_asset_materialization_events()}
    assert materialized == {"staging/scrubbed_events"}  # neither the tables nor users
    failure = next(e for e in result.all_events if e.event_type_value == "STEP_FAILURE")
    assert "usr_leaky1" not in str(failure.event_specific_data)
