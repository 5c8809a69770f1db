"""Build the training sets in DuckDB from the analytics tables: labels, pairs, features, filters, splits.

Plain functions over a DuckDB connection (no Dagster). Every set is recomputed from all
loaded analytics data, because outcome labels look forward in time (a tailored output on
day D may be downloaded on day D+1) and the split is per user across all days.

Events from partitions the caller excludes (those that did not pass the data-quality gate)
neither become examples nor count towards labels.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

import duckdb
import pyarrow as pa

from analytics_pipeline.schema import INTERACTIONS, RESUME_EVENTS, Table
from analytics_pipeline.training.splits import SplitRatios, assign_split
from analytics_pipeline.training.tables import (
    ENGAGEMENT_FEATURES,
    LOADED_AT,
    REFINEMENT_PAIRS,
    TAILORING_EXAMPLES,
    snapshot_columns,
)
from analytics_pipeline.warehouse import ensure_tables, transaction

DEFAULT_LABEL_WINDOW_HOURS = 24
DEFAULT_MAX_PLACEHOLDER_SHARE = 0.5


@dataclass(frozen=True)
class TrainingConfig:
    split_ratios: SplitRatios = field(default_factory=SplitRatios)
    # How long after an output a copy, download or refinement still counts as its outcome.
    label_window: timedelta = timedelta(hours=DEFAULT_LABEL_WINDOW_HOURS)
    # Texts whose tokens are mostly scrubber placeholders (<PERSON>, ...) teach nothing.
    max_placeholder_share: float = DEFAULT_MAX_PLACEHOLDER_SHARE


@dataclass(frozen=True)
class Filter:
    """A quality filter: rows kept by ``keep`` (a WHERE or QUALIFY clause) go on to the next filter."""

    name: str
    keep: str


@dataclass(frozen=True)
class BuildResult:
    table: Table
    rows: int
    # Rows (for engagement_features: events) each filter removed, in the order applied.
    removed: dict[str, int]
    loaded_at: datetime  # UTC, naive like every timestamp in the tables


_TAILORING_TYPES = "('resume.tailor', 'resume.refine')"


def _in_excluded(column: str) -> str:
    return f"{column} IN (SELECT day FROM _excluded_partitions)"


def _prepare(conn: duckdb.DuckDBPyConnection, config: TrainingConfig, excluded: list[date]) -> None:
    """Temp tables shared by the sets: the excluded partitions and every tailoring with its outcome labels."""
    conn.execute("CREATE OR REPLACE TEMP TABLE _excluded_partitions (day DATE)")
    if excluded:
        conn.executemany("INSERT INTO _excluded_partitions VALUES (?)", [[day] for day in excluded])
    conn.execute(
        r"""
        CREATE OR REPLACE TEMP MACRO placeholder_share(t) AS
            len(list_filter(regexp_extract_all(t, '\S+'), lambda w: regexp_matches(w, '<[A-Z][A-Z_]*(_[0-9]+)?>')))
            / greatest(len(regexp_extract_all(t, '\S+')), 1)
        """
    )
    conn.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE _tailorings AS
        SELECT * FROM {RESUME_EVENTS.qualified_name} WHERE event_type IN {_TAILORING_TYPES}
        """
    )
    # Each copy, download or refinement acts on one output: the latest tailoring of the same
    # user and resume at the version it names (a refinement names the version it creates).
    conn.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE _successors AS
        SELECT a.event_id, a.event_type, a.occurred_at, a.partition_date,
               t.event_id AS source_event_id, t.occurred_at AS source_occurred_at
        FROM (
            SELECT *, CASE WHEN event_type = 'resume.refine' THEN version - 1 ELSE version END AS target_version
            FROM {RESUME_EVENTS.qualified_name}
            WHERE event_type IN ('resume.copy', 'resume.download', 'resume.refine')
        ) AS a
        ASOF JOIN _tailorings AS t
            ON a.anon_user_id = t.anon_user_id AND a.anon_resume_id = t.anon_resume_id
            AND a.target_version = t.version AND a.occurred_at >= t.occurred_at
        """
    )
    window = [config.label_window.total_seconds()]
    conn.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE _labeled_tailorings AS
        WITH labels AS (
            SELECT source_event_id,
                   bool_or(event_type = 'resume.copy') AS copied,
                   bool_or(event_type = 'resume.download') AS downloaded,
                   bool_or(event_type = 'resume.refine') AS refined_again
            FROM _successors
            WHERE occurred_at <= source_occurred_at + to_seconds($1::DOUBLE)
              AND NOT {_in_excluded("partition_date")}
            GROUP BY source_event_id
        ),
        -- The newest event closes windows, but occurred_at is the client's clock (the contract accepts up
        -- to 2100): one skewed clock must not make every label final. So the horizon is capped at the newest
        -- arrival: received_at (the API's clock), never later than the end of the event's partition day
        -- (the day its raw file was written), which stands in for it when unknown.
        horizon AS (
            SELECT least(
                max(occurred_at),
                max(least(coalesce(received_at, partition_date + INTERVAL 1 DAY), partition_date + INTERVAL 1 DAY))
            ) AS newest
            FROM {RESUME_EVENTS.qualified_name}
            WHERE NOT {_in_excluded("partition_date")}
        )
        SELECT t.*,
               coalesce(l.copied, false) AS copied,
               coalesce(l.downloaded, false) AS downloaded,
               coalesce(l.refined_again, false) AS refined_again,
               coalesce(l.copied OR l.downloaded, false) AS accepted,
               coalesce(t.occurred_at + to_seconds($1::DOUBLE) <= h.newest, false) AS label_window_closed
        FROM _tailorings AS t LEFT JOIN labels AS l ON l.source_event_id = t.event_id, horizon AS h
        """,
        window,
    )


