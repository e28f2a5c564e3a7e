"""Fixtures of the fault matrix: fast retries, a landing area, databases on demand."""

from __future__ import annotations

import pytest

from tests.databases import temporary_database


@pytest.fixture(scope="module", autouse=True)
def fast_retries():
    """No back-off between retries, and a short read timeout so that a fault the
    client fails to notice shows up as a failure, not as a two-minute hang."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("CORRIDOR_HTTP_BACKOFF", "0")
        mp.setenv("CORRIDOR_HTTP_RETRIES", "6")
        mp.setenv("CORRIDOR_HTTP_TIMEOUT", "10")
        yield


@pytest.fixture(scope="module")
def landing(tmp_path_factory):
    return tmp_path_factory.mktemp("landing")


@pytest.fixture()
def database(warehouse_server):
    """Factory: ``database()`` → a new empty database (all dropped after the test)."""
    stack = []

    def make():
        context = temporary_database(warehouse_server, "tf")
        stack.append(context)
        return context.__enter__()

    yield make
    for context in reversed(stack):
        context.__exit__(None, None, None)
