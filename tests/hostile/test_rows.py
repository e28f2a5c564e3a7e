"""Hostile feeds, row by row: values PostgreSQL cannot store, payloads of the wrong shape,
counts that do not reconcile, rail elements off the contract, RU headers and blank
records, ports records of another port or a malformed newer version (paging that would
not end: test_paging).

Each case checks that the error names feed and unit (and the position), that nothing of
a failed unit is loaded (the raw schema's fingerprint is unchanged), and, where rows are
rejected, that loaded + rejected = delivered.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs

import psycopg
import pytest
from psycopg.rows import dict_row

from corridor import ingest
from corridor.feeds import comtrade, kz_customs, ports, rail, ru_customs
from corridor.feeds.common import FeedError, make_rejection
from corridor.feeds.http import FeedClient, make_session
from corridor.load import raw
from corridor.load.fingerprint import raw_fingerprint

# ------------------------------------------------------------------------- helpers


def raw_state(dsn) -> dict:
    with psycopg.connect(dsn.conninfo, autocommit=True) as conn:
        raw.ensure_raw_schema(conn)
        return raw_fingerprint(conn)


def query(dsn, sql: str, *params) -> list[dict[str, Any]]:
    with psycopg.connect(dsn.conninfo) as conn, conn.cursor(row_factory=dict_row) as cur:
        cur.execute(sql, params)
        return cur.fetchall()


def rejected(dsn, feed: str) -> list[dict[str, Any]]:
    return query(dsn, "select unit, row_ref, reason, detail, raw_record from raw.rejected_rows"
                      " where feed = %s order by unit, length(row_ref), row_ref", feed)


def loaded_unit(dsn, feed: str, unit: str) -> dict[str, Any] | None:
    rows = query(dsn, "select * from raw.loaded_units where feed = %s and unit = %s", feed, unit)
    return rows[0] if rows else None


def assert_storable(rejection: dict[str, Any]) -> None:
    for name in ("unit", "row_ref", "detail", "raw_record"):
        value = rejection[name] or ""
        assert "\x00" not in value
        value.encode("utf-8")  # no lone surrogate


# ---------------------------------------------------------------- scripted feeds

def kz_item(tn_ved: str = "2709009001", **overrides) -> dict[str, Any]:
    item = {"flow": "export", "tn_ved": tn_ved, "partner_m49": "156",
            "partner_name_ru": "Китай", "value_thousand_usd": 1.5, "net_weight_t": 2.25,
            "supp_qty": None, "supp_unit": None, "transport_mode": "rail",
            "customs_regime": "10"}
    item.update(overrides)
    return item


def kz_page(items: Any, next_cursor: str | None = None, revision: int = 1) -> dict[str, Any]:
    return {"period": "2024-01", "revision": revision, "status": "preliminary",
            "items": items, "next_cursor": next_cursor}


@dataclass
class KzFeed:
    """/periods and /trade of one period: page N answers ``cursor=cN`` (page 0: none).
    ``endless``: every page has a new next_cursor."""

    server: Any
    pages: list[Any]
    records: int
    revision: int = 1
    endless: bool = False

    def __post_init__(self) -> None:
        self.server.routes["/kz-customs/api/v2/periods"] = self.periods
        self.server.routes["/kz-customs/api/v2/trade"] = self.trade

    def periods(self, path, query_text, headers):
        return (200, {}, json.dumps({"periods": [
            {"period": "2024-01", "revision": self.revision, "status": "preliminary",
             "records": self.records}]}).encode())

    def trade(self, path, query_text, headers):
        params = parse_qs(query_text)
        number = int(params["cursor"][0][1:]) if "cursor" in params else 0
        if self.endless:
            body: Any = kz_page([], f"c{number + 1}", self.revision)
        else:
            body = self.pages[number]
        return (200, {}, body if isinstance(body, bytes) else json.dumps(body).encode())


def port_call(call_id: str = "KZAAU-1", version: int = 1, port: str = "KZAAU",
              **overrides) -> dict[str, Any]:
    call = {"call_id": call_id, "port": port, "version": version,
            "updated_at": f"2024-02-01T10:00:0{version % 10}+05:00", "status": "departed",
            "vessel": {"imo": "9312345", "name": "CASPIAN TRADER", "flag": "AZ"},
            "arrived_at": "2024-01-31T22:40:00+05:00", "previous_port": "AZBAK",
            "cargo": [{"operation": "load", "cargo_type": "general", "tonnes": 5}]}
    call.update(overrides)
    return call


@dataclass
class PortsFeed:
    """/vessel-calls: per port, page N answers ``page_token=tN`` (page 0: none)."""

    server: Any
    pages: dict[str, list[Any]] = field(default_factory=dict)
    endless: bool = False

    def __post_init__(self) -> None:
        self.server.routes["/ports/v1/vessel-calls"] = self

    def __call__(self, path, query_text, headers):
        params = parse_qs(query_text)
        port = params["port"][0]
        number = int(params["page_token"][0][1:]) if "page_token" in params else 0
        if self.endless:
            body: Any = {"data": [], "next_page_token": f"t{number + 1}"}
        else:
            body = self.pages.get(port, [{"data": [], "next_page_token": None}])[number]
        return (200, {}, body if isinstance(body, bytes) else json.dumps(body).encode())


RU_HEADER = "napr;period;strana;tnved;edizm;stoim;netto;kol;region;region_s"
RU_GOOD = [f"ЭК;01/2024;KZ;01012100{n:02d};ШТ;1,50;2;1;45000;Москва" for n in range(10)]


def ru_csv(lines: list[str], header: str = RU_HEADER) -> bytes:
    return ("\r\n".join([header, *lines]) + "\r\n").encode("windows-1251")


@dataclass
class RuFeed:
    server: Any
    body: bytes
    revision: int = 1
    rows: int | None = None  # default: the body's data lines
    releases: Any = None  # a whole /releases body instead

    def __post_init__(self) -> None:
        self.server.routes["/ru-customs/v1/releases"] = self.listing
        self.server.routes["/ru-customs/v1/data/2024-01.csv"] = self.data

    def listing(self, path, query_text, headers):
        if self.releases is not None:
            return (200, {}, json.dumps(self.releases).encode())
        rows = self.body.count(b"\r\n") - 1 if self.rows is None else self.rows
        return (200, {}, json.dumps({"releases": [
            {"period": "2024-01", "revision": self.revision, "status": "final",
             "sha256": hashlib.sha256(self.body).hexdigest(), "rows": rows,
             "path": "/ru-customs/v1/data/2024-01.csv"}]}).encode())

    def data(self, path, query_text, headers):
        return (200, {"ETag": f'"{hashlib.sha256(self.body).hexdigest()}"'}, self.body)


RAIL_NS = "urn:corridor:rail:crossing:1"


def rail_report(inner: str, day: str = "2024-02-01", prolog: str = "") -> bytes:
    return (f'<?xml version="1.0" encoding="UTF-8"?>{prolog}'
            f'<crossingReport xmlns="{RAIL_NS}" date="{day}" revision="1">{inner}'
            f'</crossingReport>').encode()


CONSIGNMENT = ('<consignment gng="84713000" wagons="2" teu="4" tonnes="36.400" origin="CN" '
               'destination="KZ"/>')


def comtrade_record(**overrides) -> dict[str, Any]:
    base = {"period": "202401", "reporterCode": 156, "flowCode": "M", "partnerCode": 398,
            "partner2Code": 0, "cmdCode": "270900", "aggrLevel": 6, "isLeaf": True,
            "customsCode": "C00", "motCode": 0, "cifvalue": 812.5, "fobvalue": None,
            "primaryValue": 812.5, "netWgt": 1000.0}
    base.update(overrides)
    return base


def comtrade_calls(server) -> tuple[comtrade.Calls, list[int]]:
    endpoint = server.endpoint()
    client = FeedClient("comtrade", endpoint, attempts=1,
                        session=make_session("comtrade", endpoint, retries=0))
    taken: list[int] = []
    return comtrade.Calls(client, lambda: taken.append(1), attempts=3, backoff=0), taken


# ======================================================= 1. values that cannot be stored

def test_a_rejection_is_always_storable(fresh_database):
    """NUL and a lone surrogate in every text of a rejection: it loads, made visible."""
    rejection = make_rejection("kz_customs", "2024-01\x00", "7\ud800", "unparsable",
                               "bad \x00 \udc80", '{"x": "a\x00b\ud800"}')
    raw_state(fresh_database)
    with psycopg.connect(fresh_database.conninfo, autocommit=True) as conn:
        raw.load_unit(conn, raw.UnitLoad("kz_customs", "2024-01", "2024-01", 1, "final",
                                         None, [], [rejection]))
    [row] = rejected(fresh_database, "kz_customs")
    assert_storable(row)
    assert row["raw_record"] == '{"x": "a\\u0000b\\ud800"}'
    assert row["unit"] == "2024-01\\u0000" and row["row_ref"] == "7\\ud800"


def test_kz_unstorable_values_reject_their_row(fake_server, kw):
    items = [kz_item("2709009001"),
             kz_item("2709009002", partner_name_ru="Ки\x00тай"),
             kz_item("2709009003", supp_unit="\ud800"),
             kz_item("2709009004", customs_regime="1\x000"),
             kz_item("2709009005", brand_new_field="ignored \x00")]  # unknown: ignored
    KzFeed(fake_server, [kz_page(items)], records=5)
    summary = ingest.ingest_kz_customs("2024-01", **kw)
    assert (summary["rows_loaded"], summary["rows_rejected"]) == (2, 3)
    rows = rejected(kw["dsn"], "kz_customs")
    assert [(r["row_ref"], r["reason"]) for r in rows] == [
        ("2", "unparsable"), ("3", "unparsable"), ("4", "unparsable")]
    assert "kz_customs unit 2024-01 row 2: partner_name_ru holds a NUL" in rows[0]["detail"]
    assert "supp_unit holds a lone surrogate" in rows[1]["detail"]
    assert "customs_regime holds a NUL" in rows[2]["detail"]
    assert "\\u0000" in rows[0]["raw_record"] and "\\ud800" in rows[1]["raw_record"]
    for row in rows:
        assert_storable(row)
    assert query(kw["dsn"], "select count(*) as n from raw.kz_customs_rows")[0]["n"] == 2


def test_ports_unstorable_values_reject_their_call(fake_server, kw):
    calls = [port_call("KZAAU-1"),
             port_call("KZAAU-2", vessel={"imo": "1", "name": "CAS\x00PIAN", "flag": "AZ"}),
             port_call("KZAAU-\ud800"),
             port_call("KZAAU-4", previous_port="AZ\x00BAK"),
             port_call("KZAAU-5", cargo=[{"operation": "load", "cargo_type": "general",
                                          "tonnes": 1, "hs_chapter": "1\x00"}])]
    PortsFeed(fake_server, {"KZAAU": [{"data": calls, "next_page_token": None}]})
    summary = ingest.ingest_ports(**kw)
    [aau, _] = summary["ports"]
    assert (aau["calls_updated"], aau["rows_rejected"]) == (2, 4)
    assert aau["records"] == 5 == aau["calls_updated"] + 3  # 3 calls + 1 cargo line rejected
    rows = rejected(kw["dsn"], "ports")
    by_ref = {r["row_ref"]: r for r in rows}
    assert "vessel.name holds a NUL" in by_ref["KZAAU-2 v1"]["detail"]
    assert "call_id holds a lone surrogate" in by_ref["KZAAU-\\ud800 v1"]["detail"]
    assert by_ref["KZAAU-\\ud800 v1"]["unit"] == "KZAAU-\\ud800"
    assert "previous_port holds a NUL" in by_ref["KZAAU-4 v1"]["detail"]
    assert "hs_chapter holds a NUL" in by_ref["KZAAU-5 v1 line 1"]["detail"]
    assert all(r["reason"] == "unparsable" for r in rows)
    for row in rows:
        assert_storable(row)
    assert [r["call_id"] for r in query(kw["dsn"], "select call_id from raw.port_calls "
                                                   "order by 1")] == ["KZAAU-1", "KZAAU-5"]


@pytest.mark.parametrize("kind", ["bytes", "chunks"])
def test_ru_nul_rejects_its_row_on_every_path(fresh_database, kind):
    """A NUL in a line that would otherwise take the byte-level run or the per-line fast
    path: that row is rejected (unparsable, naming the field), the run around it loads."""
    lines = [*RU_GOOD[:4],
             "ЭК;01/2024;KZ;0101210090;ШТ;1,50;2;1;45000;Моск\x00ва",   # run-shaped
             *RU_GOOD[4:7],
             "ЭК;01/2024;KZ;0101210091;Ш\x00Т;1,50;2;1;45000;a, b",      # fast-path-shaped
             '"ЭК";01/2024;KZ;0101210092;;1;2;;;"x\x00"',                # quoted
             *RU_GOOD[7:]]
    payload = ru_csv(lines)
    parsed = ru_customs.parse_csv(payload, "2024-01", 1, "final")
    assert [(r.row_ref, r.reason) for r in parsed.rejections] == [
        ("5", "unparsable"), ("9", "unparsable"), ("10", "unparsable")]
    assert "region_s holds a NUL" in parsed.rejections[0].detail
    assert "edizm holds a NUL" in parsed.rejections[1].detail
    assert "region_s holds a NUL" in parsed.rejections[2].detail
    source = payload if kind == "bytes" else (payload[i:i + 37]
                                              for i in range(0, len(payload), 37))
    raw_state(fresh_database)
    with psycopg.connect(fresh_database.conninfo, autocommit=True) as conn:
        outcome = raw.load_ru_customs_csv(conn, source, "2024-01", 1, "final", "a",
                                          expected_rows=len(lines))
    assert (outcome.rows_loaded, outcome.rows_rejected) == (len(lines) - 3, 3)
    rows = rejected(fresh_database, "ru_customs")
    assert [(r["row_ref"], r["reason"]) for r in rows] == [
        (r.row_ref, r.reason) for r in parsed.rejections]
    assert "\\u0000" in rows[0]["raw_record"]
    for row in rows:
        assert_storable(row)


def test_comtrade_unstorable_values_reject_their_row(fresh_database):
    records = [comtrade_record(),
               comtrade_record(flowCode="X\x00"),
               comtrade_record(customsCode="C00\ud800"),
               comtrade_record(period="202401\x00", cmdCode="270910")]
    parsed = comtrade.parse_data(records, 156, "2024-01")
    assert [r.reason for r in parsed.rejections] == ["unparsable"] * 3
    assert "flowCode holds a NUL" in parsed.rejections[0].detail
    assert "customsCode holds a lone surrogate" in parsed.rejections[1].detail
    assert "period holds a NUL" in parsed.rejections[2].detail
    raw_state(fresh_database)
    with psycopg.connect(fresh_database.conninfo, autocommit=True) as conn:
        outcome = raw.load_unit(conn, raw.UnitLoad(
            "comtrade", "156:2024-01", "2024-01", None, "final", "x",
            [raw.TableRows("raw.comtrade_rows", raw.COMTRADE_COLUMNS, parsed.rows,
                           "delete from raw.comtrade_rows where reporter_code = 156", ())],
            parsed.rejections))
    assert (outcome.rows_loaded, outcome.rows_rejected) == (1, 3)
    for row in rejected(fresh_database, "comtrade"):
        assert_storable(row)


@pytest.mark.parametrize("attribute", ["C&#0;R", "C\x00R", "C&#xD800;R"])
def test_rail_unstorable_character_fails_the_day_clearly(fake_server, kw, attribute):
    """XML 1.0 cannot carry NUL or a surrogate: the report is not well-formed, so the day
    fails (after the retries a cut body gets) with an error naming feed and day."""
    body = rail_report(f'<crossing point="DOSTYK" partnerRailway="{attribute}">'
                       f'<movement direction="inbound" transit="false">{CONSIGNMENT}'
                       '</movement></crossing>')
    fake_server.routes["/rail/v1/crossings/2024-02-01.xml"] = [(200, {}, body)]
    before = raw_state(kw["dsn"])
    with pytest.raises(FeedError, match=r"^rail unit 2024-02-01 report: not a well-formed"):
        ingest.ingest_rail("2024-02", **kw)
    assert raw_state(kw["dsn"]) == before


# ============================================================== 2. shapes, once each

@pytest.mark.parametrize("bad_page, problem", [
    ({**kz_page(None)}, "items"),
    ({k: v for k, v in kz_page([kz_item()]).items() if k != "items"}, "items"),
    ({**{k: v for k, v in kz_page([]).items() if k != "items"}, "rows": [kz_item()]},
     "items"),
    (kz_page({"0": kz_item()}), "items"),
    ([kz_item("2709009002")], "KzPage"),
    (kz_page([kz_item("2709009002"), 5]), "items.1"),
    (kz_page(["an item"]), "items.0"),
    (kz_page([kz_item("2709009002")], next_cursor=7), "next_cursor"),
    ("a page", "KzPage"),
])
def test_kz_page_of_the_wrong_shape_fails_the_unit(fake_server, kw, bad_page, problem):
    feed = KzFeed(fake_server, [kz_page([kz_item()], "c1"), kz_page([kz_item("2709009002")])],
                  records=2)
    assert ingest.ingest_kz_customs("2024-01", **kw)["rows_loaded"] == 2
    before = raw_state(kw["dsn"])
    feed.revision = 2
    feed.pages = [kz_page([kz_item()], "c1", revision=2), bad_page]
    if isinstance(bad_page, dict):
        bad_page["revision"] = 2
    with pytest.raises(FeedError, match=rf"^kz_customs unit 2024-01 page 2: .*{problem}"):
        ingest.ingest_kz_customs("2024-01", **kw)
    assert raw_state(kw["dsn"]) == before
    assert loaded_unit(kw["dsn"], "kz_customs", "2024-01")["revision"] == 1


def test_kz_parse_pages_checks_the_shape_too():
    """The replay path (parse_pages of landed pages) fails the same way."""
    with pytest.raises(FeedError, match=r"^kz_customs unit 2024-01 page 2: .*items"):
        kz_customs.parse_pages([kz_page([kz_item()]), kz_page(None)], "2024-01", 1, "final")


@pytest.mark.parametrize("body, match", [
    ({"releases": ["2024-01"]}, r"^ru_customs unit releases releases entry 1: "),
    ({"releases": [{"period": "2024-01", "revision": 1, "status": "final",
                    "sha256": "ab"}]}, r"^ru_customs unit 2024-01 releases entry 1: .*rows"),
    ({"releases": [{"period": "2024-01", "revision": "one", "status": "final",
                    "sha256": "ab", "rows": 1}]},
     r"^ru_customs unit 2024-01 releases entry 1: .*revision"),
    ({"releases": None}, r"^ru_customs unit releases listing: .*releases"),
    ([], r"^ru_customs unit releases listing: "),
])
def test_ru_releases_of_the_wrong_shape(fake_server, kw, body, match):
    RuFeed(fake_server, ru_csv(RU_GOOD[:2]), releases=body)
    before = raw_state(kw["dsn"])
    with pytest.raises(FeedError, match=match):
        ingest.ingest_ru_customs("2024-01", **kw)
    assert raw_state(kw["dsn"]) == before


@pytest.mark.parametrize("page, match", [
    ([port_call()], r"^ports unit KZAAU page 1: PortsPage of the wrong shape"),
    ({"data": None, "next_page_token": None}, r"^ports unit KZAAU page 1: .*data"),
    ({"next_page_token": None}, r"^ports unit KZAAU page 1: .*data"),
    ({"data": [port_call(), "KZAAU-2"], "next_page_token": None},
     r"^ports unit KZAAU page 1 record 2: a record is an object, not str"),
    ({"data": [port_call()], "next_page_token": 5}, r"^ports unit KZAAU page 1: .*token"),
])
def test_ports_page_of_the_wrong_shape(fake_server, kw, page, match):
    feed = PortsFeed(fake_server, {"KZAAU": [{"data": [port_call()], "next_page_token": None}]})
    ingest.ingest_ports(**kw)
    before = raw_state(kw["dsn"])
    feed.pages = {"KZAAU": [page]}
    with pytest.raises(FeedError, match=match):
        ingest.ingest_ports(**kw)
    assert raw_state(kw["dsn"]) == before


def test_ports_parse_calls_refuses_a_record_that_is_not_an_object():
    with pytest.raises(FeedError, match=r"^ports unit KZAAU record 2: "):
        ports.parse_calls([port_call(), ["KZAAU-2"]], "KZAAU")


@pytest.mark.parametrize("body", [
    {"count": 1, "error": "", "data": None},
    {"count": 1, "error": "", "data": {"0": comtrade_record()}},
    {"count": 2, "error": "", "data": [comtrade_record(), 5]},
    [comtrade_record()],
])
def test_comtrade_data_of_the_wrong_shape(fake_server, body):
    fake_server.routes["/data/v1/get/C/M/HS"] = [(200, {}, json.dumps(body).encode())]
    calls, taken = comtrade_calls(fake_server)
    with pytest.raises(FeedError, match=r"^comtrade unit 156:2024-01 call "
                                        r"data-r156-p398_643-fM_X: ComtradeData"):
        comtrade.fetch_batch(calls, "2024-01", [156])
    assert len(taken) == 1  # a wrong shape is no transient fault: no call retried


@pytest.mark.parametrize("rows, match", [
    ([5], r"^comtrade unit availability availability row 1: "),
    ([{"reporterCode": 156, "period": "202401", "totalRecords": 3}],
     r"^comtrade unit 156:202401 availability row 1: .*datasetChecksum"),
    (None, r"^comtrade unit availability listing: "),
])
def test_comtrade_availability_of_the_wrong_shape(fake_server, rows, match):
    fake_server.routes["/data/v1/getDa/C/M/HS"] = [
        (200, {}, json.dumps({"count": 1, "error": "", "data": rows}).encode())]
    calls, taken = comtrade_calls(fake_server)
    with pytest.raises(FeedError, match=match):
        comtrade.availability(calls, [156], ["2024-01"])
    assert len(taken) == 1


# ============================================================ 3. stated counts reconciled

def test_kz_records_reconciled(fake_server, kw):
    """records = loaded + rejected loads (a rejected row counts as delivered); a
    revision that delivers fewer items than its records fails and loads nothing."""
    feed = KzFeed(fake_server, [kz_page([kz_item(), kz_item("2709009002", flow="sideways")])],
                  records=2)
    summary = ingest.ingest_kz_customs("2024-01", **kw)
    assert (summary["rows_loaded"], summary["rows_rejected"]) == (1, 1)
    before = raw_state(kw["dsn"])
    feed.revision, feed.records = 2, 3
    feed.pages = [kz_page([kz_item(), kz_item("2709009002", flow="sideways")], revision=2)]
    with pytest.raises(FeedError, match=r"^kz_customs unit 2024-01: the publisher states 3 "
                                        r"rows, 2 were delivered \(1 loaded \+ 1 rejected\)"):
        ingest.ingest_kz_customs("2024-01", **kw)
    assert raw_state(kw["dsn"]) == before
    assert loaded_unit(kw["dsn"], "kz_customs", "2024-01")["revision"] == 1


@pytest.mark.parametrize("stated", [2, 5])
def test_ru_rows_reconciled_inside_the_stream_transaction(fake_server, kw, stated):
    body = ru_csv(RU_GOOD[:3])
    feed = RuFeed(fake_server, body)
    assert ingest.ingest_ru_customs("2024-01", **kw)["rows_loaded"] == 3
    before = raw_state(kw["dsn"])
    feed.body, feed.revision, feed.rows = ru_csv([*RU_GOOD[3:6], "ЭК;01/2024;RU;1;;1;1;;;"]), 2, \
        stated
    with pytest.raises(FeedError, match=rf"^ru_customs unit 2024-01: the publisher states "
                                        rf"{stated} rows, 4 were delivered \(3 loaded \+ 1 "
                                        r"rejected\)"):
        ingest.ingest_ru_customs("2024-01", **kw)
    assert raw_state(kw["dsn"]) == before
    feed.rows = 4
    assert ingest.ingest_ru_customs("2024-01", **kw)["rows_rejected"] == 1


# ================================================================= 4. rail structure

def test_rail_reads_only_the_contracts_children():
    """Report elements off their place, at every depth: one rejection each, naming its
    path; what they contain is not read, so nothing is counted twice. Unknown extra
    elements holding none of them are ignored (the contract's unknown fields)."""
    body = rail_report(
        '<summary total="3"/>'                                           # unknown: ignored
        '<crossing point="DOSTYK" partnerRailway="CR">'
        '  <note>late</note>'                                            # unknown: ignored
        '  <movement direction="inbound" transit="false">'
        f'    {CONSIGNMENT}'
        f'    <extra><consignment gng="10019900" wagons="1" teu="0" tonnes="1.000"/></extra>'
        '    <x:ext xmlns:x="urn:other"/>'                               # unknown: ignored
        '    <x:consignment xmlns:x="urn:other" gng="10019900"/>'        # misplaced name
        '    <consignment gng="10019900" wagons="12" teu="0" tonnes="812.000" origin="KZ" '
        f'     destination="CN"><note/>{CONSIGNMENT}</consignment>'
        '  </movement>'
        f'  {CONSIGNMENT}'                                               # not in a movement
        '</crossing>'
        '<wrapper><crossing point="DOSTYK"><movement direction="inbound" transit="false">'
        f'{CONSIGNMENT}</movement></crossing></wrapper>'
        '<movement direction="inbound" transit="false"/>'                # not in a crossing
        '<movement direction="outbound" transit="false"/>')
    result = rail.parse_report(body, "2024-02-01")
    assert [row["row_number"] for row in result.rows] == [1, 2]
    assert [(r.row_ref, r.reason) for r in result.rejections] == [
        ("crossingReport/crossing[1]/movement[1]/extra[1]", "unparsable"),
        ("crossingReport/crossing[1]/movement[1]/{urn:other}consignment[1]", "unparsable"),
        ("crossingReport/crossing[1]/movement[1]/consignment[2]/consignment", "unparsable"),
        ("crossingReport/crossing[1]/consignment[1]", "unparsable"),
        ("crossingReport/wrapper[1]", "unparsable"),
        ("crossingReport/movement[1]", "unparsable"),
        ("crossingReport/movement[2]", "unparsable")]
    assert "unexpected element" in result.rejections[0].detail
    assert "rail unit 2024-02-01 row crossingReport/wrapper[1]" in result.rejections[-3].detail
    assert 'gng="84713000"' in result.rejections[-3].raw_record
    # delivered: 2 consignments where the contract puts them + 7 elements off it
    assert len(result.rows) + len(result.rejections) == 9


def test_rail_content_of_a_rejected_consignment_is_rejected_too():
    body = rail_report('<crossing point="DOSTYK"><movement direction="inbound" '
                       f'transit="false"><consignment gng="1">{CONSIGNMENT}</consignment>'
                       '</movement></crossing>')
    result = rail.parse_report(body, "2024-02-01")
    assert result.rows == []
    assert [(r.row_ref, r.reason) for r in result.rejections] == [
        ("crossingReport/crossing[1]/movement[1]/consignment[1]/consignment",
         "unparsable"), ("1", "bad_code_length")]


def test_rail_unexpected_elements_load_as_rejections(fake_server, kw):
    body = rail_report('<crossing point="DOSTYK" partnerRailway="CR">'
                       f'<movement direction="inbound" transit="false">{CONSIGNMENT}'
                       f'<bundle>{CONSIGNMENT}{CONSIGNMENT}</bundle></movement></crossing>')
    fake_server.routes["/rail/v1/crossings/2024-02-01.xml"] = [(200, {}, body)]
    summary = ingest.ingest_rail("2024-02", **kw)
    assert (summary["rows_loaded"], summary["rows_rejected"]) == (1, 1)
    [row] = rejected(kw["dsn"], "rail")
    assert row["row_ref"] == "crossingReport/crossing[1]/movement[1]/bundle[1]"


@pytest.mark.parametrize("prolog", [
    '<!DOCTYPE crossingReport [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;">'
    '<!ENTITY c "&b;&b;&b;&b;&b;&b;">]>',                                   # laughs
    '<!DOCTYPE crossingReport [<!ENTITY x SYSTEM "file:///etc/passwd">]>',  # external
    '<!DOCTYPE crossingReport SYSTEM "http://127.0.0.1:9/dtd">',           # external DTD
    '<!DOCTYPE crossingReport>',                                            # any DTD
])
def test_rail_refuses_dtds_and_entities(fake_server, kw, prolog):
    body = rail_report('<crossing point="DOSTYK" partnerRailway="CR">'
                       f'<movement direction="inbound" transit="false">{CONSIGNMENT}'
                       '</movement></crossing>', prolog=prolog)
    fake_server.routes["/rail/v1/crossings/2024-02-01.xml"] = [(200, {}, body)]
    before = raw_state(kw["dsn"])
    with pytest.raises(FeedError, match=r"^rail unit 2024-02-01 report: .*DTD or entity"):
        ingest.ingest_rail("2024-02", **kw)
    assert len(fake_server.hits("/rail/v1/crossings/2024-02-01.xml")) == 1  # not retried
    assert raw_state(kw["dsn"]) == before
    with pytest.raises(rail.ForbiddenXml):
        rail.parse_xml_root(body)


# ===================================================== 5. RU header, blank records, BOM

@pytest.mark.parametrize("header, column", [
    ("napr;period;strana;tnved;edizm;stoim;netto;kol;region;strana", "strana"),
    ("napr;period;strana;tnved;edizm;stoim;netto;kol;region;region_s; NAPR ", "napr"),
    ("napr;period;strana;tnved;edizm;stoim;netto;kol;region;region_s;new;new", "new"),
])
def test_ru_header_repeating_a_column_rejects_the_file(fake_server, kw, header, column):
    feed = RuFeed(fake_server, ru_csv(RU_GOOD[:2]))
    ingest.ingest_ru_customs("2024-01", **kw)
    before = raw_state(kw["dsn"])
    extra = header.count(";") - RU_HEADER.count(";")
    payload = ru_csv([line + ";x" * extra for line in RU_GOOD[2:4]], header)
    match = (rf"^ru_customs unit 2024-01 header: column '{column}' occurs more than once")
    with pytest.raises(FeedError, match=match):
        ru_customs.parse_csv(payload, "2024-01", 2, "final")
    feed.body, feed.revision = payload, 2
    with pytest.raises(FeedError, match=match):
        ingest.ingest_ru_customs("2024-01", **kw)
    assert raw_state(kw["dsn"]) == before


def test_ru_header_with_empty_trailing_names_is_no_repeat():
    payload = ru_csv([line + ";;" for line in RU_GOOD[:2]], RU_HEADER + ";;")
    assert len(ru_customs.parse_csv(payload, "2024-01", 1, "final").rows) == 2


@pytest.mark.parametrize("kind", ["bytes", "chunks"])
def test_ru_blank_delimited_lines_are_rejected_rows(fresh_database, kind):
    lines = [RU_GOOD[0], ";;;;;;;;;", " ; ;\xa0;;;;;;;", "", RU_GOOD[1], ";;;", RU_GOOD[2]]
    payload = ru_csv(lines)
    parsed = ru_customs.parse_csv(payload, "2024-01", 1, "final")
    assert [(r.row_ref, r.reason) for r in parsed.rejections] == [
        ("2", "missing_field"), ("3", "missing_field"), ("5", "missing_field")]
    assert "blank record" in parsed.rejections[0].detail
    assert [row["row_number"] for row in parsed.rows] == [1, 4, 6]
    source = payload if kind == "bytes" else (payload[i:i + 11]
                                              for i in range(0, len(payload), 11))
    raw_state(fresh_database)
    with psycopg.connect(fresh_database.conninfo, autocommit=True) as conn:
        # the empty line is no data line: 6 stated = 3 loaded + 3 rejected
        outcome = raw.load_ru_customs_csv(conn, source, "2024-01", 1, "final", "a",
                                          expected_rows=6)
    assert (outcome.rows_loaded, outcome.rows_rejected) == (3, 3)
    assert [(r["row_ref"], r["reason"]) for r in rejected(fresh_database, "ru_customs")] == [
        ("2", "missing_field"), ("3", "missing_field"), ("5", "missing_field")]


def test_ru_utf8_bom_refuses_the_file_naming_it(fake_server, kw):
    """Decided: the contract says windows-1251, where EF BB BF reads "п»ї": a BOM says
    the file is UTF-8, so it is refused (clearly), not stripped."""
    payload = b"\xef\xbb\xbf" + ru_csv(RU_GOOD[:2])
    with pytest.raises(FeedError, match=r"^ru_customs unit 2024-01 header: the file starts "
                                        r"with a UTF-8 byte order mark \(EF BB BF\)"):
        ru_customs.parse_csv(payload, "2024-01", 1, "final")
    RuFeed(fake_server, payload)
    before = raw_state(kw["dsn"])
    with pytest.raises(FeedError, match=r"^ru_customs unit 2024-01 header: .*byte order mark"):
        ingest.ingest_ru_customs("2024-01", **kw)
    assert raw_state(kw["dsn"]) == before


# ====================================================================== 6. ports

def test_ports_record_of_another_port_is_rejected(fake_server, kw):
    PortsFeed(fake_server, {"KZAAU": [{"data": [port_call("KZAAU-1"),
                                                port_call("KZKUR-7", port="KZKUR")],
                                       "next_page_token": None}]})
    summary = ingest.ingest_ports(**kw)
    [aau, _] = summary["ports"]
    assert (aau["records"], aau["calls_updated"], aau["rows_rejected"]) == (2, 1, 1)
    [row] = rejected(kw["dsn"], "ports")
    assert (row["unit"], row["row_ref"], row["reason"]) == ("KZKUR-7", "KZKUR-7 v1",
                                                            "unparsable")
    assert "port='KZKUR' is not the port asked for (KZAAU)" in row["detail"]


def test_ports_malformed_versions_above_the_held_one_are_kept(fresh_database):
    raw_state(fresh_database)

    def sync(*records):
        parsed = ports.parse_calls(list(records), "KZAAU")
        with psycopg.connect(fresh_database.conninfo, autocommit=True) as conn:
            raw.load_port_calls(conn, "KZAAU", parsed.calls, parsed.cargo_lines,
                                parsed.rejections, parsed.max_updated_at)
        calls = query(fresh_database, "select call_id, version from raw.port_calls")
        return ({r["call_id"]: r["version"] for r in calls},
                [r["row_ref"] for r in rejected(fresh_database, "ports")])

    bad = {"status": "sunk"}
    assert sync(port_call(version=1)) == ({"KZAAU-1": 1}, [])
    # v1 again and a malformed v2: v2 is the newest, rejected, kept (was dropped)
    assert sync(port_call(version=1), port_call(version=2, **bad)) == (
        {"KZAAU-1": 1}, ["KZAAU-1 v2"])
    assert sync(port_call(version=2, **bad)) == ({"KZAAU-1": 1}, ["KZAAU-1 v2"])  # rerun
    # a malformed v4 with a valid v3: v3 loads, v2's rejection goes, v4's stays
    assert sync(port_call(version=3, cargo=[{"operation": "load"}]),
                port_call(version=4, **bad)) == (
        {"KZAAU-1": 3}, ["KZAAU-1 v4", "KZAAU-1 v3 line 1"])
    # a late malformed v2 is below the held v3: ignored, as a lower version is
    assert sync(port_call(version=2, **bad)) == (
        {"KZAAU-1": 3}, ["KZAAU-1 v4", "KZAAU-1 v3 line 1"])
    # a valid v5 replaces everything
    assert sync(port_call(version=5)) == ({"KZAAU-1": 5}, [])
