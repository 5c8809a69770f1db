"""Event-ID uniqueness across both event tables and days, and required columns, on a plain DuckDB file."""

import uuid
from datetime import date, datetime, timedelta

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from analytics_pipeline import warehouse
from analytics_pipeline.quality import integrity
from analytics_pipeline.schema import INTERACTIONS, QUARANTINE, RESUME_EVENTS
from analytics_pipeline.staging import staged_file

DAY1, DAY2, DAY3 = date(2026, 11, 2), date(2026, 11, 3), date(2026, 11, 4)
PSEUDONYM = "a" * 64
NEW = object()  # a fresh event ID


def _row(day: date, event_id, line_number: int, **fields) -> dict:
    """The columns every event table has, for one row of ``day``."""
    return {
        "event_id": str(uuid.uuid4()) if event_id is NEW else event_id,
        "partition_date": day,
        "occurred_at": datetime.combine(day, datetime.min.time()) + timedelta(hours=9),
        "received_at": None,
        "anon_user_id": PSEUDONYM,
        "source_file": f"{day}/events.jsonl",
        "line_number": line_number,
    } | fields


def resume_row(day: date, event_id=NEW, **fields) -> dict:
    defaults = {
        "event_type": "resume.upload",
        "anon_resume_id": PSEUDONYM,
        "version": 1,
        "is_refinement": False,
        "ats_score": None,
        "jd_score": None,
        "tailoring_mode": None,
        "resume_text": None,
        "job_description": None,
        "tailored_text": None,
        "scrubber_version": "test/1",
    }
    return _row(day, event_id, 1, **(defaults | fields))


def interaction_row(day: date, event_id=NEW, **fields) -> dict:
    return _row(day, event_id, 2, **({"action": "click", "element": "other", "page": None} | fields))


def stage(root, day: date, resume_events: list[dict], interactions: list[dict]):
    directory = root / "staging" / day.isoformat()
    directory.mkdir(parents=True)
    for table, rows in ((RESUME_EVENTS, resume_events), (INTERACTIONS, interactions), (QUARANTINE, [])):
        pq.write_table(pa.Table.from_pylist(rows, schema=table.arrow_schema), staged_file(directory, table))
    return directory


@pytest.fixture
def conn(tmp_path):
    with warehouse.connect(tmp_path / "warehouse.duckdb") as connection:
        warehouse.ensure_tables(connection)
        yield connection


def insert(conn, table, rows: list[dict]) -> None:
    for row in rows:
        columns = table.column_names
        conn.execute(
            f"INSERT INTO {table.qualified_name} VALUES ({', '.join('?' * len(columns))})", [row[c] for c in columns]
        )


def test_an_event_id_loaded_in_the_other_table_on_another_day_is_quarantined(conn, tmp_path):
    shared = str(uuid.uuid4())
    warehouse.load_partition(conn, DAY1, stage(tmp_path, DAY1, [resume_row(DAY1, shared)], []))
    counts = warehouse.load_partition(conn, DAY2, stage(tmp_path, DAY2, [], [interaction_row(DAY2, shared)]))
    assert counts == {"resume_events": 0, "interactions": 0, "quarantine": 1}
    assert conn.execute("SELECT reason_code, reason FROM analytics.quarantine").fetchall() == [
        ("duplicate_event_id", "event_id already loaded from partition 2026-11-02")
    ]
    # Re-running either day keeps one copy: the first day's row stays, the second day's line stays quarantined.
    warehouse.load_partition(conn, DAY1, tmp_path / "staging" / DAY1.isoformat())
    assert integrity.duplicate_event_ids(conn, RESUME_EVENTS) == []
    assert integrity.duplicate_event_ids(conn, INTERACTIONS) == []


def test_event_ids_unique_reports_only_the_checked_days_duplicates(conn):
    shared = str(uuid.uuid4())
    # Loaded twice by an older release: a resume event of day 1 and an interaction of day 2.
    insert(conn, RESUME_EVENTS, [resume_row(DAY1, shared), resume_row(DAY3)])
    insert(conn, INTERACTIONS, [interaction_row(DAY2, shared), interaction_row(DAY3)])
    assert integrity.duplicate_event_ids(conn, RESUME_EVENTS, DAY1) == [shared]
    assert integrity.duplicate_event_ids(conn, INTERACTIONS, DAY2) == [shared]
    # A later, unrelated day is not failed by it (its training and retention are not blocked).
    assert integrity.duplicate_event_ids(conn, RESUME_EVENTS, DAY3) == []
    assert integrity.duplicate_event_ids(conn, INTERACTIONS, DAY3) == []
    assert integrity.duplicate_event_ids(conn, INTERACTIONS) == [shared]  # the whole table, as before


@pytest.mark.parametrize(
    ("table", "row", "column"),
    [
        (RESUME_EVENTS, resume_row, "event_id"),
        (RESUME_EVENTS, resume_row, "event_type"),
        (RESUME_EVENTS, resume_row, "occurred_at"),
        (RESUME_EVENTS, resume_row, "version"),
        (INTERACTIONS, interaction_row, "event_id"),
        (INTERACTIONS, interaction_row, "occurred_at"),
        (INTERACTIONS, interaction_row, "action"),
    ],
)
def test_a_missing_required_value_fails_the_value_rules(conn, table, row, column):
    good = row(DAY1)
    insert(conn, table, [good])
    assert integrity.value_violations(conn, table, DAY1) == {}
    bad = row(DAY1, **{column: None})
    insert(conn, table, [bad])
    violations = integrity.value_violations(conn, table, DAY1)
    assert violations["required_columns_present"] == [bad["event_id"]]


def test_optional_fields_may_be_missing(conn):
    insert(conn, INTERACTIONS, [interaction_row(DAY1, page=None)])
    insert(conn, RESUME_EVENTS, [resume_row(DAY1, tailoring_mode=None, ats_score=None)])
    assert integrity.value_violations(conn, INTERACTIONS, DAY1) == {}
    assert integrity.value_violations(conn, RESUME_EVENTS, DAY1) == {}
