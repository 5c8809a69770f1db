"""Memory benchmark of the ingestion API: many maximum-size bodies in flight at once, with a valid key.

    python -m tools.body_bench --bodies 64 --content resumes

Starts ``analytics-pipeline serve`` (one worker, throwaway key and raw dir) and opens ``--bodies``
connections, each sending a valid batch of ~29.8 MiB: ``resumes`` (resume events with three texts of
190,000 characters, as costly to parse as real batches) or ``padding`` (one event and whitespace: cheap
to parse, so it measures what the server process itself holds). Every body goes out but its last byte;
once the server has read all of them (no byte left in a socket queue), every request is in flight at
the same time, and only then are the last bytes sent. Meanwhile ``/healthz`` is probed and the resident
memory of the server and its parser processes sampled every 0.1 s. Loopback only; bounded in time.

Prints the RSS with all bodies in flight, the peaks (sampled, and the kernel's high-water marks), the
RSS 5 s after the burst, the bodies' statuses and latency, and the probes' statuses and p99. Exits
non-zero unless every body got 200, every probe 200 and the sampled peak stayed under ``--max-rss-mib``.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import secrets
import socket
import string
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import psutil

from analytics_pipeline.ingest.api import MAX_REQUEST_BYTES
from tools.dos_bench import peak_rss_mib
from tools.load_bench import free_port, percentile, synthetic_event, wait_healthy

BODY_BYTES = int(29.8 * 2**20)


def max_size_body(content: str = "resumes", size: int = BODY_BYTES) -> bytes:
    """A valid batch of about ``size`` bytes: resume events with three long texts, or one event and whitespace."""
    if content == "padding":
        head = b'{"batch": [' + json.dumps(synthetic_event(0, 0)).encode() + b"]"
        return head + b" " * (size - len(head) - 1) + b"}"
    text = (string.ascii_lowercase + " ") * (190_000 // 27)
    texts = {"resume_text": text, "job_description": text, "tailored_text": text}
    count = size // len(json.dumps(synthetic_event(0, 1) | texts))
    body = json.dumps({"batch": [synthetic_event(i, 1) | texts for i in range(count)]}).encode()
    assert len(body) <= MAX_REQUEST_BYTES
    return body


def tree_rss(pid: int) -> tuple[int, int]:
    """Resident bytes of a process, and of it and its children (the parser processes) together."""
    process = psutil.Process(pid)
    own = total = process.memory_info().rss
    for child in process.children(recursive=True):
        try:
            total += child.memory_info().rss
        except psutil.NoSuchProcess:
            pass
    return own, total


def high_water_mib(pid: int) -> tuple[float, float]:
    """The kernel's peak RSS (VmHWM) of a process, and summed over it and its children (an upper bound)."""
    children = psutil.Process(pid).children(recursive=True)
    own = peak_rss_mib(pid)
    return own, own + sum(peak_rss_mib(child.pid) for child in children)


SENDER_ADDRESS = "127.0.0.2"
_SENDER_HEX = "0200007F"  # 127.0.0.2 as /proc/net/tcp writes it


def unread_bytes(port: int) -> int:
    """Bytes from the senders (``SENDER_ADDRESS``) on their way to the server on ``port`` that it has not read
    yet: in their send queues or its receive queues (``/proc/net/tcp``, loopback IPv4). The /healthz prober's
    requests are not counted: they come and go every 0.1 s."""
    unread = 0
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        (local_host, local_port), (remote_host, remote_port) = (f.split(":") for f in fields[1:3])
        tx_queue, rx_queue = (int(v, 16) for v in fields[4].split(":"))
        if int(local_port, 16) == port and remote_host == _SENDER_HEX:
            unread += rx_queue
        elif int(remote_port, 16) == port and local_host == _SENDER_HEX:
            unread += tx_queue
    return unread


@dataclass
class Burst:
    statuses: dict[str, int] = field(default_factory=dict)
    latencies: list[float] = field(default_factory=list)
    sent: int = 0  # bodies sent but for their last byte
    lock: threading.Lock = field(default_factory=threading.Lock)

    def count(self, status: str, latency: float | None = None) -> None:
        with self.lock:
            self.statuses[status] = self.statuses.get(status, 0) + 1
            if latency is not None:
                self.latencies.append(latency)


def send_body(port: int, key: str, body: bytes, release: threading.Event, burst: Burst, timeout: float) -> None:
    """One client: the head and all of the body but its last byte, then (on ``release``) the last byte."""
    head = (
        f"POST /v1/batch HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        f"Authorization: Bearer {key}\r\nContent-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    ).encode()
    try:
        # From 127.0.0.2: the server's cap of connections per address must not refuse the prober on 127.0.0.1.
        with socket.create_connection(("127.0.0.1", port), timeout=timeout, source_address=(SENDER_ADDRESS, 0)) as sock:
            sock.sendall(head)
            sock.sendall(memoryview(body)[:-1])
            with burst.lock:
                burst.sent += 1
            release.wait()
            started = time.perf_counter()
            sock.sendall(body[-1:])
            status = sock.makefile("rb").readline().split()[1].decode()
            burst.count(status, time.perf_counter() - started)
    except TimeoutError:
        burst.count("timeout")
    except (OSError, IndexError):
        burst.count("error")


