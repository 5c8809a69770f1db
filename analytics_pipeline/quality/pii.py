"""An independent residual-PII detector for scrubbed data.

Deliberately not the scrubber: strict regular expressions for the machine-shaped
identifiers (e-mail, phone, SSN, URL, and the international cards, phones and streets
of ``privacy/formats.py``), the same values in disguise (``privacy/normalize.py``: text is
normalised first, then letter-spaced or spelled-out e-mails and numbers are looked for), exact
matching of known raw values (the partition's raw user and resume IDs, the canaries), and the
closed vocabularies of the identifier fields (the tracking plan's elements and routes). A hit
means the scrubber, the contract or the pseudonymization let something through. Findings carry
types, counts and event IDs, never the matched values.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

import pyarrow.parquet as pq

from analytics_pipeline.contract import PLANNED_ELEMENTS, PLANNED_PAGES, TAILORING_MODES
from analytics_pipeline.privacy.formats import (
    card_spans,
    cued_phone_spans,
    cued_ssn_spans,
    iban_spans,
    international_address_spans,
)
from analytics_pipeline.privacy.hashing import RESUME_DOMAIN, USER_DOMAIN, pseudonymize
from analytics_pipeline.privacy.normalize import (
    detection_view,
    disguised_email_spans,
    disguised_number_spans,
    normalize_text,
)
from analytics_pipeline.quality.canary import make_canaries
from analytics_pipeline.quality.integrity import EVENT_TABLES, PSEUDONYM_COLUMNS, SCANNED_TEXT_COLUMNS
from analytics_pipeline.raw_log import RawLine, json_object
from analytics_pipeline.staging import staged_file

# Strict on purpose: every pattern must be unambiguous in resume text, so a hit is a real leak.
PII_PATTERNS: dict[str, re.Pattern[str]] = {
    # A local part holds at most 64 characters (RFC 5321): bounding it keeps the scan linear in a long run
    # without an "@" (unbounded, every start rescanned the run). Same hits: a longer one just starts later.
    "email": re.compile(r"[A-Za-z0-9._%+-]{1,64}@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}"),
    # North American numbers: (617) 396-5537, 617-396-5537, 617.396.5537, +1 617 396 5537.
    # Not inside a longer number, but a letter or separator before is fine: "call-415-555-0187", "ssn-536-22-8899".
    "phone": re.compile(r"(?<![\d+])(?<!\d[ .-])(?:\+?1[ .-]?)?(?:\(\d{3}\) ?|\d{3}[ .-])\d{3}[ .-]\d{4}(?!-?\d)"),
    "ssn": re.compile(r"(?<!\d)(?<!\d-)\d{3}-\d{2}-\d{4}(?!-?\d)"),
    # A scheme, a www. host, or a host with a path (linkedin.com/in/x): bare "Node.js" is no URL.
    # A bare host is tried only with a "/" within a host's 253 characters (DNS) ahead: each start reads a bounded
    # stretch, so a long dotted run ("a.a.a...") costs linear time. A longer run still matches, starting later.
    "url": re.compile(
        r"\b(?:https?://\S+|www\.[A-Za-z0-9-]+\.\S+|(?=[A-Za-z0-9.-]{1,253}/)"
        r"[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.(?:com|org|net|io|dev|me|co|ai|app|edu|gov|info|biz)/\S*)",
        re.IGNORECASE,
    ),
}
# The international formats the scrubber claims (issue 12): a Luhn-valid card of an issuer's range, an IBAN, a
# national number next to a phone cue, a street anchored on a street-type word. Shared with the scrubber's
# recognizers (privacy/formats.py) so the gate checks exactly what the scrubber says it removes.
PII_FINDERS: dict[str, Callable[[str], list[tuple[int, int]]]] = {
    "card": card_spans,
    "phone_national": cued_phone_spans,
    "ssn_cued": cued_ssn_spans,
    "iban": iban_spans,
    "street_address": international_address_spans,
}
# The same values in disguise: letter-spaced, "at"/"dot" spelled out, digits in words. A hit blocks the day.
# They also look at what a partial replacement left: in their view of the text each placeholder stands for a
# value of its type ("j a n e d o <EMAIL_ADDRESS>" is read "j a n e d o x@x.xx", a letter-spaced e-mail).
DISGUISE_FINDERS: dict[str, Callable[[str], list[tuple[int, int]]]] = {
    "email_disguised": disguised_email_spans,
    "number_disguised": disguised_number_spans,
}
_PLACEHOLDER = re.compile(r"<([A-Z_]+?)(?:_\d+)?>")
_STAND_INS = {"EMAIL_ADDRESS": "x@x.xx", "URL": "x.xx", "PHONE_NUMBER": "5555555", "US_SSN": "5555555"}


def _with_stand_ins(text: str) -> str:
    return _PLACEHOLDER.sub(lambda m: _STAND_INS.get(m.group(1), "x"), text)


# Identifier columns hold only what the contract maps them to: anything else got past it (an older
# contract, a hand-edited file) and may be a name or an e-mail that no pattern recognises.
CLOSED_VOCABULARIES: dict[str, frozenset[str]] = {
    "element": PLANNED_ELEMENTS,
    "page": PLANNED_PAGES,
    "tailoring_mode": frozenset(TAILORING_MODES),
}
OUTSIDE_VOCABULARY = "identifier_outside_plan"
RAW_IDENTIFIER = "raw_identifier"
CANARY = "canary"
MAX_REPORTED_EVENT_IDS = 20
_IDENTIFIER_FIELDS = {"user_id": USER_DOMAIN, "resume_id": RESUME_DOMAIN}


def raw_identifiers(lines: Iterable[RawLine], salt: bytes) -> dict[str, set[str]]:
    """The raw user and resume IDs of the raw lines that parse as JSON objects, by the pseudonym each is
    stored as (held in memory only)."""
    identifiers: dict[str, set[str]] = {}
    for line in lines:
        if (data := json_object(line.content)) is not None:
            for key, domain in _IDENTIFIER_FIELDS.items():
                if isinstance(value := data.get(key), str) and value:
                    identifiers.setdefault(pseudonymize(value, salt, domain), set()).add(value)
    return identifiers


# Tokens an identifier can be: user names, e-mail-like IDs, usr_123abc. Matching whole tokens
# against a set keeps the scan linear in the text, however many users a day has.
_TOKEN = re.compile(r"[\w.@+-]+")
_TOKEN_EDGES = ".-+"
MIN_IDENTIFIER_CHARS_IN_TEXT = 6


def _tokens(text: str) -> set[str]:
    return {token.strip(_TOKEN_EDGES).lower() for token in _TOKEN.findall(text)}


@dataclass
class PiiFindings:
    """Residual PII found: hits per type and the affected event IDs (never the values)."""

    counts: Counter[str] = field(default_factory=Counter)
    event_ids: list[str] = field(default_factory=list)
    rows_scanned: int = 0

    @property
    def clean(self) -> bool:
        return not self.counts

    def __add__(self, other: PiiFindings) -> PiiFindings:
        return PiiFindings(
            self.counts + other.counts, self.event_ids + other.event_ids, self.rows_scanned + other.rows_scanned
        )

    def metadata(self) -> dict:
        return {
            "rows_scanned": self.rows_scanned,
            "hits_by_type": dict(sorted(self.counts.items())),
            "affected_events": len(self.event_ids),
            "affected_event_ids": self.event_ids[:MAX_REPORTED_EVENT_IDS],
        }


class _OwnIdentifiers(NamedTuple):
    tokens: frozenset[str]  # matched against a text's whole tokens
    others: frozenset[str]  # matched as substrings (IDs with spaces or other characters)


_NO_IDENTIFIERS = _OwnIdentifiers(frozenset(), frozenset())


def _searchable(values: Iterable[str]) -> _OwnIdentifiers:
    # Shorter raw IDs (e.g. "42") would match ordinary words and numbers; they are still checked in ID columns.
    searchable = {v.lower() for v in values if len(v) >= MIN_IDENTIFIER_CHARS_IN_TEXT}
    tokens = frozenset(v for v in searchable if _TOKEN.fullmatch(v))
    return _OwnIdentifiers(tokens, frozenset(searchable - tokens))


class ResidualPiiDetector:
    """Finds PII-shaped strings and known raw values in scrubbed rows.

    ``identifiers``: the day's raw user and resume IDs by their pseudonyms. A row's texts are searched for
    the raw IDs of its own user and resume: a common word sent as some client's ``user_id`` ("experience",
    "undefined") must not turn every other user's resume into a leak and block the day. Every raw ID is
    still looked for in the pseudonym columns.
    """

    def __init__(self, identifiers: Mapping[str, Iterable[str]] | None = None, canaries: Iterable[str] = ()):
        identifiers = identifiers or {}
        self._identifiers = {v for values in identifiers.values() for v in values if v}
        self._own = {pseudonym: _searchable(values) for pseudonym, values in identifiers.items()}
        self._canaries = {v.lower() for v in canaries if v}

    def own_identifiers(self, pseudonyms: Iterable[str | None]) -> _OwnIdentifiers:
        """The searchable raw IDs behind a row's pseudonyms."""
        found = [self._own[p] for p in pseudonyms if p in self._own]
        if len(found) < 2:
            return found[0] if found else _NO_IDENTIFIERS
        return _OwnIdentifiers(
            frozenset().union(*(f.tokens for f in found)), frozenset().union(*(f.others for f in found))
        )

    def scan_text(self, text: str | None, own: _OwnIdentifiers = _NO_IDENTIFIERS) -> Counter[str]:
        """Hits per type in ``text``; ``own``: the raw IDs of the row it belongs to."""
        hits: Counter[str] = Counter()
        if not text:
            return hits
        # Full-width letters, a zero-width space, a Unicode dash or digit do not hide a value.
        text = detection_view(normalize_text(text))
        found: list[tuple[int, int]] = []
        for kind, pattern in PII_PATTERNS.items():
            spans = [m.span() for m in pattern.finditer(text)]
            hits[kind] += len(spans)
            found += spans
        for kind, find in PII_FINDERS.items():
            # A value already counted (a US phone is also a cued national number) is one hit, not two.
            hits[kind] += sum(not any(s < e2 and s2 < e for s2, e2 in found) for s, e in find(text))
        view = _with_stand_ins(text)
        for kind, find in DISGUISE_FINDERS.items():
            hits[kind] += len(find(view))
        lowered = text.lower()
        hits[RAW_IDENTIFIER] += len(_tokens(text) & own.tokens) + sum(v in lowered for v in own.others)
        hits[CANARY] += sum(v in lowered for v in self._canaries)
        return +hits

    def scan_id(self, value: str | None) -> Counter[str]:
        """An ID column must hold a pseudonym, never a raw identifier."""
        return Counter({RAW_IDENTIFIER: 1}) if value in self._identifiers else Counter()

    def scan_rows(
        self,
        rows: Iterable[Mapping[str, str | None]],
        text_columns: Iterable[str],
        id_columns: Iterable[str],
        event_id_column: str = "event_id",
    ) -> PiiFindings:
        text_columns, id_columns = tuple(text_columns), tuple(id_columns)
        findings = PiiFindings()
        for row in rows:
            findings.rows_scanned += 1
            hits: Counter[str] = Counter()
            own = self.own_identifiers(row[column] for column in id_columns)
            for column in text_columns:
                hits += self.scan_text(row[column], own)
                vocabulary = CLOSED_VOCABULARIES.get(column)
                if vocabulary is not None and row[column] is not None and row[column] not in vocabulary:
                    hits[OUTSIDE_VOCABULARY] += 1
            for column in id_columns:
                hits += self.scan_id(row[column])
            if hits:
                findings.counts += hits
                findings.event_ids.append(str(row[event_id_column]))
        return findings


