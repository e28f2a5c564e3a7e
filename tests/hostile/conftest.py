"""Fixtures of the hostile-input and concurrency tests (and tests/feeds' scripted server)."""

from __future__ import annotations

import pytest

from tests.feeds.conftest import FakeFeedServer


@pytest.fixture()
def fake_server(monkeypatch):
    monkeypatch.setenv("CORRIDOR_HTTP_BACKOFF", "0")
    monkeypatch.setenv("CORRIDOR_HTTP_RETRIES", "2")
    server = FakeFeedServer()
    yield server
    server.close()
