"""Comtrade availability (getDa), record cap, call quota; the simulator's control surface
(request log, live revisions) and its standalone process (--port-file)."""

from __future__ import annotations

import hashlib
import json
import os
import re
import signal
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import requests

import corridor
from corridor.config import MIRROR_REPORTERS_M49
from corridor.simulator import RAIL_NAMESPACE, SimConfig, World, start_simulator
from tests.simulator.client import COMTRADE_AUTH, KZ_AUTH, RAIL_AUTH

SMALL = dict(scale=0.05, first_month="2023-11", last_month="2024-02")
DA = "/data/v1/getDa/C/M/HS"
DATA = "/data/v1/get/C/M/HS"
DA_FIELDS = ["typeCode", "freqCode", "classificationCode", "classificationSearchCode",
             "isOriginalClassification", "reporterCode", "period", "refYear", "refMonth",
             "totalRecords", "datasetChecksum", "firstReleased", "lastReleased"]
QUOTA_MESSAGE = re.compile(r"^Out of call volume quota\. Quota will be replenished in "
                           r"\d\d:\d\d:\d\d\.$")


@pytest.fixture(scope="module")
def sim():
    with start_simulator(SimConfig(**SMALL)) as handle:
        yield handle


def _get(handle, path, **kwargs):
    return requests.get(handle.base_url + path, timeout=30, **kwargs)


def _post(handle, path, payload=None, data=None):
    if payload is not None:
        data = json.dumps(payload)
    return requests.post(handle.base_url + path, data=data, timeout=30)


def _da(handle, **params):
    response = _get(handle, DA, params=params, headers=COMTRADE_AUTH)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["error"] == "" and body["count"] == len(body["data"])
    assert "elapsedTime" in body
    return body["data"]


def _data(handle, **params):
    response = _get(handle, DATA, params=params, headers=COMTRADE_AUTH)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["count"] == len(body["data"])
    return body["data"]


def _units(rows):
    return [(row["reporterCode"], row["period"]) for row in rows]


def _by_unit(rows):
    return {(row["reporterCode"], row["period"]): row for row in rows}


