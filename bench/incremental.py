"""Full refresh vs one new month incrementally, on 60 months of history.

    .venv/bin/python -m bench.incremental                 # medium scale (--scale 4)
    .venv/bin/python -m bench.incremental --scale 0.2     # smaller, quicker
    .venv/bin/python -m bench.incremental --dsn postgresql://user:pw@host/db

Generates raw rows for 60 months (2020-01..2024-12) straight into the raw tables with
SQL ``generate_series`` (RU and KZ customs, Comtrade mirror rows of six reporters with
their probes, daily rail reports, port calls with cargo lines, and the
``raw.loaded_units`` rows the loaders would write), runs ``dbt seed`` (not timed), then
times (1) ``dbt run --full-refresh`` then ``dbt test`` and, after loading one more
month (2025-01) of every feed, (2) ``dbt run`` then ``dbt test``: models alone, tests
alone, and both (what the pipeline's ``dbt build --exclude resource_type:seed`` does,
plugins/corridor/transform.py). The window
(vars) is 2021-01..2025-01 throughout, so 2020 is the YoY base year. Prints both times
and the ratio, and the slowest nodes of the incremental run. One run; not a test.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
import uuid
from pathlib import Path

import psycopg

from corridor.config import PROJECT_DIR, WarehouseDsn
from corridor.reference import read_seed, reporters

DBT_PROJECT = PROJECT_DIR / "dbt_project"
RAW_SCHEMA = PROJECT_DIR / "plugins" / "corridor" / "load" / "raw_schema.sql"
HISTORY = [f"{y:04d}-{m:02d}" for y in range(2020, 2025) for m in range(1, 13)]
NEW_MONTH = "2025-01"
VARS = '{"period_from": "2021-01", "period_to": "2025-01"}'
COMTRADE_REPORTERS = [156, 792, 860, 31, 276, 112]  # CHN TUR UZB AZE DEU BLR

GENERATE = """
insert into raw.ru_customs_rows
    (period_month, revision, status, row_number, napr, period, strana, tnved, stoim, netto,
     region)
select m.pm, 1, 'final', g, case when g %% 3 = 0 then 'ИМ' else 'ЭК' end,
       substr(m.pm, 6, 2) || '/' || substr(m.pm, 1, 4),
       case when g %% 97 = 0 then 'XX'
            else (%(iso2)s::text[])[1 + (g * 31 + m.i) %% cardinality(%(iso2)s::text[])] end,
       lpad((1 + g %% 96)::text, 2, '0') || lpad(((g * 7 + m.i) %% 700)::text, 4, '0') || '0000',
       round(((g * 37 + m.i * 11) %% 100000)::numeric / 7, 2), (g * 13) %% 5000, '45000'
from unnest(%(months)s::text[]) with ordinality as m(pm, i), generate_series(1, %(ru)s) as g;

insert into raw.kz_customs_rows
    (period_month, revision, status, row_number, flow, tn_ved, partner_m49, value_thousand_usd,
     net_weight_t, transport_mode, customs_regime)
select m.pm, 1, 'final', g, case when g %% 2 = 0 then 'import' else 'export' end,
       lpad((1 + g %% 96)::text, 2, '0') || lpad(((g * 11 + m.i) %% 600)::text, 4, '0') || '0000',
       case when g %% 89 = 0 then '000'
            else (%(m49)s::text[])[1 + (g * 17 + m.i) %% cardinality(%(m49)s::text[])] end,
       round(((g * 53 + m.i) %% 90000)::numeric / 1000, 3), round((g %% 700)::numeric / 10, 3),
       'rail', '40'
from unnest(%(months)s::text[]) with ordinality as m(pm, i), generate_series(1, %(kz)s) as g;

insert into raw.comtrade_rows
    (reporter_code, period_month, row_number, flow_code, partner_code, partner2_code, cmd_code,
     aggr_level, is_leaf, mot_code, customs_code, cifvalue, fobvalue, primary_value, net_wgt,
     is_counted_leaf)
select r, m.pm, g, case when g %% 2 = 0 then 'M' else 'X' end,
       case when g %% 3 = 0 then 398 else 643 end, 0,
       lpad((1 + g %% 96)::text, 2, '0') || lpad(((g * 7) %% 700)::text, 4, '0'), 6, true, 0,
       'C00',
       case when g %% 2 = 0 and g %% 10 <> 0 then ((g * 29) %% 50000)::numeric / 4 end,
       ((g * 23) %% 50000)::numeric / 4, ((g * 29) %% 50000)::numeric / 4, g, true
