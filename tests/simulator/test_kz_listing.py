"""The KZ /periods listing counts a month's records without building its items, and
the count is the number of items the month's pages deliver (faults included)."""

from __future__ import annotations

import pytest

from corridor.simulator import SimConfig, World

WINDOW = dict(first_month="2023-08", last_month="2024-01")
FAULTS = {
    "malformed_rows": {"kz_customs": 7},
    "duplicate_rows": {"kz_customs": 3},
    "kz_republished": {"periods": ["2023-12"]},
    "shrinking_revision": {"kz_customs": ["2024-01", "2023-09"]},
    "extra_columns": {"kz_customs": True},
    "unpublished": {"kz_customs": ["2023-10"]},
}


@pytest.mark.parametrize(("seed", "scale", "faults", "preliminary"), [
    (1, 0.02, {}, 2),
    (8, 0.3, {}, 0),
    (3, 0.02, FAULTS, 3),
    (11, 0.3, FAULTS, 2),
    (5, 0.01, {"malformed_rows": {"kz_customs": 10_000}, "duplicate_rows": {"kz_customs": 5}}, 1),
])
def test_listing_counts_match_the_items_and_build_none(seed, scale, faults, preliminary):
    config = SimConfig(seed=seed, scale=scale, faults=faults, preliminary_months=preliminary,
                       **WINDOW)
    lister = World(config)
    listing = lister.kz_periods()
    built = {key[0] for key in lister._cache}
    assert not built & {"kz_items", "national", "published"}, "the listing built records"
    builder = World(config)
    expected = {"periods": []}
    for period_month in builder.kz_periods_list():
        info, items = builder.kz_snapshot(period_month)
        assert info["records"] == len(items)
        expected["periods"].append({k: info[k] for k in ("period", "revision", "status",
                                                         "records")})
    assert listing == expected
    assert builder.kz_periods() == listing  # and from the built items, the same answer


def test_listing_follows_a_live_revision():
    world = World(SimConfig(seed=2, scale=0.05, **WINDOW))
    before = {p["period"]: p for p in world.kz_periods()["periods"]}
    world.revise("kz_customs", "2023-11")
    after = {p["period"]: p for p in world.kz_periods()["periods"]}
    assert after["2023-11"]["revision"] == before["2023-11"]["revision"] + 1
    assert after["2023-11"]["records"] == len(world.kz_items("2023-11")) \
        < before["2023-11"]["records"]
