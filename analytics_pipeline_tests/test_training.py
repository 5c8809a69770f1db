"""Training-set logic on small analytics tables crafted in a tmp DuckDB, so every label is known."""

from __future__ import annotations

import uuid
from datetime import date, datetime, timedelta
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pytest

from analytics_pipeline import warehouse
from analytics_pipeline.lifecycle.erasure import erase_from_parquet
from analytics_pipeline.schema import INTERACTIONS, RESUME_EVENTS
from analytics_pipeline.training import (
    SplitRatios,
    TrainingConfig,
    assign_split,
    build_training_set,
    list_versions,
    load_training_set,
    prune_versions,
    read_card,
    write_snapshot,
)
from analytics_pipeline.training.build import snapshot_rows
from analytics_pipeline.training.snapshot import PRUNED_PREFIX
from analytics_pipeline.training.tables import TRAINING_TABLES

T0 = datetime(2026, 11, 2, 9, 0)
JD = "Acme is hiring a Data Engineer. Python, SQL, Airflow."
RESUME = "Data Engineer with 6 years of Python and SQL. Led a team of 4."


def tailored(tag: str) -> str:
    return f"{RESUME}\nTAILORED SUMMARY ({tag}): aligned with Python, SQL and Airflow."


class Events:
    """Writes analytics rows with sensible defaults; only what a test cares about is spelled out."""

    def __init__(self, conn):
        self.conn = conn
        warehouse.ensure_tables(conn)

    def resume(
        self,
        event_type: str,
        user: str,
        at: datetime,
        resume: str = "r1",
        version: int = 1,
        partition: date | None = None,
        **fields,
    ) -> str:
        event_id = str(uuid.uuid4())
        is_output = event_type in ("resume.tailor", "resume.refine")
        row = {
            "event_id": event_id,
            "partition_date": partition or at.date(),
            "occurred_at": at,
            "received_at": None,
            "anon_user_id": user,
            "event_type": event_type,
            "anon_resume_id": resume,
            "version": version,
            "is_refinement": event_type == "resume.refine",
            "ats_score": 60.0 + version if is_output else None,
            "jd_score": 50.0 + version if is_output else None,
            "tailoring_mode": "concise" if is_output else None,
            "resume_text": RESUME if is_output else None,
            "job_description": JD if is_output else None,
            "tailored_text": tailored(f"{user}/{resume}/v{version}") if is_output else None,
            "scrubber_version": "test-scrubber/1",
            "source_file": "f.jsonl",
            "line_number": 1,
        }
        row.update(fields)
        self._insert(RESUME_EVENTS, row)
        return event_id

    def interaction(self, user: str, at: datetime, element: str, action: str = "click") -> None:
        self._insert(
            INTERACTIONS,
            {
                "event_id": str(uuid.uuid4()),
                "partition_date": at.date(),
                "occurred_at": at,
                "received_at": None,
                "anon_user_id": user,
                "action": action,
                "element": element,
                "page": "/tailor",
                "source_file": "f.jsonl",
                "line_number": 1,
            },
        )

    def _insert(self, table, row: dict) -> None:
        columns = table.column_names
        self.conn.execute(
            f"INSERT INTO {table.qualified_name} ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})",
            [row[c] for c in columns],
        )


@pytest.fixture
def conn(tmp_path):
    with warehouse.connect(tmp_path / "analytics.duckdb") as connection:
        yield connection


@pytest.fixture
def events(conn) -> Events:
    return Events(conn)


def build(conn, name: str, excluded: list[date] | None = None, **config):
    return build_training_set(conn, name, TrainingConfig(**config), excluded or [])


def rows_by(conn, name: str, key: str) -> dict:
    frame = conn.sql(f"SELECT * FROM training.{name}").df()
    return {row[key]: row for row in frame.to_dict("records")}


# --- labels -------------------------------------------------------------------------------------