from unnest(%(months)s::text[]) with ordinality as m(pm, i), unnest(%(reporters)s::int[]) as r,
     generate_series(1, %(comtrade)s) as g;

insert into raw.comtrade_reporting (reporter_code, period_month, has_reported, probe_rows)
select r, m.pm, true, 1
from unnest(%(months)s::text[]) as m(pm), unnest(%(reporters)s::int[]) as r;

insert into raw.rail_consignments
    (report_date, revision, row_number, point, partner_railway, direction, transit, gng, wagons,
     teu, tonnes, origin, destination)
select d::date, 1, g, (%(points)s::text[])[1 + g %% cardinality(%(points)s::text[])], 'KZH',
       case when g %% 2 = 0 then 'inbound' else 'outbound' end, g %% 5 = 0,
       lpad((1 + g %% 96)::text, 2, '0') || '000000', 1 + g %% 40, g %% 3, (g * 61) %% 3000, 'CN',
       'DE'
from unnest(%(months)s::text[]) as m(pm),
     generate_series(to_date(m.pm, 'YYYY-MM'),
                     to_date(m.pm, 'YYYY-MM') + interval '1 month' - interval '1 day',
                     interval '1 day') as d,
     generate_series(1, %(rail)s) as g;

insert into raw.port_calls (call_id, port, version, updated_at, status, arrived_at, departed_at)
select p || '-' || m.pm || '-' || lpad(g::text, 5, '0'), p, 1,
       m.pm || '-28T00:00:00+05:00', case when g %% 9 = 0 then 'at_berth' else 'departed' end,
       m.pm || '-' || lpad((1 + g %% 27)::text, 2, '0') || 'T08:00:00+05:00',
       case when g %% 9 <> 0
            then m.pm || '-' || lpad((1 + g %% 27)::text, 2, '0') || 'T20:30:00+05:00' end
from unnest(%(months)s::text[]) as m(pm), unnest(array['KZAAU', 'KZKUR']) as p,
     generate_series(1, %(calls)s) as g;

insert into raw.port_cargo_lines
    (call_id, version, line_number, operation, cargo_type, hs_chapter, tonnes, teu)
select p || '-' || m.pm || '-' || lpad(g::text, 5, '0'), 1, l,
       case when l = 1 then 'load' else 'discharge' end,
       (array['container', 'dry_bulk', 'liquid_bulk', 'general', 'ro_ro'])[1 + (g + l) %% 5],
       null, (g * 17 + l) %% 4000, case when (g + l) %% 5 = 0 then g %% 40 end
from unnest(%(months)s::text[]) as m(pm), unnest(array['KZAAU', 'KZKUR']) as p,
     generate_series(1, %(calls)s) as g, generate_series(1, 2) as l;

insert into raw.loaded_units
    (feed, unit, period_month, revision, status, sha256, rows_loaded, rows_rejected)
select f, m.pm, m.pm, 1, 'final', md5(f || m.pm), case f when 'ru_customs' then %(ru)s
                                                           else %(kz)s end, 0
from unnest(%(months)s::text[]) as m(pm), unnest(array['ru_customs', 'kz_customs']) as f
union all
select 'comtrade', r || ':' || m.pm, m.pm, null, 'final', md5(r || ':' || m.pm), %(comtrade)s, 0
from unnest(%(months)s::text[]) as m(pm), unnest(%(reporters)s::int[]) as r
union all
select 'rail', to_char(d, 'YYYY-MM-DD'), m.pm, 1, null, md5(d::text), %(rail)s, 0
from unnest(%(months)s::text[]) as m(pm),
     generate_series(to_date(m.pm, 'YYYY-MM'),
                     to_date(m.pm, 'YYYY-MM') + interval '1 month' - interval '1 day',
                     interval '1 day') as d;
