"""Shared fixtures: one embedded PostgreSQL for the whole test session.

Set ``CORRIDOR_TEST_WAREHOUSE_URI`` (a PostgreSQL URI) to run the suite against a
real server instead (CI does so for the Debian PostgreSQL path).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
import pytest

from corridor.config import PROJECT_DIR, Settings, WarehouseDsn
from corridor.runner import airflow_env

TEST_HOME = PROJECT_DIR / ".corridor" / "test"
# Airflow reads its configuration once, at first import: point it at the test home
# before any test imports it.
os.environ.update(airflow_env(Settings(home_dir=TEST_HOME)))
os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")


@pytest.fixture(scope="session")
def warehouse_server() -> WarehouseDsn:
    """The server the suite uses: embedded pgserver unless a real one is configured."""
    uri = os.environ.get("CORRIDOR_TEST_WAREHOUSE_URI")
    if uri:
        return WarehouseDsn.from_uri(uri)
    from corridor.warehouse import start_embedded

    return start_embedded(TEST_HOME / "pgdata")


@contextmanager
def _temporary_database(server: WarehouseDsn) -> Iterator[WarehouseDsn]:
    """A new empty database on ``server``, dropped on exit."""
    name = f"t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(server.conninfo, autocommit=True) as conn:
        conn.execute(f'create database "{name}"')
    try:
        yield WarehouseDsn(server.host, server.port, server.user, server.password, name)
    finally:
        with psycopg.connect(server.conninfo, autocommit=True) as conn:
            conn.execute(f'drop database if exists "{name}" with (force)')


@pytest.fixture()
def fresh_database(warehouse_server: WarehouseDsn):
    """A new empty database on the session's server, dropped afterwards."""
    with _temporary_database(warehouse_server) as dsn:
        yield dsn


@pytest.fixture()
def other_database(warehouse_server: WarehouseDsn):
    """A second empty database (to compare two ways of reaching one state)."""
    with _temporary_database(warehouse_server) as dsn:
        yield dsn


@pytest.fixture()
def tmp_home(tmp_path: Path) -> Path:
    home = tmp_path / "home"
    home.mkdir()
    return home