@dataclass
class Probes:
    statuses: dict[str, int] = field(default_factory=dict)
    latencies: list[float] = field(default_factory=list)
    peak_server: int = 0
    peak_tree: int = 0


def probe(port: int, pid: int, stop: threading.Event, probes: Probes) -> None:
    """``/healthz`` and the memory of the server and its parsers, every 0.1 s until ``stop``."""
    while not stop.is_set():
        server, tree = tree_rss(pid)
        probes.peak_server, probes.peak_tree = max(probes.peak_server, server), max(probes.peak_tree, tree)
        started = time.perf_counter()
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        try:
            connection.request("GET", "/healthz")
            status = str(connection.getresponse().status)
            probes.latencies.append(time.perf_counter() - started)
        except OSError:
            status = "error"
        finally:
            connection.close()
        probes.statuses[status] = probes.statuses.get(status, 0) + 1
        stop.wait(0.1)


def run(bodies: int, content: str, timeout: float = 600.0) -> dict:
    """Start a server, send ``bodies`` maximum-size bodies at once; returns the measurements."""
    key = secrets.token_urlsafe(24)
    port = free_port()
    body = max_size_body(content)
    with tempfile.TemporaryDirectory(prefix="body-bench-") as tmp:
        env = os.environ | {"ANALYTICS_WRITE_KEY": key, "ANALYTICS_RAW_DIR": str(Path(tmp) / "raw")}
        env.pop("ANALYTICS_INGEST_DEV_MODE", None)
        command = [sys.executable, "-m", "analytics_pipeline.ingest.serve", "--port", str(port)]
        server = subprocess.Popen(command, env=env, stderr=subprocess.DEVNULL)
        try:
            wait_healthy(port, server)
            idle = tree_rss(server.pid)[1]
            burst, probes, release, stop = Burst(), Probes(), threading.Event(), threading.Event()
            prober = threading.Thread(target=probe, args=(port, server.pid, stop, probes))
            senders = [
                threading.Thread(target=send_body, args=(port, key, body, release, burst, timeout))
                for _ in range(bodies)
            ]
            started = time.monotonic()
            prober.start()
            for sender in senders:
                sender.start()
            # Every body in the server (but its last byte): all of them in flight at once.
            while not (all_in_flight := burst.sent == bodies and not unread_bytes(port)):
                if time.monotonic() - started > timeout:
                    break
                time.sleep(0.1)
            in_flight_rss = tree_rss(server.pid)
            release.set()
            for sender in senders:
                sender.join()
            seconds = time.monotonic() - started
            time.sleep(5)  # what the server and its parsers still hold after the burst
            stop.set()
            prober.join()
            after = tree_rss(server.pid)
            high_water = high_water_mib(server.pid)
        finally:
            server.terminate()
            server.wait(timeout=30)
    return {
        "bodies": bodies,
        "content": content,
        "body_mib": round(len(body) / 2**20, 1),
        "all_in_flight_at_once": all_in_flight,
        "statuses": burst.statuses,
        "seconds": round(seconds, 1),
        "body_latency_p50_s": round(percentile(burst.latencies, 0.5), 2),
        "body_latency_max_s": round(max(burst.latencies, default=float("nan")), 2),
        "healthz_statuses": probes.statuses,
        "healthz_p50_ms": round(percentile(probes.latencies, 0.5) * 1000, 1),
        "healthz_p99_ms": round(percentile(probes.latencies, 0.99) * 1000, 1),
        "idle_rss_mib": round(idle / 2**20),
        "in_flight_rss_mib": {
            "server": round(in_flight_rss[0] / 2**20),
            "with_parsers": round(in_flight_rss[1] / 2**20),
        },
        "peak_rss_mib": {"server": round(probes.peak_server / 2**20), "with_parsers": round(probes.peak_tree / 2**20)},
        "high_water_mib": {"server": round(high_water[0]), "with_parsers_upper_bound": round(high_water[1])},
        "after_rss_mib": {"server": round(after[0] / 2**20), "with_parsers": round(after[1] / 2**20)},
    }


def held(result: dict, max_rss_mib: float) -> bool:
    """Every body and probe answered 200, and the server with its parsers stayed under ``max_rss_mib``."""
    return (
        result["statuses"] == {"200": result["bodies"]}
        and set(result["healthz_statuses"]) == {"200"}
        and max(result["peak_rss_mib"]["with_parsers"], result["in_flight_rss_mib"]["with_parsers"]) < max_rss_mib
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bodies", type=int, default=64, help="maximum-size requests in flight at once")
    parser.add_argument("--content", choices=("resumes", "padding"), default="resumes")
    parser.add_argument("--max-rss-mib", type=float, default=1024.0, help="the bound on server + parsers RSS")
    args = parser.parse_args(argv)
    result = run(args.bodies, args.content)
    print(json.dumps(result, indent=2))
    ok = held(result, args.max_rss_mib)
    print("MEMORY BOUNDED" if ok else "MEMORY NOT BOUNDED")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
