"""``corridor up`` as deployed: real Airflow services publish a release with nobody triggering.

The stack (scheduler, dag-processor, triggerer, api-server, LocalExecutor, the feed
simulator as a subprocess) runs on a tiny world against a fresh database on the
session's PostgreSQL. The ingest DAGs are cron-scheduled every minute; with
``catchup=False`` a CronTriggerTimetable's first run is the most recent past tick
(``max(align_to_prev(now), align_to_next(start_date))``), so the first ingest runs
start as soon as the dag-processor has serialised the DAGs, not a tick later. The
assets then drive corridor_transform and corridor_publish.
"""

from __future__ import annotations

import csv
import json
import subprocess
import sys
import time
import urllib.error
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest

from corridor.config import FEED_CONN_IDS, Settings, connection_env_name
from corridor.stack import Stack, free_port, local_stack
from corridor.warehouse import embedded_uri
from tests.databases import temporary_database

pytestmark = pytest.mark.e2e

SCHEDULE = "*/1 * * * *"
RELEASE_BOUND_SECONDS = 12 * 60
PIPELINE = ("corridor_poll_ru_customs", "corridor_poll_kz_customs", "corridor_poll_comtrade",
            "corridor_poll_ports", "corridor_poll_rail", "corridor_transform",
            "corridor_publish", "corridor_ingest_kz_customs")
INDEX_PATHS = {"/ru-customs/v1/releases", "/kz-customs/api/v2/periods",
               "/data/v1/getDa/C/M/HS", "/ports/v1/vessel-calls"}


def _request(url: str, *, body: dict | None = None, token: str | None = None
             ) -> tuple[int, dict | str]:
    headers = {"Content-Type": "application/json"} if body is not None else {}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            status, text = response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        status, text = error.code, error.read().decode()
    try:
        return status, json.loads(text)
    except ValueError:
        return status, text


def _token(stack: Stack, password: str) -> tuple[int, dict | str]:
    return _request(f"{stack.base_url}/auth/token",
                    body={"username": stack.username, "password": password})


def _runs(stack: Stack, token: str) -> dict[str, list[str]]:
    """Each pipeline DAG's run states, newest first (for a failure message)."""
    states = {}
    for dag_id in PIPELINE:
        _, runs = _request(f"{stack.base_url}/api/v2/dags/{dag_id}/dagRuns"
                           "?order_by=-run_after&limit=5", token=token)
        states[dag_id] = [run["state"] for run in runs.get("dag_runs", [])] \
            if isinstance(runs, dict) else [str(runs)[:200]]
    return states


def _dag_runs(stack: Stack, token: str, dag_id: str, query: str) -> list[dict]:
    """The runs of one DAG the REST API lists for ``query`` (a query string)."""
    _, body = _request(f"{stack.base_url}/api/v2/dags/{dag_id}/dagRuns?{query}", token=token)
    return body.get("dag_runs", [])


def _wait_for_embargoed(publish_dir: Path, before: datetime) -> str:
    """The id of the first release written to embargoed/ (by ``before``)."""
    while datetime.now(UTC) < before:
        found = [p.name for p in (publish_dir / "embargoed").glob("*")
                 if (p / "manifest.json").exists()]
        if found:
            return found[0]
        time.sleep(2)
    pytest.fail(f"no embargoed release before {before}")


def _deferred_wait(stack: Stack, token: str, announced: datetime, bound: float = 60) -> bool:
    """Whether corridor_embargo's wait for ``announced`` is deferred to the triggerer
    (no worker slot held), within ``bound`` seconds."""
    deadline = time.monotonic() + bound
    while time.monotonic() < deadline:
        for run in _dag_runs(stack, token, "corridor_embargo", "state=running"):
            _, instance = _request(
                f"{stack.base_url}/api/v2/dags/corridor_embargo/dagRuns/{run['dag_run_id']}"
                "/taskInstances/wait_for_embargo", token=token)
            if isinstance(instance, dict) and instance.get("state") == "deferred":
                return True
        time.sleep(2)
    return False


def _wait_for_release(stack: Stack, publish_dir: Path, token: str, bound: float,
                      after: str | None = None, created_after: datetime | None = None
                      ) -> str:
    latest = publish_dir / "LATEST"
    deadline = time.monotonic() + bound
    while time.monotonic() < deadline:
        stack.check_alive()
        release_id = latest.read_text().strip() if latest.exists() else ""
        if release_id not in ("", after) and (created_after is None or _created_at(
                publish_dir / "releases" / release_id) > created_after):
            return release_id
        time.sleep(5)
    pytest.fail(f"no release after {bound:.0f} s; runs: {_runs(stack, token)}; "
                f"logs in {stack.airflow_home / 'logs'}")


