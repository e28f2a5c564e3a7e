"""Concurrent runs: dbt builds and unit loads exclude each other; publishers take turns
across machines; the gate and the release read one warehouse state."""

from __future__ import annotations

import re
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


# --- publishers on different machines take turns ----------------------------------------

PUBLISHER = """
import json, sys
from pathlib import Path
from corridor.config import WarehouseDsn
from corridor.publish.release import publish_lock, write_release
dsn = WarehouseDsn(**json.loads(sys.argv[2]))
observations = {k: [tuple(r) for r in v] for k, v in json.loads(sys.argv[3]).items()}
print("ready", flush=True)
write_release(Path(sys.argv[1]), observations, inputs=[], quality={}, coverage={},
              lock=publish_lock(dsn))
"""


def test_publishers_sharing_a_warehouse_take_turns_without_sharing_a_disk(fresh_database,
                                                                        tmp_path):
    """Two hosts publishing (each its own published root, as if on another machine)
    against one warehouse: the second waits for the first's warehouse lock, which is
    not on either's disk."""
    import json
    import os
    import subprocess
    import sys
    from dataclasses import asdict

    from corridor.publish.release import latest_release, publish_lock
    from tests.publish.test_release import FIRST

    there = tmp_path / "host-b"  # host A holds the lock and writes nothing
    with publish_lock(fresh_database):
        waiting = subprocess.Popen(
            [sys.executable, "-c", PUBLISHER, str(there), json.dumps(asdict(fresh_database)),
             json.dumps(FIRST)], stdout=subprocess.PIPE, text=True,
            env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)})
        assert waiting.stdout.readline() == "ready\n"
        time.sleep(2)
        assert waiting.poll() is None, "the second publisher did not wait"
        assert latest_release(there) is None
    assert waiting.wait(timeout=120) == 0
    assert latest_release(there) is not None


# --- the gate and the release read one snapshot -----------------------------------------

@pytest.fixture()
def publishable(tmp_path, fresh_database):
    """A good batch, a synced GX context, a fixed window (2024-02) and a published root."""
    import shutil

    from corridor.config import PROJECT_DIR
    from corridor.quality.context import sync_context
    from tests.quality.good_batch import load_good_batch

    load_good_batch(fresh_database)
    context_dir = tmp_path / "expectations"
    shutil.copytree(PROJECT_DIR / "expectations", context_dir,
                    ignore=shutil.ignore_patterns("uncommitted"))
    sync_context(context_dir, fresh_database.sqlalchemy_url)
    settings = Settings(period_from="2024-02", period_to="2024-02",
                        gx_context_dir=context_dir, home_dir=tmp_path / "home",
                        publish_dir=tmp_path / "published")
    return settings, fresh_database


def _commit_meanwhile(dsn, *statements):
    with psycopg.connect(dsn.conninfo, autocommit=True) as conn:
        for statement in statements:
            conn.execute(statement)


