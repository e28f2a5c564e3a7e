"""The feed simulator serves the five contracts of spec/feeds.md, deterministically."""

from __future__ import annotations

import csv
import hashlib
import io
import re
import xml.etree.ElementTree as ET
from collections import Counter
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import pytest
import requests

from corridor.config import MIRROR_REPORTERS_M49
from corridor.simulator import (
    RAIL_NAMESPACE,
    RU_CSV_HEADER,
    SimConfig,
    World,
    connection_uris,
    start_simulator,
)
from corridor.simulator.world import countries, countries_by_m49
from tests.simulator.client import COMTRADE_AUTH, KZ_AUTH, PORTS_AUTH, RAIL_AUTH, ports_records

SMALL = dict(scale=0.05, first_month="2023-11", last_month="2024-02")
TZ_PORT = timezone(timedelta(hours=5))
#: Field order of a real Comtrade v1 data row (shared/real/comtrade_api_samples).
COMTRADE_FIELDS = [
    "typeCode", "freqCode", "refPeriodId", "refYear", "refMonth", "period", "reporterCode",
    "reporterISO", "reporterDesc", "flowCode", "flowDesc", "partnerCode", "partnerISO",
    "partnerDesc", "partner2Code", "partner2ISO", "partner2Desc", "classificationCode",
    "classificationSearchCode", "isOriginalClassification", "cmdCode", "cmdDesc", "aggrLevel",
    "isLeaf", "customsCode", "customsDesc", "mosCode", "motCode", "motDesc", "qtyUnitCode",
    "qtyUnitAbbr", "qty", "isQtyEstimated", "altQtyUnitCode", "altQtyUnitAbbr", "altQty",
    "isAltQtyEstimated", "netWgt", "isNetWgtEstimated", "grossWgt", "isGrossWgtEstimated",
    "cifvalue", "fobvalue", "primaryValue", "legacyEstimationFlag", "isReported", "isAggregate",
]


@pytest.fixture(scope="module")
def sim():
    with start_simulator(SimConfig(**SMALL)) as handle:
        yield handle


@pytest.fixture(scope="module")
def faulty_sim():
    faults = {
        "malformed_rows": {"ru_customs": 3, "kz_customs": 3, "comtrade": 3, "ports": 2, "rail": 3},
        "unpublished": {"kz_customs": ["2024-01"], "ru_customs": ["2023-12"],
                        "rail": ["2024-01-15"]},
    }
    with start_simulator(SimConfig(faults=faults, **SMALL)) as handle:
        yield handle


def _get(handle, path, **kwargs):
    return requests.get(handle.base_url + path, timeout=30, **kwargs)


def _kz_all_items(handle, period, page_size):
    items, cursor, pages = [], None, 0
    while True:
        params = {"period": period, "page_size": page_size}
        if cursor:
            params["cursor"] = cursor
        response = _get(handle, "/kz-customs/api/v2/trade", params=params, headers=KZ_AUTH)
        assert response.status_code == 200, response.text
        body = response.json(parse_float=Decimal)
        items.extend(body["items"])
        pages += 1
        cursor = body["next_cursor"]
        if cursor is None:
            return items, pages, body


# ------------------------------------------------------------------ determinism


def test_same_seed_same_bytes_and_other_seed_differs():
    first, again = World(SimConfig(**SMALL)), World(SimConfig(**SMALL))
    other = World(SimConfig(seed=7, **SMALL))
    assert first.ru_csv_bytes("2024-01") == again.ru_csv_bytes("2024-01")
    assert first.rail_xml("2024-01-10") == again.rail_xml("2024-01-10")
    assert first.kz_items("2023-12") == again.kz_items("2023-12")
    assert first.port_versions("KZAAU") == again.port_versions("KZAAU")
    assert first.comtrade_rows(156, "2024-01") == again.comtrade_rows(156, "2024-01")
    assert first.ru_csv_bytes("2024-01") != other.ru_csv_bytes("2024-01")
    assert first.rail_xml("2024-01-10") != other.rail_xml("2024-01-10")
    assert first.kz_items("2023-12") != other.kz_items("2023-12")


