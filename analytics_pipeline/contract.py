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
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    TypeAdapter,
    ValidationError,
    WithJsonSchema,
    field_validator,
)

from analytics_pipeline.privacy.normalize import normalize_text
from analytics_pipeline.tracking_plan import ELEMENTS, ROUTES

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

ResumeEventType = Literal["resume.upload", "resume.tailor", "resume.refine", "resume.copy", "resume.download"]
InteractionAction = Literal["click", "hover", "focus", "scroll", "view", "submit"]
TailoringMode = Literal["personalized", "concise", "keyword-optimized", "executive", "other"]
# IDs are only ever hashed, but a control character has no business in one either.
Identifier = Annotated[str, Field(min_length=1, max_length=MAX_ID_CHARS, pattern=r"^[^\x00-\x1f\x7f]+$")]
# Element names are app-defined identifiers, not free text: lower-case words joined by separators, no
# spaces, no "@", no upper case, no run of 3+ digits (in the pattern, so the web client checks it too).
# An event with another shape is refused; a well-shaped name outside the app's tracking plan is stored
# as "other" (see tracking_plan.py), so no value the app did not declare reaches a table.
_ELEMENT_WORD = r"(?:[a-z]+(?:[0-9]{1,2}[a-z]+)*[0-9]{0,2}|[0-9]{1,2}(?:[a-z]+[0-9]{1,2})*[a-z]*)"
ELEMENT_PATTERN = rf"^[a-z]+(?:[0-9]{{1,2}}[a-z]+)*[0-9]{{0,2}}(?:[-_.:#]{_ELEMENT_WORD})*$"
_ELEMENT = re.compile(ELEMENT_PATTERN)
MAX_ELEMENT_CHARS = 128
ElementName = Annotated[
    str,
    Field(min_length=1, max_length=MAX_ELEMENT_CHARS),
    WithJsonSchema({"type": "string", "minLength": 1, "maxLength": MAX_ELEMENT_CHARS, "pattern": ELEMENT_PATTERN}),
]
MAX_PAGE_CHARS = 256


def _normalised_length(text: str) -> str:
    # What is stored is the NFKC-normalised text, up to 18 times longer ("\ufdfa"): the limit holds for it
    # too, so the API refuses such an event at once and no text outgrows the scrubber's model.
    if not text.isascii() and len(normalize_text(text)) > MAX_TEXT_CHARS:
        raise ValueError(f"at most {MAX_TEXT_CHARS} characters once normalised (NFKC)")
    return text


Text = Annotated[str, Field(max_length=MAX_TEXT_CHARS), AfterValidator(_normalised_length)]
Score = Annotated[float, Field(ge=0, le=100)]

_CONTROL_CHARS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
# What the app declared (tracking_plan.py): the only element names and page routes ever stored.
OTHER = "other"
PLANNED_ELEMENTS = frozenset(ELEMENTS) | {OTHER}
PLANNED_PAGES = frozenset(ROUTES) | {OTHER}
_ORIGIN = re.compile(r"^[a-z][a-z0-9+.-]*://[^/]*", re.IGNORECASE)  # scheme and host of a full URL


def _is_placeholder(segment: str) -> bool:
    return segment.startswith(":") or (segment[:1], segment[-1:]) in {("{", "}"), ("[", "]")}


def _segments(path: str) -> list[str]:
    path = _ORIGIN.sub("", path.split("?", 1)[0].split("#", 1)[0])
    return [segment for segment in path.split("/") if segment]


# Per route: its segments, None for a placeholder, and its rank (literal segments earliest win).
_ROUTE_TABLE = [(route, [None if _is_placeholder(s) else s.lower() for s in _segments(route)]) for route in ROUTES]


def page_route(path: str) -> str:
    """The route of the tracking plan that ``path`` is an instance of, or ``"other"``.

    Query, fragment and a URL's scheme and host go first; empty segments and case do not count.
    ``/u/anyone/profile`` and ``/u/{handle}/profile`` are both ``/u/:handle/profile``; a path no route
    matches is ``other``, whatever it holds.
    """
    segments = [segment.lower() for segment in _segments(path)]
    best: tuple[tuple[bool, ...], str] | None = None
    for route, pattern in _ROUTE_TABLE:
        if len(pattern) == len(segments) and all(p is None or p == s for p, s in zip(pattern, segments)):
            rank = tuple(p is not None for p in pattern)
            if best is None or rank > best[0]:
                best = (rank, route)
    return best[1] if best else OTHER


_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}[Tt ]")


