"""The consumer API's contract (spec "Consumer API"): keys, ETags, asOf, updatedAfter,
status codes, visibility by released_at, streaming, a log without keys."""

from __future__ import annotations

import csv
import io
import logging
from datetime import UTC, datetime

import pytest

from tests.api.conftest import RELEASED, Api, instant

DATA = "/sdmx/2.1/data/dataflow/CORRIDOR/DF_BILATERAL_TRADE/1.0.0"


def rows(response) -> list[list[str]]:
    return list(csv.reader(io.StringIO(response.text)))


def release_csv(api: Api, release_id: str, name: str) -> list[list[str]]:
    path = api.published / "releases" / release_id / name
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.reader(handle))


@pytest.fixture(autouse=True)
def clock_after_both_releases(api: Api):
    api.now[0] = datetime(2025, 3, 1, tzinfo=UTC)


@pytest.mark.parametrize("authorization", [None, "Bearer", "Bearer crd_00000000_" + "a" * 43,
                                           "Basic dXNlcjpwYXNz"])
def test_a_request_without_a_live_key_is_401(api: Api, authorization):
    import httpx
    headers = {"Authorization": authorization} if authorization else {}
    for path in (f"{DATA}/*", "/releases", "/sdmx/2.1/structure/dataflow/CORRIDOR/"
                 "DF_BILATERAL_TRADE/1.0.0"):
        response = httpx.get(api.url + path, headers=headers, timeout=30)
        assert response.status_code == 401, path
        assert response.headers["www-authenticate"] == "Bearer"


def test_a_revoked_key_is_401_at_once(api: Api):
    key = api.consumers.add("statistics office")
    assert api.get("/releases", key=key).status_code == 200
    assert api.consumers.revoke("statistics office") == 1
    assert api.get("/releases", key=key).status_code == 401
    assert api.get("/releases").status_code == 200  # the others' keys still work


def test_the_consumers_file_holds_no_key(api: Api):
    text = api.consumers.path.read_text(encoding="utf-8")
    assert api.key not in text and api.key.split("_")[2] not in text
    assert api.consumers.path.stat().st_mode & 0o777 == 0o600


def test_the_data_are_the_latest_releases_rows_exactly(api: Api):
    response = api.get(f"{DATA}/*")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/vnd.sdmx.data+csv;version=2.0.0"
    assert response.headers.get("transfer-encoding") == "chunked"  # streamed
    assert rows(response) == release_csv(api, api.release_ids[-1], "bilateral_trade.sdmx.csv")
    assert rows(api.get(f"{DATA}")) == rows(response)
    logistics = api.get("/sdmx/2.1/data/*/CORRIDOR/DF_CORRIDOR_LOGISTICS/+/M.DOSTYK...")
    assert rows(logistics) == release_csv(api, api.release_ids[-1],
                                          "corridor_logistics.sdmx.csv")


