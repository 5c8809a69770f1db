"""The ingestion API over real HTTP (uvicorn on loopback): auth, limits, validation, durability."""

from __future__ import annotations

import gzip
import json
import os
import stat
import subprocess
import sys

import httpx
import pytest

from analytics_pipeline.contract import MAX_TEXT_CHARS
from analytics_pipeline.ingest.api import DEV_MODE_ENV, settings_from_env
from analytics_pipeline_tests.ingest_helpers import (
    TEST_WRITE_KEY,
    ingest_server,
    interaction,
    raw_event_ids,
)
from tools.load_bench import free_port, wait_healthy

AUTH = {"Authorization": f"Bearer {TEST_WRITE_KEY}"}
SECRET = "jane.doe@example.com"  # a PII-looking value that must never be echoed back


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with ingest_server(tmp_path_factory.mktemp("api") / "raw") as running:
        yield running


@pytest.fixture(scope="module")
def small_server(tmp_path_factory):
    limits = {"max_request_bytes": 64 * 1024, "max_event_bytes": 16 * 1024, "max_batch_events": 10}
    with ingest_server(tmp_path_factory.mktemp("small") / "raw", **limits) as running:
        yield running


def post(server, path, body, headers=None, *, auth=True):
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    all_headers = {"Content-Type": "application/json", **(AUTH if auth else {}), **(headers or {})}
    return httpx.post(server.url + path, content=content, headers=all_headers, timeout=30)


def test_healthz(server):
    assert httpx.get(server.url + "/healthz").json() == {"status": "ok"}


@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Bearer wrong-key"}, {"Authorization": f"Basic {TEST_WRITE_KEY}"}],
)
def test_requires_the_write_key(server, headers):
    event = interaction()
    response = post(server, "/v1/batch", {"batch": [event]}, headers, auth=False)
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"
    assert event["event_id"] not in raw_event_ids(server.raw_dir)


def test_accepted_events_are_on_disk_before_the_response(server):
    events = [interaction() for _ in range(5)]
    response = post(server, "/v1/batch", {"batch": events})
    assert response.status_code == 200
    assert response.json() == {"accepted": 5, "rejected": 0, "errors": []}
    stored = raw_event_ids(server.raw_dir)
    assert all(stored.count(e["event_id"]) == 1 for e in events)


def test_single_event_endpoint_and_gzip(server):
    event = interaction()
    body = gzip.compress(json.dumps(event).encode())
    response = post(server, "/v1/event", body, {"Content-Encoding": "gzip"})
    assert response.status_code == 200 and response.json()["accepted"] == 1
    assert event["event_id"] in raw_event_ids(server.raw_dir)


def test_partly_valid_batch_keeps_the_valid_events(server):
    good = [interaction(), interaction()]
    bad_action = interaction(action="poke", element=SECRET)
    batch = [good[0], bad_action, "not an event", good[1], interaction(event_type="payment")]
    response = post(server, "/v1/batch", {"batch": batch})
    assert response.status_code == 200
    result = response.json()
    assert result["accepted"] == 2 and result["rejected"] == 3
    assert [(e["index"], e["code"]) for e in result["errors"]] == [
        (1, "invalid_field"),
        (2, "not_an_object"),
        (4, "unknown_event_type"),
    ]
    assert "action" in result["errors"][0]["detail"]
    assert SECRET not in response.text
    stored = raw_event_ids(server.raw_dir)
    assert {e["event_id"] for e in good} <= set(stored)
    assert bad_action["event_id"] not in stored


def test_server_sets_received_at_and_drops_unknown_fields(server):
    event = interaction(received_at="2000-01-01T00:00:00Z", ip_address="203.0.113.9")
    assert post(server, "/v1/event", event).status_code == 200
    line = next(
        json.loads(path.read_text().splitlines()[-1])
        for path in server.raw_dir.glob("*/*.jsonl")
        if event["event_id"] in path.read_text()
    )
    assert line["event_id"] == event["event_id"]
    assert not line["received_at"].startswith("2000")
    assert "ip_address" not in line


def test_all_invalid_batch_is_400_with_value_free_reasons(server):
    response = post(server, "/v1/batch", {"batch": [interaction(user_id=""), {"email": SECRET}]})
    assert response.status_code == 400
    assert [e["index"] for e in response.json()["errors"]] == [0, 1]
    assert SECRET not in response.text


@pytest.mark.parametrize(
    ("body", "headers", "code"),
    [
        (b'{"batch": [', {}, "invalid_json"),
        (b'{"batch": [NaN]}', {}, "invalid_json"),
        (b"[" * 100_000 + b"]" * 100_000, {}, "invalid_json"),
        (b"\xff\xfe\x00garbage", {}, "invalid_json"),
        (b'{"events": []}', {}, "bad_request"),
        (b'{"batch": {}}', {}, "bad_request"),
        (b'{"batch": []}', {"Content-Type": "application/x-www-form-urlencoded"}, "unsupported_content_type"),
        (b'{"batch": []}', {"Content-Encoding": "gzip"}, "invalid_gzip"),
        (gzip.compress(b'{"batch": []}', mtime=0)[:-6], {"Content-Encoding": "gzip"}, "invalid_gzip"),
        (gzip.compress(b'{"batch": []}', mtime=0) + b"\x00garbage", {"Content-Encoding": "gzip"}, "invalid_gzip"),
        (b'{"batch": []}', {"Content-Encoding": "br"}, "unsupported_encoding"),
    ],
)
def test_malformed_requests_are_400(server, body, headers, code):
    response = post(server, "/v1/batch", body, headers)
    assert response.status_code == 400
    assert response.json()["error"] == code


