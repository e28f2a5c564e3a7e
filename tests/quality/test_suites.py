"""The gate's suites against a real PostgreSQL with real GX (ephemeral context).

A small good batch passes every critical expectation; for each critical expectation
one SQL mutation breaks exactly that rule and exactly that expectation fails. The
good batch is built once per module in a template database; each case validates a
copy (``CREATE DATABASE ... TEMPLATE``): GX reads through its own connections, so a
rolled-back transaction would be invisible to it.
"""

from __future__ import annotations

import uuid

import great_expectations as gx
import psycopg
import pytest

from corridor.config import WarehouseDsn
from corridor.quality.context import validate
from corridor.quality.suites import (
    UNEXPECTED_ROWS_SAMPLE,
    BoundedUnexpectedRows,
    SuiteSpec,
    build_suites,
)
from tests.quality.good_batch import load_good_batch

RU = "raw.ru_customs_rows"
KZ = "raw.kz_customs_rows"
CT = "raw.comtrade_rows"
LU = "raw.loaded_units"
BT = "marts.ind_bilateral_trade"
CL = "marts.ind_corridor_logistics"
FT = "marts.fct_trade_flows"
#: A bilateral chapter cell, in no identity, share or completeness check.
BT_CHAPTER_ROW = (BT, "ref_area = 'RUS' and counterpart_area = 'W00' "
                      "and indicator = 'X_USD' and commodity = '10'")
#: A logistics breakdown cell, in no total, node sum or completeness check.
CL_BREAKDOWN_ROW = (CL, "node = 'KZAAU' and indicator = 'PORT_TEU'")
#: A fact row of the unpublished month: in no share check.
FT_JANUARY_ROW = (FT, "reporter_iso3 = 'RUS' and period_month = '2024-01'")


def _update(row: tuple[str, str], assignment: str) -> str:
    return f"update {row[0]} set {assignment} where {row[1]}"


def _duplicate(row: tuple[str, str]) -> str:
    return f"insert into {row[0]} select * from {row[0]} where {row[1]}"