def _text_filters(columns: tuple[str, ...], id_column: str, max_placeholder_share: float) -> list[Filter]:
    return [
        Filter("empty_text", " AND ".join(f"nullif(trim({c}), '') IS NOT NULL" for c in columns)),
        Filter(
            "mostly_placeholders",
            " AND ".join(f"placeholder_share({c}) <= {float(max_placeholder_share)!r}" for c in columns),
        ),
        Filter(
            "exact_duplicates",
            # Across all users, keeping the earliest: one text in two splits would leak between them.
            f"QUALIFY row_number() OVER (PARTITION BY {', '.join(columns)} ORDER BY occurred_at, {id_column}) = 1",
        ),
    ]


def _apply_filters(conn: duckdb.DuckDBPyConnection, candidates_sql: str, filters: list[Filter]) -> dict[str, int]:
    """Materialize the candidates as ``_kept`` and narrow it filter by filter, counting what each removes."""
    conn.execute(f"CREATE OR REPLACE TEMP TABLE _kept AS {candidates_sql}")
    removed = {}
    for quality_filter in filters:
        before = conn.execute("SELECT count(*) FROM _kept").fetchone()[0]
        clause = quality_filter.keep
        if not clause.startswith("QUALIFY"):
            clause = f"WHERE {clause}"
        conn.execute(f"CREATE OR REPLACE TEMP TABLE _kept AS SELECT * FROM _kept {clause}")
        removed[quality_filter.name] = before - conn.execute("SELECT count(*) FROM _kept").fetchone()[0]
    return removed


def _register_splits(conn: duckdb.DuckDBPyConnection, ratios: SplitRatios) -> None:
    """``_user_splits``: the split of every user left in ``_kept``."""
    users = [row[0] for row in conn.execute("SELECT DISTINCT anon_user_id FROM _kept").fetchall()]
    splits = pa.table(
        {
            "anon_user_id": pa.array(users, pa.string()),
            "split": pa.array([assign_split(u, ratios) for u in users], pa.string()),
        }
    )
    conn.register("_user_splits_arrow", splits)
    conn.execute("CREATE OR REPLACE TEMP TABLE _user_splits AS SELECT * FROM _user_splits_arrow")
    conn.unregister("_user_splits_arrow")


