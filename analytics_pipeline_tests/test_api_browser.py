"""The ingestion API called from web pages, over real HTTP: CORS, the browser key, beacon bodies."""

from __future__ import annotations

import gzip
import json

import httpx
import pytest

from analytics_pipeline.ingest.api import IngestSettings, create_app, settings_from_env
from analytics_pipeline.ingest.browser import MAX_BEACON_BYTES, RateLimiter, parse_origins
from analytics_pipeline.ingest.serve import ConnectionGuard, running_server
from analytics_pipeline_tests.ingest_helpers import TEST_WRITE_KEY, ingest_server, interaction, raw_event_ids

APP = "http://app.example.test"
OTHER = "http://evil.example.test"
BROWSER_KEY = "browser-key-not-secret"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    settings = {"allowed_origins": frozenset({APP}), "browser_write_key": BROWSER_KEY, "browser_rate_limit": 100}
    with ingest_server(tmp_path_factory.mktemp("browser") / "raw", **settings) as running:
        yield running


def preflight(server, origin):
    headers = {
        "Origin": origin,
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization, content-type",
    }
    return httpx.options(server.url + "/v1/batch", headers=headers)


def beacon(server, body, origin=APP):
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    headers = {"Content-Type": "text/plain;charset=UTF-8", "Origin": origin}
    return httpx.post(server.url + "/v1/batch", content=content, headers=headers)


def cors_headers(response) -> dict:
    return {k: v for k, v in response.headers.items() if k.lower().startswith("access-control-")}


def test_preflight_from_an_allowed_origin_is_answered_with_that_origin(server):
    response = preflight(server, APP)
    assert response.status_code == 204
    assert response.headers["access-control-allow-origin"] == APP
    assert "POST" in response.headers["access-control-allow-methods"]
    allowed = {h.strip().lower() for h in response.headers["access-control-allow-headers"].split(",")}
    assert {"authorization", "content-type"} <= allowed


@pytest.mark.parametrize("origin", [OTHER, APP + ".evil.test", "null", APP.upper()])
def test_other_origins_get_no_cors_headers(server, origin):
    response = preflight(server, origin)
    assert response.status_code == 403
    assert cors_headers(response) == {}
    posted = httpx.post(
        server.url + "/v1/batch",
        json={"batch": [interaction()]},
        headers={"Origin": origin, "Authorization": f"Bearer {TEST_WRITE_KEY}"},
    )
    assert posted.status_code == 200  # the server key works from anywhere; the browser just cannot read it
    assert cors_headers(posted) == {}


def test_responses_to_an_allowed_origin_carry_cors_headers_even_when_refused(server):
    response = httpx.post(server.url + "/v1/batch", json={"batch": []}, headers={"Origin": APP})
    assert response.status_code == 401
    assert response.headers["access-control-allow-origin"] == APP
    assert "Retry-After" in response.headers["access-control-expose-headers"]


def test_a_text_plain_beacon_with_the_key_is_accepted_and_the_key_is_not_stored(server):
    event = interaction()
    response = beacon(server, {"writeKey": BROWSER_KEY, "batch": [event]})
    assert response.status_code == 200, response.text
    assert response.json()["accepted"] == 1
    assert event["event_id"] in raw_event_ids(server.raw_dir)
    stored = "".join(p.read_text() for p in server.raw_dir.glob("*/*.jsonl"))
    assert BROWSER_KEY not in stored and "writeKey" not in stored


def test_the_server_key_works_in_a_beacon_too(server):
    assert beacon(server, {"writeKey": TEST_WRITE_KEY, "batch": [interaction()]}, origin=OTHER).status_code == 200


@pytest.mark.parametrize(
    "body",
    [
        {"batch": [interaction()]},
        {"writeKey": "wrong", "batch": [interaction()]},
        {"writeKey": None, "batch": [interaction()]},
        {"writeKey": [BROWSER_KEY], "batch": [interaction()]},
        {"writeKey": "\ud800", "batch": [interaction()]},  # a lone surrogate, escaped: no UTF-8 form
        {"writeKey": BROWSER_KEY[:4] + "\udfff", "batch": []},
    ],
)
def test_a_beacon_without_a_valid_key_is_401(server, body):
    response = beacon(server, body)
    assert response.status_code == 401
    assert response.json()["error"] == "unauthorized"


@pytest.mark.parametrize("body", [b"not json", b"[1, 2]", b'"writeKey"', b"\xff\xfe"])
def test_a_malformed_beacon_is_4xx(server, body):
    assert beacon(server, body).status_code in (400, 401)


def test_a_beacon_is_at_most_64_kib(server):
    body = {"writeKey": BROWSER_KEY, "batch": [interaction(user_id="u" * 200)] * 400}
    assert len(json.dumps(body)) > MAX_BEACON_BYTES
    assert beacon(server, body).status_code == 413


def test_a_gzip_beacon_is_at_most_64_kib_once_inflated(server):
    """Also with a valid key: the limit holds after decompression (it once was the 32 MiB request limit)."""
    inflated = json.dumps({"writeKey": BROWSER_KEY, "batch": [interaction()]}).encode()[:-2] + b" " * 70_000 + b"]}"
    headers = {"Content-Type": "text/plain", "Content-Encoding": "gzip", "Origin": APP}
    response = httpx.post(server.url + "/v1/batch", content=gzip.compress(inflated), headers=headers)
    assert response.status_code == 413
    small = gzip.compress(json.dumps({"writeKey": BROWSER_KEY, "batch": [interaction()]}).encode())
    assert httpx.post(server.url + "/v1/batch", content=small, headers=headers).status_code == 200


