"""Privacy lifecycle: salt safety, right to erasure, raw-data retention, raw-log change detection. No Dagster here."""
