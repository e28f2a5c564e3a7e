"""Fault injection of the feed simulator: each kind happens, deterministically, as documented."""

from __future__ import annotations

import csv
import hashlib
import http.client
import io
import json
import xml.etree.ElementTree as ET
from collections import Counter
from datetime import datetime
from decimal import Decimal

import pytest
import requests

from corridor.simulator import (
    RAIL_NAMESPACE,
    RU_CSV_HEADER,
    SimConfig,
    World,
    start_simulator,
)
from corridor.simulator.world import RU_EXTRA_COLUMN, dumps, ru_rows_per_month
from tests.simulator.client import KZ_AUTH, RAIL_AUTH, ports_records

SMALL = dict(scale=0.05, first_month="2024-01", last_month="2024-03")
NS = {"r": RAIL_NAMESPACE}


def _world(**faults) -> World:
    return World(SimConfig(faults=faults, **SMALL))


def _outcome(handle, path, **kwargs) -> str:
    try:
        response = requests.get(handle.base_url + path, timeout=10, **kwargs)
        response.content  # noqa: B018 - read the whole body
    except requests.exceptions.ConnectionError as exc:
        return f"conn:{type(exc).__name__}"
    except requests.exceptions.RequestException as exc:
        return f"body:{type(exc).__name__}"
    return str(response.status_code)


def _run(faults, path="/ru-customs/v1/releases", n=30, **kwargs) -> list[str]:
    with start_simulator(SimConfig(faults=faults, **SMALL)) as handle:
        return [_outcome(handle, path, **kwargs) for _ in range(n)]


def _max_failure_streak(outcomes: list[str]) -> int:
    streak = best = 0
    for outcome in outcomes:
        streak = 0 if outcome == "200" else streak + 1
        best = max(best, streak)
    return best


def _ru_rows(payload: bytes) -> list[dict[str, str]]:
    text = payload.decode("windows-1251")
    return list(csv.DictReader(io.StringIO(text, newline=""), delimiter=";"))


# ------------------------------------------------------------------ delivery faults


def test_http_errors_are_5xx_without_retry_after_and_deterministic():
    faults = {"http_errors": {"rate": 0.4}}
    first = _run(faults)
    assert first == _run(faults)
    assert set(first) - {"200"} and set(first) <= {"200", "500", "502", "504"}
    with start_simulator(SimConfig(faults=faults, **SMALL)) as handle:
        for _ in range(10):
            response = requests.get(handle.base_url + "/ru-customs/v1/releases", timeout=10)
            if response.status_code != 200:
                assert "Retry-After" not in response.headers


def test_drop_connection_sends_nothing_and_is_deterministic():
    faults = {"drop_connection": {"rate": 0.4}}
    first = _run(faults)
    assert first == _run(faults)
    assert {o for o in first if o != "200"} == {"conn:ConnectionError"}
    assert "200" in first


