"""Incremental facts: an incremental run after new, revised and vanished units gives the
same marts as a full refresh, and leaves the untouched periods' rows alone.

Two fresh databases get the same raw data (tests/dbt/raw_fixture.sql plus a year of
RU months): A is built, then the raw changes are applied to both, A is rebuilt
incrementally and B with ``--full-refresh``; every mart and incremental model must hold
identical rows. Then the window (vars) moves and the same comparison is repeated, then
the reference countries change, then a build stops halfway, and last a warehouse built
by the fingerprint framework (period_fingerprint columns, no build record) is upgraded.
"""

from __future__ import annotations

from pathlib import Path

import psycopg
import pytest

from corridor.config import PROJECT_DIR, WarehouseDsn
from corridor.load.fingerprint import table_fingerprint

DBT_PROJECT = PROJECT_DIR / "dbt_project"
RAW_SCHEMA = PROJECT_DIR / "plugins" / "corridor" / "load" / "raw_schema.sql"
RAW_FIXTURE = Path(__file__).with_name("raw_fixture.sql")
VARS = '{period_from: "2024-01", period_to: "2024-12"}'
VARS_MOVED = '{period_from: "2024-02", period_to: "2024-12"}'

# RU months 2024-02..2024-11 and YoY bases 2023-02..2023-06, on top of the fixture
HISTORY = """
insert into raw.loaded_units
    (feed, unit, period_month, revision, status, sha256, rows_loaded, rows_rejected)
select 'ru_customs', m, m, 1, 'final', 'sha-' || m, 2, 0
from generate_series(date '2024-02-01', date '2024-11-01', interval '1 month') as d,
     lateral (select to_char(d, 'YYYY-MM') as m) as x
union all
select 'ru_customs', m, m, 1, 'final', 'sha-' || m, 1, 0
from generate_series(date '2023-02-01', date '2023-06-01', interval '1 month') as d,
     lateral (select to_char(d, 'YYYY-MM') as m) as x;

insert into raw.ru_customs_rows
    (period_month, revision, status, row_number, napr, period, strana, tnved, stoim, netto,
     region)
select m, 1, 'final', n, case n when 1 then 'ЭК' else 'ИМ' end,
       substr(m, 6, 2) || '/' || substr(m, 1, 4), case n when 1 then 'CN' else 'KZ' end,
       case n when 1 then '2709009001' else '0101210000' end,
       100 + extract(month from d)::integer * 1.25 + n, 10, '45000'
from generate_series(date '2024-02-01', date '2024-11-01', interval '1 month') as d,
     lateral (select to_char(d, 'YYYY-MM') as m) as x,
     generate_series(1, 2) as n
union all
select m, 1, 'final', 1, 'ЭК', substr(m, 6, 2) || '/' || substr(m, 1, 4), 'CN',
       '2709009001', 90 + extract(month from d)::integer, 10, '45000'
from generate_series(date '2023-02-01', date '2023-06-01', interval '1 month') as d,
     lateral (select to_char(d, 'YYYY-MM') as m) as x;
"""

CHANGES = """
-- a new month, RU 2024-12: completes the year 2024 (annual cells appear)
insert into raw.loaded_units
    (feed, unit, period_month, revision, status, sha256, rows_loaded, rows_rejected)
values ('ru_customs', '2024-12', '2024-12', 1, 'preliminary', 'sha-2024-12', 2, 0);
insert into raw.ru_customs_rows
    (period_month, revision, status, row_number, napr, period, strana, tnved, stoim, netto,
     region) values
    ('2024-12', 1, 'preliminary', 1, 'ЭК', '12/2024', 'CN', '2709009001', 700.10, 10, '45000'),
    ('2024-12', 1, 'preliminary', 2, 'ИМ', '12/2024', 'KZ', '0101210000', 20.30, 10, '45000');

-- a revision, RU 2024-01 revision 3: one value changed, one row gone
update raw.ru_customs_rows set revision = 3 where period_month = '2024-01';
update raw.ru_customs_rows set stoim = 1100.75 where period_month = '2024-01' and row_number = 1;
delete from raw.ru_customs_rows where period_month = '2024-01' and row_number = 7;
update raw.loaded_units set revision = 3, sha256 = 'sha-2024-01-r3', rows_loaded = 6
where feed = 'ru_customs' and unit = '2024-01';

-- a revised YoY base, RU 2023-03 (same revision, new content)
update raw.ru_customs_rows set stoim = 55.55 where period_month = '2023-03';
update raw.loaded_units set sha256 = 'sha-2023-03-b'
where feed = 'ru_customs' and unit = '2023-03';

-- a vanished unit: KZ 2024-01
delete from raw.kz_customs_rows where period_month = '2024-01';
delete from raw.loaded_units where feed = 'kz_customs' and unit = '2024-01';

-- China reports 2024-02 to Comtrade
insert into raw.comtrade_reporting (reporter_code, period_month, has_reported, probe_rows)
values (156, '2024-02', true, 1);
insert into raw.loaded_units
    (feed, unit, period_month, revision, status, sha256, rows_loaded, rows_rejected)
values ('comtrade', '156:2024-02', '2024-02', null, 'final', 'sha-156-2024-02', 1, 0);
insert into raw.comtrade_rows
    (reporter_code, period_month, row_number, flow_code, partner_code, partner2_code, cmd_code,
     aggr_level, is_leaf, mot_code, customs_code, cifvalue, fobvalue, primary_value, net_wgt,
     is_counted_leaf) values
    (156, '2024-02', 1, 'M', 643, 0, '270900', 6, true, 0, 'C00', 321.00, null, 321.00, 5, true);
"""

