"""The disk cache of generated bodies (simulator/bodies.py): same bytes as without it,
revisions and faults intact, reused across worlds that share a month."""

from __future__ import annotations

import hashlib
import http.client
import json
from urllib.parse import urlsplit

from corridor.simulator import SimConfig, start_simulator
from corridor.simulator.bodies import BodyCache

MONTHS = {"first_month": "2023-11", "last_month": "2024-02"}


def _get(base_url: str, path: str, method: str = "GET", body: bytes | None = None
         ) -> tuple[int, bytes]:
    parts = urlsplit(base_url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=60)
    try:
        connection.request(method, path, body=body)
        response = connection.getresponse()
        try:
            data = response.read()
        except http.client.IncompleteRead as error:
            data = b"partial:" + error.partial
        return response.status, data
    finally:
        connection.close()


def _served(config: SimConfig, cache_dir=None) -> list[tuple[int, str]]:
    """Status and digest of: the release list, every month, a revision, both again."""
    out = []
    with start_simulator(config, cache_dir=cache_dir) as sim:
        for _ in range(2):
            for path in ["/ru-customs/v1/releases",
                         *(f"/ru-customs/v1/data/{m}.csv" for m in ("2023-11", "2024-02"))]:
                status, data = _get(sim.base_url, path)
                out.append((status, hashlib.sha256(data).hexdigest()))
            status, _ = _get(sim.base_url, "/_sim/revise", "POST",
                             json.dumps({"feed": "ru_customs", "unit": "2024-02"}).encode())
            assert status == 200
    return out


def test_cached_bodies_are_the_bytes_served_without_cache(tmp_path):
    config = SimConfig(scale=0.2, **MONTHS, faults={
        "extra_columns": {"ru_customs": True}, "malformed_rows": {"ru_customs": 2},
        "shrinking_revision": {"ru_customs": ["2023-11"]}})
    expected = _served(config)
    assert _served(config, tmp_path) == expected  # generated into the cache
    assert _served(config, tmp_path) == expected  # read from it
    files = sorted(p.name for p in tmp_path.rglob("*") if p.is_file())
    assert not [name for name in files if name.endswith(".tmp")]
    # one body per month and state: the revision is a new file, the old one stays
    assert "2024-02.r1-preliminary.s0.body" in files
    assert "2024-02.r2-preliminary.s1.body" in files


def test_truncated_deliveries_do_not_poison_the_cache(tmp_path):
    config = SimConfig(scale=0.2, **MONTHS, faults={"truncated_body": {"rate": 0.5}})
    clean = SimConfig(scale=0.2, **MONTHS)
    with start_simulator(clean) as sim:
        _, full = _get(sim.base_url, "/ru-customs/v1/data/2023-12.csv")
    with start_simulator(config, cache_dir=tmp_path) as sim:
        answers = [_get(sim.base_url, "/ru-customs/v1/data/2023-12.csv")[1] for _ in range(8)]
    assert any(a.startswith(b"partial:") for a in answers)
    assert full in answers
    assert all(a == full or full.startswith(a.removeprefix(b"partial:")) for a in answers)
    body = next(p for p in tmp_path.rglob("2023-12.*.body"))
    assert body.read_bytes() == full


def test_a_longer_world_reuses_the_months_it_shares(tmp_path):
    short = SimConfig(scale=0.2, first_month="2023-11", last_month="2024-02")
    longer = SimConfig(scale=0.2, first_month="2023-11", last_month="2024-03")
    with start_simulator(short, cache_dir=tmp_path) as sim:
        _get(sim.base_url, "/ru-customs/v1/releases")
    written = {p.name: p.stat().st_mtime_ns for p in tmp_path.rglob("*.body")}
    with start_simulator(longer, cache_dir=tmp_path) as sim:
        _, listing = _get(sim.base_url, "/ru-customs/v1/releases")
    with start_simulator(longer) as sim:
        assert _get(sim.base_url, "/ru-customs/v1/releases")[1] == listing
    after = {p.name: p.stat().st_mtime_ns for p in tmp_path.rglob("*.body")}
    # the final months are read again, not rewritten; 2024-01 turned final: a new body
    assert all(after[name] == written[name] for name in written)
    assert {"2024-01.r2-final.s0.body", "2024-03.r1-preliminary.s0.body"} <= set(after)


def test_a_body_without_its_figures_is_not_read(tmp_path):
    cache = BodyCache(tmp_path, SimConfig())
    first = cache.get("ru_customs", "x", lambda: [b"a;b\r", b"\nc;d\r\n"])
    assert (first.length, first.lines) == (10, 2)
    first.path.with_suffix(".json").unlink()
    assert cache.lookup("ru_customs", "x") is None
    again = cache.get("ru_customs", "x", lambda: [b"a;b\r\nc;d\r\n"])
    assert again.sha256 == first.sha256
