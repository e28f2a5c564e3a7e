"""The object-store path of the landing zone and the release writer, on fsspec's
``memory://`` filesystem attached through Airflow's ObjectStoragePath: checked PUTs,
manifests rewritten under the warehouse's lock, a release's manifest then LATEST last,
a partial release folder ignored by readers and removed by the next publisher."""

from __future__ import annotations

import hashlib
import json
import uuid
from pathlib import Path

import pytest
from airflow.sdk import ObjectStoragePath
from airflow.sdk.io import attach
from fsspec.implementations.memory import MemoryFile, MemoryFileSystem

from corridor import storage
from corridor.config import Settings
from corridor.landing import LandingError, LandingStore, read_manifest
from corridor.landing.replay import verify
from corridor.publish.release import latest_release, list_releases, write_release
from tests.publish.test_release import COVERAGE, FIRST, INPUTS, QUALITY, SECOND


class Objects(dict):
    """A bucket's objects, remembering the order in which they were PUT; while
    ``corrupt`` is set, the objects PUT read back with their first byte flipped (a
    store that garbles a body)."""

    def __init__(self) -> None:
        super().__init__()
        self.order: list[str] = []
        self.corrupt = False
        self.garbled: set[str] = set()

    def __setitem__(self, key: str, value) -> None:
        self.order.append(key)
        if self.corrupt:
            self.garbled.add(key)
        super().__setitem__(key, value)

    def __getitem__(self, key: str):
        value = super().__getitem__(key)
        if key not in self.garbled or not value.getvalue():
            return value
        garbled = bytearray(value.getvalue())
        garbled[0] ^= 0xFF
        return MemoryFile(value.fs, key, bytes(garbled))


@pytest.fixture()
def bucket() -> tuple[ObjectStoragePath, Objects]:
    """An empty object store of this test's own, as ``memory://<conn>@bucket/corridor``."""
    fs = MemoryFileSystem(global_store=False, skip_instance_cache=True)
    fs.store = Objects()
    conn_id = f"t{uuid.uuid4().hex[:8]}"
    attach("memory", conn_id=conn_id, fs=fs)
    return storage.resolve(f"memory://{conn_id}@bucket/corridor"), fs.store


def test_urls_resolve_to_local_paths_or_object_storage(tmp_path, bucket):
    assert storage.resolve(tmp_path.as_uri()) == tmp_path
    assert storage.resolve(str(tmp_path)) == tmp_path
    root, _ = bucket
    assert isinstance(root, ObjectStoragePath) and not storage.is_local(root)
    settings = Settings(landing_dir=tmp_path / "landing", publish_dir=tmp_path / "published")
    assert settings.landing_root == tmp_path / "landing"  # the older settings: file://
    assert settings.publish_root == tmp_path / "published"
    moved = Settings(landing_dir=tmp_path / "landing", landing_url=str(root / "landing"),
                     publish_url=str(root / "published"))
    assert str(moved.landing_root) == str(root / "landing")
    assert str(moved.publish_root) == str(root / "published")


def test_a_put_is_read_back_and_a_garbled_object_fails(bucket):
    root, objects = bucket
    target = root / "a" / "body.json"
    assert storage.put_checked(b'{"x": 1}', target) == hashlib.sha256(b'{"x": 1}').hexdigest()
    assert target.read_bytes() == b'{"x": 1}'
    objects.corrupt = True
    with pytest.raises(storage.ChecksumMismatch, match="read back"):
        storage.put_checked(b'{"x": 2}', root / "a" / "other.json")


def test_landing_on_an_object_store(bucket, fresh_database):
    root, objects = bucket
    store = LandingStore(root / "landing", fresh_database)
    first = store.put("kz_customs", "2024-01", 3, b'{"page": 1}', url="http://u:p@h/x",
                      status="final", suffix="json", part="p1", fetch_id="f1")
    second = store.put("kz_customs", "2024-01", 3, b'{"page": 2}', url="http://h/x",
                       status="final", suffix="json", part="p2", fetch_id="f1")
    store.complete("kz_customs", "2024-01", [first, second], revision=3, status="final")
    # nothing spooled stays on the worker: the bodies are objects, their rows in the
    # manifest (rewritten whole: an object cannot be appended to)
    assert first.path.read_bytes() == b'{"page": 1}' and not storage.is_local(first.path)
    manifest = root / "landing" / "kz_customs" / "manifest.jsonl"
    lines = [json.loads(line) for line in manifest.read_text().splitlines()]
    assert [line["record"] for line in lines] == ["file", "file", "fetch"]
    assert lines[0]["url"] == "http://h/x"  # no credentials
    assert [r["unit"] for r in LandingStore(root / "landing").completed("kz_customs")] \
        == ["2024-01"]
    # replay reads it as it reads a disk: every file checked against its row
    entries = read_manifest(root / "landing", "kz_customs")
    assert verify(entries) == (2, [])
    assert first.read() == b'{"page": 1}'
    assert objects.order.count(manifest.path) == 3  # one checked PUT per line
    # a garbled PUT fails the landing: no row names a file that is not its bytes
    objects.corrupt = True
    with pytest.raises(storage.ChecksumMismatch):
        store.put("rail", "2024-01-02", "1", b"<x/>", url="http://h/r", status=200,
                  suffix="xml")
    objects.corrupt = False
    assert not (root / "landing" / "rail" / "manifest.jsonl").exists()