INCREMENTAL_MODELS = [
    ("intermediate", "int_trade_flows_harmonised"),
    ("intermediate", "int_trade_cells_aggregated"),
    ("intermediate", "int_mirror_flows_unioned"),
    ("intermediate", "int_mirror_cells_aggregated"),
]


def _build(dsn: WarehouseDsn, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
           variables: str, *extra: str, seeds: bool = True) -> None:
    from dbt.cli.main import dbtRunner

    for name, value in dsn.dbt_env().items():
        monkeypatch.setenv(name, value)
    work = tmp_path / dsn.dbname
    result = dbtRunner().invoke([
        # unit tests are another test's business (tests/dbt/test_dbt_build.py)
        "build", *extra, "--exclude", "resource_type:unit_test",
        *([] if seeds else ["resource_type:seed"]),
        "--project-dir", str(DBT_PROJECT), "--profiles-dir", str(DBT_PROJECT),
        "--target-path", str(work / "target"), "--log-path", str(work / "logs"),
        "--vars", variables])
    assert result.success, result.exception or [
        (r.node.name, str(r.status), r.message)
        for r in getattr(result.result, "results", None) or []
        if str(r.status).lower() not in ("success", "pass")
    ]


def _execute(dsn: WarehouseDsn, *scripts: str) -> None:
    with psycopg.connect(dsn.conninfo, autocommit=True) as conn:
        for script in scripts:
            conn.execute(script)


#: The incremental models' bookkeeping column, never compared.
INCREMENTAL_BOOKKEEPING = frozenset({"period_fingerprint"})


def _digests(dsn: WarehouseDsn) -> dict[str, tuple[int, str]]:
    """(rows, md5 of the sorted rows) of every mart and incremental model, without the
    period_fingerprint bookkeeping column (it includes loaded_at where sha256 is null)."""
    out: dict[str, tuple[int, str]] = {}
    with psycopg.connect(dsn.conninfo) as conn:
        tables = conn.execute(
            "select table_schema, table_name from information_schema.tables"
            " where table_schema = 'marts' order by 2").fetchall()
        assert {name for _, name in tables} >= {"ind_bilateral_trade", "ind_corridor_logistics",
                                                 "fct_trade_flows", "fct_mirror_flows"}
        for schema, table in [*tables, *INCREMENTAL_MODELS]:
            out[f"{schema}.{table}"] = table_fingerprint(conn, schema, table,
                                                         volatile=INCREMENTAL_BOOKKEEPING)
    return out


def _xmins(dsn: WarehouseDsn, table: str, where: str) -> set[str]:
    with psycopg.connect(dsn.conninfo) as conn:
        return {r[0] for r in conn.execute(f"select xmin::text from {table} where {where}")}


