"""`rebuild_raw_from_landing`: the raw schema rebuilt from landed files equals the one
the live ingest produced, with no network; tampering is caught; revisions resolve."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import socket
from pathlib import Path

import psycopg
import pytest

from corridor import ingest, simulator
from corridor.config import Settings, month_range
from corridor.feeds import kz_customs, ports
from corridor.feeds.common import FeedError
from corridor.landing import LEGACY_COMPLETED, MANIFEST, LandingStore
from corridor.landing.replay import LandingIntegrityError, rebuild_raw_from_landing
from corridor.load.fingerprint import raw_fingerprint

SEED, SCALE = 3, 0.05
FIRST = "2024-01"


def fingerprint(dsn) -> dict:
    with psycopg.connect(dsn.conninfo) as conn:
        return {str(k): tuple(v) for k, v in raw_fingerprint(conn).items()}


def ingest_world(config, months: list[str], dsn, landing: Path) -> None:
    """Every feed, every month, as the DAGs would, against a simulated world."""
    settings = Settings(landing_dir=landing)
    kwargs = {"dsn": dsn, "settings": settings}
    with simulator.start_simulator(config) as sim, pytest.MonkeyPatch.context() as mp:
        for name, value in simulator.connection_uris(sim.base_url).items():
            mp.setitem(os.environ, name, value)
        for month in months:
            ingest.ingest_ru_customs(month, **kwargs)
            ingest.ingest_kz_customs(month, **kwargs)
            ingest.ingest_comtrade(month, **kwargs)
            ingest.ingest_rail(month, **kwargs)
        ingest.ingest_ports(**kwargs)


def loaded_units(dsn, feed: str) -> dict[str, tuple]:
    with psycopg.connect(dsn.conninfo) as conn:
        return {unit: (revision, status) for unit, revision, status in conn.execute(
            "select unit, revision, status from raw.loaded_units where feed = %s", (feed,))}


def high_water_marks(dsn) -> dict[str, str]:
    with psycopg.connect(dsn.conninfo) as conn:
        return dict(conn.execute("select port, high_water_mark from raw.port_sync_state"))


@pytest.fixture(scope="module")
def landed(make_database, tmp_path_factory):
    """World 1 (2024-01..03) ingested live, its landing snapshot and fingerprint; then
    world 2 (one month later: 2024-02 turns final, revision 2) ingested into the same
    landing root and database, and its fingerprint."""
    mp = pytest.MonkeyPatch()
    mp.setenv("CORRIDOR_HTTP_BACKOFF", "0")
    # Small pages, so that kz periods and ports runs span several landed pages.
    mp.setattr(kz_customs, "PAGE_SIZE", 40)
    mp.setattr(ports, "PAGE_LIMIT", 7)
    base = tmp_path_factory.mktemp("landing")
    landing, live = base / "landing", make_database()
    try:
        ingest_world(simulator.SimConfig(seed=SEED, scale=SCALE, first_month=FIRST,
                                         last_month="2024-03"),
                     month_range(FIRST, "2024-03"), live, landing)
        world1 = base / "world1"
        shutil.copytree(landing, world1)
        fp1 = fingerprint(live)
        ingest_world(simulator.SimConfig(seed=SEED, scale=SCALE, first_month=FIRST,
                                         last_month="2024-04"),
                     month_range(FIRST, "2024-04"), live, landing)
        fp2 = fingerprint(live)
    finally:
        mp.undo()
    return {"world1": world1, "fp1": fp1, "both": landing, "fp2": fp2, "live": live}


def test_rebuild_equals_live_ingest_without_network(landed, make_database, no_network):
    target = make_database()
    result = rebuild_raw_from_landing(target, landed["world1"])
    assert no_network == []  # nothing even tried
    rebuilt = fingerprint(target)
    assert rebuilt == landed["fp1"]
    assert set(result["feeds"]) == {"ru_customs", "kz_customs", "comtrade", "ports", "rail"}
    for feed, summary in result["feeds"].items():
        assert summary["units"] > 0 and summary["files"] > 0, feed
    assert rebuilt["raw.rail_consignments"][0] > 0 and rebuilt["raw.port_calls"][0] > 0


def test_landing_has_multi_page_fetches(landed):
    pages = [p for p in (landed["world1"] / "kz_customs" / "2024-01").iterdir()]
    assert len(pages) >= 2
    assert len(list((landed["world1"] / "ports" / "KZAAU").iterdir())) >= 2


def test_rebuild_picks_newest_revision(landed, make_database, no_network):
    # The landing root holds both revisions of 2024-02 (world 1: preliminary r1,
    # world 2: final r2) and two incremental ports runs per port.
    kz_files = sorted(p.name for p in (landed["both"] / "kz_customs" / "2024-02").iterdir())
    assert any(n.startswith("r1-") for n in kz_files)
    assert any(n.startswith("r2-") for n in kz_files)
    target = make_database()
    result = rebuild_raw_from_landing(target, landed["both"])
    assert fingerprint(target) == landed["fp2"]
    assert fingerprint(target) != landed["fp1"]
    for feed in ("kz_customs", "ru_customs"):
        units = loaded_units(target, feed)
        assert units["2024-02"] == (2, "final"), feed
        assert units["2024-04"] == (1, "preliminary"), feed
        assert result["feeds"][feed]["superseded"] >= 1
    assert result["feeds"]["ports"]["runs"] == 4  # two ports x two ingests
    assert result["feeds"]["ports"]["high_water_marks"] == high_water_marks(landed["live"])
    assert result["feeds"]["comtrade"]["superseded"] > 0  # every run re-fetches a unit


def test_rebuild_of_one_feed_leaves_the_others(landed, make_database, no_network):
    target = make_database()
    rebuild_raw_from_landing(target, landed["both"])
    before = fingerprint(target)
    with psycopg.connect(target.conninfo) as conn:  # damage rail, then rebuild rail only
        conn.execute("delete from raw.rail_consignments where report_date < '2024-02-01'")
    result = rebuild_raw_from_landing(target, landed["both"], feeds=["rail"])
    assert list(result["feeds"]) == ["rail"]
    assert fingerprint(target) == before


def test_tampered_file_fails_naming_it(landed, make_database, no_network, tmp_path):
    landing = tmp_path / "landing"
    shutil.copytree(landed["world1"], landing)
    victim = sorted((landing / "kz_customs" / "2024-01").glob("*.json"))[0]
    data = bytearray(victim.read_bytes())
    data[len(data) // 2] ^= 0x01
    victim.write_bytes(bytes(data))
    target = make_database()
    with pytest.raises(LandingIntegrityError) as caught:
        rebuild_raw_from_landing(target, landing)
    assert str(victim) in str(caught.value)
    assert len(caught.value.problems) == 1
    with psycopg.connect(target.conninfo) as conn:  # nothing was written
        assert conn.execute("select count(*) from information_schema.schemata"
                            " where schema_name = 'raw'").fetchone()[0] == 0


def test_missing_file_fails_naming_it(landed, make_database, no_network, tmp_path):
    landing = tmp_path / "landing"
    shutil.copytree(landed["world1"], landing)
    victim = sorted((landing / "rail" / "2024-01-05").glob("*.xml"))[0]
    victim.unlink()
    with pytest.raises(LandingIntegrityError, match=str(victim)):
        rebuild_raw_from_landing(make_database(), landing, feeds=["rail"])


def test_incomplete_fetches_are_ignored(landed, make_database, no_network, tmp_path):
    """A kz fetch cut after page 1 (409 restart, failure) and a comtrade fetch whose data
    query never landed: the live ingest loaded neither, nor does the rebuild."""
    landing = tmp_path / "landing"
    shutil.copytree(landed["world1"], landing)
    store = LandingStore(landing)
    page = {"period": "2024-01", "revision": 9, "status": "final", "items": [],
            "next_cursor": "more"}
    store.put("kz_customs", "2024-01", 9, json.dumps(page).encode(), url="http://x/trade",
              status="final", suffix="json", part="p00001")
    probe = {"count": 1, "error": "", "data": [{"reporterCode": 156}]}
    store.put("comtrade", "156:2024-01", None, json.dumps(probe).encode(),
              url="http://x/data", status="final", suffix="json", part="probe")
    port_page = {"data": [], "next_page_token": "t"}
    store.put("ports", "KZAAU", None, json.dumps(port_page).encode(), url="http://x/calls",
              status=200, suffix="json", part="sinceabcdef-p00001")
    target = make_database()
    result = rebuild_raw_from_landing(target, landing)
    assert fingerprint(target) == landed["fp1"]
    for feed in ("kz_customs", "comtrade", "ports"):
        assert result["feeds"][feed]["incomplete"] == 1, feed


def test_rail_day_reissued_newest_revision_wins(landed, make_database, no_network,
                                                tmp_path):
    """A day re-issued with revision 2, then (out of order) revision 1 landed again:
    revision 2 stays, as raw.load_unit would have decided."""
    landing = tmp_path / "landing"
    shutil.copytree(landed["world1"], landing)
    day = "2024-01-10"
    [original] = (landing / "rail" / day).glob("r1-*.xml")
    payload = original.read_bytes()
    assert b'revision="1"' in payload and b"<consignment" in payload
    revised = payload.replace(b'revision="1"', b'revision="2"').replace(
        b"<consignment", b"<consignment extra=\"x\"", 1)
    store = LandingStore(landing)
    url = f"http://sim/rail/v1/crossings/{day}.xml"
    store.put("rail", day, "2", revised, url=url, status=200, suffix="xml")
    store.put("rail", day, "1", payload, url=url, status=200, suffix="xml")
    target = make_database()
    result = rebuild_raw_from_landing(target, landing, feeds=["rail"])
    assert result["feeds"]["rail"]["superseded"] == 2
    with psycopg.connect(target.conninfo) as conn:
        revision, sha = conn.execute("select revision, sha256 from raw.loaded_units"
                                     " where feed = 'rail' and unit = %s", (day,)).fetchone()
        rows = conn.execute("select distinct revision from raw.rail_consignments"
                            " where report_date = %s", (day,)).fetchall()
    assert revision == 2 and rows == [(2,)]
    assert sha == hashlib.sha256(revised).hexdigest()


def test_cli_load_from_landing(landed, make_database, no_network, monkeypatch):
    from typer.testing import CliRunner

    from corridor.cli import app
    from corridor.warehouse import embedded_uri

    target = make_database()
    if target.host.startswith("/"):
        uri = embedded_uri(target)
    else:
        uri = (f"postgresql://{target.user}:{target.password}@{target.host}:{target.port}"
               f"/{target.dbname}")
    monkeypatch.setenv("AIRFLOW_CONN_CORRIDOR_WAREHOUSE", uri)
    monkeypatch.setenv("CORRIDOR_LANDING_DIR", str(landed["world1"]))
    result = CliRunner().invoke(app, ["load", "--from-landing"])
    assert result.exit_code == 0, result.output
    for feed in ("ru_customs", "kz_customs", "comtrade", "ports", "rail"):
        assert feed in result.output
    assert fingerprint(target) == landed["fp1"]
    failed = CliRunner().invoke(app, ["load", "--from-landing", "--feed", "nope"])
    assert failed.exit_code != 0


def test_no_network_guard_works(no_network):
    with pytest.raises(OSError, match="network disabled"):
        socket.create_connection(("127.0.0.1", 9), timeout=1)


#: Every fault the simulator knows that changes what is landed or loaded: retried
#: deliveries (never landed partially), a kz period re-published mid-pagination (a 409
#: leaves an incomplete fetch in the landing zone), shrinking revisions, out-of-order and
#: re-delivered port versions, extra columns, duplicate and malformed rows.
FAULTS = {
    "transient": {"rate": 0.05}, "http_errors": {"rate": 0.03},
    "drop_connection": {"rate": 0.03}, "truncated_body": {"rate": 0.03},
    "duplicate_deliveries": {"rate": 0.3, "feeds": ["ports"]},
    "kz_revision_change": {"periods": ["2024-02"], "after_pages": 1},
    # 2024-02 is revised (shrinking) so that the client re-fetches it and meets the 409.
    "shrinking_revision": {"ru_customs": ["2024-01"], "kz_customs": ["2024-02", "2024-03"],
                           "rail": ["2024-01-10", "2024-02-03"]},
    "ports_out_of_order": True,
    "extra_columns": {"ru_customs": True, "kz_customs": True},
    "duplicate_rows": {"ru_customs": 2, "kz_customs": 2, "comtrade": 2},
    "malformed_rows": {"ru_customs": 3, "kz_customs": 3, "comtrade": 3, "rail": 3,
                       "ports": 2},
}


def test_rebuild_after_a_faulty_world(make_database, tmp_path, monkeypatch):
    """A clean world, then the same world with every fault, ingested into one landing root
    and database: the rebuild (no network) equals it, incomplete fetches ignored."""
    monkeypatch.setenv("CORRIDOR_HTTP_BACKOFF", "0")
    monkeypatch.setattr(kz_customs, "PAGE_SIZE", 40)
    monkeypatch.setattr(ports, "PAGE_LIMIT", 7)
    landing, live = tmp_path / "landing", make_database()
    months = month_range(FIRST, "2024-03")
    common = {"seed": SEED, "scale": SCALE, "first_month": FIRST, "last_month": "2024-03"}
    ingest_world(simulator.SimConfig(**common), months, live, landing)
    ingest_world(simulator.SimConfig(**common, faults=FAULTS), months, live, landing)
    want = fingerprint(live)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(socket.socket, "connect", _refuse)
        target = make_database()
        result = rebuild_raw_from_landing(target, landing)
    assert fingerprint(target) == want
    assert result["feeds"]["kz_customs"]["incomplete"] >= 1  # the 409 restart
    assert loaded_units(target, "kz_customs")["2024-02"][0] == 3  # 1, shrunk 2, 409'd 3
    assert loaded_units(target, "rail")["2024-01-10"][0] >= 2
    with psycopg.connect(target.conninfo) as conn:
        assert conn.execute("select count(*) from raw.rejected_rows").fetchone()[0] > 0


def _refuse(self, address, *args):
    if self.family != getattr(socket, "AF_UNIX", None):
        raise OSError(f"network disabled in this test (connect to {address!r})")
    return _real_connect(self, address, *args)


_real_connect = socket.socket.connect


def test_empty_landing_root_is_refused(make_database, tmp_path, no_network):
    from corridor.landing.replay import LandingError

    (tmp_path / "empty").mkdir()
    with pytest.raises(LandingError, match="nothing landed"):
        rebuild_raw_from_landing(make_database(), tmp_path / "empty")


def _as_written_before_fetch_rows(landing: Path) -> None:
    """Rewrite a landing zone as the writer before fetch rows wrote it: file rows without
    ``record``/``fetch``/``complete``, no fetch rows, Comtrade's completions in their own
    ``completed.jsonl`` (one per unit loaded, naming its data calls and the checksum)."""
    for manifest in landing.glob(f"*/{MANIFEST}"):
        rows = [json.loads(line) for line in manifest.read_text().splitlines()]
        files = [{k: v for k, v in row.items() if k not in ("record", "fetch", "complete")}
                 for row in rows if row["record"] == "file"]
        manifest.write_text("".join(json.dumps(row) + "\n" for row in files))
        completions = [{"feed": row["feed"], "unit": row["unit"],
                        "completed_at": row["completed_at"], "files": row["files"],
                        "checksum": row["sha256"], "reporter_code": row["reporter_code"],
                        "period_month": row["period_month"],
                        "has_reported": row["has_reported"],
                        "total_records": row["total_records"]}
                       for row in rows if row["record"] == "fetch" and row["feed"] == "comtrade"]
        if completions:
            (manifest.parent / LEGACY_COMPLETED).write_text(
                "".join(json.dumps(row) + "\n" for row in completions))


def test_a_zone_landed_before_fetch_rows_still_replays(landed, make_database, no_network,
                                                       tmp_path):
    """Old zones hold no fetch rows: their fetches are derived from the files, and the
    rebuild equals the live ingest as before; what is landed since goes by fetch rows."""
    landing = tmp_path / "landing"
    shutil.copytree(landed["both"], landing)
    _as_written_before_fetch_rows(landing)
    assert not LandingStore(landing).completed("kz_customs")
    target = make_database()
    result = rebuild_raw_from_landing(target, landing)
    assert fingerprint(target) == landed["fp2"]
    assert result["feeds"]["ports"]["runs"] == 4
    assert result["feeds"]["kz_customs"]["incomplete"] == 0
    # a fetch landed after the upgrade, cut after its first page, is not replayed
    page = {"period": "2024-01", "revision": 9, "status": "final", "items": [],
            "next_cursor": "more"}
    LandingStore(landing).put("kz_customs", "2024-01", 9, json.dumps(page).encode(),
                              url="http://x/trade", status="final", suffix="json",
                              part="p00001")
    target = make_database()
    result = rebuild_raw_from_landing(target, landing)
    assert fingerprint(target) == landed["fp2"]
    assert result["feeds"]["kz_customs"]["incomplete"] == 1


def test_a_fetch_is_replayed_only_once_its_record_is_written(landed, make_database,
                                                             no_network, tmp_path):
    """Every page of a kz revision landed, the process killed before the fetch row: the
    fetch is incomplete and the unit keeps the revision loaded before; with the row, the
    new revision replays."""
    landing = tmp_path / "landing"
    shutil.copytree(landed["world1"], landing)
    store = LandingStore(landing)
    pages = [store.put("kz_customs", "2024-01", 9,
                       json.dumps({"period": "2024-01", "revision": 9, "status": "final",
                                   "items": [], "next_cursor": None}).encode(),
                       url="http://x/trade", status="final", suffix="json", part="p00001")]
    target = make_database()
    result = rebuild_raw_from_landing(target, landing, feeds=["kz_customs"])
    assert result["feeds"]["kz_customs"]["incomplete"] == 1
    assert loaded_units(target, "kz_customs")["2024-01"][0] != 9
    store.complete("kz_customs", "2024-01", pages, revision=9, status="final",
                   sha256=kz_customs.KzFetch("2024-01", True, payloads=[
                       pages[0].path.read_bytes()]).sha256)
    result = rebuild_raw_from_landing(target, landing, feeds=["kz_customs"])
    assert result["feeds"]["kz_customs"]["incomplete"] == 0
    assert loaded_units(target, "kz_customs")["2024-01"] == (9, "final")


@pytest.mark.parametrize("feed", ["ru_customs", "kz_customs"])
def test_replay_reconciles_the_rows_the_publisher_stated(landed, make_database, no_network,
                                                         tmp_path, feed):
    """The live ingest recorded the rows the publisher stated for each customs unit (RU:
    the release entry's rows, KZ: the /periods records) with its fetch; replay loads it
    through the same check, so a unit whose count does not reconcile fails there as it
    would have live, naming it, and nothing is written."""
    landing = tmp_path / "landing"
    shutil.copytree(landed["world1"], landing)
    manifest = landing / feed / MANIFEST
    lines = [json.loads(line) for line in manifest.read_text().splitlines()]
    completed = [line for line in lines if line["unit"] == "2024-01"
                 and (line.get("record") == "fetch" or line.get("complete"))]
    assert completed and all(isinstance(line["stated_rows"], int) for line in completed)
    for line in completed:
        line["stated_rows"] += 1
    manifest.write_text("".join(json.dumps(line) + "\n" for line in lines))
    target = make_database()
    with pytest.raises(FeedError, match=f"{feed} unit 2024-01: the publisher states"):
        rebuild_raw_from_landing(target, landing, feeds=[feed])
    with psycopg.connect(target.conninfo) as conn:
        assert conn.execute(f"select count(*) from raw.{feed}_rows").fetchone()[0] == 0
