"""The ingestion API under denial of service (real sockets): idle sockets, slowloris, per-address caps,
beacons without a key (slow or inflating), and many maximum-size bodies in flight."""

from __future__ import annotations

import asyncio
import gzip
import logging
import os
import socket
import subprocess
import sys
import threading
import time

import httpx
import psutil
import pytest

from analytics_pipeline.ingest.api import AUTHENTICATED_EXTENSION, IngestSettings, create_app
from analytics_pipeline.ingest.serve import BadRequestLogThrottle, ConnectionGuard, running_server
from analytics_pipeline_tests.ingest_helpers import TEST_WRITE_KEY, interaction, raw_event_ids
from tools import body_bench, dos_bench
from tools.load_bench import free_port, wait_healthy

AUTH = {"Authorization": f"Bearer {TEST_WRITE_KEY}"}


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


def test_a_pipelined_request_gets_its_own_deadline(guarded_url):
    """A complete request, then in the same packet the head of a second whose body never comes."""
    with socket.create_connection(("127.0.0.1", _port(guarded_url))) as sock:
        sock.sendall(
            b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"
            b"POST /v1/batch HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Authorization: Bearer " + TEST_WRITE_KEY.encode() + b"\r\nContent-Length: 100\r\n\r\n"
        )
        closed = _closed_within(sock, 10)
    assert closed is not None and closed < 4


@pytest.mark.parametrize("extra", [b"X-A: " + b"a" * 100_000 + b"\r\n", b"X-B: b\r\n" * 3_000])
def test_a_request_head_over_16_kib_is_refused_even_in_one_packet(guarded_url, extra):
    with socket.create_connection(("127.0.0.1", _port(guarded_url))) as sock:
        sock.sendall(
            b"POST /v1/batch HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nAuthorization: Bearer "
            + TEST_WRITE_KEY.encode()
            + b"\r\n"
            + extra
            + b"Content-Length: 13\r\n\r\n"
            + b'{"batch": []}'
        )
        sock.settimeout(5)
        answer = sock.recv(65536)
    assert answer.startswith((b"HTTP/1.1 431 ", b"HTTP/1.1 400 ")), answer[:80]


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


# --- issue 21, finding 1: beacons (text/plain, the key in the body) without a key ---------------------


def beacon_request(body: bytes, gzipped: bool = False, length: int | None = None) -> bytes:
    encoding = b"Content-Encoding: gzip\r\n" if gzipped else b""
    head = b"POST /v1/batch HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\r\n" + encoding
    return head + b"Content-Length: %d\r\n\r\n" % (len(body) if length is None else length) + body


def _status(port: int, request: bytes) -> int:
    with socket.create_connection(("127.0.0.1", port), timeout=60) as sock:
        sock.sendall(request)
        return int(sock.makefile("rb").readline().split()[1])


def test_a_beacon_bomb_without_a_key_costs_no_more_than_a_small_beacon(guarded_url):
    """62 kB gzip beacons that inflated to 31.8 MB were inflated and parsed before their key was looked at
    (on the event loop). The key, the first member, is now read from the first KiB of the body. Measured
    as the process CPU time (the server runs in this process) of a bomb, against a small beacon's."""
    port = _port(guarded_url)
    small = beacon_request(b'{"batch": []}')
    bomb = beacon_request(gzip.compress(b'{"batch": [' + b" " * 31_000_000 + b"]}"), gzipped=True)
    assert len(bomb) < 64 * 1024

    def cpu_per_request(request: bytes) -> float:
        started = time.process_time()
        assert [_status(port, request) for _ in range(5)] == [401] * 5
        return (time.process_time() - started) / 5

    baseline, bombs = cpu_per_request(small), cpu_per_request(bomb)
    # Inflating 31 MB and parsing it took 50-100 ms of CPU a bomb (twenty small beacons' worth and more).
    assert bombs < 3 * baseline + 0.005, (bombs, baseline)


def test_slow_beacons_without_a_key_never_take_a_slot_of_authenticated_requests(tmp_path):
    """64 slow text/plain bodies from one address (1 byte every 2 s, no key) held every slot of the
    in-flight limit for the whole body deadline: every request got 503. Beacons now wait for their key
    on a budget of their own, and are cut at the beacon deadline, long before the body deadline."""
    guard = ConnectionGuard(max_in_flight=8)  # otherwise as deployed: body deadline 60 s
    app = create_app(IngestSettings(raw_dir=tmp_path / "raw", write_key=TEST_WRITE_KEY))
    with running_server(app, guard=guard) as url:
        port = _port(url)
        attacker = ("127.0.0.2", 0)  # one address, not the legitimate client's
        slow = [socket.create_connection(("127.0.0.1", port), source_address=attacker) for _ in range(64)]
        try:
            for sock in slow:
                sock.sendall(beacon_request(b"{", length=60_000))
            time.sleep(1.0)  # let the server take them in
            statuses = [
                httpx.post(url + "/v1/batch", json={"batch": [interaction()]}, headers=AUTH, timeout=30).status_code
                for _ in range(10)
            ]
            held = guard.unauthenticated
            ended = [_closed_within(sock, 20, drip=b" ") for sock in slow]
        finally:
            for sock in slow:
                sock.close()
    assert statuses == [200] * 10
    assert held == guard.max_unauthenticated  # the attack did fill its own budget
    # Refused at once (503) or cut at the 5 s beacon deadline; none lives to the 60 s body deadline.
    assert all(seconds is not None for seconds in ended), ended


