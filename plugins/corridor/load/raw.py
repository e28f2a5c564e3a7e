"""Idempotent unit-replacement loads into the raw schema (``raw_schema.sql``).

One unit (a month, a reporter-month, a day) is replaced in ONE transaction:
lock the unit, compare with ``raw.loaded_units``, delete its rows and rejections,
COPY the new rows, insert the rejections, record the unit. A retry or rerun changes
nothing and a crash leaves the old or the new unit, never a mix. Ports are
versioned per call instead: :func:`load_port_calls`.

Connections passed here should be ``autocommit=True`` so that each
``conn.transaction()`` is a real BEGIN/COMMIT (one unit = one transaction).
"""

from __future__ import annotations

import csv
import hashlib
import logging
import queue
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import psycopg
from psycopg.rows import dict_row

from corridor import locks
from corridor.feeds import ports, ru_customs
from corridor.feeds.common import FeedError, Rejection
from corridor.feeds.comtrade import QuotaExhausted

log = logging.getLogger(__name__)

SCHEMA_SQL = Path(__file__).with_name("raw_schema.sql")

REJECTION_COLUMNS = ("feed", "unit", "row_ref", "reason", "detail", "raw_record")

RU_CUSTOMS_COLUMNS = ("period_month", "revision", "status", "row_number", "napr", "period",
                      "strana", "tnved", "edizm", "stoim", "netto", "kol", "region",
                      "region_s")
KZ_CUSTOMS_COLUMNS = ("period_month", "revision", "status", "row_number", "flow", "tn_ved",
                      "partner_m49", "partner_name_ru", "value_thousand_usd",
                      "net_weight_t", "supp_qty", "supp_unit", "transport_mode",
                      "customs_regime")
COMTRADE_COLUMNS = ("reporter_code", "period_month", "row_number", "flow_code",
                    "partner_code", "partner2_code", "cmd_code", "aggr_level", "is_leaf",
                    "mot_code", "customs_code", "cifvalue", "fobvalue", "primary_value",
                    "net_wgt", "is_counted_leaf")
COMTRADE_REPORTING_COLUMNS = ("reporter_code", "period_month", "has_reported", "probe_rows")
PORT_CALL_COLUMNS = ("call_id", "port", "version", "updated_at", "status", "vessel_imo",
                     "vessel_name", "vessel_flag", "arrived_at", "departed_at",
                     "previous_port", "next_port")
PORT_CARGO_COLUMNS = ("call_id", "version", "line_number", "operation", "cargo_type",
                      "hs_chapter", "tonnes", "teu")
RAIL_COLUMNS = ("report_date", "revision", "row_number", "point", "partner_railway",
                "direction", "transit", "gng", "wagons", "teu", "tonnes", "origin",
                "destination")


def ensure_raw_schema(conn: psycopg.Connection) -> None:
    """Create or update the raw and ingest schemas (idempotent).

    Runs the DDL only when the warehouse does not hold this version of the script yet:
    every task calls this, and DDL in each of them would take table locks that deadlock
    with other tasks' loads (one statement, no lock, when the schema is current).
    """
    version = _schema_version()
    if conn.execute("select to_regclass('ingest.schema_version') is not null").fetchone()[0]:
        if conn.execute("select 1 from ingest.schema_version where sha256 = %s",
                        (version,)).fetchone():
            return
    with conn.transaction():
        # Concurrent CREATE ... IF NOT EXISTS can still collide in the catalogs.
        conn.execute("select pg_advisory_xact_lock(hashtextextended('corridor:raw_schema', 0))")
        conn.execute(SCHEMA_SQL.read_text(encoding="utf-8"))
        conn.execute("create table if not exists ingest.schema_version (sha256 text not null)")
        conn.execute("delete from ingest.schema_version")
        conn.execute("insert into ingest.schema_version (sha256) values (%s)", (version,))


def _schema_version() -> str:
    return hashlib.sha256(SCHEMA_SQL.read_bytes()).hexdigest()


@dataclass
class TableRows:
    """Rows for one table of a unit, and how to delete the unit's previous rows there."""

    table: str
    columns: Sequence[str]
    rows: Iterable[Mapping[str, Any] | Sequence[Any]]
    delete_sql: str
    delete_params: Sequence[Any]
    counted: bool = True  # counts in rows_loaded