def _sim_log(sim: str, since: int = 0) -> list[dict]:
    status, entries = _request(f"{sim}/_sim/requests?since={since}")
    assert status == 200, entries
    return entries


def _data_requests(entries: list[dict]) -> list[dict]:
    """Requests that downloaded a data body: not an index call, not a 304 or 404."""
    return [e for e in entries if e["feed"] not in (None, "control", "ports", "rail")
            and e["path"] not in INDEX_PATHS and e["status"] == 200] + [
        e for e in entries if e["feed"] == "rail" and e["status"] == 200]


def _created_at(release: Path) -> datetime:
    manifest = json.loads((release / "manifest.json").read_text(encoding="utf-8"))
    return datetime.strptime(manifest["created_at"], "%Y-%m-%dT%H:%M:%SZ").replace(
        tzinfo=UTC)


def _changed_keys(before: Path, after: Path) -> set[tuple[str, ...]]:
    """Keys of bilateral observations that appeared, disappeared or changed value."""
    def rows(release: Path) -> dict[tuple[str, ...], tuple[str, ...]]:
        with (release / "bilateral_trade.csv").open(encoding="utf-8", newline="") as handle:
            return {tuple(r[:6]): tuple(r[6:]) for r in list(csv.reader(handle))[1:]}

    old, new = rows(before), rows(after)
    return {key for key in old.keys() | new.keys() if old.get(key) != new.get(key)}


def _wait_for_loads(dsn, versions: dict[tuple[str, str], tuple[str, object]],
                    bound: float = RELEASE_BOUND_SECONDS) -> datetime:
    """When the last of the units reached its version ((feed, unit) -> (column, value)
    of raw.loaded_units)."""
    deadline = time.monotonic() + bound
    while time.monotonic() < deadline:
        with psycopg.connect(dsn.conninfo) as conn:
            rows = conn.execute("select feed, unit, revision, sha256, loaded_at "
                                "from raw.loaded_units").fetchall()
        held = {(f, u): {"revision": r, "sha256": sha, "loaded_at": at}
                for f, u, r, sha, at in rows}
        done = [held[unit]["loaded_at"] for unit, (column, value) in versions.items()
                if unit in held and held[unit][column] == value]
        if len(done) == len(versions):
            return max(done)
        time.sleep(5)
    pytest.fail(f"{versions} not loaded after {bound:.0f} s")


def _wait_for_idle(stack: Stack, token: str, dag_ids: tuple[str, ...],
                   bound: float = RELEASE_BOUND_SECONDS) -> None:
    """Until none of the DAGs has had a queued or running run for 15 s (an asset event
    takes the scheduler a few seconds to turn into a run)."""
    deadline = time.monotonic() + bound
    idle_since: float | None = None
    while time.monotonic() < deadline:
        stack.check_alive()
        busy = [run for dag_id in dag_ids
                for run in _dag_runs(stack, token, dag_id, "state=queued&state=running")]
        if busy:
            idle_since = None
        elif idle_since is None:
            idle_since = time.monotonic()
        elif time.monotonic() - idle_since >= 15:
            return
        time.sleep(5)
    pytest.fail(f"{dag_ids} still busy after {bound:.0f} s: {_runs(stack, token)}")


def _wait_for_runs(stack: Stack, token: str, dag_id: str, count: int,
                   bound: float = 600) -> list[dict]:
    deadline = time.monotonic() + bound
    while time.monotonic() < deadline:
        stack.check_alive()
        runs = [r for r in _dag_runs(stack, token, dag_id, "limit=50")
                if r["run_type"] == "backfill"]
        if len(runs) >= count and all(r["state"] in ("success", "failed") for r in runs):
            assert all(r["state"] == "success" for r in runs), runs
            return runs
        time.sleep(5)
    pytest.fail(f"{dag_id}: no {count} finished backfill runs after {bound:.0f} s; "
                f"{_runs(stack, token)}")


def _wait_for_cycle(stack: Stack, token: str, after: datetime, bound: float = 300
                    ) -> list[dict]:
    """The first run of every poll DAG started after ``after``, once all have finished."""
    polls = [dag_id for dag_id in PIPELINE if dag_id.startswith("corridor_poll_")]
    deadline = time.monotonic() + bound
    while time.monotonic() < deadline:
        stack.check_alive()
        cycle = []
        for dag_id in polls:
            runs = [r for r in _dag_runs(stack, token, dag_id, "order_by=start_date&limit=100")
                    if r.get("start_date") and datetime.fromisoformat(r["start_date"]) > after]
            if runs and runs[0]["state"] in ("success", "failed"):
                cycle.append(runs[0])
        if len(cycle) == len(polls):
            assert all(r["state"] == "success" for r in cycle), cycle
            return [{**r, "start_date": datetime.fromisoformat(r["start_date"]),
                     "end_date": datetime.fromisoformat(r["end_date"])} for r in cycle]
        time.sleep(5)
    pytest.fail(f"no complete poll cycle after {bound:.0f} s; {_runs(stack, token)}")


