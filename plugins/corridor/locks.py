"""PostgreSQL advisory locks: who may change the warehouse at the same time as whom.

Advisory locks live in the warehouse, so they hold across processes and machines (an
Airflow worker, ``corridor run`` on a laptop, a second worker host), and the server
drops a session's locks when its connection goes, killed holder or not.

* **build** — a dbt invocation (``corridor.transform.run_dbt``) holds it EXCLUSIVELY for
  its whole run, at session level on a connection of its own; every unit load
  (``corridor.load.raw``) takes it SHARED inside its transaction. Loads run side by
  side, a build waits for the loads in flight and loads wait for a build: dbt never
  reads raw tables while a unit is half replaced between its models, and a build's
  marts are of one raw state.
* **publish** — one publisher at a time per warehouse (``corridor.publish.release``).
* **landing** — one writer at a time of a feed's landing manifest
  (``corridor:landing:<feed>``, :class:`corridor.landing.LandingStore`), wherever the
  landing zone is (a shared disk, an object store).

They replace file locks (``flock``), which hold on one host only and not at all on an
object store.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg

from corridor.config import WarehouseDsn

log = logging.getLogger(__name__)

BUILD = "corridor:warehouse_build"
PUBLISH = "corridor:publish"

_KEY = "hashtextextended(%s, 0)"


def landing(feed: str) -> str:
    """The name of ``feed``'s landing manifest lock."""
    return f"corridor:landing:{feed}"


def build_shared_in_transaction(conn: psycopg.Connection) -> None:
    """Take the build lock SHARED until the end of the caller's transaction (waits for a
    running dbt build)."""
    conn.execute(f"select pg_advisory_xact_lock_shared({_KEY})", (BUILD,))


@contextmanager
def session_lock(dsn: WarehouseDsn, name: str, *, shared: bool = False,
                 purpose: str = "") -> Iterator[psycopg.Connection]:
    """Hold advisory lock ``name`` on a dedicated connection for the ``with`` block.

    Logs when it has to wait, so a task that seems stuck says for what."""
    mode = "_shared" if shared else ""
    with psycopg.connect(dsn.conninfo, autocommit=True,
                         application_name=f"corridor lock {name}") as conn:
        got = conn.execute(f"select pg_try_advisory_lock{mode}({_KEY})", (name,)).fetchone()[0]
        if not got:
            log.info("waiting for the %s lock%s", name, f" ({purpose})" if purpose else "")
            conn.execute(f"select pg_advisory_lock{mode}({_KEY})", (name,))
        try:
            yield conn
        finally:
            if not conn.closed:
                conn.execute(f"select pg_advisory_unlock{mode}({_KEY})", (name,))


def build_exclusive(dsn: WarehouseDsn) -> Iterator[psycopg.Connection]:
    """The build lock, exclusively (dbt); waits for the unit loads in flight."""
    return session_lock(dsn, BUILD, purpose="unit loads in flight finish first")
