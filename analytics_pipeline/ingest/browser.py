"""What the ingestion API needs to be called from a web page: CORS, and limits on the public browser key.

- :class:`CorsMiddleware` answers preflights and adds ``Access-Control-Allow-Origin`` (echoing the
  origin) only for the exact origins of ``ANALYTICS_ALLOWED_ORIGINS``; other origins get no CORS header.
- A browser write key (``ANALYTICS_BROWSER_WRITE_KEY``) ships in every page, so it is public: the API
  accepts it only with an allowed ``Origin`` and at most ``ANALYTICS_BROWSER_RATE_LIMIT`` requests a
  minute per client address (:class:`RateLimiter`).
- ``navigator.sendBeacon`` cannot set headers: a ``text/plain`` body ``{"writeKey": ..., "batch": [...]}``
  carries the key instead (:func:`is_beacon`).
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Iterable

from starlette.datastructures import Headers
from starlette.responses import PlainTextResponse, Response

ALLOWED_ORIGINS_ENV = "ANALYTICS_ALLOWED_ORIGINS"
BROWSER_WRITE_KEY_ENV = "ANALYTICS_BROWSER_WRITE_KEY"
BROWSER_RATE_LIMIT_ENV = "ANALYTICS_BROWSER_RATE_LIMIT"
# A page sends a batch every few seconds at most; 120 a minute leaves room for bursts and retries.
DEFAULT_BROWSER_RATE_LIMIT = 120
# The browser caps all keepalive/beacon bodies of a page at 64 KiB together: a bigger text/plain body is
# not a beacon, and it is read before the key is known, so it stays small.
MAX_BEACON_BYTES = 64 * 1024
BEACON_KEY_FIELD = "writeKey"
PREFLIGHT_MAX_AGE = "600"


def parse_origins(value: str | None) -> frozenset[str]:
    """Comma-separated exact origins (``https://app.example.com``), trailing slashes ignored."""
    return frozenset(o.strip().rstrip("/") for o in (value or "").split(",") if o.strip())


def is_beacon(headers: Headers) -> bool:
    return headers.get("content-type", "").split(";")[0].strip().lower() == "text/plain"


class RateLimiter:
    """Fixed one-minute windows per client address; memory is bounded by the addresses of one window."""

    def __init__(self, per_minute: int, clock=time.monotonic):
        self.per_minute, self.clock = per_minute, clock
        self.window_start, self.counts = clock(), {}
        self.lock = threading.Lock()  # cheap, and correct wherever the caller runs

    def retry_after(self, address: str) -> int:
        """Count one request of ``address``: 0 if allowed, else seconds until its window ends."""
        with self.lock:
            return self._count(address)

    def _count(self, address: str) -> int:
        now = self.clock()
        if now - self.window_start >= 60:
            self.window_start, self.counts = now, {}
        count = self.counts.get(address, 0) + 1
        self.counts[address] = count
        if count <= self.per_minute:
            return 0
        return max(1, math.ceil(self.window_start + 60 - now))


def cors_headers(origin: str) -> list[tuple[bytes, bytes]]:
    """The CORS headers of any answer to an allowed ``origin`` (so a page can read it and its Retry-After)."""
    return [
        (b"access-control-allow-origin", origin.encode("latin-1")),
        (b"access-control-expose-headers", b"Retry-After"),
        (b"vary", b"Origin"),
    ]


class CorsMiddleware:
    """ASGI middleware: CORS for exact allowed origins, nothing at all for the others."""

    def __init__(self, app, allowed_origins: Iterable[str]):
        self.app, self.allowed = app, frozenset(allowed_origins)

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        headers = Headers(scope=scope)
        origin = headers.get("origin")
        allowed = origin is not None and origin in self.allowed
        if scope["method"] == "OPTIONS" and "access-control-request-method" in headers:
            response = self._preflight(origin) if allowed else PlainTextResponse("origin not allowed", 403)
            return await response(scope, receive, send)
        if not allowed:
            return await self.app(scope, receive, send)

        async def send_with_cors(message):
            if message["type"] == "http.response.start":
                message.setdefault("headers", [])
                message["headers"] = [*message["headers"], *cors_headers(origin)]
            await send(message)

        return await self.app(scope, receive, send_with_cors)

    @staticmethod
    def _preflight(origin: str) -> Response:
        return Response(
            status_code=204,
            headers={
                "Access-Control-Allow-Origin": origin,
                "Access-Control-Allow-Methods": "POST",
                "Access-Control-Allow-Headers": "Authorization, Content-Type, Content-Encoding",
                "Access-Control-Max-Age": PREFLIGHT_MAX_AGE,
                "Vary": "Origin",
            },
        )
