"""Issue 13's design (b), measured, not used: COPY every record into a temporary table
of text columns, then the rules and the duplicate keys in one ``INSERT ... SELECT``.

    .venv/bin/python -m bench.ru_in_sql --rows 1000000 --repeat 2

Per round, in a new database of an embedded PostgreSQL (or ``--dsn``): (b) ``COPY ...
(format csv, delimiter ';', header, encoding 'WIN1251')`` of the delivered file into a
temporary table, one statement (rules as SQL expressions, duplicate keys by a hash
group-by joined back, accepted rows into ``raw.ru_customs_rows``, the others into
``raw.rejected_rows``), commit; then (b') the same rows COPYed (text format) into a table
identical to ``raw.ru_customs_rows``, and ``INSERT ... SELECT`` with the casts alone (no
rules): the statement's floor. The rejections' messages are not the loader's (SQL has
no ``_row``) and a record of another field count fails the COPY: a prototype.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import psycopg

from bench.ru_csv import write_ru_csv
from corridor.config import WarehouseDsn
from corridor.load import raw
from corridor.reference import iso2_codes

TEXT_TABLE = ("create temp table ru_in (napr text, period text, strana text, tnved text, "
              "edizm text, stoim text, netto text, kol text, region text, region_s text)")
NUMBER = "'^[0-9]+([,.][0-9]*)?$'"
RULES = f"""
with src as materialized (
  select rn, n.*, case
    when '' in (n.napr, n.period, n.strana, n.tnved, n.stoim, n.netto) then 'missing_field'
    when n.napr not in ('ИМ', 'ЭК') then 'unparsable'
    when n.period !~ '^(0[1-9]|1[0-2])/[0-9]{{4}}$' then 'unparsable'
    when n.strana = 'RU' then 'self_partner'
    when not n.strana = any(%(partners)s::text[]) then 'unknown_partner'
    when n.tnved !~ '^[0-9]{{10}}$' then 'bad_code_length'
    when n.stoim like '-%%' or n.netto like '-%%' or n.kol like '-%%' then 'negative_value'
    when n.stoim !~ {NUMBER} or n.netto !~ {NUMBER} or (n.kol <> '' and n.kol !~ {NUMBER})
      then 'unparsable'
    when n.period <> %(period)s then 'period_mismatch' end as reason
  from (select row_number() over () as rn, * from ru_in) r, lateral (select
    coalesce(btrim(r.napr), '') napr, coalesce(btrim(r.period), '') period,
    coalesce(upper(btrim(r.strana)), '') strana, coalesce(btrim(r.tnved), '') tnved,
    coalesce(btrim(r.edizm), '') edizm, coalesce(btrim(r.stoim), '') stoim,
    coalesce(btrim(r.netto), '') netto, coalesce(btrim(r.kol), '') kol,
    coalesce(btrim(r.region), '') region, coalesce(btrim(r.region_s), '') region_s) n
), dup as (
  select napr, strana, tnved, region from src group by 1, 2, 3, 4 having count(*) > 1
), k as (
  select s.*, d.napr is not null as duplicate
  from src s left join dup d using (napr, strana, tnved, region)
), ok as (
  insert into raw.ru_customs_rows (period_month, revision, status, row_number, napr, period,
                                   strana, tnved, edizm, stoim, netto, kol, region, region_s)
  select %(month)s, 1, 'final', rn, napr, period, strana, tnved, nullif(edizm, ''),
         replace(stoim, ',', '.')::numeric, replace(netto, ',', '.')::numeric,
         nullif(replace(kol, ',', '.'), '')::numeric, nullif(region, ''), nullif(region_s, '')
  from k where reason is null and not duplicate returning 1
)
insert into raw.rejected_rows (feed, unit, row_ref, reason, detail, raw_record)
select 'ru_customs', %(month)s, rn::text, coalesce(reason, 'duplicate_key'),
       'ru_customs ' || %(month)s || ': row ' || rn || ': ' || coalesce(reason, 'duplicate'),
       concat_ws(';', napr, period, strana, tnved, edizm, stoim, netto, kol, region, region_s)
