"""End to end: hooks -> logger client -> HTTP (a real uvicorn server that fails some requests)
-> raw log -> the materialized partition in DuckDB, scrubbed, each event exactly once."""

from __future__ import annotations

import json
from collections import Counter
from datetime import date, timedelta
from pathlib import Path

import httpx
import pytest

from analytics_pipeline.ingest import analytics_hooks as hooks
from analytics_pipeline.ingest.client import AnalyticsClient, ClientStats
from analytics_pipeline.raw_log import available_days
from analytics_pipeline_tests.ingest_helpers import TEST_WRITE_KEY, ingest_server, raw_event_ids

# Synthetic PII that the pipeline must scrub before DuckDB.
EMAIL, PHONE = "jane.synthetic@example.com", "+1 415 555 0134"


def log_a_session(user: int) -> list[str]:
    """What one synthetic user does in the app; returns the event IDs."""
    user_id, resume_id = f"synthetic-user-{user}", f"synthetic-resume-{user}"
    resume = f"Jane Synthetic, data engineer. Contact {EMAIL} or {PHONE}."
    return [
        hooks.log_resume_upload_event(user_id=user_id, resume_id=resume_id, resume_text=resume),
        hooks.log_interaction_event(user_id=user_id, action="click", element="tailor-button"),
        hooks.log_resume_tailoring_event(
            user_id=user_id,
            resume_id=resume_id,
            is_refinement=False,
            resume_text=resume,
            job_description="Data engineer, Python and SQL.",
            tailored_text=resume,
            ats_score=77,
            jd_score=64.5,
            tailoring_mode="balanced",
            version=2,
        ),
        hooks.log_resume_tailoring_event(
            user_id=user_id, resume_id=resume_id, is_refinement=True, tailored_text=resume, version=3
        ),
        hooks.log_resume_copy_event(user_id=user_id, resume_id=resume_id, version=3),
        hooks.log_resume_download_event(user_id=user_id, resume_id=resume_id, version=3),
    ]


def log_through_a_failing_server(raw_dir: Path, users: int, monkeypatch) -> tuple[list[str], ClientStats]:
    """Log ``users`` sessions through the hooks to a server whose first 4 POSTs fail with 503."""
    with ingest_server(raw_dir, fail_first=4, fail_status=503, retry_after="0") as server:
        monkeypatch.setenv("ANALYTICS_ENDPOINT", server.url)
        monkeypatch.setenv("ANALYTICS_WRITE_KEY", TEST_WRITE_KEY)
        client = AnalyticsClient.from_env(batch_size=25, flush_interval=0.05, backoff_base=0.01)
        previous = hooks.set_client(client)
        try:
            logged = [event_id for user in range(users) for event_id in log_a_session(user)]
            assert client.shutdown(timeout=30)
        finally:
            hooks.set_client(previous)
        assert len(server.behaviour.seen) > 4  # over HTTP, in batches, with retries
    return logged, client.stats()


def test_every_event_reaches_the_raw_log_despite_server_failures(tmp_path, monkeypatch):
    logged, stats = log_through_a_failing_server(tmp_path / "raw", 40, monkeypatch)
    assert (stats.sent, stats.dropped, stats.rejected, stats.queued) == (240, 0, 0, 0)
    assert stats.retried >= 4
    # The injected 503s come before anything is stored, so here each event is there exactly once.
    assert Counter(raw_event_ids(tmp_path / "raw")) == Counter(logged)


@pytest.mark.slow
def test_events_land_in_duckdb_scrubbed_and_exactly_once(pipeline, salt_env, monkeypatch):
    logged, stats = log_through_a_failing_server(pipeline.raw_dir, 5, monkeypatch)
    assert stats.sent == len(logged) == 30
    # A client whose response was lost re-sends a batch the server had stored.
    first_events = [json.loads(p.read_text().splitlines()[0]) for p in pipeline.raw_dir.glob("*/*.jsonl")]
    with ingest_server(pipeline.raw_dir) as server:
        response = httpx.post(
            server.url + "/v1/batch",
            json={"batch": first_events},
            headers={"Authorization": f"Bearer {TEST_WRITE_KEY}"},
        )
        assert response.status_code == 200
    assert len(raw_event_ids(pipeline.raw_dir)) == 30 + len(first_events)

    # A day's partition exists once the day is over (the schedule runs it at 00:15 UTC the
    # next day): file today's arrivals under yesterday, as if that run were happening now.
    for day in available_days(pipeline.raw_dir):
        earlier = date.fromisoformat(day) - timedelta(days=1)
        (pipeline.raw_dir / day).rename(pipeline.raw_dir / earlier.isoformat())
    for day in available_days(pipeline.raw_dir):
        assert pipeline.run(day).success
    stored = [
        row[0]
        for table in ("analytics.resume_events", "analytics.interactions")
        for row in pipeline.query(f"SELECT event_id FROM {table}")
    ]
    assert Counter(stored) == Counter(logged)
    texts = pipeline.query(
        "SELECT concat_ws(' ', resume_text, tailored_text) FROM analytics.resume_events "
        "WHERE resume_text IS NOT NULL OR tailored_text IS NOT NULL"
    )
    assert texts and all(EMAIL not in t and PHONE not in t for (t,) in texts)
    assert all("synthetic-user" not in u for (u,) in pipeline.query("SELECT anon_user_id FROM analytics.users"))
