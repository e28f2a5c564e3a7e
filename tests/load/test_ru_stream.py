"""The streaming ru_customs load equals ``load_unit`` of ``parse_csv``, row for row."""

from __future__ import annotations

import concurrent.futures
import hashlib
import threading

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
    """``source`` streamed into ``dsn_stream``, ``payload`` parsed by parse_csv and listed
    into ``dsn_list``: asserts both raw schemas end the same and returns (streamed outcome,
    listed outcome, parse result)."""
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
    assert stream_print == list_print
    return streamed, listed, parsed


def counts(outcome) -> tuple[int, int]:
    """(rows loaded, rows rejected) of a load."""
    return outcome.rows_loaded, outcome.rows_rejected


@pytest.mark.parametrize("header", [HEADER, "NAPR; Period;strana;tnved;edizm;stoim;netto;kol;"
                                            "region;region_s;new",
                                    "period;napr;strana;tnved;stoim;netto;region;kol;edizm"])
def test_stream_equals_parse_csv_on_tricky_rows(fresh_database, other_database, header):
    payload = tricky_payload(header)
    streamed, listed, parsed = load_both(
        fresh_database, other_database, payload, payload)
    assert counts(streamed) == counts(listed)
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
    streamed, listed, _ = load_both(
        fresh_database, other_database, source, payload)
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


def test_a_header_alone_loads_a_unit_with_no_rows(fresh_database):
    header = tricky_payload().split(b"\r\n")[0] + b"\r\n"
    with psycopg.connect(fresh_database.conninfo, autocommit=True) as conn:
        raw.ensure_raw_schema(conn)
        outcome = raw.load_ru_customs_csv(conn, header, "2024-01", 1, "final", "a")
        assert (outcome.rows_loaded, outcome.rows_rejected) == (0, 0)
        with pytest.raises(ValueError, match=r"ru_customs 2024-01: data row 1: byte 0x98 "):
            raw.load_ru_customs_csv(conn, header + b"\x98;broken\r\n", "2024-01", 2,
                                    "final", "b")


@pytest.mark.parametrize("bad_line", [
    b"\x98;broken",                                              # 0x98: undefined in windows-1251
    "ЭК;01/2024;KZ;0101210077;ШТ;1,5;1;1;45000;Моск".encode("windows-1251") + b"\x98",  # a run's
])
def test_failed_stream_leaves_the_old_revision(fresh_database, bad_line):
    good = tricky_payload()
    broken = good + bad_line + b"\r\n"
    with psycopg.connect(fresh_database.conninfo, autocommit=True) as conn:
        raw.ensure_raw_schema(conn)
        raw.load_ru_customs_csv(conn, good, "2024-01", 1, "final", "a")
        before = raw_fingerprint(conn)
        # TRICKY's data lines but its empty one (a blank record is a rejected row now)
        with pytest.raises(ValueError, match=rf"ru_customs 2024-01: data row {len(TRICKY)}: "
                                             r"byte 0x98 at byte offset \d+ is not windows-1251"):
            raw.load_ru_customs_csv(conn, broken, "2024-01", 2, "final", "b")
        assert raw_fingerprint(conn) == before


# ------------------------------------------------------------ more awkward rows

