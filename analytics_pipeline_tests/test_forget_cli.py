"""`forget` and `pseudonym` hash the user ID exactly as the app sent it, and say when an erasure found nothing."""

import io

import pytest

from analytics_pipeline import cli
from analytics_pipeline.privacy.hashing import USER_DOMAIN, pseudonymize
from analytics_pipeline_tests.conftest import TEST_SALT


def pseudonym(user_id: str) -> str:
    return pseudonymize(user_id, TEST_SALT.encode(), USER_DOMAIN)


@pytest.fixture(autouse=True)
def salt(monkeypatch):
    monkeypatch.setenv("ANALYTICS_SALT", TEST_SALT)


@pytest.mark.parametrize("user_id", [" victim ", "victim ", "\tvictim", "victim"])
def test_an_id_on_the_command_line_is_hashed_as_it_is(user_id, capsys):
    # The contract stores user_id as sent: " victim " is another user than "victim".
    assert cli.main(["pseudonym", user_id]) == 0
    assert capsys.readouterr().out.strip() == pseudonym(user_id)


@pytest.mark.parametrize(
    ("stdin", "user_id"),
    [(" victim \n", " victim "), (" victim \r\n", " victim "), ("victim", "victim"), ("  victim\t\n", "  victim\t")],
)
def test_an_id_from_stdin_loses_only_its_line_ending(stdin, user_id, monkeypatch, capsys):
    monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
    assert cli.main(["pseudonym", "-"]) == 0
    assert capsys.readouterr().out.strip() == pseudonym(user_id)


def test_an_empty_id_is_refused(monkeypatch):
    monkeypatch.setattr("sys.stdin", io.StringIO("\n"))
    with pytest.raises(SystemExit, match="empty"):
        cli.main(["pseudonym", "-"])


def test_an_erasure_that_found_nothing_is_told_apart():
    nothing = {"table_rows_deleted": {"analytics.users": 0}, "parquet_rows_deleted": {}, "raw_lines_blanked": {}}
    assert cli.nothing_erased(nothing)
    assert not cli.nothing_erased(nothing | {"raw_lines_blanked": {"2026-11-02/events.jsonl": 1}})
    assert not cli.nothing_erased(nothing | {"table_rows_deleted": {"analytics.users": 1}})
    assert not cli.nothing_erased(nothing | {"parquet_rows_deleted": {"training/x.parquet": 2}})
    assert cli.NOTHING_ERASED_EXIT_CODE not in (0, 1, 2)  # 1: failed, 2: usage (argparse)
