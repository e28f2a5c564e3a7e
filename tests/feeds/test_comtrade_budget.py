"""Comtrade against the simulator's default world: what the availability listing saves,
the daily budget, and the quota answer (spec/feeds.md, "Call budget")."""

from __future__ import annotations

import time

import psycopg
import pytest

from corridor import ingest
from corridor.config import Settings
from corridor.simulator import SimConfig, connection_uris, start_simulator

# the default world and window: 36 ingested months (2022-01..2024-12) x 9 reporters
WORLD = dict(first_month="2022-01", last_month="2024-12")
MONTHS = Settings(period_from="2023-01", period_to="2024-12").ingest_months


def _poll(settings: Settings, dsn) -> list[dict]:
    """One poll of the comtrade DAG, as its tasks run it: the plan, then each month."""
    planned = ingest.plan("comtrade", settings=settings, dsn=dsn)
    return [ingest.ingest_comtrade(p["period_month"], listing=p["listing"], settings=settings,
                                   dsn=dsn) for p in planned]


def _comtrade_calls(sim, since: int) -> list[dict]:
    return [r for r in sim.requests(since) if r["feed"] == "comtrade"]


def _units(dsn) -> dict[str, tuple]:
    with psycopg.connect(dsn.conninfo) as conn:
        return {unit: (sha, rows) for unit, sha, rows in conn.execute(
            "select unit, sha256, rows_loaded from raw.loaded_units where feed = 'comtrade'")}


@pytest.fixture()
def comtrade_env(monkeypatch, tmp_path):
    monkeypatch.setenv("CORRIDOR_HTTP_BACKOFF", "0")

    def start(faults: dict | None = None):
        sim = start_simulator(SimConfig(**WORLD, faults=faults or {}))
        for name, uri in connection_uris(sim.base_url).items():
            monkeypatch.setenv(name, uri)
        return sim

    return start, Settings(landing_dir=tmp_path / "landing", period_from="2023-01",
                           period_to="2024-12")


def test_first_run_and_unchanged_run_stay_within_the_call_targets(comtrade_env,
                                                                  fresh_database):
    start, settings = comtrade_env
    with start() as sim:
        summaries = _poll(settings, fresh_database)
        first = _comtrade_calls(sim, 0)
        assert len(_units(fresh_database)) == 9 * len(MONTHS)  # every unit, reported or not
        assert not any(s["pending"] for s in summaries)
        assert len(first) <= 60, len(first)
        assert all(r["status"] == 200 for r in first)
        mark = sim.requests()[-1]["seq"]
        assert _poll(settings, fresh_database) == []  # nothing planned
        again = _comtrade_calls(sim, mark)
        assert [r["path"] for r in again] == ["/data/v1/getDa/C/M/HS"]
        print(f"comtrade calls: first run {len(first)}, unchanged run {len(again)}")

        # a revised unit: one listing, one data call for that unit alone
        sim.revise("comtrade", "156:2024-03")
        mark = sim.requests()[-1]["seq"]
        (summary,) = _poll(settings, fresh_database)
        revised = _comtrade_calls(sim, mark)
        assert [r["path"] for r in revised] == ["/data/v1/getDa/C/M/HS", "/data/v1/get/C/M/HS"]
        assert "reporterCode=156&" in revised[1]["query"]
        assert [u["unit"] for u in summary["units"]] == ["156:2024-03"]


def test_the_quota_ends_fetching_at_once_and_the_next_run_fetches_the_rest(
        comtrade_env, fresh_database, other_database):
    start, settings = comtrade_env
    with start():
        _poll(settings, other_database)
    with start({"comtrade_quota": {"calls": 6}}) as sim:
        started = time.monotonic()
        summaries = _poll(settings, fresh_database)
        assert time.monotonic() - started < 120  # no wait on the quota's Retry-After
        pending = [unit for s in summaries for unit in s["pending"]]
        calls = _comtrade_calls(sim, 0)
        # the sixth call was the last; the seventh got the quota answer; none after it
        assert [r["status"] for r in calls] == [200] * 6 + [429]
        assert pending and len(_units(fresh_database)) < 9 * len(MONTHS)
        with psycopg.connect(fresh_database.conninfo) as conn:
            (until,) = conn.execute("select max(quota_until) from ingest.comtrade_calls"
                                    ).fetchone()
        assert until is not None

        # quota replenished (the API's clock, and ours)
        sim.replenish_comtrade_quota(calls=1000)
        with psycopg.connect(fresh_database.conninfo, autocommit=True) as conn:
            conn.execute("update ingest.comtrade_calls set quota_until = null")
        _poll(settings, fresh_database)
    assert _units(fresh_database).keys() == _units(other_database).keys()
    assert {u: v[0] for u, v in _units(fresh_database).items()} == {
        u: v[0] for u, v in _units(other_database).items()}


def test_no_call_past_the_daily_budget(comtrade_env, fresh_database):
    start, settings = comtrade_env
    settings = settings.model_copy(update={"comtrade_daily_budget": 4})
    with start() as sim:
        summaries = _poll(settings, fresh_database)
        assert len(_comtrade_calls(sim, 0)) == 4
        assert sum(len(s["pending"]) for s in summaries) > 0
