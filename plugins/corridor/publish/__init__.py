"""Releases: immutable folders of published indicators (spec/indicators.md).

:func:`run` is the publish: the quality gate and the release, from ONE warehouse state.

Why one function (and one Airflow task): the gate's verdict is only worth something
about the very rows the release then publishes. Run as two tasks, a dbt build or a
unit load could commit between them, and a release would ship numbers no check saw.

How:

1. Take the publish lock (:func:`corridor.publish.release.publish_lock`: an advisory
   lock of the warehouse, so publishers on any machine take turns, and a later one
   also reads a later state).
2. ``dbt source freshness`` (:func:`corridor.transform.source_freshness`): a source
   past its ``error_after`` fails the gate (``SourcesStale``, a ``QualityGateFailed``);
   every source's status, warnings included, goes into the manifest's
   ``quality.source_freshness``.
3. Open a ``REPEATABLE READ, READ ONLY`` transaction and export its snapshot
   (``pg_export_snapshot()``), holding the build lock (:mod:`corridor.locks`) SHARED
   only while the snapshot is taken: a dbt build in progress finishes first, so the
   snapshot never holds half-rebuilt marts; once taken, a snapshot cannot change,
   so builds and loads go on meanwhile.
4. Run the GX checkpoint with every one of GX's transactions importing that snapshot
   (``SET TRANSACTION SNAPSHOT``, :func:`corridor.quality.gate.reading_snapshot`).
5. Read the marts, the loaded units of their build and the feed status on the
   exporting transaction itself and write the release (the publish lock is already
   held).

Steps 2 and 4 connect as the gate role (``corridor_gate``), 1, 3 and 5 as the publisher
(``corridor_publisher``, :mod:`corridor.roles`): a snapshot exported by one role is
imported by another.

Marts whose latest dbt build did not finish or failed raise
:class:`corridor.transform.MartsNotBuilt` before the gate runs; a critical failure
raises :class:`corridor.quality.gate.QualityGateFailed`. Either way nothing is
written: LATEST stays where it was.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import psycopg
    from airflow.sdk import ObjectStoragePath

    from corridor.config import Settings, WarehouseDsn

log = logging.getLogger(__name__)


@contextmanager
def warehouse_snapshot(dsn: WarehouseDsn) -> Iterator[tuple[psycopg.Connection, str]]:
    """A connection in a ``REPEATABLE READ, READ ONLY`` transaction and the id of its
    exported snapshot (valid while the block runs), taken between dbt builds."""
    import psycopg
    from psycopg import IsolationLevel

    from corridor import locks

    with psycopg.connect(dsn.conninfo, application_name="corridor publish") as conn:
        conn.isolation_level = IsolationLevel.REPEATABLE_READ
        conn.read_only = True
        with locks.session_lock(dsn, locks.BUILD, shared=True,
                                purpose="a dbt build finishes first"):
            # the transaction's first statement fixes its snapshot
            snapshot = conn.execute("select pg_export_snapshot()").fetchone()[0]
        try:
            yield conn, snapshot
        finally:
            conn.rollback()  # read only: nothing to commit


def run(settings: Settings | None = None, dsn: WarehouseDsn | None = None
        ) -> Path | ObjectStoragePath:
    """Gate, then release, from one snapshot of the warehouse (see the module doc).

    Returns the release folder (LATEST's, unchanged when nothing changed); raises
    ``MartsNotBuilt`` when the marts' latest build did not succeed, ``QualityGateFailed``
    when a critical check fails.
    """
    from corridor.config import get_settings, get_warehouse_dsn
    from corridor.publish.release import publish_lock, publish_release
    from corridor.quality.gate import run_gate
    from corridor.transform import built_inputs, source_freshness
    from corridor.window import resolve

    # the checks connect as the gate role, the release as the publisher (``dsn``: both)
    gate_dsn = dsn or get_warehouse_dsn("gate")
    dsn = dsn or get_warehouse_dsn("publisher")
    settings = resolve(settings or get_settings(), dsn=dsn)
    with publish_lock(dsn):
        # before the snapshot: dbt takes the build lock for itself. A source past its
        # error_after fails the gate (SourcesStale); its warnings go into the manifest.
        freshness = source_freshness(settings, gate_dsn)
        with warehouse_snapshot(dsn) as (conn, snapshot):
            log.info("publish: gate and release read warehouse snapshot %s", snapshot)
            built_inputs(conn)  # MartsNotBuilt: a killed or failed build, nothing to gate
            quality = run_gate(settings, gate_dsn, snapshot=snapshot)
            quality["source_freshness"] = freshness
            return publish_release(quality, settings=settings, dsn=dsn, conn=conn,
                                   lock=nullcontext())
