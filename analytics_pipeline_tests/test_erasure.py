"""Right to erasure, end to end: a forgotten user is gone everywhere and stays gone."""

import json
import stat

import pyarrow.parquet as pq
import pytest

from analytics_pipeline import cli, warehouse
from analytics_pipeline.privacy.hashing import USER_DOMAIN, pseudonymize
from analytics_pipeline.sample_data import write_sample
from analytics_pipeline_tests.conftest import TEST_SALT, SampleDays, build_pipeline

pytestmark = pytest.mark.slow
SALT = TEST_SALT.encode()


def pseudonym(user_id: str) -> str:
    return pseudonymize(user_id, SALT, USER_DOMAIN)


def raw_line_count(pipeline, day: str) -> int:
    return sum(len(p.read_bytes().splitlines()) for p in (pipeline.raw_dir / day).glob("*.jsonl"))


def tables_mentioning(pipeline, value: str) -> list[str]:
    """Every table (ledger aside) with a text column holding ``value``."""
    columns = pipeline.query(
        "SELECT table_schema, table_name, column_name FROM information_schema.columns "
        "WHERE table_catalog = 'warehouse' AND data_type = 'VARCHAR' AND table_name <> 'erasure_ledger'"
    )
    return sorted(
        {
            f"{schema}.{table}"
            for schema, table, column in columns
            if pipeline.query(f"SELECT count(*) FROM {schema}.{table} WHERE {column} = ?", [value])[0][0]
        }
    )


def parquet_files_mentioning(root, value: str) -> list[str]:
    return [
        str(path)
        for path in root.rglob("*.parquet")
        if "anon_user_id" in pq.read_schema(path).names
        and value in pq.read_table(path, columns=["anon_user_id"]).column(0).to_pylist()
    ]


def raw_files_mentioning(pipeline, user_id: str) -> list[str]:
    return [str(p) for p in pipeline.raw_dir.rglob("*.jsonl") if user_id.encode() in p.read_bytes()]


@pytest.fixture
def small_sample(pipeline) -> SampleDays:
    """Two short days with few users, so users come back on the second day."""
    pii = write_sample(pipeline.raw_dir, days=2, sessions_per_day=5, users=4, seed=5, malformed_share=0.1)
    return SampleDays(sorted(p.name for p in pipeline.raw_dir.iterdir()), pii)


@pytest.fixture
def loaded(pipeline, small_sample, monkeypatch):
    sample_days = small_sample
    for day in sample_days.days:
        assert pipeline.run(day).success
    # Stand-ins for the training sets (another module): a table and a versioned Parquet snapshot.
    with warehouse.connect(pipeline.database) as conn:
        conn.execute("CREATE SCHEMA training")
        conn.execute("CREATE TABLE training.examples AS SELECT anon_user_id, event_id FROM analytics.resume_events")
        snapshot = pipeline.root / "training" / "examples" / "v1"
        snapshot.mkdir(parents=True)
        pq.write_table(conn.sql("SELECT * FROM training.examples").to_arrow_table(), snapshot / "part-0.parquet")
    # The CLI reads the same paths from the environment.
    for name, value in {
        "ANALYTICS_SALT": TEST_SALT,
        "ANALYTICS_RAW_DIR": pipeline.raw_dir,
        "ANALYTICS_STAGING_DIR": pipeline.root / "staging",
        "ANALYTICS_DUCKDB_PATH": pipeline.database,
        "ANALYTICS_TRAINING_DIR": pipeline.root / "training",
    }.items():
        monkeypatch.setenv(name, str(value))
    monkeypatch.delenv("DAGSTER_HOME", raising=False)  # ephemeral instance, nothing in the working dir
    return pipeline, sample_days


def returning_user(pipeline, sample) -> str:
    """A raw user ID active on both days, with resume events."""
    anon_ids = {
        v
        for (v,) in pipeline.query(
            "SELECT anon_user_id FROM analytics.users WHERE active_days > 1 AND resume_event_count > 0"
        )
    }
    return next(u for u in sorted(sample.pii.values["user_id"]) if pseudonym(u) in anon_ids)