"""


def _reference() -> dict[str, list]:
    partners = [row for row in read_seed("ref_countries") if row["iso3"] not in reporters()]
    iso2, m49 = [row["iso2"] for row in partners], [row["m49"] for row in partners]
    points = [row["point"] for row in read_seed("ref_rail_crossings")]
    # a realistic partner spread: ~60 partners per reporter
    return {"iso2": iso2[::4], "m49": m49[::4], "points": points}


def generate(dsn: WarehouseDsn, months: list[str], scale: float) -> dict[str, int]:
    sizes = {"ru": int(8000 * scale), "kz": int(4000 * scale),
             "comtrade": int(400 * scale), "rail": max(1, int(30 * scale)),
             "calls": max(1, int(60 * scale))}
    sql = GENERATE  # psycopg placeholders: a literal % is written %%
    with psycopg.connect(dsn.conninfo, autocommit=True) as conn:
        params = {**_reference(), **sizes, "months": months, "reporters": COMTRADE_REPORTERS}
        for statement in sql.split(";\n\n"):
            if statement.strip():
                conn.execute(statement, params)
        conn.execute("analyze")
    return sizes


def _dbt(dsn: WarehouseDsn, work: Path, *args: str) -> tuple[float, object]:
    from dbt.cli.main import dbtRunner

    os.environ.update(dsn.dbt_env())
    started = time.perf_counter()
    result = dbtRunner().invoke([
        *args, "--project-dir", str(DBT_PROJECT), "--profiles-dir", str(DBT_PROJECT),
        "--target-path", str(work / "target"), "--log-path", str(work / "logs"),
        "--vars", VARS, "--quiet"])
    elapsed = time.perf_counter() - started
    if not result.success:
        bad = [(r.node.name, str(r.status), r.message)
               for r in getattr(result.result, "results", None) or []
               if str(r.status).lower() not in ("success", "pass")]
        raise SystemExit(f"dbt {' '.join(args)} failed: {bad or result.exception}")
    return elapsed, result.result


def _slowest(results: object, n: int = 6) -> str:
    rows = sorted(((r.execution_time, r.node.name) for r in results.results), reverse=True)
    return ", ".join(f"{name} {seconds:.2f}s" for seconds, name in rows[:n])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scale", type=float, default=4.0,
                        help="row multiplier (1.0: RU 8k, KZ 4k, Comtrade 6x400 rows a month)")
    parser.add_argument("--dsn", help="PostgreSQL URI of a server to use (default: embedded)")
    parser.add_argument("--keep", action="store_true", help="keep the database (prints its name)")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="corridor-bench-") as tmp:
        if args.dsn:
            server = WarehouseDsn.from_uri(args.dsn)
        else:
            from corridor.warehouse import start_embedded

            print("starting an embedded PostgreSQL ...", flush=True)
            server = start_embedded(Path(tmp) / "pgdata")
        name = f"bench_incr_{uuid.uuid4().hex[:6]}"
        with psycopg.connect(server.conninfo, autocommit=True) as conn:
            conn.execute(f'create database "{name}"')
        dsn = WarehouseDsn(server.host, server.port, server.user, server.password, name)
        try:
            with psycopg.connect(dsn.conninfo, autocommit=True) as conn:
                conn.execute(RAW_SCHEMA.read_text())
            started = time.perf_counter()
            sizes = generate(dsn, HISTORY, args.scale)
            with psycopg.connect(dsn.conninfo) as conn:
                flows = conn.execute("select (select count(*) from raw.ru_customs_rows)"
                                     " + (select count(*) from raw.kz_customs_rows)").fetchone()[0]
                mirror = conn.execute("select count(*) from raw.comtrade_rows").fetchone()[0]
            print(f"generated {len(HISTORY)} months in {time.perf_counter() - started:.1f}s: "
                  f"{flows:,} customs rows, {mirror:,} Comtrade rows, "
                  f"{sizes['rail']} consignments/day, {2 * sizes['calls']} port calls/month",
                  flush=True)
            work = Path(tmp) / "dbt"
            _dbt(dsn, work, "seed")
            full_run, full_results = _dbt(dsn, work, "run", "--full-refresh")
            print(f"full refresh: {full_run:.2f}s; slowest models: {_slowest(full_results)}",
                  flush=True)
            full_test, _ = _dbt(dsn, work, "test")
            generate(dsn, [NEW_MONTH], args.scale)
            incr_run, results = _dbt(dsn, work, "run")
            incr_test, _ = _dbt(dsn, work, "test")
            full, incremental = full_run + full_test, incr_run + incr_test
            print(f"{'':34} {'full refresh':>12} {'+1 month':>10} {'ratio':>7}")
            print(f"{'models (dbt run)':34} {full_run:11.2f}s {incr_run:9.2f}s "
                  f"{incr_run / full_run:7.3f}   (target <= 0.15)")
            print(f"{'tests (dbt test)':34} {full_test:11.2f}s {incr_test:9.2f}s "
                  f"{incr_test / full_test:7.3f}")
            print(f"{'run + test (= the pipeline build)':34} {full:11.2f}s {incremental:9.2f}s "
                  f"{incremental / full:7.3f}   (target <= 0.35)")
            print(f"slowest models of the incremental run: {_slowest(results)}")
        finally:
            if args.keep:
                print(f"kept database {name}")
            else:
                with psycopg.connect(server.conninfo, autocommit=True) as conn:
                    conn.execute(f'drop database if exists "{name}" with (force)')


if __name__ == "__main__":
    main()
