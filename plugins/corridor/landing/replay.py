"""Rebuild the raw schema from the landing zone, with no network.

``rebuild_raw_from_landing(dsn, landing_root, feeds=None)``:

1. **Verify.** Every file named in the selected feeds' manifests is read and its
   sha256 (and size) compared with its file row. Any mismatch or missing file raises
   :class:`LandingIntegrityError` naming the file(s); nothing is written.
2. **Plan.** The completed fetches are the manifest's fetch rows (:mod:`corridor.landing`).
   A landed file no fetch row names is a piece of a fetch that never completed (a 409
   restart, a failure or a kill while paging): it is not replayed, and it is counted
   (``incomplete``) and logged. Each unit's fetches go, in landing order, through the
   rule ``raw.load_unit`` applies (:func:`corridor.load.raw.decide`: a lower revision
   never replaces a higher one, a later fetch of the same or a higher one replaces the
   unit): the fetch it left loaded is replayed, the others are ``superseded``. Ports'
   runs all apply, in order: each moves the port's high-water mark where the live
   ingest moved it. File rows from before fetch rows existed: :mod:`.legacy`.
3. **Load** each replayed fetch with its feed's load function, the one the live ingest
   called (:mod:`corridor.load.feed_loads`), into the raw schema in ONE transaction:
   the selected feeds' raw rows are cleared first (all raw tables are truncated when
   every feed is rebuilt), so the result is exact — identical to what the live ingest
   produced, except timestamps (``loaded_at``, ``synced_at``). A failure rolls
   everything back to the state before the rebuild.

Files are re-read and re-checked against their sha256 when loaded, so what is loaded is
exactly what was verified.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import psycopg
from psycopg import sql

from corridor import locks, storage
from corridor.config import FEED_IDS, WarehouseDsn
from corridor.feeds import comtrade, ports
from corridor.landing import (
    MANIFEST,
    Fetch,
    Landed,
    LandingError,
    LandingIntegrityError,
    LandingStore,
    _safe,
    fetch_of,
    legacy,
    read_manifest,
)
from corridor.load import raw
from corridor.load.feed_loads import FEED_LOADS, FeedLoad
from corridor.warehouse import connect

if TYPE_CHECKING:
    from airflow.sdk import ObjectStoragePath

log = logging.getLogger(__name__)


@dataclass
class FeedReport:
    feed: str
    files: int = 0
    units: int = 0
    rows_loaded: int = 0
    rows_rejected: int = 0
    superseded: int = 0  # completed fetches a later one replaced (not loaded)
    incomplete: int = 0  # fetches that never completed (no fetch row): not replayed
    detail: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {"feed": self.feed, "files": self.files, "units": self.units,
                "rows_loaded": self.rows_loaded, "rows_rejected": self.rows_rejected,
                "superseded": self.superseded, "incomplete": self.incomplete, **self.detail}


def _file_sha256(path: Path) -> tuple[str, int]:
    digest = hashlib.sha256()
    size = 0
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size


def verify(entries: Iterable[Landed]) -> tuple[int, list[str]]:
    """Check every file against its file row; (files checked, problems)."""
    problems: list[str] = []
    checked: dict[Path, str] = {}
    for entry in entries:
        if entry.path in checked and checked[entry.path] == entry.sha256:
            continue
        if not entry.path.is_file():
            problems.append(f"{entry.path}: missing (manifest row {entry.index + 1})")
            continue
        sha, size = _file_sha256(entry.path)
        if sha != entry.sha256:
            problems.append(f"{entry.path}: sha256 {sha} differs from the manifest's "
                            f"{entry.sha256}")
        elif entry.record.get("bytes") is not None and int(entry.record["bytes"]) != size:
            problems.append(f"{entry.path}: {size} bytes, the manifest says "
                            f"{entry.record['bytes']}")
        checked[entry.path] = entry.sha256
    return len(checked), problems


def completed_fetches(root: Path, feed: str, entries: list[Landed]
                      ) -> tuple[list[Fetch], int]:
    """The feed's completed fetches in landing order, and how many never completed."""
    found, incomplete = legacy.fetches(root, feed, [e for e in entries
                                                    if "fetch" not in e.record])
    files = {str(e.record["path"]): e for e in entries if "fetch" in e.record}
    named: set[str] = set()
    for record in LandingStore(root).completed(feed):
        landed = [files.get(str(f["path"])) for f in record["files"]]
        if any(e is None or e.sha256 != str(f["sha256"]).lower()
               for e, f in zip(landed, record["files"], strict=True)):
            log.warning("%s %s: fetch %s names a file no file row holds: not replayed", feed,
                        record["unit"], record.get("fetch"))
            incomplete += 1
            continue
        named.update(str(f["path"]) for f in record["files"])
        found.append(fetch_of(record, [e.file for e in landed]))
    cut = {e.record["fetch"] for path, e in files.items() if path not in named}
    if cut:
        log.warning("%s: %d fetches never completed (no fetch row): their files are not "
                    "replayed: %s", feed, len(cut), sorted(
                        str(e.path) for path, e in files.items() if path not in named))
    return found, incomplete + len(cut)


