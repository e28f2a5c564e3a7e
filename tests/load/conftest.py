from __future__ import annotations

import uuid

import psycopg
import pytest

from corridor.config import WarehouseDsn


@pytest.fixture()
def other_database(warehouse_server: WarehouseDsn):
    """A second empty database (to compare two ways of reaching one state)."""
    name = f"t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(warehouse_server.conninfo, autocommit=True) as conn:
        conn.execute(f'create database "{name}"')
    yield WarehouseDsn(warehouse_server.host, warehouse_server.port, warehouse_server.user,
                       warehouse_server.password, name)
    with psycopg.connect(warehouse_server.conninfo, autocommit=True) as conn:
        conn.execute(f'drop database if exists "{name}" with (force)')
