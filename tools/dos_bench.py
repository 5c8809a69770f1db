"""Denial-of-service benchmark of the ingestion API: idle and slowloris connections on loopback.

    python -m tools.dos_bench --idle 1000 --slowloris 200 --seconds 60

Starts ``analytics-pipeline serve`` (one worker, throwaway key and raw dir), then holds ``--idle``
connections that never send a byte and ``--slowloris`` connections that send a request head one
header line every ``--drip`` seconds, reopening each one the server closes, so the attacker keeps
them all open for ``--seconds``. The attack comes from many loopback source addresses
(127.0.<n>.<m>, at most ``--per-address`` each: a botnet, not one host the per-address cap would
stop). Meanwhile a legitimate client on 127.0.0.1 sends valid batches one after the other and
``/healthz`` is probed. Loopback only; bounded in connections and time.

Prints connections held (sampled every second), closed by the server, the legitimate requests'
statuses and latency p50/p99, and the server's peak RSS. Exits non-zero if any legitimate request
was not answered 2xx or its p99 is 1 s or more.
"""

from __future__ import annotations

import argparse
import asyncio
import http.client
import json
import os
import secrets
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from tools.load_bench import free_port, percentile, synthetic_event, wait_healthy

ATTACK_HEAD = b"POST /v1/batch HTTP/1.1\r\nHost: 127.0.0.1\r\n"


@dataclass
class AttackStats:
    open_now: int = 0
    opened: int = 0
    closed_by_server: int = 0
    refused: int = 0
    samples: list[int] = field(default_factory=list)