def test_outcome_labels_follow_what_the_user_did_next_with_that_output(conn, events):
    tailor = events.resume("resume.tailor", "u1", T0)
    events.resume("resume.download", "u1", T0 + timedelta(minutes=5))  # downloads v1
    refine = events.resume("resume.refine", "u1", T0 + timedelta(minutes=10), version=2)
    events.resume("resume.copy", "u1", T0 + timedelta(minutes=12), version=2)  # copies v2
    untouched = events.resume("resume.tailor", "u2", T0, resume="r2")
    events.resume("resume.download", "u3", T0 + timedelta(minutes=1), resume="r2")  # another user's action
    events.resume("resume.copy", "u2", T0 + timedelta(days=3), resume="r3")  # newest event in the data

    result = build(conn, "tailoring_examples")
    rows = rows_by(conn, "tailoring_examples", "event_id")

    assert result.rows == 3
    assert (rows[tailor]["downloaded"], rows[tailor]["copied"], rows[tailor]["refined_again"]) == (True, False, True)
    assert rows[tailor]["accepted"]
    assert (rows[refine]["downloaded"], rows[refine]["copied"], rows[refine]["refined_again"]) == (False, True, False)
    assert not any(rows[untouched][label] for label in ("copied", "downloaded", "refined_again", "accepted"))
    assert all(row["label_window_closed"] for row in rows.values())


def test_labels_respect_the_window_and_count_actions_that_arrive_in_a_later_partition(conn, events):
    tailor = events.resume("resume.tailor", "u1", T0)
    # Downloaded 30 h later, logged in the next day's partition.
    events.resume("resume.download", "u1", T0 + timedelta(hours=30))

    build(conn, "tailoring_examples", label_window=timedelta(hours=24))
    assert not rows_by(conn, "tailoring_examples", "event_id")[tailor]["downloaded"]

    build(conn, "tailoring_examples", label_window=timedelta(hours=48))
    row = rows_by(conn, "tailoring_examples", "event_id")[tailor]
    assert row["downloaded"]
    # The newest event is 30 h after the output: a 48 h window is still open, labels may change.
    assert not row["label_window_closed"]


def test_a_skewed_client_clock_does_not_close_label_windows(conn, events):
    tailor = events.resume("resume.tailor", "u1", T0)
    # The newest arrival is on the output's own day; one client's clock says 2099 (the contract accepts it).
    events.resume("resume.copy", "u2", datetime(2099, 1, 1), resume="r9", partition=T0.date())
    build(conn, "tailoring_examples", label_window=timedelta(hours=24))
    assert not rows_by(conn, "tailoring_examples", "event_id")[tailor]["label_window_closed"]

    # Even a received_at that claims a later time counts no later than the end of its partition day.
    events.resume(
        "resume.copy", "u3", datetime(2099, 1, 1), resume="r8", partition=T0.date(), received_at=datetime(2099, 1, 1)
    )
    build(conn, "tailoring_examples", label_window=timedelta(hours=24))
    assert not rows_by(conn, "tailoring_examples", "event_id")[tailor]["label_window_closed"]

    # Arrivals two days later close it: received_at is the API's clock.
    later = T0 + timedelta(days=2)
    events.resume("resume.copy", "u4", later, resume="r7", received_at=later)
    build(conn, "tailoring_examples", label_window=timedelta(hours=24))
    assert rows_by(conn, "tailoring_examples", "event_id")[tailor]["label_window_closed"]


def test_a_download_belongs_to_the_latest_output_of_that_version(conn, events):
    first = events.resume("resume.tailor", "u1", T0)
    second = events.resume("resume.tailor", "u1", T0 + timedelta(minutes=30), job_description="Another role: Go.")
    events.resume("resume.download", "u1", T0 + timedelta(minutes=31))

    build(conn, "tailoring_examples")
    rows = rows_by(conn, "tailoring_examples", "event_id")
    assert rows[second]["downloaded"] and not rows[first]["downloaded"]


# --- refinement pairs ---------------------------------------------------------------------------


