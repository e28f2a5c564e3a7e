"""The release writer: layout, manifest, revisions, and atomicity under SIGKILL.

These tests write releases from small synthetic observations (no warehouse but for
the publish lock): the release writer only writes files; the e2e test covers a release
from real marts.
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
import signal
import subprocess
import sys
import textwrap
from datetime import UTC, datetime
from pathlib import Path

import pytest

from corridor.publish.datasets import DATASETS
from corridor.publish.release import latest_release, write_release
from corridor.publish.revisions import diff_releases

BILATERAL, LOGISTICS = DATASETS

FIRST = {
    "bilateral_trade": [
        ("A", "KAZ", "RUS", "X_USD", "_T", "2024", "1000.00", "USD", "A"),
        ("M", "KAZ", "RUS", "M_USD", "_T", "2024-01", "0.00", "USD", "A"),
        ("M", "KAZ", "RUS", "X_USD", "_T", "2024-01", "250.10", "USD", "P"),
        ("M", "KAZ", "W00", "X_USD", "27", "2024-01", "99.99", "USD", "A"),
        ("M", "RUS", "CHN", "PARTNER_SHARE_PCT", "_T", "2024-01", "12.3456", "PCT", "A"),
    ],
    "corridor_logistics": [
        ("M", "DOSTYK", "RAIL_T", "_T", "_T", "2024-01", "1500.250", "T", "A"),
        ("M", "KZAAU", "PORT_CALLS", "_T", "_T", "2024-01", "12", "NUM", "P"),
    ],
}

# the next release: the first two rows as they were; one value revised, one status
# final, one dropped, one new
SECOND = {
    "bilateral_trade": [
        *FIRST["bilateral_trade"][:2],
        ("M", "KAZ", "RUS", "X_USD", "_T", "2024-01", "250.10", "USD", "A"),
        ("M", "KAZ", "W00", "X_USD", "27", "2024-01", "101.00", "USD", "A"),
        ("M", "RUS", "CHN", "PARTNER_SHARE_PCT", "_T", "2024-02", "11.0000", "PCT", "A"),
    ],
    "corridor_logistics": FIRST["corridor_logistics"],
}

QUALITY = {"success": True, "evaluated": 1, "failed": 0, "failed_warnings": 0,
           "checks": [{"name": "a check", "suite": "s", "severity": "critical",
                       "success": True, "observed": ""}]}
INPUTS = [{"feed": "ru_customs", "unit": "2024-01", "revision": 2, "status": "final"}]
COVERAGE = {"first_period": "2024-01", "last_period": "2024-12"}


def _publish(published: Path, observations: dict) -> Path:
    return write_release(published, observations, inputs=INPUTS, quality=QUALITY,
                         coverage=COVERAGE)


def _csv(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def test_a_release_has_every_file_of_the_layout(tmp_path):
    release = _publish(tmp_path, FIRST)
    assert latest_release(tmp_path) == release
    assert (tmp_path / "LATEST").read_bytes() == f"{release.name}\n".encode()
    assert sorted(p.name for p in release.iterdir()) == sorted([
        "bilateral_trade.csv", "bilateral_trade.sdmx.csv", "bilateral_trade.revisions.csv",
        "corridor_logistics.csv", "corridor_logistics.sdmx.csv",
        "corridor_logistics.revisions.csv", "structure.xml", "manifest.json", "report.html",
        "report.ru.html", "report.kk.html",
    ])
    assert not list(tmp_path.glob(".staging-*"))


def test_manifest_lists_every_other_file_with_checksum_and_rows(tmp_path):
    release = _publish(tmp_path, FIRST)
    manifest = json.loads((release / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["release_id"] == release.name
    assert manifest["coverage"] == COVERAGE and manifest["inputs"] == INPUTS
    assert manifest["quality"] == QUALITY
    listed = {entry["name"]: entry for entry in manifest["files"]}
    assert set(listed) == {p.name for p in release.iterdir()} - {"manifest.json"}
    for name, entry in listed.items():
        assert entry["sha256"] == hashlib.sha256((release / name).read_bytes()).hexdigest()
        if name.endswith(".csv"):
            data_lines = (release / name).read_bytes().count(b"\n") - 1
            assert entry["rows"] == data_lines, name
    assert listed["bilateral_trade.csv"]["rows"] == len(FIRST["bilateral_trade"])


def test_first_release_revisions_hold_only_the_header(tmp_path):
    release = _publish(tmp_path, FIRST)
    for dataset in DATASETS:
        lines = (release / f"{dataset.name}.revisions.csv").read_text().splitlines()
        assert lines == [",".join([*dataset.key, "change", "previous_value", "new_value",
                                   "previous_status", "new_status", "previous_release_id"])]
    manifest = json.loads((release / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["previous_release_id"] is None


def test_second_release_lists_exactly_the_changed_appeared_and_disappeared(tmp_path):
    first = _publish(tmp_path, FIRST)
    second = _publish(tmp_path, SECOND)
    rows = _csv(second / "bilateral_trade.revisions.csv")
    found = {(r["counterpart_area"], r["indicator"], r["commodity"], r["time_period"]):
             (r["change"], r["previous_value"], r["new_value"], r["previous_status"],
              r["new_status"], r["previous_release_id"]) for r in rows}
    assert found == {
        ("RUS", "X_USD", "_T", "2024-01"): ("changed", "250.10", "250.10", "P", "A", first.name),
        ("W00", "X_USD", "27", "2024-01"): ("changed", "99.99", "101.00", "A", "A", first.name),
        ("CHN", "PARTNER_SHARE_PCT", "_T", "2024-01"):
            ("disappeared", "12.3456", "", "A", "", first.name),
        ("CHN", "PARTNER_SHARE_PCT", "_T", "2024-02"):
            ("appeared", "", "11.0000", "", "A", first.name),
    }
    assert _csv(second / "corridor_logistics.revisions.csv") == []
    manifest = json.loads((second / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["previous_release_id"] == first.name
    assert manifest["revisions"]["bilateral_trade"] == {"appeared": 1, "disappeared": 1,
                                                        "changed": 2}


def test_values_are_compared_as_published_text():
    before = [("M", "KAZ", "RUS", "X_USD", "_T", "2024-01", "1.50", "USD", "A")]
    after = [("M", "KAZ", "RUS", "X_USD", "_T", "2024-01", "1.5", "USD", "A")]
    assert [row[6] for row in diff_releases(BILATERAL, before, after, "r1")] == ["changed"]
    assert diff_releases(BILATERAL, before, before, "r1") == []


# --- atomicity: the publishing process is SIGKILLed at each step ------------------------

CHILD = textwrap.dedent("""
    import json, os, signal, sys
    from pathlib import Path
    import corridor.publish.release as release
    import corridor.publish.sdmx as sdmx

    def die(*args, **kwargs):
        os.kill(os.getpid(), signal.SIGKILL)

    step = sys.argv[2]
    if step == "while_writing_files":    # plain and SDMX CSVs staged, structure.xml not
        sdmx.write_structure = die
    elif step == "before_rename":         # every file staged, nothing renamed
        release.os.rename = die
    elif step == "before_latest":         # release renamed into releases/, LATEST not yet
        release._replace_latest = die
    observations = {k: [tuple(r) for r in v] for k, v in json.loads(sys.argv[3]).items()}
    release.write_release(Path(sys.argv[1]), observations, inputs=[], quality={},
                          coverage={})
