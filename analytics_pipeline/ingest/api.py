"""The ingestion API: an ASGI app that validates events and appends them to the raw log.

- ``POST /v1/batch`` with ``{"batch": [event, ...]}``, ``POST /v1/event`` with one event;
  JSON bodies, optionally gzip-encoded; ``GET /healthz``.
- Auth: ``Authorization: Bearer <ANALYTICS_WRITE_KEY>``, compared in constant time, before the body is
  read. From web pages: CORS, a public browser key and ``text/plain`` beacon bodies (see :mod:`.browser`),
  whose key, their first member, is checked before anything else is done with them.
- Bodies over 1 MiB are spooled to disk (:mod:`.spool`); parser processes decode, validate and append
  them to the raw log, so the server's memory does not grow with the bodies in flight.
- An accepted event is on disk (fdatasync'd) before the 2xx goes out. Invalid events of a
  batch are reported by index and reason; the valid ones are still accepted.
- Error bodies never echo input values: events carry PII.
"""

from __future__ import annotations

import asyncio
import ctypes
import functools
import hmac
import json
import logging
import multiprocessing
import os
import re
import threading
import zlib
from collections.abc import AsyncIterator, Iterable
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from contextlib import asynccontextmanager
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.middleware import Middleware
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from analytics_pipeline.contract import (
    MAX_TEXT_CHARS,
    InteractionEvent,
    InvalidEvent,
    ResumeEvent,
    parse_event_line,
)
from analytics_pipeline.ingest.browser import (
    ALLOWED_ORIGINS_ENV,
    BEACON_KEY_FIELD,
    BROWSER_RATE_LIMIT_ENV,
    BROWSER_WRITE_KEY_ENV,
    DEFAULT_BROWSER_RATE_LIMIT,
    MAX_BEACON_BYTES,
    CorsMiddleware,
    RateLimiter,
    is_beacon,
    parse_origins,
)
from analytics_pipeline.ingest.spool import Spool, SpoolRef
from analytics_pipeline.ingest.writer import RawLogWriter, raw_dir_from_env, stamp_received

log = logging.getLogger(__name__)

# Three resume texts at the contract's maximum, 4 UTF-8 bytes a character, plus the rest.
MAX_EVENT_BYTES = 3 * MAX_TEXT_CHARS * 4 + 64 * 1024
# Room for a batch of real resumes (a tailoring event is ~100 kB), decompressed.
MAX_REQUEST_BYTES = 32 * 1024 * 1024
MAX_BATCH_EVENTS = 1_000
# json.loads of 32 MiB of tiny values ("ab", {}) would make ~20x its size in Python objects. Every
# value but the last is followed by a comma or a closing bracket, so counting those bytes (in C, before
# parsing; brackets and commas inside strings count too, which only errs on the safe side) bounds the
# objects a body can create. Real batches stay far below: a resume text has a few thousand commas.
MAX_JSON_VALUES = 2_000_000
# Bodies parsed at once per server process. Parsing (gunzip, json, validation) and appending to the raw log
# run in a pool of that many processes: off the event loop and outside its GIL, so /healthz and small
# batches are answered while big bodies are parsed, and the memory parsing takes is bounded by the pool,
# not by the requests waiting.
PARSE_SLOTS = 2
# A body is kept in memory up to this size, beyond it goes to a spool file in writes of this size: 64 requests
# in flight hold at most 64 MiB, not 64 maximum-size bodies.
SPOOL_CHUNK_BYTES = 1024 * 1024
# A beacon's key is its first member, found in this much of the (decompressed) body without parsing it.
KEY_SCAN_BYTES = 4096
_BEACON_KEY = re.compile(rb'\A\s*\{\s*"' + re.escape(BEACON_KEY_FIELD.encode()) + rb'"\s*:\s*("(?:[^"\\]|\\.)*")')
# Set on a request's scope by a server that admits requests whose key is still unknown (beacons) on a budget
# of their own (serve.py): called once the key is valid, it moves the request to the budget of authenticated
# requests and returns False if that one is full.
AUTHENTICATED_EXTENSION = "analytics_pipeline.authenticated"
HEALTH_PATH = "/healthz"
WRITE_KEY_ENV = "ANALYTICS_WRITE_KEY"
# Set by `analytics-pipeline serve --dev` for its worker processes; not a user setting.
DEV_MODE_ENV = "ANALYTICS_INGEST_DEV_MODE"