def test_forget_removes_the_user_everywhere_and_replays_stay_out(loaded, capsys):
    pipeline, sample = loaded
    user_id = returning_user(pipeline, sample)
    anon = pseudonym(user_id)
    assert tables_mentioning(pipeline, anon) and raw_files_mentioning(pipeline, user_id)
    assert parquet_files_mentioning(pipeline.root / "training", anon)
    assert parquet_files_mentioning(pipeline.root / "staging", anon)
    replayed = next(
        line
        for line in (pipeline.raw_dir / sample.days[0] / "events-sample.jsonl").read_text().splitlines()
        if f'"{user_id}"' in line and '"resume.' in line
    )
    other_users_before = pipeline.query("SELECT count(*) FROM analytics.users")[0][0]

    assert cli.main(["forget", user_id]) == 0
    report = capsys.readouterr().out
    assert anon not in report and user_id not in report

    assert tables_mentioning(pipeline, anon) == []
    assert parquet_files_mentioning(pipeline.root, anon) == []
    assert raw_files_mentioning(pipeline, user_id) == []
    assert pipeline.query("SELECT count(*) FROM analytics.users")[0][0] == other_users_before - 1
    (ledger,) = pipeline.query("SELECT anon_user_id FROM analytics.erasure_ledger")
    assert ledger == (anon,)
    (snapshot,) = (pipeline.root / "training").rglob("*.parquet")  # rewritten owner-only
    assert stat.S_IMODE(snapshot.stat().st_mode) == 0o600

    # A late replay of one of the user's events (new event_id), then every day re-materialized.
    event = json.loads(replayed) | {"event_id": "6f1c1f4e-0000-4000-8000-000000000001"}
    (pipeline.raw_dir / sample.days[1] / "events-late.jsonl").write_text(json.dumps(event) + "\n")
    for day in sample.days:
        assert pipeline.run(day).success
    assert tables_mentioning(pipeline, anon) == []
    assert pipeline.query("SELECT count(*) FROM analytics.quarantine WHERE reason_code = 'erased_user'")[0][0] == 1
    for day in sample.days:  # nothing lost: every line is loaded or quarantined
        (events,) = pipeline.query(
            "SELECT (SELECT count(*) FROM analytics.resume_events WHERE partition_date = ?) + "
            "(SELECT count(*) FROM analytics.interactions WHERE partition_date = ?) + "
            "(SELECT count(*) FROM analytics.quarantine WHERE partition_date = ?)",
            [day, day, day],
        )[0]
        assert events == raw_line_count(pipeline, day)


def test_erasure_job_refuses_another_salt(loaded, tmp_path):
    pipeline, sample = loaded
    user_id = returning_user(pipeline, sample)
    other_salt = build_pipeline(
        pipeline.root,
        pseudonymizer=type(pipeline.definitions.resources["pseudonymizer"])(
            salt="synthetic-other-salt-5be08d2f61a9c374"
        ),
    )
    result = other_salt.definitions.resolve_job_def("erasure_job").execute_in_process(
        run_config={"ops": {"forget_user": {"config": {"anon_user_id": pseudonym(user_id)}}}},
        raise_on_error=False,
    )
    assert not result.success
    message = result.get_step_failure_events()[0].step_failure_data.error.message
    assert "fingerprint" in message and TEST_SALT not in message
    assert tables_mentioning(pipeline, pseudonym(user_id)), "nothing was erased"


def test_erasure_job_rejects_a_raw_user_id_as_config(pipeline):
    result = pipeline.definitions.resolve_job_def("erasure_job").execute_in_process(
        run_config={"ops": {"forget_user": {"config": {"anon_user_id": "usr_1234"}}}}, raise_on_error=False
    )
    assert not result.success
    assert "64-hex-digit" in result.get_step_failure_events()[0].step_failure_data.error.message


def files_containing(root, needles: list[bytes], pattern: str = "*") -> list[str]:
    return sorted(
        str(path)
        for path in root.rglob(pattern)
        if path.is_file() and not path.is_symlink() and any(n in path.read_bytes() for n in needles)
    )


def test_forget_leaves_no_byte_of_the_user_in_duckdb_parquet_or_dagster_home(loaded):
    pipeline, sample = loaded
    user_id = returning_user(pipeline, sample)
    anon = pseudonym(user_id)
    # The user's longest scrubbed text, and a stretch of it no other user's rows hold.
    ((text,),) = pipeline.query(
        "SELECT tailored_text FROM analytics.resume_events WHERE anon_user_id = ? AND tailored_text IS NOT NULL "
        "ORDER BY length(tailored_text) DESC LIMIT 1",
        [anon],
    )
    snippet = next(
        text[i : i + 60]
        for i in range(0, len(text) - 60, 30)
        if not pipeline.query(
            "SELECT count(*) FROM analytics.resume_events WHERE anon_user_id <> ? AND "
            "(contains(resume_text, ?) OR contains(tailored_text, ?))",
            [anon, text[i : i + 60], text[i : i + 60]],
        )[0][0]
    ).encode()
    dagster_home = pipeline.root / "dagster"
    assert files_containing(pipeline.root, [snippet], "*.parquet")  # it was there

    assert cli.main(["forget", user_id]) == 0

    # The ledger keeps the pseudonym on purpose; nothing else of the user may remain.
    assert files_containing(pipeline.root, [snippet, user_id.encode()], "*.duckdb*") == []
    assert files_containing(pipeline.root, [snippet, anon.encode(), user_id.encode()], "*.parquet") == []
    assert files_containing(dagster_home, [snippet, anon.encode(), user_id.encode()]) == []
    assert stat.S_IMODE(pipeline.database.stat().st_mode) == 0o600
