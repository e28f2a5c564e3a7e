"""Fixtures of the landing-zone tests: databases that outlive one test, no network."""

from __future__ import annotations

import socket
import uuid

import psycopg
import pytest

from corridor.config import FEED_CONN_IDS, WarehouseDsn, connection_env_name


@pytest.fixture(scope="module")
def make_database(warehouse_server: WarehouseDsn):
    """A factory of new empty databases on the session's server, dropped at module end."""
    names: list[str] = []

    def make() -> WarehouseDsn:
        name = f"t_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(warehouse_server.conninfo, autocommit=True) as conn:
            conn.execute(f'create database "{name}"')
        names.append(name)
        return WarehouseDsn(warehouse_server.host, warehouse_server.port,
                            warehouse_server.user, warehouse_server.password, name)

    yield make
    with psycopg.connect(warehouse_server.conninfo, autocommit=True) as conn:
        for name in names:
            conn.execute(f'drop database if exists "{name}" with (force)')


@pytest.fixture()
def no_network(monkeypatch):
    """Python sockets may only reach unix sockets (the embedded PostgreSQL; libpq does not
    go through Python's socket module anyway); feed connections are unset."""
    attempts: list[object] = []
    real_connect, real_connect_ex = socket.socket.connect, socket.socket.connect_ex

    def guarded(real):
        def connect(self, address, *args):
            if self.family != getattr(socket, "AF_UNIX", None):
                attempts.append(address)
                raise OSError(f"network disabled in this test (connect to {address!r})")
            return real(self, address, *args)
        return connect

    monkeypatch.setattr(socket.socket, "connect", guarded(real_connect))
    monkeypatch.setattr(socket.socket, "connect_ex", guarded(real_connect_ex))
    for conn_id in FEED_CONN_IDS.values():
        monkeypatch.delenv(connection_env_name(conn_id), raising=False)
    yield attempts