#: critical check (description) -> SQL mutations, each breaking exactly that rule. The
#: checks dbt owns (keys, codes) have theirs in tests/quality/test_dbt_owned.py.
BAD_BATCHES: dict[str, list[str]] = {
    # raw: ru_customs
    "raw.ru_customs_rows: required fields not null (period_month, revision, status, "
    "row_number, napr, period, strana, tnved, stoim, netto)": [
        f"alter table {RU} alter column netto drop not null; "
        f"update {RU} set netto = null where period_month = '2024-02' and row_number = 1",
        f"alter table {RU} alter column tnved drop not null; "
        f"update {RU} set tnved = null where period_month = '2024-02' and row_number = 1",
    ],
    "raw.ru_customs_rows: tnved is a 10-digit TN VED code": [
        f"update {RU} set tnved = '270900900' where row_number = 1",
        f"update {RU} set tnved = '27090090 1' where row_number = 1",
    ],
    "raw.ru_customs_rows: strana is an ISO alpha-2 code": [
        f"update {RU} set strana = 'cn' where row_number = 1",
        f"update {RU} set strana = 'CHN' where row_number = 1",
    ],
    "raw.ru_customs_rows: quantities non-negative (stoim, netto, kol)": [
        f"update {RU} set stoim = -0.01 where row_number = 1",
        f"update {RU} set kol = -1 where row_number = 2",
    ],
    "raw.ru_customs_rows: rows carry only their month's loaded revision": [
        f"update {RU} set revision = 1 where period_month = '2024-02' and row_number = 4",
        f"insert into {RU} (period_month, revision, status, row_number, napr, period, strana,"
        " tnved, stoim, netto) values ('2023-12', 1, 'final', 1, 'ЭК', '12/2023', 'CN',"
        " '2709009001', 1, 1)",
    ],
    # raw: kz_customs
    "raw.kz_customs_rows: required fields not null (period_month, revision, status, "
    "row_number, flow, tn_ved, partner_m49, value_thousand_usd, net_weight_t, "
    "transport_mode, customs_regime)": [
        f"alter table {KZ} alter column customs_regime drop not null; "
        f"update {KZ} set customs_regime = null where row_number = 2",
    ],
    "raw.kz_customs_rows: tn_ved is a 10-digit TN VED code": [
        f"update {KZ} set tn_ved = '27090090011' where row_number = 1",
    ],
    "raw.kz_customs_rows: partner_m49 is a 3-digit M49 code": [
        f"update {KZ} set partner_m49 = '31' where row_number = 1",
    ],
    "raw.kz_customs_rows: quantities non-negative (value_thousand_usd, net_weight_t, "
    "supp_qty)": [
        f"update {KZ} set net_weight_t = -0.001 where row_number = 1",
    ],
    "raw.kz_customs_rows: rows carry only their month's loaded revision": [
        f"update {KZ} set revision = 2 where period_month = '2024-02' and row_number = 2",
    ],
    # raw: comtrade
    "raw.comtrade_rows: required fields not null (reporter_code, period_month, row_number, "
    "flow_code, partner_code, partner2_code, cmd_code, mot_code, customs_code, "
    "is_counted_leaf)": [
        f"alter table {CT} alter column flow_code drop not null; "
        f"update {CT} set flow_code = null where row_number = 1",
    ],
    "raw.comtrade_rows: counted leaves have a 6-digit HS code": [
        f"update {CT} set cmd_code = '27090' where row_number = 1",
    ],
    "raw.comtrade_rows: reporter_code and partner_code are M49 codes (0-999)": [
        f"update {CT} set partner_code = 1000 where row_number = 1",
    ],
    "raw.comtrade_rows: quantities non-negative (cifvalue, fobvalue, primary_value, "
    "net_wgt)": [
        f"update {CT} set cifvalue = -5 where row_number = 1",
    ],
    "raw.comtrade_rows: rows belong to a loaded (reporter, month) unit": [
        f"delete from {LU} where feed = 'comtrade'",
    ],
    # raw: ports
    "raw.port_calls: required fields not null (call_id, port, version, updated_at, "
    "status)": [
        "alter table raw.port_calls alter column status drop not null; "
        "update raw.port_calls set status = null where port = 'KZKUR'",
    ],
    "raw.port_calls: port is a UN/LOCODE": [
        "update raw.port_calls set port = 'KZ AAU' where port = 'KZAAU'",
    ],
    "raw.port_cargo_lines: required fields not null (call_id, version, line_number, "
    "operation, cargo_type, tonnes)": [
        "alter table raw.port_cargo_lines alter column operation drop not null; "
        "update raw.port_cargo_lines set operation = null where line_number = 1",
    ],
    "raw.port_cargo_lines: hs_chapter is a 2-digit HS chapter where given": [
        "update raw.port_cargo_lines set hs_chapter = '8' where hs_chapter = '84'",
    ],
    "raw.port_cargo_lines: quantities non-negative (tonnes, teu)": [
        "update raw.port_cargo_lines set teu = -1 where hs_chapter = '84'",
    ],
    "raw.port_cargo_lines: lines carry only their call's loaded version": [
        "update raw.port_cargo_lines set version = 1 where call_id = 'KZAAU-2024-000001'",
    ],
    # raw: rail
    "raw.rail_consignments: required fields not null (report_date, revision, row_number, "
    "point, direction, transit, gng, wagons, teu, tonnes)": [
        "alter table raw.rail_consignments alter column wagons drop not null; "
        "update raw.rail_consignments set wagons = null where point = 'ALTYNKOL'",
    ],
    "raw.rail_consignments: point is in the rail crossing reference list": [
        "update raw.rail_consignments set point = 'dostyk' where report_date = '2024-01-15'",
    ],
    "raw.rail_consignments: gng is an 8-digit code": [
        "update raw.rail_consignments set gng = '1001990' where point = 'ALTYNKOL'",
    ],
    "raw.rail_consignments: origin and destination are ISO alpha-2 codes where given": [
        "update raw.rail_consignments set destination = 'DEU' where report_date = '2024-01-15'",
    ],
    "raw.rail_consignments: quantities non-negative (wagons, teu, tonnes)": [
        "update raw.rail_consignments set tonnes = -0.001 where point = 'ALTYNKOL'",
    ],
    "raw.rail_consignments: rows carry only their day's loaded revision": [
        "update raw.rail_consignments set revision = 1 where point = 'ALTYNKOL'",
    ],
    # raw: loaded units
    "raw.loaded_units: one loaded revision per (feed, unit)": [
        f"alter table {LU} drop constraint loaded_units_pkey; "
        f"insert into {LU} (feed, unit, period_month, revision, status, rows_loaded, "
        "rows_rejected) values ('ru_customs', '2024-02', '2024-02', 3, 'final', 0, 0)",
    ],
    "raw.loaded_units: customs months have a revision": [
        f"delete from {KZ} where period_month = '2024-01'; "
        f"update {LU} set revision = null where feed = 'kz_customs' and unit = '2024-01'",
    ],
    # completeness
    "completeness: every customs feed loaded for every month of the ingest window": [
        f"delete from {KZ} where period_month = '2024-01'; "
        f"delete from {LU} where feed = 'kz_customs' and unit = '2024-01'",
    ],
    "completeness: rail has an accepted daily report in every month of the ingest window": [
        # the month's only report is missing
        "delete from raw.rail_consignments where report_date = '2024-01-15'; "
        f"delete from {LU} where feed = 'rail' and unit = '2024-01-15'",
        # ... or was rejected whole
        "delete from raw.rail_consignments where report_date = '2024-01-15'; "
        "insert into raw.rejected_rows (feed, unit, row_ref, reason, detail) values "
        "('rail', '2024-01-15', 'report', 'date_mismatch', 'report date 2024-01-16')",
    ],
    "completeness: every feed port synced past the window end and has its month totals "
    "for every published month": [
        # the last sync ran before the window ended (local midnight, +05:00)
        "update raw.port_sync_state set synced_at = '2024-02-29 23:59:59+05' "
        "where port = 'KZAAU'",
        "delete from raw.port_sync_state where port = 'KZKUR'",
        f"delete from {CL} where node = 'KZKUR' and indicator = 'PORT_CALLS'",
    ],
    # fct_trade_flows
    "fct_trade_flows: one row per source row (source_feed, period_month, "
    "source_row_number)": [
        _duplicate(FT_JANUARY_ROW),
    ],
    "fct_trade_flows: reporter_iso3 in dim_countries": [
        _update(FT_JANUARY_ROW, "reporter_iso3 = null"),
    ],
    "fct_trade_flows: partner_iso3 in dim_countries, or '_X' for an undisclosed partner": [
        _update(FT_JANUARY_ROW, "partner_iso3 = 'ZZZ'"),
        _update(FT_JANUARY_ROW, "partner_iso3 = '_X'"),
        f"update {FT} set partner_iso3 = 'CHN' where is_partner_undisclosed",
    ],
    "fct_trade_flows: HS chapter is the first two digits of the HS6 code": [
        _update(FT_JANUARY_ROW, "hs_chapter = '28'"),
        _update(FT_JANUARY_ROW, "hs_chapter = '2'"),
    ],
    # bilateral_trade
    "bilateral_trade: required fields not null (freq, ref_area, counterpart_area, "
    "indicator, commodity, time_period, obs_value, unit_measure, obs_status)": [
        _update(BT_CHAPTER_ROW, "unit_measure = null"),
        _update(BT_CHAPTER_ROW, "obs_value = null"),
    ],
    "bilateral_trade: no NaN or infinite values": [
        _update(BT_CHAPTER_ROW, "obs_value = 'NaN'"),
        _update(BT_CHAPTER_ROW, "obs_value = 'Infinity'"),
    ],
    "bilateral_trade: trade flows are non-negative": [
        _update(BT_CHAPTER_ROW, "obs_value = -0.01"),
    ],
    "bilateral_trade: every reporter x published month has W00 totals": [
        f"delete from {BT} where ref_area = 'KAZ' and counterpart_area = 'W00' "
        "and indicator = 'TURNOVER_USD'",
    ],
    "bilateral_trade: TURNOVER_USD = X_USD + M_USD within 0.01 per key": [
        f"update {BT} set obs_value = 12000000.02 where ref_area = 'RUS' "
        "and counterpart_area = 'CHN' and indicator = 'TURNOVER_USD'",
        f"update {BT} set obs_value = 399999.98 where ref_area = 'KAZ' "
        "and counterpart_area = 'RUS' and indicator = 'TURNOVER_USD'",
    ],
    "bilateral_trade: BALANCE_USD = X_USD - M_USD within 0.01 per key": [
        f"update {BT} set obs_value = 199999.98 where ref_area = 'KAZ' "
        "and counterpart_area = 'W00' and indicator = 'BALANCE_USD'",
    ],
    "bilateral_trade: partner shares plus the undisclosed share sum to 100 within 0.01 per "
    "reporter-month": [
        f"update {BT} set obs_value = 25.0200 where ref_area = 'RUS' "
        "and counterpart_area = 'UZB' and indicator = 'PARTNER_SHARE_PCT'",
        # an undisclosed row not counted: the shares miss 15 %
        f"update {FT} set is_partner_undisclosed = false, partner_iso3 = 'CHN' "
        "where is_partner_undisclosed",
        f"delete from {BT} where ref_area = 'KAZ' and indicator = 'PARTNER_SHARE_PCT' "
        "and counterpart_area = 'RUS'",
    ],
    "bilateral_trade: HHI_X in [0, 1]": [
        f"update {BT} set obs_value = 1.0001 where indicator = 'HHI_X' "
        "and counterpart_area = 'CHN'",
    ],
    "bilateral_trade: GL_IIT in [0, 1]": [
        f"update {BT} set obs_value = -0.0001 where indicator = 'GL_IIT' "
        "and counterpart_area = 'W00'",
    ],
    # corridor_logistics
    "corridor_logistics: required fields not null (freq, node, indicator, direction, "
    "cargo, time_period, obs_value, unit_measure, obs_status)": [
        _update(CL_BREAKDOWN_ROW, "cargo = null"),
    ],
    "corridor_logistics: no NaN or infinite values": [
        _update(CL_BREAKDOWN_ROW, "obs_value = 'NaN'"),
    ],
    "corridor_logistics: quantities are non-negative": [
        _update(CL_BREAKDOWN_ROW, "obs_value = -1"),
    ],
    "corridor_logistics: PORT_T, PORT_TEU, PORT_CALLS, PORT_STAY_H nodes in dim_ports": [
        _update(CL_BREAKDOWN_ROW, "node = 'KZAA1'"),
    ],
    "corridor_logistics: RAIL_T, RAIL_WAGONS, RAIL_TEU, RAIL_TRANSIT_T nodes in "
    "dim_rail_crossings": [
        f"update {CL} set node = 'Dostyk' where node = 'DOSTYK' and direction = 'IN'",
    ],
    "corridor_logistics: CORRIDOR_NODE_T nodes in dim_corridors": [
        f"insert into {CL} values ('M', 'MIDDLE', 'CORRIDOR_NODE_T', '_T', '_T', "
        "'2024-02', 0, 'T', 'A')",
    ],
    "corridor_logistics: CORRIDOR_NODE_T = sum of its nodes' totals within 0.001 per node": [
        # TITR has 3 nodes: 0.003 is tolerated (test_tolerances), 0.004 is not
        f"update {CL} set obs_value = 1500.504 where node = 'TITR'",
        # EW_NORTH has 4 nodes (rail only): 0.005 off
        f"update {CL} set obs_value = 499.995 where node = 'EW_NORTH'",
    ],
}

