"""``analytics-pipeline serve``: run the ingestion API under uvicorn, behind connection guards.

uvicorn alone counts *open connections* against ``--limit-concurrency`` and never times out a
connection that has not sent its request head, so a few dozen idle sockets deny service to
everyone. :class:`GuardedH11Protocol` closes connections that do not send a complete request
head within ``head_timeout`` (measured from the head's first byte or the connect, never reset by
drip-fed header lines) or a complete body within ``body_timeout``, cuts connections whose client does
not take its answer within ``write_timeout``, caps connections per client address, and limits
*requests in flight* (until their answer is ready, not until it is read) instead of connections.
A beacon (``text/plain``, its key in its body) is unauthenticated until its body is read: it has
``beacon_body_timeout`` for that and a budget of its own, so beacons without a key never take a slot
of authenticated requests.

Also :func:`running_server`, which serves an app on a free loopback port in a thread:
the real HTTP stack for tests and benchmarks, no subprocess needed.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import math
import os
import socket
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, fields
from functools import partial

import h11
import uvicorn
from starlette.datastructures import Headers
from uvicorn.protocols.http.flow_control import HIGH_WATER_LIMIT
from uvicorn.protocols.http.h11_impl import H11Protocol

from analytics_pipeline.ingest.api import (
    AUTHENTICATED_EXTENSION,
    DEV_MODE_ENV,
    HEALTH_PATH,
    WRITE_KEY_ENV,
    settings_from_env,
)
from analytics_pipeline.ingest.browser import cors_headers, is_beacon

log = logging.getLogger(__name__)
APP_FACTORY = "analytics_pipeline.ingest.api:app_from_env"
KEEP_ALIVE_SECONDS = 5
# On SIGTERM, requests in flight get this long to finish (a 32 MiB body takes seconds to parse), then they are
# cancelled: a shutdown never waits for a client.
GRACEFUL_SHUTDOWN_SECONDS = 30


class BadRequestLogThrottle(logging.Filter):
    """Lets each of uvicorn's per-request warnings about a bad request through once per ``interval`` seconds,
    with the number dropped since: any client can send bad requests, and must not grow the log without bound
    (it could by ~100 KiB/s)."""

    MESSAGES = frozenset(
        {
            "Invalid HTTP request received.",
            "Unsupported upgrade request.",
            "No supported WebSocket library detected. Please use \"pip install 'uvicorn[standard]'\", "
            "or install 'websockets' or 'wsproto' manually.",
        }
    )

    def __init__(self, interval: float = 60.0):
        super().__init__()
        self.interval = interval
        self._last: dict[str, float] = {}
        self._dropped: Counter[str] = Counter()

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.msg
        if not isinstance(message, str) or message not in self.MESSAGES:
            return True
        now = time.monotonic()
        if now < self._last.get(message, -math.inf) + self.interval:
            self._dropped[message] += 1
            return False
        self._last[message] = now
        if dropped := self._dropped.pop(message, 0):
            record.msg = f"{message} (and {dropped} more since the last one logged)"
        return True


# At import, in every worker process; uvicorn's logging configuration keeps a logger's filters.
logging.getLogger("uvicorn.error").addFilter(BadRequestLogThrottle())


def head_bytes(scope: dict) -> int:
    """The size of a request's head as it came: request line and header lines, with their line breaks."""
    target = len(scope.get("raw_path") or b"") + (len(scope["query_string"]) + 1 if scope.get("query_string") else 0)
    line = len(scope.get("method", "")) + 1 + target + len(" HTTP/1.1\r\n")
    return line + sum(len(name) + len(value) + 4 for name, value in scope.get("headers", ())) + 2


async def _refuse(send, status: int, body: bytes) -> None:
    headers = [(b"content-type", b"application/json"), (b"connection", b"close")]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def _close_unless_read(scope, receive, send):
    """``receive`` and ``send`` that add ``Connection: close`` to an answer going out before the request's body was
    read whole (a 401, a 413): the connection is closed then, rather than reading and parsing, on the event loop,
    a body no one needs (in 1-byte chunks, ~0.8 s of CPU a MiB)."""
    headers = Headers(scope=scope)
    unread = "transfer-encoding" in headers or headers.get("content-length", "0") != "0"

    async def receive_body():
        nonlocal unread
        message = await receive()
        unread = unread and message["type"] == "http.request" and message.get("more_body", False)
        return message

    async def answer(message) -> None:
        if message["type"] == "http.response.start" and unread:
            message = {**message, "headers": [*message.get("headers", ()), (b"connection", b"close")]}
        await send(message)

    return receive_body, answer


async def _busy(send, extra_headers: list[tuple[bytes, bytes]]) -> None:
    headers = [(b"content-type", b"application/json"), (b"retry-after", b"1"), *extra_headers]
    await send({"type": "http.response.start", "status": 503, "headers": headers})
    await send({"type": "http.response.body", "body": b'{"error":"busy","detail":"retry later"}'})