@dataclass
class UnitLoad:
    feed: str
    unit: str
    period_month: str
    revision: int | None
    status: str | None
    sha256: str | None
    tables: list[TableRows]
    rejections: list[Rejection] = field(default_factory=list)
    #: The rows the publisher states the unit has (KZ ``records``): the load fails,
    #: inside its transaction, unless loaded + rejected rows equal it.
    expected_rows: int | None = None


@dataclass
class LoadOutcome:
    feed: str
    unit: str
    revision: int | None
    status: str | None
    loaded: bool
    skipped: str | None  # None | 'unchanged' | 'older_revision'
    rows_loaded: int
    rows_rejected: int

    def as_dict(self) -> dict[str, Any]:
        return {"feed": self.feed, "unit": self.unit, "revision": self.revision,
                "status": self.status, "loaded": self.loaded, "skipped": self.skipped,
                "rows_loaded": self.rows_loaded, "rows_rejected": self.rows_rejected}


def _lock_unit(conn: psycopg.Connection, feed: str, unit: str) -> None:
    """The first statements of every unit load: the build lock SHARED (a running dbt
    build finishes first, and none starts until this transaction ends; see
    :mod:`corridor.locks`), then the unit itself."""
    locks.build_shared_in_transaction(conn)
    conn.execute("select pg_advisory_xact_lock(hashtextextended(%s, 0))", (f"{feed}:{unit}",))


def take_comtrade_call(conn: psycopg.Connection, daily_budget: int) -> int:
    """Count one Comtrade call against today's (UTC) budget before it is made; return the
    day's count. Raise QuotaExhausted when the budget is spent or the API's quota answer
    has not been replenished yet (the call is then not counted and not made)."""
    with conn.transaction():
        conn.execute("select pg_advisory_xact_lock(hashtextextended('corridor:comtrade_calls', 0))")
        until = conn.execute("select max(quota_until) from ingest.comtrade_calls "
                             "where quota_until > now()").fetchone()[0]
        if until is not None:
            raise QuotaExhausted(f"comtrade: the API's call quota is spent until {until}")
        calls = conn.execute(
            "insert into ingest.comtrade_calls as c (call_day, calls) "
            "values ((now() at time zone 'utc')::date, 1) "
            "on conflict (call_day) do update set calls = c.calls + 1 returning calls"
        ).fetchone()[0]
        if calls > daily_budget:
            raise QuotaExhausted(f"comtrade: today's budget of {daily_budget} calls is spent")
    return calls


def note_comtrade_quota(conn: psycopg.Connection, retry_after_s: float | None) -> None:
    """The API answered "Out of call volume quota": no call before ``Retry-After`` (one
    hour when it gave none)."""
    seconds = retry_after_s if retry_after_s and retry_after_s > 0 else 3600
    conn.execute(
        "insert into ingest.comtrade_calls as c (call_day, calls, quota_until) "
        "values ((now() at time zone 'utc')::date, 0, now() + make_interval(secs => %s)) "
        "on conflict (call_day) do update set quota_until = excluded.quota_until",
        (seconds,))


def comtrade_calls_today(conn: psycopg.Connection) -> int:
    row = conn.execute("select calls from ingest.comtrade_calls "
                       "where call_day = (now() at time zone 'utc')::date").fetchone()
    return row[0] if row else 0


def loaded_units(conn: psycopg.Connection, feed: str) -> dict[str, dict[str, Any]]:
    """Every ``raw.loaded_units`` row of a feed, by unit."""
    with conn.cursor(row_factory=dict_row) as cur:
        cur.execute("select * from raw.loaded_units where feed = %s", (feed,))
        return {row["unit"]: row for row in cur.fetchall()}


def loaded_unit(conn: psycopg.Connection, feed: str, unit: str) -> dict[str, Any] | None:
    """The ``raw.loaded_units`` row of a unit, or None."""
    with conn.cursor(row_factory=dict_row) as cur:
        cur.execute("select * from raw.loaded_units where feed = %s and unit = %s",
                    (feed, unit))
        return cur.fetchone()


def _as_tuple(row: Mapping[str, Any] | Sequence[Any], columns: Sequence[str]) -> Sequence[Any]:
    if isinstance(row, Mapping):
        return tuple(row.get(column) for column in columns)
    return row


