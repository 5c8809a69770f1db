"""Columns of the analytics tables, defined once.

Used to create the DuckDB tables, to type the staged Parquet files, to publish
column schemas in Dagster metadata and to check that the tables still match.
All timestamps are UTC.
"""

from __future__ import annotations

from dataclasses import dataclass

import pyarrow as pa


@dataclass(frozen=True)
class Column:
    name: str
    duckdb_type: str
    description: str

    @property
    def arrow_type(self) -> pa.DataType:
        return _ARROW_TYPES[self.duckdb_type]


_ARROW_TYPES = {
    "VARCHAR": pa.string(),
    "DATE": pa.date32(),
    "TIMESTAMP": pa.timestamp("us"),
    "INTEGER": pa.int32(),
    "BIGINT": pa.int64(),
    "DOUBLE": pa.float64(),
    "BOOLEAN": pa.bool_(),
}


@dataclass(frozen=True)
class Table:
    schema: str
    name: str
    columns: tuple[Column, ...]

    @property
    def qualified_name(self) -> str:
        return f"{self.schema}.{self.name}"

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]

    @property
    def arrow_schema(self) -> pa.Schema:
        return pa.schema([(c.name, c.arrow_type) for c in self.columns])

    def create_sql(self) -> str:
        columns = ",\n    ".join(f"{c.name} {c.duckdb_type}" for c in self.columns)
        return f"CREATE TABLE IF NOT EXISTS {self.qualified_name} (\n    {columns}\n)"


_EVENT_COLUMNS = (
    Column("event_id", "VARCHAR", "Event UUID from the client; unique across all partitions."),
    Column("partition_date", "DATE", "Day partition = the day the raw log file was written."),
    Column("occurred_at", "TIMESTAMP", "When the user acted (client clock, UTC)."),
    Column("received_at", "TIMESTAMP", "When the ingestion API accepted the event (UTC), if known."),
    Column("anon_user_id", "VARCHAR", "HMAC-SHA256 pseudonym of the user ID (hex)."),
)
_LINEAGE_COLUMNS = (
    Column("source_file", "VARCHAR", "Raw log file the event came from, relative to the raw dir."),
    Column("line_number", "INTEGER", "1-based line of the event in its raw log file."),
)

RESUME_EVENTS = Table(
    "analytics",
    "resume_events",
    (
        *_EVENT_COLUMNS,
        Column("event_type", "VARCHAR", "resume.upload | tailor | refine | copy | download."),
        Column("anon_resume_id", "VARCHAR", "HMAC-SHA256 pseudonym of the resume ID (hex)."),
        Column("version", "INTEGER", "Resume version the action applies to (>= 1)."),
        Column("is_refinement", "BOOLEAN", "True when the tailoring refined an earlier output."),
        Column("ats_score", "DOUBLE", "ATS match score 0-100, if the action has one."),
        Column("jd_score", "DOUBLE", "Job-description match score 0-100, if any."),
        Column("tailoring_mode", "VARCHAR", "Tailoring mode chosen (e.g. personalized)."),
        Column("resume_text", "VARCHAR", "Resume text, PII replaced by typed placeholders."),
        Column("job_description", "VARCHAR", "Job description, PII replaced by placeholders."),
        Column("tailored_text", "VARCHAR", "Tailored output, PII replaced by placeholders."),
        Column("scrubber_version", "VARCHAR", "PiiScrubber version that scrubbed the texts."),
        *_LINEAGE_COLUMNS,
    ),
)

INTERACTIONS = Table(
    "analytics",
    "interactions",
    (
        *_EVENT_COLUMNS,
        Column("action", "VARCHAR", "click | hover | focus | scroll | view | submit."),
        Column("element", "VARCHAR", "UI element acted on (e.g. refine-button); other if not in the tracking plan."),
        Column("page", "VARCHAR", "Route of the page (e.g. /u/:handle/profile), other if none matches; if logged."),
        *_LINEAGE_COLUMNS,
    ),
)

QUARANTINE = Table(
    "analytics",
    "quarantine",
    (
        Column("partition_date", "DATE", "Day partition of the raw log file."),
        Column("source_file", "VARCHAR", "Raw log file, relative to the raw dir."),
        Column("line_number", "INTEGER", "1-based line number in that file."),
        Column("reason_code", "VARCHAR", "Machine-readable reason (invalid_json, invalid_field, ...)."),
        Column("reason", "VARCHAR", "What is wrong, by field and rule; never the line's content."),
    ),
)

USERS = Table(
    "analytics",
    "users",
    (
        Column("anon_user_id", "VARCHAR", "HMAC-SHA256 pseudonym of the user ID (hex); one row each."),
        Column("first_seen_at", "TIMESTAMP", "Earliest event of the user (UTC)."),
        Column("last_seen_at", "TIMESTAMP", "Latest event of the user (UTC)."),
        Column("active_days", "BIGINT", "Distinct UTC days with at least one event."),
        Column("event_count", "BIGINT", "All events of the user."),
        Column("resume_event_count", "BIGINT", "Resume events of the user."),
        Column("interaction_count", "BIGINT", "UI interactions of the user."),
        Column("resume_count", "BIGINT", "Distinct resumes the user worked on."),
        Column("upload_count", "BIGINT", "resume.upload events."),
        Column("tailor_count", "BIGINT", "resume.tailor events."),
        Column("refine_count", "BIGINT", "resume.refine events."),
        Column("copy_count", "BIGINT", "resume.copy events."),
        Column("download_count", "BIGINT", "resume.download events."),
    ),
)

ANALYTICS_TABLES = (USERS, RESUME_EVENTS, INTERACTIONS, QUARANTINE)
# The tables of loaded events: event IDs are unique across both.
EVENT_TABLES = (RESUME_EVENTS, INTERACTIONS)
SCRUBBED_TEXT_COLUMNS = ("resume_text", "job_description", "tailored_text")
# Identifiers by contract (no spaces, no "@"), not scrubbed, but still scanned by the residual-PII gate.
INTERACTION_TEXT_COLUMNS = ("element", "page")

# Lifecycle tables: not event data, so kept out of ANALYTICS_TABLES.
ERASURE_LEDGER = Table(
    "analytics",
    "erasure_ledger",
    (
        Column(
            "anon_user_id",
            "VARCHAR",
            "Pseudonym of a user who asked to be forgotten; their events are never loaded again.",
        ),
        Column("erased_at", "TIMESTAMP", "When the erasure ran (UTC)."),
    ),
)

PIPELINE_METADATA = Table(
    "analytics",
    "pipeline_metadata",
    (
        Column("key", "VARCHAR", "Setting name, e.g. salt_fingerprint."),
        Column("value", "VARCHAR", "Setting value; never a secret (the salt is stored only as a fingerprint)."),
        Column("recorded_at", "TIMESTAMP", "When the value was first recorded (UTC)."),
    ),
)

LIFECYCLE_TABLES = (ERASURE_LEDGER, PIPELINE_METADATA)
