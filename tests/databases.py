"""A temporary database on a test server (the suite's fixtures and the fault harness),
and the passwords of the server's corridor roles (corridor.roles) for the session."""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg

from corridor.config import WAREHOUSE_ROLES, WarehouseDsn, role_name

#: the login roles' passwords, set by the session's ``corridor warehouse init``
#: (tests/conftest.py): a server that does not trust local connections asks for them
ROLE_PASSWORDS = {role: secrets.token_urlsafe(12) for role in WAREHOUSE_ROLES}


def as_role(dsn: WarehouseDsn, role: str) -> WarehouseDsn:
    """``dsn``'s server and database as the corridor role ``role``."""
    return WarehouseDsn(dsn.host, dsn.port, role_name(role), ROLE_PASSWORDS[role], dsn.dbname)


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
