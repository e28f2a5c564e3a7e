"""Concurrent runs: dbt builds and unit loads exclude each other; publishers take turns
across machines; the gate and the release read one warehouse state."""

from __future__ import annotations

import threading
import time
from types import SimpleNamespace

import psycopg
import pytest

from corridor import locks
from corridor.config import Settings
from corridor.load import raw

WAIT = 1.5  # seconds a blocked party is watched to stay blocked


def _rail_unit(day: str = "2024-02-01") -> raw.UnitLoad:
    return raw.UnitLoad("rail", day, day[:7], 1, None, "sha-" + day, [
        raw.TableRows("raw.rail_consignments", raw.RAIL_COLUMNS, [],
                      "delete from raw.rail_consignments where report_date = %s", (day,))])


def _in_thread(target) -> tuple[threading.Thread, dict]:
    outcome: dict = {}

    def run():
        try:
            outcome["value"] = target()
        except BaseException as exc:  # noqa: BLE001 - reported to the test
            outcome["error"] = exc
        outcome["at"] = time.monotonic()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread, outcome


def _load(dsn):
    def load():
        with psycopg.connect(dsn.conninfo, autocommit=True) as conn:
            return raw.load_unit(conn, _rail_unit())
    return load


def _waiting_advisory(dsn) -> int:
    with psycopg.connect(dsn.conninfo, autocommit=True) as conn:
        return conn.execute("select count(*) from pg_locks where locktype = 'advisory' "
                            "and not granted and database = (select oid from pg_database "
                            "where datname = current_database())").fetchone()[0]


@pytest.fixture()
def warehouse(fresh_database):
    with psycopg.connect(fresh_database.conninfo, autocommit=True) as conn:
        raw.ensure_raw_schema(conn)
    return fresh_database


def test_a_load_waits_while_a_build_holds_the_lock(warehouse):
    with locks.build_exclusive(warehouse):
        thread, outcome = _in_thread(_load(warehouse))
        thread.join(WAIT)
        assert thread.is_alive(), f"the load did not wait for the build: {outcome}"
        assert _waiting_advisory(warehouse) == 1
        released = time.monotonic()
    thread.join(30)
    assert "error" not in outcome, outcome
    assert outcome["value"].loaded and outcome["at"] >= released


def _fake_dbt(monkeypatch, during):
    """dbt's runner replaced by one that calls ``during()`` as its work."""
    import dbt.cli.main

    calls = []

    class Runner:
        def invoke(self, command):
            calls.append(time.monotonic())
            during()
            return SimpleNamespace(success=True, result=None, exception=None)

    monkeypatch.setattr(dbt.cli.main, "dbtRunner", Runner)
    return calls


def _settings(tmp_path) -> Settings:
    return Settings(period_from="2024-01", period_to="2024-02", home_dir=tmp_path / "home")


def test_run_dbt_holds_the_build_lock_and_a_load_waits_for_it(warehouse, monkeypatch,
                                                              tmp_path):
    from corridor.transform import run_dbt

    seen = {}

    def during():  # a unit load started while dbt builds
        seen["thread"], seen["outcome"] = _in_thread(_load(warehouse))
        seen["thread"].join(WAIT)
        seen["blocked"] = seen["thread"].is_alive()
        seen["done"] = time.monotonic()

    _fake_dbt(monkeypatch, during)
    run_dbt(["build"], settings=_settings(tmp_path), dsn=warehouse)
    assert seen["blocked"], "a unit load committed in the middle of a dbt build"
    seen["thread"].join(30)
    assert seen["outcome"]["value"].loaded and seen["outcome"]["at"] >= seen["done"]


def test_a_build_waits_for_a_load_in_flight(warehouse, monkeypatch, tmp_path):
    from corridor.transform import run_dbt

    calls = _fake_dbt(monkeypatch, lambda: None)
    with psycopg.connect(warehouse.conninfo, autocommit=True) as conn:
        with conn.transaction():
            raw.load_unit(conn, _rail_unit())  # a savepoint here: the lock stays held
            thread, outcome = _in_thread(
                lambda: run_dbt(["build"], settings=_settings(tmp_path), dsn=warehouse))
            thread.join(WAIT)
            assert thread.is_alive() and not calls, "dbt started while a load was open"
            committed = time.monotonic()
    thread.join(30)
    assert "error" not in outcome, outcome
    assert calls and calls[0] >= committed


def test_loads_do_not_wait_for_each_other(warehouse):
    with psycopg.connect(warehouse.conninfo, autocommit=True) as conn:
        with conn.transaction():
            raw.load_unit(conn, _rail_unit("2024-02-01"))
            with psycopg.connect(warehouse.conninfo, autocommit=True) as other:
                other.execute("set lock_timeout = '2s'")
                assert raw.load_unit(other, _rail_unit("2024-02-02")).loaded
