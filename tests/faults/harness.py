"""Run the real ingest (HTTP clients → simulator over loopback → PostgreSQL) for one
simulated world and return the raw schema it produced, plus what the wire saw.

Used by ``test_fault_matrix.py``; nothing here knows about a particular fault.
"""

from __future__ import annotations

import json
import logging
import os
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
import pytest

from corridor import ingest
from corridor.config import FEED_IDS, Settings, WarehouseDsn, month_range
from corridor.simulator import SimConfig, World, connection_uris, start_simulator
from corridor.simulator import server as sim_server
from tests.faults.fingerprint import Row, fingerprint, raw_columns, raw_rows

ALL_FEEDS = FEED_IDS  # ru_customs, kz_customs, comtrade, ports, rail

#: Client-side evidence that a fault was met and retried (logger, substring).
_RETRY_LOGGERS = ("corridor.feeds.http", "corridor.feeds.kz_customs", "corridor.feeds.ru_customs",
                  "urllib3.connectionpool", "urllib3.util.retry")


# ------------------------------------------------------------------------- databases

# ------------------------------------------------------------------------- snapshots

@dataclass
class Snapshot:
    """The raw schema: table -> (compared columns, sorted rows of column texts)."""

    columns: dict[str, list[str]]
    rows: dict[str, list[Row]]

    @classmethod
    def take(cls, dsn: WarehouseDsn) -> Snapshot:
        with psycopg.connect(dsn.conninfo) as conn:
            return cls(raw_columns(conn), raw_rows(conn))

    def fingerprint(self) -> dict[str, tuple[int, str]]:
        return fingerprint(self.rows)

    def col(self, table: str, column: str) -> int:
        return self.columns[table].index(column)

    def dicts(self, table: str) -> list[dict[str, str | None]]:
        names = self.columns[table]
        return [dict(zip(names, row, strict=True)) for row in self.rows[table]]

    def without_columns(self, drop: dict[str, set[str]]) -> Snapshot:
        """A copy without some columns (``{table: {column, ...}}``)."""
        columns, rows = {}, {}
        for table, names in self.columns.items():
            keep = [i for i, name in enumerate(names) if name not in drop.get(table, set())]
            columns[table] = [names[i] for i in keep]
            rows[table] = sorted((tuple(row[i] for i in keep) for row in self.rows[table]),
                                 key=lambda r: tuple((v is None, v or "") for v in r))
        return Snapshot(columns, rows)

    def without_rows(self, table: str, drop: Callable[[dict[str, str | None]], bool]
                     ) -> Snapshot:
        names = self.columns[table]
        rows = dict(self.rows)
        rows[table] = [row for row in self.rows[table]
                       if not drop(dict(zip(names, row, strict=True)))]
        return Snapshot(dict(self.columns), rows)

    def replace_rows(self, table: str, rows: list[Row]) -> Snapshot:
        new = dict(self.rows)
        new[table] = sorted(rows, key=lambda r: tuple((v is None, v or "") for v in r))
        return Snapshot(dict(self.columns), new)


def diff_report(actual: Snapshot, expected: Snapshot, limit: int = 4) -> str:
    """Per differing table: fingerprints and a few rows only on one side."""
    lines = []
    fa, fe = actual.fingerprint(), expected.fingerprint()
    for table in sorted(set(fa) | set(fe)):
        if fa.get(table) == fe.get(table):
            continue
        lines.append(f"{table}: actual {fa.get(table)} expected {fe.get(table)}")
        if actual.columns.get(table) != expected.columns.get(table):
            lines.append(f"  columns differ: {actual.columns.get(table)} vs "
                         f"{expected.columns.get(table)}")
            continue
        got, want = Counter(actual.rows.get(table, [])), Counter(expected.rows.get(table, []))
        names = actual.columns[table]
        for label, extra in (("only in actual", got - want), ("only in expected", want - got)):
            items = list(extra.elements())
            if items:
                lines.append(f"  {label} ({len(items)}):")
                for row in items[:limit]:
                    lines.append(f"    {dict(zip(names, row, strict=True))}")
    return "\n".join(lines)


def assert_same_raw(actual: Snapshot, expected: Snapshot, what: str) -> None:
    if actual.fingerprint() != expected.fingerprint():
        pytest.fail(f"{what}: raw schema differs\n{diff_report(actual, expected)}")


# ------------------------------------------------------------------------- the wire