def test_refinement_pairs_link_consecutive_versions_for_the_same_job_description(conn, events):
    v1 = events.resume("resume.tailor", "u1", T0)
    v2 = events.resume("resume.refine", "u1", T0 + timedelta(minutes=10), version=2)
    v3 = events.resume("resume.refine", "u1", T0 + timedelta(minutes=20), version=3)
    events.resume("resume.download", "u1", T0 + timedelta(minutes=25), version=3)
    events.resume("resume.tailor", "u2", T0, resume="r2")
    events.resume(
        "resume.refine",
        "u2",
        T0 + timedelta(minutes=5),
        resume="r2",
        version=2,
        job_description="A different job entirely.",
    )

    result = build(conn, "refinement_pairs")
    pairs = rows_by(conn, "refinement_pairs", "after_event_id")

    assert set(pairs) == {v2, v3}
    assert pairs[v2]["before_event_id"] == v1 and pairs[v3]["before_event_id"] == v2
    assert (pairs[v3]["before_version"], pairs[v3]["after_version"]) == (2, 3)
    assert pairs[v3]["before_text"] == tailored("u1/r1/v2") and pairs[v3]["after_text"] == tailored("u1/r1/v3")
    assert pairs[v3]["ats_score_delta"] == pytest.approx(1.0)
    assert pairs[v3]["seconds_between"] == pytest.approx(600)
    assert pairs[v3]["after_accepted"] and not pairs[v2]["after_accepted"]
    assert pairs[v2]["after_refined_again"]
    assert result.removed["job_description_changed"] == 1


# --- engagement features ------------------------------------------------------------------------


def test_engagement_features_count_events_funnel_and_time_to_download(conn, events):
    events.interaction("u1", T0, "upload-button")
    events.resume("resume.upload", "u1", T0)
    events.resume("resume.tailor", "u1", T0 + timedelta(minutes=1))
    events.interaction("u1", T0 + timedelta(minutes=2), "download-button")
    events.interaction("u1", T0 + timedelta(minutes=2), "download-button", action="hover")
    events.resume("resume.download", "u1", T0 + timedelta(minutes=3))
    events.resume("resume.upload", "u2", T0)

    build(conn, "engagement_features")
    rows = rows_by(conn, "engagement_features", "anon_user_id")

    u1, u2 = rows["u1"], rows["u2"]
    assert (u1["events"], u1["uploads"], u1["tailors"], u1["downloads"], u1["interactions"]) == (6, 1, 1, 1, 3)
    assert (u1["clicks"], u1["hovers"]) == (2, 1)
    assert dict(u1["element_counts"]) == {"upload-button": 1, "download-button": 2}
    assert (u1["did_upload"], u1["did_tailor"], u1["did_export"], u1["funnel_depth"]) == (True, True, True, 3)
    assert u1["seconds_to_first_download"] == pytest.approx(180)
    assert u2["funnel_depth"] == 1 and pd.isna(u2["first_download_at"]) and pd.isna(u2["seconds_to_first_download"])
    assert u1["activity_date"].isoformat()[:10] == "2026-11-02"


# --- splits -------------------------------------------------------------------------------------


def test_no_user_is_in_two_splits_and_splits_are_stable_across_runs(conn, events):
    for i in range(200):
        user = f"{i:064x}"
        for k in range(2):
            events.resume("resume.tailor", user, T0 + timedelta(hours=k), resume=f"r{i}-{k}")
    build(conn, "tailoring_examples")
    first = conn.sql("SELECT anon_user_id, split FROM training.tailoring_examples").fetchall()
    users = {}
    for user, split in first:
        users.setdefault(user, set()).add(split)
    assert all(len(splits) == 1 for splits in users.values())
    shares = {s: sum(1 for v in users.values() if s in v) / len(users) for s in ("train", "validation", "test")}
    assert 0.7 < shares["train"] < 0.9 and shares["validation"] > 0.03 and shares["test"] > 0.03

    # More data (another day, new users) must not move anyone who was already there.
    for i in range(200, 260):
        events.resume("resume.tailor", f"{i:064x}", T0 + timedelta(days=1), resume=f"r{i}")
    build(conn, "tailoring_examples")
    second = dict(conn.sql("SELECT anon_user_id, split FROM training.tailoring_examples").fetchall())
    assert all(second[user] == split for user, split in first)
    assert all(second[user] == assign_split(user, SplitRatios()) for user in second)