class RequestError(Exception):
    """A request-level problem: the whole request is refused with ``status``."""

    def __init__(self, status: int, code: str, detail: str, headers: dict[str, str] | None = None):
        super().__init__(f"{code}: {detail}")
        self.status, self.code, self.detail, self.headers = status, code, detail, headers

    def __reduce__(self):  # raised in a parser process, re-raised in the server
        return RequestError, (self.status, self.code, self.detail)


@dataclass(frozen=True)
class IngestSettings:
    raw_dir: Path
    write_key: str | None  # None only in dev mode: no authentication at all
    max_request_bytes: int = MAX_REQUEST_BYTES
    max_event_bytes: int = MAX_EVENT_BYTES
    max_batch_events: int = MAX_BATCH_EVENTS
    browser_write_key: str | None = None  # public: only with an allowed Origin, rate-limited
    allowed_origins: frozenset[str] = frozenset()
    browser_rate_limit: int = DEFAULT_BROWSER_RATE_LIMIT  # requests a minute per client address


@dataclass(frozen=True)
class EventError:
    index: int
    code: str
    detail: str


def validate_items(items: list, max_event_bytes: int) -> tuple[list[ResumeEvent | InteractionEvent], list[EventError]]:
    """Split decoded events into contract-valid events and value-free per-index errors."""
    valid, errors = [], []
    for index, item in enumerate(items):
        if not isinstance(item, dict):
            errors.append(EventError(index, "not_an_object", "an event must be a JSON object"))
            continue
        text = json.dumps(item, ensure_ascii=False)
        if len(text.encode("utf-8", "surrogatepass")) > max_event_bytes:
            errors.append(EventError(index, "event_too_large", f"an event is at most {max_event_bytes} bytes"))
            continue
        try:
            valid.append(parse_event_line(text))
        except InvalidEvent as error:
            errors.append(EventError(index, error.code, error.detail))
        except Exception as error:  # never a 500 that loses the batch's valid events
            log.error("unexpected %s validating an event; rejected it", type(error).__name__)
            errors.append(EventError(index, "invalid_event", "the event could not be validated"))
    return valid, errors


def _refuse_constant(name: str) -> None:
    # NaN and Infinity are not JSON; letting them through would write non-JSON to the log.
    raise ValueError(f"{name} is not valid JSON")


def decode_json(body: bytes) -> object:
    if body.count(b",") + body.count(b"]") + body.count(b"}") > MAX_JSON_VALUES:
        raise RequestError(413, "too_many_values", f"a request holds at most {MAX_JSON_VALUES} JSON values")
    try:
        return json.loads(body, parse_constant=_refuse_constant)
    except RecursionError:
        raise RequestError(400, "invalid_json", "the JSON is nested too deeply") from None
    except ValueError as error:  # JSONDecodeError and UnicodeDecodeError
        # The decoder's message names a position, never the content.
        detail = error.msg if isinstance(error, json.JSONDecodeError) else "not valid UTF-8 JSON"
        raise RequestError(400, "invalid_json", detail) from None


def gunzip(body: bytes, limit: int) -> bytes:
    """Decompress with a cap on the output, so a gzip bomb costs at most ``limit`` bytes. Every member is read
    (RFC 1952 allows several, as ``cat a.gz b.gz`` makes); bytes after the last one that are no member are an
    error, not silently dropped."""
    pieces, size, rest = [], 0, body
    while rest:
        decompressor = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
        try:
            data = decompressor.decompress(rest, limit + 1 - size)
        except zlib.error:
            raise RequestError(400, "invalid_gzip", "the body is not valid gzip") from None
        size += len(data)
        if size > limit or decompressor.unconsumed_tail:
            raise RequestError(413, "request_too_large", f"a request is at most {limit} bytes")
        if not decompressor.eof:
            raise RequestError(400, "invalid_gzip", "the gzip stream is truncated")
        pieces.append(data)
        rest = decompressor.unused_data
    return b"".join(pieces)


def _bearer_token(request: Request) -> str | None:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" else None


