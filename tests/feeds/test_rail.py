from __future__ import annotations

import hashlib
from decimal import Decimal

from corridor.feeds import rail
from corridor.feeds.http import FeedClient

REPORT = """<?xml version="1.0" encoding="UTF-8"?>
<r:crossingReport xmlns:r="urn:corridor:rail:crossing:1" date="{date}" revision="2"
                  generated="2024-01-16T03:00:00+05:00" newAttribute="ignored">
  <r:crossing point="DOSTYK" partnerRailway="CR">
    <r:movement direction="inbound" transit="true">
      <r:consignment gng="84713000" wagons="2" teu="4" tonnes="36.400" origin="CN"
                     destination="DE"/>
    </r:movement>
    <r:movement direction="outbound" transit="false">
      <r:consignment gng="10019900" wagons="12" teu="0" tonnes="812.000" origin="KZ"
                     destination="CN"/>
      <r:consignment gng="1001990" wagons="1" teu="0" tonnes="1.000" origin="KZ"
                     destination="CN"/>
    </r:movement>
  </r:crossing>
  <r:crossing point="NOWHERE" partnerRailway="XX">
    <r:movement direction="inbound" transit="false">
      <r:consignment gng="84713000" wagons="1" teu="2" tonnes="10.000" origin="CN"
                     destination="KZ"/>
    </r:movement>
  </r:crossing>
</r:crossingReport>
"""


def report(day="2024-01-15") -> bytes:
    return REPORT.format(date=day).encode("utf-8")


def test_parse_namespaced_report():
    result = rail.parse_report(report(), "2024-01-15")
    assert result.meta["revision"] == 2
    assert [row["row_number"] for row in result.rows] == [1, 2]
    first = result.rows[0]
    assert first["point"] == "DOSTYK" and first["transit"] is True
    assert first["tonnes"] == Decimal("36.400") and first["teu"] == 4
    assert first["partner_railway"] == "CR" and str(first["report_date"]) == "2024-01-15"
    reasons = {r.row_ref: r.reason for r in result.rejections}
    assert reasons == {"3": "bad_code_length", "4": "unknown_point"}
    assert "rail unit 2024-01-15 row 4" in result.rejections[1].detail


def test_wrong_namespace_is_not_a_report():
    import pytest

    with pytest.raises(ValueError):
        rail.parse_xml_root(report().replace(b"urn:corridor:rail:crossing:1", b"urn:other"))


def test_date_mismatch_rejects_whole_report():
    result = rail.parse_report(report("2024-01-14"), "2024-01-15")
    assert result.rows == []
    [rejection] = result.rejections
    assert rejection.reason == "date_mismatch" and rejection.row_ref == "report"


def test_fetch_etag_304_and_404(fake_server):
    body = report()
    sha = hashlib.sha256(body).hexdigest()
    day_path = "/rail/v1/crossings/2024-01-15.xml"

    def serve(path, query, headers):
        if headers.get("If-None-Match") == f'"{sha}"':
            return (304, {"ETag": f'"{sha}"'}, b"")
        return (200, {"ETag": f'"{sha}"', "Content-Type": "application/xml"}, body)

    fake_server.routes[day_path] = serve
    client = FeedClient("rail", fake_server.endpoint())
    first = rail.fetch_day(client, "2024-01-15")
    assert first.state == "new" and first.sha256 == sha
    again = rail.fetch_day(client, "2024-01-15", held_sha256=sha)
    assert again.state == "not_modified"
    assert rail.fetch_day(client, "2024-01-16").state == "not_out"


def test_fetch_retries_truncated_xml(fake_server):
    body = report()
    fake_server.routes["/rail/v1/crossings/2024-01-15.xml"] = [(200, {}, body, 200),
                                                               (200, {}, body)]
    client = FeedClient("rail", fake_server.endpoint())
    assert rail.fetch_day(client, "2024-01-15").payload == body


def test_days_of_month():
    assert len(rail.days_of("2024-02")) == 29 and rail.days_of("2024-02")[0] == "2024-02-01"