#: Mutations within the checks' tolerances: every critical check still passes.
TOLERATED = {
    "turnover one cent off (rounding)":
        f"update {BT} set obs_value = 12000000.01 where ref_area = 'RUS' "
        "and counterpart_area = 'CHN' and indicator = 'TURNOVER_USD'",
    "balance one cent off (rounding)":
        f"update {BT} set obs_value = 200000.01 where ref_area = 'KAZ' "
        "and counterpart_area = 'W00' and indicator = 'BALANCE_USD'",
    "shares 0.01 over 100":
        f"update {BT} set obs_value = 60.0100 where ref_area = 'RUS' "
        "and counterpart_area = 'CHN' and indicator = 'PARTNER_SHARE_PCT'",
    "corridor 0.001 per node off":
        f"update {CL} set obs_value = 1500.503 where node = 'TITR'",
    "HHI and GL at the bounds":
        f"update {BT} set obs_value = 0 where indicator = 'HHI_X' and counterpart_area = 'W00';"
        f" update {BT} set obs_value = 1 where indicator = 'GL_IIT'",
    "undisclosed partner only in the ingest-only month":
        _update(FT_JANUARY_ROW, "partner_iso3 = '_X', is_partner_undisclosed = true"),
    "a HS6 code missing from the nomenclature (warning only)":
        _update(FT_JANUARY_ROW, "hs6_code = '270999'"),
    "a chapter missing from the nomenclature (warning only)":
        _update(FT_JANUARY_ROW, "hs6_code = '770000', hs_chapter = '77'"),
    "a feed port synced that has sent no call yet":
        "update raw.port_sync_state set high_water_mark = null where port = 'KZKUR'",
}


