"""The short summary `analytics-pipeline run` prints after materializing."""

from __future__ import annotations

import sys
from collections import Counter

import duckdb as duckdb_module

from analytics_pipeline.defs.resources import AnalyticsDuckDBResource
from analytics_pipeline.run_report import error_text
from analytics_pipeline.schema import ANALYTICS_TABLES, QUARANTINE, RESUME_EVENTS
from analytics_pipeline.training import TRAINING_TABLES


def print_summary(duckdb: AnalyticsDuckDBResource, entities_replaced: Counter[str]) -> bool:
    """Rows per table and quarantine reasons (read from DuckDB), PII entities replaced per type; False, with
    the reason, when the DuckDB file cannot be read (corrupt, locked, gone)."""
    try:
        _print_summary(duckdb, entities_replaced)
    except (duckdb_module.Error, OSError) as error:
        print(
            f"could not read the DuckDB file {duckdb.database} for the summary: "
            f"{error_text(type(error).__name__, str(error))}",
            file=sys.stderr,
        )
        return False
    return True


def _print_summary(duckdb: AnalyticsDuckDBResource, entities_replaced: Counter[str]) -> None:
    with duckdb.get_connection(read_only=True) as conn:
        print(f"\nDuckDB file: {duckdb.database}")
        for table in ANALYTICS_TABLES:
            rows = conn.execute(f"SELECT count(*) FROM {table.qualified_name}").fetchone()[0]
            print(f"  {table.qualified_name:<24} {rows:>8} rows")
        built = {
            row[0]
            for row in conn.execute(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = 'training'"
            ).fetchall()
        }
        for table in TRAINING_TABLES.values():
            if table.name in built:
                counts = conn.execute(
                    f"SELECT split, count(*) FROM {table.qualified_name} GROUP BY split ORDER BY split DESC"
                ).fetchall()
                per_split = ", ".join(f"{split} {rows}" for split, rows in counts)
                total = sum(rows for _, rows in counts)
                print(f"  {table.qualified_name:<32} {total:>8} rows ({per_split})")
        matched, total = coherent_placeholders(conn)
        reasons = conn.execute(
            f"SELECT reason_code, count(*) FROM {QUARANTINE.qualified_name} GROUP BY 1 ORDER BY 2 DESC"
        ).fetchall()
    print("Quarantined lines by reason: " + (", ".join(f"{r} {n}" for r, n in reasons) or "none"))
    if total:
        print(
            f"Placeholders in tailored texts that name a value of the event's resume: {matched} of {total} "
            f"({matched / total:.1%})"
        )
    print(
        "PII entities replaced (this run): "
        + (", ".join(f"{e} {n}" for e, n in sorted(entities_replaced.items())) or "none")
    )


def coherent_placeholders(conn) -> tuple[int, int]:
    """(numbered placeholders in tailored texts that also occur in the same event's resume text, all of them):
    how much of what a tailoring model must carry over (the candidate's name, e-mail) it can see carried over."""
    return conn.execute(
        rf"""
        WITH placeholders AS (
            SELECT unnest(regexp_extract_all(tailored_text, '<[A-Z][A-Z_]*_[0-9]+>')) AS placeholder, resume_text
            FROM {RESUME_EVENTS.qualified_name}
            WHERE tailored_text IS NOT NULL AND resume_text IS NOT NULL
        )
        SELECT count(*) FILTER (WHERE contains(resume_text, placeholder)), count(*) FROM placeholders
        """
    ).fetchone()
