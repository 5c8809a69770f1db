"""A small analytics logger: queue events in memory, send them in batches from a thread.

In the spirit of the well-known analytics SDKs, with their known gaps closed:
- ``enqueue`` never blocks and never raises: a full queue drops the event and counts it;
- a background thread sends batches (by size or interval), gzip-compressed;
- connection errors, 5xx and 429 are retried with exponential backoff and jitter
  (honouring ``Retry-After``); other 4xx are not retried (the events are counted as rejected);
- ``flush()`` waits for delivery and the queue is flushed at interpreter exit (bounded by
  ``exit_timeout``), rather than merely joining the thread and losing the tail;
- ``sync=True`` delivers in the caller's thread, for tests and scripts.

``ANALYTICS_ENDPOINT`` (the API's base URL) and ``ANALYTICS_WRITE_KEY`` configure
:meth:`AnalyticsClient.from_env`; without an endpoint events go straight to the local
raw log in ``ANALYTICS_RAW_DIR``. A server that times out after storing a batch gets the
batch again; the pipeline de-duplicates by ``event_id``.
"""

from __future__ import annotations

import atexit
import contextlib
import gzip
import http.client
import json
import logging
import os
import queue
import random
import socket
import threading
import time
import weakref
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import NamedTuple, Protocol
from urllib.parse import urlsplit

from analytics_pipeline.contract import InteractionEvent, ResumeEvent, event_to_json
from analytics_pipeline.ingest.writer import RawLogWriter, raw_dir_from_env, stamp_received

log = logging.getLogger(__name__)

Event = ResumeEvent | InteractionEvent
ENDPOINT_ENV = "ANALYTICS_ENDPOINT"
WRITE_KEY_ENV = "ANALYTICS_WRITE_KEY"
# Well under the API's limits per request (32 MiB, 1,000 events, 2,000,000 JSON values: commas and closing
# brackets); a single event (<= ~2.5 MB, <= 600,000 commas in its texts) always fits.
MAX_REQUEST_BYTES = 8 * 1024 * 1024
MAX_REQUEST_EVENTS = 500
MAX_REQUEST_VALUES = 1_000_000
# The API answers with a small JSON object (a batch's errors included); more is not the API.
MAX_RESPONSE_BYTES = 1024 * 1024
# A Retry-After is honoured up to this many seconds (a longer one is a misconfiguration, not a plan).
MAX_RETRY_AFTER_SECONDS = 300.0
_FLUSH = object()  # queue marker: send what you have now


@dataclass(frozen=True)
class ClientStats:
    sent: int  # accepted by the server (or written to the local raw log)
    retried: int  # events re-sent after a retryable failure (one count per retry)
    dropped: int  # lost on this side: queue full, retries exhausted, or after shutdown
    rejected: int  # refused by the server as invalid or unauthorised (not retried)
    queued: int  # waiting to be sent


class RetryableSendError(Exception):
    def __init__(self, reason: str, retry_after: float | None = None):
        super().__init__(reason)
        self.retry_after = retry_after


class Payload(NamedTuple):
    count: int  # events in this payload
    data: object  # what the transport sends: a request body, or events


class Transport(Protocol):
    def prepare(self, events: Sequence[Event]) -> list[Payload]: ...

    def send(self, payload: Payload) -> tuple[int, int]:
        """Deliver; return (accepted, rejected) or raise RetryableSendError."""

    def close(self) -> None: ...


def _retry_after(value: str | None) -> float | None:
    try:
        return max(0.0, float(value)) if value else None
    except ValueError:
        return None  # an HTTP date: fall back to our own backoff