@dataclass
class ConnectionGuard:
    """Limits of one server process, and the counters its connections share."""

    head_timeout: float = 5.0  # seconds to send a complete request head
    body_timeout: float = 60.0  # seconds to send the body once the head is in (32 MiB at >= 0.5 MB/s)
    beacon_body_timeout: float = 5.0  # the same for a beacon (<= 64 KiB), read before its key is known
    write_timeout: float = 10.0  # seconds a client has to take an answer the kernel could not send at once
    max_per_address: int = 64  # open connections per client IP address
    max_in_flight: int = 64  # requests being processed; beyond: 503 + Retry-After (clients retry)
    max_unauthenticated: int = 16  # beacons in flight whose key is not checked yet; beyond: 503
    # Request line + headers. h11 enforces it only on a head that arrives in pieces; one read of up to
    # 256 KiB can hold a whole larger head, which the app then refuses (431) before reading any body.
    max_head_bytes: int = 16 * 1024
    # Origins whose pages get CORS headers on the guard's own 503 (as on the API's answers: the app's
    # CorsMiddleware never sees a request the guard turns away), so a page can read its Retry-After.
    allowed_origins: frozenset[str] = frozenset()
    per_address: Counter[str] = field(default_factory=Counter, repr=False)
    in_flight: int = field(default=0, repr=False)
    unauthenticated: int = field(default=0, repr=False)
    _wrapped: dict = field(default_factory=dict, repr=False)

    def __getstate__(self) -> dict:  # worker processes get the limits, never another process's counters
        return {f.name: getattr(self, f.name) for f in fields(self) if f.repr}

    def __setstate__(self, state: dict) -> None:
        self.__init__(**state)

    def wrap(self, app):
        """The app behind the in-flight limits (one wrapper per app, shared by all connections)."""
        if id(app) not in self._wrapped:
            self._wrapped[id(app)] = partial(self._limited, app)
        return self._wrapped[id(app)]

    async def _limited(self, app, scope, receive, send):
        if scope["type"] != "http":
            return await app(scope, receive, send)
        if head_bytes(scope) > self.max_head_bytes:
            detail = b"the request line and headers are at most %d bytes" % self.max_head_bytes
            return await _refuse(send, 431, b'{"error":"head_too_large","detail":"%s"}' % detail)
        names = {name for name, _ in scope["headers"]}
        if b"transfer-encoding" in names and b"content-length" in names:
            # Framed two ways, the body may end elsewhere for a proxy in front: request smuggling (RFC 9112, 6.3).
            detail = b"Transfer-Encoding and Content-Length together"
            return await _refuse(send, 400, b'{"error":"ambiguous_length","detail":"%s"}' % detail)
        receive, send = _close_unless_read(scope, receive, send)
        if scope["path"] == HEALTH_PATH:  # a busy server is still alive
            return await app(scope, receive, send)
        if is_beacon(Headers(scope=scope)):
            return await self._unauthenticated(app, scope, receive, send)
        if self.in_flight >= self.max_in_flight:
            return await _busy(send, self._cors(scope))
        self.in_flight += 1
        released = False

        def release() -> None:
            nonlocal released
            if not released:
                released = True
                self.in_flight -= 1

        try:
            return await app(scope, receive, _after(release, send))
        finally:
            release()

    def _cors(self, scope) -> list[tuple[bytes, bytes]]:
        origin = Headers(scope=scope).get("origin")
        return cors_headers(origin) if origin is not None and origin in self.allowed_origins else []

    async def _unauthenticated(self, app, scope, receive, send):
        """A beacon counts against ``max_unauthenticated`` until the app finds its key valid, then against
        ``max_in_flight`` like any authenticated request (the app answers 503 if that is full)."""
        if self.unauthenticated >= self.max_unauthenticated:
            return await _busy(send, self._cors(scope))
        self.unauthenticated += 1
        authenticated = False

        def authenticate() -> bool:
            nonlocal authenticated
            if not authenticated and self.in_flight < self.max_in_flight:
                self.unauthenticated -= 1
                self.in_flight += 1
                authenticated = True
            return authenticated

        released = False

        def release() -> None:
            nonlocal released
            if not released:
                released = True
                if authenticated:
                    self.in_flight -= 1
                else:
                    self.unauthenticated -= 1

        scope.setdefault("extensions", {})[AUTHENTICATED_EXTENSION] = authenticate
        try:
            return await app(scope, receive, _after(release, send))
        finally:
            release()


def _after(release, send):
    """``send`` that calls ``release`` first: a request counts against its budget until its answer is ready, not
    while the answer waits for its client to read it."""

    async def answer(message) -> None:
        release()
        await send(message)

    return answer


