"""The raw event contract: what the app logs and what the pipeline accepts.

Defined once here; the ingestion API, the analytics hooks, the sample-data
generator and the pipeline all validate against these models. Unknown fields
are dropped (``extra="ignore"``), so nothing outside the contract is ever stored.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Annotated, Literal
from uuid import UUID

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    TypeAdapter,
    ValidationError,
    field_validator,
)

RESUME_EVENT_TYPES = (
    "resume.upload",
    "resume.tailor",
    "resume.refine",
    "resume.copy",
    "resume.download",
)
INTERACTION_EVENT_TYPE = "interaction"
EVENT_TYPES = (*RESUME_EVENT_TYPES, INTERACTION_EVENT_TYPE)
INTERACTION_ACTIONS = ("click", "hover", "focus", "scroll", "view", "submit")
RESUME_TEXT_FIELDS = ("resume_text", "job_description", "tailored_text")

# Long enough for any real resume or job description (a 10-page CV is ~40k chars),
# small enough that one hostile event cannot exhaust memory downstream.
MAX_TEXT_CHARS = 200_000
MAX_ID_CHARS = 256

ResumeEventType = Literal["resume.upload", "resume.tailor", "resume.refine", "resume.copy", "resume.download"]
InteractionAction = Literal["click", "hover", "focus", "scroll", "view", "submit"]
Identifier = Annotated[str, Field(min_length=1, max_length=MAX_ID_CHARS)]
Label = Annotated[str, Field(min_length=1, max_length=128)]
# Element names and pages are app-defined identifiers, not free text: no spaces, no "@",
# so they cannot carry a name or an e-mail address and need no NER (which mistakes
# "refine-button" for a person).
ElementName = Annotated[str, Field(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:#-]*$")]
PagePath = Annotated[str, Field(min_length=1, max_length=256, pattern=r"^/?[A-Za-z0-9_./~-]*$")]
Text = Annotated[str, Field(max_length=MAX_TEXT_CHARS)]
Score = Annotated[float, Field(ge=0, le=100)]


class _Event(BaseModel):
    # strict: "yes" is not a boolean and "42" is not a score; a wrong type is a bad event.
    model_config = ConfigDict(strict=True, extra="ignore", frozen=True)

    event_id: UUID
    occurred_at: AwareDatetime
    user_id: Identifier
    # Set by the ingestion API when it appends the event to the raw log.
    received_at: AwareDatetime | None = None

    @field_validator("occurred_at", "received_at")
    @classmethod
    def _to_utc(cls, value: datetime | None) -> datetime | None:
        return value.astimezone(UTC) if value is not None else None


class ResumeEvent(_Event):
    """Something a user did to a resume: upload, tailor, refine, copy or download."""

    event_type: ResumeEventType
    resume_id: Identifier
    version: int = Field(ge=1)
    is_refinement: bool = False
    resume_text: Text | None = None
    job_description: Text | None = None
    tailored_text: Text | None = None
    ats_score: Score | None = None
    jd_score: Score | None = None
    tailoring_mode: Label | None = None


class InteractionEvent(_Event):
    """A UI interaction (click, hover, ...) on a named element."""

    event_type: Literal["interaction"]
    action: InteractionAction
    element: ElementName
    page: PagePath | None = None

    @field_validator("page", mode="before")
    @classmethod
    def _path_only(cls, value: object) -> object:
        # Query strings and fragments often carry e-mails or tokens: only the path is kept.
        return value.split("?", 1)[0].split("#", 1)[0] if isinstance(value, str) else value


Event = Annotated[ResumeEvent | InteractionEvent, Field(discriminator="event_type")]
EVENT_ADAPTER: TypeAdapter[ResumeEvent | InteractionEvent] = TypeAdapter(Event)


class InvalidEvent(ValueError):
    """An event that breaks the contract. The message never contains input values."""

    def __init__(self, code: str, detail: str):
        super().__init__(f"{code}: {detail}")
        self.code = code
        self.detail = detail


_TAG_ERRORS = {"union_tag_invalid", "union_tag_not_found"}


def describe_validation_error(error: ValidationError) -> str:
    """Summarise a pydantic error by field and rule only, never by value (values may be PII)."""
    parts = []
    for item in error.errors(include_input=False, include_url=False, include_context=False):
        where = ".".join(str(p) for p in item["loc"][1:] or item["loc"]) or "event"
        parts.append(f"{where}: {item['msg']}")
    return "; ".join(parts)[:500]


def _validate_json(text: str | bytes) -> ResumeEvent | InteractionEvent:
    try:
        # JSON mode: ISO strings become datetimes and UUIDs even under strict validation.
        return EVENT_ADAPTER.validate_json(text)
    except ValidationError as error:
        kinds = {item["type"] for item in error.errors()}
        if "json_invalid" in kinds:
            # pydantic's JSON message names the position only, never the content.
            raise InvalidEvent("invalid_json", error.errors()[0]["msg"][:200]) from None
        if "dict_type" in kinds:
            raise InvalidEvent("not_an_object", "an event must be a JSON object") from None
        if kinds & _TAG_ERRORS:
            # The message would echo the unknown tag, so state the rule instead.
            raise InvalidEvent("unknown_event_type", f"event_type must be one of {', '.join(EVENT_TYPES)}") from None
        raise InvalidEvent("invalid_field", describe_validation_error(error)) from None


def parse_event(data: object) -> ResumeEvent | InteractionEvent:
    """Validate one decoded event (a dict) against the contract, or raise InvalidEvent."""
    if not isinstance(data, dict):
        raise InvalidEvent("not_an_object", "an event must be a JSON object")
    return _validate_json(json.dumps(data, default=str))


def parse_event_line(line: bytes | str) -> ResumeEvent | InteractionEvent:
    """Validate one JSON Lines line, or raise InvalidEvent with a value-free reason."""
    if isinstance(line, bytes):
        try:
            line = line.decode("utf-8")
        except UnicodeDecodeError as error:
            raise InvalidEvent("invalid_utf8", f"bad byte at position {error.start}") from None
    if not line.strip():
        raise InvalidEvent("empty_line", "the line is blank")
    return _validate_json(line)


def event_to_json(event: ResumeEvent | InteractionEvent) -> str:
    """Serialise an event as one raw-log line (no trailing newline), unset optionals omitted."""
    return event.model_dump_json(exclude_none=True)
