"""Everything the pipeline writes is owner-only, whatever the umask it was started with (real CLI run)."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from analytics_pipeline.sample_data import write_sample
from analytics_pipeline_tests.conftest import TEST_SALT

pytestmark = pytest.mark.slow


def test_a_run_under_umask_022_writes_only_owner_only_files(tmp_path):
    write_sample(tmp_path / "raw", days=1, sessions_per_day=2, users=2, seed=2, malformed_share=0.0)
    home = tmp_path / "dagster_home"
    home.mkdir(mode=0o755)
    os.chmod(home, 0o755)
    # The project's instance config: its run coordinator starts the CLI's runs without a daemon.
    config = Path(shutil.copy(Path(__file__).resolve().parents[1] / "data" / "dagster_home" / "dagster.yaml", home))
    config.chmod(0o600)  # the operator's file; what the pipeline writes is checked below
    env = os.environ | {
        "ANALYTICS_SALT": TEST_SALT,
        "ANALYTICS_RAW_DIR": str(tmp_path / "raw"),
        "ANALYTICS_STAGING_DIR": str(tmp_path / "staging"),
        "ANALYTICS_DUCKDB_PATH": str(tmp_path / "db" / "warehouse.duckdb"),
        "ANALYTICS_TRAINING_DIR": str(tmp_path / "training"),
        "DAGSTER_HOME": str(home),
    }

    def umask_022() -> None:
        os.umask(0o022)

    subprocess.run(
        [sys.executable, "-m", "analytics_pipeline.cli", "run"],
        env=env,
        check=True,
        capture_output=True,
        preexec_fn=umask_022,
        timeout=600,
    )
    written = [tmp_path / "staging", tmp_path / "db", tmp_path / "training", home]
    assert all(path.is_dir() for path in written)
    assert any((tmp_path / "training").rglob("*.parquet")) and any((tmp_path / "staging").rglob("*.parquet"))
    too_open = [
        str(path)
        for root in written
        for path in [root, *root.rglob("*")]
        if not path.is_symlink() and stat.S_IMODE(path.stat().st_mode) & 0o077
    ]
    assert too_open == []