def _replace_table(conn: duckdb.DuckDBPyConnection, table: Table, select_sql: str, loaded_at: datetime) -> int:
    """Swap in the new contents in one transaction: readers see the old set or the new one.

    ``select_sql`` yields every column but ``loaded_at``, in the table's order; ``loaded_at`` is the build's.
    """
    columns = [c.name for c in snapshot_columns(table)]
    conn.execute("CREATE SCHEMA IF NOT EXISTS training")
    with transaction(conn):
        conn.execute(f"DROP TABLE IF EXISTS {table.qualified_name}")
        conn.execute(table.create_sql())
        conn.execute(
            f"INSERT INTO {table.qualified_name} ({', '.join(columns)}, {LOADED_AT.name}) "
            f"SELECT *, ?::TIMESTAMP FROM ({select_sql})",
            [loaded_at],
        )
        rows = conn.execute(f"SELECT count(*) FROM {table.qualified_name}").fetchone()[0]
    return rows


def _select_with_split(table: Table, order_by: str) -> str:
    columns = ", ".join("s.split" if c.name == "split" else f"k.{c.name}" for c in snapshot_columns(table))
    return f"SELECT {columns} FROM _kept AS k JOIN _user_splits AS s USING (anon_user_id) ORDER BY {order_by}"


_FAILED_CHECKS = Filter("failed_checks", f"NOT {_in_excluded('partition_date')}")


def _tailoring_examples(config: TrainingConfig) -> tuple[str, list[Filter], str]:
    texts = ("resume_text", "job_description", "tailored_text")
    return (
        "SELECT * FROM _labeled_tailorings",
        [_FAILED_CHECKS, *_text_filters(texts, "event_id", config.max_placeholder_share)],
        _select_with_split(TAILORING_EXAMPLES, "occurred_at, event_id"),
    )


def _refinement_pairs(config: TrainingConfig) -> tuple[str, list[Filter], str]:
    texts = ("before_text", "after_text", "job_description")
    candidates = """
        SELECT r.event_id AS after_event_id, b.event_id AS before_event_id,
               r.anon_user_id, r.anon_resume_id, r.occurred_at, r.partition_date,
               b.partition_date AS before_partition_date, r.tailoring_mode,
               r.job_description, b.job_description AS before_job_description,
               b.version AS before_version, r.version AS after_version,
               b.tailored_text AS before_text, r.tailored_text AS after_text,
               b.ats_score AS before_ats_score, r.ats_score AS after_ats_score,
               r.ats_score - b.ats_score AS ats_score_delta,
               b.jd_score AS before_jd_score, r.jd_score AS after_jd_score,
               r.jd_score - b.jd_score AS jd_score_delta,
               epoch(r.occurred_at) - epoch(b.occurred_at) AS seconds_between,
               r.accepted AS after_accepted, r.refined_again AS after_refined_again,
               r.label_window_closed, r.scrubber_version
        FROM _labeled_tailorings AS r
        JOIN _successors AS s ON s.event_id = r.event_id
        JOIN _labeled_tailorings AS b ON b.event_id = s.source_event_id
        WHERE r.event_type = 'resume.refine'
    """
    filters = [
        Filter(
            "failed_checks", f"NOT {_in_excluded('partition_date')} AND NOT {_in_excluded('before_partition_date')}"
        ),
        Filter("job_description_changed", "job_description IS NOT DISTINCT FROM before_job_description"),
        *_text_filters(texts, "after_event_id", config.max_placeholder_share),
        Filter("unchanged_text", "before_text <> after_text"),
    ]
    return candidates, filters, _select_with_split(REFINEMENT_PAIRS, "occurred_at, after_event_id")


