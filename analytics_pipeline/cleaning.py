"""Raw lines to clean rows: validate, quarantine, pseudonymize, scrub. No Dagster here.

Each raw line ends in exactly one place: a resume-event row, an interaction row
or a quarantine row, so lines read = rows loaded + rows quarantined.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from uuid import UUID

import pyarrow as pa

from analytics_pipeline.contract import InvalidEvent, ResumeEvent, parse_event_line
from analytics_pipeline.privacy.hashing import RESUME_DOMAIN, USER_DOMAIN, pseudonymize
from analytics_pipeline.privacy.normalize import normalize_text
from analytics_pipeline.privacy.scrubber import PiiScrubber
from analytics_pipeline.raw_log import LINE_TOO_LONG_CODE, LINE_TOO_LONG_REASON, RawLine
from analytics_pipeline.schema import (
    INTERACTIONS,
    QUARANTINE,
    RESUME_EVENTS,
    SCRUBBED_TEXT_COLUMNS,
    Table,
)


@dataclass
class CleanBatch:
    """The rows one chunk of raw lines produced, as Arrow tables typed by the schema."""

    resume_events: pa.Table
    interactions: pa.Table
    quarantine: pa.Table
    entity_counts: Counter[str] = field(default_factory=Counter)


def _to_arrow(rows: list[dict], table: Table) -> tuple[pa.Table, list[dict]]:
    """The rows as an Arrow table, and the rows Arrow could not convert (found one by one, only
    when the whole chunk fails): one value the contract let through must not sink a day."""
    try:
        return pa.Table.from_pylist(rows, schema=table.arrow_schema), []
    except (pa.ArrowException, OverflowError, TypeError, ValueError):
        good, bad = [], []
        for row in rows:
            try:
                pa.Table.from_pylist([row], schema=table.arrow_schema)
            except (pa.ArrowException, OverflowError, TypeError, ValueError):
                bad.append(row)
            else:
                good.append(row)
        return pa.Table.from_pylist(good, schema=table.arrow_schema), bad


# A client retry: the same event_id again in one day partition. The first one is loaded.
DUPLICATE_CODE = "duplicate_event_id"
DUPLICATE_REASON = "event_id already seen in this partition"


def _utc_naive(value):
    # Tables store UTC as TIMESTAMP; the contract guarantees tz-aware UTC input.
    return value.replace(tzinfo=None) if value is not None else None


class EventCleaner:
    """Cleans the raw lines of one day partition, chunk by chunk.

    Keeps the event IDs seen so far so a client retry (same event_id twice in the
    partition) is loaded once and the repeat is quarantined as a duplicate.
    """

    def __init__(self, partition_date: date, salt: bytes, scrubber: PiiScrubber):
        self.partition_date = partition_date
        self._salt = salt
        # Numbered placeholders (<PERSON_1>): a model can learn that the header's name is the tailored header's.
        self._scrubber = scrubber.with_placeholders(numbered=True)
        self._seen_event_ids: set[bytes] = set()

    @property
    def claimed_event_ids(self) -> list[str]:
        """Event IDs of the valid events seen so far (loaded, or quarantined when a value did not fit a column)."""
        return sorted(str(UUID(bytes=event_id)) for event_id in self._seen_event_ids)

    def _quarantine_row(self, line: RawLine, code: str, reason: str) -> dict:
        return {
            "partition_date": self.partition_date,
            "source_file": line.source_file,
            "line_number": line.line_number,
            "reason_code": code,
            "reason": reason,
        }

    def _common(self, event, line: RawLine) -> dict:
        return {
            "event_id": str(event.event_id),
            "partition_date": self.partition_date,
            "occurred_at": _utc_naive(event.occurred_at),
            "received_at": _utc_naive(event.received_at),
            "anon_user_id": pseudonymize(event.user_id, self._salt, USER_DOMAIN),
            "source_file": line.source_file,
            "line_number": line.line_number,
        }

    def clean(self, lines: Iterable[RawLine]) -> CleanBatch:
        resume_rows: list[dict] = []
        interaction_rows: list[dict] = []
        quarantine_rows: list[dict] = []
        for line in lines:
            if line.too_long:
                quarantine_rows.append(self._quarantine_row(line, LINE_TOO_LONG_CODE, LINE_TOO_LONG_REASON))
                continue
            try:
                event = parse_event_line(line.content)
            except InvalidEvent as error:
                quarantine_rows.append(self._quarantine_row(line, error.code, error.detail))
                continue
            except Exception as error:  # a validator bug must not block the day: quarantined by type only
                quarantine_rows.append(
                    self._quarantine_row(line, "conversion_failed", f"validation raised {type(error).__name__}")
                )
                continue
            if event.event_id.bytes in self._seen_event_ids:
                quarantine_rows.append(self._quarantine_row(line, DUPLICATE_CODE, DUPLICATE_REASON))
                continue
            self._seen_event_ids.add(event.event_id.bytes)
            row = self._common(event, line)
            if isinstance(event, ResumeEvent):
                # Stored normalised (the contract bounds the normalised length).
                texts = {c: normalize_text(t) if (t := getattr(event, c)) else t for c in SCRUBBED_TEXT_COLUMNS}
                row.update(
                    event_type=event.event_type,
                    anon_resume_id=pseudonymize(event.resume_id, self._salt, RESUME_DOMAIN),
                    version=event.version,
                    is_refinement=event.is_refinement,
                    ats_score=event.ats_score,
                    jd_score=event.jd_score,
                    tailoring_mode=event.tailoring_mode,
                    **texts,
                    scrubber_version=self._scrubber.version,
                )
                resume_rows.append(row)
            else:
                row.update(action=event.action, element=event.element, page=event.page)
                interaction_rows.append(row)

        # Interactions carry no free text: the contract restricts element and page to identifiers.
        counts = self._scrub_texts(resume_rows, SCRUBBED_TEXT_COLUMNS)
        resume_events, bad_resume_rows = _to_arrow(resume_rows, RESUME_EVENTS)
        interactions, bad_interaction_rows = _to_arrow(interaction_rows, INTERACTIONS)
        for row in (*bad_resume_rows, *bad_interaction_rows):
            line = RawLine(row["source_file"], row["line_number"], b"")
            quarantine_rows.append(
                self._quarantine_row(line, "conversion_failed", "a value does not fit the table's column types")
            )
        quarantine, _ = _to_arrow(quarantine_rows, QUARANTINE)
        return CleanBatch(
            resume_events=resume_events, interactions=interactions, quarantine=quarantine, entity_counts=counts
        )

    def _scrub_texts(self, rows: list[dict], columns: tuple[str, ...]) -> Counter[str]:
        """Scrub the text columns of the chunk's rows in one batch through the NER model; placeholders are
        numbered per row, so one value keeps one placeholder across a row's texts.

        The texts come normalised (NFKC, invisible characters removed: see ``clean``): full-width letters or
        a zero-width space inside an e-mail or SSN would otherwise hide it from the recognizers; what is
        stored is that text.
        """
        records = [[row[c] for c in columns] for row in rows]
        scrubbed, counts = self._scrubber.scrub_records_with_counts(records)
        for row, texts in zip(rows, scrubbed):
            row.update(zip(columns, texts))
        return counts
