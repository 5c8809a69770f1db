"""Fuzzing the ingestion API over real HTTP: hostile payloads never cause a 5xx or a corrupt raw log."""

from __future__ import annotations

import gzip
import json

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from analytics_pipeline.contract import parse_event_line
from analytics_pipeline.raw_log import available_days, iter_raw_lines
from analytics_pipeline_tests.ingest_helpers import TEST_WRITE_KEY, ingest_server, interaction

LIMIT = 64 * 1024

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=50),
    lambda children: st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=10), children, max_size=5),
    max_leaves=20,
)
hostile_strings = st.sampled_from(
    ["", " ", "\x00", "\u202e", "😀" * 10, "a" * 300, "2026-13-45T99:00:00Z", "NaN", "-1", "1e309"]
) | st.text(max_size=40)
event_fields = st.sampled_from(
    [
        "event_id",
        "occurred_at",
        "received_at",
        "user_id",
        "event_type",
        "action",
        "element",
        "page",
        "resume_id",
        "version",
        "ats_score",
        "resume_text",
        "is_refinement",
    ]
)


@st.composite
def mutated_events(draw) -> dict:
    """A valid event with some fields replaced by hostile values, or removed."""
    event = interaction()
    if draw(st.booleans()):
        event |= {"event_type": draw(st.sampled_from(["resume.tailor", "resume.copy"])), "resume_id": "r", "version": 1}
    for field in draw(st.lists(event_fields, max_size=3)):
        choice = draw(st.integers(0, 2))
        if choice == 0:
            event.pop(field, None)
        else:
            event[field] = draw(hostile_strings if choice == 1 else json_values)
    return event


def batch_body(events: list) -> bytes:
    return json.dumps({"batch": events}).encode()


raw_json_tricks = st.sampled_from(
    [
        b'{"batch": [{"user_id": "\\ud800"}]}',  # a lone surrogate
        b'{"batch": [' + b"[" * 5000 + b"]" * 5000 + b"]}",  # deep nesting
        b'{"batch": [1e999999]}',
        b'{"batch": [Infinity, -Infinity, NaN]}',
        b'{"batch": null}',
        b"\xef\xbb\xbf{}",  # a UTF-8 byte-order mark
        b'{"batch": ["' + b"x" * (LIMIT + 10) + b'"]}',  # over the request limit
    ]
)

bodies = (
    st.binary(max_size=2000)
    | json_values.map(lambda v: json.dumps(v).encode())
    | st.lists(mutated_events(), max_size=8).map(batch_body)
    | st.lists(json_values, max_size=5).map(batch_body)
    | raw_json_tricks
    | raw_json_tricks  # twice: these are the likeliest to find a crash
)


@pytest.fixture(scope="module")
def fuzz_server(tmp_path_factory):
    limits = {"max_request_bytes": LIMIT, "max_event_bytes": 8 * 1024, "max_batch_events": 6}
    with (
        ingest_server(tmp_path_factory.mktemp("fuzz") / "raw", **limits) as server,
        httpx.Client(base_url=server.url, timeout=30) as http,
    ):
        yield server, http


# database=None: no example database written into the working directory.
@settings(max_examples=300, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    body=bodies,
    path=st.sampled_from(["/v1/batch", "/v1/event"]),
    # Mostly valid headers, so most bodies get as far as the parser and the validator.
    content_type=st.sampled_from(["application/json"] * 4 + ["application/json; charset=utf-8", "text/plain", ""]),
    encoding=st.sampled_from(["identity"] * 3 + ["gzip"] * 3 + ["gzip-raw", "deflate"]),
    authorization=st.sampled_from([f"Bearer {TEST_WRITE_KEY}"] * 8 + ["Bearer x", ""]),
)
def test_hostile_requests_never_cause_a_5xx(fuzz_server, body, path, content_type, encoding, authorization):
    server, http = fuzz_server
    headers = {"Content-Type": content_type, "Authorization": authorization}
    if encoding == "gzip":
        body = gzip.compress(body)
    if encoding != "identity":
        headers["Content-Encoding"] = encoding.removesuffix("-raw")
    response = http.post(path, content=body, headers=headers)
    assert response.status_code in (200, 400, 401, 413), response.text
    assert response.headers["content-type"] == "application/json"


def test_the_fuzzed_raw_log_is_intact(fuzz_server):
    """After the fuzz test (file order): every stored line is a whole, valid event."""
    server, http = fuzz_server
    auth = {"Authorization": f"Bearer {TEST_WRITE_KEY}"}
    assert http.post("/v1/event", json=interaction(), headers=auth).status_code == 200
    stored = [
        parse_event_line(line.content)
        for day in available_days(server.raw_dir)
        for line in iter_raw_lines(server.raw_dir, day)
    ]
    assert stored
    assert all(event.received_at is not None for event in stored)
