"""Owner-only files: everything the pipeline writes (raw-derived Parquet, training sets, DuckDB,
Dagster's run storage) holds scrubbed or pseudonymous personal data; no other local user may read it,
whatever the umask the pipeline was started with."""

from __future__ import annotations

import os
import stat
from pathlib import Path

PRIVATE_UMASK = 0o077
DIR_MODE = 0o700
FILE_MODE = 0o600


def restrict_process() -> None:
    """From now on this process creates owner-only files, Dagster's included; DAGSTER_HOME is closed
    to others too (its files written by other processes, the webserver's or the daemon's, sit inside it)."""
    os.umask(PRIVATE_UMASK)
    home = os.environ.get("DAGSTER_HOME")
    if home and Path(home).is_dir() and not Path(home).is_symlink():
        os.chmod(home, DIR_MODE)


def restrict_tree(root: Path) -> None:
    """Directories 0700 and files 0600 under ``root`` (itself included); symlinks are left alone."""
    root = Path(root)
    os.chmod(root, DIR_MODE)
    for directory, dirnames, filenames in os.walk(root):
        for name in dirnames:
            os.chmod(os.path.join(directory, name), DIR_MODE)
        for name in filenames:
            path = os.path.join(directory, name)
            if stat.S_ISREG(os.lstat(path).st_mode):
                os.chmod(path, FILE_MODE)
