"""Denial-of-service benchmark of the ingestion API on loopback: idle, slowloris, slow beacons, beacon bombs.

    python -m tools.dos_bench --idle 1000 --slowloris 200 --seconds 60
    python -m tools.dos_bench --idle 0 --slowloris 0 --slow-bodies 64 --beacon-bombs 4 --seconds 30

Starts ``analytics-pipeline serve`` (one worker, throwaway key and raw dir) and attacks it for
``--seconds``, none of it with a key:
- ``--idle`` connections that never send a byte and ``--slowloris`` connections that send a request
  head one header line every ``--drip`` seconds, from many loopback source addresses (127.0.<n>.<m>,
  at most ``--per-address`` each: a botnet, not one host the per-address cap would stop);
- ``--slow-bodies`` ``text/plain`` beacons from one address (127.0.0.2) whose body comes one byte every
  ``--body-drip`` seconds;
- ``--beacon-bombs`` connections from 127.0.0.3 sending, one after the other, gzip beacons of ~31 kB
  that inflate to 31.8 MB.
Every attacking connection is reopened as soon as the server closes or answers it. Meanwhile a legitimate
client on 127.0.0.1 sends valid 50-event batches one after the other, each on a new connection, and
probes ``/healthz``; it runs alone for ``--baseline-seconds`` first, for a same-run comparison.

Prints connections held (sampled every second), closed or answered by the server, the legitimate
requests' statuses and latency p50/p99 (with and without the attack), the server's peak RSS and the CPU
time it spent during the attack. Exits
non-zero if any legitimate request was not answered 2xx or its p99 is ``--max-p99-ms`` or more.
"""

from __future__ import annotations

import argparse
import asyncio
import gzip
import http.client
import json
import multiprocessing
import os
import secrets
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path

import psutil

from tools.load_bench import free_port, percentile, synthetic_event, wait_healthy

ATTACK_HEAD = b"POST /v1/batch HTTP/1.1\r\nHost: 127.0.0.1\r\n"
# A beacon (no key) that promises a body of 60,000 bytes, and sends them one by one.
SLOW_BEACON = ATTACK_HEAD + b"Content-Type: text/plain\r\nContent-Length: 60000\r\n\r\n{"
SLOW_BODY_ADDRESS = "127.0.0.2"
BOMB_ADDRESS = "127.0.0.3"


def beacon_bomb() -> bytes:
    """A keyless gzip beacon, ~31 kB on the wire, that inflates to 31.8 MB of valid JSON."""
    body = gzip.compress(b'{"batch": [' + b" " * 31_800_000 + b"]}", compresslevel=9)
    headers = b"Content-Type: text/plain\r\nContent-Encoding: gzip\r\nContent-Length: %d\r\n\r\n" % len(body)
    return ATTACK_HEAD + headers + body


@dataclass
class AttackStats:
    open_now: int = 0
    opened: int = 0
    closed_by_server: int = 0
    answered: int = 0  # the server sent a response (and the attacker reconnected)
    refused: int = 0
    statuses: dict[str, int] = field(default_factory=dict)  # of the answers
    samples: list[int] = field(default_factory=list)


