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

import logging
import re
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

import psycopg
from psycopg.rows import dict_row

from corridor.feeds import ru_customs
from corridor.feeds.common import Rejection, make_rejection
from corridor.reference import iso2_codes

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
    """Create the raw schema if needed (idempotent; serialised against parallel tasks)."""
    with conn.transaction():
        # Concurrent CREATE ... IF NOT EXISTS can still collide in the catalogs.
        conn.execute("select pg_advisory_xact_lock(hashtextextended('corridor:raw_schema', 0))")
        conn.execute(SCHEMA_SQL.read_text(encoding="utf-8"))


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
    conn.execute("select pg_advisory_xact_lock(hashtextextended(%s, 0))", (f"{feed}:{unit}",))


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
        outcome = _record_unit(cur, ul.feed, ul.unit, ul.period_month, ul.revision, ul.status,
                               ul.sha256, rows_loaded, rows_rejected)
    log.info("%s %s: loaded revision %s (%s), %d rows, %d rejected",
             ul.feed, ul.unit, ul.revision, ul.status, rows_loaded, rows_rejected)
    return outcome


# ---------------------------------------------------------------------- ru_customs

#: Duplicate-key detection sorts/hashes the whole unit's keys once: give it room.
DUPLICATE_SCAN_WORK_MEM = "256MB"


#: Try the staged path (PostgreSQL parses the CSV) before the Python path. Off by
#: default: measured slower than the Python path on a 2-core host (bench/README.md):
#: the SQL checks and the second write (staging → indexed, WAL-logged target) run in
#: one backend, where the Python path overlaps parsing (client) with COPY (server).
RU_STAGED_COPY = False
_RU_NUMBER = "^[0-9]+(,[0-9]+)?$"
_RU_STAGE_COPY_OPTIONS = "format csv, delimiter ';', header true, encoding 'WIN1251'"


def load_ru_customs_csv(conn: psycopg.Connection, source: ru_customs.Source,
                        period_month: str, revision: int, status: str,
                        sha256: str | None) -> LoadOutcome:
    """Stream one ru_customs file (bytes, a landed file's path, or bytes chunks) into
    ``raw.ru_customs_rows`` in one transaction; same result as ``load_unit`` of
    ``parse_csv``, in constant memory.

    Staged path (PostgreSQL parses): the file's bytes go as they are into
    ``COPY ru_stage FROM STDIN (FORMAT csv, ...)``, a temporary table of one text
    column per header field, numbered by an identity column (the 1-based data row).
    One ``INSERT ... SELECT`` moves the rows that pass strict SQL checks (the rules'
    fast shape: exact flow, period, upper-case partner in the reference list, 10-digit
    code, plain decimal-comma numbers, no strippable blanks) into the target; every
    other row is read back and judged by the Python row rules (exact reasons and
    details). Duplicate keys are then found in SQL as before.

    Python path (:class:`ru_customs.CsvScan`), used when the staged path cannot
    guarantee ``parse_csv``'s reading: the COPY fails (ragged rows, bad bytes, stray
    line ends), a header the staged path does not take, blank records, quotes that are
    not whole quoted fields, a ``\\.`` line. The staged attempt is rolled back to a
    savepoint first.
    """
    feed, unit = ru_customs.FEED, period_month
    with ru_customs.StagedSource(source) as staged, \
            conn.transaction(), conn.cursor() as cur:
        _lock_unit(conn, feed, unit)
        existing = loaded_unit(conn, feed, unit)
        skipped = decide(existing, revision, sha256, status)
        if skipped:
            return _skipped_outcome(feed, unit, revision, existing, skipped)
        cur.execute("delete from raw.ru_customs_rows where period_month = %s", (period_month,))
        cur.execute("delete from raw.rejected_rows where feed = %s and unit = %s", (feed, unit))
        started = time.perf_counter()
        counts, path = None, "python"
        header = staged.header(period_month) if RU_STAGED_COPY else None
        if header is None:
            log.info("%s %s: header not taken by the staged path: Python path", feed, unit)
        else:
            try:
                with conn.transaction():  # a savepoint: a failed attempt leaves nothing
                    counts = _ru_staged(conn, cur, staged, header, period_month, revision,
                                        status)
                path = "staged"
            except ru_customs.CopyFallback as exc:
                log.info("%s %s: staged path declined (%s): Python path", feed, unit, exc)
            except psycopg.Error as exc:
                if conn.info.transaction_status == psycopg.pq.TransactionStatus.UNKNOWN:
                    raise
                log.info("%s %s: staged COPY failed (%s): Python path", feed, unit,
                         str(exc).splitlines()[0] if str(exc) else type(exc).__name__)
        if counts is None:
            counts = _ru_python(conn, cur, staged.fallback_source(), period_month, revision,
                                status)
        rows_loaded, rows_rejected, duplicates = counts
        outcome = _record_unit(cur, feed, unit, period_month, revision, status, sha256,
                               rows_loaded, rows_rejected)
    log.info("%s %s: loaded revision %s (%s), %d rows, %d rejected (%d duplicate keys); "
             "%s path, %.2fs", feed, unit, revision, status, rows_loaded, rows_rejected,
             duplicates, path, time.perf_counter() - started)
    return outcome