def beacon_key(body: bytes, gzipped: bool) -> str | None:
    """The write key of a beacon: its first member, read from the first few KiB of the body without parsing
    the rest, so a beacon without a valid key costs its bounded read and microseconds, whatever it holds."""
    try:
        head = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS).decompress(body, KEY_SCAN_BYTES) if gzipped else body
    except zlib.error:
        return None
    match = _BEACON_KEY.match(head, 0, KEY_SCAN_BYTES)
    try:
        key = json.loads(match[1]) if match else None
    except ValueError:
        return None
    return key if isinstance(key, str) else None


def _same_key(token: str | None, key: str | None) -> bool:
    # compare_digest on bytes: constant time whatever the token holds (a JSON-escaped lone surrogate too).
    return (
        token is not None
        and key is not None
        and hmac.compare_digest(token.encode(errors="surrogatepass"), key.encode(errors="surrogatepass"))
    )


def _check_auth(request: Request, settings: IngestSettings, token: str | None, limiter: RateLimiter) -> None:
    if settings.write_key is None or _same_key(token, settings.write_key):
        return
    if not _same_key(token, settings.browser_write_key):
        raise RequestError(401, "unauthorized", "a valid write key is required")
    if request.headers.get("origin") not in settings.allowed_origins:
        raise RequestError(403, "origin_not_allowed", "the browser write key needs an allowed Origin")
    wait = limiter.retry_after(request.client.host if request.client else "")
    if wait:
        raise RequestError(429, "rate_limited", "too many requests", headers={"Retry-After": str(wait)})


def _admit_authenticated(request: Request) -> None:
    authenticated = request.scope.get("extensions", {}).get(AUTHENTICATED_EXTENSION)
    if authenticated is not None and not authenticated():
        raise RequestError(503, "busy", "retry later", headers={"Retry-After": "1"})


async def _chunks(request: Request, limit: int) -> AsyncIterator[bytes]:
    """The body as it arrives; 413 once it is (or says it will be) over ``limit`` bytes."""
    too_large = RequestError(413, "request_too_large", f"a request is at most {limit} bytes")
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise too_large
    size = 0
    try:
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                raise too_large
            yield chunk
    except ClientDisconnect:
        raise RequestError(400, "client_disconnected", "the body was not fully received") from None


async def _read_body(request: Request, limit: int) -> bytes | Spool:
    """The body in memory if small, else in a :class:`Spool` (written off the event loop), 1 MiB at a time."""
    pending: list[bytes] = []
    buffered, spool = 0, None
    try:
        async for chunk in _chunks(request, limit):
            pending.append(chunk)
            buffered += len(chunk)
            if buffered >= SPOOL_CHUNK_BYTES:
                spool = spool or Spool()
                await run_in_threadpool(spool.write, pending)
                pending, buffered = [], 0
        if spool is None:
            return b"".join(pending)
        await run_in_threadpool(spool.write, pending)
        return spool
    except BaseException:
        if spool is not None:
            spool.close()
        raise


def _gzipped(request: Request) -> bool:
    encoding = request.headers.get("content-encoding", "identity").strip().lower()
    if encoding not in ("gzip", "identity"):
        raise RequestError(400, "unsupported_encoding", "Content-Encoding must be gzip or identity")
    return encoding == "gzip"


def _check_json(request: Request) -> None:
    if request.headers.get("content-type", "").split(";")[0].strip().lower() != "application/json":
        raise RequestError(400, "unsupported_content_type", "the body must be application/json or a text/plain beacon")


def _error_response(error: RequestError) -> JSONResponse:
    headers = {"WWW-Authenticate": "Bearer"} if error.status == 401 else error.headers
    return JSONResponse({"error": error.code, "detail": error.detail}, status_code=error.status, headers=headers)


def _status_for(accepted: int, errors: Iterable[EventError]) -> int:
    codes = {e.code for e in errors}
    if accepted or not codes:
        return 200
    return 413 if codes == {"event_too_large"} else 400


