"""Due, late and missing (corridor.status): the due rule and the states with an injected
clock, the grid read from a small warehouse, ``corridor status`` and the late alert."""

from __future__ import annotations

import logging
from datetime import UTC, date, datetime, timedelta, timezone

import psycopg
import pytest

from corridor.config import DUE_DAYS_DEFAULT, MIRROR_REPORTERS_M49, Settings
from corridor.load.raw import ensure_raw_schema
from corridor.status import (
    LoadedUnit,
    Snapshot,
    alert_late,
    build_grid,
    cell_text,
    due_date,
    expected_units,
    is_past_due,
    late_units,
    state_of,
    summarise,
)

UTC = UTC
KZ = timezone(timedelta(hours=5))


def at(day: str, hour: int = 12, tz=UTC) -> datetime:
    return datetime.fromisoformat(day).replace(hour=hour, tzinfo=tz)


# --- the due rule ------------------------------------------------------------------------

def test_due_dates_count_days_from_the_months_last_day():
    days = DUE_DAYS_DEFAULT
    assert due_date("ru_customs", "2024-11", days) == date(2025, 1, 14)
    assert due_date("kz_customs", "2024-01", days) == date(2024, 3, 16)
    assert due_date("comtrade", "2024-02", days) == date(2024, 5, 29)  # 29 days in Feb 2024
    assert due_date("ports", "2024-12", days) == date(2025, 1, 5)
    # a rail month is due when its last day's report is due: last day + 3
    assert due_date("rail", "2024-12", days) == date(2025, 1, 3)
    assert due_date("rail", "2023-02", days) == date(2023, 3, 3)


def test_due_days_come_from_settings_json_and_keep_the_other_defaults(monkeypatch):
    assert Settings().due_days == {"ru_customs": 45, "kz_customs": 45, "comtrade": 90,
                                   "ports": 5, "rail": 3}
    monkeypatch.setenv("CORRIDOR_DUE_DAYS", '{"comtrade": 120}')
    settings = Settings()
    assert settings.due_days == {**DUE_DAYS_DEFAULT, "comtrade": 120}
    assert due_date("comtrade", "2024-02", settings.due_days) == date(2024, 6, 28)
    monkeypatch.setenv("CORRIDOR_DUE_DAYS", '{"comtrad": 120}')
    with pytest.raises(ValueError, match="unknown feed"):
        Settings()
    monkeypatch.setenv("CORRIDOR_DUE_DAYS", '{"rail": -1}')
    with pytest.raises(ValueError, match=">= 0"):
        Settings()


def test_the_due_day_itself_is_on_time_and_the_next_day_is_late():
    due = date(2025, 1, 14)
    assert not is_past_due(due, datetime(2025, 1, 13, 23, 59, tzinfo=UTC))
    assert not is_past_due(due, datetime(2025, 1, 14, 23, 59, 59, tzinfo=UTC))
    assert is_past_due(due, datetime(2025, 1, 15, 0, 0, tzinfo=UTC))
    # judged in UTC: 02:00 on the 15th in Kazakhstan is still the 14th in UTC
    assert not is_past_due(due, datetime(2025, 1, 15, 2, 0, tzinfo=KZ))
    assert is_past_due(due, datetime(2025, 1, 15, 5, 0, tzinfo=KZ))


def test_states_with_an_injected_clock():
    due = date(2025, 1, 14)
    before, on_the_day, after = at("2025-01-10"), at("2025-01-14", 23), at("2025-01-15", 0)
    assert state_of(1, 1, due, after) == "loaded"
    assert state_of(1, 1, due, before) == "loaded"  # early is fine
    assert state_of(1, 0, due, before) == "not_due"
    assert state_of(1, 0, due, on_the_day) == "not_due"
    assert state_of(1, 0, due, after) == "late"
    assert state_of(9, 7, due, on_the_day) == "not_due"
    assert state_of(9, 7, due, after) == "partial"
    assert state_of(9, 0, due, after) == "late"
    assert state_of(9, 9, due, after) == "loaded"


def test_expected_units_per_feed():
    assert expected_units("ru_customs", "2024-02") == ["2024-02"]
    assert expected_units("comtrade", "2024-02") == [f"{r}:2024-02" for r in MIRROR_REPORTERS_M49]
    assert len(expected_units("comtrade", "2024-02")) == 9
    days = expected_units("rail", "2024-02")
    assert (len(days), days[0], days[-1]) == (29, "2024-02-01", "2024-02-29")
    assert expected_units("ports", "2024-02") == ["KZAAU", "KZKUR"]