#: More rows every rule must judge as parse_csv does (once the rows of a former staged
#: path, which PostgreSQL's CSV reader parsed).
AWKWARD = [
    "ЭК;01/2024;KZ;0101210000;ШТ;1234,56;1000,125;3;45000;Москва",
    "ИМ;01/2024;kz;8471300000;;99,00;12,5;;;",                          # lower-case partner
    " ИМ ;01/2024;CN;8471300001; Л ;1.5;0012,50;;; Казань ",             # blanks, dot decimal
    "ИМ;01/2024;CN;8471300002;\xa0ШТ;1;1;1;;",                          # no-break space
    "ИМ;01/2024;CN;8471300012;ШТ;1;1;1;;\x0bx\x1c",                     # other strippables
    'ЭК;01/2024;TR;8703231900;ШТ;100,00;900;1;77000;"Москва; ""центр"""',  # quoted
    'ЭК;01/2024;TR;8703231901;ШТ;100,00;900;1;77000;"две\r\nстроки"',   # quoted line break
    '"ЭК";"01/2024";"TR";"8703231902";"";"1";"2";"";"";""',             # all quoted
    "ЭК;01/2024;UZ;2709009001;;-5,00;1;;;",                              # negative_value
    "ЭК;01/2024;UZ;2709009001;;5,00;1;;;",                               # dup of a rejected key
    "ИМ;01/2024;TR;8703231900;ШТ;1,00;1;1;77000;x",                      # dup: im/TR/…/77000
    "ИМ;01/2024;TR;8703231900;ШТ;2,00;2;2;77000;y",
    "ИМ;01/2024;tr;8703231903;ШТ;2,00;2;2;;y",                           # dup via upper()
    "ИМ;01/2024;TR;8703231903;ШТ;2,00;2;2;;y",
    "ЭК;01/2024;KZ;0101210009;ШТ;1e3;1_000;;;tab\there",                 # odd numbers, a tab
    "ЭК;01/2024;KZ;0101210008;back\\slash;1;1;;;",                       # a backslash
    "ЭК;01/2024;KZ;0101210010;;1;1;;; it's \\ x",                      # repr in details
    "ЭК;02/2024;KZ;0101210005;;1;1;;;",                                  # period_mismatch
    "ЭК;13/2024;KZ;0101210015;;1;1;;;",                                  # unparsable period
    "ЭК;01/2024;RU;0101210004;;1;1;;;",                                  # self_partner
    "ЭК;01/2024;QQ;0101210014;;1;1;;;",                                  # unknown_partner
    "ЭК;01/2024;XX;0101210024;;1;1;;;",                                  # undisclosed
    "ЭК;01/2024;KZ;010121000;;1;1;;;",                                   # bad_code_length
    "ЭК;01/2024;KZ;01012100AB;;1;1;;;",                                  # not digits
    "ЭК;01/2024;KZ;0101210003;;1,;1;;;",                                 # "1," is 1
    "ЭК;01/2024;KZ;0101210013;;;1;;;",                                   # missing stoim
    "ЭК;01/2024;KZ;0101210023;;1;1;-1;;",                                # negative kol
    "ЭК;01/2024;KZ;0101210033;;1;1;x;;",                                 # unparsable kol
    "ЭК;01/2024;KZ;0101210043;;1;NaN;;;",                                # not finite
    "XX;01/2024;KZ;0101210053;;1;1;;;",                                  # bad napr
    "ЭК;01/2024;KZ;0101210063;;00,000;0;0;00000;",                      # zeros
]


def awkward_payload(rows=AWKWARD, header: str = HEADER) -> bytes:
    return ("\r\n".join([header, *rows]) + "\r\n").encode("windows-1251")


@pytest.mark.parametrize("header", [HEADER, "NAPR; Period;strana;tnved;edizm;stoim;netto;kol;"
                                            "region;region_s;new",
                                    "period;napr;strana;tnved;stoim;netto;region;kol;edizm;"
                                    "region_s"])
# (A header that repeats a column rejects the file: tests/hostile/test_rows.py.)
@pytest.mark.parametrize("kind", ["bytes", "chunks"])
def test_awkward_rows_equal_parse_csv(fresh_database, other_database, header, kind):
    extra = header.count(";") - HEADER.count(";")  # unknown extra columns: fields too
    payload = awkward_payload([row + ";extra" * extra for row in AWKWARD], header)
    source = payload if kind == "bytes" else (payload[i:i + 5] for i in range(0, len(payload), 5))
    streamed, listed, parsed = load_both(
        fresh_database, other_database, source, payload)
    assert counts(streamed) == counts(listed)
    if header.lower().replace(" ", "").startswith("napr;period;strana;tnved;edizm;"):
        assert streamed.rows_rejected > 10 and streamed.rows_loaded > 5
        assert [r.reason for r in parsed.rejections].count("duplicate_key") == 5


