"""The logger client in a forked child (a pre-forking app server): it gets its own sender (real fork, real server)."""

from __future__ import annotations

import os

import psutil

from analytics_pipeline.contract import parse_event
from analytics_pipeline.ingest.client import AnalyticsClient, HttpTransport, LocalTransport
from analytics_pipeline_tests.ingest_helpers import TEST_WRITE_KEY, ingest_server, interaction, raw_event_ids


def _in_child(client: AnalyticsClient, event) -> int:
    """Fork; the child enqueues ``event``, flushes and exits 0 if it was sent. Returns the child's status."""
    pid = os.fork()
    if pid == 0:  # pragma: no cover - runs in the child
        try:
            client.enqueue(event)
            sent = client.flush(timeout=10) and client.stats().sent == 1
        finally:
            os._exit(0 if sent else 1)
    # Bounded: a child that hangs (a lock another thread held at fork) is killed, and fails the test (-9).
    child = psutil.Process(pid)
    try:
        return child.wait(timeout=60)
    except psutil.TimeoutExpired:
        child.kill()
        return child.wait()


def test_a_forked_child_sends_its_own_events_over_its_own_connection(tmp_path):
    with ingest_server(tmp_path / "raw") as server:
        client = AnalyticsClient(HttpTransport(server.url, TEST_WRITE_KEY), flush_interval=0.05)
        before, in_child, after = (parse_event(interaction()) for _ in range(3))
        client.enqueue(before)
        assert client.flush(timeout=10)  # the parent's keep-alive connection is open now
        assert _in_child(client, in_child) == 0
        client.enqueue(after)  # the parent's sender and connection still work
        assert client.flush(timeout=10) and client.stats().sent == 2
        client.shutdown(timeout=5)
        assert sorted(raw_event_ids(tmp_path / "raw")) == sorted(str(e.event_id) for e in (before, in_child, after))


def test_a_forked_child_appends_to_its_own_raw_file(tmp_path):
    client = AnalyticsClient(LocalTransport(tmp_path / "raw"), flush_interval=0.05)
    client.enqueue(parse_event(interaction()))
    assert client.flush(timeout=10)
    assert _in_child(client, parse_event(interaction())) == 0
    client.shutdown(timeout=5)
    assert len(raw_event_ids(tmp_path / "raw")) == 2
    assert len(list((tmp_path / "raw").rglob("*.jsonl"))) == 2  # one file per process
