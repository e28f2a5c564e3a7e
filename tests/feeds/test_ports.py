from __future__ import annotations

import json
from decimal import Decimal

from corridor.feeds import ports
from corridor.feeds.http import FeedClient


def call(version, status="departed", updated="2024-01-31T23:10:00+05:00", cargo=None,
         call_id="KZAAU-2024-000123"):
    return {"call_id": call_id, "port": "KZAAU", "version": version, "updated_at": updated,
            "status": status, "vessel": {"imo": "9312345", "name": "CASPIAN TRADER",
                                         "flag": "AZ"},
            "arrived_at": "2024-01-31T22:40:00+05:00", "departed_at": None,
            "previous_port": "AZBAK", "next_port": "AZBAK", "extra": {"ignored": True},
            "cargo": cargo if cargo is not None else [
                {"operation": "discharge", "cargo_type": "container", "hs_chapter": "84",
                 "tonnes": Decimal("412.5"), "teu": 38},
                {"operation": "load", "cargo_type": "dry_bulk", "hs_chapter": None,
                 "tonnes": Decimal("3000.0"), "teu": None}]}


def test_highest_version_wins_out_of_order():
    records = [call(3, updated="2024-02-02T06:15:00+05:00"), call(1, status="scheduled"),
               call(2, status="at_berth"), call(3, updated="2024-02-02T06:15:00+05:00")]
    parsed = ports.parse_calls(records, "KZAAU")
    [kept] = parsed.calls
    assert kept["version"] == 3 and kept["status"] == "departed"
    assert kept["vessel_imo"] == "9312345"
    assert [line["line_number"] for line in parsed.cargo_lines] == [1, 2]
    assert parsed.cargo_lines[0]["tonnes"] == Decimal("412.5")
    assert parsed.cargo_lines[1]["teu"] is None
    assert parsed.max_updated_at == "2024-02-02T06:15:00+05:00"


def test_cargo_line_without_tonnes_rejected_alone():
    cargo = [{"operation": "load", "cargo_type": "general", "hs_chapter": "72",
              "tonnes": None, "teu": 0},
             {"operation": "load", "cargo_type": "general", "hs_chapter": "73",
              "tonnes": Decimal("5"), "teu": 0}]
    parsed = ports.parse_calls([call(1, cargo=cargo)], "KZAAU")
    assert len(parsed.calls) == 1
    assert [line["hs_chapter"] for line in parsed.cargo_lines] == ["73"]
    [rejection] = parsed.rejections
    assert rejection.reason == "missing_field"
    assert rejection.unit == "KZAAU-2024-000123"
    assert rejection.row_ref == "KZAAU-2024-000123 v1 line 1"
    assert "ports unit KZAAU-2024-000123 row KZAAU-2024-000123 v1 line 1" in rejection.detail


def test_malformed_call_rejected():
    bad = call(1, call_id="KZAAU-2024-000999")
    bad["version"] = "three"
    parsed = ports.parse_calls([bad, call(1)], "KZAAU")
    assert [c["call_id"] for c in parsed.calls] == ["KZAAU-2024-000123"]
    assert [r.reason for r in parsed.rejections] == ["unparsable"]


def test_query_percent_encodes_plus():
    query = ports.query_string("KZAAU", "2024-01-31T23:10:00+05:00", "tok+/=")
    assert "updated_since=2024-01-31T23%3A10%3A00%2B05%3A00" in query
    assert "limit=500" in query and "page_token=tok%2B%2F%3D" in query


def test_fetch_all_pages(fake_server):
    def page(path, query, headers):
        if "page_token=p2" in query:
            body = {"data": [json.loads(json.dumps(call(2), default=str))],
                    "next_page_token": None}
        else:
            body = {"data": [json.loads(json.dumps(call(1), default=str))],
                    "next_page_token": "p2"}
        return (200, {}, json.dumps(body).encode())

    fake_server.routes["/ports/v1/vessel-calls"] = page
    client = FeedClient("ports", fake_server.endpoint())
    records = ports.fetch_pages(client, "KZAAU", "2024-01-01T00:00:00+05:00")
    assert [r["version"] for r in records] == [1, 2]
    assert "%2B05%3A00" in fake_server.requests[0]["query"]