# h11 parses in Python, microseconds an event: one read of 256 KiB of 1-byte chunks is 43,000 events. At most
# this many are taken at a time; the event loop runs other work (this request's answer, other connections)
# before the rest.
EVENTS_PER_TURN = 256


class _TurnLimitedConnection(h11.Connection):
    """An h11 connection that answers PAUSED once it handed out ``EVENTS_PER_TURN`` events in a turn."""

    turn_events = 0
    last_event: object = None

    def next_event(self):
        if self.turn_events >= EVENTS_PER_TURN:
            return h11.PAUSED  # uvicorn stops reading; GuardedH11Protocol._next_turn goes on
        self.turn_events += 1
        self.last_event = super().next_event()
        return self.last_event


class GuardedH11Protocol(H11Protocol):
    """uvicorn's h11 protocol with the :class:`ConnectionGuard`'s deadlines and limits."""

    def __init__(self, *args, guard: ConnectionGuard, **kwargs):
        super().__init__(*args, **kwargs)
        self.guard = guard
        self.limit_concurrency = None  # uvicorn's check counts idle connections: the guard counts requests
        self.app = guard.wrap(self.app)
        self.conn = _TurnLimitedConnection(h11.SERVER, self.config.h11_max_incomplete_event_size)
        self._address: str | None = None
        self._deadline: asyncio.TimerHandle | None = None
        self._deadline_state: type[h11.Sentinel] | None = None
        self._write_deadline: asyncio.TimerHandle | None = None
        self._next_when_writable = False

    def connection_made(self, transport) -> None:
        super().connection_made(transport)
        # Writing pauses as soon as the kernel does not take an answer whole: the client is not reading it.
        transport.set_write_buffer_limits(high=0)
        address = self.client[0] if self.client else ""
        if self.guard.per_address[address] >= self.guard.max_per_address:
            transport.close()  # refused before anything is read; connection_lost does the bookkeeping
            return
        self._address = address
        self.guard.per_address[address] += 1
        self._watch()

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        self._watch()

    def handle_events(self) -> None:
        self.conn.turn_events = 0
        super().handle_events()
        if self.conn.turn_events >= EVENTS_PER_TURN:
            self.loop.call_soon(self._next_turn)

    def _next_turn(self) -> None:
        if self.transport.is_closing():
            return  # answered and closed meanwhile: the rest is never parsed
        self.handle_events()
        body = len(self.cycle.body) if self.cycle is not None else 0
        if self.conn.last_event is h11.NEED_DATA and body <= HIGH_WATER_LIMIT:
            self.flow.resume_reading()  # the turns paused reading, not h11 nor a full body buffer
        self._watch()

    def pause_writing(self) -> None:
        super().pause_writing()
        # abort, not close: a close waits for the buffer to drain, which is what does not happen.
        self._write_deadline = self.loop.call_later(self.guard.write_timeout, self.transport.abort)

    def resume_writing(self) -> None:
        super().resume_writing()
        self._cancel_write_deadline()
        if self._next_when_writable:
            self._next_when_writable = False
            self.on_response_complete()

    def _cancel_write_deadline(self) -> None:
        if self._write_deadline is not None:
            self._write_deadline.cancel()
            self._write_deadline = None

    def on_response_complete(self) -> None:
        if self.flow.write_paused and not self.transport.is_closing():
            # The client has not taken this answer yet: its next (pipelined) request waits until it has, or until
            # the write deadline cuts the connection, rather than waiting, in flight, to write its answer.
            self._next_when_writable = True
            return
        super().on_response_complete()
        self._set_deadline(None)  # idle between requests: uvicorn's keep-alive timeout applies
        if self.cycle is not None and not self.cycle.response_complete:
            self._watch()  # a pipelined request started inside super(): it gets its own deadline

    def connection_lost(self, exc: Exception | None) -> None:
        self._set_deadline(None)
        self._cancel_write_deadline()
        if self._address is not None:
            self.guard.per_address[self._address] -= 1
            if not self.guard.per_address[self._address]:
                del self.guard.per_address[self._address]
            self._address = None
        super().connection_lost(exc)

    def _watch(self) -> None:
        """Arm the deadline of the request part being received; a new part gets a fresh one."""
        if self.transport.is_closing():
            return
        state = self.conn.their_state
        if state is h11.IDLE and (self.cycle is None or self.cycle.response_complete):
            self._set_deadline(state, self.guard.head_timeout)
        elif state is h11.SEND_BODY and state is not self._deadline_state:
            beacon = is_beacon(Headers(raw=self.headers))
            self._set_deadline(state, self.guard.beacon_body_timeout if beacon else self.guard.body_timeout)
        elif state is not h11.SEND_BODY:
            self._set_deadline(None)

    def _set_deadline(self, state, seconds: float = 0.0) -> None:
        if state is not None and state is self._deadline_state:
            return  # still receiving the same part: drip-feeding bytes does not extend its deadline
        if self._deadline is not None:
            self._deadline.cancel()
        self._deadline, self._deadline_state = None, state
        if state is not None:
            self._deadline = self.loop.call_later(seconds, self.transport.close)


