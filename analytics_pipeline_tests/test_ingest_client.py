"""The logger client against a real uvicorn server: batching, gzip, retries, drops, flush at exit."""

from __future__ import annotations

import contextlib
import socket
import subprocess
import sys
import textwrap
import threading
import time

import pytest

from analytics_pipeline.contract import parse_event
from analytics_pipeline.ingest.analytics_hooks import get_client, log_interaction_event, set_client
from analytics_pipeline.ingest.client import AnalyticsClient, ClientStats, HttpTransport, RetryableSendError
from analytics_pipeline_tests.ingest_helpers import (
    TEST_WRITE_KEY,
    ingest_server,
    interaction,
    raw_event_ids,
)

FAST_RETRIES = {"backoff_base": 0.01, "backoff_max": 0.05}


def events(count: int) -> list:
    return [parse_event(interaction()) for _ in range(count)]


def http_client(server, write_key=TEST_WRITE_KEY, **options) -> AnalyticsClient:
    return AnalyticsClient(HttpTransport(server.url, write_key), **FAST_RETRIES | options)


def closed_port_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{sock.getsockname()[1]}"  # nothing listens once closed


def wait_until(condition, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


def test_batches_by_size_gzip_and_auth(tmp_path):
    with ingest_server(tmp_path) as server:
        client = http_client(server, batch_size=10, flush_interval=5)
        sent = events(35)
        for event in sent:
            assert client.enqueue(event)
        assert client.flush(timeout=10)
        client.shutdown()
    assert client.stats() == ClientStats(sent=35, retried=0, dropped=0, rejected=0, queued=0)
    requests = server.behaviour.seen
    assert len(requests) == 4  # 10 + 10 + 10 + the flushed 5, not one per event
    assert all(r["content-encoding"] == "gzip" for r in requests)
    assert all(r["authorization"] == f"Bearer {TEST_WRITE_KEY}" for r in requests)
    assert sorted(raw_event_ids(tmp_path)) == sorted(str(e.event_id) for e in sent)


def test_sends_a_partial_batch_after_the_interval(tmp_path):
    with ingest_server(tmp_path) as server:
        client = http_client(server, batch_size=100, flush_interval=0.05)
        client.enqueue(events(1)[0])
        # No flush(): the interval alone must send it.
        assert wait_until(lambda: client.stats().sent == 1)
        client.shutdown()


@pytest.mark.parametrize(("status", "retry_after"), [(503, None), (500, None), (429, "0")])
def test_retries_server_errors_and_429(tmp_path, status, retry_after):
    with ingest_server(tmp_path, fail_first=3, fail_status=status, retry_after=retry_after) as server:
        client = http_client(server, batch_size=5, sync=True)
        sent = events(5)
        for event in sent:
            client.enqueue(event)
        client.shutdown()
    stats = client.stats()
    assert (stats.sent, stats.dropped, stats.rejected) == (5, 0, 0)
    assert stats.retried == 3  # one event per attempt in sync mode: three refused attempts
    assert sorted(raw_event_ids(tmp_path)) == sorted(str(e.event_id) for e in sent)


@pytest.mark.parametrize(("write_key", "fail_first"), [("wrong-key", 0), (TEST_WRITE_KEY, 1)])
def test_does_not_retry_other_4xx(tmp_path, write_key, fail_first):
    with ingest_server(tmp_path, fail_first=fail_first, fail_status=400) as server:
        client = http_client(server, write_key=write_key, sync=True)
        client.enqueue(events(1)[0])
        client.shutdown()
        assert len(server.behaviour.seen) == 1
    assert client.stats() == ClientStats(sent=0, retried=0, dropped=0, rejected=1, queued=0)


def test_connection_errors_never_raise_and_count_as_dropped():
    client = AnalyticsClient(HttpTransport(closed_port_url(), "k"), sync=True, max_retries=2, **FAST_RETRIES)
    assert client.enqueue(events(1)[0])  # handed over; delivery failed quietly
    client.shutdown()
    assert client.stats() == ClientStats(sent=0, retried=2, dropped=1, rejected=0, queued=0)


def test_full_queue_drops_and_counts_without_blocking(tmp_path):
    gate = threading.Event()
    with ingest_server(tmp_path, gate=gate) as server:
        client = http_client(server, batch_size=1, max_queue_size=3, flush_interval=0.01)
        first = events(1)[0]
        client.enqueue(first)
        # Wait until the sender holds `first` in a request stuck at the gate.
        assert wait_until(lambda: server.behaviour.seen)
        accepted = [client.enqueue(e) for e in events(10)]
        assert accepted == [True] * 3 + [False] * 7
        assert client.stats().dropped == 7
        gate.set()
        assert client.flush(timeout=10)
        client.shutdown()
    assert client.stats() == ClientStats(sent=4, retried=0, dropped=7, rejected=0, queued=0)
    assert len(raw_event_ids(tmp_path)) == 4


def test_enqueue_after_shutdown_is_dropped(tmp_path):
    with ingest_server(tmp_path) as server:
        client = http_client(server)
        client.shutdown()
        assert client.enqueue(events(1)[0]) is False
    assert client.stats().dropped == 1


def test_rejects_bad_options():
    with pytest.raises(ValueError):
        AnalyticsClient(HttpTransport("http://127.0.0.1:1", None), batch_size=0)
    with pytest.raises(ValueError, match="http"):
        HttpTransport("ftp://example.org", None)


def test_flushes_the_queue_at_interpreter_exit(tmp_path):
    """The app never calls flush() or shutdown(): the tail must still arrive."""
    script = textwrap.dedent(
        """
        from analytics_pipeline.ingest.analytics_hooks import log_interaction_event, set_client
        from analytics_pipeline.ingest.client import AnalyticsClient
        set_client(AnalyticsClient.from_env(flush_interval=60, batch_size=1000))
        for _ in range(50):
            log_interaction_event(user_id="synthetic-user", action="click", element="b")
        """
    )
    with ingest_server(tmp_path) as server:
        env = {"ANALYTICS_ENDPOINT": server.url, "ANALYTICS_WRITE_KEY": TEST_WRITE_KEY}
        result = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=60)
        assert result.returncode == 0, result.stderr
    assert len(raw_event_ids(tmp_path)) == 50