def test_a_beacon_counts_as_unauthenticated_until_its_key_is_valid():
    """The guard's two budgets, driven through its ASGI wrapper: a beacon moves to the budget of
    authenticated requests once the app found its key valid, and only if that one has room."""
    guard = ConnectionGuard(max_in_flight=1, max_unauthenticated=1)
    seen = []

    async def app(scope, receive, send):
        seen.append((guard.unauthenticated, guard.in_flight))
        seen.append(scope["extensions"][AUTHENTICATED_EXTENSION]())
        seen.append((guard.unauthenticated, guard.in_flight))
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    async def no_body():
        return {"type": "http.request", "body": b"", "more_body": False}

    async def sent(message):
        pass

    beacon = {"type": "http", "path": "/v1/batch", "headers": [(b"content-type", b"text/plain")]}
    asyncio.run(guard.wrap(app)(dict(beacon), no_body, sent))
    assert seen == [(1, 0), True, (0, 1)]
    assert (guard.unauthenticated, guard.in_flight) == (0, 0)
    seen.clear()
    guard.in_flight = 1  # the authenticated budget is full: the beacon stays where it is and is refused
    asyncio.run(guard.wrap(app)(dict(beacon), no_body, sent))
    assert seen == [(1, 1), False, (1, 1)]
    assert (guard.unauthenticated, guard.in_flight) == (0, 1)


@pytest.mark.slow
def test_service_holds_under_keyless_beacon_bombs_and_slow_beacons():
    """A small version of ``python -m tools.dos_bench --slow-bodies 64 --beacon-bombs 4`` (README: 30 s)."""
    result = dos_bench.run(slow_bodies=64, beacon_bombs=4, seconds=10)
    assert dos_bench.held(result), result
    bombs, slow = result["beacon_bombs"], result["slow_bodies"]
    assert bombs["answered"] > 100 and set(bombs["statuses"]) <= {"401", "503"}, bombs  # refused, none inflated
    assert slow["held_mean"] > 32 and slow["closed_by_server"] + slow["answered"] > 0, slow


# --- issue 21, finding 7: memory under large bodies ---------------------------------------------------


@pytest.mark.slow
def test_memory_stays_bounded_with_64_maximum_size_bodies_in_flight():
    """64 requests with 29.8 MiB bodies in flight at once (valid key; all read by the server before any
    finishes) took the server to 3.5 GiB and /healthz to 503. Bodies are spooled to disk now. Whitespace
    bodies, cheap to parse, keep this test fast; ``python -m tools.body_bench`` sends resume batches."""
    result = body_bench.run(bodies=64, content="padding")
    assert result["all_in_flight_at_once"], result
    assert result["statuses"] == {"200": 64}, result
    assert set(result["healthz_statuses"]) == {"200"}, result
    # The bodies alone are 1.9 GiB; what the server holds is its buffers, not them.
    assert result["in_flight_rss_mib"]["server"] < 512, result
    assert result["peak_rss_mib"]["with_parsers"] < 1024, result
    assert result["after_rss_mib"]["server"] < 512, result


def _serve(tmp_path) -> tuple[subprocess.Popen, int]:
    """A real ``serve`` process on a free port, writing its raw log under ``tmp_path``."""
    port = free_port()
    env = os.environ | {"ANALYTICS_WRITE_KEY": TEST_WRITE_KEY, "ANALYTICS_RAW_DIR": str(tmp_path / "raw")}
    command = [sys.executable, "-m", "analytics_pipeline.ingest.serve", "--port", str(port)]
    return subprocess.Popen(command, env=env, stderr=subprocess.DEVNULL), port


