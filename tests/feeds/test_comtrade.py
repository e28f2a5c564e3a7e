from __future__ import annotations

import json
import time
from decimal import Decimal
from pathlib import Path

import pytest

from corridor.feeds import comtrade
from corridor.feeds.http import FeedClient

# real recorded UN Comtrade API responses (../shared/real/comtrade_api_samples)
SAMPLES = Path(__file__).parent / "fixtures" / "comtrade_api_samples"


def record(**overrides):
    base = {"typeCode": "C", "freqCode": "M", "period": "202401", "reporterCode": 156,
            "flowCode": "M", "partnerCode": 398, "partner2Code": 0, "cmdCode": "270900",
            "aggrLevel": 6, "isLeaf": True, "customsCode": "C00", "motCode": 0,
            "cifvalue": Decimal("812.5"), "fobvalue": None, "primaryValue": Decimal("812.5"),
            "netWgt": Decimal("1000.0"), "someNewField": "x"}
    base.update(overrides)
    return base


def test_leaf_flag_and_rejections():
    records = [
        record(),                                                         # 1 counted leaf
        record(motCode=2100),                                             # 2 breakdown
        record(cmdCode="TOTAL", aggrLevel=0, isLeaf=False),               # 3 aggregate
        record(partnerCode=643, flowCode="X", cifvalue=None,
               fobvalue=Decimal("5"), primaryValue=Decimal("5")),         # 4 counted leaf
        record(cmdCode="27090", flowCode="X"),                            # 5 bad_code_length
        record(partnerCode=156, cmdCode="010121"),                        # 6 self_partner
        record(period="202402", cmdCode="010122"),                        # 7 period_mismatch
        record(cmdCode="010123", primaryValue=Decimal("-1")),             # 8 negative_value
        record(cmdCode="840000", partner2Code=792),                       # 9 dup (key has p2)
        record(cmdCode="840000", partner2Code=792),                       # 10 dup
    ]
    result = comtrade.parse_data(records, 156, "2024-01")
    flags = {row["row_number"]: row["is_counted_leaf"] for row in result.rows}
    assert flags == {1: True, 2: False, 3: False, 4: True}
    reasons = {r.row_ref.split()[0]: r.reason for r in result.rejections}
    assert reasons == {"5": "bad_code_length", "6": "self_partner", "7": "period_mismatch",
                       "8": "negative_value", "9": "duplicate_key", "10": "duplicate_key"}
    rejection = next(r for r in result.rejections if r.reason == "bad_code_length")
    assert rejection.unit == "156:2024-01" and "comtrade unit 156:2024-01 row 5" in \
        rejection.detail
    assert result.rows[3]["fobvalue"] == Decimal("5") and result.rows[3]["cifvalue"] is None


def test_partner_codes_compared_as_integers():
    result = comtrade.parse_data([record(reporterCode=31, partnerCode="398"),
                                  record(reporterCode="031", partnerCode=31, cmdCode="100199")],
                                 31, "2024-01")
    assert result.rows[0]["partner_code"] == 398
    assert [r.reason for r in result.rejections] == ["self_partner"]  # 31 = Azerbaijan "031"


def test_real_sample_files_are_aggregates_not_counted():
    for name in ("get_C_A_HS_CHN_M_ARG-DDR-DEU_2010_TOTAL.json",
                 "comtrade_v1_preview_IND_X_USA_2022_TOTAL.json"):
        body = json.loads((SAMPLES / name).read_bytes(), parse_float=Decimal)
        data = body["data"]
        reporter, period = data[0]["reporterCode"], str(data[0]["period"])
        result = comtrade.parse_data(data, reporter, period, partners=None)
        assert result.rows, name
        assert all(row["is_counted_leaf"] is False for row in result.rows)  # cmdCode TOTAL
        assert all(row["cmd_code"] == "TOTAL" for row in result.rows)
    preview = json.loads((SAMPLES / "comtrade_v1_preview_IND_X_USA_2022_TOTAL.json")
                         .read_bytes(), parse_float=Decimal)["data"][0]
    # In the mirror unit only partners 398/643 are kept.
    result = comtrade.parse_data([preview], 699, "2022")
    assert [r.reason for r in result.rejections] == ["unknown_partner"]
    assert comtrade.is_counted_leaf({**preview, "aggrLevel": 6})


def _calls(fake_server, budget: int = 1000) -> tuple[comtrade.Calls, list[int]]:
    from corridor.feeds.http import make_session

    endpoint = fake_server.endpoint()
    client = FeedClient("comtrade", endpoint, attempts=1,
                        session=make_session("comtrade", endpoint, retries=0))
    taken: list[int] = []

    def take() -> None:
        if len(taken) >= budget:
            raise comtrade.QuotaExhausted("budget spent")
        taken.append(1)

    return comtrade.Calls(client, take), taken


