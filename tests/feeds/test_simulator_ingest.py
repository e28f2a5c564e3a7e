"""One ingest per feed against the local simulator."""

from __future__ import annotations

import os

import pytest

from corridor import ingest, simulator
from corridor.config import Settings


@pytest.fixture()
def sim(monkeypatch):
    monkeypatch.setenv("CORRIDOR_HTTP_BACKOFF", "0")
    with simulator.start_simulator(simulator.SimConfig(
            scale=0.05, first_month="2024-01", last_month="2024-03")) as running:
        for name, value in simulator.connection_uris(running.base_url).items():
            monkeypatch.setitem(os.environ, name, value)
        yield running


def test_every_feed_ingests_from_simulator(sim, fresh_database, tmp_path):
    settings = Settings(landing_dir=tmp_path / "landing")
    kwargs = {"dsn": fresh_database, "settings": settings}
    results = [ingest.ingest_ru_customs("2024-01", **kwargs),
               ingest.ingest_kz_customs("2024-01", **kwargs),
               ingest.ingest_comtrade("2024-01", **kwargs),
               ingest.ingest_ports(**kwargs),
               ingest.ingest_rail("2024-01", **kwargs)]
    for summary in results:
        assert summary["rows_loaded"] > 0, summary["feed"]
    # A rerun changes nothing.
    again = ingest.ingest_ru_customs("2024-01", **kwargs)
    assert again["skipped"] == "unchanged"
