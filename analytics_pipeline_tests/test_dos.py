"""The ingestion API under connection exhaustion: idle sockets, slowloris, per-address caps (real sockets)."""

from __future__ import annotations

import socket
import time

import pytest

from analytics_pipeline.ingest.api import IngestSettings, create_app
from analytics_pipeline.ingest.serve import ConnectionGuard, running_server
from analytics_pipeline_tests.ingest_helpers import TEST_WRITE_KEY
from tools import dos_bench


def _port(url: str) -> int:
    return int(url.rsplit(":", 1)[1])


def _closed_within(sock: socket.socket, seconds: float, drip: bytes | None = None) -> float | None:
    """Seconds until the server closes ``sock`` (None if still open after ``seconds``), dripping ``drip``."""
    started = time.monotonic()
    sock.settimeout(0.1)
    while time.monotonic() - started < seconds:
        try:
            if sock.recv(1024) == b"":
                return time.monotonic() - started
        except TimeoutError:
            pass
        except ConnectionResetError:
            return time.monotonic() - started
        if drip is not None:
            try:
                sock.sendall(drip)
            except OSError:
                return time.monotonic() - started
    return None


@pytest.fixture
def guarded_url(tmp_path):
    guard = ConnectionGuard(head_timeout=1.0, body_timeout=1.5, max_per_address=3)
    app = create_app(IngestSettings(raw_dir=tmp_path / "raw", write_key=TEST_WRITE_KEY))
    with running_server(app, guard=guard) as url:
        yield url


def test_idle_and_slowloris_connections_are_closed_at_the_head_deadline(guarded_url):
    port = _port(guarded_url)
    with socket.create_connection(("127.0.0.1", port)) as idle, socket.create_connection(("127.0.0.1", port)) as slow:
        slow.sendall(b"POST /v1/batch HTTP/1.1\r\nHost: x\r\n")
        idle_closed = _closed_within(idle, 5)
        slow_closed = _closed_within(slow, 5, drip=b"X-Slow: 1\r\n")
    assert idle_closed is not None and idle_closed < 2.5
    # Dripping header lines never extends the deadline.
    assert slow_closed is not None and slow_closed < 2.5


def test_a_slow_body_is_closed_at_the_body_deadline(guarded_url):
    with socket.create_connection(("127.0.0.1", _port(guarded_url))) as sock:
        sock.sendall(
            b"POST /v1/batch HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Authorization: Bearer " + TEST_WRITE_KEY.encode() + b"\r\nContent-Length: 100000\r\n\r\n{"
        )
        # The app answers 400 (client_disconnected) or the socket just closes: either way it ends.
        started = time.monotonic()
        assert _closed_within(sock, 6, drip=b" ") is not None
        assert time.monotonic() - started < 4


def test_connections_are_capped_per_client_address(guarded_url):
    port = _port(guarded_url)
    held = [socket.create_connection(("127.0.0.1", port)) for _ in range(3)]
    try:
        with socket.create_connection(("127.0.0.1", port)) as extra:
            assert _closed_within(extra, 0.8) is not None  # closed at once, long before the head deadline
        with socket.create_connection(("127.0.0.1", port), source_address=("127.0.0.2", 0)) as other:
            other.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            other.settimeout(2)
            assert other.recv(1024).startswith(b"HTTP/1.1 200")
    finally:
        for sock in held:
            sock.close()


@pytest.mark.slow
def test_service_holds_under_idle_and_slowloris_connections():
    """A small version of ``python -m tools.dos_bench`` (README: 1,000 idle + 200 slowloris for 60 s)."""
    result = dos_bench.run(idle=200, slowloris=50, seconds=10, per_address=32, drip=1.0, head_timeout=2.0)
    assert dos_bench.held(result), result
    assert result["held_mean"] > 150  # the attacker really held its connections
    assert result["closed_by_server"] > 0  # and the server kept closing them