def test_units_do_not_depend_on_the_window():
    """A final month has the same bytes whatever other months the world holds."""
    narrow = World(SimConfig(scale=0.05, first_month="2023-12", last_month="2024-02"))
    wide = World(SimConfig(**SMALL))
    assert narrow.ru_csv_bytes("2023-12") == wide.ru_csv_bytes("2023-12")
    assert narrow.rail_xml("2023-12-31") == wide.rail_xml("2023-12-31")


def test_row_counts_and_partners_at_small_scale():
    world = World(SimConfig(**SMALL))
    mirror_iso2 = {countries_by_m49()[m]["iso2"] for m in MIRROR_REPORTERS_M49}
    ru = world.ru_rows("2023-11")
    kz = world.kz_items("2023-11")
    assert 60 <= len(ru) <= 160 and 60 <= len(kz) <= 160
    assert mirror_iso2 | {"KZ", "XX"} <= {row["strana"] for row in ru}
    kz_partners = {countries_by_m49()[int(item["partner_m49"])]["iso2"]
                   for item in kz if item["partner_m49"] != "000"}
    assert mirror_iso2 | {"RU"} <= kz_partners
    assert "000" in {item["partner_m49"] for item in kz}


# ------------------------------------------------------------------ ru_customs


def test_ru_csv_format_matches_release_entry(sim):
    releases = _get(sim, "/ru-customs/v1/releases").json()["releases"]
    assert [r["period"] for r in releases] == ["2023-11", "2023-12", "2024-01", "2024-02"]
    assert [(r["revision"], r["status"]) for r in releases] == [
        (2, "final"), (2, "final"), (1, "preliminary"), (1, "preliminary")]
    entry = releases[0]
    response = _get(sim, entry["path"])
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/csv; charset=windows-1251"
    payload = response.content
    assert hashlib.sha256(payload).hexdigest() == entry["sha256"]
    assert response.headers["ETag"] == f'"{entry["sha256"]}"'
    text = payload.decode("windows-1251")
    assert text.count("\r\n") == text.count("\n") == entry["rows"] + 1
    lines = text.split("\r\n")
    assert lines[0] == ";".join(RU_CSV_HEADER) and lines[-1] == ""
    rows = list(csv.DictReader(io.StringIO(text, newline=""), delimiter=";"))
    assert len(rows) == entry["rows"]
    assert {row["napr"] for row in rows} == {"ЭК", "ИМ"}
    assert {row["period"] for row in rows} == {"11/2023"}
    assert all(re.fullmatch(r"\d{10}", row["tnved"]) for row in rows)
    assert all(re.fullmatch(r"\d+,\d{2}", row["stoim"]) for row in rows)
    assert all(re.fullmatch(r"\d+(,\d{1,3})?", row["netto"]) for row in rows)
    assert all(re.fullmatch(r"\d{5}", row["region"]) for row in rows)
    assert any(row["tnved"].startswith("0") for row in rows)  # leading zeros kept
    assert any("обл" in row["region_s"] for row in rows)
    keys = Counter((r["napr"], r["strana"], r["tnved"], r["region"]) for r in rows)
    assert max(keys.values()) == 1
    again = _get(sim, entry["path"], headers={"If-None-Match": response.headers["ETag"]})
    assert again.status_code == 304 and again.content == b""
    assert _get(sim, "/ru-customs/v1/data/2024-03.csv").status_code == 404


def test_ru_kz_pair_is_consistent_within_published_gap():
    world = World(SimConfig(scale=0.2, first_month="2023-06", last_month="2023-06"))
    lines_ru = world.national_lines("RUS", "2023-06")
    lines_kz = world.national_lines("KAZ", "2023-06")
    ru_x = sum(ln.value_cents for ln in lines_ru if ln.flow == "X" and ln.partner_iso2 == "KZ")
    kz_m = sum(ln.value_cents for ln in lines_kz if ln.flow == "M" and ln.partner_iso2 == "RU")
    assert -0.03 <= ru_x / kz_m - 1 <= 0.07
    assert 1.2e9 < ru_x / 100 < 2.4e9  # ~18.5 bn USD a year


