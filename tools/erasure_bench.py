"""Cost of the right to erasure on a large DuckDB file: delete one user, then compact the file.

    python -m tools.erasure_bench --rows 1000000

Builds a throwaway DuckDB file with the pipeline's tables (``warehouse.ensure_tables``): ``--rows``
events, ``--resume-share`` of them resume events with three synthetic texts of ``--text-chars``
characters, the rest UI interactions, spread over 10,000 pseudonymous users (written uncompressed,
so the erased user's text is plainly in the bytes: the worst case for a leftover). Then times the two
steps of ``forget`` on it: the delete transaction (``erase_from_tables``, with its checkpoint) and
the rewrite that leaves no erased byte in the file (``compact_database``), and reports file sizes
and whether the erased user's text can still be found in the file's bytes after each step.
"""

from __future__ import annotations

import argparse
import hashlib
import tempfile
import time
from pathlib import Path

from analytics_pipeline import warehouse
from analytics_pipeline.lifecycle.erasure import compact_database, erase_from_tables
from analytics_pipeline.schema import INTERACTIONS, RESUME_EVENTS

USERS = 10_000
MARKER = "ERASED-USER-MARKER"


def victim() -> str:
    return hashlib.sha256(b"erasure-bench-victim").hexdigest()


def build(database: Path, rows: int, resume_share: float, text_chars: int) -> None:
    resume_rows = int(rows * resume_share)
    with warehouse.connect(database) as conn:
        # Stored uncompressed so the erased text is visible in the bytes, as long resumes often are.
        conn.execute("SET force_compression = 'uncompressed'")
        warehouse.ensure_tables(conn)
        user = f"CASE WHEN i % {USERS} = 7 THEN '{victim()}' ELSE sha256('u' || (i % {USERS})) END"
        # Text unique per row (md5 chain), so it does not compress away: like real resumes.
        text = f"(CASE WHEN i % {USERS} = 7 THEN '{MARKER} ' ELSE '' END) || repeat(md5(i::VARCHAR) || ' ', {text_chars // 33})"
        conn.execute(
            f"""INSERT INTO {RESUME_EVENTS.qualified_name}
                (event_id, partition_date, occurred_at, anon_user_id, event_type, anon_resume_id, version,
                 is_refinement, resume_text, job_description, tailored_text, source_file, line_number)
                SELECT uuid(), DATE '2026-11-02', TIMESTAMP '2026-11-02 10:00:00', {user}, 'resume.tailor',
                       sha256('r' || i), 1, false, {text}, {text}, {text}, '2026-11-02/events.jsonl', i
                FROM range({resume_rows}) t(i)"""
        )
        conn.execute(
            f"""INSERT INTO {INTERACTIONS.qualified_name}
                (event_id, partition_date, occurred_at, anon_user_id, action, element, page,
                 source_file, line_number)
                SELECT uuid(), DATE '2026-11-02', TIMESTAMP '2026-11-02 10:00:00', {user}, 'click',
                       'tailor-button', '/editor', '2026-11-02/events.jsonl', i
                FROM range({resume_rows}, {rows}) t(i)"""
        )
        conn.execute("CHECKPOINT")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--resume-share", type=float, default=0.1)
    parser.add_argument("--text-chars", type=int, default=2_000)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="erasure-bench-") as tmp:
        database = Path(tmp) / "warehouse.duckdb"
        started = time.perf_counter()
        build(database, args.rows, args.resume_share, args.text_chars)
        built = time.perf_counter() - started
        marker = MARKER.encode()
        print(f"{args.rows:,} rows ({args.resume_share:.0%} resume events, 3 x {args.text_chars} chars)")
        print(f"built in {built:.1f} s; file {database.stat().st_size / 2**20:.1f} MiB")
        print(f"erased user's text in the file's bytes before: {marker in database.read_bytes()}")
        started = time.perf_counter()
        with warehouse.connect(database) as conn:
            deleted = erase_from_tables(conn, victim())
        delete_seconds = time.perf_counter() - started
        print(f"delete + checkpoint: {delete_seconds:.2f} s, {sum(deleted.values())} rows deleted")
        print(f"erased user's text in the file's bytes after the delete: {marker in database.read_bytes()}")
        started = time.perf_counter()
        before, after = compact_database(database)
        compact_seconds = time.perf_counter() - started
        print(f"compaction: {compact_seconds:.2f} s, {before / 2**20:.1f} MiB -> {after / 2**20:.1f} MiB")
        print(f"erased user's text in the file's bytes after compaction: {marker in database.read_bytes()}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
