from __future__ import annotations

from decimal import Decimal

import psycopg
import pytest

from corridor.feeds.common import make_rejection
from corridor.load import raw


@pytest.fixture()
def conn(fresh_database):
    with psycopg.connect(fresh_database.conninfo, autocommit=True) as connection:
        raw.ensure_raw_schema(connection)
        raw.ensure_raw_schema(connection)  # idempotent
        yield connection


def ru_rows(revision, codes):
    return [{"period_month": "2024-01", "revision": revision, "status": "final",
             "row_number": n, "napr": "ЭК", "period": "01/2024", "strana": "KZ",
             "tnved": code, "edizm": None, "stoim": Decimal("10.50"), "netto": Decimal("1.125"),
             "kol": None, "region": None, "region_s": None}
            for n, code in enumerate(codes, start=1)]


def ru_unit(revision, codes, sha, rejections=()):
    return raw.UnitLoad("ru_customs", "2024-01", "2024-01", revision, "final", sha,
                        [raw.TableRows("raw.ru_customs_rows", raw.RU_CUSTOMS_COLUMNS,
                                       iter(ru_rows(revision, codes)),
                                       "delete from raw.ru_customs_rows where period_month = %s",
                                       ("2024-01",))],
                        list(rejections))


def table(conn):
    return conn.execute("select revision, row_number, tnved, stoim, netto from "
                        "raw.ru_customs_rows order by row_number").fetchall()


def rejection(row_ref="3"):
    return make_rejection("ru_customs", "2024-01", row_ref, "negative_value",
                          "stoim='-1' is negative", "ЭК;01/2024;KZ;0101210000;;-1;1;;;;")


def test_same_unit_twice_is_identical(conn):
    first = raw.load_unit(conn, ru_unit(1, ["0101210000", "2709009001"], "a" * 64,
                                        [rejection()]))
    before = table(conn)
    again = raw.load_unit(conn, ru_unit(1, ["0101210000", "2709009001"], "a" * 64,
                                        [rejection()]))
    assert first.loaded and not again.loaded and again.skipped == "unchanged"
    assert table(conn) == before
    assert before[0][3] == Decimal("10.50") and before[0][2] == "0101210000"
    assert conn.execute("select count(*) from raw.rejected_rows").fetchone()[0] == 1


def test_reload_same_revision_other_sha_replaces_without_duplicates(conn):
    raw.load_unit(conn, ru_unit(1, ["0101210000", "2709009001"], "a" * 64, [rejection()]))
    raw.load_unit(conn, ru_unit(1, ["0101210000", "2709009001"], "b" * 64, [rejection()]))
    assert len(table(conn)) == 2
    assert conn.execute("select count(*) from raw.rejected_rows").fetchone()[0] == 1


def test_higher_revision_replaces_and_vanished_rows_vanish(conn):
    raw.load_unit(conn, ru_unit(1, ["0101210000", "2709009001", "8471300000"], "a" * 64,
                                [rejection()]))
    outcome = raw.load_unit(conn, ru_unit(2, ["0101210000"], "b" * 64))
    assert outcome.loaded and outcome.rows_loaded == 1
    assert [(r[0], r[2]) for r in table(conn)] == [(2, "0101210000")]
    assert conn.execute("select count(*) from raw.rejected_rows").fetchone()[0] == 0
    unit = raw.loaded_unit(conn, "ru_customs", "2024-01")
    assert (unit["revision"], unit["sha256"], unit["rows_loaded"]) == (2, "b" * 64, 1)


def test_lower_revision_is_ignored(conn):
    raw.load_unit(conn, ru_unit(3, ["0101210000"], "c" * 64))
    outcome = raw.load_unit(conn, ru_unit(2, ["2709009001", "8471300000"], "b" * 64))
    assert not outcome.loaded and outcome.skipped == "older_revision"
    assert [(r[0], r[2]) for r in table(conn)] == [(3, "0101210000")]


def test_rejected_rows_stored_with_reason(conn):
    raw.load_unit(conn, ru_unit(1, ["0101210000"], "a" * 64, [rejection("7")]))
    row = conn.execute("select feed, unit, row_ref, reason, detail, raw_record "
                       "from raw.rejected_rows").fetchone()
    assert row[:4] == ("ru_customs", "2024-01", "7", "negative_value")
    assert "ru_customs unit 2024-01 row 7" in row[4] and row[5].startswith("ЭК;")
    unit = raw.loaded_unit(conn, "ru_customs", "2024-01")
    assert (unit["rows_loaded"], unit["rows_rejected"]) == (1, 1)


def test_failed_load_leaves_old_unit(conn):
    raw.load_unit(conn, ru_unit(1, ["0101210000"], "a" * 64))
    broken = ru_unit(2, ["2709009001"], "b" * 64)
    broken.tables[0].rows = iter([{**ru_rows(2, ["2709009001"])[0], "napr": None}])
    with pytest.raises(psycopg.Error):
        raw.load_unit(conn, broken)
    assert [(r[0], r[2]) for r in table(conn)] == [(1, "0101210000")]
    assert raw.loaded_unit(conn, "ru_customs", "2024-01")["revision"] == 1


def call(call_id, version, status="departed", updated="2024-01-31T23:10:00+05:00"):
    return {"call_id": call_id, "port": "KZAAU", "version": version, "updated_at": updated,
            "status": status, "vessel_imo": None, "vessel_name": None, "vessel_flag": None,
            "arrived_at": "2024-01-31T22:40:00+05:00", "departed_at": None,
            "previous_port": None, "next_port": None}


def line(call_id, version, n, tonnes):
    return {"call_id": call_id, "version": version, "line_number": n, "operation": "load",
            "cargo_type": "general", "hs_chapter": None, "tonnes": Decimal(tonnes), "teu": None}


def test_port_calls_highest_version_wins_and_high_water_mark(conn):
    raw.load_port_calls(conn, "KZAAU", [call("C1", 3)],
                        [line("C1", 3, 1, "5"), line("C1", 3, 2, "6")], [],
                        "2024-02-01T00:00:00+05:00")
    # An older version arriving later is ignored, with an older updated_at.
    outcome = raw.load_port_calls(conn, "KZAAU", [call("C1", 2, "at_berth"), call("C2", 1)],
                                  [line("C1", 2, 1, "99"), line("C2", 1, 1, "7")], [],
                                  "2024-01-20T00:00:00+05:00")
    assert outcome.calls_updated == 1
    calls = conn.execute("select call_id, version, status from raw.port_calls "
                         "order by call_id").fetchall()
    assert calls == [("C1", 3, "departed"), ("C2", 1, "departed")]
    lines = conn.execute("select call_id, line_number, tonnes from raw.port_cargo_lines "
                         "order by call_id, line_number").fetchall()
    assert lines == [("C1", 1, Decimal("5")), ("C1", 2, Decimal("6")), ("C2", 1, Decimal("7"))]
    assert raw.port_high_water_mark(conn, "KZAAU") == "2024-02-01T00:00:00+05:00"
    # A higher version replaces the call's lines (one vanishes).
    raw.load_port_calls(conn, "KZAAU", [call("C1", 4)], [line("C1", 4, 1, "8")], [],
                        "2024-02-03T00:00:00+05:00")
    lines = conn.execute("select line_number, tonnes, version from raw.port_cargo_lines "
                         "where call_id = 'C1'").fetchall()
    assert lines == [(1, Decimal("8"), 4)]
