"""A load killed (SIGKILL) in the middle of its COPY leaves the previous revision;
a rerun then leaves exactly what a clean load of the new revision leaves."""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psycopg

from bench.ru_csv import write_ru_csv
from corridor.config import PROJECT_DIR, WarehouseDsn
from corridor.load import raw
from corridor.load.fingerprint import raw_fingerprint
from corridor.warehouse import embedded_uri

PERIOD = "2024-01"
LOADER = """
import hashlib, os, sys
from pathlib import Path
import psycopg
from corridor.config import WarehouseDsn
from corridor.load import raw
path = Path(sys.argv[1])
dsn = WarehouseDsn.from_uri(os.environ["DSN_URI"])
with psycopg.connect(dsn.conninfo, autocommit=True) as conn:
    raw.ensure_raw_schema(conn)
    raw.load_ru_customs_csv(conn, path, "2024-01", 2, "final",
                            hashlib.sha256(path.read_bytes()).hexdigest())
"""


def load(dsn: WarehouseDsn, path: Path, revision: int) -> raw.LoadOutcome:
    with psycopg.connect(dsn.conninfo, autocommit=True) as conn:
        raw.ensure_raw_schema(conn)
        return raw.load_ru_customs_csv(conn, path, PERIOD, revision, "final",
                                       hashlib.sha256(path.read_bytes()).hexdigest())


def fingerprint(dsn: WarehouseDsn) -> dict[str, tuple[int, str]]:
    with psycopg.connect(dsn.conninfo, autocommit=True) as conn:
        return raw_fingerprint(conn)


def copy_in_progress(monitor: psycopg.Connection) -> int | None:
    """Tuples the loader's COPY of the file has sent so far (None: no COPY): any COPY
    FROM of another backend in this database counts."""
    row = monitor.execute(
        """
        select max(p.tuples_processed) from pg_stat_progress_copy p
        where p.datid = (select oid from pg_database where datname = current_database())
          and p.command = 'COPY FROM' and p.pid <> pg_backend_pid()
        having count(*) > 0
        """).fetchone()
    return row[0] if row else None


def test_sigkill_mid_copy_then_rerun(fresh_database, other_database, tmp_path):
    revision_1 = write_ru_csv(tmp_path / "r1.csv", 2_000, PERIOD, seed=1)
    revision_2 = write_ru_csv(tmp_path / "r2.csv", 300_000, PERIOD, seed=2)
    load(fresh_database, revision_1, 1)
    before = fingerprint(fresh_database)
    assert before["raw.ru_customs_rows"][0] > 1_900

    env = {**os.environ, "DSN_URI": embedded_uri(fresh_database)}
    child = subprocess.Popen([sys.executable, "-c", LOADER, str(revision_2)], env=env,
                             cwd=PROJECT_DIR)
    killed_at = None
    try:
        with psycopg.connect(fresh_database.conninfo, autocommit=True) as monitor:
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline and child.poll() is None:
                sent = copy_in_progress(monitor)
                if sent is not None and sent >= 30_000:
                    child.send_signal(signal.SIGKILL)
                    killed_at = sent
                    break
                time.sleep(0.005)
            child.wait(timeout=30)
            assert killed_at is not None, "the load ended before it could be killed mid-COPY"
            assert child.returncode == -signal.SIGKILL
            # The server notices the dead client and rolls its transaction back.
            while time.monotonic() < deadline:
                others = monitor.execute(
                    "select count(*) from pg_stat_activity where datname = current_database()"
                    " and pid <> pg_backend_pid()").fetchone()[0]
                if others == 0:
                    break
                time.sleep(0.05)
            assert others == 0
    finally:
        if child.poll() is None:
            child.kill()

    assert fingerprint(fresh_database) == before  # the old revision, whole

    rerun = load(fresh_database, revision_2, 2)
    clean = load(other_database, revision_2, 2)
    assert rerun.loaded and (rerun.rows_loaded, rerun.rows_rejected) == (
        clean.rows_loaded, clean.rows_rejected)
    after = fingerprint(fresh_database)
    assert after == fingerprint(other_database)
    assert after["raw.ru_customs_rows"][0] == clean.rows_loaded > 290_000
    assert after["raw.loaded_units"] != before["raw.loaded_units"]
