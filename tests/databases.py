"""A temporary database on a test server (the suite's fixtures and the fault harness)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg

from corridor.config import WarehouseDsn


@contextmanager
def temporary_database(server: WarehouseDsn, prefix: str = "t") -> Iterator[WarehouseDsn]:
    """A new empty database on ``server`` (named ``<prefix>_<random>``), dropped on exit."""
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(server.conninfo, autocommit=True) as conn:
        conn.execute(f'create database "{name}"')
    try:
        yield WarehouseDsn(server.host, server.port, server.user, server.password, name)
    finally:
        with psycopg.connect(server.conninfo, autocommit=True) as conn:
            conn.execute(f'drop database if exists "{name}" with (force)')
