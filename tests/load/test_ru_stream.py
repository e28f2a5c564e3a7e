"""The streaming ru_customs load equals ``load_unit`` of ``parse_csv``, row for row."""

from __future__ import annotations

import hashlib

import psycopg
import pytest

from bench.ru_csv import write_ru_csv
from corridor.feeds import ru_customs
from corridor.load import raw
from corridor.load.fingerprint import raw_fingerprint

HEADER = "napr;period;strana;tnved;edizm;stoim;netto;kol;region;region_s"
TRICKY = [
    "ЭК;01/2024;KZ;0101210000;ШТ;1234,56;1000,125;3;45000;Москва",     # fast path
    "ИМ;01/2024;kz;8471300000;;99,00;12,5;;;",                          # lower-case partner
    " ИМ ;01/2024;CN;8471300001; Л ;1.5;0012,50;;; Казань ",             # blanks, dot decimal
    "ИМ;01/2024;CN;8471300002;\xa0ШТ;1;1;1;;",                          # no-break space
    'ЭК;01/2024;TR;8703231900;ШТ;100,00;900;1;77000;"Москва; ""центр"""',  # quoted
    'ЭК;01/2024;TR;8703231901;ШТ;100,00;900;1;77000;"две\r\nстроки"',   # quoted line break
    ";;;;;;;;;",                                                          # blank record
    "",                                                                   # blank line
    "ЭК;01/2024;UZ;2709009001;;-5,00;1;;;",                              # negative_value
    "ЭК;01/2024;UZ;2709009001;;5,00;1;;;",                               # dup of a rejected key
    "ИМ;01/2024;TR;8703231900;ШТ;1,00;1;1;77000;x",                      # dup: im/TR/…/77000
    "ИМ;01/2024;TR;8703231900;ШТ;2,00;2;2;77000;y",
    "ЭК;01/2024;KZ;0101210009;ШТ;1e3;1_000;;;tab\there",                 # odd numbers, a tab
    "ЭК;01/2024;KZ;0101210008;back\\slash;1;1;;;",                       # a backslash
    "ЭК;01/2024;KZ;0101210007;;1;1;;;;extra;columns",                    # extra fields
    "ЭК;01/2024;KZ;0101210006;;1;1",                                     # short row
    "ЭК;02/2024;KZ;0101210005;;1;1;;;",                                  # period_mismatch
    "ЭК;01/2024;RU;0101210004;;1;1;;;",                                  # self_partner
    "ЭК;01/2024;KZ;010121000;;1;1;;;",                                   # bad_code_length
    "ЭК;01/2024;KZ;0101210003;;1,;1;;;",                                 # "1," is 1
]


def tricky_payload(header: str = HEADER) -> bytes:
    return ("\r\n".join([header, *TRICKY]) + "\r\n").encode("windows-1251")


def load_both(dsn_stream, dsn_list, source, payload: bytes, revision=1, status="final"):
    sha = hashlib.sha256(payload).hexdigest()
    with psycopg.connect(dsn_stream.conninfo, autocommit=True) as conn:
        raw.ensure_raw_schema(conn)
        streamed = raw.load_ru_customs_csv(conn, source, "2024-01", revision, status, sha)
        stream_print = raw_fingerprint(conn)
    parsed = ru_customs.parse_csv(payload, "2024-01", revision, status)
    with psycopg.connect(dsn_list.conninfo, autocommit=True) as conn:
        raw.ensure_raw_schema(conn)
        listed = raw.load_unit(conn, raw.UnitLoad(
            "ru_customs", "2024-01", "2024-01", revision, status, sha,
            [raw.TableRows("raw.ru_customs_rows", raw.RU_CUSTOMS_COLUMNS, parsed.rows,
                           "delete from raw.ru_customs_rows where period_month = %s",
                           ("2024-01",))],
            parsed.rejections))
        list_print = raw_fingerprint(conn)
    return streamed, listed, stream_print, list_print, parsed


@pytest.mark.parametrize("header", [HEADER, "NAPR; Period;strana;tnved;edizm;stoim;netto;kol;"
                                            "region;region_s;new",
                                    "period;napr;strana;tnved;stoim;netto;region;kol;edizm"])
def test_stream_equals_parse_csv_on_tricky_rows(fresh_database, other_database, header):
    payload = tricky_payload(header)
    streamed, listed, stream_print, list_print, parsed = load_both(
        fresh_database, other_database, payload, payload)
    assert stream_print == list_print
    assert (streamed.rows_loaded, streamed.rows_rejected) == (listed.rows_loaded,
                                                              listed.rows_rejected)
    if header == HEADER:
        reasons = sorted(r.reason for r in parsed.rejections)
        assert reasons.count("duplicate_key") == 3  # 2709009001 (once: the other is
        # negative) and both copies of ИМ/TR/8703231900/77000
        assert len(parsed.rows) == streamed.rows_loaded == 11


@pytest.mark.parametrize("kind", ["path", "chunks"])
def test_stream_equals_parse_csv_on_a_synthetic_file(fresh_database, other_database,
                                                     tmp_path, kind):
    path = write_ru_csv(tmp_path / "2024-01.csv", 30_000, bad_every=97, dup_every=501,
                        quoted_every=113)
    payload = path.read_bytes()
    source = path if kind == "path" else (payload[i:i + 7777]
                                          for i in range(0, len(payload), 7777))
    streamed, listed, stream_print, list_print, _ = load_both(
        fresh_database, other_database, source, payload)
    assert stream_print == list_print
    assert streamed.rows_rejected > 300 and streamed.rows_loaded > 29_000


def test_stream_replaces_a_revision_and_skips_unchanged(fresh_database, tmp_path):
    first = tricky_payload()
    second = ("\r\n".join([HEADER, TRICKY[0]]) + "\r\n").encode("windows-1251")
    with psycopg.connect(fresh_database.conninfo, autocommit=True) as conn:
        raw.ensure_raw_schema(conn)
        raw.load_ru_customs_csv(conn, first, "2024-01", 1, "preliminary", "a")
        again = raw.load_ru_customs_csv(conn, first, "2024-01", 1, "preliminary", "a")
        assert again.skipped == "unchanged"
        outcome = raw.load_ru_customs_csv(conn, second, "2024-01", 2, "final", "b")
        assert (outcome.rows_loaded, outcome.rows_rejected) == (1, 0)
        assert conn.execute("select count(*) from raw.rejected_rows").fetchone()[0] == 0
        older = raw.load_ru_customs_csv(conn, first, "2024-01", 1, "final", "c")
        assert older.skipped == "older_revision"
        assert conn.execute("select revision, row_number from raw.ru_customs_rows"
                            ).fetchall() == [(2, 1)]


def test_failed_stream_leaves_the_old_revision(fresh_database):
    good = tricky_payload()
    broken = good + b"\x98;broken\r\n"  # 0x98 is undefined in windows-1251
    with psycopg.connect(fresh_database.conninfo, autocommit=True) as conn:
        raw.ensure_raw_schema(conn)
        raw.load_ru_customs_csv(conn, good, "2024-01", 1, "final", "a")
        before = raw_fingerprint(conn)
        with pytest.raises(UnicodeDecodeError):
            raw.load_ru_customs_csv(conn, broken, "2024-01", 2, "final", "b")
        assert raw_fingerprint(conn) == before