def _ru_staged(conn: psycopg.Connection, cur: psycopg.Cursor,
               staged: ru_customs.StagedSource, header: list[str], period_month: str,
               revision: int, status: str) -> tuple[int, int, int]:
    feed, unit = ru_customs.FEED, period_month
    columns = [f"c{position}" for position in range(len(header))]
    index = {name: position for position, name in enumerate(header)}  # last one wins

    def col(name: str) -> str:
        return f"s.c{index[name]}" if name in index else "null::text"

    cur.execute(f"create temp table ru_stage ({', '.join(c + ' text' for c in columns)}, "
                "id bigint generated always as identity)")
    started = time.perf_counter()
    with cur.copy(f"copy ru_stage ({', '.join(columns)}) from stdin with "
                  f"({_RU_STAGE_COPY_OPTIONS})") as copy:
        for block in staged.blocks():
            copy.write(block)
    copied = time.perf_counter()

    partners = sorted(code for code in iso2_codes() - {ru_customs.REPORTER_ISO2}
                      if len(code) == 2 and code.isascii() and code.isalpha()
                      and code.isupper())
    partner_list = ", ".join(f"'{code}'" for code in partners)
    params = {"period_month": period_month, "revision": revision, "status": status}
    # Constants inlined (not bound parameters): the planner folds them, and the checks
    # cost per row. Both are built from validated text only.
    expected = f"{period_month[5:7]}/{period_month[:4]}"
    assert re.fullmatch(r"[0-9]{2}/[0-9]{4}", expected), period_month
    number = f"'{_RU_NUMBER}'"
    strip = "(" + " || ".join(f"chr({ord(ch)})" for ch in ru_customs.STRIP_CHARS) + ")"

    def text_ok(name: str) -> str:
        return f"({col(name)} is null or {col(name)} = btrim({col(name)}, {strip}))"

    # The rows the Python rules accept exactly as they stand (cf. _fast_pattern).
    clean = " and ".join([
        # (an OR, not IN: two IN lists in one qual list evaluate far slower on PG 16)
        f"({col('napr')} = 'ИМ' or {col('napr')} = 'ЭК')", f"{col('period')} = '{expected}'",
        f"{col('strana')} in ({partner_list})", f"{col('tnved')} ~ '^[0-9]{{10}}$'",
        f"{col('stoim')} ~ {number}", f"{col('netto')} ~ {number}",
        f"({col('kol')} is null or {col('kol')} = '' or {col('kol')} ~ {number})",
        text_ok("edizm"), text_ok("region"), text_ok("region_s")])
    cur.execute(
        f"""
        insert into raw.ru_customs_rows ({', '.join(ru_customs.ROW_COLUMNS)})
        select %(period_month)s, %(revision)s, %(status)s, s.id, {col('napr')},
               {col('period')}, {col('strana')}, {col('tnved')}, nullif({col('edizm')}, ''),
               replace({col('stoim')}, ',', '.')::numeric,
               replace({col('netto')}, ',', '.')::numeric,
               replace(nullif({col('kol')}, ''), ',', '.')::numeric,
               nullif({col('region')}, ''), nullif({col('region_s')}, '')
        from ru_stage s where {clean}
        """, params)
    inserted = cur.rowcount
    moved = time.perf_counter()

    recheck = ru_customs.StagedRecheck(header, period_month, revision, status)
    try:
        with conn.cursor(name="ru_stage_recheck") as odd:
            odd.itersize = 10_000
            # The rows the insert left out (an anti-join: cheaper than the checks again).
            odd.execute(f"select s.id, {', '.join('s.' + c for c in columns)} "
                        "from ru_stage s where not exists (select from raw.ru_customs_rows r"
                        " where r.period_month = %s and r.row_number = s.id) order by s.id",
                        (period_month,))
            for row_number, *values in odd:
                recheck.add(row_number, values)
        recheck.rows.flush()
        recheck.rows.seek(0)
        with cur.copy(f"copy raw.ru_customs_rows ({', '.join(ru_customs.ROW_COLUMNS)}) "
                      "from stdin") as copy:
            while block := recheck.rows.read(1 << 20):
                copy.write(block)
        _create_rejection_spool(cur)
        recheck.rejections.flush()
        recheck.rejections.seek(0)
        _copy_spool(cur, recheck.rejections)
        rechecked = time.perf_counter()

        def raw_records(row_numbers: list[int]) -> dict[int, str]:
            fields = ", ".join(f"coalesce(c{p}, '')" for p in range(len(header)))
            cur.execute(f"select id, concat_ws(';', {fields}) from ru_stage "
                        "where id = any(%s)", (row_numbers,))
            return dict(cur.fetchall())

        duplicates = _ru_duplicates(cur, feed, unit, raw_records)
        cur.execute("drop table ru_stage, ru_unit_rejections")
    finally:
        recheck.close()
    log.info("%s %s staged: COPY %.2fs, insert %d rows %.2fs, Python recheck of %d rows "
             "%.2fs, duplicate scan+rejections %.2fs", feed, unit, copied - started,
             inserted, moved - copied, recheck.rows_accepted + recheck.rows_rejected,
             rechecked - moved, time.perf_counter() - rechecked)
    rows_loaded = inserted + recheck.rows_accepted - duplicates
    rows_rejected = recheck.rows_rejected + duplicates
    return rows_loaded, rows_rejected, duplicates


