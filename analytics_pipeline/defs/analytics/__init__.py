"""The analytics tables in DuckDB, their checks, and the daily job that fills them."""
