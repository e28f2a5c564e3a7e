"""Hostile landing input: feed text in file names, torn manifest lines."""

from __future__ import annotations

import hashlib
import json
import logging

import psycopg
import pytest

from corridor import ingest
from corridor.config import Settings
from corridor.landing import COMPLETED, MANIFEST, LandingStore, ManifestError, _safe
from corridor.landing.replay import LandingError, read_manifest, rebuild_raw_from_landing

NS = "urn:corridor:rail:crossing:1"


def rail_xml(day: str, revision: str, tonnes: str = "36.400") -> bytes:
    return (f'<?xml version="1.0" encoding="UTF-8"?><crossingReport xmlns="{NS}" '
            f'date="{day}" revision="{revision}"><crossing point="DOSTYK" '
            f'partnerRailway="CR"><movement direction="inbound" transit="false">'
            f'<consignment gng="84713000" wagons="2" teu="4" tonnes="{tonnes}" origin="CN" '
            f'destination="KZ"/></movement></crossing></crossingReport>').encode()


def loaded_units(dsn) -> dict:
    with psycopg.connect(dsn.conninfo) as conn:
        return {unit: (revision, status, sha) for unit, revision, status, sha in conn.execute(
            "select unit, revision, status, sha256 from raw.loaded_units where feed = 'rail'")}


def test_readable_labels_stay_as_they_were_and_feed_text_is_hashed():
    for label in ("2024-01", "r2", "p00001", "KZAAU", "20240101T000000000001Z",
                  "data-r156_860_417_792_31_364_795_112_51-p398_643-fM_X", "since1a2b3c-p00002"):
        assert _safe(label) == label
    assert _safe("156:2024-01") == "156_2024-01"  # as every landing zone so far has it
    for hostile in ("..", ".", "", "a/b", "../" * 100, "x" * 65, "r1 ; rm -rf", "é", "a\nb"):
        name = _safe(hostile)
        assert name.startswith("h-") and len(name) == 18, hostile
        assert _safe(hostile) == name  # stable
    assert _safe("a/b") != _safe("a_b")  # no collision with its readable neighbour


def test_a_300_character_rail_revision_lands_and_replays(fake_server, fresh_database,
                                                         other_database, tmp_path):
    day = "2024-02-01"
    revision = "../" * 100  # 300 characters of feed text, and a path traversal
    body = rail_xml(day, revision)
    fake_server.routes[f"/rail/v1/crossings/{day}.xml"] = [(200, {}, body)]
    settings = Settings(landing_dir=tmp_path / "landing")
    summary = ingest.ingest_rail("2024-02", dsn=fresh_database, settings=settings,
                                 endpoint=fake_server.endpoint())
    assert summary["days_out"] == 1 and summary["rows_rejected"] == 1

    # landed inside the unit's folder, under a short name; the manifest keeps the text
    [entry] = LandingStore(settings.landing_root).manifest("rail")
    assert entry["revision"] == revision
    files = [p for p in (settings.landing_root / "rail").rglob("*") if p.is_file()]
    landed = [p for p in files if p.name != MANIFEST]
    assert len(landed) == 1 and landed[0].parent == settings.landing_root / "rail" / day
    assert len(landed[0].name) < 64 and landed[0].read_bytes() == body

    # replay gives what the live ingest loaded (the report rejected whole, as live)
    live = loaded_units(fresh_database)
    assert live[day][1] == "rejected"
    rebuild_raw_from_landing(other_database, settings.landing_root, feeds=["rail"])
    assert loaded_units(other_database) == live


def _land_two_days(root):
    store = LandingStore(root)
    for day in ("2024-02-01", "2024-02-02"):
        store.put("rail", day, "1", rail_xml(day, "1"), url=f"http://h/{day}.xml", status=200,
                  suffix="xml")
    return store