def test_truncated_body_announces_full_length_and_sends_half():
    faults = {"truncated_body": {"rate": 1.0}}
    world = World(SimConfig(**SMALL))
    full = world.ru_csv_bytes("2024-01")
    with start_simulator(SimConfig(faults=faults, **SMALL)) as handle:
        conn = http.client.HTTPConnection(handle.host, handle.port, timeout=10)
        conn.request("GET", "/ru-customs/v1/data/2024-01.csv")
        response = conn.getresponse()
        assert response.status == 200
        assert int(response.getheader("Content-Length")) == len(full)
        assert response.getheader("ETag") == f'"{hashlib.sha256(full).hexdigest()}"'
        with pytest.raises(http.client.IncompleteRead) as caught:
            response.read()
        assert caught.value.partial == full[:len(full) // 2]
        conn.close()
    outcomes = _run(faults, "/ru-customs/v1/data/2024-01.csv", n=6)
    assert outcomes == _run(faults, "/ru-customs/v1/data/2024-01.csv", n=6)
    assert any(o.startswith("body:") or o.startswith("conn:") for o in outcomes)


def test_delivery_faults_respect_the_feeds_filter():
    faults = {"transient": {"rate": 0.9, "feeds": ["rail"]},
              "http_errors": {"rate": 0.9, "feeds": ["kz_customs"]}}
    assert set(_run(faults, n=15)) == {"200"}
    rail = _run(faults, "/rail/v1/crossings/2024-01-05.xml", n=15, auth=RAIL_AUTH)
    assert set(rail) - {"200"} <= {"429", "503"} and set(rail) != {"200"}


def test_an_identical_request_never_fails_more_than_twice_in_a_row():
    faults = {kind: {"rate": 0.95} for kind in
              ("transient", "http_errors", "drop_connection", "truncated_body")}
    outcomes = _run(faults, "/ru-customs/v1/data/2024-02.csv", n=30)
    assert _max_failure_streak(outcomes) == 2
    assert outcomes == _run(faults, "/ru-customs/v1/data/2024-02.csv", n=30)
    kinds = {o for o in outcomes if o != "200"}
    assert {"conn:ConnectionError"} <= kinds and kinds & {"429", "503"} and kinds & {
        "500", "502", "504"}
    # The old transient kind alone keeps its statuses and its Retry-After.
    transient = _run({"transient": {"rate": 0.9}}, n=20)
    assert set(transient) == {"200", "429", "503"} and _max_failure_streak(transient) <= 2


# ------------------------------------------------------------------ kz revision change


def _kz_pages(handle, period, page_size, cursor=None):
    params = {"period": period, "page_size": page_size}
    if cursor:
        params["cursor"] = cursor
    return requests.get(handle.base_url + "/kz-customs/api/v2/trade", params=params,
                        headers=KZ_AUTH, timeout=10)


def _kz_read_all(handle, period, page_size):
    pages, cursor = [], None
    while True:
        response = _kz_pages(handle, period, page_size, cursor)
        assert response.status_code == 200, response.text
        pages.append(response.content)
        cursor = response.json()["next_cursor"]
        if cursor is None:
            return pages


def test_kz_revision_change_409_then_restart_equals_republished_world():
    period = "2024-02"
    live = SimConfig(faults={"kz_revision_change": {"periods": [period], "after_pages": 2}},
                     **SMALL)
    static = SimConfig(faults={"kz_republished": {"periods": [period]}}, **SMALL)
    clean = World(SimConfig(**SMALL))
    with start_simulator(live) as handle, start_simulator(static) as final:
        periods = requests.get(handle.base_url + "/kz-customs/api/v2/periods",
                               headers=KZ_AUTH, timeout=10).json()["periods"]
        before = {p["period"]: p for p in periods}[period]
        assert before["revision"] == clean.kz_period_info(period)["revision"]
        first = _kz_pages(handle, period, 10)
        second = _kz_pages(handle, period, 10, first.json()["next_cursor"])
        assert second.status_code == 200  # the 2nd page of the old revision is served ...
        third = _kz_pages(handle, period, 10, second.json()["next_cursor"])
        assert third.status_code == 409 and third.json() == {"error": "revision_changed"}
        periods = requests.get(handle.base_url + "/kz-customs/api/v2/periods",
                               headers=KZ_AUTH, timeout=10).json()["periods"]
        after = {p["period"]: p for p in periods}[period]
        assert after["revision"] == before["revision"] + 1
        assert after["status"] == before["status"]
        restarted = _kz_read_all(handle, period, 10)
        assert restarted == _kz_read_all(final, period, 10)  # byte-identical pages
        assert handle.world.kz_republished_live() == [period]
        assert handle.world.kz_items(period) == World(static).kz_items(period)
    old, new = clean.kz_items(period), World(static).kz_items(period)

    def key(i):
        return (i["flow"], i["tn_ved"], i["partner_m49"], i["transport_mode"],
                i["customs_regime"])
    assert 1 <= len(old) - len(new) <= max(2, len(old) * 0.05)
    old_by_key = {key(i): i for i in old}
    assert {key(i) for i in new} < set(old_by_key)
    changed = [i for i in new if i != old_by_key[key(i)]]
    assert changed and all(i["value_thousand_usd"] != old_by_key[key(i)]["value_thousand_usd"]
                           for i in changed)
    # The other periods are untouched.
    assert World(static).kz_items("2024-01") == clean.kz_items("2024-01")


# ------------------------------------------------------------------ shrinking revision


def test_shrinking_revision_has_fewer_rows_and_a_higher_revision():
    clean = _world()
    shrunk = _world(shrinking_revision={"ru_customs": ["2024-01"], "kz_customs": ["2024-03"],
                                        "rail": ["2024-01-03"]})
    old, new = clean.ru_release("2024-01"), shrunk.ru_release("2024-01")
    assert new["revision"] == old["revision"] + 1 and new["status"] == old["status"]
    assert new["rows"] < old["rows"] and new["sha256"] != old["sha256"]
    old_rows = {(r["napr"], r["strana"], r["tnved"], r["region"]): r for r in clean.ru_rows(
        "2024-01")}
    new_rows = shrunk.ru_rows("2024-01")
    assert all((r["napr"], r["strana"], r["tnved"], r["region"]) in old_rows for r in new_rows)
    assert any(r != old_rows[(r["napr"], r["strana"], r["tnved"], r["region"])]
               for r in new_rows)
    assert shrunk.ru_release("2024-02") == clean.ru_release("2024-02")

    old_kz, new_kz = clean.kz_period_info("2024-03"), shrunk.kz_period_info("2024-03")
    assert new_kz["revision"] == old_kz["revision"] + 1 and new_kz["records"] < old_kz["records"]

    def consignments(world):
        root = ET.fromstring(world.rail_xml("2024-01-03"))
        return int(root.get("revision")), [c.attrib for c in root.iter(
            f"{{{RAIL_NAMESPACE}}}consignment")]
    old_rev, old_c = consignments(clean)
    new_rev, new_c = consignments(shrunk)
    assert new_rev == old_rev + 1 and 1 <= len(old_c) - len(new_c)
    assert clean.rail_xml("2024-01-03") != shrunk.rail_xml("2024-01-03")
    assert clean.rail_xml("2024-01-04") == shrunk.rail_xml("2024-01-04")
    # deterministic
    again = _world(shrinking_revision={"ru_customs": ["2024-01"], "rail": ["2024-01-03"]})
    assert again.ru_csv_bytes("2024-01") == shrunk.ru_csv_bytes("2024-01")
    assert again.rail_xml("2024-01-03") == shrunk.rail_xml("2024-01-03")


# ------------------------------------------------------------------ extra columns


def test_extra_columns_leave_the_content_unchanged():
    feeds = ("ru_customs", "kz_customs", "comtrade", "ports", "rail")
    clean, extra = _world(), _world(extra_columns={feed: True for feed in feeds})

    payload = extra.ru_csv_bytes("2024-01")
    header = payload.decode("windows-1251").split("\r\n", 1)[0].split(";")
    assert header[header.index("strana") + 1] == RU_EXTRA_COLUMN
    assert [c for c in header if c != RU_EXTRA_COLUMN] == list(RU_CSV_HEADER)
    rows = _ru_rows(payload)
    assert all(r[RU_EXTRA_COLUMN] for r in rows)
    assert [{k: v for k, v in r.items() if k != RU_EXTRA_COLUMN} for r in rows] == _ru_rows(
        clean.ru_csv_bytes("2024-01"))
    assert extra.ru_release("2024-01")["sha256"] == hashlib.sha256(payload).hexdigest()

    known = set(clean.kz_items("2024-01")[0])
    items = extra.kz_items("2024-01")
    assert set(items[0]) > known
    assert [{k: v for k, v in i.items() if k in known} for i in items] == clean.kz_items(
        "2024-01")

    rows = extra.comtrade_rows(156, "2024-01")
    fields = set(clean.comtrade_rows(156, "2024-01")[0])
    assert set(rows[0]) > fields
    assert [{k: v for k, v in r.items() if k in fields} for r in rows] == clean.comtrade_rows(
        156, "2024-01")

    def strip_call(record, call_keys, line_keys):
        out = {k: v for k, v in record.items() if k in call_keys}
        out["cargo"] = [{k: v for k, v in line.items() if k in line_keys}
                        for line in record["cargo"]]
        return out
    versions = clean.port_versions("KZAAU")
    call_keys = set().union(*(set(r) for r in versions))
    line_keys = {"operation", "cargo_type", "hs_chapter", "tonnes", "teu"}
    got = extra.port_versions("KZAAU")
    assert all(set(r) - call_keys for r in got)
    assert all(set(line) - line_keys for r in got for line in r["cargo"])
    assert [strip_call(r, call_keys, line_keys) for r in got] == versions

    root, clean_root = (ET.fromstring(w.rail_xml("2024-01-05")) for w in (extra, clean))
    assert root.find("r:summary", NS) is not None and "issuer" in root.attrib
    assert root.find("r:crossing/r:movement/r:locomotive", NS) is not None
    attrs = [c.attrib for c in root.iter(f"{{{RAIL_NAMESPACE}}}consignment")]
    assert all("waybill" in a for a in attrs)
    assert [{k: v for k, v in a.items() if k != "waybill"} for a in attrs] == [
        c.attrib for c in clean_root.iter(f"{{{RAIL_NAMESPACE}}}consignment")]


# ------------------------------------------------------------------ duplicate rows


def test_duplicate_rows_deliver_n_keys_twice_per_unit():
    world = _world(duplicate_rows={"ru_customs": 2, "kz_customs": 3, "comtrade": 2, "rail": 2})
    clean = _world()

    rows = _ru_rows(world.ru_csv_bytes("2024-01"))
    counts = Counter((r["napr"], r["strana"], r["tnved"], r["region"]) for r in rows)
    twice = sorted(k for k, n in counts.items() if n == 2)
    assert len(twice) == 2 and max(counts.values()) == 2
    assert twice == sorted(world.duplicate_keys("ru_customs", "2024-01"))
    assert len(rows) == len(clean.ru_rows("2024-01")) + 2
    assert world.ru_release("2024-01")["rows"] == len(rows)

    items = world.kz_items("2024-02")
    counts = Counter((i["flow"], i["tn_ved"], i["partner_m49"], i["transport_mode"],
                      i["customs_regime"]) for i in items)
    assert sorted(k for k, n in counts.items() if n == 2) == sorted(
        world.duplicate_keys("kz_customs", "2024-02"))
    assert len(world.duplicate_keys("kz_customs", "2024-02")) == 3

    rows = world.comtrade_rows(156, "2024-01")
    counts = Counter((r["reporterCode"], r["period"], r["flowCode"], r["partnerCode"],
                      r["partner2Code"], r["cmdCode"], r["motCode"], r["customsCode"])
                     for r in rows)
    assert sorted(k for k, n in counts.items() if n == 2) == sorted(
        world.duplicate_keys("comtrade", "156:2024-01"))
    assert len(world.duplicate_keys("comtrade", "156:2024-01")) == 2

    root = ET.fromstring(world.rail_xml("2024-01-07"))
    keys = Counter()
    for crossing in root.findall("r:crossing", NS):
        for movement in crossing.findall("r:movement", NS):
            for c in movement.findall("r:consignment", NS):
                keys[(crossing.get("point"), movement.get("direction"),
                      movement.get("transit") == "true",
                      *(c.get(k) for k in ("gng", "wagons", "teu", "tonnes", "origin",
                                           "destination")))] += 1
    assert sorted(k for k, n in keys.items() if n == 2) == sorted(
        world.duplicate_keys("rail", "2024-01-07"))
    assert len(world.duplicate_keys("rail", "2024-01-07")) == 2
    assert world.duplicate_keys("ru_customs", "2024-01") == _world(
        duplicate_rows={"ru_customs": 2}).duplicate_keys("ru_customs", "2024-01")


def test_duplicate_rows_and_malformed_rows_combine():
    world = _world(duplicate_rows={"ru_customs": 2}, malformed_rows={"ru_customs": 3})
    rows = world.ru_rows("2024-01")
    broken = world.malformed_keys("ru_customs", "2024-01")
    assert len(broken) == 3 and len(world.duplicate_keys("ru_customs", "2024-01")) == 2
    clean_keys = {(r["napr"], r["strana"], r["tnved"], r["region"])
                  for n, r in enumerate(rows, start=1) if n not in {ref for ref, _ in broken}}
    assert set(world.duplicate_keys("ru_customs", "2024-01")) <= clean_keys


# ------------------------------------------------------------------ ports delivery


def test_duplicate_deliveries_overlap_ports_pages():
    config = SimConfig(faults={"duplicate_deliveries": {"rate": 0.5, "feeds": ["ports"]}},
                       **SMALL)
    with start_simulator(config) as handle:
        got = ports_records(handle, port="KZAAU", limit=10)
        world = handle.world
    with start_simulator(config) as handle:
        assert ports_records(handle, port="KZAAU", limit=10) == got
    seen = Counter((r["call_id"], r["version"]) for r in got)
    assert max(seen.values()) >= 2  # the same version delivered twice ...
    unique = {}
    for record in got:
        key = (record["call_id"], record["version"])
        assert unique.setdefault(key, record) == record  # ... with the same content
    assert list(unique.values()) == json.loads(dumps(world.port_versions("KZAAU")))


def test_ports_out_of_order_versions_the_highest_still_wins():
    clean, shuffled = _world(), _world(ports_out_of_order=True)
    moved = [pair for month in ("2024-01", "2024-02", "2024-03")
             for pair in shuffled.out_of_order_versions("KZAAU", month)]
    assert moved
    feed = shuffled.port_versions("KZAAU")
    position = {(r["call_id"], r["version"]): n for n, r in enumerate(feed)}
    moments = [datetime.fromisoformat(r["updated_at"]) for r in feed]
    assert moments == sorted(moments)
    for call_id, version in moved:
        assert position[(call_id, version + 1)] < position[(call_id, version)]
    assert len(position) == len(feed)  # each version exactly once: one content per version
    assert shuffled.port_calls() == clean.port_calls()
    assert _world(ports_out_of_order=True).port_versions("KZAAU") == feed


# ------------------------------------------------------------------ scale / streaming


def test_ru_csv_stream_small_world_equals_bytes_and_big_stream_keeps_the_format():
    world = _world()
    assert b"".join(world.ru_csv_stream("2024-01", chunk_bytes=4096)) == world.ru_csv_bytes(
        "2024-01")
    assert ru_rows_per_month(50) == 100_000
    chunks = list(world.ru_csv_stream("2024-01", rows=12_000, chunk_bytes=65536))
    assert len(chunks) > 1
    payload = b"".join(chunks)
    assert payload == b"".join(world.ru_csv_stream("2024-01", rows=12_000))
    text = payload.decode("windows-1251")
    assert text.split("\r\n", 1)[0] == ";".join(RU_CSV_HEADER)
    assert text.count("\r\n") == text.count("\n") == 12_001
    rows = _ru_rows(payload)
    keys = {(r["napr"], r["strana"], r["tnved"], r["region"]) for r in rows}
    assert len(rows) == len(keys) == 12_000
    assert {r["period"] for r in rows} == {"01/2024"}
    assert all(len(r["tnved"]) == 10 and "," in r["stoim"] for r in rows)
    assert Decimal(sum(Decimal(r["stoim"].replace(",", ".")) for r in rows)) > 0


def test_benchmark_scale_world_streams_its_release():
    config = SimConfig(scale=26, first_month="2024-01", last_month="2024-01")
    with start_simulator(config) as handle:
        assert handle.world.ru_streamed()
        release = requests.get(handle.base_url + "/ru-customs/v1/releases",
                               timeout=60).json()["releases"][0]
        response = requests.get(handle.base_url + release["path"], timeout=60)
        assert response.status_code == 200
        assert hashlib.sha256(response.content).hexdigest() == release["sha256"]
        assert response.headers["ETag"] == f'"{release["sha256"]}"'
        assert release["rows"] == ru_rows_per_month(26) == 52_000
