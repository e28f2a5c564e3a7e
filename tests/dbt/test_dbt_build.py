"""Build the dbt project on a fresh database from a hand-made raw fixture and check
published values worked out by hand (tests/dbt/raw_fixture.sql)."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import psycopg
import pytest

from corridor.config import PROJECT_DIR, WarehouseDsn
from corridor.roles import init_warehouse
from tests.databases import ROLE_PASSWORDS, as_role

DBT_PROJECT = PROJECT_DIR / "dbt_project"
RAW_SCHEMA = PROJECT_DIR / "plugins" / "corridor" / "load" / "raw_schema.sql"
RAW_FIXTURE = Path(__file__).with_name("raw_fixture.sql")
VARS = '{period_from: "2024-01", period_to: "2024-12"}'


@pytest.fixture()
def built_warehouse(fresh_database: WarehouseDsn, tmp_path: Path,
                    monkeypatch: pytest.MonkeyPatch) -> WarehouseDsn:
    from dbt.cli.main import dbtRunner

    init_warehouse(fresh_database, ROLE_PASSWORDS)
    with psycopg.connect(fresh_database.conninfo, autocommit=True) as conn:
        conn.execute(RAW_SCHEMA.read_text())
        conn.execute(RAW_FIXTURE.read_text())

    # dbt as it runs in the transform: the transformer role (corridor.roles)
    for name, value in as_role(fresh_database, "transformer").dbt_env().items():
        monkeypatch.setenv(name, value)
    common = ["--project-dir", str(DBT_PROJECT), "--profiles-dir", str(DBT_PROJECT),
              "--target-path", str(tmp_path / "target"), "--log-path", str(tmp_path / "logs")]
    # build runs the seeds, models, unit tests and data tests in DAG order
    result = dbtRunner().invoke(["build", *common, "--vars", VARS])
    assert result.success, result.exception or [
        (r.node.name, str(r.status), r.message)
        for r in getattr(result.result, "results", None) or []
        if str(r.status).lower() not in ("success", "pass")
    ]
    return fresh_database


def _bilateral(conn: psycopg.Connection) -> dict[tuple, tuple[Decimal, str]]:
    rows = conn.execute(
        "select freq, ref_area, counterpart_area, indicator, commodity, time_period,"
        " obs_value, obs_status from marts.ind_bilateral_trade").fetchall()
    return {tuple(r[:6]): (r[6], r[7]) for r in rows}


def _logistics(conn: psycopg.Connection) -> dict[tuple, tuple[Decimal, str]]:
    rows = conn.execute(
        "select freq, node, indicator, direction, cargo, time_period, obs_value, obs_status"
        " from marts.ind_corridor_logistics").fetchall()
    return {tuple(r[:6]): (r[6], r[7]) for r in rows}


def test_dbt_build_publishes_hand_computed_values(built_warehouse: WarehouseDsn) -> None:
    with psycopg.connect(built_warehouse.conninfo) as conn:
        bt = _bilateral(conn)
        lg = _logistics(conn)
        columns = conn.execute(
            "select table_name, string_agg(column_name || ' ' || data_type, ', '"
            " order by ordinal_position) from information_schema.columns"
            " where table_schema = 'marts' and table_name like 'ind_%' group by 1").fetchall()

    assert dict(columns) == {
        "ind_bilateral_trade": "freq text, ref_area text, counterpart_area text, indicator text, "
        "commodity text, time_period text, obs_value numeric, unit_measure text, obs_status text",
        "ind_corridor_logistics": "freq text, node text, indicator text, direction text, "
        "cargo text, time_period text, obs_value numeric, unit_measure text, obs_status text",
    }

    def b(ref, cp, ind, t="2024-01", com="_T", freq="M"):
        return bt.get((freq, ref, cp, ind, com, t))

    # W00 includes the undisclosed partner (XX, 300.00); the rejected -5000 row is absent
    assert b("RUS", "W00", "X_USD") == (Decimal("1460.50"), "A")
    assert b("RUS", "W00", "M_USD") == (Decimal("600.25"), "A")
    assert b("RUS", "W00", "TURNOVER_USD") == (Decimal("2060.75"), "A")
    assert b("RUS", "W00", "BALANCE_USD") == (Decimal("860.25"), "A")
    assert b("RUS", "CHN", "X_USD") == (Decimal("1000.50"), "A")
    assert not any(key[2] in ("_X", "XX") for key in bt)
    # KZ thousand USD x 1000, exact; KZ month preliminary -> P
    assert b("KAZ", "W00", "X_USD") == (Decimal("2901.00"), "P")
    assert b("KAZ", "W00", "M_USD") == (Decimal("12355.00"), "P")  # incl. undisclosed '000'
    assert b("KAZ", "AZE", "X_USD") == (Decimal("2500.00"), "P")  # M49 '031'
    # partners only where X > 0 or M > 0; chapter cells only where the flow > 0
    assert b("RUS", "KAZ", "X_USD") == (Decimal("0.00"), "A")
    assert b("RUS", "CHN", "M_USD", com="27") is None
    assert b("RUS", "W00", "X_USD", com="27") == (Decimal("1050.50"), "A")
    # mirror: RUS-KAZ from the other national feed, status of that feed only
    assert b("RUS", "KAZ", "MIRROR_X_USD") == (Decimal("12345.00"), "P")
    assert b("KAZ", "RUS", "MIRROR_X_USD") == (Decimal("400.00"), "A")
    # Comtrade: counted leaves only, cifvalue as reported (not divided by 1.06)
    assert b("RUS", "CHN", "MIRROR_X_USD") == (Decimal("1050.00"), "A")
    assert b("RUS", "AZE", "MIRROR_X_USD") == (Decimal("9.50"), "A")  # fobvalue, cif null
    # reported but no rows for RUS -> 0 published; not reported -> omitted
    assert b("RUS", "UZB", "MIRROR_X_USD") == (Decimal("0.00"), "A")
    assert b("RUS", "TUR", "MIRROR_X_USD") is None
    assert b("RUS", "TUR", "X_USD") == (Decimal("100.00"), "A")
    # YoY: base 2023-01 exports 800.00, imports 0 (M YoY omitted)
    assert b("RUS", "CHN", "X_YOY_PCT") == (Decimal("25.0625"), "A")
    assert b("RUS", "CHN", "M_YOY_PCT") is None
    # ASYM on FOB basis: 100 (1000.50 - 1050/1.06) / ((1000.50 + 1050/1.06) / 2)
    assert b("RUS", "CHN", "ASYM_X_PCT") == (Decimal("0.9979"), "A")
    # no year has 12 loaded customs months: no annual bilateral values
    assert not any(key[0] == "A" for key in bt)

    def g(node, ind, t, direction="_T", cargo="_T", freq="M"):
        return lg.get((freq, node, ind, direction, cargo, t))

    # 20:30 UTC on 31 Jan = 01:30 on 1 Feb at Aktau (UTC+5): a February call
    assert g("KZAAU", "PORT_CALLS", "2024-01") == (Decimal("1"), "P")  # at berth
    assert g("KZAAU", "PORT_T", "2024-01") == (Decimal("100.250"), "P")  # stale line excluded
    assert g("KZAAU", "PORT_CALLS", "2024-02") == (Decimal("1"), "A")
    assert g("KZAAU", "PORT_T", "2024-02") == (Decimal("3412.500"), "A")
    assert g("KZAAU", "PORT_TEU", "2024-02", "DISCH", "container") == (Decimal("38"), "A")
    assert g("KZAAU", "PORT_STAY_H", "2024-02") == (Decimal("28.75"), "A")
    assert g("KZKUR", "PORT_T", "2024-01") == (Decimal("50.001"), "A")  # 50.0005 half up
    # totals always published, 0 when nothing happened
    assert g("KZKUR", "PORT_CALLS", "2024-12") == (Decimal("0"), "A")
    assert g("KZAAU", "PORT_STAY_H", "2024-03") is None
    # rail: newest revision per day; January complete, February provisional
    assert g("DOSTYK", "RAIL_T", "2024-01") == (Decimal("848.400"), "A")
    assert g("DOSTYK", "RAIL_TRANSIT_T", "2024-01") == (Decimal("36.400"), "A")
    assert g("DOSTYK", "RAIL_TEU", "2024-01", "OUT") == (Decimal("0"), "A")
    assert g("ALTYNKOL", "RAIL_T", "2024-01") == (Decimal("10.500"), "A")
    assert g("DOSTYK", "RAIL_T", "2024-02") == (Decimal("0.000"), "P")
    # corridor: ALTYNKOL 10.5 + KZAAU 100.25 + KZKUR 50.0005, P from KZAAU
    assert g("TITR", "CORRIDOR_NODE_T", "2024-01") == (Decimal("160.751"), "P")
    # the year 2024 lies in the window: annual totals, provisional from its months
    assert g("KZAAU", "PORT_T", "2024", freq="A") == (Decimal("3512.750"), "P")
    assert g("KZKUR", "PORT_STAY_H", "2024", freq="A") == (Decimal("26.50"), "A")


def test_analyst_role_reads_marts_and_nothing_else(built_warehouse: WarehouseDsn) -> None:
    with psycopg.connect(built_warehouse.conninfo, autocommit=True) as conn:
        conn.execute("set role corridor_analyst")
        assert conn.execute("select count(*) from marts.ind_bilateral_trade").fetchone()[0] > 0
        for forbidden in ("select * from raw.ru_customs_rows limit 1",
                          "select * from raw.loaded_units limit 1",
                          "select * from intermediate.int_trade_flows_harmonised limit 1",
                          "delete from marts.ind_bilateral_trade",
                          "create table marts.analyst_scratch (x int)"):
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute(forbidden)
