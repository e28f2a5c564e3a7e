"""The ingest functions end to end: scripted HTTP feed → landing → raw (real PostgreSQL)."""

from __future__ import annotations

import hashlib
import json

import psycopg
import pytest

from corridor import ingest
from corridor.config import Settings

HEADER = "napr;period;strana;tnved;edizm;stoim;netto;kol;region;region_s"


def csv_bytes(lines) -> bytes:
    return ("\r\n".join([HEADER, *lines]) + "\r\n").encode("windows-1251")


@pytest.fixture()
def settings(tmp_path):
    return Settings(landing_dir=tmp_path / "landing")


def count(dsn, sql):
    with psycopg.connect(dsn.conninfo) as conn:
        return conn.execute(sql).fetchone()[0]


def test_ingest_ru_customs_rerun_and_revision(fake_server, fresh_database, settings):
    state = {"revision": 1, "body": csv_bytes([
        "ЭК;01/2024;KZ;0101210000;;1,50;2;;;",
        "ЭК;01/2024;CN;2709009001;;3,00;4;;;",
        "ЭК;01/2024;RU;2709009001;;3,00;4;;;"])}

    def releases(path, query, headers):
        sha = hashlib.sha256(state["body"]).hexdigest()
        return (200, {}, json.dumps({"releases": [
            {"period": "2024-01", "revision": state["revision"], "status": "final",
             "sha256": sha, "rows": state["body"].count(b"\r\n") - 1,
             "path": "/ru-customs/v1/data/2024-01.csv"}]}).encode())

    def data(path, query, headers):
        sha = hashlib.sha256(state["body"]).hexdigest()
        if headers.get("If-None-Match") == f'"{sha}"':
            return (304, {}, b"")
        return (200, {"ETag": f'"{sha}"'}, state["body"])

    fake_server.routes["/ru-customs/v1/releases"] = releases
    fake_server.routes["/ru-customs/v1/data/2024-01.csv"] = data
    kwargs = {"dsn": fresh_database, "settings": settings, "endpoint": fake_server.endpoint()}

    first = ingest.ingest_ru_customs("2024-01", **kwargs)
    assert (first["rows_loaded"], first["rows_rejected"], first["skipped"]) == (2, 1, None)
    json.dumps(first)
    assert len(list((settings.landing_root / "ru_customs" / "2024-01").glob("r1-*.csv"))) == 1

    again = ingest.ingest_ru_customs("2024-01", **kwargs)
    assert again["skipped"] == "unchanged"
    assert count(fresh_database, "select count(*) from raw.ru_customs_rows") == 2

    state.update(revision=2, body=csv_bytes(["ЭК;01/2024;KZ;0101210000;;9,50;2;;;"]))
    revised = ingest.ingest_ru_customs("2024-01", **kwargs)
    assert (revised["revision"], revised["rows_loaded"], revised["rows_rejected"]) == (2, 1, 0)
    assert count(fresh_database, "select count(*) from raw.rejected_rows") == 0
    assert ingest.ingest_ru_customs("2024-02", **kwargs)["skipped"] == "not_released"


def test_ingest_rail_month(fake_server, fresh_database, settings):
    body = (b'<?xml version="1.0" encoding="UTF-8"?>'
            b'<crossingReport xmlns="urn:corridor:rail:crossing:1" date="2024-02-01" '
            b'revision="1"><crossing point="DOSTYK" partnerRailway="CR">'
            b'<movement direction="inbound" transit="false"><consignment gng="84713000" '
            b'wagons="2" teu="4" tonnes="36.400" origin="CN" destination="KZ"/></movement>'
            b'</crossing></crossingReport>')
    sha = hashlib.sha256(body).hexdigest()

    def day1(path, query, headers):
        if headers.get("If-None-Match") == f'"{sha}"':
            return (304, {}, b"")
        return (200, {"ETag": f'"{sha}"'}, body)

    fake_server.routes["/rail/v1/crossings/2024-02-01.xml"] = day1
    fake_server.routes["/rail/v1/crossings/2024-02-02.xml"] = [
        (200, {}, body)]  # date 2024-02-01 served for 02-02: rejected whole
    kwargs = {"dsn": fresh_database, "settings": settings, "endpoint": fake_server.endpoint()}
    summary = ingest.ingest_rail("2024-02", **kwargs)
    assert summary["days_out"] == 2 and summary["rows_loaded"] == 1
    assert summary["rows_rejected"] == 1
    again = ingest.ingest_rail("2024-02", **kwargs)
    assert again["days"][0]["skipped"] == "unchanged"
    assert count(fresh_database, "select count(*) from raw.rail_consignments") == 1
    assert count(fresh_database, "select reason from raw.rejected_rows") == "date_mismatch"
    # the rejected day is recorded, but as rejected: its month stays provisional
    assert count(fresh_database, "select string_agg(unit || '=' || coalesce(status, 'null'), "
                 "',' order by unit) from raw.loaded_units where feed = 'rail'") == (
        "2024-02-01=null,2024-02-02=rejected")