def plan(fetches: list[Fetch], spec: FeedLoad, report: FeedReport) -> list[Fetch]:
    """The fetches to load: each unit's that ``raw.load_unit`` would have left loaded,
    fed them in landing order (by unit); every one, in order, where the feed has no
    version (ports)."""
    fetches = [fetch for fetch in fetches if fetch.unit not in spec.listings]
    if spec.version is None:
        return fetches
    held: dict[str, tuple[Fetch, dict[str, Any]]] = {}
    for fetch in fetches:
        revision, status, sha256 = spec.version(fetch)
        existing = held[fetch.unit][1] if fetch.unit in held else None
        if raw.decide(existing, revision, sha256, status) is None:
            held[fetch.unit] = (fetch, {"revision": revision, "status": status,
                                        "sha256": sha256})
    report.superseded += len(fetches) - len(held)
    return [held[unit][0] for unit in sorted(held)]


def _temp_tables(conn: psycopg.Connection) -> set[str]:
    return {name for (name,) in conn.execute(
        "select relname from pg_class where relnamespace = pg_my_temp_schema()"
        " and relkind = 'r'").fetchall()}


@contextmanager
def _scoped_temp_tables(conn: psycopg.Connection) -> Iterator[None]:
    """Drop the temporary tables a load function creates ``on commit drop``: inside the
    rebuild's single transaction its own transaction is only a savepoint, so they would
    outlive it and collide with the next unit's."""
    before = _temp_tables(conn)
    yield
    for name in sorted(_temp_tables(conn) - before):
        conn.execute(sql.SQL("drop table if exists pg_temp.{}").format(sql.Identifier(name)))


def _load(conn: psycopg.Connection, feed: str, fetches: list[Fetch],
          report: FeedReport) -> None:
    for fetch in fetches:
        with _scoped_temp_tables(conn):
            outcome = FEED_LOADS[feed].load(conn, fetch)
        report.rows_loaded += outcome.rows_loaded
        report.rows_rejected += outcome.rows_rejected
    units = sorted({fetch.unit for fetch in fetches})
    report.units = len(units)
    if feed == ports.FEED:
        report.detail.update(runs=len(fetches), high_water_marks={
            port: raw.port_high_water_mark(conn, port) for port in units})
    elif feed == comtrade.FEED:
        report.detail["reporters_reported"] = sum(
            bool(fetch.extra["has_reported"]) for fetch in fetches)


def _clear(conn: psycopg.Connection, feeds: list[str]) -> None:
    """Empty the selected feeds' part of the raw schema (inside the caller's transaction)."""
    tables = [table.name for feed in feeds for table in FEED_LOADS[feed].tables]
    if set(feeds) == set(FEED_IDS):
        conn.execute(f"truncate {', '.join(['raw.loaded_units', 'raw.rejected_rows', *tables])}")
        return
    conn.execute(f"truncate {', '.join(tables)}")
    conn.execute("delete from raw.loaded_units where feed = any(%s)", (feeds,))
    conn.execute("delete from raw.rejected_rows where feed = any(%s)", (feeds,))


def rebuild_raw_from_landing(dsn: WarehouseDsn | None,
                             landing_root: Path | ObjectStoragePath | str,
                             feeds: Iterable[str] | None = None) -> dict[str, Any]:
    """Rebuild the raw schema (the selected feeds, default all) from the landed files.

    No network: only the files under ``landing_root`` and the warehouse. The selected
    feeds' raw rows are replaced in one transaction. Raises
    :class:`LandingIntegrityError` (naming the files) before touching the warehouse when
    a landed file is missing or differs from its manifest row.
    """
    root = storage.resolve(landing_root)
    selected = list(FEED_IDS) if feeds is None else list(dict.fromkeys(feeds))
    unknown = [feed for feed in selected if feed not in FEED_IDS]
    if unknown:
        raise ValueError(f"unknown feed(s) {unknown}; feeds are {', '.join(FEED_IDS)}")
    if not root.is_dir():
        raise LandingError(f"landing root {root} does not exist")

    manifests = {feed: read_manifest(root, feed) for feed in selected}
    if not any(manifests.values()):
        # Most likely the wrong folder: refuse rather than empty the raw schema.
        raise LandingError(f"nothing landed under {root} for {', '.join(selected)} "
                           f"(no {MANIFEST} rows)")
    reports = {feed: FeedReport(feed) for feed in selected}
    problems: list[str] = []
    for feed in selected:
        if not manifests[feed]:
            log.warning("%s: nothing landed under %s: its raw tables will be empty", feed,
                        root / _safe(feed))
        reports[feed].files, found = verify(manifests[feed])
        problems.extend(found)
    if problems:
        raise LandingIntegrityError(problems)

    plans = {}
    for feed in selected:
        fetches, reports[feed].incomplete = completed_fetches(root, feed, manifests[feed])
        plans[feed] = plan(fetches, FEED_LOADS[feed], reports[feed])

    with connect(dsn, role="loader", autocommit=True) as conn:
        raw.ensure_raw_schema(conn)
        # One transaction: the load functions' own transactions become savepoints.
        with conn.transaction():
            # before the truncates: waiting for a dbt build while holding raw tables
            # that it reads would deadlock (each load takes it again, a no-op)
            locks.build_shared_in_transaction(conn)
            _clear(conn, selected)
            for feed in selected:
                _load(conn, feed, plans[feed], reports[feed])
                log.info("rebuilt %s from landing: %s", feed, reports[feed].as_dict())
    return {"landing_root": str(root),
            "feeds": {feed: reports[feed].as_dict() for feed in selected}}
