from __future__ import annotations

import json
from decimal import Decimal

import pytest

from corridor.feeds import kz_customs
from corridor.feeds.http import FeedClient, json_body


def item(**overrides):
    base = {"flow": "export", "tn_ved": "2709009001", "partner_m49": "156",
            "partner_name_ru": "Китай", "value_thousand_usd": 1234.567,
            "net_weight_t": 456.789, "supp_qty": None, "supp_unit": None,
            "transport_mode": "rail", "customs_regime": "10", "brand_new_field": 1}
    base.update(overrides)
    return base


def page(items, cursor=None, revision=1):
    return {"period": "2024-01", "revision": revision, "status": "preliminary",
            "items": items, "next_cursor": cursor}


def as_json(obj) -> dict:
    # Through JSON text with Decimal numbers, as the client parses it.
    return json.loads(json.dumps(obj), parse_float=Decimal)


def test_parse_keeps_scales_and_leading_zeros():
    pages = [as_json(page([item(), item(partner_m49="031", tn_ved="0101210000")], "c1")),
             as_json(page([item(partner_m49="000", flow="import"),
                           item(partner_m49="999")]))]
    result = kz_customs.parse_pages(pages, "2024-01", 1, "preliminary")
    assert [row["row_number"] for row in result.rows] == [1, 2, 3]
    assert result.rows[0]["value_thousand_usd"] == Decimal("1234.567")
    assert result.rows[0]["net_weight_t"] == Decimal("456.789")
    assert result.rows[1]["partner_m49"] == "031" and result.rows[1]["tn_ved"] == "0101210000"
    assert result.rows[2]["partner_m49"] == "000"
    [rejection] = result.rejections
    assert (rejection.reason, rejection.row_ref, rejection.unit) == ("unknown_partner", "4",
                                                                    "2024-01")
    assert "kz_customs unit 2024-01 row 4" in rejection.detail


@pytest.mark.parametrize("overrides, reason", [
    ({"partner_m49": "398"}, "self_partner"),
    ({"value_thousand_usd": -1}, "negative_value"),
    ({"tn_ved": "270900900"}, "bad_code_length"),
    ({"tn_ved": 2709009001}, "unparsable"),
    ({"net_weight_t": None}, "missing_field"),
    ({"transport_mode": "teleport"}, "unparsable"),
])
def test_rejection_reasons(overrides, reason):
    result = kz_customs.parse_pages([as_json(page([item(), item(**{"tn_ved": "8703231900",
                                                                   **overrides})]))],
                                    "2024-01", 1, "preliminary")
    assert len(result.rows) == 1
    assert [r.reason for r in result.rejections] == [reason]


def test_duplicate_keys_reject_every_copy_across_pages():
    pages = [as_json(page([item(), item(tn_ved="1001990000")], "c")),
             as_json(page([item(partner_m49="156", value_thousand_usd=1)]))]
    result = kz_customs.parse_pages(pages, "2024-01", 1, "preliminary")
    assert [row["tn_ved"] for row in result.rows] == ["1001990000"]
    assert [(r.row_ref, r.reason) for r in result.rejections] == [("1", "duplicate_key"),
                                                                 ("3", "duplicate_key")]


def test_page_period_mismatch():
    bad = page([item()])
    bad["period"] = "2023-12"
    result = kz_customs.parse_pages([as_json(bad)], "2024-01", 1, "preliminary")
    assert [r.reason for r in result.rejections] == ["period_mismatch"]


def test_fetch_pages_and_restart_on_revision_change(fake_server):
    calls = {"n": 0}

    def trade(path, query, headers):
        calls["n"] += 1
        if "cursor=c1" in query and calls["n"] == 2:
            return (409, {}, b'{"error": "revision_changed"}')
        if "cursor=c1" in query:
            return (200, {}, json.dumps(page([item(tn_ved="1001990000")], None, 2)).encode())
        return (200, {}, json.dumps(page([item()], "c1", 1 if calls["n"] == 1 else 2)).encode())

    fake_server.routes["/kz-customs/api/v2/trade"] = trade
    client = FeedClient("kz_customs", fake_server.endpoint())
    fetched = kz_customs.fetch_period(client, "2024-01")
    assert fetched.revision == 2 and len(fetched.pages) == 2
    queries = [r["query"] for r in fake_server.hits("/kz-customs/api/v2/trade")]
    assert all("page_size=1000" in q for q in queries)
    assert len(queries) == 4  # page 1, 409, page 1 again, page 2
    assert json_body  # the client parses numbers as Decimal
    assert isinstance(fetched.pages[0]["items"][0]["value_thousand_usd"], Decimal)


def test_fetch_not_published(fake_server):
    client = FeedClient("kz_customs", fake_server.endpoint())
    assert kz_customs.fetch_period(client, "2030-01").published is False