def server_options(guard: ConnectionGuard) -> dict:
    """uvicorn settings of the ingestion API: the guarded h11 protocol, short keep-alive, no access log."""
    return {
        "http": partial(GuardedH11Protocol, guard=guard),
        # The API has no WebSocket endpoint. With a WebSocket library installed, uvicorn would hand an upgrade
        # request's connection to its WebSocket protocol, past the guard (its per-address count never released).
        "ws": "none",
        "timeout_keep_alive": KEEP_ALIVE_SECONDS,
        "timeout_graceful_shutdown": GRACEFUL_SHUTDOWN_SECONDS,
        "h11_max_incomplete_event_size": guard.max_head_bytes,
        "log_level": "warning",
        "access_log": False,  # access lines would add noise, not insight; bodies are never logged
        "proxy_headers": False,
    }


def add_serve_command(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Register ``serve`` on a CLI's subparsers; its handler is ``args.handler``."""
    parser = subparsers.add_parser(
        "serve",
        help="run the event ingestion API",
        description=(
            f"Serve POST /v1/batch, POST /v1/event and GET /healthz. Requires {WRITE_KEY_ENV}; "
            "events go to ANALYTICS_RAW_DIR (default data/raw/events)."
        ),
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--workers", type=int, default=1, help="worker processes")
    parser.add_argument(
        "--limit-concurrency",
        type=int,
        default=ConnectionGuard.max_in_flight,
        help="requests in flight per worker before answering 503 (clients retry); idle connections do not count",
    )
    parser.add_argument(
        "--limit-unauthenticated",
        type=int,
        default=ConnectionGuard.max_unauthenticated,
        help="beacons (text/plain, key in the body) in flight per worker whose key is not checked yet; beyond, 503",
    )
    parser.add_argument(
        "--max-connections-per-address",
        type=int,
        default=ConnectionGuard.max_per_address,
        help="open connections per client IP address and worker; more are closed at once",
    )
    parser.add_argument(
        "--head-timeout",
        type=float,
        default=ConnectionGuard.head_timeout,
        help="seconds a connection has to send a complete request head before it is closed",
    )
    parser.add_argument(
        "--dev",
        action="store_true",
        help=f"INSECURE: allow running without {WRITE_KEY_ENV} (no authentication)",
    )
    parser.set_defaults(handler=run_serve)
    return parser


def run_serve(args: argparse.Namespace) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if args.dev:
        # Workers are separate processes: they learn about dev mode from the environment.
        os.environ[DEV_MODE_ENV] = "1"
        log.warning("=" * 72)
        log.warning("DEV MODE (--dev): do not use in production.")
        if not os.environ.get(WRITE_KEY_ENV):
            log.warning("No %s: the API accepts events from ANYONE.", WRITE_KEY_ENV)
        log.warning("=" * 72)
    else:
        os.environ.pop(DEV_MODE_ENV, None)
    try:
        settings = settings_from_env()  # fail here, once, rather than in every worker
    except RuntimeError as error:
        log.error("%s", error)
        return 2
    log.info(
        "serving on http://%s:%d with %d worker(s); raw log in %s",
        args.host,
        args.port,
        args.workers,
        settings.raw_dir,
    )
    guard = ConnectionGuard(
        head_timeout=args.head_timeout,
        max_per_address=args.max_connections_per_address,
        max_in_flight=args.limit_concurrency,
        max_unauthenticated=args.limit_unauthenticated,
        allowed_origins=settings.allowed_origins,
    )
    uvicorn.run(
        APP_FACTORY, factory=True, host=args.host, port=args.port, workers=args.workers, **server_options(guard)
    )
    return 0


def main(argv: list[str] | None = None) -> int:
    """Stand-alone entry point: ``python -m analytics_pipeline.ingest.serve``."""
    parser = argparse.ArgumentParser(prog="python -m analytics_pipeline.ingest.serve")
    add_serve_command(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["serve", *(sys.argv[1:] if argv is None else argv)])
    return args.handler(args)


@contextmanager
def running_server(app, host: str = "127.0.0.1", guard: ConnectionGuard | None = None) -> Iterator[str]:
    """Serve ``app`` on a free loopback port in a background thread, guarded as ``serve`` is; yields its URL."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, **server_options(guard or ConnectionGuard())))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the test server did not start")
        time.sleep(0.01)
    try:
        yield f"http://{host}:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


if __name__ == "__main__":
    raise SystemExit(main())
