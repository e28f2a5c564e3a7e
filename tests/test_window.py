"""The coverage window: fixed by CORRIDOR_PERIOD_FROM/TO, or rolling with the publishers."""

from __future__ import annotations

import psycopg
import pytest

from corridor.config import Settings
from corridor.simulator import SimConfig, connection_uris, start_simulator
from corridor.window import WindowError, resolve, rolling_window


def test_rolling_window_ends_at_the_newest_month_both_customs_feeds_released():
    ru = ["2024-10", "2024-11", "2024-12"]
    kz = ["2024-10", "2024-11"]  # KZ has not released December yet: it is late
    assert rolling_window(ru, kz, 24) == ("2022-12", "2024-11")
    assert rolling_window(ru, ru, 1) == ("2024-12", "2024-12")
    with pytest.raises(WindowError, match="both"):
        rolling_window(ru, [], 24)


def test_settings_take_both_periods_or_neither():
    assert Settings().rolling and Settings(period_from="", period_to="").rolling
    fixed = Settings(period_from="2024-01", period_to="2024-12")
    assert not fixed.rolling and fixed.ingest_from == "2023-01"
    with pytest.raises(ValueError, match="both"):
        Settings(period_from="2024-01")
    with pytest.raises(ValueError, match="after"):
        Settings(period_from="2024-05", period_to="2024-01")
    with pytest.raises(RuntimeError, match="resolve"):
        Settings().ingest_months  # noqa: B018 - a rolling window is resolved first


def test_resolve_reads_the_publishers_and_records_the_window(fresh_database, monkeypatch):
    world = dict(scale=0.05, first_month="2023-06", last_month="2024-12")
    with start_simulator(SimConfig(**world, faults={"unpublished": {
            "kz_customs": ["2024-12"]}})) as sim:
        for name, uri in connection_uris(sim.base_url).items():
            monkeypatch.setenv(name, uri)
        settings = resolve(Settings(window_months=6), dsn=fresh_database, refresh=True)
        assert (settings.period_from, settings.period_to) == ("2024-06", "2024-11")
        calls = [r["path"] for r in sim.requests() if r["feed"] in ("ru_customs", "kz_customs")]
        assert calls == ["/ru-customs/v1/releases", "/kz-customs/api/v2/periods"]
    # the transform, gate and release of the cycle read the recorded window: no call
    again = resolve(Settings(window_months=6), dsn=fresh_database)
    assert again.publish_months == settings.publish_months
    with psycopg.connect(fresh_database.conninfo) as conn:
        assert conn.execute("select period_from, period_to from ingest.coverage_window"
                            ).fetchall() == [("2024-06", "2024-11")]
    fixed = Settings(period_from="2024-01", period_to="2024-03")
    assert resolve(fixed, dsn=fresh_database) is fixed