def test_the_same_request_again_is_304_with_its_etag(api: Api):
    first = api.get(f"{DATA}/M.KAZ.CHN..", params={"c[TIME_PERIOD]": "ge:2024-03"})
    etag = first.headers["etag"]
    again = api.get(f"{DATA}/M.KAZ.CHN..", params={"c[TIME_PERIOD]": "ge:2024-03"},
                    headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.content == b""
    other = api.get(f"{DATA}/M.KAZ.TUR..", headers={"If-None-Match": etag})
    assert other.status_code == 200 and other.headers["etag"] != etag


def test_as_of_gives_each_releases_numbers(api: Api):
    first_id, second_id = api.release_ids
    key = f"{DATA}/M.KAZ.CHN.X_USD._T"
    before_second = api.get(key, params={"asOf": "2025-02-01T00:00:00+05:00"})
    after_second = api.get(key, params={"asOf": RELEASED[1]})
    assert rows(before_second)[1:] == [r for r in release_csv(
        api, first_id, "bilateral_trade.sdmx.csv")[1:] if r[5] == "CHN" and r[6] == "X_USD"]
    assert rows(after_second)[1:] == [r for r in release_csv(
        api, second_id, "bilateral_trade.sdmx.csv")[1:] if r[5] == "CHN" and r[6] == "X_USD"]
    assert rows(before_second) != rows(after_second)
    assert api.get(key, params={"asOf": "2024-12-31T00:00:00Z"}).status_code == 404


def test_updated_after_is_the_revisions_file(api: Api):
    response = api.get(f"{DATA}/*", params={"updatedAfter": "2025-01-20T00:00:00Z"})
    revisions = release_csv(api, api.release_ids[1], "bilateral_trade.revisions.csv")[1:]
    # key (6 columns), change, previous_value, new_value, previous_status, new_status, ...
    expected = {(*r[:6], "D" if r[6] == "disappeared" else "I",
                 "" if r[6] == "disappeared" else r[8]) for r in revisions}
    got = {(*r[3:9], r[2], r[9]) for r in rows(response)[1:]}
    assert len(expected) == 3 and got == expected
    # sdmx1 spells it updateAfter
    assert rows(api.get(f"{DATA}/*", params={"updateAfter": "2025-01-20T00:00:00Z"})) == \
        rows(response)
    # before the first release: everything appeared since
    everything = api.get(f"{DATA}/*", params={"updatedAfter": "2024-01-01T00:00:00Z"})
    assert rows(everything) == release_csv(api, api.release_ids[1],
                                           "bilateral_trade.sdmx.csv")
    assert api.get(f"{DATA}/*", params={"updatedAfter": RELEASED[1]}).status_code == 204


@pytest.mark.parametrize(("path", "params", "status"), [
    (f"{DATA}/M.KAZ.XXX..", {}, 204),
    (f"{DATA}/*", {"c[TIME_PERIOD]": "ge:2030-01"}, 204),
    (f"{DATA}/M.KAZ.RUS", {}, 400),
    (f"{DATA}/M.KAZ.R;US..", {}, 400),
    (f"{DATA}/*", {"c[TIME_PERIOD]": "gt:2024-01"}, 400),
    (f"{DATA}/*", {"c[TIME_PERIOD]": "ge:2024-13"}, 400),
    (f"{DATA}/*", {"asOf": "yesterday"}, 400),
    (f"{DATA}/*", {"c[REF_AREA]": "KAZ"}, 400),
    ("/sdmx/2.1/data/dataflow/CORRIDOR/DF_NOPE/1.0.0/*", {}, 404),
    ("/sdmx/2.1/data/dataflow/CORRIDOR/DF_BILATERAL_TRADE/2.0.0/*", {}, 404),
    ("/sdmx/2.1/data/dataflow/OTHER/DF_BILATERAL_TRADE/1.0.0/*", {}, 404),
    ("/sdmx/2.1/data/provision/CORRIDOR/DF_BILATERAL_TRADE/1.0.0/*", {}, 404),
    ("/sdmx/2.1/structure/dataflow/CORRIDOR/DF_NOPE/1.0.0", {}, 404),
])
def test_status_codes(api: Api, path, params, status):
    assert api.get(path, params=params).status_code == status


@pytest.mark.parametrize("version", ["1.0.0", "+", "*", "~"])
def test_every_spelling_of_the_version_is_the_one_version(api: Api, version):
    response = api.get(f"/sdmx/2.1/data/*/CORRIDOR/DF_BILATERAL_TRADE/{version}/*")
    assert response.status_code == 200


def test_the_period_filter_in_each_spelling(api: Api):
    spec = rows(api.get(f"{DATA}/*", params={"c[TIME_PERIOD]": "ge:2024-03+le:2024-04"}))
    assert {r[8] for r in spec[1:]} == {"2024-03", "2024-04"}
    assert rows(api.get(f"{DATA}/*", params={"c": "TIME_PERIOD:ge:2024-03+le:2024-04"})) == spec
    assert rows(api.get(f"{DATA}/*", params={"startPeriod": "2024-03",
                                             "endPeriod": "2024-04"})) == spec
    by_year = rows(api.get(f"{DATA}/*", params={"c[TIME_PERIOD]": "eq:2025"}))
    assert {r[8] for r in by_year[1:]} == {"2025-01"}


def test_releases_lists_the_visible_ones_and_serves_their_files(api: Api):
    listed = api.get("/releases").json()
    assert [r["release_id"] for r in listed] == api.release_ids
    assert listed[1]["previous_release_id"] == api.release_ids[0]
    assert listed[1]["released_at"] == RELEASED[1]
    first_id = api.release_ids[0]
    file = api.get(f"/releases/{first_id}/bilateral_trade.csv")
    assert file.content == (api.published / "releases" / first_id
                            / "bilateral_trade.csv").read_bytes()
    assert api.get(f"/releases/{first_id}/manifest.json").json()["release_id"] == first_id
    for name in ("nothing.csv", "..%2FLATEST", "%2E%2E"):
        assert api.get(f"/releases/{first_id}/{name}").status_code == 404
    assert api.get("/releases/20990101T000000Z-00000000/manifest.json").status_code == 404


def test_a_release_is_invisible_until_its_released_at(api: Api):
    first_id, second_id = api.release_ids
    api.now[0] = instant(RELEASED[1]).replace(second=0, minute=59, hour=9)  # a minute early
    assert [r["release_id"] for r in api.get("/releases").json()] == [first_id]
    assert api.get(f"/releases/{second_id}/manifest.json").status_code == 404
    served = rows(api.get(f"{DATA}/*"))
    assert served == release_csv(api, first_id, "bilateral_trade.sdmx.csv")
    api.now[0] = instant(RELEASED[1])
    assert [r["release_id"] for r in api.get("/releases").json()] == api.release_ids
    assert rows(api.get(f"{DATA}/*")) == release_csv(api, second_id,
                                                     "bilateral_trade.sdmx.csv")


def test_the_access_log_names_the_consumer_never_the_key(api: Api, caplog):
    with caplog.at_level(logging.INFO, logger="corridor.api.access"):
        api.get(f"{DATA}/M.KAZ.CHN..")
        api.get("/releases", key="crd_00000000_" + "b" * 43)
    lines = [r.getMessage() for r in caplog.records if r.name == "corridor.api.access"]
    assert any(line.startswith("ministry of trade GET /sdmx/2.1/data/") and " 200 " in line
               for line in lines)
    assert any(line.startswith("- GET /releases 401") for line in lines)
    assert not [line for line in lines if api.key in line or "b" * 43 in line]
