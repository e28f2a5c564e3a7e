from __future__ import annotations

import hashlib

from corridor.landing import LandingStore


def test_put_stores_bytes_and_manifest(tmp_path):
    store = LandingStore(tmp_path)
    payload = "napr;period\r\nЭК;01/2024\r\n".encode("windows-1251")
    landed = store.put("ru_customs", "2024-01", 2, payload,
                       url="http://user:secret@127.0.0.1:1/ru-customs/v1/data/2024-01.csv",
                       status="final", suffix="csv")
    sha = hashlib.sha256(payload).hexdigest()
    assert landed.path == tmp_path / "ru_customs" / "2024-01" / f"r2-{sha[:8]}.csv"
    assert landed.path.read_bytes() == payload and landed.sha256 == sha
    [entry] = store.manifest("ru_customs")
    assert entry["sha256"] == sha and entry["bytes"] == len(payload)
    assert entry["revision"] == 2 and entry["status"] == "final"
    assert "secret" not in entry["url"] and entry["url"].startswith("http://127.0.0.1:1/")
    assert not [p for p in landed.path.parent.iterdir() if p.name.startswith(".landing-")]


def test_unit_without_revision_uses_fetch_time(tmp_path):
    store = LandingStore(tmp_path)
    landed = store.put("comtrade", "156:2024-01", None, b"{}", url="http://h/x",
                       status="final", suffix="json", part="probe")
    assert landed.path.parent.name == "156_2024-01"
    assert "-probe-" in landed.path.name and landed.path.suffix == ".json"