class WireLog(logging.Handler):
    """Statuses the simulator sent (server side) and retries the clients logged."""

    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.statuses: Counter[int] = Counter()
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

    def messages(self, logger_prefix: str = "") -> list[str]:
        return [r.getMessage() for r in self.records if r.name.startswith(logger_prefix)]

    @property
    def client_retries(self) -> int:
        """Retries the clients logged: tenacity's whole-body retries (``corridor.feeds.http``)
        and urllib3's status/connection retries."""
        return sum(1 for r in self.records
                   if (r.name == "corridor.feeds.http" and "retry" in r.getMessage())
                   or (r.name.startswith("urllib3") and ("Retry" in r.getMessage()
                                                          or "Retrying" in r.getMessage())))


_ACTIVE_WIRE: list[WireLog] = []
_original_send_response = sim_server._Handler.send_response


def _recording_send_response(self, code, message=None):  # noqa: ANN001 - stdlib signature
    for wire in _ACTIVE_WIRE:
        wire.statuses[int(code)] += 1
    return _original_send_response(self, code, message)


@contextmanager
def watch_wire() -> Iterator[WireLog]:
    wire = WireLog()
    loggers = [logging.getLogger(name) for name in _RETRY_LOGGERS]
    saved = [(logger.level, logger.propagate) for logger in loggers]
    for logger in loggers:
        logger.addHandler(wire)
        logger.setLevel(logging.DEBUG)
        if logger.name.startswith("urllib3"):
            logger.propagate = False  # its DEBUG chatter (one line a request) stays here
    _ACTIVE_WIRE.append(wire)
    sim_server._Handler.send_response = _recording_send_response
    try:
        yield wire
    finally:
        _ACTIVE_WIRE.remove(wire)
        if not _ACTIVE_WIRE:
            sim_server._Handler.send_response = _original_send_response
        for logger, (level, propagate) in zip(loggers, saved, strict=True):
            logger.removeHandler(wire)
            logger.setLevel(level)
            logger.propagate = propagate


# ------------------------------------------------------------------------- ingest runs

@dataclass
class Run:
    """One ingest of one world into one database."""

    world: World
    snapshot: Snapshot
    wire: WireLog
    summaries: list[dict[str, Any]] = field(default_factory=list)
    landing_root: Path | None = None
    dsn: WarehouseDsn | None = None
    #: ``corridor.load.fingerprint.raw_fingerprint`` of the database, when available
    their_fingerprint: dict | None = None

    def landed_sha256(self, feed: str) -> set[str]:
        """sha256 of every payload the run landed for ``feed`` (from the manifest)."""
        manifest = (self.landing_root or Path("/nonexistent")) / feed / "manifest.jsonl"
        if not manifest.exists():
            return set()
        return {json.loads(line)["sha256"] for line in manifest.read_text().splitlines()
                if line.strip()}

    def summary(self, feed: str) -> list[dict[str, Any]]:
        return [s for s in self.summaries if s.get("feed") == feed]


def _ingest(feeds: tuple[str, ...], months: list[str], dsn: WarehouseDsn, settings: Settings
            ) -> list[dict[str, Any]]:
    kwargs = {"dsn": dsn, "settings": settings}
    out = []
    for month in months:
        if "ru_customs" in feeds:
            out.append(ingest.ingest_ru_customs(month, **kwargs))
        if "kz_customs" in feeds:
            out.append(ingest.ingest_kz_customs(month, **kwargs))
        if "comtrade" in feeds:
            out.append(ingest.ingest_comtrade(month, **kwargs))
        if "rail" in feeds:
            out.append(ingest.ingest_rail(month, **kwargs))
    if "ports" in feeds:
        out.append(ingest.ingest_ports(**kwargs))
    return out


def run_world(config: SimConfig, dsn: WarehouseDsn, landing: Path, *,
              feeds: tuple[str, ...] = ALL_FEEDS, months: list[str] | None = None
              ) -> Run:
    """Serve ``config``, ingest ``feeds`` for ``months`` (default: the world's months)
    into ``dsn`` through the real clients, and snapshot the raw schema."""
    months = months or month_range(config.first_month, config.last_month)
    settings = Settings(landing_dir=landing / uuid.uuid4().hex[:8])
    with start_simulator(config) as handle, watch_wire() as wire, \
            pytest.MonkeyPatch.context() as mp:
        for name, value in connection_uris(handle.base_url).items():
            mp.setitem(os.environ, name, value)
        summaries = _ingest(feeds, months, dsn, settings)
        world = handle.world
    return Run(world, Snapshot.take(dsn), wire, summaries, settings.landing_root, dsn)