def _critical_names() -> set[str]:
    return {e.description for spec in build_suites() for e in spec.expectations
            if str(getattr(e.severity, "value", e.severity)) == "critical"}


def _warning_names() -> list[str]:
    return [e.description for spec in build_suites() for e in spec.expectations
            if str(getattr(e.severity, "value", e.severity)) == "warning"]


# ------------------------------------------------------------------------ fixtures

def _database(server: WarehouseDsn, name: str) -> WarehouseDsn:
    return WarehouseDsn(server.host, server.port, server.user, server.password, name)


@pytest.fixture(scope="module")
def good_template(warehouse_server: WarehouseDsn):
    """A database holding the good batch, used only as a template (no connections)."""
    name = f"tq_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(warehouse_server.conninfo, autocommit=True) as conn:
        conn.execute(f'create database "{name}"')
    try:
        load_good_batch(_database(warehouse_server, name))
        yield name
    finally:
        with psycopg.connect(warehouse_server.conninfo, autocommit=True) as conn:
            conn.execute(f'drop database if exists "{name}" with (force)')


class Copies:
    """Copies of the good batch, each with one mutation; dropped at teardown."""

    def __init__(self, server: WarehouseDsn, template: str):
        self.server, self.template, self.created = server, template, []

    def clone(self, sql: str | None) -> WarehouseDsn:
        name = f"tq_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(self.server.conninfo, autocommit=True) as conn:
            conn.execute(f'create database "{name}" template "{self.template}"')
        self.created.append(name)
        dsn = _database(self.server, name)
        if sql:
            with psycopg.connect(dsn.conninfo) as conn:
                conn.execute(sql)
        return dsn

    def __call__(self, sql: str | None) -> dict:
        """The gate's summary over a copy of the good batch changed by ``sql``."""
        return validate(self.clone(sql).sqlalchemy_url)

    def drop(self) -> None:
        with psycopg.connect(self.server.conninfo, autocommit=True) as conn:
            for name in self.created:
                conn.execute(f'drop database if exists "{name}" with (force)')