class HttpTransport:
    """POSTs gzip'd batches to ``<endpoint>/v1/batch`` over one keep-alive connection.

    ``timeout`` bounds each socket operation; a whole exchange (request, headers, body) is cut at
    ``3 * timeout`` however slowly a server drips its answer, and its body at MAX_RESPONSE_BYTES.
    """

    def __init__(self, endpoint: str, write_key: str | None, timeout: float = 10.0):
        url = urlsplit(endpoint)
        if url.scheme not in ("http", "https") or not url.hostname:
            raise ValueError("the endpoint must be an http(s) URL such as http://127.0.0.1:8000")
        self._connection_class = http.client.HTTPSConnection if url.scheme == "https" else http.client.HTTPConnection
        self._address = (url.hostname, url.port)
        self._path = url.path.rstrip("/") + "/v1/batch"
        self._timeout = timeout
        self._headers = {
            "Content-Type": "application/json",
            "Content-Encoding": "gzip",
            "User-Agent": "analytics-pipeline-logger/1",
        }
        # A key read from a file often ends in a newline; one with other control characters is not a key
        # (http.client would refuse the header on every send, with the key in its message).
        write_key = (write_key or "").strip()
        if any(ord(c) < 32 or ord(c) == 127 for c in write_key):
            raise ValueError(f"{WRITE_KEY_ENV} holds a control character")
        if write_key:
            self._headers["Authorization"] = f"Bearer {write_key}"
        self._connection: http.client.HTTPConnection | None = None
        self._socket = None  # the exchange's socket, shut down to end a read blocked in the sender

    def prepare(self, events: Sequence[Event]) -> list[Payload]:
        """Request bodies of at most MAX_REQUEST_BYTES (before compression)."""
        payloads, lines, size, values = [], [], 0, 0
        for line in (event_to_json(e).encode() for e in events):
            line_values = line.count(b",") + line.count(b"]") + line.count(b"}") + 1
            if lines and (
                size + len(line) > MAX_REQUEST_BYTES
                or len(lines) == MAX_REQUEST_EVENTS
                or values + line_values > MAX_REQUEST_VALUES
            ):
                payloads.append(self._body(lines))
                lines, size, values = [], 0, 0
            lines.append(line)
            size += len(line) + 1
            values += line_values
        if lines:
            payloads.append(self._body(lines))
        return payloads

    @staticmethod
    def _body(lines: list[bytes]) -> Payload:
        raw = b'{"batch":[' + b",".join(lines) + b"]}"
        return Payload(len(lines), gzip.compress(raw, compresslevel=5))

    def send(self, payload: Payload) -> tuple[int, int]:
        # A kept-alive connection the server has since closed fails at once: one fresh retry.
        attempts = 2 if self._connection is not None else 1
        for attempt in range(attempts):
            try:
                response, body = self._exchange(payload.data)
                break
            except (OSError, http.client.HTTPException) as error:
                self.close()  # the connection's state is unknown: start afresh
                if attempt == attempts - 1:
                    raise RetryableSendError(f"connection error ({type(error).__name__})") from None
        if response.status == 429 or response.status >= 500:
            raise RetryableSendError(f"HTTP {response.status}", _retry_after(response.getheader("Retry-After")))
        try:
            result = json.loads(body)
        except ValueError:
            result = None
        if not isinstance(result, dict):
            result = {}
        if 200 <= response.status < 300:
            accepted = result.get("accepted")
            if not isinstance(accepted, int) or not 0 <= accepted <= payload.count:
                # Not the API's answer (a proxy's page, another service): nothing is known to be stored.
                raise RetryableSendError(f"HTTP {response.status} without the API's answer")
            return accepted, payload.count - accepted
        log.error(
            "ingestion API refused a batch of %d events: HTTP %d %s",
            payload.count,
            response.status,
            result.get("error", ""),
        )
        return 0, payload.count

    def _exchange(self, body: bytes) -> tuple[http.client.HTTPResponse, bytes]:
        if self._connection is None:
            self._connection = self._connection_class(*self._address, timeout=self._timeout)
        if self._connection.sock is None:
            self._connection.connect()
        self._socket = self._connection.sock
        # A server that drips its answer a byte per `timeout` would hold the sender forever: cut it. (Not at
        # interpreter exit, where no thread may start: there shutdown() cuts it at `exit_timeout`.)
        watchdog = threading.Timer(3 * self._timeout, self._abort)
        watchdog.daemon = True
        with contextlib.suppress(RuntimeError):
            watchdog.start()
        try:
            self._connection.request("POST", self._path, body=body, headers=self._headers)
            response = self._connection.getresponse()
            data = response.read(MAX_RESPONSE_BYTES + 1)
        finally:
            watchdog.cancel()
        if len(data) > MAX_RESPONSE_BYTES:
            raise http.client.HTTPException("response larger than the API's")
        return response, data

    def _abort(self) -> None:
        # shutdown, not close: it ends a read blocked in another thread at once, without its locks.
        if (sock := self._socket) is not None:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    def close(self) -> None:
        if self._connection is not None:
            self._abort()
            self._connection.close()
            self._connection = None
            self._socket = None

    def after_fork(self) -> None:
        # The socket is the parent's connection: the child opens its own and leaves that one alone.
        self._connection = None


class _NoTransport:
    """What a closed client holds when the environment names no usable endpoint: it never sends."""

    def prepare(self, events: Sequence[Event]) -> list[Payload]:
        return []

    def send(self, payload: Payload) -> tuple[int, int]:
        raise RetryableSendError("no usable endpoint")

    def close(self) -> None:
        """Nothing to close."""