def test_ingest_ports_incremental(fake_server, fresh_database, settings):
    def call(version, updated):
        return {"call_id": "KZAAU-1", "port": "KZAAU", "version": version,
                "updated_at": updated, "status": "departed", "vessel": None,
                "arrived_at": "2024-01-31T22:40:00+05:00",
                "cargo": [{"operation": "load", "cargo_type": "general", "tonnes": 5},
                          {"operation": "load", "cargo_type": "general", "tonnes": None}]}

    pages = {"KZAAU": [call(2, "2024-02-01T10:00:00+05:00"),
                       call(1, "2024-01-31T10:00:00+05:00")], "KZKUR": []}

    def serve(path, query, headers):
        port = "KZAAU" if "port=KZAAU" in query else "KZKUR"
        return (200, {}, json.dumps({"data": pages[port], "next_page_token": None}).encode())

    fake_server.routes["/ports/v1/vessel-calls"] = serve
    kwargs = {"dsn": fresh_database, "settings": settings, "endpoint": fake_server.endpoint()}
    first = ingest.ingest_ports(**kwargs)
    assert first["rows_loaded"] == 1 and first["rows_rejected"] == 1
    assert count(fresh_database, "select version from raw.port_calls") == 2
    ingest.ingest_ports(**kwargs)
    queries = [r["query"] for r in fake_server.requests if "KZAAU" in r["query"]]
    assert "updated_since=2024-02-01T10%3A00%3A00%2B05%3A00" in queries[-1]
    assert count(fresh_database, "select count(*) from raw.port_cargo_lines") == 1
    assert count(fresh_database, "select count(*) from raw.rejected_rows") == 1
    # KZKUR sent no call: synced all the same, with no high-water mark yet
    assert count(fresh_database, "select string_agg(port || '=' || coalesce(high_water_mark, "
                 "'none'), ',' order by port) from raw.port_sync_state") == (
        "KZAAU=2024-02-01T10:00:00+05:00,KZKUR=none")


def test_ingest_kz_and_comtrade(fake_server, fresh_database, settings):
    item = {"flow": "export", "tn_ved": "2709009001", "partner_m49": "156",
            "value_thousand_usd": 1.5, "net_weight_t": 2.25, "transport_mode": "rail",
            "customs_regime": "10"}
    fake_server.routes["/kz-customs/api/v2/periods"] = [(200, {}, json.dumps({"periods": [
        {"period": "2024-01", "revision": 1, "status": "preliminary", "records": 2}]}).encode())]
    fake_server.routes["/kz-customs/api/v2/trade"] = lambda p, q, h: (200, {}, json.dumps({
        "period": "2024-01", "revision": 1, "status": "preliminary",
        "items": [item] if "cursor" in q else [{**item, "partner_m49": "031"}],
        "next_cursor": None if "cursor" in q else "c2"}).encode())
    kwargs = {"dsn": fresh_database, "settings": settings, "endpoint": fake_server.endpoint()}
    kz = ingest.ingest_kz_customs("2024-01", **kwargs)
    assert (kz["rows_loaded"], kz["pages"]) == (2, 2)
    assert ingest.ingest_kz_customs("2024-01", **kwargs)["skipped"] == "unchanged"
    assert count(fresh_database, "select min(partner_m49) from raw.kz_customs_rows") == "031"

    fake_server.routes["/data/v1/getDa/C/M/HS"] = lambda p, q, h: (200, {}, json.dumps({
        "count": 1, "error": "", "data": [{"reporterCode": 156, "period": "202401",
                                            "totalRecords": 2, "datasetChecksum": "c1"}]}
    ).encode())

    def data(path, query, headers):
        assert "reporterCode=156&" in query  # the only reporter the listing names
        rows = [{"reporterCode": 156, "period": "202401", "flowCode": "M", "partnerCode": 398,
                 "partner2Code": 0, "cmdCode": cmd, "aggrLevel": level, "motCode": 0,
                 "customsCode": "C00", "primaryValue": 10.5, "cifvalue": 10.5,
                 "fobvalue": None, "netWgt": None}
                for cmd, level in (("270900", 6), ("TOTAL", 0))]
        return (200, {}, json.dumps({"count": 2, "data": rows, "error": ""}).encode())

    fake_server.routes["/data/v1/get/C/M/HS"] = data
    summary = ingest.ingest_comtrade("2024-01", **kwargs)
    assert summary["rows_loaded"] == 2 and summary["reporters_reported"] == 1
    assert summary["calls"] == 2  # the listing, one data call; 8 reporters not reported
    again = ingest.ingest_comtrade("2024-01", **kwargs)
    assert again["calls"] == 1 and again["units"] == []  # the listing says: unchanged
    assert len(fake_server.hits("/data/v1/get/C/M/HS")) == 1
    assert count(fresh_database, "select count(*) from raw.comtrade_rows "
                                 "where is_counted_leaf") == 1
    assert count(fresh_database, "select count(*) from raw.comtrade_reporting") == 9
    assert count(fresh_database, "select count(*) from raw.loaded_units "
                                 "where feed = 'comtrade'") == 9