def attacker_addresses(count: int, per_address: int) -> list[str]:
    """Loopback source addresses 127.0.1.1, 127.0.1.2, ... each used by at most ``per_address`` connections."""
    needed = -(-count // per_address)
    return [f"127.0.{1 + i // 250}.{1 + i % 250}" for i in range(needed)]


def _answered(stats: AttackStats, data: bytes) -> None:
    stats.answered += 1
    status = data.split(b" ", 2)[1].decode("ascii", "replace") if data.startswith(b"HTTP/") else "?"
    stats.statuses[status] = stats.statuses.get(status, 0) + 1


async def _connect(port: int, source: str, stats: AttackStats):
    """A connection from ``source`` (reader, writer), or None a moment after the server refused one."""
    try:
        connection = await asyncio.open_connection("127.0.0.1", port, local_addr=(source, 0))
    except OSError:
        stats.refused += 1
        await asyncio.sleep(0.2)
        return None
    stats.opened += 1
    return connection


async def _hold(
    port: int,
    source: str,
    opening: bytes,
    drip: bytes | None,
    interval: float | None,
    stats: AttackStats,
    stop: asyncio.Event,
) -> None:
    """Keep one attacking connection open until ``stop``: send ``opening``, then ``drip`` every ``interval``
    seconds; reopen it as soon as the server closes it, or an ``interval`` after it answered (a refusal)."""
    while not stop.is_set():
        if (connection := await _connect(port, source, stats)) is None:
            continue
        reader, writer = connection
        stats.open_now += 1
        try:
            writer.write(opening)
            while not stop.is_set():
                read = asyncio.ensure_future(reader.read(1024))
                waiter = asyncio.ensure_future(stop.wait())
                done, _ = await asyncio.wait({read, waiter}, timeout=interval, return_when=asyncio.FIRST_COMPLETED)
                waiter.cancel()
                if read in done:
                    if read.result():
                        _answered(stats, read.result())
                        await asyncio.wait([waiter := asyncio.ensure_future(stop.wait())], timeout=interval)
                        waiter.cancel()
                    else:  # EOF: the server closed it
                        stats.closed_by_server += 1
                    break
                read.cancel()
                if drip is not None and not stop.is_set():
                    writer.write(drip)
                    await writer.drain()
        except OSError:
            stats.closed_by_server += 1
        finally:
            stats.open_now -= 1
            writer.close()


async def _bomb(port: int, request: bytes, stats: AttackStats, stop: asyncio.Event) -> None:
    """Send ``request`` on a new connection, read the answer, again, until ``stop``."""
    while not stop.is_set():
        if (connection := await _connect(port, BOMB_ADDRESS, stats)) is None:
            continue
        reader, writer = connection
        try:
            writer.write(request)
            await writer.drain()
            answer = await reader.read(1024)
            if answer:
                _answered(stats, answer)
            else:
                stats.closed_by_server += 1
        except OSError:
            stats.closed_by_server += 1
        finally:
            writer.close()


@dataclass(frozen=True)
class Attack:
    idle: int = 0
    slowloris: int = 0
    slow_bodies: int = 0
    beacon_bombs: int = 0
    per_address: int = 32
    drip: float = 5.0  # seconds between a slowloris' header lines
    body_drip: float = 2.0  # seconds between a slow body's bytes


async def _attack(port: int, attack: Attack, seconds: float) -> dict[str, AttackStats]:
    stop = asyncio.Event()
    stats = {"connections": AttackStats(), "slow_bodies": AttackStats(), "beacon_bombs": AttackStats()}
    sources = attacker_addresses(attack.idle + attack.slowloris, attack.per_address)
    tasks = []
    for i in range(attack.idle + attack.slowloris):
        opening, drip = (b"", None) if i < attack.idle else (ATTACK_HEAD, b"X-Slow: 1\r\n")  # never the blank line
        interval = None if i < attack.idle else attack.drip
        tasks.append(_hold(port, sources[i // attack.per_address], opening, drip, interval, stats["connections"], stop))
    tasks += [
        _hold(port, SLOW_BODY_ADDRESS, SLOW_BEACON, b" ", attack.body_drip, stats["slow_bodies"], stop)
        for _ in range(attack.slow_bodies)
    ]
    bomb = beacon_bomb()
    tasks += [_bomb(port, bomb, stats["beacon_bombs"], stop) for _ in range(attack.beacon_bombs)]
    running = [asyncio.ensure_future(task) for task in tasks]
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        await asyncio.sleep(1.0)
        for kind in stats.values():
            kind.samples.append(kind.open_now)
    stop.set()
    await asyncio.gather(*running, return_exceptions=True)
    return stats


def attack_server(port: int, attack: Attack, seconds: float) -> dict[str, AttackStats]:
    return asyncio.run(_attack(port, attack, seconds))


@dataclass
class LegitStats:
    statuses: dict[int, int] = field(default_factory=dict)  # of the batches
    health_statuses: dict[int, int] = field(default_factory=dict)
    latencies: list[float] = field(default_factory=list)
    health_latencies: list[float] = field(default_factory=list)
    errors: int = 0

    def summary(self) -> dict:
        return {
            "batches": sum(self.statuses.values()),
            "statuses": self.statuses,
            "healthz_statuses": self.health_statuses,
            "errors": self.errors,
            "p50_ms": percentile(self.latencies, 0.5) * 1000,
            "p99_ms": percentile(self.latencies, 0.99) * 1000,
            "healthz_p99_ms": percentile(self.health_latencies, 0.99) * 1000,
        }


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


def legitimate_alone(port: int, key: str, seconds: float) -> LegitStats:
    stats, stop = LegitStats(), threading.Event()
    client = threading.Thread(target=legitimate_client, args=(port, key, stop, stats))
    client.start()
    time.sleep(seconds)
    stop.set()
    client.join()
    return stats


def peak_rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def server_cpu_seconds(pid: int) -> float:
    times = psutil.Process(pid).cpu_times()
    return times.user + times.system


def run(
    idle: int = 0,
    slowloris: int = 0,
    seconds: float = 30.0,
    per_address: int = 32,
    drip: float = 5.0,
    head_timeout: float = 5.0,
    slow_bodies: int = 0,
    beacon_bombs: int = 0,
    body_drip: float = 2.0,
    baseline_seconds: float = 0.0,
) -> dict:
    """Start a server, attack it while a legitimate client works; returns the measurements."""
    attack = Attack(idle, slowloris, slow_bodies, beacon_bombs, per_address, drip, body_drip)
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
            legitimate_alone(port, key, 0.5)  # starts the parser processes: not part of any measurement
            baseline = legitimate_alone(port, key, baseline_seconds) if baseline_seconds else None
            legit, stop = LegitStats(), threading.Event()
            thread = threading.Thread(target=legitimate_client, args=(port, key, stop, legit))
            # The attacker in a process of its own: its event loop must not share the legitimate client's GIL.
            cpu_before = server_cpu_seconds(server.pid)
            with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as attacker:
                attacked = attacker.submit(attack_server, port, attack, seconds)
                time.sleep(min(2.0, seconds / 4))  # let the attacker open its connections first
                thread.start()
                attack_stats = attacked.result()
            stop.set()
            cpu = server_cpu_seconds(server.pid) - cpu_before
            thread.join()
            rss = peak_rss_mib(server.pid)
        finally:
            server.terminate()
            server.wait(timeout=30)
    held = attack_stats["connections"]
    steady = held.samples[len(held.samples) // 4 :] or held.samples
    result = {
        "attack": asdict(attack),
        "attack_connections": idle + slowloris,
        "held_min": min(steady),
        "held_mean": sum(steady) / len(steady),
        "opened": held.opened,
        "closed_by_server": held.closed_by_server,
        "refused": held.refused,
        **legit.summary(),
        "server_peak_rss_mib": rss,
        "server_cpu_seconds": cpu,  # the server process's, during the attack (its parsers' apart)
    }
    for kind in ("slow_bodies", "beacon_bombs"):
        if getattr(attack, kind):
            stats = attack_stats[kind]
            result[kind] = {k: v for k, v in asdict(stats).items() if k not in ("open_now", "samples")}
            result[kind]["held_mean"] = sum(stats.samples) / max(1, len(stats.samples))
    if baseline is not None:
        result["baseline_without_attack"] = baseline.summary()
    return result


def held(result: dict, max_p99_ms: float = 1000.0) -> bool:
    """Every legitimate request answered 2xx, none failed, batches' p99 under ``max_p99_ms``."""
    statuses = {*result["statuses"], *result["healthz_statuses"]}
    return bool(result["batches"]) and statuses == {200} and not result["errors"] and result["p99_ms"] < max_p99_ms


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--idle", type=int, default=1000, help="connections that never send a byte")
    parser.add_argument("--slowloris", type=int, default=200, help="connections that drip a request head")
    parser.add_argument("--slow-bodies", type=int, default=0, help="keyless text/plain beacons dripping their body")
    parser.add_argument("--beacon-bombs", type=int, default=0, help="connections sending keyless gzip beacon bombs")
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--drip", type=float, default=5.0, help="seconds between a slowloris' header lines")
    parser.add_argument("--body-drip", type=float, default=2.0, help="seconds between a slow body's bytes")
    parser.add_argument("--per-address", type=int, default=32, help="attacking connections per source address")
    parser.add_argument("--head-timeout", type=float, default=5.0, help="the server's --head-timeout")
    parser.add_argument("--baseline-seconds", type=float, default=5.0, help="legitimate client alone, first")
    parser.add_argument("--max-p99-ms", type=float, default=100.0, help="the legitimate batches' p99 to stay under")
    args = parser.parse_args(argv)
    result = run(
        args.idle,
        args.slowloris,
        args.seconds,
        args.per_address,
        args.drip,
        args.head_timeout,
        slow_bodies=args.slow_bodies,
        beacon_bombs=args.beacon_bombs,
        body_drip=args.body_drip,
        baseline_seconds=args.baseline_seconds,
    )
    print(json.dumps(result, indent=2))
    ok = held(result, args.max_p99_ms)
    print("SERVICE HELD" if ok else "SERVICE DENIED")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
