"""``analytics-pipeline serve``: run the ingestion API under uvicorn.

Also :func:`running_server`, which serves an app on a free loopback port in a thread:
the real HTTP stack for tests and benchmarks, no subprocess needed.
"""

from __future__ import annotations

import argparse
import logging
import os
import socket
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import uvicorn

from analytics_pipeline.ingest.api import DEV_MODE_ENV, WRITE_KEY_ENV, settings_from_env

log = logging.getLogger(__name__)
APP_FACTORY = "analytics_pipeline.ingest.api:app_from_env"


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
        default=64,
        help="concurrent requests per worker before answering 503 (clients retry); bounds memory",
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
    uvicorn.run(
        APP_FACTORY,
        factory=True,
        host=args.host,
        port=args.port,
        workers=args.workers,
        limit_concurrency=args.limit_concurrency,
        log_level="warning",
        access_log=False,  # access lines would add noise, not insight; bodies are never logged
        proxy_headers=False,
    )
    return 0


def main(argv: list[str] | None = None) -> int:
    """Stand-alone entry point: ``python -m analytics_pipeline.ingest.serve``."""
    parser = argparse.ArgumentParser(prog="python -m analytics_pipeline.ingest.serve")
    add_serve_command(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["serve", *(sys.argv[1:] if argv is None else argv)])
    return args.handler(args)


@contextmanager
def running_server(app, host: str = "127.0.0.1") -> Iterator[str]:
    """Serve ``app`` on a free loopback port in a background thread; yields its base URL."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False))
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