@dataclass(frozen=True)
class Body:
    """A request body as a parser process receives it: the bytes, or the spool file holding them."""

    data: bytes | SpoolRef
    gzipped: bool = False
    single: bool = False  # /v1/event: the body is one event
    beacon: bool = False  # its first member is the write key

    def read(self) -> bytes:
        return self.data.read() if isinstance(self.data, SpoolRef) else self.data


def decode_events(
    body: Body, limits: tuple[int, int, int]
) -> tuple[list[ResumeEvent | InteractionEvent], list[EventError]]:
    """Gunzip, decode and validate a request body: its valid events, and the errors of the others."""
    max_request_bytes, max_batch_events, max_event_bytes = limits
    payload = decode_json(gunzip(body.read(), max_request_bytes) if body.gzipped else body.read())
    if body.beacon and isinstance(payload, dict):
        payload.pop(BEACON_KEY_FIELD, None)  # never stored, not even as an unknown field
    if body.single:
        items = [payload]
    elif isinstance(payload, dict) and isinstance(payload.get("batch"), list):
        items = payload["batch"]
    else:
        raise RequestError(400, "bad_request", 'the body must be {"batch": [event, ...]}')
    if len(items) > max_batch_events:
        raise RequestError(413, "batch_too_large", f"a batch holds at most {max_batch_events} events")
    return validate_items(items, max_event_bytes)


@functools.cache
def _raw_log(raw_dir: Path) -> RawLogWriter:
    return RawLogWriter(raw_dir)  # one per parser process: its own file, never interleaved with another's


# glibc keeps the heap a big body's objects leave behind; malloc_trim hands it back (absent elsewhere: a no-op).
_malloc_trim = getattr(ctypes.CDLL(None), "malloc_trim", lambda pad: 0)


def _store(
    body: Body, limits: tuple[int, int, int], raw_dir: Path, received_at: datetime
) -> tuple[int, list[EventError]]:
    valid, errors = decode_events(body, limits)
    _raw_log(raw_dir).append(stamp_received(valid, received_at), received_at)
    return len(valid), errors


def ingest_body(
    body: Body, limits: tuple[int, int, int], raw_dir: Path, received_at: datetime
) -> tuple[int, list[EventError]]:
    """Decode, validate and append a body's valid events to the raw log (fdatasync'd); runs in a parser
    process, so the events never pass through the server process. The number stored and the errors."""
    try:
        return _store(body, limits, raw_dir, received_at)
    finally:
        if isinstance(body.data, SpoolRef):  # a big body: memory returns to the system after the burst
            _malloc_trim(0)


class ParserPool:
    """The server process's parser processes, started on first use (spawned, not forked: the server
    has threads) and stopped with the app (a uvicorn worker exits without running atexit hooks)."""

    def __init__(self, slots: int = PARSE_SLOTS):
        self._slots = slots
        self._pool: ProcessPoolExecutor | None = None
        self._lock = threading.Lock()

    def get(self) -> ProcessPoolExecutor:
        with self._lock:
            if self._pool is None:
                self._pool = ProcessPoolExecutor(self._slots, mp_context=multiprocessing.get_context("spawn"))
            return self._pool

    async def run(self, fn, *args):
        """``fn(*args)`` in a parser process. If one died (the OOM killer, kill -9), the pool is broken for
        good: its requests get 503 and the next one starts new parsers."""
        pool = self.get()
        try:
            return await asyncio.get_running_loop().run_in_executor(pool, fn, *args)
        except BrokenProcessPool:
            log.error("a parser process died; starting new ones")
            with self._lock:
                if self._pool is pool:
                    self._pool = None
            pool.shutdown(wait=False, cancel_futures=True)
            raise RequestError(503, "parser_unavailable", "retry later", {"Retry-After": "1"}) from None

    def shutdown(self) -> None:
        with self._lock:
            if self._pool is not None:
                self._pool.shutdown(cancel_futures=True)
                self._pool = None