@pytest.mark.parametrize("extra", [
    "",                                      # blank line
    ";;;;;;;;;",                             # blank record: rows after it numbered one lower
    " ; ;\xa0;;;;;;;",                       # blank record of blanks
    "ЭК;01/2024;KZ;0101210007;;1;1;;;;extra;columns",  # more fields than the header
    "ЭК;01/2024;KZ;0101210006;;1;1",         # fewer
    'ЭК;01/2024;KZ;0101210016;;1;1;;;ab"c;d"e',  # a quote inside a field
    'ЭК;01/2024;KZ;0101210026;;1;1;;; "x"',  # a quote after a blank
    '"ЭК"x;01/2024;KZ;0101210036;;1;1;;;',   # text after a closing quote
    "\\.",                                   # COPY's end-of-data marker
    "ЭК;01/2024;KZ;0101210046;;1;1;;;a\rb",  # a lone CR
    "ЭК;01/2024;UZ;2709009001;;5,00;1;;;",   # a third copy of a key
])
def test_awkward_records_equal_parse_csv(fresh_database, other_database, extra):
    rows = [*AWKWARD[:5], extra, *AWKWARD[5:]]
    payload = awkward_payload(rows)
    streamed, listed, _ = load_both(
        fresh_database, other_database, payload, payload)
    assert counts(streamed) == counts(listed)


def test_many_duplicate_keys(fresh_database, other_database, tmp_path):
    """Many duplicate keys among rejected and quoted rows: same result as grouping the
    keys."""
    path = write_ru_csv(tmp_path / "2024-01.csv", 20_000, bad_every=97, dup_every=501,
                        quoted_every=113)
    streamed, listed, parsed = load_both(
        fresh_database, other_database, path, path.read_bytes())
    assert [r.reason for r in parsed.rejections].count("duplicate_key") > 60


def test_duplicates_across_every_way_a_row_is_read(fresh_database, other_database):
    """A key in a run and in a quoted two-line record; a key on the per-line fast path
    and in a record the rules normalise (blanks, lower case): all four rejected."""
    rows = [*TRICKY[:1],
            "ЭК;01/2024;TR;8703231950;ШТ;1,00;1;1;77000;x",                     # run
            "ЭК;01/2024;KZ;0101210000;ШТ;1;1;1;;a, b",                           # fast path
            'ЭК;01/2024;TR;8703231950;ШТ;2,00;2;2;77000;"две\r\nстроки"',       # quoted
            " ЭК ;01/2024;kz;0101210000;;5;5;;;"]                                 # normalised
    payload = ("\r\n".join([HEADER, *rows]) + "\r\n").encode("windows-1251")
    streamed, listed, parsed = load_both(
        fresh_database, other_database, payload, payload)
    assert sorted(r.row_ref for r in parsed.rejections if r.reason == "duplicate_key") == [
        "2", "3", "4", "5"]


def test_duplicate_rows_are_rejected(fresh_database, other_database, tmp_path):
    """A few duplicates in a file: the result is parse_csv's."""
    path = write_ru_csv(tmp_path / "2024-01.csv", 30_000, dup_every=3001)
    streamed, listed, parsed = load_both(
        fresh_database, other_database, path, path.read_bytes())
    assert [r.reason for r in parsed.rejections].count("duplicate_key") >= 18


def test_duplicate_rows_in_reused_pages(fresh_database, tmp_path):
    """Free space left by an older unit (deleted, then VACUUMed) is filled first by the
    COPY: the unit ends as parse_csv's, and the other unit is untouched."""
    with psycopg.connect(fresh_database.conninfo, autocommit=True) as conn:
        raw.ensure_raw_schema(conn)
        for month, rows in (("2024-01", 8_000), ("2024-02", 40_000)):
            path = write_ru_csv(tmp_path / f"{month}.csv", rows, month, dup_every=0)
            raw.load_ru_customs_csv(conn, path, month, 1, "final", month)
        conn.execute("delete from raw.ru_customs_rows where period_month = '2024-01'")
        conn.execute("vacuum raw.ru_customs_rows")
        path = write_ru_csv(tmp_path / "2024-03.csv", 40_000, "2024-03", dup_every=4001)
        raw.load_ru_customs_csv(conn, path, "2024-03", 1, "final", "2024-03")
        parsed = {month: _parsed(tmp_path / f"{month}.csv", month)
                  for month in ("2024-02", "2024-03")}
        for month, result in parsed.items():
            assert _held(conn, month) == _accepted(result)
    assert [r.reason for r in parsed["2024-03"].rejections].count("duplicate_key") >= 18