class LocalTransport:
    """Appends straight to the local raw log: the single-machine deployment and the demo."""

    def __init__(self, raw_dir: Path | str):
        self._writer = RawLogWriter(raw_dir)

    def prepare(self, events: Sequence[Event]) -> list[Payload]:
        return [Payload(len(events), list(events))]

    def send(self, payload: Payload) -> tuple[int, int]:
        received_at = datetime.now(UTC)
        try:
            self._writer.append(stamp_received(payload.data, received_at), received_at)
        except OSError as error:
            raise RetryableSendError(f"raw log append failed (errno {error.errno})") from None
        return payload.count, 0

    def close(self) -> None:
        self._writer.close()

    def after_fork(self) -> None:
        # The parent's writer lock may have been held at the fork; the child appends to its own file.
        self._writer = RawLogWriter(self._writer.raw_dir)


class AnalyticsClient:
    """Queue contract events and deliver them in the background; see the module docstring."""

    def __init__(
        self,
        transport: Transport,
        *,
        batch_size: int = 100,
        flush_interval: float = 0.5,
        max_queue_size: int = 10_000,
        max_queue_chars: int = 64 * 1024 * 1024,
        max_retries: int = 8,
        backoff_base: float = 0.1,
        backoff_max: float = 10.0,
        exit_timeout: float = 10.0,
        sync: bool = False,
    ):
        if batch_size < 1 or max_queue_size < 1 or max_retries < 0 or flush_interval <= 0:
            raise ValueError("batch_size and max_queue_size must be >= 1, max_retries >= 0, flush_interval > 0")
        self._transport = transport
        self.batch_size = batch_size
        self.flush_interval = flush_interval
        self.max_retries = max_retries
        self.backoff_base = backoff_base
        self.backoff_max = backoff_max
        self.exit_timeout = exit_timeout
        self.sync = sync
        self._queue: queue.Queue = queue.Queue(maxsize=max_queue_size)
        # Events are counted and their texts measured: 10,000 tailoring events of ~100 kB would hold 1 GB
        # while the API is down; beyond max_queue_chars an event is dropped and counted like a full queue.
        self.max_queue_chars = max_queue_chars
        self._queued_chars = 0
        self._counts = {"sent": 0, "retried": 0, "dropped": 0, "rejected": 0}
        self._pending = 0  # enqueued but not yet sent, rejected or dropped
        self._state = threading.Condition()
        self._closed = False
        self._sync_lock = threading.Lock()
        self._thread: threading.Thread | None = None
        if not sync:
            self._start_sender()
        atexit.register(self._at_exit)
        _clients.add(self)

    def _start_sender(self) -> None:
        # Daemon, so a hung endpoint can't keep the app alive; the atexit flush
        # (which runs while daemon threads still live) delivers the tail.
        self._thread = threading.Thread(target=self._run, name="analytics-sender", daemon=True)
        self._thread.start()

    def _restart_after_fork(self) -> None:
        """In a forked child (a pre-forking app server): the sender thread did not survive the fork,
        the parent's locks may have been held, and what was queued is the parent's to send. Start
        afresh with this process's own queue, sender and connection."""
        self._queue = queue.Queue(maxsize=self._queue.maxsize)
        self._state = threading.Condition()
        self._sync_lock = threading.Lock()
        self._pending = 0
        self._queued_chars = 0
        self._counts = dict.fromkeys(self._counts, 0)
        if after_fork := getattr(self._transport, "after_fork", None):
            after_fork()
        self._thread = None
        if not self.sync and not self._closed:
            self._start_sender()

    @classmethod
    def from_env(cls, **options) -> AnalyticsClient:
        """The environment's client. A malformed endpoint or key must not break the app: it is logged once
        and the client is closed, so every event is dropped and counted (``stats().dropped``)."""
        endpoint = os.environ.get(ENDPOINT_ENV)
        if not endpoint:
            return cls(LocalTransport(raw_dir_from_env()), **options)
        try:
            return cls(HttpTransport(endpoint, os.environ.get(WRITE_KEY_ENV)), **options)
        except ValueError as error:
            log.error("analytics client disabled, events are dropped: %s", error)
            client = cls(_NoTransport(), **options | {"sync": True})
            client.shutdown(timeout=0)
            return client

    # -- the app's side -------------------------------------------------------------

    def enqueue(self, event: Event) -> bool:
        """Hand over one event; returns False if it was dropped. Never blocks, never raises."""
        size = _text_chars(event)
        with self._state:
            if self._closed:
                self._counts["dropped"] += 1
                return False
            if not self.sync and self._queued_chars + size > self.max_queue_chars:
                self._counts["dropped"] += 1
                return False
            self._pending += 1
            if not self.sync:
                self._queued_chars += size
        if self.sync:
            with self._sync_lock:
                self._deliver_safely([event])
            return True
        try:
            self._queue.put_nowait(event)
        except queue.Full:
            with self._state:
                self._queued_chars -= size
            self._settle(dropped=1)
            return False
        return True

    def flush(self, timeout: float | None = None) -> bool:
        """Send everything queued so far; True if it all settled within ``timeout``."""
        if not self.sync:
            # A full queue is sent without waiting for the interval anyway.
            with contextlib.suppress(queue.Full):
                self._queue.put_nowait(_FLUSH)
        with self._state:
            return self._state.wait_for(lambda: self._pending == 0, timeout)

    def shutdown(self, timeout: float | None = None) -> bool:
        """Flush, stop the sender and close the transport; later events are dropped."""
        atexit.unregister(self._at_exit)
        flushed = self.flush(timeout)
        with self._state:
            self._closed = True
        if self._thread is not None:
            with contextlib.suppress(queue.Full):
                self._queue.put_nowait(_FLUSH)  # wake the sender so it sees the close
            self._thread.join(timeout=1.0 if flushed else 0)
        if not flushed:
            with self._state:
                lost, self._pending = self._pending, 0
                self._counts["dropped"] += lost
            log.warning("analytics client shut down with %d undelivered events", lost)
        self._transport.close()
        return flushed

    def stats(self) -> ClientStats:
        with self._state:
            return ClientStats(**self._counts, queued=self._pending)

    # -- the sender's side ----------------------------------------------------------

    def _at_exit(self) -> None:
        self.shutdown(timeout=self.exit_timeout)

    def _settle(self, **counts: int) -> None:
        with self._state:
            for name, value in counts.items():
                self._counts[name] += value
                if name != "retried":
                    self._pending -= value
            self._state.notify_all()

    def _run(self) -> None:
        while True:
            with self._state:
                if self._closed and self._queue.empty():
                    return
            batch = self._next_batch()
            if batch:
                self._deliver_safely(batch)

    def _next_batch(self) -> list[Event]:
        """Up to batch_size events: wait for the first, then at most flush_interval more."""
        batch: list[Event] = []
        deadline = None
        while len(batch) < self.batch_size:
            timeout = self.flush_interval if deadline is None else deadline - time.monotonic()
            try:
                item = self._queue.get(timeout=timeout) if timeout > 0 else self._queue.get_nowait()
            except queue.Empty:
                break
            if item is _FLUSH:
                if batch or self._closed:
                    break
                continue
            batch.append(item)
            deadline = deadline or time.monotonic() + self.flush_interval
        return batch

    def _deliver_safely(self, events: list[Event]) -> None:
        try:
            self._deliver(events)
        finally:
            if not self.sync:  # they weigh on the queue's bound until settled, also while being retried
                with self._state:
                    self._queued_chars -= sum(_text_chars(event) for event in events)

    def _deliver(self, events: list[Event]) -> None:
        try:
            payloads = self._transport.prepare(events)
        except Exception:  # a bug here must neither reach the app nor kill the sender
            log.exception("analytics client could not encode %d events", len(events))
            self._settle(dropped=len(events))
            return
        for payload in payloads:
            self._send_with_retries(payload)

    def _send_with_retries(self, payload: Payload) -> None:
        for attempt in range(self.max_retries + 1):
            try:
                accepted, rejected = self._transport.send(payload)
            except RetryableSendError as error:
                if attempt == self.max_retries:
                    log.warning("dropping %d events after %d attempts (%s)", payload.count, attempt + 1, error)
                    self._settle(dropped=payload.count)
                    return
                self._settle(retried=payload.count)
                time.sleep(self._backoff(attempt, error.retry_after))
                continue
            except Exception:  # never into the app, never killing the sender
                log.exception("analytics client failed to send %d events", payload.count)
                self._settle(dropped=payload.count)
                return
            self._settle(sent=accepted, rejected=rejected)
            return

    def _backoff(self, attempt: int, retry_after: float | None) -> float:
        ceiling = min(self.backoff_max, self.backoff_base * 2**attempt)
        delay = random.uniform(ceiling / 2, ceiling)  # "equal jitter": spread, yet growing
        if retry_after is not None:
            delay = max(delay, min(retry_after, MAX_RETRY_AFTER_SECONDS))
        return delay


def _text_chars(event: Event) -> int:
    """What an event weighs in the queue: its texts' characters, and a fixed allowance for the rest."""
    texts = (getattr(event, name, None) for name in ("resume_text", "job_description", "tailored_text"))
    return 512 + sum(len(text) for text in texts if text)


_clients: weakref.WeakSet[AnalyticsClient] = weakref.WeakSet()


def _restart_clients_after_fork() -> None:
    for client in list(_clients):
        client._restart_after_fork()


os.register_at_fork(after_in_child=_restart_clients_after_fork)
