"""Reconciliation: every raw line of a partition is a clean row or a quarantined row.

Counted per event type: the raw side reads each line's declared ``event_type`` itself
(lines that are not JSON objects, or declare an unknown type, count as ``unknown``), and a
quarantined row is attributed to the type of the raw line it points at (file, line number).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from analytics_pipeline.contract import EVENT_TYPES
from analytics_pipeline.raw_log import RawLine, json_object

UNKNOWN_TYPE = "unknown"
LineKey = tuple[str, int]  # (source_file, line_number)


def declared_type(content: bytes) -> str:
    data = json_object(content)
    event_type = data.get("event_type") if data is not None else None
    return event_type if event_type in EVENT_TYPES else UNKNOWN_TYPE


@dataclass(frozen=True)
class Reconciliation:
    raw: Counter[str]
    clean: Counter[str]
    quarantined: Counter[str]
    unmatched_quarantine_rows: int  # quarantine rows that point at no raw line

    @property
    def mismatched_types(self) -> list[str]:
        types = sorted(set(self.raw) | set(self.clean) | set(self.quarantined))
        return [t for t in types if self.raw[t] != self.clean[t] + self.quarantined[t]]

    @property
    def balanced(self) -> bool:
        return not self.mismatched_types and not self.unmatched_quarantine_rows

    @property
    def lines_read(self) -> int:
        return sum(self.raw.values())

    @property
    def quarantine_rate(self) -> float:
        return sum(self.quarantined.values()) / self.lines_read if self.lines_read else 0.0

    def metadata(self) -> dict:
        return {
            "lines_read": self.lines_read,
            "clean_rows": sum(self.clean.values()),
            "quarantined_rows": sum(self.quarantined.values()),
            "by_event_type": {
                t: {"raw": self.raw[t], "clean": self.clean[t], "quarantined": self.quarantined[t]}
                for t in sorted(set(self.raw) | set(self.clean) | set(self.quarantined))
            },
            "mismatched_event_types": self.mismatched_types,
            "unmatched_quarantine_rows": self.unmatched_quarantine_rows,
        }


def reconcile(
    lines: Iterable[RawLine], clean_counts: Mapping[str, int], quarantined: Iterable[LineKey]
) -> Reconciliation:
    """Compare the raw lines (streamed) with the clean rows per type and the quarantined (file, line) keys.

    Only the quarantined keys are held in memory: they are few, the raw lines may be many.
    """
    pending = Counter(quarantined)
    raw: Counter[str] = Counter()
    quarantined_types: Counter[str] = Counter()
    for line in lines:
        event_type = declared_type(line.content)
        raw[event_type] += 1
        if hits := pending.pop((line.source_file, line.line_number), 0):
            quarantined_types[event_type] += hits
    return Reconciliation(
        raw=raw,
        clean=Counter({t: n for t, n in clean_counts.items() if n}),
        quarantined=quarantined_types,
        unmatched_quarantine_rows=sum(pending.values()),
    )