def _held(conn: psycopg.Connection, month: str) -> list[tuple]:
    return conn.execute("select row_number, stoim from raw.ru_customs_rows "
                        "where period_month = %s order by 1", (month,)).fetchall()


def _parsed(source: ru_customs.Source, month: str) -> ru_customs.ParseResult:
    return ru_customs.parse_csv(source, month, 1, "final")


def _accepted(parsed: ru_customs.ParseResult) -> list[tuple]:
    """(row_number, stoim) of the accepted rows, as :func:`_held` reads them."""
    return [(row["row_number"], row["stoim"]) for row in parsed.rows]


def test_duplicate_rows_of_the_next_month(fresh_database, tmp_path):
    """A connection's next COPY starts in the page its last one ended in, which another
    load's pages may now follow: each month ends as parse_csv's."""
    paths = {month: write_ru_csv(tmp_path / f"{month}.csv", rows, month, dup_every=2001)
             for month, rows in (("2024-01", 20_000), ("2023-12", 3_000), ("2024-02", 20_000))}
    with psycopg.connect(fresh_database.conninfo, autocommit=True) as conn, \
            psycopg.connect(fresh_database.conninfo, autocommit=True) as other:
        raw.ensure_raw_schema(conn)
        raw.load_ru_customs_csv(conn, paths["2024-01"], "2024-01", 1, "final", "a")
        raw.load_ru_customs_csv(other, paths["2023-12"], "2023-12", 1, "final", "b")
        raw.load_ru_customs_csv(conn, paths["2024-02"], "2024-02", 1, "final", "c")
        for month, path in paths.items():
            parsed = _parsed(path, month)
            assert _held(conn, month) == _accepted(parsed)
            assert [r.reason for r in parsed.rejections].count("duplicate_key") >= 2


def test_concurrent_loads_with_duplicates(fresh_database, tmp_path):
    """Two months COPYed at the same time into the same table, their chunks fed in
    turn, interleave their pages: each load rejects exactly its own duplicate rows."""
    months = ("2024-01", "2024-02")
    payloads = {month: write_ru_csv(tmp_path / f"{month}.csv", 60_000, month,
                                    dup_every=3001, seed=index).read_bytes()
                for index, month in enumerate(months)}
    with psycopg.connect(fresh_database.conninfo, autocommit=True) as conn:
        raw.ensure_raw_schema(conn)
    turn = threading.Condition()
    state = {"next": 0, "done": set()}

    def chunks(index: int, payload: bytes):
        """The payload in 64 KiB chunks, each when the other load has had its turn."""
        try:
            for at in range(0, len(payload), 1 << 16):
                with turn:
                    assert turn.wait_for(lambda: state["next"] == index or state["done"],
                                         timeout=30)
                yield payload[at:at + (1 << 16)]
                with turn:
                    state["next"] = 1 - index
                    turn.notify_all()
        finally:  # the other load goes on alone, even if this one failed
            with turn:
                state["done"].add(index)
                turn.notify_all()

    def load(index: int) -> None:
        month = months[index]
        with psycopg.connect(fresh_database.conninfo, autocommit=True) as conn:
            raw.load_ru_customs_csv(conn, chunks(index, payloads[month]), month, 1, "final",
                                    month)

    with concurrent.futures.ThreadPoolExecutor(len(months)) as pool:
        list(pool.map(load, range(len(months))))
    with psycopg.connect(fresh_database.conninfo, autocommit=True) as conn:
        for month in months:
            parsed = _parsed(payloads[month], month)
            assert _held(conn, month) == _accepted(parsed)
            assert [r.reason for r in parsed.rejections].count("duplicate_key") >= 38
        # The pages did interleave: each month has pages on both sides of the other's.
        spans = conn.execute("select min((ctid::text::point)[0]), max((ctid::text::point)[0]) "
                             "from raw.ru_customs_rows group by period_month").fetchall()
    (low_a, high_a), (low_b, high_b) = spans
    assert low_a < high_b and low_b < high_a