def _engagement_features(config: TrainingConfig) -> tuple[str, list[Filter], str]:
    candidates = f"""
        SELECT anon_user_id, occurred_at, partition_date, event_type, anon_resume_id,
               NULL::VARCHAR AS action, NULL::VARCHAR AS element
        FROM {RESUME_EVENTS.qualified_name}
        UNION ALL
        SELECT anon_user_id, occurred_at, partition_date, 'interaction', NULL, action, element
        FROM {INTERACTIONS.qualified_name}
    """
    per_action = ", ".join(
        f"count(*) FILTER (WHERE k.action = '{action}') AS {column}"
        for action, column in (
            ("click", "clicks"),
            ("hover", "hovers"),
            ("focus", "focuses"),
            ("scroll", "scrolls"),
            ("view", "views"),
            ("submit", "submits"),
        )
    )
    aggregate = f"""
        WITH days AS (
            SELECT k.anon_user_id, CAST(k.occurred_at AS DATE) AS activity_date,
                   count(*) AS events,
                   count(*) FILTER (WHERE k.event_type = 'resume.upload') AS uploads,
                   count(*) FILTER (WHERE k.event_type = 'resume.tailor') AS tailors,
                   count(*) FILTER (WHERE k.event_type = 'resume.refine') AS refines,
                   count(*) FILTER (WHERE k.event_type = 'resume.copy') AS copies,
                   count(*) FILTER (WHERE k.event_type = 'resume.download') AS downloads,
                   count(*) FILTER (WHERE k.event_type = 'interaction') AS interactions,
                   {per_action},
                   coalesce(histogram(k.element) FILTER (WHERE k.element IS NOT NULL), MAP {{}})
                       ::MAP(VARCHAR, BIGINT) AS element_counts,
                   count(DISTINCT k.anon_resume_id) AS resumes,
                   min(k.occurred_at) AS first_event_at,
                   min(k.occurred_at) FILTER (WHERE k.event_type = 'resume.download') AS first_download_at
            FROM _kept AS k
            GROUP BY ALL
        )
        SELECT d.anon_user_id, s.split, d.activity_date, d.events, d.uploads, d.tailors, d.refines,
               d.copies, d.downloads, d.interactions, d.clicks, d.hovers, d.focuses, d.scrolls, d.views,
               d.submits, d.element_counts, d.resumes,
               d.uploads > 0 AS did_upload, d.tailors + d.refines > 0 AS did_tailor,
               d.copies + d.downloads > 0 AS did_export,
               CASE WHEN d.copies + d.downloads > 0 THEN 3 WHEN d.tailors + d.refines > 0 THEN 2
                    WHEN d.uploads > 0 THEN 1 ELSE 0 END AS funnel_depth,
               d.first_event_at, d.first_download_at,
               epoch(d.first_download_at) - epoch(d.first_event_at) AS seconds_to_first_download
        FROM days AS d JOIN _user_splits AS s USING (anon_user_id)
        ORDER BY d.activity_date, d.anon_user_id
    """
    return candidates, [_FAILED_CHECKS], aggregate


_BUILDERS = {
    TAILORING_EXAMPLES.name: (TAILORING_EXAMPLES, _tailoring_examples),
    REFINEMENT_PAIRS.name: (REFINEMENT_PAIRS, _refinement_pairs),
    ENGAGEMENT_FEATURES.name: (ENGAGEMENT_FEATURES, _engagement_features),
}


def build_training_set(
    conn: duckdb.DuckDBPyConnection, name: str, config: TrainingConfig, excluded_partitions: list[date]
) -> BuildResult:
    """Recompute training set ``name`` into ``training.<name>`` from the analytics tables."""
    table, plan = _BUILDERS[name]
    candidates, filters, output = plan(config)
    ensure_tables(conn)
    _prepare(conn, config, excluded_partitions)
    removed = _apply_filters(conn, candidates, filters)
    _register_splits(conn, config.split_ratios)
    loaded_at = datetime.now(UTC).replace(tzinfo=None)
    rows = _replace_table(conn, table, output, loaded_at)
    return BuildResult(table, rows, removed, loaded_at)


def snapshot_rows(conn: duckdb.DuckDBPyConnection, table: Table) -> pa.Table:
    """A built set as its snapshot holds it: every column but ``loaded_at``, in the order it was written."""
    columns = ", ".join(c.name for c in snapshot_columns(table))
    return conn.sql(f"SELECT {columns} FROM {table.qualified_name}").to_arrow_table()