from k where reason is not null or duplicate
"""
COLUMNS = ("period_month, revision, status, row_number, napr, period, strana, tnved, edizm, "
           "stoim, netto, kol, region, region_s")
CASTS_ONLY = f"""
insert into ru_identical ({COLUMNS})
select '2024-01', 1, 'final', row_number() over (), napr, period, strana, tnved,
       nullif(edizm, ''), replace(stoim, ',', '.')::numeric, replace(netto, ',', '.')::numeric,
       nullif(replace(kol, ',', '.'), '')::numeric, nullif(region, ''), nullif(region_s, '')
from ru_in where stoim ~ {NUMBER} and netto ~ {NUMBER}
"""


def _timed(action) -> float:
    started = time.perf_counter()
    action()
    return time.perf_counter() - started


def one_round(server: WarehouseDsn, path: Path) -> dict[str, float]:
    name = f"bench_sql_{time.monotonic_ns()}"
    with psycopg.connect(server.conninfo, autocommit=True) as admin:
        admin.execute(f'create database "{name}"')
    dsn = WarehouseDsn(server.host, server.port, server.user, server.password, name)
    out: dict[str, float] = {}
    try:
        with psycopg.connect(dsn.conninfo, autocommit=True) as conn:
            raw.ensure_raw_schema(conn)
            conn.execute("create table ru_identical (like raw.ru_customs_rows including all)")
            conn.execute("checkpoint")

            def copy_raw(cur: psycopg.Cursor) -> None:
                with cur.copy("copy ru_in from stdin (format csv, delimiter ';', header, "
                              "encoding 'WIN1251')") as copy, open(path, "rb") as handle:
                    while chunk := handle.read(1 << 20):
                        copy.write(chunk)

            started = time.perf_counter()
            with conn.transaction(), conn.cursor() as cur:
                cur.execute(TEXT_TABLE + " on commit drop")
                out["raw COPY"] = _timed(lambda: copy_raw(cur))
                cur.execute("set local work_mem = '256MB'")
                out["statement"] = _timed(lambda: cur.execute(RULES, {
                    "partners": sorted(iso2_codes() - {"RU"}), "period": "01/2024",
                    "month": "2024-01"}))
            out["(b) total"] = time.perf_counter() - started
            rows = bytearray()
            with conn.cursor().copy(f"copy (select {COLUMNS} from raw.ru_customs_rows order "
                                    "by row_number) to stdout") as copy:
                for block in copy:
                    rows += block
            conn.execute("checkpoint")
            started = time.perf_counter()
            with conn.transaction(), conn.cursor() as cur, \
                    cur.copy(f"copy ru_identical ({COLUMNS}) from stdin") as copy:
                for at in range(0, len(rows), 1 << 20):
                    copy.write(rows[at:at + (1 << 20)])
            out["(b') COPY"] = time.perf_counter() - started
            conn.execute("truncate ru_identical")
            conn.execute("checkpoint")
            with conn.transaction(), conn.cursor() as cur:
                cur.execute(TEXT_TABLE + " on commit drop")
                copy_raw(cur)
                out["casts only"] = _timed(lambda: cur.execute(CASTS_ONLY))
    finally:
        with psycopg.connect(server.conninfo, autocommit=True) as admin:
            admin.execute(f'drop database if exists "{name}" with (force)')
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--dsn", help="PostgreSQL URI of a server to use (default: embedded)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="corridor-bench-") as tmp:
        path = write_ru_csv(Path(tmp) / "ru.csv", args.rows)
        if args.dsn:
            server = WarehouseDsn.from_uri(args.dsn)
        else:
            from corridor.warehouse import start_embedded

            server = start_embedded(Path(tmp) / "pgdata")
        for round_ in range(args.repeat):
            out = one_round(server, path)
            baseline = out["(b') COPY"]
            print(f"round {round_ + 1}: " + ", ".join(f"{k} {v:.2f}s" for k, v in out.items())
                  + f"; (b')/(b) {baseline / out['(b) total']:.2f}x, (b')/casts only "
                  f"{baseline / out['casts only']:.2f}x", flush=True)

if __name__ == "__main__":
    main()