@pytest.fixture()
def mutate(warehouse_server: WarehouseDsn, good_template: str):
    copies = Copies(warehouse_server, good_template)
    yield copies
    copies.drop()


def _failed_critical(summary: dict) -> list[str]:
    return sorted(c["name"] for c in summary["checks"]
                  if c["severity"] == "critical" and not c["success"])


def _check(summary: dict, name: str) -> dict:
    return next(c for c in summary["checks"] if c["name"] == name)


# --------------------------------------------------------------------------- tests

def test_every_critical_expectation_has_a_bad_batch():
    """A new critical check without a case here fails the suite."""
    assert _critical_names() - set(BAD_BATCHES) == set()
    assert set(BAD_BATCHES) - _critical_names() == set()


def test_suites_are_well_formed():
    suites = build_suites()
    names = [spec.name for spec in suites]
    assert len(names) == len(set(names))
    assert all(isinstance(spec, SuiteSpec) and spec.schema in ("raw", "marts")
               for spec in suites)
    # descriptions name the checks (manifest, gate message): present and unique
    descriptions = [e.description for spec in suites for e in spec.expectations]
    assert all(descriptions) and len(descriptions) == len(set(descriptions))
    # every row check bounds its sample, and aliases its batch subquery
    for expectation in (e for spec in suites for e in spec.expectations
                        if e.expectation_type.startswith("unexpected_rows")
                        or isinstance(e, BoundedUnexpectedRows)):
        assert isinstance(expectation, BoundedUnexpectedRows), expectation.description
        query = expectation.unexpected_rows_query
        assert query.count("{batch}") == query.count("{batch} as "), expectation.description


def test_good_batch_passes_every_critical_check(fresh_database: WarehouseDsn):
    load_good_batch(fresh_database)
    summary = validate(fresh_database.sqlalchemy_url)
    assert _failed_critical(summary) == []
    assert summary["success"] is True and summary["failed"] == 0
    assert summary["evaluated"] == sum(len(s.expectations) for s in build_suites())
    # the good batch trips no warning either
    assert summary["failed_warnings"] == 0, [c for c in summary["checks"] if not c["success"]]
    assert set(summary) >= {"success", "evaluated", "failed", "failed_warnings", "checks"}
    assert all(set(c) == {"name", "suite", "severity", "success", "observed"}
               for c in summary["checks"])


