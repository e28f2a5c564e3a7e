from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

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


def test_fetch_probe_and_split_when_truncated(fake_server):
    def data(path, query, headers):
        if "cmdCode=TOTAL" in query:
            return (200, {}, json.dumps({"count": 1, "error": "", "data": [
                {"reporterCode": 156, "cmdCode": "TOTAL"}]}).encode())
        if "partnerCode=398%2C643" in query or "partnerCode=398,643" in query:
            return (200, {}, json.dumps({"count": 100000, "error": "", "data": []}).encode())
        partner = 398 if "partnerCode=398" in query else 643
        rows = [json.loads(json.dumps(record(partnerCode=partner), default=str))]
        return (200, {}, json.dumps({"count": 1, "error": "", "data": rows}).encode())

    fake_server.routes["/data/v1/get/C/M/HS"] = data
    client = FeedClient("comtrade", fake_server.endpoint())
    fetched = comtrade.fetch_reporter_month(client, 156, "2024-01")
    assert fetched.has_reported and fetched.probe_rows == 1
    assert sorted(r["partnerCode"] for r in fetched.records) == [398, 643]
    queries = [r["query"] for r in fake_server.hits("/data/v1/get/C/M/HS")]
    assert "reporterCode=156" in queries[1] and "motCode=0" in queries[1]
    assert "customsCode=C00" in queries[1] and "partner2Code=0" in queries[1]
    assert len(queries) == 4  # probe, truncated, one per partner


def test_fetch_not_reported(fake_server):
    fake_server.routes["/data/v1/get/C/M/HS"] = [
        (200, {}, (SAMPLES / "bulk_v1_error.json").read_bytes())]
    client = FeedClient("comtrade", fake_server.endpoint())
    fetched = comtrade.fetch_reporter_month(client, 860, "2024-01")
    assert not fetched.has_reported and fetched.records == []
    assert len(fake_server.requests) == 1  # no data query for a reporter that did not report
