"""Fixtures of the hostile-input and concurrency tests (and tests/feeds' scripted server)."""

from __future__ import annotations

import pytest

from corridor.config import Settings
from tests.feeds.conftest import scripted_server


@pytest.fixture()
def fake_server(monkeypatch):
    with scripted_server(monkeypatch, retries=2) as server:
        yield server


@pytest.fixture()
def settings(tmp_path):
    return Settings(landing_dir=tmp_path / "landing")


@pytest.fixture()
def kw(fake_server, fresh_database, settings):
    return {"dsn": fresh_database, "settings": settings, "endpoint": fake_server.endpoint()}