def snapshot_with_comtrade(reporters) -> Snapshot:
    loaded = LoadedUnit(None, "final", at("2024-12-01"))
    return Snapshot(["2024-09"], dict(DUE_DAYS_DEFAULT),
                    units={"comtrade": {f"{r}:2024-09": loaded for r in reporters}})


def test_a_partial_comtrade_month_before_and_after_its_due_date():
    snapshot = snapshot_with_comtrade(MIRROR_REPORTERS_M49[:7])  # 112 and 51 missing,
    snapshot.units["comtrade"].pop("31:2024-09")                 # then 31 too, then 112
    snapshot.units["comtrade"]["112:2024-09"] = LoadedUnit(None, "final", at("2024-12-20"))
    due = date(2024, 12, 29)
    on_the_day = snapshot.cell("comtrade", "2024-09", at("2024-12-29", 23))
    assert (on_the_day.state, on_the_day.due_date) == ("not_due", due)
    cell = snapshot.cell("comtrade", "2024-09", at("2024-12-30", 0))
    assert cell.state == "partial"
    assert (cell.units_loaded, cell.units_expected) == (7, 9)
    assert cell.missing == ("31:2024-09", "51:2024-09")
    assert cell.fetched_at == at("2024-12-20")
    assert cell_text(cell) == "partial 7/9 final due 2024-12-29"
    assert snapshot_with_comtrade(MIRROR_REPORTERS_M49).cell(
        "comtrade", "2024-09", at("2024-12-30")).state == "loaded"
    assert snapshot_with_comtrade([]).cell(
        "comtrade", "2024-09", at("2024-12-30")).state == "late"


def test_a_port_month_arrives_when_the_port_synced_past_its_local_end():
    snapshot = Snapshot(["2024-11"], dict(DUE_DAYS_DEFAULT),
                        port_calls={("KZAAU", "2024-11"): 40},
                        port_synced={"KZAAU": datetime(2024, 11, 30, 19, 0, tzinfo=UTC),
                                     "KZKUR": datetime(2024, 11, 30, 18, 59, tzinfo=UTC)},
                        port_offsets={"KZAAU": KZ, "KZKUR": KZ})
    # 19:00 UTC is midnight in Aktau; Kuryk's last sync was a minute before its midnight
    cell = snapshot.cell("ports", "2024-11", at("2024-12-06"))
    assert (cell.state, cell.missing, cell.calls) == ("partial", ("KZKUR",),
                                                       {"KZAAU": 40, "KZKUR": 0})
    assert snapshot.cell("ports", "2024-11", at("2024-12-05", 23)).state == "not_due"
    snapshot.port_synced["KZKUR"] = datetime(2024, 12, 2, tzinfo=UTC)
    cell = snapshot.cell("ports", "2024-11", at("2024-12-06"))
    assert cell.state == "loaded"  # Kuryk had no call that month: synced, so it is 0
    assert cell_text(cell) == "loaded 40+0 calls 2024-12-02"


def test_late_units_and_the_warning_lines(caplog):
    snapshot = snapshot_with_comtrade(MIRROR_REPORTERS_M49[:8])
    snapshot.months = ["2024-09", "2024-10", "2024-11"]
    snapshot.units["ru_customs"] = {
        "2024-09": LoadedUnit(2, "final", at("2024-11-03")),
        "2024-10": LoadedUnit(1, "preliminary", at("2024-12-03")),
    }
    grid = snapshot.grid(at("2025-01-20"))
    assert {(c.feed, c.month): c.state for c in grid if c.feed == "ru_customs"} == {
        ("ru_customs", "2024-09"): "loaded", ("ru_customs", "2024-10"): "loaded",
        ("ru_customs", "2024-11"): "late"}
    late = late_units(grid)
    assert ("ru_customs", "2024-11", date(2025, 1, 14)) in late
    assert ("comtrade", "2024-09", date(2024, 12, 29)) in late
    assert ("comtrade", "2024-11", date(2025, 2, 28)) not in late  # not due yet
    assert ("kz_customs", "2024-09", date(2024, 11, 14)) in late
    with caplog.at_level(logging.WARNING, logger="corridor.status"):
        assert alert_late(grid) == late
    lines = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(lines) == len(late)
    assert "corridor late: ru_customs 2024-11 was due 2025-01-14, not arrived" in lines
    assert ("corridor late: comtrade 2024-09 was due 2024-12-29, 8/9 units arrived "
            "(missing 51)") in lines
    rail = next(line for line in lines if line.startswith("corridor late: rail 2024-09"))
    assert rail.endswith("not arrived")
    # on its due day RU 2024-11 is not late yet
    assert ("ru_customs", "2024-11", date(2025, 1, 14)) not in late_units(
        snapshot.grid(at("2025-01-14", 23)))
    summary = {s.feed: s for s in summarise(grid, at("2025-01-20"))}
    assert (summary["ru_customs"].done, summary["ru_customs"].due,
            summary["ru_customs"].late) == (2, 3, 1)
    assert (summary["comtrade"].done, summary["comtrade"].due, summary["comtrade"].early,
            summary["comtrade"].late) == (8, 9, 0, 1)


