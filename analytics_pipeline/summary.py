"""The short summary `analytics-pipeline run` prints after materializing."""

from __future__ import annotations

from collections import Counter

from analytics_pipeline import warehouse
from analytics_pipeline.schema import ANALYTICS_TABLES, QUARANTINE


def print_summary(database: str, entities_replaced: Counter[str]) -> None:
    """Rows per table and quarantine reasons (read from DuckDB), PII entities replaced per type."""
    with warehouse.connect(database, read_only=True) as conn:
        print(f"\nDuckDB file: {database}")
        for table in ANALYTICS_TABLES:
            rows = conn.execute(f"SELECT count(*) FROM {table.qualified_name}").fetchone()[0]
            print(f"  {table.qualified_name:<24} {rows:>8} rows")
        reasons = conn.execute(
            f"SELECT reason_code, count(*) FROM {QUARANTINE.qualified_name} GROUP BY 1 ORDER BY 2 DESC"
        ).fetchall()
    print("Quarantined lines by reason: " + (", ".join(f"{r} {n}" for r, n in reasons) or "none"))
    print(
        "PII entities replaced (this run): "
        + (", ".join(f"{e} {n}" for e, n in sorted(entities_replaced.items())) or "none")
    )
