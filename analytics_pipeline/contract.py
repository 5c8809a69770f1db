"""The raw event contract: what the app logs and what the pipeline accepts.

Defined once here; the ingestion API, the analytics hooks, the sample-data
generator and the pipeline all validate against these models. Unknown fields
are dropped (``extra="ignore"``), so nothing outside the contract is ever stored.
"""

from __future__ import annotations

import json
import re
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
    WithJsonSchema,
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
# The ranges every stage can hold: version is a DuckDB INTEGER; timestamps must survive the
# conversion to UTC, Arrow and DuckDB (year 1 with a +01:00 offset does not). Checked here, once,
# for the API and the pipeline alike, so an event the API accepts always loads.
MAX_VERSION = 2**31 - 1
EARLIEST_TIMESTAMP = datetime(1970, 1, 1, tzinfo=UTC)
LATEST_TIMESTAMP = datetime(2100, 1, 1, tzinfo=UTC)
# Closed vocabulary: a free label could carry anything (an e-mail address went through once).
TAILORING_MODES = ("personalized", "concise", "keyword-optimized", "executive", "other")
OTHER_TAILORING_MODE = "other"

ResumeEventType = Literal["resume.upload", "resume.tailor", "resume.refine", "resume.copy", "resume.download"]
InteractionAction = Literal["click", "hover", "focus", "scroll", "view", "submit"]
TailoringMode = Literal["personalized", "concise", "keyword-optimized", "executive", "other"]
# IDs are only ever hashed, but a control character has no business in one either.
Identifier = Annotated[str, Field(min_length=1, max_length=MAX_ID_CHARS, pattern=r"^[^\x00-\x1f\x7f]+$")]
# Element names and pages are app-defined identifiers, not free text: lower-case words joined by
# separators, no spaces, no "@", no upper case, no run of 3+ digits, so they cannot carry a
# capitalised name, an e-mail address, a phone or an ID number, and need no NER (which mistakes
# "refine-button" for a person).
ElementName = Annotated[str, Field(min_length=1, max_length=128, pattern=r"^[a-z][a-z0-9]*(?:[-_.:#][a-z0-9]+)*$")]
PagePath = Annotated[str, Field(min_length=1, max_length=256, pattern=r"^/?(?:[a-z0-9_.:~{}\[\]-]+/?)*$")]
Text = Annotated[str, Field(max_length=MAX_TEXT_CHARS)]
Score = Annotated[float, Field(ge=0, le=100)]

_DIGIT_RUN = re.compile(r"\d{3}")
# C0 controls but tab, newline and carriage return, DEL, C1 controls and bidirectional overrides (which
# make stored text display other than it reads): never stored (NUL breaks text tools).
_CONTROL_CHARS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
# A page segment kept as is: one lower-case route word, or a parameter placeholder (:id, {id}, [id]).
_ROUTE_WORD = re.compile(r"^(?:[a-z][a-z0-9~]*|:[a-z_]+|\{[a-z_]+\}|\[[a-z_]+\])$")
# Words joined by - _ . are kept only as a top-level route (/job-search): below it, a slug is the
# typical shape of a value (/u/zanele-mokoena, /in/first.last), so it becomes a parameter.
_TOP_LEVEL_SLUG = re.compile(r"^[a-z][a-z0-9]*(?:[-_.][a-z0-9]+)*$")
ROUTE_PARAMETER = ":param"


def _route_segment(segment: str, top_level: bool) -> str:
    if not segment or _ROUTE_WORD.match(segment) or (top_level and _TOP_LEVEL_SLUG.match(segment)):
        return segment if not _DIGIT_RUN.search(segment) else ROUTE_PARAMETER
    return ROUTE_PARAMETER


def route_template(path: str) -> str:
    """The route template of a page path. Query and fragment go; a segment that could be a value (an
    ID, a name, an e-mail, a phone: anything but one lower-case route word or a placeholder, or a
    slug at the top level) becomes ``:param``."""
    segments = path.split("?", 1)[0].split("#", 1)[0].split("/")
    first = 1 if segments and segments[0] == "" else 0
    return "/".join(_route_segment(s, i == first) for i, s in enumerate(segments))


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
        if value is None:
            return None
        try:
            value = value.astimezone(UTC)
        except OverflowError:  # year 1 at +01:00, year 9999 at -01:00
            raise ValueError("timestamp out of range") from None
        if not EARLIEST_TIMESTAMP <= value < LATEST_TIMESTAMP:
            raise ValueError(f"timestamp must be between {EARLIEST_TIMESTAMP:%Y-%m-%d} and {LATEST_TIMESTAMP:%Y-%m-%d}")
        return value


class ResumeEvent(_Event):
    """Something a user did to a resume: upload, tailor, refine, copy or download."""

    event_type: ResumeEventType
    resume_id: Identifier
    version: int = Field(ge=1, le=MAX_VERSION)
    is_refinement: bool = False
    resume_text: Text | None = None
    job_description: Text | None = None
    tailored_text: Text | None = None
    ats_score: Score | None = None
    jd_score: Score | None = None
    # The JSON Schema (for the web client) describes what a caller may send: any label, which the
    # validator below maps to the closed vocabulary.
    tailoring_mode: Annotated[
        TailoringMode | None, WithJsonSchema({"anyOf": [{"type": "string"}, {"type": "null"}]})
    ] = None

    @field_validator("tailoring_mode", mode="before")
    @classmethod
    def _known_mode(cls, value: object) -> object:
        # An unknown mode is kept as "other", never stored as sent: it is the app's free text.
        return OTHER_TAILORING_MODE if isinstance(value, str) and value not in TAILORING_MODES else value

    @field_validator(*RESUME_TEXT_FIELDS)
    @classmethod
    def _no_control_chars(cls, value: str | None) -> str | None:
        return _CONTROL_CHARS.sub("", value) if value else value


class InteractionEvent(_Event):
    """A UI interaction (click, hover, ...) on a named element."""

    event_type: Literal["interaction"]
    action: InteractionAction
    element: ElementName
    # As sent (a path of at most 256 characters); stored as its route template, see _template_only.
    page: Annotated[
        PagePath | None,
        WithJsonSchema({"anyOf": [{"type": "string", "minLength": 1, "maxLength": 256}, {"type": "null"}]}),
    ] = None

    @field_validator("page", mode="before")
    @classmethod
    def _template_only(cls, value: object) -> object:
        # Query strings, fragments and path values often carry names, e-mails or tokens: only the route stays.
        return route_template(value) if isinstance(value, str) else value

    @field_validator("element")
    @classmethod
    def _no_number(cls, value: str) -> str:
        if _DIGIT_RUN.search(value):
            raise ValueError("an element name has no run of 3 or more digits (phone, ID number)")
        return value


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
