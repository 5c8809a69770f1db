"""Data-quality logic, independent of Dagster: residual-PII detection, canaries,
reconciliation, integrity and schema comparisons. The checks in ``defs/*/checks.py`` call these."""