def _canonical_sha(rows):
    text = json.dumps(rows, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


# ------------------------------------------------------------------ getDa


def test_get_da_lists_exactly_the_reported_units(sim):
    rows = _da(sim)
    assert all(list(row) == DA_FIELDS for row in rows)
    months = ["202311", "202312", "202401", "202402"]
    # The spec's other answer to "has j reported t": the probe returns at least one row.
    probed = [(j, t) for j in sorted(MIRROR_REPORTERS_M49) for t in months
              if _data(sim, reporterCode=str(j), period=t, partnerCode="0", cmdCode="TOTAL")]
    assert _units(rows) == probed
    units = set(probed)
    assert (795, "202311") not in units  # never reports
    assert (31, "202311") in units and (31, "202402") not in units  # late reporter
    assert len(units) < len(MIRROR_REPORTERS_M49) * len(months)
    for row in rows:
        assert row["typeCode"] == "C" and row["freqCode"] == "M"
        assert row["classificationCode"] == "H6" and row["classificationSearchCode"] == "HS"
        assert row["isOriginalClassification"] is True
        assert row["refYear"] == int(row["period"][:4])
        assert row["refMonth"] == int(row["period"][4:])
        assert re.fullmatch(r"[0-9a-f]{64}", row["datasetChecksum"])
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d", row["firstReleased"])
        assert row["lastReleased"] == row["firstReleased"]  # nothing revised yet
        assert row["firstReleased"][:7].replace("-", "") > row["period"]


def test_get_da_unpublished_unit_and_classification():
    faults = {"unpublished": {"comtrade": ["156:2024-01"]}}
    with start_simulator(SimConfig(faults=faults, **SMALL)) as handle:
        units = set(_units(_da(handle, reporterCode="156")))
    assert units == {(156, "202311"), (156, "202312"), (156, "202402")}
    old = World(SimConfig(scale=0.05, first_month="2021-11", last_month="2022-01"))
    codes = {row["period"]: row["classificationCode"]
             for row in old.comtrade_availability([156], None)}
    assert codes == {"202111": "H5", "202112": "H5", "202201": "H6"}


def test_get_da_filters_by_comma_lists(sim):
    both = _da(sim, reporterCode="156,860", period="202401,202402")
    assert _units(both) == [(156, "202401"), (156, "202402"), (860, "202401"), (860, "202402")]
    assert _units(_da(sim, reporterCode="156")) == [
        (156, "202311"), (156, "202312"), (156, "202401"), (156, "202402")]
    by_period = _units(_da(sim, period="202312"))
    assert by_period == [unit for unit in _units(_da(sim)) if unit[1] == "202312"]
    assert (156, "202312") in by_period and (795, "202312") not in by_period
    assert _da(sim, reporterCode="795") == []
    assert _da(sim, period="202001") == []
    assert _get(sim, DA, params={"reporterCode": "abc"},
                headers=COMTRADE_AUTH).status_code == 400


def test_get_da_needs_the_key(sim):
    assert _get(sim, DA).status_code == 401
    assert _get(sim, DA, headers={"Ocp-Apim-Subscription-Key": "wrong"}).status_code == 401


def test_total_records_and_checksum_describe_the_data_rows(sim):
    for row in _da(sim, reporterCode="156,398,860", period="202311,202402"):
        data = _data(sim, reporterCode=str(row["reporterCode"]), period=row["period"])
        assert row["totalRecords"] == len(data) > 0
        assert row["datasetChecksum"] == _canonical_sha(data)


def test_checksum_is_stable_across_servers_and_moves_only_for_the_revised_unit():
    with start_simulator(SimConfig(**SMALL)) as one, start_simulator(SimConfig(**SMALL)) as two:
        first = _get(one, DA, headers=COMTRADE_AUTH).content
        assert first == _get(two, DA, headers=COMTRADE_AUTH).content
        before = _by_unit(json.loads(first)["data"])
        old_rows = _data(one, reporterCode="156", period="202401")

        response = _post(one, "/_sim/revise", {"feed": "comtrade", "unit": "156:2024-01"})
        assert response.status_code == 200, response.text
        state = response.json()
        after = _by_unit(_da(one))
        unit = (156, "202401")
        assert state["datasetChecksum"] == after[unit]["datasetChecksum"]
        assert after[unit]["datasetChecksum"] != before[unit]["datasetChecksum"]
        assert after[unit]["lastReleased"] > before[unit]["lastReleased"]
        assert after[unit]["firstReleased"] == before[unit]["firstReleased"]
        assert {k: v for k, v in after.items() if k != unit} == \
            {k: v for k, v in before.items() if k != unit}
        assert _get(two, DA, headers=COMTRADE_AUTH).content == first  # the other server

        new_rows = _data(one, reporterCode="156", period="202401")
        assert after[unit]["totalRecords"] == len(new_rows) < len(old_rows)
        assert after[unit]["datasetChecksum"] == _canonical_sha(new_rows)

        def key(r):
            return (r["flowCode"], r["partnerCode"], r["partner2Code"], r["cmdCode"],
                    r["motCode"], r["customsCode"])
        old_by_key = {key(r): r for r in old_rows}
        assert {key(r) for r in new_rows} < set(old_by_key)
        changed = [r for r in new_rows if r != old_by_key[key(r)]]
        assert any(r["aggrLevel"] == 6 and r["primaryValue"] != old_by_key[key(r)][
            "primaryValue"] for r in changed)
        # The partner totals follow the leaves.
        for partner in (398, 643):
            for flow in ("M", "X"):
                leaves = [r["primaryValue"] for r in new_rows
                          if r["partnerCode"] == partner and r["flowCode"] == flow
                          and r["aggrLevel"] == 6 and r["motCode"] == 0
                          and r["customsCode"] == "C00" and r["partner2Code"] == 0]
                totals = [r["primaryValue"] for r in new_rows if r["cmdCode"] == "TOTAL"
                          and r["partnerCode"] == partner and r["flowCode"] == flow]
                if leaves:
                    assert totals[0] == pytest.approx(sum(leaves), abs=0.05)
        # A second step moves it again; the same steps on another server give the same bytes.
        _post(one, "/_sim/revise", {"feed": "comtrade", "unit": "156:2024-01"})
        again = _by_unit(_da(one))[unit]
        assert again["datasetChecksum"] != after[unit]["datasetChecksum"]
        assert again["lastReleased"] > after[unit]["lastReleased"]
        for _ in range(2):
            _post(two, "/_sim/revise", {"feed": "comtrade", "unit": "156:2024-01"})
        assert _get(two, DA, headers=COMTRADE_AUTH).content == \
            _get(one, DA, headers=COMTRADE_AUTH).content


# ------------------------------------------------------------------ record cap


def test_record_cap_truncates_and_count_is_the_cap():
    full = World(SimConfig(**SMALL)).comtrade_rows(156, "2023-11")
    assert len(full) > 5
    with start_simulator(SimConfig(comtrade_record_cap=5, **SMALL)) as handle:
        body = _get(handle, DATA, params={"reporterCode": "156", "period": "202311"},
                    headers=COMTRADE_AUTH).json()
        assert body["count"] == 5 and len(body["data"]) == 5 and body["error"] == ""
        assert body["data"] == json.loads(json.dumps(full[:5]))
        # getDa still says how many the unit has: the client can tell it was cut.
        assert _da(handle, reporterCode="156", period="202311")[0]["totalRecords"] == len(full)
    assert SimConfig().comtrade_record_cap == 100_000
    with start_simulator(SimConfig(comtrade_record_cap=len(full) + 1, **SMALL)) as handle:
        assert len(_data(handle, reporterCode="156", period="202311")) == len(full)


# ------------------------------------------------------------------ call quota


def test_quota_counts_every_comtrade_call_and_replenishes():
    faults = {"comtrade_quota": {"calls": 4}}
    with start_simulator(SimConfig(faults=faults, **SMALL)) as handle:
        assert _get(handle, DATA, params={"reporterCode": "156", "period": "202311"},
                    headers=COMTRADE_AUTH).status_code == 200
        assert _get(handle, DA, headers=COMTRADE_AUTH).status_code == 200
        assert _get(handle, DATA, headers=COMTRADE_AUTH).status_code == 400  # counts too
        assert _get(handle, "/data/v1/nothing", headers=COMTRADE_AUTH).status_code == 404
        assert _get(handle, "/ru-customs/v1/releases").status_code == 200  # other feeds: free
        for path in (DA, DATA + "?reporterCode=156&period=202311"):
            response = _get(handle, path, headers=COMTRADE_AUTH)
            assert response.status_code == 429
            assert response.json()["statusCode"] == 429
            assert QUOTA_MESSAGE.match(response.json()["message"]), response.text
            assert int(response.headers["Retry-After"]) >= 3600
        assert response.json()["message"].endswith("04:00:00.")
        assert _get(handle, DA).status_code == 401  # no key: no quota to spend

        assert _post(handle, "/_sim/comtrade-quota").json() == {"calls": 4, "used": 0}
        assert _get(handle, DA, headers=COMTRADE_AUTH).status_code == 200
        assert _post(handle, "/_sim/comtrade-quota", {"calls": 1}).json() == {"calls": 1,
                                                                            "used": 0}
        assert _get(handle, DA, headers=COMTRADE_AUTH).status_code == 200
        assert _get(handle, DA, headers=COMTRADE_AUTH).status_code == 429
        assert handle.replenish_comtrade_quota() == {"calls": 1, "used": 0}
        assert _get(handle, DA, headers=COMTRADE_AUTH).status_code == 200
        assert _post(handle, "/_sim/comtrade-quota", {"calls": -1}).status_code == 400
        assert _post(handle, "/_sim/comtrade-quota", data="[").status_code == 400


def test_quota_retry_after_is_configurable_and_no_quota_means_no_limit():
    faults = {"comtrade_quota": {"calls": 0, "retry_after": 3661}}
    with start_simulator(SimConfig(faults=faults, **SMALL)) as handle:
        response = _get(handle, DA, headers=COMTRADE_AUTH)
        assert response.status_code == 429 and response.headers["Retry-After"] == "3661"
        assert response.json()["message"].endswith("in 01:01:01.")
    with start_simulator(SimConfig(**SMALL)) as handle:
        assert {_get(handle, DA, headers=COMTRADE_AUTH).status_code for _ in range(30)} == {200}


def test_short_transient_429_is_told_apart_from_the_quota():
    faults = {"transient": {"rate": 0.9, "feeds": ["comtrade"]}}
    bodies = {}
    with start_simulator(SimConfig(faults=faults, **SMALL)) as handle:
        for _ in range(20):
            response = _get(handle, DA, headers=COMTRADE_AUTH)
            if response.status_code != 200:
                assert response.headers["Retry-After"] == "0"
                bodies[response.status_code] = response.json()
        rail = _get(handle, "/rail/v1/crossings/2024-01-05.xml", auth=RAIL_AUTH)
        assert rail.status_code == 200
    assert bodies[429] == {"statusCode": 429,
                           "message": "Rate limit is exceeded. Try again in 1 seconds."}
    assert bodies[503] == {"error": "try again"}
    # other feeds keep their old 429 body
    other = {"transient": {"rate": 0.9, "feeds": ["rail"]}}
    with start_simulator(SimConfig(faults=other, **SMALL)) as handle:
        seen = [_get(handle, "/rail/v1/crossings/2024-01-05.xml", auth=RAIL_AUTH)
                for _ in range(20)]
    assert {r.text for r in seen if r.status_code == 429} == {'{"error":"try again"}'}


# ------------------------------------------------------------------ request log


def test_request_log_records_every_answer_in_order():
    with start_simulator(SimConfig(**SMALL)) as handle:
        answers = [
            _get(handle, "/ru-customs/v1/releases"),
            _get(handle, DA, params={"reporterCode": "156"}),  # 401
            _get(handle, DA, params={"reporterCode": "156", "period": "202311"},
                 headers=COMTRADE_AUTH),
            _get(handle, "/rail/v1/crossings/2031-01-01.xml", auth=RAIL_AUTH),  # 404
            _get(handle, "/health"),
            requests.head(handle.base_url + "/ru-customs/v1/releases", timeout=10),
        ]
        listing = _get(handle, "/_sim/requests")
        assert listing.status_code == 200
        log = listing.json()
        assert [e["seq"] for e in log] == [1, 2, 3, 4, 5, 6]
        assert [(e["feed"], e["method"], e["path"], e["query"], e["status"]) for e in log] == [
            ("ru_customs", "GET", "/ru-customs/v1/releases", "", 200),
            ("comtrade", "GET", DA, "reporterCode=156", 401),
            ("comtrade", "GET", DA, "reporterCode=156&period=202311", 200),
            ("rail", "GET", "/rail/v1/crossings/2031-01-01.xml", "", 404),
            (None, "GET", "/health", "", 200),
            ("ru_customs", "HEAD", "/ru-customs/v1/releases", "", 200),
        ]
        assert [e["bytes"] for e in log] == [len(r.content) for r in answers]
        assert log[5]["bytes"] == 0 and log[0]["bytes"] > 0
        assert all(e["fault"] is None for e in log)
        # since: only later entries; the listing itself was logged as a control call.
        later = _get(handle, "/_sim/requests", params={"since": 4}).json()
        assert [e["seq"] for e in later] == [5, 6, 7]
        assert later[-1]["feed"] == "control" and later[-1]["path"] == "/_sim/requests"
        assert later[:2] == log[4:]
        in_process = handle.requests()
        assert [e["seq"] for e in in_process] == list(range(1, 9))
        assert in_process[:6] == log
        assert handle.requests(since=7)[0]["query"] == "since=4"
        assert handle.requests(since=100) == []
        assert _get(handle, "/_sim/requests", params={"since": "x"}).status_code == 400
        assert _get(handle, "/_sim/nothing").status_code == 404
        assert _get(handle, "/_sim/revise").status_code == 405


def test_control_surface_has_no_faults_and_does_not_move_the_fault_draws():
    faults = {"drop_connection": {"rate": 0.5}, "transient": {"rate": 0.3}}

    def outcomes(interleave):
        with start_simulator(SimConfig(faults=faults, **SMALL)) as handle:
            out = []
            for _ in range(16):
                if interleave:
                    assert _get(handle, "/_sim/requests").status_code == 200
                try:
                    out.append(_get(handle, "/ru-customs/v1/releases").status_code)
                except requests.exceptions.ConnectionError:
                    out.append("dropped")
            log = [e for e in handle.requests() if e["feed"] != "control"]
            return out, log

    plain, log = outcomes(False)
    assert outcomes(True)[0] == plain and "dropped" in plain and 200 in plain
    assert [e["status"] for e in log] == [None if o == "dropped" else o for o in plain]
    assert {e["fault"] for e in log if e["status"] is None} == {"drop_connection"}
    assert all(e["bytes"] == 0 for e in log if e["status"] is None)


def test_request_log_counts_the_bytes_a_truncated_body_really_sent():
    with start_simulator(SimConfig(faults={"truncated_body": {"rate": 1.0}}, **SMALL)) as handle:
        full = handle.world.ru_csv_bytes("2024-01")
        with pytest.raises(requests.exceptions.RequestException):
            _get(handle, "/ru-customs/v1/data/2024-01.csv")
        (entry,) = handle.requests()
        assert entry["status"] == 200 and entry["fault"] == "truncated_body"
        assert entry["bytes"] == len(full) // 2


# ------------------------------------------------------------------ live revisions


def _releases(handle):
    return {r["period"]: r for r in _get(handle, "/ru-customs/v1/releases").json()["releases"]}


def test_revise_ru_month_bumps_the_release_and_leaves_comtrade_alone():
    with start_simulator(SimConfig(**SMALL)) as handle:
        before = _releases(handle)
        da_before = _da(handle)
        rows_before = _data(handle, reporterCode="156", period="202401")
        response = _post(handle, "/_sim/revise", {"feed": "ru_customs", "unit": "2024-01"})
        assert response.status_code == 200, response.text
        assert response.json()["revision"] == before["2024-01"]["revision"] + 1
        after = _releases(handle)
        assert after["2024-01"]["revision"] == before["2024-01"]["revision"] + 1
        assert after["2024-01"]["status"] == before["2024-01"]["status"]
        assert after["2024-01"]["sha256"] != before["2024-01"]["sha256"]
        assert after["2024-01"]["rows"] < before["2024-01"]["rows"]
        assert after["2024-01"]["published_at"] > before["2024-01"]["published_at"]
        assert {p: r for p, r in after.items() if p != "2024-01"} == \
            {p: r for p, r in before.items() if p != "2024-01"}
        csv_bytes = _get(handle, "/ru-customs/v1/data/2024-01.csv").content
        assert hashlib.sha256(csv_bytes).hexdigest() == after["2024-01"]["sha256"]
        # comtrade derives from the national truth, not from what the RU feed published
        assert _da(handle) == da_before
        assert _data(handle, reporterCode="156", period="202401") == rows_before
        # the same as the static fault, step for step
        static = World(SimConfig(faults={"shrinking_revision": {"ru_customs": ["2024-01"]}},
                                 **SMALL))
        assert csv_bytes == static.ru_csv_bytes("2024-01")
        assert after["2024-01"] == static.ru_release("2024-01")


def test_revise_comtrade_leaves_the_customs_feeds_alone():
    with start_simulator(SimConfig(**SMALL)) as handle:
        ru = _get(handle, "/ru-customs/v1/releases").content
        kz = _get(handle, "/kz-customs/api/v2/periods", headers=KZ_AUTH).content
        for unit in ("156:2024-01", "398:2024-01", "643:2024-01"):
            if (int(unit[:3]), "202401") in set(_units(_da(handle))):
                assert _post(handle, "/_sim/revise",
                             {"feed": "comtrade", "unit": unit}).status_code == 200
        assert _get(handle, "/ru-customs/v1/releases").content == ru
        assert _get(handle, "/kz-customs/api/v2/periods", headers=KZ_AUTH).content == kz


def test_revise_kz_mid_pagination_gives_409_and_leaves_comtrade_alone():
    with start_simulator(SimConfig(**SMALL)) as handle:
        da_before = _get(handle, DA, headers=COMTRADE_AUTH).content
        first = _get(handle, "/kz-customs/api/v2/trade",
                     params={"period": "2023-12", "page_size": 10}, headers=KZ_AUTH).json()
        assert handle.revise("kz_customs", "2023-12")["revision"] == first["revision"] + 1
        stale = _get(handle, "/kz-customs/api/v2/trade",
                     params={"period": "2023-12", "page_size": 10,
                             "cursor": first["next_cursor"]}, headers=KZ_AUTH)
        assert stale.status_code == 409 and stale.json() == {"error": "revision_changed"}
        periods = {p["period"]: p for p in _get(handle, "/kz-customs/api/v2/periods",
                                                headers=KZ_AUTH).json()["periods"]}
        assert periods["2023-12"]["revision"] == first["revision"] + 1
        static = World(SimConfig(faults={"shrinking_revision": {"kz_customs": ["2023-12"]}},
                                 **SMALL))
        assert periods["2023-12"]["records"] == len(static.kz_items("2023-12"))
        assert _get(handle, DA, headers=COMTRADE_AUTH).content == da_before


def test_revise_rail_day_and_errors():
    day = "2024-01-05"
    with start_simulator(SimConfig(**SMALL)) as handle:
        path = f"/rail/v1/crossings/{day}.xml"
        old = _get(handle, path, auth=RAIL_AUTH).content
        other = _get(handle, "/rail/v1/crossings/2024-01-06.xml", auth=RAIL_AUTH).content
        response = _post(handle, "/_sim/revise", {"feed": "rail", "unit": day})
        assert response.status_code == 200, response.text
        new = _get(handle, path, auth=RAIL_AUTH).content
        old_root, new_root = ET.fromstring(old), ET.fromstring(new)
        assert int(new_root.get("revision")) == int(old_root.get("revision")) + 1
        assert response.json()["revision"] == int(new_root.get("revision"))
        tag = f"{{{RAIL_NAMESPACE}}}consignment"
        assert len(list(new_root.iter(tag))) < len(list(old_root.iter(tag)))
        static = World(SimConfig(faults={"shrinking_revision": {"rail": [day]}}, **SMALL))
        assert new == static.rail_xml(day)
        assert _get(handle, "/rail/v1/crossings/2024-01-06.xml", auth=RAIL_AUTH).content == other
        _post(handle, "/_sim/revise", {"feed": "rail", "unit": day})
        third = ET.fromstring(_get(handle, path, auth=RAIL_AUTH).content)
        assert int(third.get("revision")) == int(old_root.get("revision")) + 2

        errors = [
            ({"feed": "ports", "unit": "2024-01"}, 400),
            ({"feed": "nope", "unit": "2024-01"}, 400),
            ({"feed": "ru_customs"}, 400),
            ({"feed": "ru_customs", "unit": "2024-13"}, 400),
            ({"feed": "ru_customs", "unit": "2030-01"}, 404),
            ({"feed": "kz_customs", "unit": "2020-01"}, 404),
            ({"feed": "comtrade", "unit": "2024-01"}, 400),
            ({"feed": "comtrade", "unit": "795:2024-01"}, 404),  # never reports
            ({"feed": "comtrade", "unit": "31:2024-02"}, 404),  # not reported yet
            ({"feed": "rail", "unit": "2030-01-01"}, 404),
            ({"feed": "rail", "unit": "yesterday"}, 400),
        ]
        for payload, status in errors:
            response = _post(handle, "/_sim/revise", payload)
            assert response.status_code == status, (payload, response.text)
            assert "error" in response.json()
        assert _post(handle, "/_sim/revise", data="not json").status_code == 400
        assert requests.post(handle.base_url + "/ru-customs/v1/releases",
                             timeout=10).status_code == 405
    with pytest.raises(ValueError):
        World(SimConfig(**SMALL)).revise("ports", "2024-01")
    with pytest.raises(KeyError):
        World(SimConfig(**SMALL)).revise("ru_customs", "2030-01")


def test_revisions_are_deterministic():
    def run():
        world = World(SimConfig(**SMALL))
        for feed, unit in (("ru_customs", "2023-12"), ("comtrade", "860:2023-12"),
                           ("ru_customs", "2023-12"), ("rail", "2023-12-24")):
            world.revise(feed, unit)
        return (world.ru_csv_bytes("2023-12"), world.rail_xml("2023-12-24"),
                world.comtrade_availability([860], ["202312"]),
                world.comtrade_rows(860, "2023-12"))
    first = run()
    assert first == run()
    clean = World(SimConfig(**SMALL))
    assert first[0] != clean.ru_csv_bytes("2023-12")
    assert first[3] != clean.comtrade_rows(860, "2023-12")
    # one live step of a comtrade unit is the static shrinking_revision of it
    live = World(SimConfig(**SMALL))
    live.revise("comtrade", "860:2023-12")
    static = World(SimConfig(faults={"shrinking_revision": {"comtrade": ["860:2023-12"]}},
                             **SMALL))
    assert live.comtrade_rows(860, "2023-12") == static.comtrade_rows(860, "2023-12")
    assert live.comtrade_availability() == static.comtrade_availability()


# ------------------------------------------------------------------ standalone process


def _wait_for(path: Path, process: subprocess.Popen, seconds: float = 60) -> str:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if path.exists():
            return path.read_text(encoding="utf-8").strip()
        if process.poll() is not None:
            raise AssertionError(f"the simulator exited early: {process.communicate()}")
        time.sleep(0.1)
    raise AssertionError("no port file")


@contextmanager
def _standalone(args: list[str], port_file: Path, env: dict[str, str]
                ) -> Iterator[tuple[subprocess.Popen, str]]:
    """``python -m *args`` (a simulator writing ``port_file``) and its base URL once
    written; killed at the end if the test left it running."""
    process = subprocess.Popen([sys.executable, "-m", *args], env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        yield process, _wait_for(port_file, process)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def _assert_stops_cleanly(process: subprocess.Popen, stop_signal: int, port_file: Path
                          ) -> None:
    """On ``stop_signal`` the process exits 0 and removes its port file."""
    process.send_signal(stop_signal)
    assert process.wait(timeout=20) == 0
    assert not port_file.exists()


def _plugins_env() -> dict[str, str]:
    plugins = str(Path(corridor.__file__).resolve().parents[1])
    return {**os.environ, "PYTHONPATH": os.pathsep.join(
        [plugins, *filter(None, [os.environ.get("PYTHONPATH")])])}


@pytest.mark.parametrize("stop_signal", [signal.SIGTERM, signal.SIGINT])
def test_port_file_process_serves_until_signalled(tmp_path, stop_signal):
    port_file = tmp_path / "sim.url"
    faults = json.dumps({"comtrade_quota": {"calls": 1}})
    with _standalone(["corridor.simulator", "--port", "0", "--port-file", str(port_file),
                      "--scale", "0.05", "--first-month", "2023-11", "--last-month", "2024-02",
                      "--faults", faults], port_file, _plugins_env()) as (process, base_url):
        assert re.fullmatch(r"http://127\.0\.0\.1:\d+", base_url)
        assert not base_url.endswith(":0")
        releases = requests.get(base_url + "/ru-customs/v1/releases", timeout=30)
        assert releases.status_code == 200 and releases.json()["releases"]
        assert requests.get(base_url + DA, headers=COMTRADE_AUTH, timeout=30).status_code == 200
        assert requests.get(base_url + DA, headers=COMTRADE_AUTH, timeout=30).status_code == 429
        assert [e["path"] for e in requests.get(base_url + "/_sim/requests",
                                                timeout=30).json()] == [
            "/ru-customs/v1/releases", DA, DA]
        assert list(tmp_path.iterdir()) == [port_file]  # no temporary file left behind
        _assert_stops_cleanly(process, stop_signal, port_file)


def test_cli_simulator_writes_the_port_file(tmp_path):
    port_file = tmp_path / "cli.url"
    env = {**_plugins_env(), "CORRIDOR_SIM_SCALE": "0.05", "CORRIDOR_SIM_FAULTS":
           json.dumps({"comtrade_quota": {"calls": 0}})}
    with _standalone(["corridor.cli", "simulator", "--port", "0", "--port-file", str(port_file)],
                     port_file, env) as (process, base_url):
        response = requests.get(base_url + "/ru-customs/v1/releases", timeout=30)
        assert response.status_code == 200
        assert requests.get(base_url + DA, headers=COMTRADE_AUTH, timeout=30).status_code == 429
        _assert_stops_cleanly(process, signal.SIGTERM, port_file)