def test_a_beacons_key_is_its_first_member(server):
    """Checked before the body is parsed, so it must come first (the JS client sends it first)."""
    later = '{"batch": [' + json.dumps(interaction()) + '], "writeKey": "' + BROWSER_KEY + '"}'
    assert beacon(server, later.encode()).status_code == 401
    spaced = ' \n{ "writeKey" :\t"' + BROWSER_KEY + '", "batch": [' + json.dumps(interaction()) + "]}"
    assert beacon(server, spaced.encode()).status_code == 200
    escaped = '{"writeKey": "' + BROWSER_KEY.replace("-", "\\u002d") + '", "batch": []}'
    assert beacon(server, escaped.encode()).status_code == 200


@pytest.mark.parametrize("origin", [None, OTHER])
def test_the_browser_key_needs_an_allowed_origin(server, origin):
    headers = {"Authorization": f"Bearer {BROWSER_KEY}", **({"Origin": origin} if origin else {})}
    response = httpx.post(server.url + "/v1/batch", json={"batch": [interaction()]}, headers=headers)
    assert response.status_code == 403
    assert response.json()["error"] == "origin_not_allowed"
    response = beacon(server, {"writeKey": BROWSER_KEY, "batch": [interaction()]}, origin=origin or "")
    assert response.status_code == 403


def test_the_browser_key_is_rate_limited_per_address_with_retry_after(tmp_path):
    settings = {"allowed_origins": frozenset({APP}), "browser_write_key": BROWSER_KEY, "browser_rate_limit": 3}
    with ingest_server(tmp_path / "raw", **settings) as server:
        headers = {"Authorization": f"Bearer {BROWSER_KEY}", "Origin": APP}
        statuses = [
            httpx.post(server.url + "/v1/batch", json={"batch": [interaction()]}, headers=headers).status_code
            for _ in range(3)
        ]
        limited = beacon(server, {"writeKey": BROWSER_KEY, "batch": [interaction()]})
        server_key = httpx.post(
            server.url + "/v1/batch",
            json={"batch": [interaction()]},
            headers={"Authorization": f"Bearer {TEST_WRITE_KEY}"},
        )
    assert statuses == [200, 200, 200]
    assert limited.status_code == 429
    assert 1 <= int(limited.headers["retry-after"]) <= 60
    assert limited.headers["access-control-allow-origin"] == APP  # the page can read the 429
    assert server_key.status_code == 200  # the server key is not limited
    assert len(raw_event_ids(tmp_path / "raw")) == 4


def test_rate_limiter_windows():
    now = [0.0]
    limiter = RateLimiter(2, clock=lambda: now[0])
    assert [limiter.retry_after("a"), limiter.retry_after("a"), limiter.retry_after("b")] == [0, 0, 0]
    now[0] = 20.0
    assert limiter.retry_after("a") == 40
    now[0] = 60.0
    assert limiter.retry_after("a") == 0
    assert limiter.counts == {"a": 1}  # old addresses are forgotten: memory stays bounded


def test_parse_origins():
    assert parse_origins(" https://a.example/, http://localhost:3000 ,,") == {
        "https://a.example",
        "http://localhost:3000",
    }
    assert parse_origins(None) == frozenset()


def test_settings_from_env(monkeypatch, tmp_path):
    monkeypatch.setenv("ANALYTICS_RAW_DIR", str(tmp_path))
    monkeypatch.setenv("ANALYTICS_WRITE_KEY", TEST_WRITE_KEY)
    monkeypatch.setenv("ANALYTICS_BROWSER_WRITE_KEY", BROWSER_KEY)
    monkeypatch.delenv("ANALYTICS_ALLOWED_ORIGINS", raising=False)
    with pytest.raises(RuntimeError, match="ANALYTICS_ALLOWED_ORIGINS"):
        settings_from_env()
    monkeypatch.setenv("ANALYTICS_ALLOWED_ORIGINS", APP)
    monkeypatch.setenv("ANALYTICS_BROWSER_RATE_LIMIT", "7")
    settings = settings_from_env()
    assert (settings.browser_write_key, settings.allowed_origins, settings.browser_rate_limit) == (
        BROWSER_KEY,
        frozenset({APP}),
        7,
    )


def test_the_connection_guards_busy_answer_carries_cors_headers_for_allowed_origins(tmp_path):
    """The guard's 503 never passes the app's CORS middleware: it adds the same headers itself, so a page can
    read the answer and its Retry-After (for a fetch and a beacon alike); other origins still get none."""
    settings = IngestSettings(
        raw_dir=tmp_path / "raw",
        write_key=TEST_WRITE_KEY,
        allowed_origins=frozenset({APP}),
        browser_write_key=BROWSER_KEY,
    )
    guard = ConnectionGuard(max_in_flight=0, max_unauthenticated=0, allowed_origins=settings.allowed_origins)
    with running_server(create_app(settings), guard=guard) as url:
        server = type("Server", (), {"url": url})
        for origin in (APP, OTHER):
            fetched = httpx.post(
                url + "/v1/batch",
                json={"batch": [interaction()]},
                headers={"Origin": origin, "Authorization": f"Bearer {BROWSER_KEY}"},
            )
            beaconed = beacon(server, {"writeKey": BROWSER_KEY, "batch": [interaction()]}, origin=origin)
            for response in (fetched, beaconed):
                assert (response.status_code, response.json()["error"]) == (503, "busy")
                assert response.headers["retry-after"] == "1"
                if origin == APP:
                    assert response.headers["access-control-allow-origin"] == APP
                    assert "retry-after" in response.headers["access-control-expose-headers"].lower()
                else:
                    assert cors_headers(response) == {}
    assert not (tmp_path / "raw").exists()