def test_without_an_endpoint_writes_the_local_raw_log(tmp_path, monkeypatch):
    monkeypatch.delenv("ANALYTICS_ENDPOINT", raising=False)
    monkeypatch.setenv("ANALYTICS_RAW_DIR", str(tmp_path / "raw"))
    client = AnalyticsClient.from_env()
    sent = events(7)
    for event in sent:
        client.enqueue(event)
    client.shutdown(timeout=10)
    assert client.stats().sent == 7
    assert sorted(raw_event_ids(tmp_path / "raw")) == sorted(str(e.event_id) for e in sent)


# --- servers that misbehave: the client stays bounded in time and memory -------------------------


def misbehaving_server(answer) -> tuple[str, socket.socket]:
    """A one-thread-per-connection HTTP server on loopback that reads each request and calls ``answer(conn)``."""
    listener = socket.create_server(("127.0.0.1", 0))

    def handle(conn: socket.socket) -> None:
        with conn:
            data = b""
            while b"\r\n\r\n" not in data:
                if not (chunk := conn.recv(65536)):
                    return
                data += chunk
            head, _, body = data.partition(b"\r\n\r\n")
            length = int(
                next(
                    v for k, _, v in (h.partition(b":") for h in head.split(b"\r\n")) if k.lower() == b"content-length"
                )
            )
            while len(body) < length and (chunk := conn.recv(65536)):
                body += chunk
            with contextlib.suppress(OSError):
                answer(conn)

    def accept() -> None:
        with contextlib.suppress(OSError):
            while True:
                threading.Thread(target=handle, args=(listener.accept()[0],), daemon=True).start()

    threading.Thread(target=accept, daemon=True).start()
    return f"http://127.0.0.1:{listener.getsockname()[1]}", listener


def assert_send_is_retried(answer) -> None:
    """One batch sent to a server answering with ``answer`` ends in a retryable error, nothing counted as sent."""
    url, listener = misbehaving_server(answer)
    with listener:
        transport = HttpTransport(url, "k", timeout=5.0)
        with pytest.raises(RetryableSendError):
            transport.send(transport.prepare(events(3))[0])
        transport.close()