def test_an_object_store_landing_zone_is_written_under_the_warehouse_lock(bucket):
    root, _ = bucket
    with pytest.raises(LandingError, match="warehouse's lock"):
        LandingStore(root / "landing").put("rail", "2024-01-02", "1", b"<x/>",
                                           url="http://h/r", status=200, suffix="xml")


def _release(published, observations) -> ObjectStoragePath:
    return write_release(published, observations, inputs=INPUTS, quality=QUALITY,
                         coverage=COVERAGE)


def test_a_release_on_an_object_store(bucket, tmp_path):
    root, objects = bucket
    published = root / "published"
    first = _release(published, FIRST)
    assert latest_release(published).name == first.name
    manifest = json.loads((first / "manifest.json").read_text())
    names = [entry["name"] for entry in manifest["files"]]
    # every file checked against the manifest; the manifest last of the folder, LATEST
    # after all of them
    for entry in manifest["files"]:
        assert hashlib.sha256((first / entry["name"]).read_bytes()).hexdigest() \
            == entry["sha256"]
    written = [key.rsplit("/", 1)[1] for key in objects.order]
    assert written == [*names, "manifest.json", "LATEST"]
    # the same files as a release on disk (the layout of spec/indicators.md)
    on_disk = _release(tmp_path, FIRST)
    assert sorted(p.name for p in on_disk.iterdir()) == sorted([*names, "manifest.json"])
    for name in names:
        if not name.startswith("report"):  # the reports name their release id
            assert (first / name).read_bytes() == (on_disk / name).read_bytes(), name
    # the next release diffs against LATEST, read from the store
    second = _release(published, SECOND)
    revisions = json.loads((second / "manifest.json").read_text())["revisions"]
    assert revisions["bilateral_trade"] == json.loads(
        (_release(tmp_path, SECOND) / "manifest.json").read_text())["revisions"][
            "bilateral_trade"]
    assert latest_release(published).name == second.name


def test_a_partial_release_is_ignored_then_removed(bucket):
    """A publisher that died mid-upload leaves a folder without its manifest: LATEST
    never named it, readers skip it, the next publisher removes it."""
    root, objects = bucket
    published = root / "published"
    first = _release(published, FIRST)
    partial = published / "releases" / "20991231T000000Z-deadbeef"
    storage.put_checked(b"freq,ref_area\n", partial / "bilateral_trade.csv")
    assert [r.name for r in list_releases(published)] == [first.name]
    assert latest_release(published).name == first.name
    # a garbled upload fails the publish, removes its folder, and LATEST stays
    objects.corrupt = True
    with pytest.raises(storage.ChecksumMismatch):
        _release(published, SECOND)
    objects.corrupt = False
    assert latest_release(published).name == first.name
    assert not partial.exists()
    assert [p.name for p in (published / "releases").iterdir()] == [first.name]
    second = _release(published, SECOND)
    assert [r.name for r in list_releases(published)] == sorted([first.name, second.name])


def test_put_tree_copies_a_folder(bucket, tmp_path: Path):
    root, _ = bucket
    (tmp_path / "site" / "validations").mkdir(parents=True)
    (tmp_path / "site" / "index.html").write_text("<html/>")
    (tmp_path / "site" / "validations" / "a.html").write_text("<p/>")
    storage.put_tree(tmp_path / "site", root / "docs")
    assert (root / "docs" / "validations" / "a.html").read_text() == "<p/>"
    storage.put_tree(tmp_path / "site", tmp_path / "copy")
    assert (tmp_path / "copy" / "index.html").read_text() == "<html/>"


def test_ingest_and_replay_through_an_object_store(bucket, fresh_database, other_database):
    """The live ingest lands every feed on the object store (RU's month streamed to the
    worker's temporary folder, then PUT; KZ pages, ports runs and Comtrade calls as
    several objects and a fetch row) and loads RU from the object; replay rebuilds the
    same raw schema from the store alone."""
    import os

    from corridor import ingest, simulator
    from corridor.config import month_range
    from corridor.landing.replay import rebuild_raw_from_landing
    from tests.landing.test_replay import fingerprint

    root, _ = bucket
    settings = Settings(landing_url=str(root / "landing"))
    kwargs = {"dsn": fresh_database, "settings": settings}
    config = simulator.SimConfig(seed=3, scale=0.05, first_month="2024-01",
                                 last_month="2024-02")
    with simulator.start_simulator(config) as sim, pytest.MonkeyPatch.context() as mp:
        for name, value in simulator.connection_uris(sim.base_url).items():
            mp.setitem(os.environ, name, value)
        for month in month_range("2024-01", "2024-02"):
            ingest.ingest_ru_customs(month, **kwargs)
            ingest.ingest_kz_customs(month, **kwargs)
            ingest.ingest_comtrade(month, **kwargs)
            ingest.ingest_rail(month, **kwargs)
        ingest.ingest_ports(**kwargs)
    live = fingerprint(fresh_database)
    ru_rows = LandingStore(settings.landing_root).manifest("ru_customs")
    assert len(ru_rows) == 2 and all(r["path"].startswith("memory://") for r in ru_rows)
    report = rebuild_raw_from_landing(other_database, settings.landing_root)
    assert all(feed["files"] for feed in report["feeds"].values())
    assert fingerprint(other_database) == live