def test_split_ratios_are_validated():
    assert SplitRatios.parse("0.7, 0.2, 0.1") == SplitRatios(0.7, 0.2, 0.1)
    for bad in ("0.8,0.1", "0.8,0.1,0.2", "a,b,c", "1.2,-0.1,-0.1"):
        with pytest.raises(ValueError):
            SplitRatios.parse(bad)
    assert {assign_split(f"user{i}", SplitRatios(1.0, 0.0, 0.0)) for i in range(50)} == {"train"}


# --- quality filters ----------------------------------------------------------------------------


def test_quality_filters_remove_what_they_should_and_report_counts(conn, events):
    keep = events.resume("resume.tailor", "u1", T0)
    events.resume("resume.tailor", "u2", T0, resume="r2", tailored_text="   ")
    events.resume(
        "resume.tailor",
        "u3",
        T0,
        resume="r3",
        tailored_text="<PERSON>\n<STREET_ADDRESS>, <LOCATION> <EMAIL_ADDRESS> | <PHONE_NUMBER> Engineer",
    )
    original = events.resume("resume.tailor", "u4", T0, resume="r4", tailored_text="Same output, twice.")
    events.resume("resume.tailor", "u5", T0 + timedelta(hours=1), resume="r5", tailored_text="Same output, twice.")
    failed_day = date(2026, 11, 3)
    events.resume("resume.tailor", "u6", T0 + timedelta(days=1), resume="r6")
    # A download logged in the failed partition must not label u1's output either.
    events.resume("resume.download", "u1", T0 + timedelta(hours=2), partition=failed_day)

    result = build(conn, "tailoring_examples", excluded=[failed_day])

    assert result.removed == {"failed_checks": 1, "empty_text": 1, "mostly_placeholders": 1, "exact_duplicates": 1}
    rows = rows_by(conn, "tailoring_examples", "event_id")
    assert set(rows) == {keep, original}
    assert not rows[keep]["downloaded"]


def test_placeholder_threshold_is_configurable(conn, events):
    # 2 of 4 tokens are placeholders: kept at 0.5, dropped at 0.4.
    events.resume("resume.tailor", "u1", T0, tailored_text="<PERSON> <EMAIL_ADDRESS> Data Engineer")
    assert build(conn, "tailoring_examples", max_placeholder_share=0.5).rows == 1
    assert build(conn, "tailoring_examples", max_placeholder_share=0.4).rows == 0


# --- snapshots ----------------------------------------------------------------------------------


