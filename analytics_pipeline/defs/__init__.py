"""Dagster definitions, one module per domain; loaded by ``load_from_defs_folder``."""