def test_a_killed_parser_costs_a_503_not_the_api(tmp_path):
    """A parser process killed (by the OOM killer, say) broke the process pool for good: every request
    after it was a 500. Now that request gets 503 and the next ones start new parsers."""
    server, port = _serve(tmp_path)
    url = f"http://127.0.0.1:{port}/v1/batch"
    try:
        wait_healthy(port, server)
        assert httpx.post(url, json={"batch": [interaction()]}, headers=AUTH, timeout=60).status_code == 200
        parsers = [p for p in psutil.Process(server.pid).children() if "spawn_main" in " ".join(p.cmdline())]
        assert parsers  # started on demand: one so far
        for parser in parsers:
            parser.kill()
        psutil.wait_procs(parsers, timeout=10)
        statuses = [httpx.post(url, json={"batch": [interaction()]}, headers=AUTH, timeout=60) for _ in range(3)]
    finally:
        server.terminate()
        server.wait(timeout=30)
    assert [r.status_code for r in statuses] == [503, 200, 200]
    assert statuses[0].headers["retry-after"] == "1"
    assert len(raw_event_ids(tmp_path / "raw")) == 3


# --- issue 22: the HTTP layer ------------------------------------------------------------------------------

WEBSOCKET_UPGRADE = (
    b"GET /v1/batch HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n"
    b"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n"
)


def test_websocket_upgrade_requests_leave_their_address_able_to_connect(guarded_url):
    """With a WebSocket library installed, uvicorn handed upgrade requests to its WebSocket protocol, which
    the guard never saw close: after max_per_address of them, the address was refused until a restart."""
    port = _port(guarded_url)
    for _ in range(100):
        with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
            sock.sendall(WEBSOCKET_UPGRADE)
            answer = sock.recv(65536)
        assert not answer.startswith(b"HTTP/1.1 101"), answer[:80]
        assert b"dGhlIHNhbXBsZSBub25jZQ" not in answer
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        assert sock.recv(1024).startswith(b"HTTP/1.1 200")