def test_snapshot_and_card_are_written_and_loadable(conn, events, tmp_path, monkeypatch):
    for i in range(30):
        events.resume("resume.tailor", f"user-{i}", T0 + timedelta(minutes=i), resume=f"r{i}")
    result = build(conn, "tailoring_examples")
    data = snapshot_rows(conn, result.table)
    out = tmp_path / "training"
    snapshot = write_snapshot(out, result.table, data, {"removed_by_filter": result.removed, "run_id": "run-1"})
    path, card = snapshot.path, snapshot.card

    assert snapshot.new and list_versions("tailoring_examples", out) == [path.name] == [card["version"]]
    assert sorted(p.name for p in path.iterdir()) == [
        "dataset_card.json",
        "test.parquet",
        "train.parquet",
        "validation.parquet",
    ]
    assert card["row_count"] == 30 == sum(card["rows_per_split"].values())
    assert card["scrubber_versions"] == ["test-scrubber/1"]
    assert card["date_range"]["first"].startswith("2026-11-02 09:00")
    # loaded_at is in the DuckDB table only: the snapshot's columns are the others, in order.
    table_columns = TRAINING_TABLES["tailoring_examples"].column_names
    assert table_columns[-1] == "loaded_at" and [c["name"] for c in card["columns"]] == table_columns[:-1]
    assert conn.sql("SELECT DISTINCT loaded_at FROM training.tailoring_examples").fetchall() == [(result.loaded_at,)]
    assert card["removed_by_filter"] == result.removed and "training" in card["code_version"]
    assert card["run_id"] == "run-1" and card["labels"] == ["copied", "downloaded", "refined_again", "accepted"]

    monkeypatch.setenv("ANALYTICS_TRAINING_DIR", str(out))
    everything = load_training_set("tailoring_examples", split=None)
    train = load_training_set("tailoring_examples")
    assert len(everything) == 30 and set(train["split"]) == {"train"}
    assert "loaded_at" not in everything.columns
    assert len(train) == card["rows_per_split"]["train"]
    assert {"anon_user_id", "split"} <= set(train.columns)
    assert len(load_training_set("tailoring_examples", "test", version=path.name)) == card["rows_per_split"]["test"]
    assert read_card("tailoring_examples") == card

    with pytest.raises(ValueError, match="split must be"):
        load_training_set("tailoring_examples", split="dev")
    with pytest.raises(FileNotFoundError, match="no version"):
        load_training_set("tailoring_examples", version="19990101")
    with pytest.raises(FileNotFoundError, match="materialize"):
        load_training_set("refinement_pairs")


def test_a_rebuild_with_unchanged_content_writes_no_new_version(conn, events, tmp_path):
    for i in range(12):
        events.resume("resume.tailor", f"user-{i}", T0 + timedelta(minutes=i), resume=f"r{i}")
    out = tmp_path / "training"

    def rebuild(details: dict):
        result = build(conn, "tailoring_examples")
        return write_snapshot(out, result.table, snapshot_rows(conn, result.table), details)

    first = rebuild({"run_id": "run-1", "config": {"label_window_hours": 24}})
    # Another run, another build time (loaded_at): the same content, so the same version.
    again = rebuild({"run_id": "run-2", "config": {"label_window_hours": 24}})
    assert not again.new and again.path == first.path and again.card["run_id"] == "run-1"
    assert list_versions("tailoring_examples", out) == [first.path.name]
    assert not [p for p in (out / "tailoring_examples").iterdir() if p.name.startswith(".")]

    # What a data scientist cares about makes a new version: the settings, the rows.
    settings = rebuild({"run_id": "run-3", "config": {"label_window_hours": 48}})
    events.resume("resume.tailor", "user-new", T0 + timedelta(hours=1), resume="r-new")
    rows = rebuild({"run_id": "run-4", "config": {"label_window_hours": 48}})
    assert settings.new and rows.new and rows.card["row_count"] == 13
    assert list_versions("tailoring_examples", out) == [first.path.name, settings.path.name, rows.path.name]
    assert len({first.card["content_hash"], settings.card["content_hash"], rows.card["content_hash"]}) == 3
    # Back to content an older version holds: newer than the latest, so written again as the latest.
    back = rebuild({"run_id": "run-5", "config": {"label_window_hours": 24}})
    assert back.new and list_versions("tailoring_examples", out)[-1] == back.path.name


