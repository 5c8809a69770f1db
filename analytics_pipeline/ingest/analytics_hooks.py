"""Analytics hooks for the resume-tailoring app: one call per thing a user does.

Each hook builds a contract-valid event (a fresh UUID ``event_id``, ``occurred_at`` now in
UTC), hands it to the logger client and returns the event ID at once. Wrong arguments
raise ``ValueError`` (:class:`~analytics_pipeline.contract.InvalidEvent`) at call time,
naming the field and the rule but never the value; transport problems never raise here.

The client is created on first use from the environment (``ANALYTICS_ENDPOINT``,
``ANALYTICS_WRITE_KEY``, or the local raw log); :func:`set_client` installs another.
"""

from __future__ import annotations

import threading
import uuid
from datetime import UTC, datetime

from analytics_pipeline.contract import parse_event
from analytics_pipeline.ingest.client import AnalyticsClient

_client: AnalyticsClient | None = None
_client_lock = threading.Lock()


def get_client() -> AnalyticsClient:
    global _client
    with _client_lock:
        if _client is None:
            _client = AnalyticsClient.from_env()
        return _client


def set_client(client: AnalyticsClient | None) -> AnalyticsClient | None:
    """Install the client the hooks use (None: from the environment on next use); returns the old one."""
    global _client
    with _client_lock:
        previous, _client = _client, client
        return previous


def _log(event_type: str, user_id: str, **fields: object) -> str:
    event_id = str(uuid.uuid4())
    data = {
        "event_id": event_id,
        "occurred_at": datetime.now(UTC).isoformat(),
        "event_type": event_type,
        "user_id": user_id,
        **{name: value for name, value in fields.items() if value is not None},
    }
    event = parse_event(data)  # InvalidEvent (a ValueError) on a wrong argument
    get_client().enqueue(event)
    return event_id


def log_resume_tailoring_event(
    *,
    user_id: str,
    resume_id: str,
    is_refinement: bool,
    resume_text: str | None = None,
    job_description: str | None = None,
    tailored_text: str | None = None,
    ats_score: float | None = None,
    jd_score: float | None = None,
    tailoring_mode: str | None = None,
    version: int = 1,
) -> str:
    """A resume was tailored to a job description (or a tailoring was refined)."""
    return _log(
        "resume.refine" if is_refinement else "resume.tailor",
        user_id,
        resume_id=resume_id,
        is_refinement=is_refinement,
        resume_text=resume_text,
        job_description=job_description,
        tailored_text=tailored_text,
        ats_score=ats_score,
        jd_score=jd_score,
        tailoring_mode=tailoring_mode,
        version=version,
    )


def log_resume_upload_event(*, user_id: str, resume_id: str, resume_text: str | None = None, version: int = 1) -> str:
    """A user uploaded a resume."""
    return _log("resume.upload", user_id, resume_id=resume_id, resume_text=resume_text, version=version)


def log_resume_copy_event(*, user_id: str, resume_id: str, version: int = 1) -> str:
    """A user copied a (tailored) resume to the clipboard."""
    return _log("resume.copy", user_id, resume_id=resume_id, version=version)


def log_resume_download_event(*, user_id: str, resume_id: str, version: int = 1) -> str:
    """A user downloaded a (tailored) resume."""
    return _log("resume.download", user_id, resume_id=resume_id, version=version)


def log_interaction_event(*, user_id: str, action: str, element: str, page: str | None = None) -> str:
    """A UI interaction: ``action`` is one of the contract's INTERACTION_ACTIONS."""
    return _log("interaction", user_id, action=action, element=element, page=page)
