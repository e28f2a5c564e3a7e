"""Load throughput of the ru_customs raw load against ``psql \\copy`` and pandas.

    .venv/bin/python -m bench.load_throughput --rows 1000000

Generates a synthetic RU customs CSV per size (streamed to a temp dir, see
bench/ru_csv.py), starts an embedded PostgreSQL (or uses ``--dsn``), then measures:

(a) Corridor's loader, ``raw.load_ru_customs_csv`` from the file (parse, validate,
    COPY, duplicate keys, commit: what ``ingest_ru_customs`` runs), in a child
    process per size so that its peak RSS is its own;
(b') ``psql \\copy`` into an IDENTICAL table: one created in a fresh database, after
    ``ensure_raw_schema``, with ``create table ... (like raw.ru_customs_rows including
    all)`` (same columns, types, defaults, constraints, indexes), from a file (PostgreSQL
    text format) that holds exactly the rows (a) ended with, in their columns
    (``ROW_COLUMNS``: period_month, revision, status, row_number, typed values). The
    file is exported once, untimed, from (a)'s database before it is dropped. This is
    the literal "``\\copy`` into an identical table" of the target: same rows, same
    table, same indexes, no parsing, validation, duplicates or rejections;
(b) ``psql \\copy`` of the delivered file itself into a table of the file's 10
    columns, all ``text`` (no decimal-comma conversion, no validation, no row
    numbers, no index): "file as text", a lower bound for any loader of this file;
(c) pandas ``read_csv`` + ``DataFrame.to_sql`` (SQLAlchemy, psycopg2, defaults) on a
    sample of the first ``--sample`` rows, rows/s extrapolated.

Each measurement loads into its own new database. Ratios of (a) are printed against
(b'), (b) and (c). Not a test: numbers vary by host.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import psycopg

from corridor.config import WarehouseDsn

PERIOD = "2024-01"
BESIDE_PERIOD = "2023-12"  # the second load's month (--beside)
DSN_ENV = "CORRIDOR_BENCH_DSN_URI"  # the child's DSN: never on a command line
CSV_TABLE_DDL = ("create table ru_customs_csv (napr text, period text, strana text, "
                 "tnved text, edizm text, stoim text, netto text, kol text, region text, "
                 "region_s text)")


def _dsn_uri(dsn: WarehouseDsn) -> str:
    from urllib.parse import quote

    return (f"postgresql://{quote(dsn.user, safe='')}:{quote(dsn.password, safe='')}@/"
            f"{dsn.dbname}?host={quote(dsn.host, safe='')}&port={dsn.port}")


def _with_db(dsn: WarehouseDsn, name: str) -> WarehouseDsn:
    return WarehouseDsn(dsn.host, dsn.port, dsn.user, dsn.password, name)


def _new_database(server: WarehouseDsn, label: str) -> WarehouseDsn:
    """A new database, after a CHECKPOINT: no measurement pays for an earlier one's
    dirty buffers and WAL (needs a superuser or pg_checkpoint; skipped otherwise)."""
    name = f"bench_{label}_{uuid.uuid4().hex[:6]}"
    with psycopg.connect(server.conninfo, autocommit=True) as conn:
        conn.execute(f'create database "{name}"')
        try:
            conn.execute("checkpoint")
        except psycopg.errors.InsufficientPrivilege:
            pass
    return _with_db(server, name)


def _drop_database(server: WarehouseDsn, dsn: WarehouseDsn) -> None:
    with psycopg.connect(server.conninfo, autocommit=True) as conn:
        conn.execute(f'drop database if exists "{dsn.dbname}" with (force)')


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


# ------------------------------------------------------------------- (a) the child

def child_load(path: Path) -> None:
    """Runs in the child: one load of ``path``; prints a JSON line."""
    import hashlib

    from corridor.load import raw

    dsn = WarehouseDsn.from_uri(os.environ[DSN_ENV])
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    with psycopg.connect(dsn.conninfo, autocommit=True) as conn:
        raw.ensure_raw_schema(conn)
        rss_before = _rss_mb()
        started = time.perf_counter()
        outcome = raw.load_ru_customs_csv(conn, path, PERIOD, 1, "final", digest.hexdigest())
        seconds = time.perf_counter() - started
    print(json.dumps({"seconds": seconds, "rows_loaded": outcome.rows_loaded,
                      "rows_rejected": outcome.rows_rejected, "rss_before_mb": rss_before,
                      "peak_rss_mb": _rss_mb()}))


def child_beside(path: Path) -> None:
    """Runs in the second-load child: loads ``path`` again and again (a new revision each
    time, so that none is skipped) until it is killed."""
    from corridor.load import raw

    dsn = WarehouseDsn.from_uri(os.environ[DSN_ENV])
    with psycopg.connect(dsn.conninfo, autocommit=True) as conn:
        raw.ensure_raw_schema(conn)
        for revision in itertools.count(1):
            raw.load_ru_customs_csv(conn, path, BESIDE_PERIOD, revision, "final", str(revision))


class Beside:
    """A second load running beside the measured one (``--beside``): the loader of (a) in
    a loop, into a database of its own, over a file of another month."""

    def __init__(self, server: WarehouseDsn, path: Path | None) -> None:
        self.server, self.path, self.child, self.dsn = server, path, None, None

    def __enter__(self) -> Beside:
        if self.path is not None:
            self.dsn = _new_database(self.server, "beside")
            env = {**os.environ, DSN_ENV: _dsn_uri(self.dsn)}
            self.child = subprocess.Popen(
                [sys.executable, "-m", "bench.load_throughput", "--child-beside",
                 str(self.path)], env=env, cwd=Path(__file__).resolve().parents[1])
            time.sleep(1.0)  # under way before the measurement starts
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self.child is not None:
            self.child.kill()
            self.child.wait()
            _drop_database(self.server, self.dsn)


def measure_corridor(server: WarehouseDsn, path: Path, export_to: Path | None = None
                     ) -> dict:
    """(a); with ``export_to``, then (untimed) the loaded rows to that file, in
    PostgreSQL's text format, columns ``ROW_COLUMNS``: the input of (b')."""
    from corridor.feeds.ru_customs import ROW_COLUMNS

    dsn = _new_database(server, "corridor")
    try:
        env = {**os.environ, DSN_ENV: _dsn_uri(dsn)}
        done = subprocess.run([sys.executable, "-m", "bench.load_throughput", "--child-load",
                               str(path)], env=env, check=True, capture_output=True,
                              text=True, cwd=Path(__file__).resolve().parents[1])
        result = json.loads(done.stdout.strip().splitlines()[-1])
        if export_to is not None:
            with psycopg.connect(dsn.conninfo) as conn, conn.cursor() as cur, \
                    open(export_to, "wb") as out, \
                    cur.copy(f"copy (select {', '.join(ROW_COLUMNS)} from raw.ru_customs_rows"
                             " order by row_number) to stdout (format text)") as copy:
                for block in copy:
                    out.write(block)
        return result
    finally:
        _drop_database(server, dsn)


# ---------------------------------------------------------------------- (b) \copy

def _psql() -> str:
    found = shutil.which("psql")
    if found:
        return found
    import pgserver

    return str(Path(pgserver.__file__).parent / "pginstall" / "bin" / "psql")


def _psql_copy(dsn: WarehouseDsn, command: str) -> float:
    """Seconds of one ``psql -c '\\copy ...'`` (client-side file, like a user would)."""
    env = {**os.environ, "PGHOST": dsn.host, "PGPORT": str(dsn.port), "PGUSER": dsn.user,
           "PGPASSWORD": dsn.password, "PGDATABASE": dsn.dbname}
    started = time.perf_counter()
    subprocess.run([_psql(), "-X", "-q", "-v", "ON_ERROR_STOP=1", "-c", command],
                   env=env, check=True)
    return time.perf_counter() - started


def measure_copy(server: WarehouseDsn, path: Path) -> dict:
    """(b): the delivered file into 10 text columns."""
    dsn = _new_database(server, "copy")
    try:
        with psycopg.connect(dsn.conninfo, autocommit=True) as conn:
            conn.execute(CSV_TABLE_DDL)
        seconds = _psql_copy(dsn, f"\\copy ru_customs_csv from '{path}' with (format csv, "
                                  "delimiter ';', header true, encoding 'WIN1251')")
        with psycopg.connect(dsn.conninfo) as conn:
            rows = conn.execute("select count(*) from ru_customs_csv").fetchone()[0]
        return {"seconds": seconds, "rows": rows}
    finally:
        _drop_database(server, dsn)


def measure_copy_identical(server: WarehouseDsn, rows_path: Path) -> dict:
    """(b'): (a)'s final rows into a table identical to ``raw.ru_customs_rows``."""
    from corridor.feeds.ru_customs import ROW_COLUMNS
    from corridor.load import raw

    dsn = _new_database(server, "copyid")
    try:
        with psycopg.connect(dsn.conninfo, autocommit=True) as conn:
            raw.ensure_raw_schema(conn)
            conn.execute("create table ru_customs_identical "
                          "(like raw.ru_customs_rows including all)")
        seconds = _psql_copy(dsn, f"\\copy ru_customs_identical ({', '.join(ROW_COLUMNS)}) "
                                  f"from '{rows_path}' with (format text, encoding 'UTF8')")
        with psycopg.connect(dsn.conninfo) as conn:
            rows = conn.execute("select count(*) from ru_customs_identical").fetchone()[0]
        return {"seconds": seconds, "rows": rows}
    finally:
        _drop_database(server, dsn)


# ---------------------------------------------------------------------- (c) pandas

def measure_pandas(server: WarehouseDsn, path: Path, sample: int) -> dict:
    import pandas as pd
    import sqlalchemy

    dsn = _new_database(server, "pandas")
    engine = sqlalchemy.create_engine(dsn.sqlalchemy_url)
    try:
        text_columns = {name: str for name in ("napr", "period", "strana", "tnved", "edizm",
                                               "region", "region_s")}
        started = time.perf_counter()
        frame = pd.read_csv(path, sep=";", encoding="windows-1251", decimal=",",
                            nrows=sample, dtype=text_columns)
        frame.to_sql("ru_customs_pandas", engine, index=False, if_exists="replace")
        seconds = time.perf_counter() - started
        return {"seconds": seconds, "rows": len(frame)}
    finally:
        engine.dispose()
        _drop_database(server, dsn)


# ------------------------------------------------------------------------- driver

def _data_rows(path: Path) -> int:
    with open(path, "rb") as handle:
        return sum(chunk.count(b"\n") for chunk in iter(lambda: handle.read(1 << 20), b"")) - 1


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000,
                        help="rows of the first size (the second is twice that)")
    parser.add_argument("--sizes", help="comma list of sizes, e.g. 1000000,2000000")
    parser.add_argument("--sample", type=int, default=50_000, help="rows for pandas")
    parser.add_argument("--dsn", help="PostgreSQL URI of a server to use (default: embedded)")
    parser.add_argument("--workdir", type=Path, help="where the CSVs go (default: a temp dir)")
    parser.add_argument("--dup-every", type=int, default=5000,
                        help="one duplicate-key pair per this many rows (0: none)")
    parser.add_argument("--repeat", type=int, default=3,
                        help="rounds of (a), (b'), (b) per size; each keeps its fastest")
    parser.add_argument("--beside", action="store_true",
                        help="a second load (the loader in a loop, 1M rows of another "
                             "month) runs beside every measurement")
    parser.add_argument("--child-load", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--child-beside", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child_load:
        child_load(args.child_load)
        return
    if args.child_beside:
        child_beside(args.child_beside)
        return

    sizes = ([int(s) for s in args.sizes.split(",")] if args.sizes
             else [args.rows, 2 * args.rows])
    from bench.ru_csv import write_ru_csv

    with tempfile.TemporaryDirectory(prefix="corridor-bench-") as tmp:
        workdir = args.workdir or Path(tmp)
        workdir.mkdir(parents=True, exist_ok=True)
        if args.dsn:
            server = WarehouseDsn.from_uri(args.dsn)
        else:
            from corridor.warehouse import start_embedded

            print("starting an embedded PostgreSQL ...", flush=True)
            server = start_embedded(Path(tmp) / "pgdata")
        with psycopg.connect(server.conninfo) as conn:
            version = conn.execute("show server_version").fetchone()[0]
        beside = None
        if args.beside:
            beside = write_ru_csv(workdir / "beside.csv", 1_000_000, BESIDE_PERIOD, seed=7,
                                  dup_every=args.dup_every)
        results = []
        for size in sizes:
            path = workdir / f"ru_customs_{size}.csv"
            started = time.perf_counter()
            write_ru_csv(path, size, PERIOD, dup_every=args.dup_every)
            print(f"generated {path.name}: {size:,} rows, {path.stat().st_size / 1e6:.0f} MB "
                  f"in {time.perf_counter() - started:.1f}s", flush=True)
            assert _data_rows(path) == size
            rows_path = workdir / f"ru_customs_{size}.rows.txt"
            # (a), (b'), (b) in turn, --repeat times: each keeps its fastest run (the
            # least disturbed by the host), and all three see the same host conditions.
            runs: dict[str, list[dict]] = {"corridor": [], "identical": [], "copy": []}
            for round_ in range(args.repeat):
                with Beside(server, beside):
                    runs["corridor"].append(measure_corridor(
                        server, path, export_to=rows_path if round_ == 0 else None))
                with Beside(server, beside):
                    runs["identical"].append(measure_copy_identical(server, rows_path))
                with Beside(server, beside):
                    runs["copy"].append(measure_copy(server, path))
                print(f"  {size:,} rows, round {round_ + 1}: corridor "
                      f"{runs['corridor'][-1]['seconds']:.2f}s, \\copy identical table "
                      f"{runs['identical'][-1]['seconds']:.2f}s, \\copy file as text "
                      f"{runs['copy'][-1]['seconds']:.2f}s", flush=True)
            rows_path.unlink()
            corridor, identical, copy = (min(runs[name], key=lambda run: run["seconds"])
                                         for name in ("corridor", "identical", "copy"))
            corridor["peak_rss_mb"] = max(run["peak_rss_mb"] for run in runs["corridor"])
            assert identical["rows"] == corridor["rows_loaded"], (identical, corridor)
            results.append((size, corridor, identical, copy))
        pandas_result = min((measure_pandas(server, workdir / f"ru_customs_{sizes[0]}.csv",
                                            args.sample) for _ in range(args.repeat)),
                            key=lambda run: run["seconds"])
    pandas_rate = pandas_result["rows"] / pandas_result["seconds"]

    print()
    print(f"PostgreSQL {version}; {os.cpu_count()} CPUs; Python {sys.version.split()[0]}"
          + ("; a second load running beside each measurement" if args.beside else ""))
    VS_IDENTICAL = "vs (b')"
    print(f"{'method':<44}{'rows':>11}{'seconds':>9}{'rows/s':>11}{VS_IDENTICAL:>8}"
          f"{'vs (b)':>8}{'vs to_sql':>10}{'peak RSS MB':>13}")
    for size, corridor, identical, copy in results:
        id_rate = identical["rows"] / identical["seconds"]
        copy_rate = copy["rows"] / copy["seconds"]
        rate = size / corridor["seconds"]  # rows of the file (loaded + rejected)
        lines = [("(a) corridor load_ru_customs_csv", size, corridor["seconds"], rate,
                  f"{corridor['peak_rss_mb']:.1f}"),
                 ("(b') \\copy into identical table (rows)", identical["rows"],
                  identical["seconds"], id_rate, ""),
                 ("(b) \\copy file as text, lower bound", copy["rows"], copy["seconds"],
                  copy_rate, "")]
        for label, rows, seconds, r, rss in lines:
            print(f"{label:<44}{rows:>11,}{seconds:>9.2f}{r:>11,.0f}{r / id_rate:>7.2f}x"
                  f"{r / copy_rate:>7.2f}x{r / pandas_rate:>9.1f}x{rss:>13}")
        print(f"{'':<6}corridor: {corridor['rows_loaded']:,} rows loaded, "
              f"{corridor['rows_rejected']:,} rejected; RSS {corridor['rss_before_mb']:.1f} MB "
              f"before the load, {corridor['peak_rss_mb']:.1f} MB peak")
    print(f"{'(c) pandas read_csv + to_sql':<44}{pandas_result['rows']:>11,}"
          f"{pandas_result['seconds']:>9.2f}{pandas_rate:>11,.0f}{'':>16}{1:>9.1f}x")
    print("ratios of (a): " + "; ".join(
        f"{size:,} rows: {size / c['seconds'] / (i['rows'] / i['seconds']):.2f}x (b'), "
        f"{size / c['seconds'] / (b['rows'] / b['seconds']):.2f}x (b), "
        f"{size / c['seconds'] / pandas_rate:.1f}x (c)" for size, c, i, b in results))
    if len(results) > 1:
        peaks = [corridor["peak_rss_mb"] for _, corridor, *_ in results]
        print("peak RSS of the loader: " + ", ".join(
            f"{size:,} rows → {peak:.1f} MB"
            for (size, *_), peak in zip(results, peaks, strict=True)))


if __name__ == "__main__":
    main()