def test_the_card_reports_label_rates_and_final_labels_per_split(conn, events, tmp_path):
    users = [f"{i:064x}" for i in range(40)]
    for i, user in enumerate(users):
        events.resume("resume.tailor", user, T0 + timedelta(minutes=i), resume=f"r{i}")
        if i % 4 == 0:  # a quarter of the outputs downloaded
            events.resume("resume.download", user, T0 + timedelta(minutes=i, seconds=30), resume=f"r{i}")
    # Two outputs after the label window of the others has closed: their labels are not final yet.
    late = [events.resume("resume.tailor", users[i], T0 + timedelta(hours=30), resume=f"late{i}") for i in (1, 2)]
    result = build(conn, "tailoring_examples")
    card = write_snapshot(tmp_path, result.table, snapshot_rows(conn, result.table), {}).card

    frame = conn.sql("SELECT * FROM training.tailoring_examples").df()
    assert set(frame.loc[~frame["label_window_closed"], "event_id"]) == set(late)
    for split, stats in card["label_stats"].items():
        rows = frame[frame["split"] == split]
        final = rows[rows["label_window_closed"]]
        assert stats["rows"] == len(rows) == card["rows_per_split"][split]
        assert stats["label_window_closed_share"] == pytest.approx(len(final) / len(rows), abs=1e-4)
        assert stats["rates"]["accepted"] == pytest.approx(rows["accepted"].mean(), abs=1e-4)
        assert stats["rates_label_window_closed"]["downloaded"] == pytest.approx(final["downloaded"].mean(), abs=1e-4)
        assert stats["rates_label_window_closed"]["copied"] == 0
    final_rows = {split: round(s["rows"] * s["label_window_closed_share"]) for split, s in card["label_stats"].items()}
    accepted = sum(s["rates_label_window_closed"]["accepted"] * final_rows[k] for k, s in card["label_stats"].items())
    assert sum(final_rows.values()) == 40 and accepted == pytest.approx(10, abs=0.01)  # ten downloads, all final

    # Engagement features have no labels to report.
    result = build(conn, "engagement_features")
    card = write_snapshot(tmp_path, result.table, snapshot_rows(conn, result.table), {}).card
    assert card["labels"] == [] and card["label_stats"] == {}


def test_old_versions_are_pruned_and_erasure_still_covers_every_kept_one(conn, events, tmp_path):
    out = tmp_path / "training"
    users = [f"{i:064x}" for i in range(8)]
    written = []
    for round_ in range(4):  # four builds with different content: four versions
        events.resume("resume.tailor", users[round_], T0 + timedelta(hours=round_), resume=f"r{round_}")
        events.resume("resume.tailor", users[0], T0 + timedelta(hours=round_, minutes=5), resume=f"x{round_}")
        result = build(conn, "tailoring_examples")
        written.append(write_snapshot(out, result.table, snapshot_rows(conn, result.table), {}).path.name)
    assert list_versions("tailoring_examples", out) == written

    # A deletion killed half-way leaves a hidden folder: never listed, cleaned up by the next prune.
    (out / "tailoring_examples" / f"{PRUNED_PREFIX}killed").mkdir()
    assert prune_versions("tailoring_examples", 2, out, protect=frozenset({written[0]})) == [written[1]]
    assert list_versions("tailoring_examples", out) == [written[0], *written[2:]]
    assert sorted(p.name for p in (out / "tailoring_examples").iterdir()) == [written[0], *written[2:]]
    assert prune_versions("tailoring_examples", 1, out) == [written[0], written[2]]
    assert prune_versions("tailoring_examples", 1, out) == []
    with pytest.raises(ValueError, match="at least 1"):
        prune_versions("tailoring_examples", 0, out)

    # users[0] is in every version; erasure rewrites every Parquet file under the training dir.
    for round_ in range(2):
        events.resume("resume.tailor", users[5 + round_], T0 + timedelta(days=1, hours=round_), resume=f"y{round_}")
        result = build(conn, "tailoring_examples")
        write_snapshot(out, result.table, snapshot_rows(conn, result.table), {})
    kept = list_versions("tailoring_examples", out)
    assert len(kept) == 3
    removed = erase_from_parquet(out, users[0]).erased
    assert {Path(f).parts[1] for f in removed} == set(kept)
    for version in kept:
        frame = load_training_set("tailoring_examples", split=None, version=version, directory=out)
        assert len(frame) and users[0] not in set(frame["anon_user_id"])


def test_an_empty_warehouse_gives_empty_sets_not_errors(conn):
    for name in TRAINING_TABLES:
        assert build(conn, name).rows == 0
    table = conn.sql("SELECT * FROM training.engagement_features").to_arrow_table()
    assert isinstance(table, pa.Table) and table.num_rows == 0