def attacker_addresses(count: int, per_address: int) -> list[str]:
    """Loopback source addresses 127.0.1.1, 127.0.1.2, ... each used by at most ``per_address`` connections."""
    needed = -(-count // per_address)
    return [f"127.0.{1 + i // 250}.{1 + i % 250}" for i in range(needed)]


async def _hold(port: int, source: str, drip: float | None, stats: AttackStats, stop: asyncio.Event) -> None:
    """Keep one attacking connection open until ``stop``; reopen it whenever the server closes it."""
    while not stop.is_set():
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", port, local_addr=(source, 0))
        except OSError:
            stats.refused += 1
            await asyncio.sleep(0.2)
            continue
        stats.opened += 1
        stats.open_now += 1
        try:
            if drip is not None:
                writer.write(ATTACK_HEAD)
            while not stop.is_set():
                read = asyncio.ensure_future(reader.read(1024))
                waiter = asyncio.ensure_future(stop.wait())
                done, _ = await asyncio.wait({read, waiter}, timeout=drip, return_when=asyncio.FIRST_COMPLETED)
                waiter.cancel()
                if read in done:
                    if not read.result():  # EOF: the server closed it
                        stats.closed_by_server += 1
                        break
                else:
                    read.cancel()
                if drip is not None and not stop.is_set():
                    writer.write(b"X-Slow: 1\r\n")  # never the blank line that ends the head
                    await writer.drain()
        except OSError:
            stats.closed_by_server += 1
        finally:
            stats.open_now -= 1
            writer.close()


async def _attack(port, idle, slowloris, per_address, drip, seconds, stats: AttackStats) -> None:
    stop = asyncio.Event()
    sources = attacker_addresses(idle + slowloris, per_address)
    tasks = [
        asyncio.ensure_future(_hold(port, sources[i // per_address], None if i < idle else drip, stats, stop))
        for i in range(idle + slowloris)
    ]
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        await asyncio.sleep(1.0)
        stats.samples.append(stats.open_now)
    stop.set()
    await asyncio.gather(*tasks, return_exceptions=True)


def attack(port: int, idle: int, slowloris: int, per_address: int, drip: float, seconds: float) -> AttackStats:
    stats = AttackStats()
    asyncio.run(_attack(port, idle, slowloris, per_address, drip, seconds, stats))
    return stats


@dataclass
class LegitStats:
    statuses: dict[int, int] = field(default_factory=dict)  # of the batches
    health_statuses: dict[int, int] = field(default_factory=dict)
    latencies: list[float] = field(default_factory=list)
    health_latencies: list[float] = field(default_factory=list)
    errors: int = 0


def legitimate_client(port: int, key: str, stop: threading.Event, stats: LegitStats) -> None:
    """Valid batches of 50 events, one after the other, each on a fresh connection (the worst case)."""
    index = 0
    while not stop.is_set():
        body = json.dumps({"batch": [synthetic_event(index + i, 0.1) for i in range(50)]}).encode()
        index += 50
        for method, path, payload, sink, statuses in (
            ("POST", "/v1/batch", body, stats.latencies, stats.statuses),
            ("GET", "/healthz", None, stats.health_latencies, stats.health_statuses),
        ):
            started = time.perf_counter()
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            try:
                headers = {"Content-Type": "application/json", "Authorization": f"Bearer {key}"}
                connection.request(method, path, body=payload, headers=headers if payload else {})
                status = connection.getresponse().status
                sink.append(time.perf_counter() - started)
                statuses[status] = statuses.get(status, 0) + 1
            except OSError:
                stats.errors += 1
            finally:
                connection.close()
        time.sleep(0.05)


def peak_rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def run(idle: int, slowloris: int, seconds: float, per_address: int, drip: float, head_timeout: float) -> dict:
    """Start a server, attack it while a legitimate client works; returns the measurements."""
    key = secrets.token_urlsafe(24)
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="dos-bench-") as tmp:
        env = os.environ | {"ANALYTICS_WRITE_KEY": key, "ANALYTICS_RAW_DIR": str(Path(tmp) / "raw")}
        env.pop("ANALYTICS_INGEST_DEV_MODE", None)
        command = [sys.executable, "-m", "analytics_pipeline.ingest.serve", "--port", str(port)]
        command += ["--head-timeout", str(head_timeout)]
        server = subprocess.Popen(command, env=env, stderr=subprocess.DEVNULL)
        try:
            wait_healthy(port, server)
            legit, stop = LegitStats(), threading.Event()
            thread = threading.Thread(target=legitimate_client, args=(port, key, stop, legit))
            attack_stats: list[AttackStats] = []
            attacker = threading.Thread(
                target=lambda: attack_stats.append(attack(port, idle, slowloris, per_address, drip, seconds))
            )
            attacker.start()
            time.sleep(min(2.0, seconds / 4))  # let the attacker open its connections first
            thread.start()
            attacker.join()
            stop.set()
            thread.join()
            rss = peak_rss_mib(server.pid)
        finally:
            server.terminate()
            server.wait(timeout=30)
    held = attack_stats[0]
    steady = held.samples[len(held.samples) // 4 :] or held.samples
    return {
        "attack_connections": idle + slowloris,
        "held_min": min(steady),
        "held_mean": sum(steady) / len(steady),
        "opened": held.opened,
        "closed_by_server": held.closed_by_server,
        "refused": held.refused,
        "batches": sum(legit.statuses.values()),
        "statuses": legit.statuses,
        "healthz_statuses": legit.health_statuses,
        "errors": legit.errors,
        "p50_ms": percentile(legit.latencies, 0.5) * 1000,
        "p99_ms": percentile(legit.latencies, 0.99) * 1000,
        "healthz_p99_ms": percentile(legit.health_latencies, 0.99) * 1000,
        "server_peak_rss_mib": rss,
    }


def held(result: dict) -> bool:
    """Every legitimate request answered 2xx, batches' p99 under 1 s."""
    statuses = {*result["statuses"], *result["healthz_statuses"]}
    return bool(result["batches"]) and statuses == {200} and not result["errors"] and result["p99_ms"] < 1000


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--idle", type=int, default=1000, help="connections that never send a byte")
    parser.add_argument("--slowloris", type=int, default=200, help="connections that drip a request head")
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--drip", type=float, default=5.0, help="seconds between a slowloris' header lines")
    parser.add_argument("--per-address", type=int, default=32, help="attacking connections per source address")
    parser.add_argument("--head-timeout", type=float, default=5.0, help="the server's --head-timeout")
    args = parser.parse_args(argv)
    result = run(args.idle, args.slowloris, args.seconds, args.per_address, args.drip, args.head_timeout)
    print(json.dumps(result, indent=2))
    ok = held(result)
    print("SERVICE HELD" if ok else "SERVICE DENIED")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