def test_a_torn_last_manifest_line_is_skipped_and_the_rest_replays(tmp_path, caplog,
                                                                    fresh_database):
    root = tmp_path / "landing"
    store = _land_two_days(root)
    manifest = root / "rail" / MANIFEST
    whole = manifest.read_bytes()
    # a writer killed in the middle of its line: half a record, no line end
    record = json.dumps({"feed": "rail", "unit": "2024-02-03", "path": "x"})
    with manifest.open("ab") as handle:
        handle.write(record[: len(record) // 2].encode())
    with caplog.at_level(logging.WARNING, logger="corridor.landing"):
        entries = read_manifest(root, "rail")
    assert [e.unit for e in entries] == ["2024-02-01", "2024-02-02"]
    assert any(str(manifest) in r.getMessage() and "torn" in r.getMessage()
               for r in caplog.records)
    result = rebuild_raw_from_landing(fresh_database, root, feeds=["rail"])
    assert result["feeds"]["rail"]["units"] == 2
    assert set(loaded_units(fresh_database)) == {"2024-02-01", "2024-02-02"}

    # the next append cuts the torn tail off: it never becomes a bad line in the middle
    store.put("rail", "2024-02-03", "1", rail_xml("2024-02-03", "1"), url="http://h/3",
              status=200, suffix="xml")
    assert manifest.read_bytes().startswith(whole)
    assert [r["unit"] for r in store.manifest("rail")] == [
        "2024-02-01", "2024-02-02", "2024-02-03"]


def test_a_terminated_but_unparsable_last_line_is_skipped(tmp_path, caplog):
    root = tmp_path / "landing"
    store = _land_two_days(root)
    with (root / "rail" / MANIFEST).open("ab") as handle:
        handle.write(b'{"feed": "rail", "unit\n')
    with caplog.at_level(logging.WARNING, logger="corridor.landing"):
        assert len(store.manifest("rail")) == 2
    assert "line 3" in caplog.text


def test_a_bad_line_elsewhere_is_an_error_naming_file_and_line(tmp_path):
    root = tmp_path / "landing"
    store = _land_two_days(root)
    manifest = root / "rail" / MANIFEST
    first, second = manifest.read_bytes().splitlines(keepends=True)
    manifest.write_bytes(first[:20] + b"\n" + second)
    with pytest.raises(ManifestError, match=rf"{manifest}: line 1 "):
        store.manifest("rail")
    with pytest.raises(LandingError, match="line 1"):
        read_manifest(root, "rail")


def test_completed_jsonl_survives_a_torn_last_line(tmp_path, caplog):
    store = LandingStore(tmp_path)
    landed = store.put("comtrade", "2024-01", None, b"{}", url="http://h/x", status=200,
                       suffix="json", part="data-r156-p398-fM")
    store.complete("comtrade", "156:2024-01", [landed], checksum="c1", has_reported=True)
    completed = tmp_path / "comtrade" / COMPLETED
    with completed.open("ab") as handle:
        handle.write(b'{"feed": "comtrade", "unit": "860:20')
    with caplog.at_level(logging.WARNING, logger="corridor.landing"):
        assert [r["unit"] for r in store.completed("comtrade")] == ["156:2024-01"]
    assert str(completed) in caplog.text
    store.complete("comtrade", "860:2024-01", [landed], checksum="c2", has_reported=True)
    assert [r["unit"] for r in store.completed("comtrade")] == ["156:2024-01", "860:2024-01"]
    assert hashlib.sha256(completed.read_bytes()).hexdigest()  # whole lines only
    assert all(json.loads(line) for line in completed.read_text().splitlines())


def test_each_manifest_line_is_one_append_write(tmp_path, monkeypatch):
    """One ``write`` of the whole line on an O_APPEND descriptor: concurrent appenders
    (other processes, other hosts' tasks on a shared disk) cannot interleave a line."""
    import fcntl
    import os

    writes: list[tuple[int, bytes]] = []
    real_write = os.write

    def spy(fd, data):
        writes.append((fcntl.fcntl(fd, fcntl.F_GETFL) & os.O_APPEND, bytes(data)))
        return real_write(fd, data)

    store = LandingStore(tmp_path)
    monkeypatch.setattr(os, "write", spy)
    store.put("rail", "2024-02-01", "1", b"<x/>", url="http://h/x", status=200, suffix="xml")
    monkeypatch.undo()
    manifest = (tmp_path / "rail" / MANIFEST).read_bytes()
    assert [w for w in writes if w[1].endswith(b"\n")] == [(os.O_APPEND, manifest)]