def _fill_without_reading(port: int, request: bytes, seconds: float = 10) -> socket.socket:
    """A connection from 127.0.0.2 that sends ``request`` over and over and never reads an answer, until the
    server stops taking requests (its answers fill the socket buffers) or ``seconds`` pass."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.bind(("127.0.0.2", 0))
    sock.settimeout(0.5)
    sock.connect(("127.0.0.1", port))
    started = time.monotonic()
    try:
        while time.monotonic() - started < seconds:
            sock.sendall(request * 100)
    except (TimeoutError, OSError):
        pass
    return sock


KEYLESS_POST = b"POST /v1/batch HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n"


def test_clients_that_never_read_their_answers_hold_no_slot_and_are_cut(tmp_path):
    """Pipelined requests whose answers were never read held a slot of the in-flight limit each, for as long
    as their client kept the socket open: every authenticated request got 503. A request now counts until
    its answer is ready; the next one waits until the client has taken it; the write deadline cuts it."""
    guard = ConnectionGuard(max_in_flight=2, write_timeout=1.5)
    app = create_app(IngestSettings(raw_dir=tmp_path / "raw", write_key=TEST_WRITE_KEY))
    with running_server(app, guard=guard) as url:
        port = _port(url)
        attackers = []
        threads = [
            threading.Thread(target=lambda: attackers.append(_fill_without_reading(port, KEYLESS_POST)))
            for _ in range(4)
        ]
        try:
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(timeout=15)
            statuses = [
                httpx.post(url + "/v1/batch", json={"batch": [interaction()]}, headers=AUTH, timeout=30).status_code
                for _ in range(5)
            ]
            # The server may still be answering the requests in its buffers (thousands) before the deadline runs.
            started = time.monotonic()
            while guard.per_address["127.0.0.2"] and time.monotonic() - started < 30:
                time.sleep(0.1)
        finally:
            for sock in attackers:
                sock.close()
    assert len(attackers) == 4
    assert statuses == [200] * 5
    assert not guard.per_address["127.0.0.2"], dict(guard.per_address)  # every attacker cut by the write deadline


def test_sigterm_ends_the_server_while_a_client_does_not_read_its_answers(tmp_path):
    """uvicorn waited, without a bound, for a request whose answer could not be written: SIGTERM never ended the
    server while a client kept its answers unread. The write deadline cuts that client; the shutdown is bounded."""
    server, port = _serve(tmp_path)
    try:
        wait_healthy(port, server)
        with _fill_without_reading(port, KEYLESS_POST):
            started = time.monotonic()
            server.terminate()
            server.wait(timeout=60)
            ended_after = time.monotonic() - started
    finally:
        server.kill()
        server.wait(timeout=30)
    assert ended_after < ConnectionGuard.write_timeout + 10


def _answer(sock: socket.socket, seconds: float = 5) -> bytes:
    """Everything the server sends until it closes the connection (or ``seconds`` pass)."""
    sock.settimeout(seconds)
    data = b""
    try:
        while chunk := sock.recv(65536):
            data += chunk
    except (TimeoutError, ConnectionResetError):
        pass
    return data


TINY_CHUNKS = (
    b"POST /v1/batch HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
    + b"1\r\na\r\n" * 40_000
)


def test_a_keyless_body_of_one_byte_chunks_gets_its_401_and_is_closed(guarded_url):
    """After an early 401 the server went on parsing the rest of the body (in Python, on the event loop) until
    the body deadline; a body of 1-byte chunks kept the event loop busy and good clients waited seconds. The
    answer now closes the connection, and a read is parsed a few hundred events at a time."""
    port = _port(guarded_url)
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(TINY_CHUNKS)
        started = time.monotonic()
        answer = _answer(sock, 10)
        closed_after = time.monotonic() - started
    assert answer.startswith(b"HTTP/1.1 401 ") and b"connection: close" in answer.lower(), answer[:200]
    assert closed_after < 5

    stop = time.monotonic() + 4

    def attack(source: str) -> None:
        while time.monotonic() < stop:
            with socket.create_connection(("127.0.0.1", port), timeout=5, source_address=(source, 0)) as sock:
                try:
                    sock.sendall(TINY_CHUNKS)
                    _answer(sock, 5)
                except OSError:
                    pass

    attackers = [threading.Thread(target=attack, args=(f"127.0.3.{i}",)) for i in (1, 2, 3)]
    for thread in attackers:
        thread.start()
    latencies = []
    try:
        while time.monotonic() < stop:
            started = time.monotonic()
            assert httpx.get(guarded_url + "/healthz", timeout=10).status_code == 200
            latencies.append(time.monotonic() - started)
            time.sleep(0.05)
    finally:
        for thread in attackers:
            thread.join(timeout=15)
    # Each connection's whole body was parsed before: /healthz took ~0.6 s (median) under three such attackers;
    # now ~10 ms.
    assert sorted(latencies)[len(latencies) // 2] < 0.25, latencies


def test_a_request_with_both_transfer_encoding_and_content_length_is_refused_and_closed(guarded_url):
    """Framed by chunks for the server and by Content-Length for a proxy in front, the body hid a second request
    (request smuggling). Such a request is now a 400, and the connection ends there."""
    smuggled = b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"
    with socket.create_connection(("127.0.0.1", _port(guarded_url)), timeout=5) as sock:
        sock.sendall(
            b"POST /v1/batch HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 5\r\n"
            b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n" + smuggled
        )
        answer = _answer(sock)
    assert answer.startswith(b"HTTP/1.1 400 "), answer[:200]
    assert answer.count(b"HTTP/1.1 ") == 1  # the smuggled request got no answer
    assert b"connection: close" in answer.lower()


def test_a_trailing_slash_is_a_404_that_echoes_nothing(guarded_url):
    """Starlette answered /v1/batch/?<query> with a 307 whose Location echoed the path, the query and the Host."""
    marker = b"MARKERpii"
    with socket.create_connection(("127.0.0.1", _port(guarded_url)), timeout=5) as sock:
        sock.sendall(
            b"POST /v1/batch/?" + marker + b" HTTP/1.1\r\nHost: " + marker + b".example\r\n"
            b"Connection: close\r\nContent-Length: 0\r\n\r\n"
        )
        answer = _answer(sock)
    assert answer.startswith(b"HTTP/1.1 404 "), answer[:200]
    assert marker not in answer


class _Records(logging.Handler):
    def __init__(self):
        super().__init__()
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


def test_warnings_about_bad_requests_are_logged_once_a_minute_with_a_count(guarded_url):
    """Every malformed request and unsupported upgrade was a warning line or two: keyless clients grew the log
    by ~94 KiB/s. Each kind is now let through once a minute, then with the number dropped meanwhile."""
    records = _Records()
    uvicorn_log = logging.getLogger("uvicorn.error")
    uvicorn_log.addHandler(records)
    try:
        for request in (
            b"GET /healthz HTTP/1.1\r\nHost: x\r\nX: \x00\r\n\r\n",
            b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n\r\n",
        ):
            for _ in range(30):
                with socket.create_connection(("127.0.0.1", _port(guarded_url)), timeout=5) as sock:
                    sock.sendall(request)
                    assert sock.recv(1024).startswith((b"HTTP/1.1 400 ", b"HTTP/1.1 200 "))
    finally:
        uvicorn_log.removeHandler(records)
    assert len(records.messages) <= 3, records.messages  # invalid request, unsupported upgrade, no WebSocket library

    throttle = BadRequestLogThrottle(interval=0.2)
    record = logging.LogRecord("uvicorn.error", logging.WARNING, "", 0, "Invalid HTTP request received.", None, None)
    passed = [throttle.filter(logging.makeLogRecord(record.__dict__)) for _ in range(5)]
    time.sleep(0.3)
    later = logging.makeLogRecord(record.__dict__)
    assert passed == [True, False, False, False, False] and throttle.filter(later)
    assert later.getMessage() == "Invalid HTTP request received. (and 4 more since the last one logged)"
    assert throttle.filter(logging.makeLogRecord({"msg": "Exception in ASGI application"}))  # others all pass