def _copy_rows(cur: psycopg.Cursor, table: str, columns: Sequence[str],
               rows: Iterable[Mapping[str, Any] | Sequence[Any]]) -> int:
    count = 0
    column_list = ", ".join(columns)
    with cur.copy(f"COPY {table} ({column_list}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row(_as_tuple(row, columns))
            count += 1
    return count


def _copy_rejections(cur: psycopg.Cursor, rejections: Iterable[Rejection]) -> int:
    return _copy_rows(cur, "raw.rejected_rows", REJECTION_COLUMNS,
                      ((r.feed, r.unit, r.row_ref, r.reason, r.detail, r.raw_record)
                       for r in rejections))


def decide(existing: Mapping[str, Any] | None, revision: int | None, sha256: str | None,
           status: str | None) -> str | None:
    """Why an incoming unit is skipped (None: load it)."""
    if existing is None:
        return None
    old_revision = existing["revision"]
    if old_revision is not None and revision is not None and old_revision > revision:
        return "older_revision"
    if (old_revision == revision and existing["sha256"] == sha256
            and existing["status"] == status):
        return "unchanged"
    return None


def _skipped_outcome(ul_feed: str, ul_unit: str, revision: int | None,
                     existing: Mapping[str, Any], skipped: str) -> LoadOutcome:
    log.info("%s %s: skipped (%s; incoming revision %s, loaded revision %s)",
             ul_feed, ul_unit, skipped, revision, existing["revision"])
    return LoadOutcome(ul_feed, ul_unit, existing["revision"], existing["status"], False,
                       skipped, existing["rows_loaded"], existing["rows_rejected"])


def _record_unit(cur: psycopg.Cursor, feed: str, unit: str, period_month: str,
                 revision: int | None, status: str | None, sha256: str | None,
                 rows_loaded: int, rows_rejected: int) -> LoadOutcome:
    cur.execute(
        """
        insert into raw.loaded_units (feed, unit, period_month, revision, status, sha256,
                                      rows_loaded, rows_rejected, loaded_at)
        values (%s, %s, %s, %s, %s, %s, %s, %s, now())
        on conflict (feed, unit) do update set
            period_month = excluded.period_month, revision = excluded.revision,
            status = excluded.status, sha256 = excluded.sha256,
            rows_loaded = excluded.rows_loaded, rows_rejected = excluded.rows_rejected,
            loaded_at = excluded.loaded_at
        """,
        (feed, unit, period_month, revision, status, sha256, rows_loaded, rows_rejected))
    return LoadOutcome(feed, unit, revision, status, True, None, rows_loaded, rows_rejected)


def reconcile(feed: str, unit: str, stated: int | None, rows_loaded: int,
              rows_rejected: int) -> None:
    """Raise (inside the unit's transaction: nothing of it is committed) unless the rows
    the publisher states equal the rows counted, loaded plus rejected."""
    if stated is not None and rows_loaded + rows_rejected != stated:
        raise FeedError(feed, unit, None,
                        f"the publisher states {stated} rows, {rows_loaded + rows_rejected} "
                        f"were delivered ({rows_loaded} loaded + {rows_rejected} rejected): "
                        "the unit is not loaded")


def load_unit(conn: psycopg.Connection, unit_load: UnitLoad) -> LoadOutcome:
    """Replace one unit in one transaction, unless it is unchanged or older."""
    ul = unit_load
    with conn.transaction(), conn.cursor() as cur:
        _lock_unit(conn, ul.feed, ul.unit)
        existing = loaded_unit(conn, ul.feed, ul.unit)
        skipped = decide(existing, ul.revision, ul.sha256, ul.status)
        if skipped:
            return _skipped_outcome(ul.feed, ul.unit, ul.revision, existing, skipped)
        rows_loaded = 0
        for table in ul.tables:
            cur.execute(table.delete_sql, tuple(table.delete_params))
            copied = _copy_rows(cur, table.table, table.columns, table.rows)
            if table.counted:
                rows_loaded += copied
        cur.execute("delete from raw.rejected_rows where feed = %s and unit = %s",
                    (ul.feed, ul.unit))
        rows_rejected = _copy_rejections(cur, ul.rejections)
        reconcile(ul.feed, ul.unit, ul.expected_rows, rows_loaded, rows_rejected)
        outcome = _record_unit(cur, ul.feed, ul.unit, ul.period_month, ul.revision, ul.status,
                               ul.sha256, rows_loaded, rows_rejected)
    log.info("%s %s: loaded revision %s (%s), %d rows, %d rejected",
             ul.feed, ul.unit, ul.revision, ul.status, rows_loaded, rows_rejected)
    return outcome


# ---------------------------------------------------------------------- ru_customs

def load_ru_customs_csv(conn: psycopg.Connection, source: ru_customs.Source,
                        period_month: str, revision: int, status: str,
                        sha256: str | None, *, expected_rows: int | None = None
                        ) -> LoadOutcome:
    """Stream one ru_customs file (bytes, a landed file's path, or bytes chunks) into
    ``raw.ru_customs_rows`` in one transaction, in bounded memory.

    :class:`ru_customs.Scan` reads the file block by block: each block's accepted rows are
    COPYed while the next is parsed (the client's parsing overlaps the server's COPY),
    the rejections spooled. The second copy of a key can only be known after the first
    was sent: the rows the duplicate-key rule rejects are deleted again after the COPY
    (one statement), then every rejection is COPYed. ``expected_rows`` (the release
    entry's ``rows``) is checked before the transaction commits (a mismatch raises).
    """
    feed, unit = ru_customs.FEED, period_month
    with ru_customs.seekable(source) as file, conn.transaction(), conn.cursor() as cur, \
            tempfile.SpooledTemporaryFile(8 << 20, "w+", newline="", encoding="utf-8") as spool:
        _lock_unit(conn, feed, unit)
        existing = loaded_unit(conn, feed, unit)
        skipped = decide(existing, revision, sha256, status)
        if skipped:
            return _skipped_outcome(feed, unit, revision, existing, skipped)
        rejected = csv.writer(spool, lineterminator="\n")
        copied = rows_rejected = 0
        with ru_customs.Scan(file, period_month, revision, status) as scan:  # the header
            cur.execute("delete from raw.ru_customs_rows where period_month = %s",
                        (period_month,))
            cur.execute("delete from raw.rejected_rows where feed = %s and unit = %s",
                        (feed, unit))
            with cur.copy(f"COPY raw.ru_customs_rows ({', '.join(ru_customs.ROW_COLUMNS)}) "
                          "FROM STDIN (null '')", writer=_QueuedWriter(cur)) as copy:
                for plain, count, rows, rejections in scan:
                    copy.write(plain)
                    copy.write(ru_customs.copy_text(rows))
                    copied += count + len(rows)
                    rows_rejected += len(rejections)
                    rejected.writerows(_rejection_row(r) for r in rejections)
            duplicates = scan.duplicates()
        if duplicates:
            cur.execute("delete from raw.ru_customs_rows where period_month = %s "
                        "and row_number = any(%s)",
                        (period_month, [int(r.row_ref) for r in duplicates]))
        rejected.writerows(_rejection_row(r) for r in duplicates)
        spool.seek(0)
        with cur.copy(f"COPY raw.rejected_rows ({', '.join(REJECTION_COLUMNS)}) "
                      "FROM STDIN (format csv)") as copy:
            while chunk := spool.read(1 << 20):
                copy.write(chunk)
        rows_loaded, rows_rejected = copied - len(duplicates), rows_rejected + len(duplicates)
        reconcile(feed, unit, expected_rows, rows_loaded, rows_rejected)
        outcome = _record_unit(cur, feed, unit, period_month, revision, status, sha256,
                               rows_loaded, rows_rejected)
    log.info("%s %s: loaded revision %s (%s), %d rows, %d rejected (%d duplicate keys)",
             feed, unit, revision, status, rows_loaded, rows_rejected, len(duplicates))
    return outcome


class _QueuedWriter(psycopg.copy.QueuedLibpqWriter):
    """Sends the COPY data from a thread, so that the server's COPY overlaps the parsing
    of the next block; at most 64 chunks of 128 KiB wait (8 MiB: memory stays bounded)."""

    def __init__(self, cursor: psycopg.Cursor) -> None:
        super().__init__(cursor)
        self._queue = queue.Queue(maxsize=64)


def _rejection_row(r: Rejection) -> tuple:
    return (r.feed, r.unit, r.row_ref, r.reason, r.detail, r.raw_record)


# ---------------------------------------------------------------------------- ports

def _instant(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def port_high_water_mark(conn: psycopg.Connection, port: str) -> str | None:
    row = conn.execute("select high_water_mark from raw.port_sync_state where port = %s",
                       (port,)).fetchone()
    return row[0] if row else None


@dataclass
class PortLoadOutcome:
    port: str
    calls_received: int
    calls_updated: int
    calls_unchanged: int
    cargo_lines_loaded: int
    rows_rejected: int
    high_water_mark: str | None

    @property
    def rows_loaded(self) -> int:
        """The calls this load changed (a unit load's rows loaded)."""
        return self.calls_updated

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def _keep_port_rejection(rejection: Rejection, newer_version: Mapping[str, int],
                         held: Mapping[str, int]) -> bool:
    """Whether a ports rejection is kept: a cargo line's, when its call's version is the
    one loaded now; a record's (malformed, another port), when its version is above the
    version held (or it names none): never dropped while an older version counts."""
    version, line = ports.ref_version(rejection.row_ref)
    if line is not None:
        return newer_version.get(rejection.unit) == version
    return version is None or rejection.unit not in held or version > held[rejection.unit]


def load_port_calls(conn: psycopg.Connection, port: str, calls: Sequence[Mapping[str, Any]],
                    cargo_lines: Sequence[Mapping[str, Any]], rejections: Sequence[Rejection],
                    high_water_mark: str | None) -> PortLoadOutcome:
    """Upsert calls whose version is higher than the stored one, replacing their cargo
    lines and rejections; move the port's high-water mark in the same transaction.

    ``calls`` holds at most one (the highest) version per call_id. A rejection's
    ``unit`` is its call_id and its ``row_ref`` names the version
    (:func:`corridor.feeds.ports.row_ref`): a cargo line's is kept with its call's
    version, a malformed record's whenever its version is above the one held (see
    :func:`_keep_port_rejection`); rejections are replaced by (unit, row_ref).
    """
    with conn.transaction(), conn.cursor() as cur:
        _lock_unit(conn, "ports", port)
        ids = sorted({call["call_id"] for call in calls} | {r.unit for r in rejections})
        stored: dict[str, int] = {}
        if ids:
            cur.execute("select call_id, version from raw.port_calls where call_id = any(%s)"
                        " for update", (ids,))
            stored = dict(cur.fetchall())
        newer = [call for call in calls
                 if call["call_id"] not in stored or call["version"] > stored[call["call_id"]]]
        newer_ids = {call["call_id"] for call in newer}
        newer_version = {call["call_id"]: call["version"] for call in newer}
        held = {**stored, **newer_version}  # each call's version once this commits
        lines = [line for line in cargo_lines
                 if newer_version.get(line["call_id"]) == line["version"]]
        kept = [r for r in rejections if _keep_port_rejection(r, newer_version, held)]
        if newer_ids:
            id_list = sorted(newer_ids)
            cur.execute("delete from raw.port_cargo_lines where call_id = any(%s)", (id_list,))
            cur.execute("delete from raw.port_calls where call_id = any(%s)", (id_list,))
            # The rejections of the versions the new one replaces (a malformed version
            # above it stays rejected: it is newer than what counts).
            cur.execute(
                "delete from raw.rejected_rows r using unnest(%s::text[], %s::bigint[]) "
                "as n(call_id, version) where r.feed = 'ports' and r.unit = n.call_id and "
                "coalesce(substring(r.row_ref from ' v(-?[0-9]+)(?: line [0-9]+)?$')::bigint,"
                " -1) <= n.version", (id_list, [newer_version[i] for i in id_list]))
            _copy_rows(cur, "raw.port_calls", PORT_CALL_COLUMNS, newer)
        loaded_lines = _copy_rows(cur, "raw.port_cargo_lines", PORT_CARGO_COLUMNS, lines)
        if kept:
            cur.execute("delete from raw.rejected_rows r using unnest(%s::text[], %s::text[]) "
                        "as k(unit, row_ref) where r.feed = 'ports' and r.unit = k.unit "
                        "and r.row_ref = k.row_ref",
                        ([r.unit for r in kept], [r.row_ref for r in kept]))
        rejected = _copy_rejections(cur, kept)
        mark = port_high_water_mark(conn, port)
        if high_water_mark and (mark is None or _instant(high_water_mark) > _instant(mark)):
            mark = high_water_mark
        # recorded even without a mark: a port that sent no call was still synced, and
        # the completeness check needs to know (its totals are published as 0)
        cur.execute(
            """
            insert into raw.port_sync_state (port, high_water_mark, synced_at)
            values (%s, %s, now())
            on conflict (port) do update set high_water_mark = excluded.high_water_mark,
                                             synced_at = excluded.synced_at
            """, (port, mark))
    outcome = PortLoadOutcome(port, len(calls), len(newer), len(calls) - len(newer),
                              loaded_lines, rejected, mark)
    log.info("ports %s: %d calls received, %d updated, %d cargo lines, %d rejected, "
             "high-water mark %s", port, outcome.calls_received, outcome.calls_updated,
             loaded_lines, rejected, mark)
    return outcome