def test_incremental_run_equals_full_refresh(fresh_database: WarehouseDsn,
                                             other_database: WarehouseDsn, tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    incremental, full = fresh_database, other_database
    for dsn in (incremental, full):
        _execute(dsn, RAW_SCHEMA.read_text(), RAW_FIXTURE.read_text(), HISTORY)

    _build(incremental, tmp_path, monkeypatch, VARS)
    flows = "intermediate.int_trade_flows_harmonised"
    untouched = "period_month in ('2024-05', '2024-06')"
    xmin_untouched = _xmins(incremental, flows, untouched)
    xmin_revised = _xmins(incremental, flows, "period_month = '2024-01'")
    assert xmin_untouched and xmin_revised

    _execute(incremental, CHANGES)
    _execute(full, CHANGES)
    _build(incremental, tmp_path, monkeypatch, VARS)
    _build(full, tmp_path, monkeypatch, VARS, "--full-refresh")

    # only the affected periods were rebuilt
    assert _xmins(incremental, flows, untouched) == xmin_untouched
    assert _xmins(incremental, flows, "period_month = '2024-01'").isdisjoint(xmin_revised)

    got, want = _digests(incremental), _digests(full)
    assert got == want
    with psycopg.connect(incremental.conninfo) as conn:
        # the changes reached the marts: annual 2024 cells, the revision, the vanished unit
        assert conn.execute(
            "select count(*) from marts.ind_bilateral_trade where freq = 'A'"
            " and ref_area = 'RUS' and time_period = '2024'").fetchone()[0] > 0
        assert conn.execute(
            "select obs_value from marts.ind_bilateral_trade where freq = 'M' and ref_area = 'RUS'"
            " and counterpart_area = 'CHN' and indicator = 'X_USD' and commodity = '_T'"
            " and time_period = '2024-01'").fetchone()[0] == 1100.75
        assert conn.execute(
            "select count(*) from marts.fct_trade_flows where source_feed = 'kz_customs'"
        ).fetchone()[0] == 0
        assert conn.execute(
            "select count(*) from marts.fct_mirror_flows where period_month = '2024-02'"
            " and mirror_source_feed = 'comtrade'").fetchone()[0] == 1

    # a moved window: months leave the published window and the ingest window
    _build(incremental, tmp_path, monkeypatch, VARS_MOVED)
    _build(full, tmp_path, monkeypatch, VARS_MOVED, "--full-refresh")
    assert _digests(incremental) == _digests(full)
    with psycopg.connect(incremental.conninfo) as conn:
        assert conn.execute(
            "select count(*) from intermediate.int_trade_flows_harmonised"
            " where period_month < '2023-02'").fetchone()[0] == 0

    # reference data changed (as a re-seeded, edited seed would): the facts built from it
    # rebuild like a full refresh (the fingerprints include a digest of ref_countries)
    recode = "update reference.ref_countries set iso3 = 'CHX' where iso2 = 'CN'"
    _execute(incremental, recode)
    _execute(full, recode)
    _build(incremental, tmp_path, monkeypatch, VARS_MOVED, seeds=False)
    _build(full, tmp_path, monkeypatch, VARS_MOVED, "--full-refresh", seeds=False)
    assert _digests(incremental) == _digests(full)
    with psycopg.connect(incremental.conninfo) as conn:
        assert conn.execute(
            "select count(*) from marts.fct_trade_flows where partner_iso3 = 'CHX'"
        ).fetchone()[0] > 0

    # a build that stopped after int_trade_flows_harmonised (killed, or a model failed):
    # the record of the last complete build stays, so the next build rebuilds the same
    # months, even one whose inputs went back to the recorded ones meanwhile
    flip = ("update raw.loaded_units set rows_loaded = rows_loaded + 1"
            " where feed = 'ru_customs' and unit = '2024-06'")
    unflip = flip.replace("+ 1", "- 1")
    for dsn in (incremental, full):
        _execute(dsn, flip, "update raw.ru_customs_rows set stoim = stoim + 1"
                            " where period_month = '2024-06'")
    _build(incremental, tmp_path, monkeypatch, VARS_MOVED, "--select",
           "int_periods_changed", "int_trade_flows_harmonised", seeds=False)
    for dsn in (incremental, full):
        _execute(dsn, unflip, "update raw.ru_customs_rows set stoim = stoim - 1"
                              " where period_month = '2024-06'")
    _build(incremental, tmp_path, monkeypatch, VARS_MOVED, seeds=False)
    _build(full, tmp_path, monkeypatch, VARS_MOVED, "--full-refresh", seeds=False)
    assert _digests(incremental) == _digests(full)

    # a warehouse built by the fingerprint framework (a period_fingerprint column on the
    # facts, no record of a build): the next run rebuilds every month and drops the column
    legacy = [*INCREMENTAL_MODELS, ("marts", "fct_trade_flows"), ("marts", "fct_mirror_flows")]
    _execute(incremental, "drop table intermediate.int_period_inputs_recorded",
             *(f"alter table {schema}.{table} add column period_fingerprint text"
               for schema, table in legacy))
    _build(incremental, tmp_path, monkeypatch, VARS_MOVED, seeds=False)
    assert _digests(incremental) == _digests(full)
    with psycopg.connect(incremental.conninfo) as conn:
        assert conn.execute(
            "select count(*) from information_schema.columns"
            " where column_name = 'period_fingerprint'").fetchone()[0] == 0
    # a table dbt has just created (full refresh) has exactly the index of its `indexes`
    # config, on its period
    with psycopg.connect(full.conninfo) as conn:
        for schema, table in legacy:
            definitions = [r[0] for r in conn.execute(
                "select indexdef from pg_indexes where schemaname = %s and tablename = %s",
                (schema, table))]
            assert len(definitions) == 1, (table, definitions)
            assert definitions[0].endswith(("(period_month)", "(time_period, freq)")), definitions