def create_app(settings: IngestSettings) -> Starlette:
    limiter = RateLimiter(settings.browser_rate_limit)
    parsers = ParserPool()
    limits = (settings.max_request_bytes, settings.max_batch_events, settings.max_event_bytes)
    beacon_limits = (min(settings.max_request_bytes, MAX_BEACON_BYTES), *limits[1:])

    async def receive(request: Request, single: bool) -> tuple[Body, tuple[int, int, int], Spool | None]:
        """Authenticate, then read: the body, its limits, and the spool to close once it is parsed."""
        if is_beacon(request.headers):  # its key is in its body: read (<= 64 KiB, in memory) before anything else
            gzipped = _gzipped(request)
            data = b"".join([chunk async for chunk in _chunks(request, MAX_BEACON_BYTES)])
            _check_auth(request, settings, beacon_key(data, gzipped), limiter)
            _admit_authenticated(request)
            return Body(data, gzipped, single, beacon=True), beacon_limits, None
        _check_auth(request, settings, _bearer_token(request), limiter)
        gzipped = _gzipped(request)
        _check_json(request)
        data = await _read_body(request, settings.max_request_bytes)
        if isinstance(data, Spool):
            return Body(data.ref(), gzipped, single), limits, data
        return Body(data, gzipped, single), limits, None

    async def ingest(request: Request, single: bool) -> JSONResponse:
        received_at = datetime.now(UTC)
        spool = None
        try:
            body, body_limits, spool = await receive(request, single)
            accepted, errors = await parsers.run(ingest_body, body, body_limits, settings.raw_dir, received_at)
        except RequestError as error:
            return _error_response(error)
        except OSError as error:
            # A spool or the raw log could not be written: nothing of this request is in the log (the writer
            # rolls back), so it is safe to retry.
            log.error("storing a request failed (errno %s); answering 503", error.errno)
            return _error_response(RequestError(503, "storage_unavailable", "retry later", {"Retry-After": "1"}))
        finally:
            if spool is not None:
                spool.close()
        result = {"accepted": accepted, "rejected": len(errors), "errors": [asdict(e) for e in errors]}
        return JSONResponse(result, status_code=_status_for(accepted, errors))

    async def batch(request: Request) -> JSONResponse:
        return await ingest(request, single=False)

    async def event(request: Request) -> JSONResponse:
        return await ingest(request, single=True)

    async def healthz(_: Request) -> JSONResponse:
        return JSONResponse({"status": "ok"})

    @asynccontextmanager
    async def lifespan(_: Starlette):
        if settings.write_key is None:
            log.warning(
                "INSECURE DEV MODE: the ingestion API accepts events WITHOUT authentication. "
                "Never expose this server; set %s to require a write key.",
                WRITE_KEY_ENV,
            )
        yield
        parsers.shutdown()

    app = Starlette(
        routes=[
            Route("/v1/batch", batch, methods=["POST"]),
            Route("/v1/event", event, methods=["POST"]),
            Route(HEALTH_PATH, healthz, methods=["GET"]),
        ],
        lifespan=lifespan,
        middleware=[Middleware(CorsMiddleware, allowed_origins=settings.allowed_origins)],
    )
    # /v1/batch/ is a 404, not a redirect: its Location would echo the path, query and Host (input, maybe PII),
    # an answer bigger than the request.
    app.router.redirect_slashes = False
    return app


def settings_from_env() -> IngestSettings:
    """Settings of a server process; refuses to run without a write key unless in dev mode."""
    write_key = os.environ.get(WRITE_KEY_ENV) or None
    if write_key is None and os.environ.get(DEV_MODE_ENV) != "1":
        raise RuntimeError(
            f"{WRITE_KEY_ENV} is not set: refusing to accept events without authentication "
            "(use --dev for an insecure local server)"
        )
    browser_key = os.environ.get(BROWSER_WRITE_KEY_ENV) or None
    origins = parse_origins(os.environ.get(ALLOWED_ORIGINS_ENV))
    if browser_key is not None and not origins:
        raise RuntimeError(f"{BROWSER_WRITE_KEY_ENV} is set but {ALLOWED_ORIGINS_ENV} is empty: no page could use it")
    return IngestSettings(
        raw_dir=raw_dir_from_env(),
        write_key=write_key,
        browser_write_key=browser_key,
        allowed_origins=origins,
        browser_rate_limit=int(os.environ.get(BROWSER_RATE_LIMIT_ENV) or DEFAULT_BROWSER_RATE_LIMIT),
    )


def app_from_env() -> Starlette:
    """ASGI app factory for uvicorn workers (``--factory``)."""
    return create_app(settings_from_env())
