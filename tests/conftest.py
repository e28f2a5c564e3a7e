"""Shared fixtures: one embedded PostgreSQL for the whole test session.

Set ``CORRIDOR_TEST_WAREHOUSE_URI`` (a PostgreSQL URI) to run the suite against a
real server instead (CI does so for the Debian PostgreSQL path).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from corridor.config import PROJECT_DIR, Settings, WarehouseDsn
from corridor.runner import airflow_env
from tests.databases import ROLE_PASSWORDS, temporary_database

TEST_HOME = PROJECT_DIR / ".corridor" / "test"
# Airflow reads its configuration once, at first import: point it at the test home
# before any test imports it.
os.environ.update(airflow_env(Settings(home_dir=TEST_HOME)))
os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")


@pytest.fixture(scope="session")
def warehouse_server() -> WarehouseDsn:
    """The server the suite uses: embedded pgserver unless a real one is configured."""
    from corridor.roles import init_warehouse

    uri = os.environ.get("CORRIDOR_TEST_WAREHOUSE_URI")
    if uri:
        server = WarehouseDsn.from_uri(uri)
    else:
        from corridor.warehouse import start_embedded

        server = start_embedded(TEST_HOME / "pgdata")
    # the server's roles (corridor.roles): dbt grants the marts to them in any database
    init_warehouse(server, ROLE_PASSWORDS)
    return server


@pytest.fixture()
def fresh_database(warehouse_server: WarehouseDsn):
    """A new empty database on the session's server, dropped afterwards."""
    with temporary_database(warehouse_server) as dsn:
        yield dsn


@pytest.fixture()
def other_database(warehouse_server: WarehouseDsn):
    """A second empty database (to compare two ways of reaching one state)."""
    with temporary_database(warehouse_server) as dsn:
        yield dsn


@pytest.fixture()
def tmp_home(tmp_path: Path) -> Path:
    home = tmp_path / "home"
    home.mkdir()
    return home