def scan_staged(partition_dir: Path, detector: ResidualPiiDetector, batch_rows: int = 1000) -> PiiFindings:
    """Scan a staged day's Parquet files, column for column as the DuckDB gate does, before they are published."""
    findings = PiiFindings()
    for table in EVENT_TABLES:
        text_columns, id_columns = SCANNED_TEXT_COLUMNS[table.name], PSEUDONYM_COLUMNS[table.name]
        parquet = pq.ParquetFile(staged_file(partition_dir, table))
        rows = (
            row
            for batch in parquet.iter_batches(batch_rows, columns=["event_id", *text_columns, *id_columns])
            for row in batch.to_pylist()
        )
        findings += detector.scan_rows(rows, text_columns, id_columns)
    return findings


# Beside a staged day's Parquet: the scan of its shards, which the load reads instead of scanning again,
# bound to the files it scanned: a staged file changed since (rewritten, tampered with) means a new scan.
FINDINGS_FILE = "residual_pii.json"


def _staged_digests(partition_dir: Path) -> dict[str, str]:
    digests = {}
    for table in EVENT_TABLES:
        with open(staged_file(partition_dir, table), "rb") as handle:
            digests[table.name] = hashlib.file_digest(handle, "sha256").hexdigest()
    return digests


def write_findings(partition_dir: Path, findings: PiiFindings) -> None:
    """Record the gate's scan of a staged day (types, counts, event IDs: never values)."""
    data = {
        "counts": dict(findings.counts),
        "event_ids": findings.event_ids,
        "rows_scanned": findings.rows_scanned,
        "staged_sha256": _staged_digests(partition_dir),
    }
    (Path(partition_dir) / FINDINGS_FILE).write_text(json.dumps(data))


def read_findings(partition_dir: Path) -> PiiFindings | None:
    """The recorded scan of a staged day; None when there is none or its files changed since (scan again)."""
    path = Path(partition_dir) / FINDINGS_FILE
    if not path.exists():
        return None
    data = json.loads(path.read_text())
    if data.get("staged_sha256") != _staged_digests(partition_dir):
        return None
    return PiiFindings(Counter(data["counts"]), data["event_ids"], data["rows_scanned"])


def partition_detector(
    raw_lines: Iterable[RawLine], partition: str, canary_texts: int, salt: bytes
) -> ResidualPiiDetector:
    """The detector for one day: its raw identifiers and the canary values planted in it."""
    canaries = [v for canary in make_canaries(partition, canary_texts) for v in canary.values.values()]
    return ResidualPiiDetector(raw_identifiers(raw_lines, salt), canaries)
