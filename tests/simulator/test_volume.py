"""The simulator at national volume: what used to not end, or cost a pass over the world
per request."""

from __future__ import annotations

from datetime import datetime

from corridor.simulator import SimConfig, World
from corridor.simulator.trade import MAX_MISSES_IN_A_ROW


def test_the_ru_kz_pair_ends_when_its_codes_are_used_up():
    # scale 60 asks for 14 400 distinct RU->KZ codes; its chapters hold ~6 100
    world = World(SimConfig(scale=60, first_month="2024-01", last_month="2024-02"))
    pair = world._pair_lines("2024-01")
    for direction in ("RU_TO_KZ", "KZ_TO_RU"):
        codes = [tnved for tnved, *_ in pair[direction]]
        assert len(codes) == len(set(codes)) < 60 * 240
    assert MAX_MISSES_IN_A_ROW >= 1000


def test_port_pages_by_bisection_are_the_filtered_timeline():
    world = World(SimConfig(scale=0.3, first_month="2023-11", last_month="2024-02",
                            faults={"ports_out_of_order": True}))
    timeline = world._port_timeline()
    for port in ("KZAAU", "KZKUR"):
        for since in (None, datetime.fromisoformat("2024-01-10T12:00:00+05:00"),
                      datetime.fromisoformat("2030-01-01T00:00:00+00:00")):
            expected = [record for moment, record in timeline if record["port"] == port
                        and (since is None or moment >= since)]
            assert world.port_versions(port, since) == expected


def test_logistics_scale_sets_rail_and_port_traffic_apart_from_customs():
    """scale 3 with logistics_scale 1: the customs feeds at scale 3, rail and ports as a
    scale-1 world's (bench.end_to_end's national volume beside real traffic)."""
    months = {"first_month": "2024-01", "last_month": "2024-02"}
    apart = World(SimConfig(scale=3, logistics_scale=1, **months))
    real = World(SimConfig(scale=1, **months))
    busy = World(SimConfig(scale=3, **months))
    for day in ("2024-01-05", "2024-02-17"):
        assert apart.rail_xml(day) == real.rail_xml(day) != busy.rail_xml(day)
    assert apart.port_calls("KZAAU") == real.port_calls("KZAAU")
    assert len(busy.port_calls("KZAAU")) > 2 * len(real.port_calls("KZAAU"))
    assert apart.ru_csv_bytes("2024-01") == busy.ru_csv_bytes("2024-01") \
        != real.ru_csv_bytes("2024-01")