def _create_rejection_spool(cur: psycopg.Cursor) -> None:
    spool_columns = ", ".join(ru_customs.CsvScan.REJECTION_SPOOL_COLUMNS)
    cur.execute(f"create temp table ru_unit_rejections "
                f"({spool_columns.replace(',', ' text,')} text)")


def _copy_spool(cur: psycopg.Cursor, spool) -> None:
    spool_columns = ", ".join(ru_customs.CsvScan.REJECTION_SPOOL_COLUMNS)
    with cur.copy(f"COPY ru_unit_rejections ({spool_columns}) FROM STDIN") as copy:
        while block := spool.read(1 << 20):
            copy.write(block)


def _key_hash(napr: str, strana: str, tnved: str, region: str) -> str:
    """SQL: a 64-bit hash of a ru_customs key (equal keys, equal hashes; NULL as '')."""
    parts = " || '|' || ".join(f"coalesce({column}, '')"
                               for column in (napr, strana, tnved, region))
    return f"hashtextextended({parts}, 0)"


def _ru_duplicates(cur: psycopg.Cursor, feed: str, unit: str, raw_records) -> int:
    """Find keys that occur more than once (over the unit's accepted rows and the
    rejections that have a key, as ``parse_csv`` counts them), move their accepted rows
    to ``ru_unit_rejections`` as ``duplicate_key``, then write all the unit's
    rejections. ``raw_records(row_numbers)``: the delivered text of those rows."""
    period_month = unit
    cur.execute(f"set local work_mem = '{DUPLICATE_SCAN_WORK_MEM}'")
    # Candidates first: the keys' 64-bit hashes that occur more than once (a sort of
    # one bigint per row: much cheaper than grouping 1M keys of 4 text columns); then
    # the exact keys among the candidates' rows only (collisions drop out there), whose
    # rows are deleted by ctid. Same keys as grouping the keys themselves.
    hashagg = cur.execute("select current_setting('enable_hashagg')").fetchone()[0]
    cur.execute("set local enable_hashagg = off")
    row_hash = _key_hash("napr", "strana", "tnved", "region")
    rejection_hash = _key_hash("key_napr", "key_strana", "key_tnved", "key_region")
    cur.execute(
        f"""
        with candidate as materialized (
            select h from (select {row_hash} as h from raw.ru_customs_rows
                           where period_month = %(period_month)s
                           union all
                           select {rejection_hash} from ru_unit_rejections
                           where key_napr is not null) as k
            group by h having count(*) > 1
        ), candidate_row as materialized (
            select ctid as tid, napr, strana, tnved, coalesce(region, '') as region_key
            from raw.ru_customs_rows
            where period_month = %(period_month)s
              and {row_hash} in (select h from candidate)
        ), duplicate as (
            select napr, strana, tnved, region_key
            from (select napr, strana, tnved, region_key from candidate_row
                  union all
                  select key_napr, key_strana, key_tnved, key_region
                  from ru_unit_rejections
                  where key_napr is not null
                    and {rejection_hash} in (select h from candidate)) as k
            group by napr, strana, tnved, region_key
            having count(*) > 1
        )
        delete from raw.ru_customs_rows r
        using candidate_row c join duplicate d using (napr, strana, tnved, region_key)
        where r.ctid = c.tid
        returning r.row_number, r.napr, r.strana, r.tnved, coalesce(r.region, '')
        """, {"period_month": period_month})
    duplicates = sorted(cur.fetchall())
    if duplicates:
        records = raw_records([row_number for row_number, *_ in duplicates])
        _copy_rows(cur, "ru_unit_rejections", ("row_ref", "reason", "detail", "raw_record"),
                   ((r.row_ref, r.reason, r.detail, r.raw_record) for r in (
                       make_rejection(feed, unit, row_number, error.reason, error.message,
                                      records[row_number])
                       for row_number, *key in duplicates
                       for error in (ru_customs.duplicate_error(tuple(key)),))))
    cur.execute("select set_config('enable_hashagg', %s, true)", (hashagg,))
    cur.execute(
        """
        insert into raw.rejected_rows (feed, unit, row_ref, reason, detail, raw_record)
        select %s, %s, row_ref, reason, detail, raw_record from ru_unit_rejections
        order by row_ref::bigint
        """, (feed, unit))
    return len(duplicates)