""")


@pytest.mark.parametrize("step", ["while_writing_files", "before_rename", "before_latest"])
def test_a_publish_killed_midway_leaves_latest_and_visible_releases_unchanged(tmp_path, step):
    first = _publish(tmp_path, FIRST)
    latest_before = (tmp_path / "LATEST").read_bytes()
    child = subprocess.run([sys.executable, "-c", CHILD, str(tmp_path), step,
                            json.dumps(SECOND)], capture_output=True, text=True, timeout=300,
                           env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)})
    assert child.returncode == -signal.SIGKILL, child.stderr

    assert (tmp_path / "LATEST").read_bytes() == latest_before
    releases = sorted(p.name for p in (tmp_path / "releases").iterdir())
    if step == "before_latest":
        # renamed whole: a complete release that is not LATEST, every listed file intact
        (orphan,) = set(releases) - {first.name}
        manifest = json.loads((tmp_path / "releases" / orphan / "manifest.json").read_text())
        for entry in manifest["files"]:
            content = (tmp_path / "releases" / orphan / entry["name"]).read_bytes()
            assert hashlib.sha256(content).hexdigest() == entry["sha256"]
    else:
        assert releases == [first.name]
    # the next publish clears what the dead one staged and diffs against LATEST
    third = _publish(tmp_path, SECOND)
    assert not list(tmp_path.glob(".staging-*")) and not list(tmp_path.glob(".LATEST.*"))
    assert latest_release(tmp_path) == third
    manifest = json.loads((third / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["previous_release_id"] == first.name


def test_publishers_take_turns(tmp_path, fresh_database):
    """A second publisher (the DAG while `corridor publish` runs) waits for the
    warehouse's publish lock: it neither clears the first one's staging folder nor
    interleaves with it."""
    import time
    from dataclasses import asdict

    from corridor.publish.release import publish_lock

    first = _publish(tmp_path, FIRST)
    child = textwrap.dedent("""
        import json, sys
        from pathlib import Path
        from corridor.config import WarehouseDsn
        from corridor.publish.release import publish_lock, write_release
        dsn = WarehouseDsn(**json.loads(sys.argv[3]))
        observations = {k: [tuple(r) for r in v] for k, v in json.loads(sys.argv[2]).items()}
        print("ready", flush=True)
        write_release(Path(sys.argv[1]), observations, inputs=[], quality={}, coverage={},
                      lock=publish_lock(dsn))
    """)
    with publish_lock(fresh_database):
        # what a publisher in the middle of its work has staged
        (tmp_path / ".staging-in-progress").mkdir()
        waiting = subprocess.Popen([sys.executable, "-c", child, str(tmp_path),
                                    json.dumps(SECOND), json.dumps(asdict(fresh_database))],
                                   stdout=subprocess.PIPE, text=True,
                                   env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)})
        assert waiting.stdout.readline() == "ready\n"  # imports done: it is publishing now
        time.sleep(2)
        assert waiting.poll() is None  # blocked on the lock
        assert (tmp_path / ".staging-in-progress").is_dir()
        assert latest_release(tmp_path) == first
        (tmp_path / ".staging-in-progress").rmdir()
    assert waiting.wait(timeout=300) == 0
    assert latest_release(tmp_path) != first


def test_nothing_changed_writes_no_release(tmp_path):
    """Same observations, inputs and coverage as LATEST: LATEST stays, no folder is added."""
    first = _publish(tmp_path, FIRST)
    again = _publish(tmp_path, FIRST)
    assert again == first
    assert [p.name for p in (tmp_path / "releases").iterdir()] == [first.name]
    # a new revision of an input with the same numbers is still a new release
    revised = write_release(tmp_path, {k: [tuple(r) for r in v] for k, v in FIRST.items()},
                            inputs=[{**INPUTS[0], "revision": 99}, *INPUTS[1:]],
                            quality=QUALITY, coverage=COVERAGE)
    assert revised != first and latest_release(tmp_path) == revised

# --- feed status: the due / late grid, judged at the release's creation time -------------

def _status_snapshot():
    from corridor.config import DUE_DAYS_DEFAULT
    from corridor.status import LoadedUnit, Snapshot

    loaded = LoadedUnit(2, "final", datetime(2024, 12, 3, 9, 0, tzinfo=UTC))
    return Snapshot(["2024-10", "2024-11"], dict(DUE_DAYS_DEFAULT),
                    units={"ru_customs": {"2024-10": loaded}})


@pytest.mark.parametrize("created, ru_november", [
    (datetime(2025, 1, 14, 23, 0, tzinfo=UTC), "not_due"),  # its due day
    (datetime(2025, 1, 15, 0, 30, tzinfo=UTC), "late"),
])
def test_manifest_carries_the_feed_status_at_the_release_time(tmp_path, monkeypatch, created,
                                                                ru_november):
    import corridor.publish.release as release

    class Clock(datetime):
        @classmethod
        def now(cls, tz=None):
            return created

    monkeypatch.setattr(release, "datetime", Clock)
    path = write_release(tmp_path, FIRST, inputs=INPUTS, quality=QUALITY, coverage=COVERAGE,
                         status=_status_snapshot())
    manifest = json.loads((path / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["created_at"] == created.strftime("%Y-%m-%dT%H:%M:%SZ")
    status = manifest["feed_status"]
    assert [(c["feed"], c["month"]) for c in status] == [
        (feed, month) for feed in ("ru_customs", "kz_customs", "comtrade", "ports", "rail")
        for month in ("2024-10", "2024-11")]
    cells = {(c["feed"], c["month"]): c for c in status}
    assert cells[("ru_customs", "2024-10")] == {
        "feed": "ru_customs", "month": "2024-10", "state": "loaded", "due_date": "2024-12-15",
        "units_expected": 1, "units_loaded": 1, "missing": [], "revisions": [2],
        "statuses": ["final"], "fetched_at": "2024-12-03T09:00:00Z", "calls": None}
    assert cells[("ru_customs", "2024-11")]["state"] == ru_november
    assert cells[("ru_customs", "2024-11")]["due_date"] == "2025-01-14"
    assert cells[("comtrade", "2024-11")]["state"] == "not_due"  # due 2025-03-01
    assert cells[("ports", "2024-10")]["calls"] == {"KZAAU": 0, "KZKUR": 0}
    assert cells[("rail", "2024-10")]["missing"][0] == "2024-10-01"
    report = (path / "report.html").read_text(encoding="utf-8")
    assert 'title="ru_customs 2024-11: ' + ("late" if ru_november == "late" else "not due yet")\
        in report


def test_manifest_without_a_status_snapshot_has_an_empty_feed_status(tmp_path):
    manifest = json.loads((_publish(tmp_path, FIRST) / "manifest.json").read_text())
    assert manifest["feed_status"] == []