# --- from the warehouse ------------------------------------------------------------------

WINDOW = Settings(period_from="2024-11", period_to="2024-12")  # ingest 2023-11..2024-12


def fill_warehouse(dsn) -> None:
    """A small raw schema: most units there, some late, partial or outside the window."""
    months = WINDOW.ingest_months
    loaded = datetime(2025, 1, 3, 8, 0, tzinfo=UTC)
    units, reporting = [], []
    for month in months:
        for feed in ("ru_customs", "kz_customs"):
            if (feed, month) != ("ru_customs", "2024-11"):  # RU 2024-11 never came
                revision, status = (1, "preliminary") if month == "2024-12" else (2, "final")
                units.append((feed, month, month, revision, status, loaded))
        for reporter in MIRROR_REPORTERS_M49:
            if month == "2024-12" and reporter in (795, 51):
                continue  # two reporters not in yet
            units.append(("comtrade", f"{reporter}:{month}", month, None, "final", loaded))
            # 2024-10: Turkmenistan was fetched, but had published nothing
            reporting.append((reporter, month, (reporter, month) != (795, "2024-10"), 1))
        for day in expected_units("rail", month):
            status = "rejected" if day == "2024-12-25" else None  # a report rejected whole
            units.append(("rail", day, month, 2 if day == "2024-12-24" else 1, status, loaded))
    units.append(("ru_customs", "2023-10", "2023-10", 2, "final", loaded))  # before the window
    calls = [("KZAAU-1", "KZAAU", "2024-11-30T20:00:00+00:00"),  # 01:00 on 1 Dec in Aktau
             ("KZAAU-2", "KZAAU", "2024-12-10T08:00:00+05:00"),
             ("KZAAU-3", "KZAAU", "2024-11-30T18:00:00+00:00"),  # 23:00 on 30 Nov in Aktau
             ("KZKUR-1", "KZKUR", "2024-12-02T08:00:00+05:00")]
    with psycopg.connect(dsn.conninfo, autocommit=True) as conn:
        ensure_raw_schema(conn)
        with conn.cursor() as cur:
            cur.executemany(
                "insert into raw.loaded_units (feed, unit, period_month, revision, status, "
                "rows_loaded, rows_rejected, loaded_at) values (%s, %s, %s, %s, %s, 1, 0, %s)",
                units)
            cur.executemany("insert into raw.comtrade_reporting values (%s, %s, %s, %s)",
                            reporting)
            cur.executemany(
                "insert into raw.port_calls (call_id, port, version, updated_at, status, "
                "arrived_at) values (%s, %s, 1, %s, 'departed', %s)",
                [(call, port, arrived, arrived) for call, port, arrived in calls])
            cur.executemany(
                "insert into raw.port_sync_state (port, high_water_mark, synced_at) "
                "values (%s, null, %s)",
                [("KZAAU", datetime(2025, 1, 2, tzinfo=UTC)),
                 ("KZKUR", datetime(2024, 12, 15, tzinfo=UTC))])


NOW = datetime(2025, 2, 10, 9, 0, tzinfo=UTC)