def _ru_python(conn: psycopg.Connection, cur: psycopg.Cursor, source: ru_customs.Source,
               period_month: str, revision: int, status: str) -> tuple[int, int, int]:
    """The Python path: :class:`ru_customs.CsvScan` parses and checks every row; rows
    accepted by the row rules are COPYed into the target as they are parsed,
    rejections spooled; then duplicate keys in SQL."""
    feed, unit = ru_customs.FEED, period_month
    with ru_customs.CsvScan(source, period_month, revision, status) as scan:
        started = time.perf_counter()
        with cur.copy(f"COPY raw.ru_customs_rows ({', '.join(ru_customs.ROW_COLUMNS)}) "
                      f"FROM STDIN {scan.COPY_OPTIONS}") as copy:
            for block in scan.copy_blocks():
                copy.write(block)
        copied = time.perf_counter()
        _create_rejection_spool(cur)
        scan.rejections.flush()
        scan.rejections.seek(0)
        _copy_spool(cur, scan.rejections)
        duplicates = _ru_duplicates(cur, feed, unit, scan.raw_records)
        cur.execute("drop table ru_unit_rejections")
    log.info("%s %s Python path: parse+COPY %.2fs, duplicate scan+rejections %.2fs",
             feed, unit, copied - started, time.perf_counter() - copied)
    return (scan.rows_accepted - duplicates, scan.rows_rejected + duplicates, duplicates)


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

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def load_port_calls(conn: psycopg.Connection, port: str, calls: Sequence[Mapping[str, Any]],
                    cargo_lines: Sequence[Mapping[str, Any]], rejections: Sequence[Rejection],
                    high_water_mark: str | None) -> PortLoadOutcome:
    """Upsert calls whose version is higher than the stored one, replacing their cargo
    lines and rejections; move the port's high-water mark in the same transaction.

    ``calls`` holds at most one (the highest) version per call_id. Rejections whose
    ``unit`` is a call_id belong to that call's version in ``calls``; others (a call
    without a usable call_id or version) are replaced by (unit, row_ref).
    """
    with conn.transaction(), conn.cursor() as cur:
        _lock_unit(conn, "ports", port)
        ids = [call["call_id"] for call in calls]
        stored: dict[str, int] = {}
        if ids:
            cur.execute("select call_id, version from raw.port_calls where call_id = any(%s)"
                        " for update", (ids,))
            stored = dict(cur.fetchall())
        newer = [call for call in calls
                 if call["call_id"] not in stored or call["version"] > stored[call["call_id"]]]
        newer_ids = {call["call_id"] for call in newer}
        newer_version = {call["call_id"]: call["version"] for call in newer}
        lines = [line for line in cargo_lines
                 if newer_version.get(line["call_id"]) == line["version"]]
        call_rejections = [r for r in rejections if r.unit in newer_ids]
        other_rejections = [r for r in rejections if r.unit not in {c["call_id"] for c in calls}]
        if newer_ids:
            id_list = sorted(newer_ids)
            cur.execute("delete from raw.port_cargo_lines where call_id = any(%s)", (id_list,))
            cur.execute("delete from raw.port_calls where call_id = any(%s)", (id_list,))
            cur.execute("delete from raw.rejected_rows where feed = 'ports' and unit = any(%s)",
                        (id_list,))
            _copy_rows(cur, "raw.port_calls", PORT_CALL_COLUMNS, newer)
        loaded_lines = _copy_rows(cur, "raw.port_cargo_lines", PORT_CARGO_COLUMNS, lines)
        for rejection in other_rejections:
            cur.execute("delete from raw.rejected_rows where feed = %s and unit = %s"
                        " and row_ref = %s", (rejection.feed, rejection.unit,
                                              rejection.row_ref))
        rejected = _copy_rejections(cur, [*call_rejections, *other_rejections])
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