def test_a_gzip_body_of_several_members_is_read_whole(server):
    event = interaction()
    body = gzip.compress(b'{"batch": [', mtime=0) + gzip.compress(json.dumps(event).encode() + b"]}", mtime=0)
    response = post(server, "/v1/batch", body, {"Content-Encoding": "gzip"})
    assert response.status_code == 200 and response.json()["accepted"] == 1


def test_real_resume_sizes_fit_the_default_limits(server):
    # The contract's maximum: three texts of 200,000 characters, non-ASCII included.
    text = ("Senior engineer, Zürich — " * 10_000)[:MAX_TEXT_CHARS]
    event = interaction() | {
        "event_type": "resume.tailor",
        "resume_id": "synthetic-resume",
        "version": 1,
        "resume_text": text,
        "job_description": text,
        "tailored_text": text,
    }
    del event["action"], event["element"]
    response = post(server, "/v1/batch", {"batch": [event, event | {"event_id": interaction()["event_id"]}]})
    assert response.status_code == 200 and response.json()["accepted"] == 2
    # 60,000 characters that NFKC makes 1,080,000: refused at once, naming the field and the rule.
    ligatures = event | {"event_id": interaction()["event_id"], "tailored_text": "\ufdfa" * 60_000}
    response = post(server, "/v1/batch", {"batch": [ligatures]})
    assert response.status_code == 400 and "tailored_text" in response.text and "\ufdfa" not in response.text


def test_size_limits_are_413(small_server):
    too_long = b'{"batch": [' + b" " * 70 * 1024 + b"]}"
    assert post(small_server, "/v1/batch", too_long).status_code == 413
    bomb = gzip.compress(b'{"batch": [' + b" " * 10_000_000 + b"]}")
    response = post(small_server, "/v1/batch", bomb, {"Content-Encoding": "gzip"})
    assert response.status_code == 413 and len(bomb) < 64 * 1024
    assert post(small_server, "/v1/batch", {"batch": [interaction()] * 11}).status_code == 413

    big = interaction(element="x" * 100, page="p" * 100, user_id="u" * 256) | {"pad": "y" * 20_000}
    assert post(small_server, "/v1/event", big).status_code == 413
    ok = interaction()
    response = post(small_server, "/v1/batch", {"batch": [big, ok]})
    assert response.status_code == 200
    assert response.json()["errors"] == [
        {"index": 0, "code": "event_too_large", "detail": "an event is at most 16384 bytes"}
    ]
    assert ok["event_id"] in raw_event_ids(small_server.raw_dir)


def test_storage_failure_is_503_and_stores_nothing(tmp_path):
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("")
    with ingest_server(blocker / "raw") as broken:
        response = post(broken, "/v1/batch", {"batch": [interaction()]})
    assert response.status_code == 503
    assert response.headers["retry-after"] == "1"


def test_raw_files_are_private(server):
    post(server, "/v1/event", interaction())
    files = list(server.raw_dir.glob("*/*.jsonl"))
    assert files
    for path in files:
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert stat.S_IMODE(server.raw_dir.stat().st_mode) == 0o700


def test_refuses_to_start_without_a_write_key(monkeypatch, tmp_path):
    monkeypatch.delenv("ANALYTICS_WRITE_KEY", raising=False)
    monkeypatch.delenv(DEV_MODE_ENV, raising=False)
    with pytest.raises(RuntimeError, match="ANALYTICS_WRITE_KEY is not set"):
        settings_from_env()
    monkeypatch.setenv(DEV_MODE_ENV, "1")
    assert settings_from_env().write_key is None

    env = {k: v for k, v in os.environ.items() if k not in ("ANALYTICS_WRITE_KEY", DEV_MODE_ENV)}
    result = subprocess.run(
        [sys.executable, "-m", "analytics_pipeline.ingest.serve", "--port", "1"],
        env=env | {"ANALYTICS_RAW_DIR": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "refusing to accept events without authentication" in result.stderr


def test_serve_command_runs_workers_and_stores_events(tmp_path):
    """The real console command, in loudly logged dev mode, with two worker processes."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("ANALYTICS_WRITE_KEY", DEV_MODE_ENV)}
    command = [sys.executable, "-m", "analytics_pipeline.cli", "serve", "--dev", "--workers", "2"]
    server = subprocess.Popen(
        [*command, "--port", str(port)],
        env=env | {"ANALYTICS_RAW_DIR": str(tmp_path)},
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        wait_healthy(port, server)
        event = interaction()
        url = f"http://127.0.0.1:{port}/v1/event"
        # The first request starts the parser processes: allow for a loaded machine.
        assert httpx.post(url, json=event, timeout=60).status_code == 200
    finally:
        server.terminate()
        _, stderr = server.communicate(timeout=30)
    assert raw_event_ids(tmp_path) == [event["event_id"]]
    assert "the API accepts events from ANYONE" in stderr


def test_dev_mode_accepts_without_a_key_and_says_so(tmp_path, caplog):
    with ingest_server(tmp_path / "raw", write_key=None) as dev:
        response = post(dev, "/v1/event", interaction(), auth=False)
    assert response.status_code == 200
    assert "INSECURE DEV MODE" in caplog.text
