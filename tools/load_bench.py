"""Load benchmark of the ingestion API on loopback, with a zero-loss reconciliation.

    python -m tools.load_bench --clients 4 --events 200000 --workers 2

Starts ``analytics-pipeline serve`` (as ``python -m analytics_pipeline.ingest.serve``) with a
throwaway write key and raw dir, sends pre-built gzip batches of synthetic events from
several concurrent keep-alive clients (bounded by ``--events`` and ``--max-seconds``), then
reads the raw log back: every accepted event must be there exactly once, every line must
parse, and nothing else may be there. Prints accepted events/s and p50/p99 request latency.
"""

from __future__ import annotations

import argparse
import gzip
import http.client
import json
import os
import secrets
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

from analytics_pipeline.contract import InvalidEvent, parse_event_line
from analytics_pipeline.raw_log import available_days, iter_raw_lines


def synthetic_event(index: int, resume_share: float) -> dict:
    """Clearly synthetic events; every ``1/resume_share``-th is a resume tailoring event."""
    base = {
        "event_id": str(uuid.uuid4()),
        "occurred_at": datetime.now(UTC).isoformat(),
        "user_id": f"bench-user-{index % 997}",
    }
    if resume_share and index % round(1 / resume_share) == 0:
        return base | {
            "event_type": "resume.tailor",
            "resume_id": f"bench-resume-{index}",
            "version": 1,
            "resume_text": "Synthetic resume line for load testing. " * 50,
            "job_description": "Synthetic job description. " * 20,
            "ats_score": 71.5,
        }
    return base | {"event_type": "interaction", "action": "click", "element": "tailor-button"}


def build_batches(events: int, batch_size: int, resume_share: float) -> list[tuple[list[str], bytes]]:
    """(event IDs, gzip body) per batch, built before the clock starts."""
    batches = []
    for start in range(0, events, batch_size):
        batch = [synthetic_event(i, resume_share) for i in range(start, min(events, start + batch_size))]
        body = gzip.compress(json.dumps({"batch": batch}).encode(), compresslevel=5)
        batches.append(([e["event_id"] for e in batch], body))
    return batches


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_healthy(port: int, server: subprocess.Popen, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError("the server exited during startup")
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
        try:
            connection.request("GET", "/healthz")
            if connection.getresponse().status == 200:
                return
        except OSError:
            time.sleep(0.1)
        finally:
            connection.close()
    raise RuntimeError("the server did not become healthy")


def run_clients(port, key, batches, clients, max_seconds):
    """Send every batch once; returns (accepted IDs, latencies in s, failed requests, seconds)."""
    headers = {
        "Content-Type": "application/json",
        "Content-Encoding": "gzip",
        "Authorization": f"Bearer {key}",
    }
    work = iter(batches)
    lock = threading.Lock()
    accepted: list[str] = []
    latencies: list[float] = []
    failed = [0]
    stop_at = time.monotonic() + max_seconds

    def client() -> None:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        while time.monotonic() < stop_at:
            with lock:
                item = next(work, None)
            if item is None:
                break
            ids, body = item
            began = time.perf_counter()
            try:
                connection.request("POST", "/v1/batch", body=body, headers=headers)
                response = connection.getresponse()
                result = json.loads(response.read())
                ok = response.status == 200 and result["accepted"] == len(ids)
            except (OSError, http.client.HTTPException, ValueError):
                connection.close()
                ok = False
            elapsed = time.perf_counter() - began
            with lock:
                latencies.append(elapsed)
                if ok:
                    accepted.extend(ids)
                else:
                    failed[0] += 1
        connection.close()

    threads = [threading.Thread(target=client) for _ in range(clients)]
    began = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return accepted, latencies, failed[0], time.perf_counter() - began


def reconcile(raw_dir: Path, accepted: list[str]) -> dict:
    """Count accepted events found once, missing, duplicated; unexpected and unparsable lines."""
    seen: Counter[str] = Counter()
    unparsable = 0
    for day in available_days(raw_dir):
        for line in iter_raw_lines(raw_dir, day):
            try:
                seen[str(parse_event_line(line.content).event_id)] += 1
            except InvalidEvent:
                unparsable += 1
    expected = set(accepted)
    return {
        "exactly_once": sum(1 for i in expected if seen[i] == 1),
        "missing": sum(1 for i in expected if seen[i] == 0),
        "duplicated": sum(1 for i in expected if seen[i] > 1),
        "unexpected": sum(1 for i in seen if i not in expected),
        "unparsable": unparsable,
    }


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))] if ordered else float("nan")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", type=int, default=4, help="concurrent connections")
    parser.add_argument("--events", type=int, default=200_000, help="events to send in total")
    parser.add_argument("--batch-size", type=int, default=100)
    parser.add_argument("--workers", type=int, default=2, help="server worker processes")
    parser.add_argument("--max-seconds", type=float, default=120.0, help="stop sending after this")
    parser.add_argument("--resume-share", type=float, default=0.1, help="share of resume events (~2 kB text)")
    args = parser.parse_args(argv)

    batches = build_batches(args.events, args.batch_size, args.resume_share)
    key = secrets.token_urlsafe(24)
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="ingest-bench-") as tmp:
        raw_dir = Path(tmp) / "raw"
        env = os.environ | {"ANALYTICS_WRITE_KEY": key, "ANALYTICS_RAW_DIR": str(raw_dir)}
        env.pop("ANALYTICS_INGEST_DEV_MODE", None)
        server = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "analytics_pipeline.ingest.serve",
                "--port",
                str(port),
                "--workers",
                str(args.workers),
            ],
            env=env,
            stderr=subprocess.DEVNULL,
        )
        try:
            wait_healthy(port, server)
            accepted, latencies, failed, seconds = run_clients(port, key, batches, args.clients, args.max_seconds)
        finally:
            server.terminate()
            server.wait(timeout=30)
        report = reconcile(raw_dir, accepted)

    print(
        f"server workers {args.workers}, clients {args.clients}, batch size {args.batch_size}, "
        f"resume events {args.resume_share:.0%}"
    )
    print(
        f"accepted {len(accepted)} events in {seconds:.2f} s: {len(accepted) / seconds:,.0f} events/s "
        f"({len(latencies) / seconds:,.0f} requests/s, {failed} failed requests)"
    )
    print(
        f"latency per request: p50 {percentile(latencies, 0.50) * 1000:.1f} ms, "
        f"p99 {percentile(latencies, 0.99) * 1000:.1f} ms"
    )
    print("reconciliation: " + ", ".join(f"{name} {count}" for name, count in report.items()))
    lossless = report["exactly_once"] == len(accepted) and not any(
        report[k] for k in ("missing", "duplicated", "unexpected", "unparsable")
    )
    print("ZERO LOSS: every accepted event is in the raw log exactly once" if lossless else "LOSS DETECTED")
    return 0 if lossless and not failed else 1


if __name__ == "__main__":
    raise SystemExit(main())
