"""The disk cache of generated bodies (simulator/bodies.py): same bytes as without it,
revisions and faults intact, reused across worlds that share a month."""

from __future__ import annotations

import hashlib
import http.client
import json
from urllib.parse import urlsplit

from corridor.simulator import SimConfig, World, start_simulator
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


# ----- KZ, Comtrade and rail from the disk cache

FEEDS_FAULTS = {
    "malformed_rows": {"kz_customs": 3, "comtrade": 2, "rail": 2},
    "duplicate_rows": {"kz_customs": 2, "comtrade": 1, "rail": 1},
    "extra_columns": {"kz_customs": True, "comtrade": True, "rail": True},
    "shrinking_revision": {"kz_customs": ["2023-12"], "comtrade": ["156:2023-12"],
                           "rail": ["2023-12-02"]},
    "kz_republished": {"periods": ["2024-01"]},
    "unpublished": {"kz_customs": ["2023-11"], "comtrade": ["860:2024-01"]},
}
_MONTH_RECORDS = {"kz_items", "national", "published", "pair", "comtrade", "comtrade_da"}


def _kz_pages(world: World, period_month: str, page_size: int) -> list[str]:
    """Every page of a month as the server writes its items, from the cache or not."""
    from corridor.simulator.common import dumps

    if world.bodies is None:
        items = world.kz_snapshot(period_month)[1]
        return [dumps(items[o:o + page_size]) for o in range(0, len(items) + 1, page_size)]
    _, body = world.kz_snapshot_body(period_month)
    return [str(world.kz_page(body, o, page_size))
            for o in range(0, body.lines + 1, page_size)]


def test_kz_pages_from_the_cache_are_the_fresh_ones(tmp_path):
    config = SimConfig(scale=0.2, **MONTHS, faults=FEEDS_FAULTS)
    fresh, cached = World(config), World(config, cache_dir=tmp_path)
    for period_month in fresh.kz_periods_list():
        for page_size in (1, 7, 1000):
            assert _kz_pages(cached, period_month, page_size) == \
                _kz_pages(fresh, period_month, page_size)
    assert cached.kz_periods() == fresh.kz_periods()
    again = World(config, cache_dir=tmp_path)  # a new process: the listing reads figures
    assert again.kz_periods() == fresh.kz_periods()
    assert not {key[0] for key in again._cache} & _MONTH_RECORDS


def test_comtrade_from_the_cache_is_the_fresh_answer(tmp_path):
    config = SimConfig(scale=0.2, **MONTHS, faults=FEEDS_FAULTS)
    fresh, cached = World(config), World(config, cache_dir=tmp_path)
    assert cached.comtrade_availability() == fresh.comtrade_availability()
    for period in ("202311", "202312", "202402"):
        for query in ({"reporterCode": "156,860,417", "period": period},
                      {"reporterCode": "364", "period": period, "partnerCode": "643",
                       "flowCode": "X", "cmdCode": "TOTAL,270900"}):
            assert cached.comtrade_query(query) == fresh.comtrade_query(query)
    again = World(config, cache_dir=tmp_path)
    assert again.comtrade_availability() == fresh.comtrade_availability()
    assert not {key[0] for key in again._cache} & _MONTH_RECORDS, "getDa built the rows"
    # a revision is a new unit on disk, the same as the fresh world's
    assert again.revise("comtrade", "156:2024-02") == fresh.revise("comtrade", "156:2024-02")
    assert again.comtrade_availability() == fresh.comtrade_availability()


def test_rail_days_from_the_cache_are_the_fresh_ones(tmp_path):
    config = SimConfig(scale=0.2, **MONTHS, faults=FEEDS_FAULTS)
    fresh, cached = World(config), World(config, cache_dir=tmp_path)
    for day in ("2023-11-01", "2023-12-02", "2024-02-29"):
        assert cached.rail_body(day).path.read_bytes() == fresh.rail_xml(day)
    fresh.revise("rail", "2024-02-29")
    cached.revise("rail", "2024-02-29")
    assert cached.rail_body("2024-02-29").path.read_bytes() == fresh.rail_xml("2024-02-29")


def test_generate_all_fills_the_cache_and_the_listings_build_nothing(tmp_path):
    config = SimConfig(scale=0.2, **MONTHS, faults=FEEDS_FAULTS)
    filled = World(config, cache_dir=tmp_path)
    summary = filled.generate_all()
    assert summary["units"]["kz_customs"] == len(filled.kz_periods_list())
    assert not {key[0] for key in filled._cache} & _MONTH_RECORDS  # each month forgotten
    fresh = World(config)
    with start_simulator(config, cache_dir=tmp_path) as sim:
        world = sim.world
        assert world.ru_releases() == fresh.ru_releases()
        assert world.kz_periods() == fresh.kz_periods()
        assert world.comtrade_availability() == fresh.comtrade_availability()
        assert not {key[0] for key in world._cache} & _MONTH_RECORDS
        status, data = _get(sim.base_url, "/_sim/generate", "POST")
        assert status == 200 and json.loads(data)["units"] == summary["units"]
