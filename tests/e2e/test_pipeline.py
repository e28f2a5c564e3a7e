"""End to end: the real DAGs, real dbt, real GX, embedded PostgreSQL, the feed simulator.

The published numbers are checked against tests/e2e/independent.py, which recomputes
them from the simulator's raw payloads without any Corridor code.
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
import uuid
from collections import Counter
from pathlib import Path

import psycopg
import pytest

from corridor.config import Settings, WarehouseDsn, month_range
from corridor.roles import init_warehouse
from corridor.runner import PipelineError, run_pipeline
from corridor.simulator import SimConfig, connection_uris, start_simulator
from corridor.warehouse import embedded_uri
from tests.conftest import TEST_HOME
from tests.e2e.independent import (
    UNITS,
    Feeds,
    World,
    bilateral_expected,
    logistics_expected,
)

pytestmark = pytest.mark.e2e

PERIOD_FROM, PERIOD_TO = "2024-01", "2024-12"
SCALE = 0.05


def _database(server: WarehouseDsn) -> WarehouseDsn:
    name = f"e2e_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(server.conninfo, autocommit=True) as conn:
        conn.execute(f'create database "{name}"')
    dsn = WarehouseDsn(server.host, server.port, server.user, server.password, name)
    init_warehouse(dsn, passwords={})  # the stages connect as its roles
    return dsn


def _run(settings: Settings, dsn: WarehouseDsn, sim_config: SimConfig, monkeypatch,
         requests: list | None = None) -> dict:
    """One pipeline run against a simulator world; returns the connection URIs used
    (and appends the simulator's request log to ``requests``)."""
    with start_simulator(sim_config) as simulator:
        uris = connection_uris(simulator.base_url)
        for name, value in uris.items():
            monkeypatch.setenv(name, value)
        monkeypatch.setenv("AIRFLOW_CONN_CORRIDOR_WAREHOUSE", embedded_uri(dsn))
        for field in ("period_from", "period_to", "home_dir", "publish_dir", "landing_dir"):
            monkeypatch.setenv(f"CORRIDOR_{field.upper()}", str(getattr(settings, field)))
        run_pipeline(settings)
        if requests is not None:
            requests.extend(simulator.requests())
        return uris


@pytest.fixture(scope="module")
def good_run(warehouse_server, tmp_path_factory):
    """Two runs of the same world into one warehouse: the second changes nothing."""
    root = tmp_path_factory.mktemp("e2e")
    settings = Settings(period_from=PERIOD_FROM, period_to=PERIOD_TO, home_dir=TEST_HOME,
                        publish_dir=root / "published", landing_dir=root / "landing")
    sim_config = SimConfig(seed=11, scale=SCALE, first_month=settings.ingest_from,
                           last_month=PERIOD_TO)
    dsn = _database(warehouse_server)
    monkeypatch = pytest.MonkeyPatch()
    try:
        _run(settings, dsn, sim_config, monkeypatch)
        first = (settings.publish_dir / "LATEST").read_text().strip()
        second_requests: list = []
        _run(settings, dsn, sim_config, monkeypatch, second_requests)
        second = (settings.publish_dir / "LATEST").read_text().strip()
    finally:
        monkeypatch.undo()
    # the independent check reads the same world from a fresh simulator
    with start_simulator(sim_config) as simulator:
        feeds = Feeds(connection_uris(simulator.base_url))
        world = World(feeds, settings.ingest_months)
        bilateral = bilateral_expected(world, settings.publish_months)
        facts: dict = {}
        logistics = logistics_expected(feeds, settings.publish_months, settings.ingest_from,
                                       PERIOD_TO, facts)
    return {"settings": settings, "dsn": dsn, "sim_config": sim_config, "first": first,
            "second": second, "second_requests": second_requests, "bilateral": bilateral,
            "logistics": logistics,
            "world": world, "facts": facts}


def _published(release: Path, name: str) -> list[dict[str, str]]:
    with (release / f"{name}.csv").open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def _release(run: dict, which: str = "second") -> Path:
    return run["settings"].publish_dir / "releases" / run[which]


def test_release_layout_and_manifest(good_run):
    release = _release(good_run)
    assert (good_run["settings"].publish_dir / "LATEST").read_text() == good_run["second"] + "\n"
    manifest = json.loads((release / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["release_id"] == good_run["second"]
    assert manifest["coverage"] == {"first_period": PERIOD_FROM, "last_period": PERIOD_TO}
    assert manifest["quality"]["success"] is True and manifest["quality"]["failed"] == 0
    assert {f["name"] for f in manifest["files"]} == {
        f"{name}{suffix}" for name in ("bilateral_trade", "corridor_logistics")
        for suffix in (".csv", ".sdmx.csv", ".revisions.csv")} | {
            "structure.xml", "report.html", "report.ru.html", "report.kk.html"}
    assert {p.name for p in release.iterdir()} == {f["name"] for f in manifest["files"]} | {
        "manifest.json"}
    for item in manifest["files"]:
        data = (release / item["name"]).read_bytes()
        assert hashlib.sha256(data).hexdigest() == item["sha256"]
        assert b"\r" not in data and not data.startswith(b"\xef\xbb\xbf")
        if item["name"].endswith(".csv"):
            assert data.count(b"\n") - 1 == item["rows"]
            assert item["rows"] > 0 or item["name"].endswith(".revisions.csv")
    # the second run of the same world changed nothing: no second release
    assert manifest["previous_release_id"] is None
    assert all(counts == {"appeared": 0, "disappeared": 0, "changed": 0}
               for counts in manifest["revisions"].values())
    assert Path(manifest["quality"]["data_docs"]).name == "index.html"
    units = {(i["feed"], i["unit"]) for i in manifest["inputs"]}
    for month in good_run["settings"].ingest_months:
        assert ("ru_customs", month) in units and ("kz_customs", month) in units


def test_a_rerun_with_nothing_changed_downloads_no_data_and_publishes_no_release(good_run):
    assert good_run["first"] == good_run["second"]
    assert [p.name for p in (good_run["settings"].publish_dir / "releases").iterdir()] == [
        good_run["first"]]
    by_feed: dict[str, set] = {}
    for request in good_run["second_requests"]:
        by_feed.setdefault(request["feed"], set()).add(request["path"])
    # index calls and 304s only (ports ask again from their inclusive high-water mark)
    assert by_feed["ru_customs"] == {"/ru-customs/v1/releases"}
    assert by_feed["kz_customs"] == {"/kz-customs/api/v2/periods"}
    assert by_feed["comtrade"] == {"/data/v1/getDa/C/M/HS"}
    rail = [r["status"] for r in good_run["second_requests"] if r["feed"] == "rail"]
    assert rail and set(rail) <= {304, 404}
    counts = Counter(r["feed"] for r in good_run["second_requests"])
    print(f"\nrequests of a no-change cycle, per feed: {dict(sorted(counts.items()))}")


def test_rows_sorted_by_key_in_byte_order(good_run):
    for name, width in (("bilateral_trade", 6), ("corridor_logistics", 6)):
        with (_release(good_run) / f"{name}.csv").open(encoding="utf-8", newline="") as handle:
            rows = list(csv.reader(handle))[1:]
        keys = [tuple(part.encode() for part in row[:width]) for row in rows]
        assert keys == sorted(keys)
        assert len(set(keys)) == len(keys)


def _compare(published: list[dict[str, str]], expected: dict, key_columns: list[str],
             indicators: set[str] | None = None, freqs: set[str] = frozenset({"M", "A"})
             ) -> None:
    """Same set of observations (every cell: chapters, directions, cargo types included),
    same values and obs_status. Values are compared as published text: the independent
    computation rounds its exact Decimal value once, half away from zero, like the spec,
    so equal text is the issue's tolerance (USD to 0.01, others to 1e-6) and stricter.
    ``indicators`` None means every indicator of the dataset."""
    got = {
        tuple(row[c] for c in key_columns): (row["obs_value"], row["obs_status"])
        for row in published if (indicators is None or row["indicator"] in indicators)
        and row["freq"] in freqs
    }
    assert len(got) == len([r for r in published if (indicators is None
                            or r["indicator"] in indicators) and r["freq"] in freqs])
    at = key_columns.index("indicator")
    indicators = indicators if indicators is not None else set(UNITS)
    want = {k: v for k, v in expected.items() if k[at] in indicators and k[0] in freqs}
    missing = sorted(set(want) - set(got))[:10]
    extra = sorted(set(got) - set(want))[:10]
    assert not missing and not extra, f"missing {missing}, unexpected {extra}"
    wrong = [(k, got[k], want[k]) for k in sorted(want) if got[k] != want[k]][:10]
    assert not wrong, f"(key, published, independent): {wrong}"


BILATERAL_KEY = ["freq", "ref_area", "counterpart_area", "indicator", "commodity", "time_period"]
LOGISTICS_KEY = ["freq", "node", "indicator", "direction", "cargo", "time_period"]


def test_bilateral_flows_match_independent_computation(good_run):
    _compare(_published(_release(good_run), "bilateral_trade"), good_run["bilateral"],
             BILATERAL_KEY, {"X_USD", "M_USD", "TURNOVER_USD", "BALANCE_USD"}, {"M", "A"})


def test_mirror_exports_match_independent_computation(good_run):
    _compare(_published(_release(good_run), "bilateral_trade"), good_run["bilateral"],
             BILATERAL_KEY, {"MIRROR_X_USD"}, {"M", "A"})


def test_logistics_match_independent_computation(good_run):
    _compare(_published(_release(good_run), "corridor_logistics"), good_run["logistics"],
             LOGISTICS_KEY, {"PORT_T", "PORT_CALLS", "RAIL_T"}, {"M"})


def test_bilateral_derived_indicators_match_independent_computation(good_run):
    _compare(_published(_release(good_run), "bilateral_trade"), good_run["bilateral"],
             BILATERAL_KEY, {"X_YOY_PCT", "M_YOY_PCT", "TURNOVER_YOY_PCT",
                             "PARTNER_SHARE_PCT", "HHI_X", "GL_IIT"})


def test_mirror_and_asymmetry_match_independent_computation(good_run):
    _compare(_published(_release(good_run), "bilateral_trade"), good_run["bilateral"],
             BILATERAL_KEY, {"MIRROR_X_USD", "MIRROR_M_USD", "ASYM_X_PCT", "ASYM_M_PCT"})


def test_every_published_observation_is_independently_computed(good_run):
    """The whole files, every indicator, both freqs: nothing published that the
    independent computation does not produce, nothing it produces left out."""
    release = _release(good_run)
    for name, expected, key in (("bilateral_trade", good_run["bilateral"], BILATERAL_KEY),
                                ("corridor_logistics", good_run["logistics"], LOGISTICS_KEY)):
        published = _published(release, name)
        _compare(published, expected, key)
        assert {(r["indicator"], r["unit_measure"]) for r in published} <= set(UNITS.items())
    published_indicators = (
        {r["indicator"] for r in _published(release, "bilateral_trade")}
        | {r["indicator"] for r in _published(release, "corridor_logistics")})
    assert published_indicators == set(UNITS)


def test_independent_world_is_not_trivial(good_run):
    """Guards the guard: the comparison covers what the issue lists."""
    bilateral, logistics = good_run["bilateral"], good_run["logistics"]
    world, facts = good_run["world"], good_run["facts"]
    publish = good_run["settings"].publish_months
    partners = {k[2] for k in bilateral if k[1] == "RUS" and k[0] == "M"}
    assert len(partners) >= 8 and "KAZ" in partners and "W00" in partners
    assert len({k[2] for k in bilateral if k[1] == "KAZ" and k[0] == "M"}) >= 8
    assert any(k[3] == "MIRROR_X_USD" and k[2] == "CHN" for k in bilateral)
    # every indicator of both dataflows, monthly and annual, is exercised
    for freq in ("M", "A"):
        assert ({k[3] for k in bilateral if k[0] == freq}
                | {k[2] for k in logistics if k[0] == freq}) == set(UNITS)
    assert any(k[4] != "_T" for k in bilateral)  # chapter cells
    assert any(k[3] != "_T" and k[4] != "_T" for k in logistics)  # direction x cargo cells
    # the RUS-KAZ pair mirrors each other's national feed; an EAEU comtrade partner too
    assert ("M", "RUS", "KAZ", "MIRROR_M_USD", "_T", publish[0]) in bilateral
    assert any(k[3] == "ASYM_M_PCT" and k[2] in ("BLR", "ARM", "KGZ") for k in bilateral)
    # Turkmenistan never reports: no mirror for it, although it trades
    assert any(k[2] == "TKM" for k in bilateral)
    assert not any(k[3].startswith(("MIRROR", "ASYM")) and k[2] == "TKM" for k in bilateral)
    assert not any(j == "TKM" for j, _ in world.comtrade_reported)
    # a preliminary period, and revised units (a final month re-published as revision 2)
    assert any(world.status[(r, m)] == "preliminary" for r in ("RUS", "KAZ") for m in publish)
    assert any(world.status[(r, m)] == "final" for r in ("RUS", "KAZ") for m in publish)
    assert max(world.revision.values()) >= 2 and min(world.revision.values()) == 1
    assert {v[1] for v in bilateral.values()} == {"A", "P"}
    # a YoY whose t-12 base is final while t is preliminary still comes out P
    assert any(k[3] == "X_YOY_PCT" and v[1] == "P" for k, v in bilateral.items())
    # ports: versioned calls, one still at berth (P), calls around local midnight at
    # month ends: attributed by the port's offset, and stays crossing into the next month
    assert facts["port_versions"] >= 2
    assert {"at_berth", "departed", "cancelled"} <= facts["call_statuses"]
    assert any(m in publish for m, *_ in facts["offset_month_calls"])
    assert any(m in publish for m, *_ in facts["month_end_calls"])
    assert any(k[2].startswith("PORT") and v[1] == "P" for k, v in logistics.items())
    # rail: a re-issued day and transit flows
    assert facts["rail_revisions"] >= 2
    assert any(k[2] == "RAIL_TRANSIT_T" and k[0] == "M" and float(v[0]) > 0
               for k, v in logistics.items())


def test_failed_gate_publishes_nothing_and_keeps_latest(good_run, warehouse_server,
                                                        monkeypatch):
    """A month missing from the KZ feed fails the completeness gate: no release."""
    settings = good_run["settings"]
    latest_before = (settings.publish_dir / "LATEST").read_text()
    releases_before = sorted(os.listdir(settings.publish_dir / "releases"))
    bad = SimConfig(seed=11, scale=SCALE, first_month=settings.ingest_from,
                    last_month=PERIOD_TO, faults={"unpublished": {"kz_customs": ["2024-06"]}})
    dsn = _database(warehouse_server)
    with pytest.raises(PipelineError) as failure:
        _run(settings, dsn, bad, monkeypatch)
    assert failure.value.dag_id == "corridor_publish"
    assert failure.value.failed_tasks == ["gate_and_release"]
    assert (settings.publish_dir / "LATEST").read_text() == latest_before
    assert sorted(os.listdir(settings.publish_dir / "releases")) == releases_before
    assert not [p for p in settings.publish_dir.iterdir() if p.name.startswith(".staging")]
    # the message a data engineer reads: each failed critical check, by name
    from corridor.quality.gate import QualityGateFailed, run_gate

    with pytest.raises(QualityGateFailed) as gate:
        run_gate(settings, dsn)
    message = str(gate.value)
    assert message.startswith("quality gate failed:")
    assert "completeness: every customs feed loaded for every month" in message
    assert "every reporter x published month has W00 totals" in message
    # and which unit is missing: the failing rows are quoted
    assert "period_month=2024-06, feed=kz_customs" in message


def test_sdmx_files_read_back_to_the_plain_observations(good_run):
    """The spec's check, verbatim, on the release a pipeline run published."""
    import sdmx

    release = _release(good_run)
    structure = sdmx.read_sdmx(release / "structure.xml")
    for name, flow in (("bilateral_trade", "DF_BILATERAL_TRADE"),
                       ("corridor_logistics", "DF_CORRIDOR_LOGISTICS")):
        message = sdmx.read_sdmx(release / f"{name}.sdmx.csv",
                                 structure=structure.dataflow[flow])
        with (release / f"{name}.csv").open(encoding="utf-8", newline="") as handle:
            plain = list(csv.reader(handle))
        header, rows = plain[0], plain[1:]
        read_back = []
        for data_set in message.data:
            for obs in data_set.obs:
                key = {k.upper(): str(v.value) for k, v in obs.key.values.items()}
                attrs = {k.upper(): str(v.value) for k, v in obs.attached_attribute.items()}
                read_back.append(tuple(
                    str(obs.value) if column == "obs_value"
                    else attrs[column.upper()] if column in ("unit_measure", "obs_status")
                    else key[column.upper()] for column in header))
        assert sorted(read_back) == sorted(tuple(row) for row in rows), name


@pytest.fixture(scope="module")
def revised_run(good_run):
    """A third run after the simulator re-published RU customs 2024-03 (rows dropped and
    values changed) and KZ customs 2024-05: the revisions files must list the difference."""
    settings = good_run["settings"]
    revised = SimConfig(seed=11, scale=SCALE, first_month=settings.ingest_from,
                        last_month=PERIOD_TO,
                        faults={"shrinking_revision": {"ru_customs": ["2024-03"],
                                                       "kz_customs": ["2024-05"]}})
    monkeypatch = pytest.MonkeyPatch()
    try:
        _run(settings, good_run["dsn"], revised, monkeypatch)
    finally:
        monkeypatch.undo()
    third = (settings.publish_dir / "LATEST").read_text().strip()
    with start_simulator(revised) as simulator:
        world = World(Feeds(connection_uris(simulator.base_url)), settings.ingest_months)
        bilateral = bilateral_expected(world, settings.publish_months)
    return {"release": settings.publish_dir / "releases" / third, "bilateral": bilateral}


def test_revisions_list_exactly_what_a_simulator_revision_changed(good_run, revised_run):
    """Expected from the independent computations of the two worlds, not from the files."""
    before, after = good_run["bilateral"], revised_run["bilateral"]
    expected = {}
    for key in before.keys() | after.keys():
        if before.get(key) != after.get(key):
            old, new = before.get(key, ("", "")), after.get(key, ("", ""))
            change = ("appeared" if key not in before else "disappeared" if key not in after
                      else "changed")
            expected[key] = (change, old[0], new[0], old[1], new[1])
    with (revised_run["release"] / "bilateral_trade.revisions.csv").open(
            encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    listed = {tuple(r[c] for c in BILATERAL_KEY):
              (r["change"], r["previous_value"], r["new_value"], r["previous_status"],
               r["new_status"]) for r in rows}
    assert len(listed) == len(rows)
    assert {r["previous_release_id"] for r in rows} == {good_run["second"]}
    assert listed == expected
    changes = {change for change, *_ in expected.values()}
    assert {"changed", "disappeared"} <= changes
    # the revised months are the ones that moved (and the annual 2024 values built on them)
    assert {key[5] for key in expected} <= {"2024-03", "2024-05", "2024"}
    with (revised_run["release"] / "corridor_logistics.revisions.csv").open(
            encoding="utf-8") as handle:
        assert len(handle.read().splitlines()) == 1


def test_ingest_window_is_twelve_months_before_publication(good_run):
    assert good_run["settings"].ingest_months == month_range("2023-01", "2024-12")


def test_committed_gx_context_is_what_the_suites_generate(good_run, tmp_path):
    """`corridor gx sync` on the committed context changes no file: no drift from code."""
    import shutil

    from corridor.config import PROJECT_DIR
    from corridor.quality.context import sync_context

    committed = PROJECT_DIR / "expectations"
    copy = tmp_path / "expectations"
    shutil.copytree(committed, copy, ignore=shutil.ignore_patterns("uncommitted"))
    sync_context(copy, good_run["dsn"].sqlalchemy_url)

    def files(root: Path) -> dict[str, bytes]:
        return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*"))
                if p.is_file() and "uncommitted" not in p.parts}

    assert files(copy) == files(committed)
