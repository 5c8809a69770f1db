"""The ingestion API: an ASGI app that validates events and appends them to the raw log.

- ``POST /v1/batch`` with ``{"batch": [event, ...]}``, ``POST /v1/event`` with one event;
  JSON bodies, optionally gzip-encoded; ``GET /healthz``.
- Auth: ``Authorization: Bearer <ANALYTICS_WRITE_KEY>``, compared in constant time. From web pages:
  CORS, a public browser key and ``text/plain`` beacon bodies (see :mod:`.browser`).
- An accepted event is on disk (fdatasync'd) before the 2xx goes out. Invalid events of a
  batch are reported by index and reason; the valid ones are still accepted.
- Error bodies never echo input values: events carry PII.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import multiprocessing
import os
import threading
import zlib
from collections.abc import Iterable
from concurrent.futures import ProcessPoolExecutor
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
from analytics_pipeline.ingest.writer import RawLogWriter, encode_lines, raw_dir_from_env, stamp_received

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
# Bodies parsed at once per server process. Parsing (gunzip, json, validation) runs in a pool of that many
# processes: off the event loop and outside its GIL, so /healthz and small batches are answered while
# big bodies are parsed, and the memory parsing takes is bounded by the pool, not by the requests waiting.
PARSE_SLOTS = 2
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
    """Decompress with a cap on the output, so a gzip bomb costs at most ``limit`` bytes."""
    decompressor = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
    try:
        data = decompressor.decompress(body, limit + 1)
    except zlib.error:
        raise RequestError(400, "invalid_gzip", "the body is not valid gzip") from None
    if len(data) > limit or decompressor.unconsumed_tail:
        raise RequestError(413, "request_too_large", f"a request is at most {limit} bytes")
    if not decompressor.eof:
        raise RequestError(400, "invalid_gzip", "the gzip stream is truncated")
    return data


def _bearer_token(request: Request) -> str | None:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" else None


def _beacon_key(payload: object) -> str | None:
    """Take the write key out of a beacon body, so that it is never mistaken for event data."""
    key = payload.pop(BEACON_KEY_FIELD, None) if isinstance(payload, dict) else None
    return key if isinstance(key, str) else None


def _same_key(token: str | None, key: str | None) -> bool:
    # compare_digest on bytes: constant time whatever the token holds.
    return token is not None and key is not None and hmac.compare_digest(token.encode(), key.encode())


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


async def _read_body(request: Request, limit: int) -> bytes:
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media_type == "text/plain":
        limit = min(limit, MAX_BEACON_BYTES)
    elif media_type != "application/json":
        raise RequestError(400, "unsupported_content_type", "the body must be application/json or a text/plain beacon")
    too_large = RequestError(413, "request_too_large", f"a request is at most {limit} bytes")
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise too_large
    chunks, size = [], 0
    try:
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                raise too_large
            chunks.append(chunk)
    except ClientDisconnect:
        raise RequestError(400, "client_disconnected", "the body was not fully received") from None
    return b"".join(chunks)


def _gzipped(request: Request) -> bool:
    encoding = request.headers.get("content-encoding", "identity").strip().lower()
    if encoding not in ("gzip", "identity"):
        raise RequestError(400, "unsupported_encoding", "Content-Encoding must be gzip or identity")
    return encoding == "gzip"


def _error_response(error: RequestError) -> JSONResponse:
    headers = {"WWW-Authenticate": "Bearer"} if error.status == 401 else error.headers
    return JSONResponse({"error": error.code, "detail": error.detail}, status_code=error.status, headers=headers)


def _status_for(accepted: int, errors: Iterable[EventError]) -> int:
    codes = {e.code for e in errors}
    if accepted or not codes:
        return 200
    return 413 if codes == {"event_too_large"} else 400


def parse_body(
    body: bytes, gzipped: bool, single: bool, limits: tuple[int, int, int], received_at: datetime
) -> tuple[bytes, int, list[EventError]]:
    """Gunzip, decode and validate a request body: the raw-log bytes of its valid events, their
    number, and the errors of the others. CPU-bound; runs in a parser process, which also encodes
    the lines, so the server only copies one bytes object (no 32 MB encode holding its GIL)."""
    max_request_bytes, max_batch_events, max_event_bytes = limits
    payload = decode_json(gunzip(body, max_request_bytes) if gzipped else body)
    if single:
        items = [payload]
    elif isinstance(payload, dict) and isinstance(payload.get("batch"), list):
        items = payload["batch"]
    else:
        raise RequestError(400, "bad_request", 'the body must be {"batch": [event, ...]}')
    if len(items) > max_batch_events:
        raise RequestError(413, "batch_too_large", f"a batch holds at most {max_batch_events} events")
    valid, errors = validate_items(items, max_event_bytes)
    return encode_lines(stamp_received(valid, received_at)), len(valid), errors


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

    def shutdown(self) -> None:
        with self._lock:
            if self._pool is not None:
                self._pool.shutdown(cancel_futures=True)
                self._pool = None


def create_app(settings: IngestSettings) -> Starlette:
    writer = RawLogWriter(settings.raw_dir)
    limiter = RateLimiter(settings.browser_rate_limit)
    parsers = ParserPool()
    limits = (settings.max_request_bytes, settings.max_batch_events, settings.max_event_bytes)

    async def ingest(request: Request, single: bool) -> JSONResponse:
        received_at = datetime.now(UTC)
        try:
            beacon = is_beacon(request.headers)
            if not beacon:  # a beacon's key is in its body
                _check_auth(request, settings, _bearer_token(request), limiter)
            gzipped = _gzipped(request)
            body = await _read_body(request, settings.max_request_bytes)
            if beacon:  # small (MAX_BEACON_BYTES): decoded here for its key; the events go to a parser
                beacon_body = gunzip(body, settings.max_request_bytes) if gzipped else body
                _check_auth(request, settings, _beacon_key(decode_json(beacon_body)), limiter)
            payload, accepted, errors = await asyncio.get_running_loop().run_in_executor(
                parsers.get(), parse_body, body, gzipped, single, limits, received_at
            )
        except RequestError as error:
            return _error_response(error)
        try:
            if accepted:  # fsync blocks: off the event loop
                await run_in_threadpool(writer.append_payload, payload, received_at)
        except OSError as error:
            # Nothing of this request is in the log (the writer rolls back): safe to retry.
            log.error("raw log append failed (errno %s); answering 503", error.errno)
            return JSONResponse(
                {"error": "storage_unavailable", "detail": "retry later"},
                status_code=503,
                headers={"Retry-After": "1"},
            )
        body = {
            "accepted": accepted,
            "rejected": len(errors),
            "errors": [asdict(e) for e in errors],
        }
        return JSONResponse(body, status_code=_status_for(accepted, errors))

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
        writer.close()

    return Starlette(
        routes=[
            Route("/v1/batch", batch, methods=["POST"]),
            Route("/v1/event", event, methods=["POST"]),
            Route("/healthz", healthz, methods=["GET"]),
        ],
        lifespan=lifespan,
        middleware=[Middleware(CorsMiddleware, allowed_origins=settings.allowed_origins)],
    )


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
