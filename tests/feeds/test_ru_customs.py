from __future__ import annotations

import hashlib
import json
from decimal import Decimal

import pytest

from corridor.feeds import ru_customs
from corridor.feeds.http import FeedClient

HEADER = "napr;period;strana;tnved;edizm;stoim;netto;kol;region;region_s;new_column"
LINES = [
    "ЭК;01/2024;KZ;0101210000;ШТ;1234,56;1000,125;3;45000;Москва;x",   # 1 ok, leading zero
    "ИМ;01/2024;CN;8471300000;;99,00;12,5;;;;",                        # 2 ok, empty optionals
    "ИМ;01/2024;XX;2709009001;;10,00;1;;;;",                           # 3 ok, undisclosed
    "ЭК;01/2024;KZ;27090090;;5,00;1;;;;",                              # 4 bad_code_length
    "ЭК;01/2024;QQ;2709009001;;5,00;1;;;;",                            # 5 unknown_partner
    "ЭК;01/2024;RU;2709009001;;5,00;1;;;;",                            # 6 self_partner
    "ЭК;02/2024;KZ;2709009001;;5,00;1;;;;",                            # 7 period_mismatch
    "ЭК;01/2024;UZ;2709009001;;-5,00;1;;;;",                           # 8 negative_value
    "ЭК;01/2024;UZ;2709009002;;;1;;;;",                                # 9 missing_field
    "ЭК;01/2024;UZ;2709009003;;abc;1;;;;",                             # 10 unparsable
    "ИМ;01/2024;TR;8703231900;ШТ;100,00;900;1;77000;Москва;",          # 11 dup
    "ИМ;01/2024;TR;8703231900;ШТ;200,00;950;2;77000;Москва;",          # 12 dup
]


def payload(lines=LINES) -> bytes:
    return ("\r\n".join([HEADER, *lines]) + "\r\n").encode("windows-1251")


def test_parse_quirks_and_rejections():
    result = ru_customs.parse_csv(payload(), "2024-01", 2, "final")
    assert [row["row_number"] for row in result.rows] == [1, 2, 3]
    first = result.rows[0]
    assert first["tnved"] == "0101210000"
    assert first["stoim"] == Decimal("1234.56") and isinstance(first["stoim"], Decimal)
    assert first["netto"] == Decimal("1000.125")
    assert first["edizm"] == "ШТ" and first["region_s"] == "Москва"
    assert first["revision"] == 2 and first["status"] == "final"
    assert result.rows[1]["kol"] is None and result.rows[1]["region"] is None
    assert result.rows[2]["strana"] == "XX"
    reasons = {int(r.row_ref): r.reason for r in result.rejections}
    assert reasons == {4: "bad_code_length", 5: "unknown_partner", 6: "self_partner",
                       7: "period_mismatch", 8: "negative_value", 9: "missing_field",
                       10: "unparsable", 11: "duplicate_key", 12: "duplicate_key"}
    bad = next(r for r in result.rejections if r.row_ref == "4")
    assert bad.feed == "ru_customs" and bad.unit == "2024-01"
    assert "ru_customs" in bad.detail and "2024-01" in bad.detail and "row 4" in bad.detail
    assert bad.raw_record.startswith("ЭК;01/2024;KZ;27090090")


def test_one_malformed_row_rest_accepted():
    result = ru_customs.parse_csv(payload(LINES[:3] + ["ЭК;01/2024;KZ;12345;;1,00;1;;;;"]),
                                  "2024-01", 1, "preliminary")
    assert len(result.rows) == 3
    [rejection] = result.rejections
    assert rejection.reason == "bad_code_length" and rejection.row_ref == "4"


@pytest.mark.parametrize("kind", ["bytes", "path", "chunks"])
@pytest.mark.parametrize("line", [0, 1, 3, 12])  # the header, the first, a row, the last
def test_parse_names_the_line_of_a_byte_that_is_not_windows_1251(tmp_path, kind, line):
    """0x98, the one byte windows-1251 leaves undefined, fails the file with the feed,
    the period, the line and the byte offset (not a bare UnicodeDecodeError), whatever
    the source: the text reader decodes ahead of the line it yields."""
    lines = payload().split(b"\r\n")
    lines[line] += b"\x98"
    broken = b"\r\n".join(lines)
    offset = broken.index(b"\x98")
    source = {"bytes": broken, "path": tmp_path / "2024-01.csv",
              "chunks": (broken[i:i + 5] for i in range(0, len(broken), 5))}[kind]
    if kind == "path":
        source.write_bytes(broken)
    with pytest.raises(ValueError, match=rf"^ru_customs 2024-01: line {line + 1}: byte 0x98 "
                                         rf"at byte offset {offset} is not windows-1251$"):
        ru_customs.parse_csv(source, "2024-01", 1, "final")


def test_a_header_alone_is_a_month_with_no_rows():
    """pyarrow refuses a stream with no bytes ("Empty CSV file"): the parser does not
    hand it one."""
    header = payload().split(b"\r\n")[0]
    for body in (header, header + b"\r\n"):
        result = ru_customs.parse_csv(body, "2024-01", 1, "final")
        assert (result.rows, result.rejections) == ([], [])


def _releases(sha: str, revision: int = 2) -> bytes:
    return json.dumps({"releases": [{"period": "2024-01", "revision": revision,
                                     "status": "final", "sha256": sha, "rows": 3,
                                     "path": "/ru-customs/v1/data/2024-01.csv"}]}).encode()


def test_fetch_checks_sha_and_lists_again(fake_server):
    new = payload(LINES[:2])
    old = payload(LINES[:1])
    sha = hashlib.sha256(new).hexdigest()
    fake_server.routes["/ru-customs/v1/releases"] = [(200, {}, _releases(sha))]
    # The URL still serves the previous revision once, then the listed one.
    fake_server.routes["/ru-customs/v1/data/2024-01.csv"] = [(200, {}, old), (200, {}, new)]
    client = FeedClient("ru_customs", fake_server.endpoint())
    fetched = ru_customs.fetch_period(client, "2024-01")
    assert fetched.payload == new and fetched.revision == 2 and fetched.sha256 == sha
    assert len(fake_server.hits("/ru-customs/v1/releases")) == 2


def test_fetch_not_released_and_not_modified(fake_server):
    client = FeedClient("ru_customs", fake_server.endpoint())
    fake_server.routes["/ru-customs/v1/releases"] = [(200, {}, b'{"releases": []}')]
    assert ru_customs.fetch_period(client, "2024-01").released is False
    sha = "ab" * 32
    fake_server.routes["/ru-customs/v1/releases"] = [(200, {}, _releases(sha))]
    fake_server.routes["/ru-customs/v1/data/2024-01.csv"] = [(304, {}, b"")]
    fetched = ru_customs.fetch_period(client, "2024-01", held_sha256=sha, held_status="final")
    assert fetched.not_modified
    sent = fake_server.hits("/ru-customs/v1/data/2024-01.csv")[0]["headers"]
    assert sent["If-None-Match"] == f'"{sha}"'