def test_gate_and_release_read_the_state_of_one_snapshot(publishable, monkeypatch):
    """Once the snapshot is taken, another session deletes rail's loads (the gate would
    fail on that) and revises a published value: the gate passes and the release
    holds what the gate checked, the rail units and the old value included."""
    import json

    import corridor.quality.gate as gate
    from corridor import publish

    settings, dsn = publishable
    with psycopg.connect(dsn.conninfo) as conn:
        [(before,)] = conn.execute("select count(*) from raw.loaded_units "
                                   "where feed = 'rail'").fetchall()
    assert before > 0
    real_get_context = gate.get_context

    def get_context(*args, **kwargs):  # after the snapshot, before any check
        _commit_meanwhile(dsn, "delete from raw.loaded_units where feed = 'rail'",
                          "update marts.ind_bilateral_trade set obs_value = obs_value + 1")
        return real_get_context(*args, **kwargs)

    monkeypatch.setattr(gate, "get_context", get_context)
    release = publish.run(settings, dsn)
    manifest = json.loads((release / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["quality"]["success"] is True
    assert sum(1 for unit in manifest["inputs"] if unit["feed"] == "rail") > 0

    # the warehouse did change: a gate on the live state fails on it
    monkeypatch.setattr(gate, "get_context", real_get_context)
    with pytest.raises(gate.QualityGateFailed):
        gate.run_gate(settings, dsn)


def test_a_failed_gate_writes_nothing(publishable):
    from corridor import publish
    from corridor.quality.gate import QualityGateFailed

    settings, dsn = publishable
    _commit_meanwhile(dsn, "delete from raw.loaded_units where feed = 'rail'")
    with pytest.raises(QualityGateFailed):
        publish.run(settings, dsn)
    assert not (settings.publish_dir / "LATEST").exists()
    assert not list((settings.publish_dir / "releases").glob("*")) \
        if (settings.publish_dir / "releases").exists() else True


def test_the_snapshot_waits_for_a_running_build(publishable):
    """A dbt build in progress holds the build lock: the snapshot is taken after it."""
    from corridor.publish import warehouse_snapshot

    _, dsn = publishable
    with locks.build_exclusive(dsn):
        def take():
            with warehouse_snapshot(dsn) as (_, snapshot):
                return snapshot
        thread, outcome = _in_thread(take)
        thread.join(WAIT)
        assert thread.is_alive(), "a snapshot was taken in the middle of a build"
        released = time.monotonic()
    thread.join(30)
    assert outcome["value"] and outcome["at"] >= released


# --- a release names what its marts were built from, and only a finished build ---------

def _builds(dsn) -> list[tuple]:
    with psycopg.connect(dsn.conninfo, autocommit=True) as conn:
        return conn.execute("select command, finished_at is not null, success, inputs "
                            "from ingest.dbt_builds order by build_id").fetchall()


def test_run_dbt_records_each_build_with_the_units_it_read(warehouse, monkeypatch,
                                                           tmp_path):
    from corridor.transform import DbtError, run_dbt

    _load(warehouse)()
    _fake_dbt(monkeypatch, lambda: None)
    run_dbt(["seed"], settings=_settings(tmp_path), dsn=warehouse)  # rebuilds no mart
    run_dbt(["build"], settings=_settings(tmp_path), dsn=warehouse)

    def fails():
        raise DbtError("dbt exploded")

    _fake_dbt(monkeypatch, fails)
    with pytest.raises(DbtError):
        run_dbt(["build"], settings=_settings(tmp_path), dsn=warehouse)
    unit = {"feed": "rail", "unit": "2024-02-01", "period_month": "2024-02", "revision": 1,
            "status": None}
    assert _builds(warehouse) == [("build", True, True, [unit]), ("build", True, False, [unit])]


def test_a_unit_loaded_after_the_build_is_not_in_the_release(publishable):
    """The marts hold the build's inputs: a revision loaded since is not in them, so the
    manifest does not name it (it names the revision the marts were built from)."""
    import json

    from corridor import publish

    settings, dsn = publishable
    _commit_meanwhile(dsn, "update raw.loaded_units set revision = revision + 1 "
                           "where feed = 'kz_customs'",
                      "update raw.kz_customs_rows set revision = revision + 1")
    manifest = json.loads((publish.run(settings, dsn) / "manifest.json").read_text())
    with psycopg.connect(dsn.conninfo) as conn:
        [(built,)] = conn.execute("select inputs from ingest.dbt_builds").fetchall()
    kz = [(u["unit"], u["revision"]) for u in manifest["inputs"] if u["feed"] == "kz_customs"]
    assert kz and kz == [(u["unit"], u["revision"]) for u in built
                         if u["feed"] == "kz_customs" and u["period_month"] >= "2023-02"]


@pytest.mark.parametrize("finished, success, state", [
    (False, None, "did not finish (killed?)"), (True, False, "failed")])
def test_marts_of_an_unfinished_or_failed_build_are_not_published(publishable, finished,
                                                                  success, state):
    from corridor import publish
    from corridor.transform import MartsNotBuilt

    settings, dsn = publishable
    _commit_meanwhile(dsn, "insert into ingest.dbt_builds (command, finished_at, success, "
                           f"inputs) values ('build', {'now()' if finished else 'null'}, "
                           f"{'false' if success is False else 'null'}, '[]')")
    expected = rf"latest dbt build .*{re.escape(state)}.*run the transform"
    with pytest.raises(MartsNotBuilt, match=expected):
        publish.run(settings, dsn)
    assert not (settings.publish_dir / "LATEST").exists()