class _Event(BaseModel):
    # strict: "yes" is not a boolean and "42" is not a score; a wrong type is a bad event.
    model_config = ConfigDict(strict=True, extra="ignore", frozen=True)

    event_id: UUID
    # Lax: a string reaches the datetime parser after the ISO 8601 check below (strict mode would refuse it
    # once a validator runs first).
    occurred_at: Annotated[AwareDatetime, Field(strict=False)]
    user_id: Identifier
    # Set by the ingestion API when it appends the event to the raw log.
    received_at: Annotated[AwareDatetime | None, Field(strict=False)] = None

    @field_validator("occurred_at", "received_at", mode="before")
    @classmethod
    def _iso_8601(cls, value: object) -> object:
        # pydantic also reads a number, or digits in a string, as Unix time: the contract asks for ISO 8601.
        if value is None or isinstance(value, datetime) or (isinstance(value, str) and _ISO_DATE.match(value)):
            return value
        raise ValueError("must be an ISO 8601 date and time with a time zone")

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
        return OTHER if isinstance(value, str) and value not in TAILORING_MODES else value

    @field_validator(*RESUME_TEXT_FIELDS)
    @classmethod
    def _no_control_chars(cls, value: str | None) -> str | None:
        return _CONTROL_CHARS.sub("", value) if value else value


class InteractionEvent(_Event):
    """A UI interaction (click, hover, ...) on a named element."""

    event_type: Literal["interaction"]
    action: InteractionAction
    element: ElementName
    # As sent: any path of 1 to 256 characters; stored as the tracking plan's route for it (see page_route).
    page: Annotated[
        str | None,
        WithJsonSchema({"anyOf": [{"type": "string", "minLength": 1, "maxLength": MAX_PAGE_CHARS}, {"type": "null"}]}),
    ] = None

    @field_validator("page", mode="before")
    @classmethod
    def _route_only(cls, value: object) -> object:
        # Paths, queries and fragments often carry names, e-mails or tokens: only a declared route is kept.
        if not isinstance(value, str):
            return value
        if not 1 <= len(value) <= MAX_PAGE_CHARS:
            raise ValueError(f"a page is 1 to {MAX_PAGE_CHARS} characters")
        return page_route(value)

    @field_validator("element")
    @classmethod
    def _planned_element(cls, value: str) -> str:
        if not _ELEMENT.fullmatch(value):
            raise ValueError("an element name is lower-case words joined by - _ . : # without a run of 3+ digits")
        return value if value in PLANNED_ELEMENTS else OTHER


Event = Annotated[ResumeEvent | InteractionEvent, Field(discriminator="event_type")]
_FIELD_NAMES = frozenset(ResumeEvent.model_fields) | frozenset(InteractionEvent.model_fields)
EVENT_ADAPTER: TypeAdapter[ResumeEvent | InteractionEvent] = TypeAdapter(Event)


class InvalidEvent(ValueError):
    """An event that breaks the contract. The message never contains input values."""

    def __init__(self, code: str, detail: str):
        super().__init__(f"{code}: {detail}")
        self.code = code
        self.detail = detail


_TAG_ERRORS = {"union_tag_invalid", "union_tag_not_found"}


_QUOTED = re.compile(r"`[^`]*`")


def describe_validation_error(error: ValidationError) -> str:
    """Summarise a pydantic error by field and rule only, never by value (values may be PII)."""
    parts = []
    for item in error.errors(include_input=False, include_url=False, include_context=False):
        where = ".".join(str(p) for p in item["loc"][1:] or item["loc"]) or "event"
        # A parsing error's detail can quote the input ("invalid character: found `j` at 0"): the rule only.
        rule = item["msg"].split(",", 1)[0] if item["type"].endswith("_parsing") else item["msg"]
        parts.append(f"{where}: {_QUOTED.sub('…', rule)}")
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


def _json_default(value: object) -> str:
    # A UUID or a datetime has one obvious JSON form; anything else (bytes, an app's own object) would become
    # its repr, "b'...'" or "<Resume object at 0x...>", stored as if the user had written it.
    if isinstance(value, UUID):
        return str(value)
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError


def parse_event(data: object) -> ResumeEvent | InteractionEvent:
    """Validate one decoded event (a dict) against the contract, or raise InvalidEvent.

    Values must be JSON values, UUIDs or datetimes: ``bytes`` or other objects are refused, not stringified.
    """
    if not isinstance(data, dict):
        raise InvalidEvent("not_an_object", "an event must be a JSON object")
    # Unknown fields are ignored by the contract: their values need not be JSON either.
    data = {key: value for key, value in data.items() if key in _FIELD_NAMES}
    try:
        text = json.dumps(data, default=_json_default)
    except (TypeError, ValueError):
        field = next(key for key, value in data.items() if not _is_json_value(value))
        raise InvalidEvent(
            "invalid_field", f"{field}: must be a JSON value (string, number, boolean or null)"
        ) from None
    return _validate_json(text)


def _is_json_value(value: object) -> bool:
    try:
        json.dumps(value, default=_json_default)
    except (TypeError, ValueError):
        return False
    return True


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