# ------------------------------------------------------------------ kz_customs


def test_kz_pagination_returns_every_item_once(sim):
    periods = _get(sim, "/kz-customs/api/v2/periods", headers=KZ_AUTH).json()["periods"]
    entry = periods[-1]
    assert (entry["revision"], entry["status"]) == (1, "preliminary")
    items, pages, body = _kz_all_items(sim, entry["period"], 17)
    assert pages == -(-entry["records"] // 17) and len(items) == entry["records"]
    keys = [(i["flow"], i["tn_ved"], i["partner_m49"], i["transport_mode"], i["customs_regime"])
            for i in items]
    assert len(set(keys)) == len(keys)
    assert items == sim.world.kz_items(entry["period"])
    assert body["generated_at"].endswith("+05:00")
    assert all(len(i["tn_ved"]) == 10 and len(i["partner_m49"]) == 3 for i in items)
    assert all(i["value_thousand_usd"] == i["value_thousand_usd"].quantize(Decimal("0.001"))
               for i in items)


def test_kz_numbers_are_json_numbers_with_three_decimals(sim):
    raw = _get(sim, "/kz-customs/api/v2/trade", params={"period": "2023-11", "page_size": 1000},
               headers=KZ_AUTH).text
    values = re.findall(r'"value_thousand_usd":([^,}]+)', raw)
    assert values and all(re.fullmatch(r"\d+\.\d{3}", v) for v in values)
    weights = re.findall(r'"net_weight_t":([^,}]+)', raw)
    assert all(re.fullmatch(r"\d+\.\d{3}", w) for w in weights)


def test_kz_page_size_and_cursor_errors(sim):
    def status(**params):
        return _get(sim, "/kz-customs/api/v2/trade", params=params, headers=KZ_AUTH).status_code
    assert status(period="2023-11", page_size=1001) == 400
    assert status(period="2023-11", page_size=0) == 400
    assert status(period="2023-11", cursor="garbage!") == 400
    assert status(period="2025-01") == 404
    assert status(period="2023-11") == 200


# ------------------------------------------------------------------ auth


def test_auth_is_enforced_per_feed(sim):
    assert _get(sim, "/ru-customs/v1/releases").status_code == 200
    assert _get(sim, "/kz-customs/api/v2/periods").status_code == 401
    assert _get(sim, "/kz-customs/api/v2/periods",
                headers={"Authorization": "Bearer wrong"}).status_code == 401
    comtrade = "/data/v1/get/C/M/HS?reporterCode=156&period=202311"
    assert _get(sim, comtrade).status_code == 401
    assert _get(sim, comtrade, headers=COMTRADE_AUTH).status_code == 200
    assert _get(sim, "/ports/v1/vessel-calls?port=KZAAU").status_code == 401
    assert _get(sim, "/ports/v1/vessel-calls?port=KZAAU", headers=PORTS_AUTH).status_code == 200
    rail = "/rail/v1/crossings/2023-11-01.xml"
    assert _get(sim, rail).status_code == 401
    assert _get(sim, rail, auth=("corridor", "wrong")).status_code == 401
    assert _get(sim, rail, auth=RAIL_AUTH).status_code == 200


def test_connection_uris_point_at_the_server(sim):
    uris = connection_uris(sim.base_url)
    host = sim.base_url.removeprefix("http://")
    assert uris == {
        "AIRFLOW_CONN_CORRIDOR_RU_CUSTOMS": f"http://{host}",
        "AIRFLOW_CONN_CORRIDOR_KZ_CUSTOMS": f"http://corridor:kz-dev-token@{host}",
        "AIRFLOW_CONN_CORRIDOR_COMTRADE": f"http://corridor:comtrade-dev-key@{host}",
        "AIRFLOW_CONN_CORRIDOR_PORTS": f"http://corridor:ports-dev-key@{host}",
        "AIRFLOW_CONN_CORRIDOR_RAIL": f"http://corridor:rail-dev-password@{host}",
    }


# ------------------------------------------------------------------ comtrade


def _comtrade(handle, **params):
    response = _get(handle, "/data/v1/get/C/M/HS", params=params, headers=COMTRADE_AUTH)
    assert response.status_code == 200
    body = response.json()
    assert body["count"] == len(body["data"]) and body["error"] == ""
    return body["data"]


def test_comtrade_probe_says_who_reported(sim):
    probe = dict(partnerCode="0", cmdCode="TOTAL")
    assert _comtrade(sim, reporterCode="795", period="202311", **probe) == []
    assert len(_comtrade(sim, reporterCode="156", period="202311", **probe)) >= 1
    # Azerbaijan is late: the newest 3 months of the world are not reported yet.
    assert len(_comtrade(sim, reporterCode="31", period="202311", **probe)) >= 1
    assert _comtrade(sim, reporterCode="31", period="202312,202401,202402", **probe) == []
    assert _comtrade(sim, reporterCode="795", period="202311", partnerCode="398,643") == []


def test_comtrade_rows_have_the_real_shape_and_mirror_values(sim):
    rows = _comtrade(sim, reporterCode="156", period="202311", partnerCode="398,643",
                     flowCode="M,X", motCode="0", customsCode="C00", partner2Code="0")
    assert all(list(row) == COMTRADE_FIELDS for row in rows)
    leaves = [r for r in rows if r["motCode"] == 0 and r["customsCode"] == "C00"
              and r["partner2Code"] == 0 and r["aggrLevel"] == 6]
    assert len(leaves) < len(rows)  # breakdown and TOTAL rows come anyway
    assert any(r["cmdCode"] == "TOTAL" for r in rows)
    mirror_m = sum(r["cifvalue"] for r in leaves if r["flowCode"] == "M"
                   and r["partnerCode"] == 398)
    kz_x = sum(ln.value_cents for ln in sim.world.national_lines("KAZ", "2023-11")
               if ln.flow == "X" and ln.partner_iso2 == "CN") / 100
    assert mirror_m / kz_x == pytest.approx(1.06, rel=0.05)


def test_iran_values_imports_fob(sim):
    rows = _comtrade(sim, reporterCode="364", period="202311", partnerCode="643", flowCode="M")
    leaves = [r for r in rows if r["aggrLevel"] == 6]
    assert leaves and all(r["cifvalue"] is None and r["fobvalue"] > 0 for r in leaves)


# ------------------------------------------------------------------ ports


def test_ports_updated_since_is_inclusive_and_ordered(sim):
    everything = ports_records(sim, port="KZAAU", limit=500)
    moments = [datetime.fromisoformat(r["updated_at"]) for r in everything]
    assert moments == sorted(moments)
    assert len({(r["call_id"], r["version"]) for r in everything}) == len(everything)
    pivot = moments[len(moments) // 2]
    # Same instant written in UTC: the server compares instants, not text.
    since = pivot.astimezone(UTC).isoformat()
    newer = ports_records(sim, port="KZAAU", updated_since=since, limit=7)
    assert newer == [r for r, m in zip(everything, moments, strict=True) if m >= pivot]
    assert datetime.fromisoformat(newer[0]["updated_at"]) == pivot  # inclusive
    unencoded = sim.base_url + "/ports/v1/vessel-calls?port=KZAAU&updated_since=" + \
        pivot.isoformat()
    assert requests.get(unencoded, headers=PORTS_AUTH, timeout=30).status_code == 400
    assert _get(sim, "/ports/v1/vessel-calls?limit=501", headers=PORTS_AUTH).status_code == 400


def test_ports_versions_statuses_and_month_boundary_quirk(sim):
    world = sim.world
    assert all(datetime.fromisoformat(r["updated_at"]) <= world.now
               for r in world.port_versions())
    newest = world.port_calls()
    statuses = Counter(c["status"] for c in newest)
    assert statuses["departed"] > 0 and statuses["at_berth"] > 0 and statuses["scheduled"] > 0
    assert any(c["status"] == "at_berth" and c["call_id"][6:10] == "2024" for c in newest)
    assert any(r["version"] >= 3 for r in world.port_versions())
    boundary = []
    for call in newest:
        if call["arrived_at"] and not call["arrived_at"].endswith("+05:00"):
            shown = datetime.fromisoformat(call["arrived_at"])
            local = shown.astimezone(TZ_PORT)
            if (shown.year, shown.month) != (local.year, local.month):
                boundary.append(call)
                assert call["call_id"][6:10] == f"{local.year}"
    assert len(boundary) >= 4
    for call in newest:
        for line in call["cargo"]:
            assert (line["teu"] is None) == (line["cargo_type"] != "container")


# ------------------------------------------------------------------ rail


def test_rail_xml_parses_with_namespace_and_etag(sim):
    path = "/rail/v1/crossings/2024-02-29.xml"
    response = _get(sim, path, auth=RAIL_AUTH)
    assert response.status_code == 200
    assert response.headers["ETag"] == f'"{hashlib.sha256(response.content).hexdigest()}"'
    root = ET.fromstring(response.content)
    ns = {"r": RAIL_NAMESPACE}
    assert root.tag == f"{{{RAIL_NAMESPACE}}}crossingReport"
    assert root.get("date") == "2024-02-29" and root.get("revision") in ("1", "2")
    consignments = root.findall("r:crossing/r:movement/r:consignment", ns)
    assert consignments
    for c in consignments:
        assert set(c.attrib) == {"gng", "wagons", "teu", "tonnes", "origin", "destination"}
        assert re.fullmatch(r"\d{8}", c.get("gng")) and re.fullmatch(r"\d+\.\d{3}", c.get("tonnes"))
    points = {c.get("point") for c in root.findall("r:crossing", ns)}
    assert points <= {"DOSTYK", "ALTYNKOL", "PETROPAVL", "ILETSK", "OZINKI", "AKSARAISKAYA",
                      "BOLASHAK", "SARYAGASH", "LUGOVAYA"}
    again = _get(sim, path, auth=RAIL_AUTH, headers={"If-None-Match": response.headers["ETag"]})
    assert again.status_code == 304
    assert _get(sim, "/rail/v1/crossings/2024-03-01.xml", auth=RAIL_AUTH).status_code == 404
    assert _get(sim, "/rail/v1/crossings/2023-10-31.xml", auth=RAIL_AUTH).status_code == 404


def test_rail_transit_consignments_neither_start_nor_end_in_kazakhstan():
    world = World(SimConfig(**SMALL))
    seen = 0
    for day in ("2023-11-01", "2023-11-02", "2023-11-03", "2023-11-04"):
        for crossing in world.rail_report(day)["crossings"]:
            for movement in crossing["movements"]:
                for c in movement["consignments"]:
                    seen += 1
                    is_kz = "KZ" in (c["origin"], c["destination"])
                    assert movement["transit"] != is_kz
    assert seen > 0


# ------------------------------------------------------------------ faults


def test_malformed_rows_break_exactly_n_rows_per_unit(faulty_sim):
    world = faulty_sim.world
    iso2 = set(countries()) | {"XX"}
    text = _get(faulty_sim, "/ru-customs/v1/data/2024-01.csv").content.decode("windows-1251")
    rows = list(csv.DictReader(io.StringIO(text, newline=""), delimiter=";"))
    bad = [n for n, r in enumerate(rows, start=1)
           if not re.fullmatch(r"\d+,\d{2}", r["stoim"]) or len(r["tnved"]) != 10
           or r["strana"] not in iso2 or r["strana"] == "RU" or r["period"] != "01/2024"]
    assert bad == [ref for ref, _ in world.malformed_keys("ru_customs", "2024-01")]
    assert len(bad) == 3

    items, _, _ = _kz_all_items(faulty_sim, "2023-11", 500)
    m49 = {row["m49"] for row in countries().values()} | {"000"}
    bad = [n for n, i in enumerate(items)
           if i["value_thousand_usd"] < 0 or len(i["tn_ved"]) != 10 or "net_weight_t" not in i
           or i["partner_m49"] not in m49 or i["partner_m49"] == "398"]
    assert len(bad) == 3
    assert bad == [ref for ref, _ in world.malformed_keys("kz_customs", "2023-11")]

    rows = _comtrade(faulty_sim, reporterCode="156", period="202311")
    leaves = [r for r in rows if r["aggrLevel"] == 6 and r["motCode"] == 0
              and r["customsCode"] == "C00" and r["partner2Code"] == 0]
    bad = [r for r in leaves if r["primaryValue"] is None or r["primaryValue"] < 0
           or len(r["cmdCode"]) != 6]
    assert len(bad) == 3 and len(world.malformed_keys("comtrade", "156:2023-11")) == 3

    for port in ("KZAAU", "KZKUR"):
        calls = [c for c in world.port_calls(port) if c["call_id"][6:13] == "2023-12"]
        bad = [(c["call_id"], n) for c in calls for n, line in enumerate(c["cargo"])
               if "tonnes" not in line or float(line["tonnes"]) < 0]
        assert sorted(bad) == [(cid, n) for cid, n, _ in
                               world.malformed_keys("ports", f"{port}:2023-12")]
        assert len(bad) == 2

    root = ET.fromstring(_get(faulty_sim, "/rail/v1/crossings/2023-11-20.xml",
                              auth=RAIL_AUTH).content)
    ns = {"r": RAIL_NAMESPACE}
    known = {"DOSTYK", "ALTYNKOL", "PETROPAVL", "ILETSK", "OZINKI", "AKSARAISKAYA",
             "BOLASHAK", "SARYAGASH", "LUGOVAYA"}
    bad = []
    for crossing in root.findall("r:crossing", ns):
        for c in crossing.findall("r:movement/r:consignment", ns):
            if (crossing.get("point") not in known or "wagons" not in c.attrib
                    or c.get("tonnes", "").startswith("-") or len(c.get("gng")) != 8
                    or c.get("origin") not in iso2):
                bad.append(c)
    assert len(bad) == 3 == len(world.malformed_keys("rail", "2023-11-20"))


def test_unpublished_units_are_absent_and_404(faulty_sim):
    periods = _get(faulty_sim, "/kz-customs/api/v2/periods", headers=KZ_AUTH).json()["periods"]
    assert "2024-01" not in [p["period"] for p in periods]
    assert _get(faulty_sim, "/kz-customs/api/v2/trade?period=2024-01",
                headers=KZ_AUTH).status_code == 404
    releases = _get(faulty_sim, "/ru-customs/v1/releases").json()["releases"]
    assert "2023-12" not in [r["period"] for r in releases]
    assert _get(faulty_sim, "/ru-customs/v1/data/2023-12.csv").status_code == 404
    assert _get(faulty_sim, "/rail/v1/crossings/2024-01-15.xml", auth=RAIL_AUTH).status_code == 404
    assert _get(faulty_sim, "/rail/v1/crossings/2024-01-16.xml", auth=RAIL_AUTH).status_code == 200


def test_transient_faults_are_deterministic():
    config = SimConfig(faults={"transient": {"rate": 0.3}}, **SMALL)

    def statuses():
        with start_simulator(config) as handle:
            out = []
            for _ in range(30):
                response = _get(handle, "/ru-customs/v1/releases")
                if response.status_code != 200:
                    assert response.headers["Retry-After"] == "0"
                out.append(response.status_code)
            return out

    first = statuses()
    assert first == statuses()
    assert set(first) - {200} and set(first) <= {200, 429, 503}
    assert 200 in first
