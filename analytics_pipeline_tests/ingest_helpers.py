"""Reusable pieces for ingestion tests: a real uvicorn server on loopback that can misbehave.

``ingest_server(raw_dir, ...)`` yields an :class:`IngestServer` (its URL, raw dir, write key
and a record of the requests it saw). The end-to-end pipeline test reuses it.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime
from pathlib import Path

import anyio

from analytics_pipeline.contract import parse_event_line
from analytics_pipeline.ingest.api import IngestSettings, create_app
from analytics_pipeline.ingest.serve import ConnectionGuard, running_server
from analytics_pipeline.raw_log import available_days, iter_raw_lines

TEST_WRITE_KEY = "test-write-key-not-secret"


@dataclass
class Misbehaviour:
    """What the test middleware does before the app sees a POST."""

    fail_first: int = 0  # answer the first N POSTs with this status, without storing anything
    fail_status: int = 503
    retry_after: str | None = None
    gate: threading.Event | None = None  # hold every POST until set
    seen: list[dict] = field(default_factory=list)  # headers of every POST
    lock: threading.Lock = field(default_factory=threading.Lock)


class MisbehavingMiddleware:
    """Test-only ASGI middleware: records POSTs, fails the first few, optionally holds them."""

    def __init__(self, app, behaviour: Misbehaviour):
        self.app, self.behaviour = app, behaviour

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or scope["method"] != "POST":
            return await self.app(scope, receive, send)
        b = self.behaviour
        with b.lock:
            b.seen.append({k.decode(): v.decode() for k, v in scope["headers"]})
            failing = len(b.seen) <= b.fail_first
        if b.gate is not None:
            await anyio.to_thread.run_sync(b.gate.wait)
        if not failing:
            return await self.app(scope, receive, send)
        headers = [(b"content-type", b"application/json")]
        if b.retry_after is not None:
            headers.append((b"retry-after", b.retry_after.encode()))
        await send({"type": "http.response.start", "status": b.fail_status, "headers": headers})
        await send({"type": "http.response.body", "body": b'{"error":"injected"}'})


@dataclass
class IngestServer:
    url: str
    raw_dir: Path
    write_key: str | None
    behaviour: Misbehaviour


@contextmanager
def ingest_server(
    raw_dir: Path, write_key: str | None = TEST_WRITE_KEY, **settings_and_behaviour
) -> Iterator[IngestServer]:
    """A real uvicorn server on 127.0.0.1:<free port> writing to ``raw_dir``.

    Keyword arguments go to :class:`Misbehaviour` (``fail_first=3`` ...) or, if they are
    settings, to :class:`IngestSettings` (``max_request_bytes=...``, ``allowed_origins=...``).
    """
    setting_names = {f.name for f in fields(IngestSettings)}
    limits = {k: v for k, v in settings_and_behaviour.items() if k in setting_names}
    behaviour = Misbehaviour(**{k: v for k, v in settings_and_behaviour.items() if k not in limits})
    app = create_app(IngestSettings(raw_dir=raw_dir, write_key=write_key, **limits))
    guard = ConnectionGuard(allowed_origins=limits.get("allowed_origins", frozenset()))
    with running_server(MisbehavingMiddleware(app, behaviour), guard=guard) as url:
        yield IngestServer(url, raw_dir, write_key, behaviour)


def raw_event_ids(raw_dir: Path) -> list[str]:
    """The event IDs in the raw log, one per line; fails if any line does not parse."""
    return [
        str(parse_event_line(line.content).event_id)
        for day in available_days(raw_dir)
        for line in iter_raw_lines(raw_dir, day)
    ]


def interaction(**overrides) -> dict:
    """A valid, clearly synthetic interaction event as JSON-ready data."""
    return {
        "event_id": str(uuid.uuid4()),
        "occurred_at": datetime.now(UTC).isoformat(),
        "user_id": "synthetic-user-1",
        "event_type": "interaction",
        "action": "click",
        "element": "tailor-button",
    } | overrides
