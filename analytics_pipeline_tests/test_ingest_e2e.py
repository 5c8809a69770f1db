"""End to end: hooks -> logger client -> HTTP (a real uvicorn server that fails some requests) -> raw log."""

from __future__ import annotations

from collections import Counter

from analytics_pipeline import analytics_hooks as hooks
from analytics_pipeline.ingest.client import AnalyticsClient
from analytics_pipeline_tests.ingest_helpers import TEST_WRITE_KEY, ingest_server, raw_event_ids


def log_a_session(user: int) -> list[str]:
    """What one synthetic user does in the app; returns the event IDs."""
    user_id, resume_id = f"synthetic-user-{user}", f"synthetic-resume-{user}"
    return [
        hooks.log_resume_upload_event(user_id=user_id, resume_id=resume_id, resume_text="Synthetic CV"),
        hooks.log_interaction_event(user_id=user_id, action="click", element="tailor-button"),
        hooks.log_resume_tailoring_event(
            user_id=user_id, resume_id=resume_id, is_refinement=False, resume_text="Synthetic CV",
            job_description="Synthetic job", tailored_text="Tailored CV", ats_score=77, jd_score=64.5,
            tailoring_mode="balanced", version=2,
        ),
        hooks.log_resume_tailoring_event(
            user_id=user_id, resume_id=resume_id, is_refinement=True, tailored_text="Refined CV", version=3
        ),
        hooks.log_resume_copy_event(user_id=user_id, resume_id=resume_id, version=3),
        hooks.log_resume_download_event(user_id=user_id, resume_id=resume_id, version=3),
    ]


def test_every_event_reaches_the_raw_log_despite_server_failures(tmp_path, monkeypatch):
    with ingest_server(tmp_path / "raw", fail_first=4, fail_status=503, retry_after="0") as server:
        monkeypatch.setenv("ANALYTICS_ENDPOINT", server.url)
        monkeypatch.setenv("ANALYTICS_WRITE_KEY", TEST_WRITE_KEY)
        client = AnalyticsClient.from_env(batch_size=25, flush_interval=0.05, backoff_base=0.01)
        previous = hooks.set_client(client)
        try:
            logged = [event_id for user in range(40) for event_id in log_a_session(user)]
            assert client.shutdown(timeout=30)
        finally:
            hooks.set_client(previous)
        assert len(server.behaviour.seen) > 4  # it went over HTTP, in batches, with retries
    stats = client.stats()
    assert (stats.sent, stats.dropped, stats.rejected, stats.queued) == (240, 0, 0, 0)
    assert stats.retried >= 4
    # The injected 503s happen before anything is stored, so here exactly once;
    # duplicates from lost responses are the pipeline's to drop (by event_id).
    assert Counter(raw_event_ids(server.raw_dir)) == Counter(logged)