@pytest.mark.parametrize(
    ("check", "sql"),
    [pytest.param(check, sql, id=f"{check[:60]}#{number}")
     for check, sqls in BAD_BATCHES.items() for number, sql in enumerate(sqls)])
def test_bad_batch_fails_exactly_its_check(mutate, check: str, sql: str):
    summary = mutate(sql)
    assert _failed_critical(summary) == [check]
    assert summary["success"] is False and summary["failed"] == 1
    observed = _check(summary, check)["observed"]
    assert observed.startswith(("observed_value=", "unexpected_count=")), observed
    assert int(float(observed.split("=")[1].split()[0])) >= 1


@pytest.mark.parametrize("sql", list(TOLERATED.values()), ids=list(TOLERATED))
def test_within_tolerance_passes(mutate, sql: str):
    assert _failed_critical(mutate(sql)) == []


def test_warnings_report_their_count_and_do_not_block(mutate):
    unit_value = next(d for d in _warning_names() if "unit value" in d)
    asymmetry = next(d for d in _warning_names() if "mirror asymmetry" in d)
    summary = mutate(
        # one unit value 10x its group's (2 USD/kg), one asymmetry above 30 % on a
        # partner-month of 12 M USD turnover, one at exactly 30 % (tolerated)
        _update(FT_JANUARY_ROW, "net_weight_kg = 40000") + "; "
        f"update {BT} set obs_value = 30.0001 where indicator = 'ASYM_X_PCT'; "
        f"insert into {BT} values ('M', 'RUS', 'CHN', 'ASYM_M_PCT', '_T', '2024-02', -30, "
        "'PCT', 'P')")
    assert summary["success"] is True and summary["failed"] == 0
    assert summary["failed_warnings"] == 2
    found = _check(summary, unit_value)
    assert {k: v for k, v in found.items() if k != "observed"} == {
        "name": unit_value, "suite": "fct_trade_flows", "severity": "warning",
        "success": False}
    # the count, then the failing rows themselves (bounded), as text
    assert found["observed"].startswith("observed_value=1 (e.g. ")
    assert "reporter_iso3=RUS, period_month=2024-01" in found["observed"]
    assert _check(summary, asymmetry)["observed"].startswith("observed_value=1 (e.g. ")
    assert "time_period=2024-02" in _check(summary, asymmetry)["observed"]


def test_unexpected_rows_sample_is_bounded_in_sql(mutate):
    """100 000 unexpected rows are counted in PostgreSQL; Python gets a bounded sample."""
    summary_sql = (f"insert into {CL} select 'M', 'NOWHERE' || n, 'RAIL_T', 'IN', '_T', "
                   "'2024-02', 1, 'T', 'A' from generate_series(1, 100000) as n")
    check = "corridor_logistics: RAIL_T, RAIL_WAGONS, RAIL_TEU, RAIL_TRANSIT_T nodes in " \
            "dim_rail_crossings"
    dsn = mutate.clone(summary_sql)
    observed = _check(validate(dsn.sqlalchemy_url), check)["observed"]
    assert observed.startswith("observed_value=100000 (e.g. ")
    # three of the sampled rows are quoted, no more
    assert observed.count("node=NOWHERE") == 3

    # the same expectation, result format COMPLETE: the details hold the bounded sample
    spec = next(s for s in build_suites() if s.name == "corridor_logistics")
    expectation = next(e for e in spec.expectations if e.description == check)
    assert isinstance(expectation, BoundedUnexpectedRows)
    context = gx.get_context(mode="ephemeral")
    source = context.data_sources.add_sql(name="w", connection_string=dsn.sqlalchemy_url,
                                          create_temp_table=False)
    batch = source.add_table_asset(name="o", table_name="ind_corridor_logistics",
                                   schema_name="marts").add_batch_definition_whole_table(
        "all").get_batch()
    try:
        result = batch.validate(expectation, result_format="COMPLETE")
    finally:
        source.get_execution_engine().engine.dispose()
    assert result.result["observed_value"] == 100000
    assert len(result.result["details"]["unexpected_rows"]) == UNEXPECTED_ROWS_SAMPLE