def test_grid_from_the_warehouse(fresh_database):
    fill_warehouse(fresh_database)
    with psycopg.connect(fresh_database.conninfo) as conn:
        grid = build_grid(conn, WINDOW, NOW)
    assert len(grid) == 5 * 14
    cells = {(c.feed, c.month): c for c in grid}
    assert [c.month for c in grid[:14]] == WINDOW.ingest_months
    ru = cells[("ru_customs", "2024-11")]
    assert (ru.state, ru.due_date, ru.units_loaded) == ("late", date(2025, 1, 14), 0)
    ru_dec = cells[("ru_customs", "2024-12")]
    assert (ru_dec.state, ru_dec.revisions, ru_dec.statuses) == ("loaded", (1,),
                                                                 ("preliminary",))
    assert ru_dec.fetched_at == datetime(2025, 1, 3, 8, 0, tzinfo=UTC)
    assert cells[("ru_customs", "2023-11")].revisions == (2,)
    assert cells[("comtrade", "2024-12")].state == "not_due"  # due 2025-03-31
    assert cells[("comtrade", "2024-12")].units_loaded == 7
    ct_oct = cells[("comtrade", "2024-10")]
    assert (ct_oct.state, ct_oct.missing) == ("partial", ("795:2024-10",))
    assert cells[("comtrade", "2024-09")].state == "loaded"
    rail = cells[("rail", "2024-12")]
    assert (rail.state, rail.units_loaded, rail.missing) == ("partial", 30, ("2024-12-25",))
    assert rail.revisions == (1, 2)
    assert cells[("rail", "2024-11")].state == "loaded"
    ports_nov, ports_dec = cells[("ports", "2024-11")], cells[("ports", "2024-12")]
    assert (ports_nov.state, ports_nov.calls) == ("loaded", {"KZAAU": 1, "KZKUR": 0})
    assert (ports_dec.state, ports_dec.calls) == ("partial", {"KZAAU": 2, "KZKUR": 1})
    assert ports_dec.missing == ("KZKUR",)
    assert cells[("ports", "2023-11")].calls == {"KZAAU": 0, "KZKUR": 0}
    assert all(c.state == "loaded" for c in grid if c.feed == "kz_customs")
    assert sorted(late_units(grid)) == [
        ("comtrade", "2024-10", date(2025, 1, 29)),
        ("ports", "2024-12", date(2025, 1, 5)),
        ("rail", "2024-12", date(2025, 1, 3)),
        ("ru_customs", "2024-11", date(2025, 1, 14)),
    ]


def test_grid_of_a_warehouse_without_a_raw_schema_is_all_due_or_late(fresh_database):
    with psycopg.connect(fresh_database.conninfo) as conn:
        grid = build_grid(conn, WINDOW, NOW)
    assert {c.state for c in grid} == {"late", "not_due"}
    assert {(c.feed, c.month) for c in grid if c.state == "not_due"} == {
        ("ru_customs", "2024-12"), ("kz_customs", "2024-12"), ("comtrade", "2024-11"),
        ("comtrade", "2024-12")}


def test_cli_status_prints_the_grid_and_units_done_per_feed(fresh_database, monkeypatch):
    from typer.testing import CliRunner

    from corridor.cli import app
    from corridor.warehouse import embedded_uri

    fill_warehouse(fresh_database)
    dsn = fresh_database
    uri = (embedded_uri(dsn) if dsn.host.startswith("/") else
           f"postgresql://{dsn.user}:{dsn.password}@{dsn.host}:{dsn.port}/{dsn.dbname}")
    monkeypatch.setenv("AIRFLOW_CONN_CORRIDOR_WAREHOUSE", uri)
    monkeypatch.setenv("CORRIDOR_PERIOD_FROM", "2024-11")
    monkeypatch.setenv("CORRIDOR_PERIOD_TO", "2024-12")
    result = CliRunner().invoke(app, ["status", "--as-of", "2025-02-10T09:00:00+00:00"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0] == "feed status as of 2025-02-10T09:00:00+00:00"
    assert lines[1].split() == ["month", "ru_customs", "kz_customs", "comtrade", "ports",
                                "rail"]
    rows = {line[:7]: line for line in lines[2:16]}
    assert list(rows) == WINDOW.ingest_months
    assert "late due 2025-01-14" in rows["2024-11"]
    assert "loaded r1 preliminary 2025-01-03" in rows["2024-12"]
    assert "not_due 7/9 final due 2025-03-31" in rows["2024-12"]
    assert "partial 2+1 calls 1/2 due 2025-01-05" in rows["2024-12"]
    assert "partial 30/31 r1-2 due 2025-01-03" in rows["2024-12"]
    # aligned: every column starts at the same offset on every line
    start = lines[1].index("kz_customs")
    assert all(line[start - 2:start] == "  " and line[start] != " " for line in lines[2:16])
    summary = lines[17:]
    assert summary == [
        "ru_customs  12/13 units done / due, 1 late, 1 arrived before due",
        "kz_customs  13/13 units done / due, 0 late, 1 arrived before due",
        "comtrade    107/108 units done / due, 1 late, 16 arrived before due",
        "ports       27/28 units done / due, 1 late, 0 arrived before due",
        "rail        426/427 units done / due, 1 late, 0 arrived before due",
    ]