def tailoring_event(tailored_text: str):
    return parse_event(
        interaction()
        | {"event_type": "resume.tailor", "resume_id": "r", "version": 1, "tailored_text": tailored_text}
        | {"action": None, "element": None}
    )


def dripping(conn: socket.socket) -> None:
    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n")
    for _ in range(60):
        conn.sendall(b" ")
        time.sleep(1)


def test_a_server_that_drips_its_answer_is_cut_and_shutdown_stays_bounded():
    url, listener = misbehaving_server(dripping)
    with listener:
        client = AnalyticsClient(HttpTransport(url, "k", timeout=1.0), max_retries=0, **FAST_RETRIES)
        client.enqueue(events(1)[0])
        started = time.monotonic()
        assert wait_until(lambda: client.stats().dropped == 1, timeout=15)  # cut at 3 x timeout, not after 60 s
        assert time.monotonic() - started < 8
        client.enqueue(events(1)[0])
        started = time.monotonic()
        client.shutdown(timeout=1)
        assert time.monotonic() - started < 4  # closing does not wait for the blocked read


def test_a_huge_response_is_not_read_into_memory():
    def huge(conn: socket.socket) -> None:
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 1000000000\r\n\r\n")
        for _ in range(300):
            conn.sendall(b"x" * 1024 * 1024)

    assert_send_is_retried(huge)


@pytest.mark.parametrize("body", [b"<html>maintenance</html>", b'{"accepted": "five"}', b'{"accepted": 7}'])
def test_a_2xx_without_the_apis_answer_is_retried_not_counted_as_sent(body):
    def answer(conn: socket.socket) -> None:
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body))

    assert_send_is_retried(answer)


def test_batches_are_split_within_the_apis_limits_on_events_and_json_values():
    transport = HttpTransport("http://127.0.0.1:9", "k")
    assert [p.count for p in transport.prepare(events(1_200))] == [500, 500, 200]
    commas = tailoring_event("," * 200_000)
    assert [p.count for p in transport.prepare([commas] * 6 + events(10))] == [4, 2 + 10]


def test_a_write_key_read_from_a_file_loses_its_newline_and_a_control_character_is_refused():
    assert HttpTransport("http://127.0.0.1:9", "key-123\n")._headers["Authorization"] == "Bearer key-123"
    with pytest.raises(ValueError) as refused:
        HttpTransport("http://127.0.0.1:9", "key\x00123")
    assert "key" not in str(refused.value).replace("ANALYTICS_WRITE_KEY", "")


def test_retry_after_is_honoured_beyond_the_backoff_ceiling():
    client = AnalyticsClient(HttpTransport("http://127.0.0.1:9", "k"), sync=True, backoff_max=10.0)
    assert client._backoff(0, 60.0) == 60.0
    client.shutdown(timeout=0)


@pytest.mark.parametrize("endpoint", ["127.0.0.1:8000", "http://[::1", "ftp://ingest"])
def test_a_malformed_endpoint_never_breaks_the_app_its_events_are_dropped_and_counted(monkeypatch, endpoint):
    monkeypatch.setenv("ANALYTICS_ENDPOINT", endpoint)
    previous = set_client(None)
    try:
        for _ in range(2):
            assert log_interaction_event(user_id="synthetic-user", action="click", element="b")
        assert get_client().stats() == ClientStats(sent=0, retried=0, dropped=2, rejected=0, queued=0)
    finally:
        set_client(previous)


def test_the_queue_is_bounded_by_its_events_texts_too():
    """The API is down: tailoring events of 100,000 characters fill max_queue_chars long before 10,000 events."""
    client = AnalyticsClient(HttpTransport(closed_port_url(), "k"), max_queue_chars=1_000_000, **FAST_RETRIES)
    big = tailoring_event("x" * 100_000)
    accepted = sum(client.enqueue(big) for _ in range(30))
    assert accepted <= 10 and client.stats().dropped >= 20
    client.shutdown(timeout=0)
