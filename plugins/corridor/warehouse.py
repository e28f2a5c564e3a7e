"""The PostgreSQL warehouse: the configured connections or an embedded pgserver."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg

from corridor.config import WarehouseDsn, get_warehouse_dsn

WAREHOUSE_DB = "corridor"


def start_embedded(pgdata: Path, *, keep_running: bool = False) -> WarehouseDsn:
    """Start (or reuse) an embedded PostgreSQL 16 under ``pgdata`` and return its DSN.

    pgserver listens on a unix socket only. ``keep_running`` leaves the server up
    after this process exits (``corridor warehouse start``); otherwise it stops
    with the process.
    """
    import pgserver

    pgdata.mkdir(parents=True, exist_ok=True)
    server = pgserver.get_server(pgdata, cleanup_mode=None if keep_running else "stop")
    _EMBEDDED.append(server)  # keep a reference: the server stops when collected
    dsn = WarehouseDsn.from_uri(server.get_uri())
    with psycopg.connect(dsn.conninfo, autocommit=True) as conn:
        exists = conn.execute("select 1 from pg_database where datname = %s",
                              (WAREHOUSE_DB,)).fetchone()
        if not exists:
            conn.execute(f'create database "{WAREHOUSE_DB}"')
    return WarehouseDsn(dsn.host, dsn.port, dsn.user, dsn.password, WAREHOUSE_DB)


_EMBEDDED: list[object] = []


def embedded_uri(dsn: WarehouseDsn) -> str:
    """An Airflow connection URI for a unix-socket DSN."""
    from urllib.parse import quote

    return (f"postgresql://{quote(dsn.user)}:{quote(dsn.password)}@/{dsn.dbname}"
            f"?host={quote(dsn.host, safe='')}&port={dsn.port}")


@contextmanager
def connect(dsn: WarehouseDsn | None = None, *, role: str | None = None,
            **kwargs) -> Iterator[psycopg.Connection]:
    """A psycopg 3 connection to the warehouse, at ``dsn`` or else as ``role``
    (:func:`corridor.config.get_warehouse_dsn`); commits on success, rolls back on error."""
    if dsn is None:
        if role is None:
            raise TypeError("connect() needs a dsn or the role to connect as")
        dsn = get_warehouse_dsn(role)
    with psycopg.connect(dsn.conninfo, **kwargs) as conn:
        yield conn
