"""What the CLI says when a run fails or the DuckDB file cannot be read: the innermost cause (a lock held by a
reader, a full disk, a corrupt file), never a message that may quote data, and no traceback."""

from __future__ import annotations

import errno
import subprocess
import sys
import time
from collections import Counter

import dagster as dg
import duckdb
import pytest

from analytics_pipeline import warehouse
from analytics_pipeline.defs.resources import AnalyticsDuckDBResource
from analytics_pipeline.run_report import failure_messages
from analytics_pipeline.summary import print_summary

# The README's notebook: a read-only connection, held open.
READER = """
import sys, time, duckdb
conn = duckdb.connect(sys.argv[1], read_only=True)
print("reading", flush=True)
time.sleep(120)
"""
PII = "Amaka Okafor"


def corrupt(database) -> None:
    """A DuckDB file whose first data block no longer matches its checksum."""
    with warehouse.connect(database) as conn:
        warehouse.ensure_tables(conn)
    with open(database, "r+b") as file:
        file.seek(12288 + 64)
        file.write(b"\xff" * 256)


@pytest.fixture
def reader(tmp_path):
    database = tmp_path / "warehouse.duckdb"
    with warehouse.connect(database) as conn:
        warehouse.ensure_tables(conn)
    process = subprocess.Popen([sys.executable, "-c", READER, str(database)], stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout.readline() == "reading\n"
        yield database
    finally:
        process.kill()
        process.wait()


def test_a_load_blocked_by_an_open_read_only_connection_says_so_after_the_lock_wait(reader, monkeypatch):
    monkeypatch.setenv(warehouse.LOCK_WAIT_ENV, "1")
    began = time.monotonic()
    with pytest.raises(warehouse.DatabaseBusy, match="close read-only connections") as raised:
        warehouse.connect(reader)
    assert 1 <= time.monotonic() - began < 10
    assert f"kept it for 1 s ({warehouse.LOCK_WAIT_ENV})" in str(raised.value)


def failed_op_messages(raise_it) -> list[str]:
    """The CLI's failure report of a real run whose one op calls ``raise_it``."""

    @dg.op
    def load():
        raise_it()

    @dg.job
    def loading():
        load()

    with dg.DagsterInstance.ephemeral() as instance:
        result = loading.execute_in_process(instance=instance, raise_on_error=False)
        assert not result.success
        return failure_messages(instance, result.run_id)


def test_a_failed_step_is_reported_with_its_innermost_cause_and_no_data(tmp_path, reader, monkeypatch):
    monkeypatch.setenv(warehouse.LOCK_WAIT_ENV, "0")
    (busy,) = failed_op_messages(lambda: warehouse.connect(reader))
    assert busy.startswith('load: Error occurred while executing op "load": DatabaseBusy: another process holds')
    assert "close read-only connections" in busy and "\n" not in busy

    def disk_full():
        raise OSError(errno.ENOSPC, "No space left on device", "/data/staging/part.parquet")

    (full,) = failed_op_messages(disk_full)
    assert full.endswith("OSError: [Errno 28] No space left on device: '/data/staging/part.parquet'")

    database = tmp_path / "corrupt.duckdb"
    corrupt(database)

    def read_corrupt():
        with warehouse.connect(database, read_only=True) as conn:
            conn.execute("SELECT count(*) FROM analytics.users").fetchall()

    (broken,) = failed_op_messages(read_corrupt)
    assert "Error: Corrupt database file: computed checksum" in broken

    def quotes_a_value():  # e.g. a DuckDB conversion error names the value it could not convert
        duckdb.sql(f"SELECT '{PII}'::INTEGER").fetchall()

    (withheld,) = failed_op_messages(quotes_a_value)
    assert PII not in withheld
    assert withheld.endswith(
        "ConversionException (its message is not shown here, it may quote data: see the step's logs in the UI)"
    )


def test_the_summary_of_a_corrupt_duckdb_file_is_a_clear_error(tmp_path, capsys):
    database = tmp_path / "warehouse.duckdb"
    corrupt(database)
    assert print_summary(AnalyticsDuckDBResource(database=str(database)), Counter()) is False
    err = capsys.readouterr().err
    assert f"could not read the DuckDB file {database} for the summary: Error: Corrupt database file" in err
    assert "Traceback" not in err