def test_scheduler_publishes_a_release_unattended(warehouse_server, tmp_path, monkeypatch):
    port = free_port()
    assert port != 8080
    calendar = tmp_path / "calendar.csv"
    calendar.write_text("last_period,embargo_until\n", encoding="utf-8")  # no entry yet
    settings = Settings(period_from="2024-11", period_to="2024-12", sim_scale=0.05,
                        home_dir=tmp_path / "home", publish_dir=tmp_path / "published",
                        ingest_schedule=SCHEDULE, ui_port=port, release_calendar=calendar)
    for conn_id in FEED_CONN_IDS.values():  # no configured feeds: the stack starts the simulator
        monkeypatch.delenv(connection_env_name(conn_id), raising=False)

    with temporary_database(warehouse_server, prefix="up") as dsn:
        monkeypatch.setenv("AIRFLOW_CONN_CORRIDOR_WAREHOUSE", embedded_uri(dsn))
        started = time.monotonic()
        with local_stack(settings) as stack:
            startup = time.monotonic() - started
            print(f"\nstack start-up: {startup:.1f} s (UI {stack.base_url}, "
                  f"simulator {stack.simulator_url})")

            # the UI answers on loopback and the generated password logs in
            assert stack.base_url == f"http://127.0.0.1:{port}"
            assert stack.simulator_url and stack.simulator_url.startswith("http://127.0.0.1:")
            status, _ = _request(f"{stack.base_url}/")
            assert status == 200
            assert _request(f"{stack.base_url}/api/v2/dags")[0] == 401
            assert _token(stack, "not-the-password")[0] == 401
            status, body = _token(stack, stack.password)
            assert status == 201, body
            token = body["access_token"]
            status, dag = _request(f"{stack.base_url}/api/v2/dags/corridor_poll_rail",
                                   token=token)
            assert status == 200, dag
            assert dag["is_paused"] is False
            assert dag["timetable_summary"] == SCHEDULE

            # nobody triggers anything: the schedule and the assets publish a release
            release_id = _wait_for_release(stack, settings.publish_dir, token,
                                           RELEASE_BOUND_SECONDS)
            first_release = time.monotonic() - started
            print(f"first release {release_id}: {first_release:.1f} s after start "
                  f"({first_release - startup:.1f} s after the stack was up)")

            # the first release may come from the feeds that finished first (any raw
            # event starts the transform): let a whole poll cycle pass, and the
            # transform and publish it started, before the baseline is taken
            _wait_for_cycle(stack, token, after=datetime.now(UTC))
            _wait_for_idle(stack, token, ("corridor_transform", "corridor_publish"))
            baseline = (settings.publish_dir / "LATEST").read_text().strip()

            # the publishers revise one RU month and one Comtrade unit: the next cycles
            # fetch only those, and publish a release with exactly that change
            sim = stack.simulator_url
            mark = _sim_log(sim)[-1]["seq"]
            ru = _request(f"{sim}/_sim/revise", body={"feed": "ru_customs", "unit": "2024-11"})
            mirror = _request(f"{sim}/_sim/revise", body={"feed": "comtrade",
                                                          "unit": "156:2024-11"})
            assert ru[0] == 200 and mirror[0] == 200, (ru, mirror)
            # the two may land in one cycle or in two (each poll DAG runs on its own), so
            # wait until both revisions are loaded, then for a release made after that
            loaded_at = _wait_for_loads(dsn, {
                ("ru_customs", "2024-11"): ("revision", ru[1]["revision"]),
                ("comtrade", "156:2024-11"): ("sha256", mirror[1]["datasetChecksum"])})
            second = _wait_for_release(stack, settings.publish_dir, token,
                                       RELEASE_BOUND_SECONDS, after=baseline,
                                       created_after=loaded_at)
            data = _data_requests(_sim_log(sim, mark))
            assert {(r["feed"], r["path"]) for r in data} == {
                ("ru_customs", "/ru-customs/v1/data/2024-11.csv"),
                ("comtrade", "/data/v1/get/C/M/HS")}, data
            assert len(data) == 2, data  # each fetched once
            (comtrade_call,) = [r for r in data if r["feed"] == "comtrade"]
            assert "reporterCode=156&" in comtrade_call["query"]
            assert "period=202411" in comtrade_call["query"]
            changes = _changed_keys(settings.publish_dir / "releases" / baseline,
                                    settings.publish_dir / "releases" / second)
            assert changes and {key[-1] for key in changes} == {"2024-11"}, changes
            # CHN's mirror values (the Comtrade unit) and Russia's own (the RU month) moved
            assert any(k[2] == "CHN" and k[3].startswith("MIRROR_") for k in changes)
            assert any(k[1] == "RUS" and not k[3].startswith(("MIRROR_", "ASYM_"))
                       for k in changes)
            print(f"revision cycle: release {second}, {len(changes)} observations changed")

            # backfill: two months of one feed, re-ingested alone
            mark = _sim_log(sim)[-1]["seq"]
            backfill = subprocess.run(
                [sys.executable, "-m", "airflow", "backfill", "create", "--dag-id",
                 "corridor_ingest_kz_customs", "--from-date", "2023-12-01", "--to-date",
                 "2024-01-01", "--dag-run-conf", '{"force": true}'],
                env=stack.env, capture_output=True, text=True, timeout=120)
            assert backfill.returncode == 0, backfill.stderr[-2000:]
            runs = _wait_for_runs(stack, token, "corridor_ingest_kz_customs", 2)
            assert sorted(r["partition_key"] for r in runs) == ["2023-12", "2024-01"], runs
            data = _data_requests(_sim_log(sim, mark))
            assert {(r["feed"], r["query"].split("period=")[1][:7]) for r in data} == {
                ("kz_customs", "2023-12"), ("kz_customs", "2024-01")}, data

            # a cycle in which nothing changed: index calls and 304s only, no new release
            mark = _sim_log(sim)[-1]["seq"]
            cycle = _wait_for_cycle(stack, token, after=datetime.now(UTC))
            assert _data_requests(_sim_log(sim, mark)) == []
            assert (settings.publish_dir / "LATEST").read_text().strip() == second
            wall = (max(r["end_date"] for r in cycle) - min(r["start_date"] for r in cycle))
            print(f"no-change cycle: {wall.total_seconds():.1f} s wall time for the five "
                  f"poll DAGs, no data body, no release")

            # embargo: the next release of 2024-12 is announced a few minutes ahead; the
            # publisher revises the month; the release waits, invisible, then appears at
            # the instant with nobody acting (the triggerer wakes corridor_embargo)
            announced = (datetime.now(UTC) + timedelta(minutes=4)).replace(microsecond=0)
            calendar.write_text(f"last_period,embargo_until\n2024-12,{announced.isoformat()}"
                                "\n", encoding="utf-8")
            ru = _request(f"{sim}/_sim/revise", body={"feed": "ru_customs", "unit": "2024-12"})
            assert ru[0] == 200, ru
            embargoed = _wait_for_embargoed(settings.publish_dir, announced)
            assert datetime.now(UTC) < announced, "the publish took longer than the notice"
            assert (settings.publish_dir / "LATEST").read_text().strip() == second
            assert not (settings.publish_dir / "releases" / embargoed).exists()
            assert _deferred_wait(stack, token, announced), _runs(stack, token)
            while datetime.now(UTC) < announced - timedelta(seconds=3):
                assert (settings.publish_dir / "LATEST").read_text().strip() == second
                time.sleep(2)
            while (settings.publish_dir / "LATEST").read_text().strip() != embargoed:
                stack.check_alive()
                assert datetime.now(UTC) < announced + timedelta(minutes=1), (
                    f"embargoed release {embargoed} not released within a minute of "
                    f"{announced}: {_runs(stack, token)}")
                time.sleep(1)
            lag = datetime.now(UTC) - announced
            released = json.loads((settings.publish_dir / "releases" / embargoed
                                   / "manifest.json").read_text(encoding="utf-8"))
            assert released["embargo_until"] == announced.isoformat()
            assert datetime.fromisoformat(released["released_at"]) >= announced
            print(f"embargo: release {embargoed} released {lag.total_seconds():.1f} s after "
                  f"its instant ({released['released_at']})")

        release = settings.publish_dir / "releases" / release_id
        manifest = json.loads((release / "manifest.json").read_text(encoding="utf-8"))
        assert manifest["quality"]["success"] is True
        assert manifest["coverage"] == {"first_period": "2024-11", "last_period": "2024-12"}
        assert (release / "bilateral_trade.csv").stat().st_size > 0
        # every service is stopped on exit
        assert all(process.poll() is not None for process in stack.processes.values())