def _body(rows: list[dict], count: int | None = None) -> bytes:
    return json.dumps({"count": len(rows) if count is None else count, "error": "",
                       "data": rows}, default=str).encode()


def test_a_truncated_call_is_split_by_reporter_then_partner(fake_server):
    def data(path, query, headers):
        if "reporterCode=156%2C860" in query or "reporterCode=156,860" in query:
            return (200, {}, _body([], count=5))  # count == cap: truncated
        reporter = 156 if "reporterCode=156" in query else 860
        if reporter == 156 and ("partnerCode=398%2C643" in query or "398,643" in query):
            return (200, {}, _body([], count=5))
        partner = 398 if "partnerCode=398" in query else 643
        return (200, {}, _body([record(reporterCode=reporter, partnerCode=partner)]))

    fake_server.routes["/data/v1/get/C/M/HS"] = data
    calls, taken = _calls(fake_server)
    fetched = comtrade.fetch_batch(calls, "2024-01", [156, 860], record_cap=5)
    assert sorted(r["partnerCode"] for r in fetched.records[156]) == [398, 643]
    assert [r["partnerCode"] for r in fetched.records[860]] == [398]
    queries = [r["query"] for r in fake_server.hits("/data/v1/get/C/M/HS")]
    assert "motCode=0" in queries[0] and "customsCode=C00" in queries[0]
    assert "partner2Code=0" in queries[0]
    # both, 156 (truncated), 156 per partner (2), 860
    assert len(queries) == len(taken) == 5
    assert [part for part, _, _ in fetched.payloads] == [
        "data-r156-p398-fM_X", "data-r156-p643-fM_X", "data-r860-p398_643-fM_X"]


def test_availability_names_the_published_units(fake_server):
    rows = [{"reporterCode": 156, "period": "202401", "totalRecords": 40,
             "datasetChecksum": "abc"},
            {"reporterCode": 860, "period": "202402", "totalRecords": 7,
             "datasetChecksum": "def"}]
    fake_server.routes["/data/v1/getDa/C/M/HS"] = [(200, {}, _body(rows))]
    calls, taken = _calls(fake_server)
    listing, _, _ = comtrade.availability(calls, [156, 860], ["2024-01", "2024-02"])
    assert listing == {(156, "2024-01"): comtrade.Published(156, "2024-01", 40, "abc"),
                       (860, "2024-02"): comtrade.Published(860, "2024-02", 7, "def")}
    (hit,) = fake_server.hits("/data/v1/getDa/C/M/HS")
    assert "period=202401%2C202402" in hit["query"] or "period=202401,202402" in hit["query"]
    assert len(taken) == 1


def test_pack_keeps_each_call_under_the_cap():
    units = [comtrade.Published(r, "2024-01", n, "x")
             for r, n in ((31, 40), (51, 30), (112, 50), (156, 500), (364, 10))]
    batches = comtrade.pack(units, 100)
    assert [[u.reporter_code for u in b] for b in batches] == [[31, 51], [112], [156], [364]]
    assert comtrade.pack([], 100) == []


def test_the_quota_answer_stops_at_once_and_a_short_429_is_retried(fake_server, monkeypatch):
    monkeypatch.setenv("CORRIDOR_MAX_RETRY_AFTER", "0.2")
    quota = json.dumps({"statusCode": 429, "message": "Out of call volume quota. Quota will "
                        "be replenished in 23:59:00."}).encode()
    rate = json.dumps({"statusCode": 429, "message": "Rate limit is exceeded. Try again in "
                       "999 seconds."}).encode()
    fake_server.routes["/data/v1/getDa/C/M/HS"] = [
        (429, {"Retry-After": "999"}, rate), (200, {}, _body([])), (429, {"Retry-After": "86000"},
                                                                    quota)]
    calls, taken = _calls(fake_server)
    started = time.monotonic()
    listing, _, _ = comtrade.availability(calls, [156], ["2024-01"])
    assert listing == {} and len(taken) == 2  # the failed call counted too
    assert time.monotonic() - started < 5  # Retry-After 999 capped at 0.2 s
    with pytest.raises(comtrade.QuotaExhausted):
        comtrade.availability(calls, [156], ["2024-01"])
    assert len(taken) == 3 and len(fake_server.hits("/data/v1/getDa/C/M/HS")) == 3


def test_no_call_is_made_past_the_budget(fake_server):
    fake_server.routes["/data/v1/getDa/C/M/HS"] = [(200, {}, _body([]))]
    calls, taken = _calls(fake_server, budget=1)
    comtrade.availability(calls, [156], ["2024-01"])
    with pytest.raises(comtrade.QuotaExhausted):
        comtrade.availability(calls, [156], ["2024-01"])
    assert len(fake_server.hits("/data/v1/getDa/C/M/HS")) == 1
