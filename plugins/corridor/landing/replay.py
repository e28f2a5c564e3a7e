"""Rebuild the raw schema from the landing zone, with no network.

``rebuild_raw_from_landing(dsn, landing_root, feeds=None)``:

1. **Verify.** Every file named in the selected feeds' manifests is read and its
   sha256 (and size) compared with its manifest row. Any mismatch or missing file
   raises :class:`LandingIntegrityError` naming the file(s); nothing is written.
2. **Plan** (per feed, in manifest order = fetch order), mirroring what the live
   ingest loaded:

   * ``ru_customs`` — one CSV per landing; the unit's winner is chosen by the same
     rule ``raw.load_unit`` applies (:func:`corridor.load.raw.decide`: a lower
     revision never replaces a higher one, a later landing of the same or a higher
     revision replaces the unit). Revision and status come from the manifest row
     (the CSV carries neither). Loaded, as ingest does, by streaming the landed file
     (``raw.load_ru_customs_csv``).
   * ``kz_customs`` — pages are grouped into fetches: a ``p00001`` starts a fetch,
     pages ``p00002``… of the same revision (and chained by cursor) follow. A fetch
     is complete when its last page has no ``next_cursor``; incomplete fetches (a
     409 restart, a failure while paging) are ignored. Revision comes from the first
     page, status from the last page (as ``kz_customs.fetch_period`` does); then the
     ``decide`` rule picks the newest complete revision.
   * ``comtrade`` — the live ingest writes one ``completed.jsonl`` line per unit it
     loaded, naming the landed data calls (each may hold several reporters) and the
     listing's checksum; a unit not reported has none. The last completion wins.
   * ``ports`` — every complete run (``p00001``… until a page without
     ``next_page_token``) of each port is replayed in fetch order through
     ``raw.load_port_calls``: the highest version of each call wins and the
     high-water mark ends where the live ingest left it.
   * ``rail`` — one XML per landing; the ``decide`` rule over the revision in the
     report picks each day's newest revision. A day that answered 404 landed nothing
     and stays absent.

3. **Load**, with the project's parsers and load functions, into the raw schema in
   ONE transaction: the selected feeds' raw rows are cleared first (all raw tables
   are truncated when every feed is rebuilt), so the result is exact — identical
   to what the live ingest produced, except timestamps (``loaded_at``,
   ``synced_at``). A failure rolls everything back to the state before the rebuild.

Files are re-read and re-checked against their sha256 when loaded, so what is
loaded is exactly what was verified.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
from collections import defaultdict
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import psycopg
from psycopg import sql

from corridor import locks
from corridor.config import FEED_IDS, WarehouseDsn
from corridor.feeds import comtrade, kz_customs, ports, rail, ru_customs
from corridor.feeds.common import RowError, to_int
from corridor.landing import MANIFEST, LandingStore, ManifestError, _safe
from corridor.load import raw
from corridor.warehouse import connect

log = logging.getLogger(__name__)

#: Raw tables holding each feed's rows (besides raw.loaded_units / raw.rejected_rows).
FEED_TABLES: dict[str, tuple[str, ...]] = {
    "ru_customs": ("raw.ru_customs_rows",),
    "kz_customs": ("raw.kz_customs_rows",),
    "comtrade": ("raw.comtrade_rows", "raw.comtrade_reporting"),
    "ports": ("raw.port_calls", "raw.port_cargo_lines", "raw.port_sync_state"),
    "rail": ("raw.rail_consignments",),
}

_FILE_NAME = re.compile(r"^(?P<label>.+)-(?P<sha8>[0-9a-f]{8})\.(?P<suffix>[^.]+)$")
_FETCH_STAMP = re.compile(r"^\d{8}T\d{12}Z(?:-|$)")
_PAGE = re.compile(r"(?:^|-)p(?P<n>\d+)$")


class LandingError(Exception):
    """The landing zone cannot be replayed as it is."""


class LandingIntegrityError(LandingError):
    """A landed file is missing or differs from its manifest row (sha256, size)."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("landing zone integrity check failed: " + "; ".join(problems))
        self.problems = problems


@dataclass
class Landed:
    """One manifest row and where its file is under the landing root."""

    index: int  # position in the feed's manifest (fetch order)
    record: dict[str, Any]
    path: Path

    @property
    def unit(self) -> str:
        return str(self.record["unit"])

    @property
    def sha256(self) -> str:
        return str(self.record["sha256"]).lower()

    @property
    def part(self) -> str | None:
        return part_of(self.record)

    def read(self) -> bytes:
        """The file's bytes, checked again against the manifest."""
        payload = self.path.read_bytes()
        if hashlib.sha256(payload).hexdigest() != self.sha256:
            raise LandingIntegrityError([f"{self.path}: sha256 changed since verification"])
        return payload

    def json(self) -> Any:
        # As corridor.feeds.http.json_body parses a live body: Decimal, never float.
        return json.loads(self.read(), parse_float=Decimal)


@dataclass
class FeedReport:
    feed: str
    files: int = 0
    units: int = 0
    rows_loaded: int = 0
    rows_rejected: int = 0
    superseded: int = 0  # complete fetches replaced by a newer one (not loaded)
    incomplete: int = 0  # partial fetches (restarts, failures mid-paging), ignored
    detail: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {"feed": self.feed, "files": self.files, "units": self.units,
                "rows_loaded": self.rows_loaded, "rows_rejected": self.rows_rejected,
                "superseded": self.superseded, "incomplete": self.incomplete, **self.detail}


# ------------------------------------------------------------------ manifest & files

def part_of(record: dict[str, Any]) -> str | None:
    """The ``part=`` a payload was landed with (page, query split), from the manifest row
    when it records one, else from the file name ``<r{rev}|{fetch ts}>[-part]-<sha8>.ext``."""
    if record.get("part"):
        return str(record["part"])
    match = _FILE_NAME.match(Path(str(record["path"])).name)
    if not match:
        return None
    label = match["label"]
    revision = record.get("revision")
    if revision is not None:
        prefix = _safe(f"r{revision}")
        if label == prefix:
            return None
        if label.startswith(prefix + "-"):
            return label[len(prefix) + 1:]
        return None
    stamp = _FETCH_STAMP.match(label)
    if stamp:
        return label[stamp.end():] or None
    return None


def _resolve(root: Path, feed: str, record: dict[str, Any]) -> Path:
    """The file under *this* root (the manifest keeps the path it was written to; the
    landing folder may have been moved or copied since)."""
    recorded = Path(str(record["path"]))
    # the unit folder as it was written (however that version of _safe named it); a
    # name that could leave the feed folder is not trusted: derived from the unit again
    folder = recorded.parent.name
    if folder in ("", ".", "..") or "/" in folder:
        folder = _safe(str(record["unit"]))
    name = recorded.name
    if name in ("", ".", ".."):
        raise LandingError(f"{root / _safe(feed) / MANIFEST}: row names no file: {recorded}")
    return root / _safe(feed) / folder / name


def read_manifest(root: Path, feed: str) -> list[Landed]:
    try:
        records = LandingStore(root).manifest(feed)
    except ManifestError as exc:
        raise LandingError(str(exc)) from exc
    return [Landed(index, record, _resolve(root, feed, record))
            for index, record in enumerate(records)]


def _file_sha256(path: Path) -> tuple[str, int]:
    digest = hashlib.sha256()
    size = 0
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size


def verify(entries: Iterable[Landed]) -> tuple[int, list[str]]:
    """Check every file against its manifest row; (files checked, problems)."""
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


def _by_unit(entries: list[Landed]) -> dict[str, list[Landed]]:
    units: dict[str, list[Landed]] = defaultdict(list)
    for entry in entries:
        units[entry.unit].append(entry)
    return units


@dataclass
class Candidate:
    """One complete fetch of a unit, in fetch order."""

    unit: str
    revision: int | None
    status: str | None
    sha256: str | None
    entries: list[Landed]
    extra: dict[str, Any] = field(default_factory=dict)


def pick_latest(candidates: list[Candidate]) -> tuple[Candidate | None, int]:
    """The candidate ``raw.load_unit`` would have left loaded, fed in fetch order
    (same rule: :func:`corridor.load.raw.decide`); and how many were superseded."""
    held: Candidate | None = None
    for candidate in candidates:
        existing = None if held is None else {
            "revision": held.revision, "sha256": held.sha256, "status": held.status}
        if raw.decide(existing, candidate.revision, candidate.sha256, candidate.status) is None:
            held = candidate
    return held, max(len(candidates) - 1, 0) if held else 0


def _query_param(url: str, name: str) -> str | None:
    values = parse_qs(urlsplit(str(url or "")).query).get(name)
    return values[0] if values else None


# ------------------------------------------------------------------------ planning

def _plan_ru(entries: list[Landed], report: FeedReport) -> list[Candidate]:
    winners = []
    for unit, landed in _by_unit(entries).items():
        candidates = [Candidate(unit, int(e.record["revision"]), str(e.record["status"]),
                                e.sha256, [e]) for e in landed]
        winner, superseded = pick_latest(candidates)
        report.superseded += superseded
        if winner:
            winners.append(winner)
    return winners


def _page_runs(landed: list[Landed], cursor_field: str, cursor_param: str,
               report: FeedReport) -> list[tuple[list[Landed], list[dict[str, Any]]]]:
    """Complete paged fetches of one unit, in fetch order: (entries, page summaries).

    A fetch starts at page 1; page n+1 follows page n when it has the same revision and
    (when the URL shows it) asks for the cursor page n handed out. A fetch is complete
    when its last page hands out no cursor."""
    runs: list[tuple[list[Landed], list[dict[str, Any]]]] = []
    current: list[Landed] | None = None
    summaries: list[dict[str, Any]] = []

    def close() -> None:
        nonlocal current, summaries
        if current:
            if summaries[-1]["next"]:
                report.incomplete += 1
            else:
                runs.append((current, summaries))
        current, summaries = None, []

    for entry in landed:
        part = entry.part or ""
        match = _PAGE.search(part)
        if not match:
            raise LandingError(f"{entry.path}: cannot tell which page this is (part {part!r})")
        page_no = int(match["n"])
        body = entry.json()
        summary = {"next": body.get(cursor_field), "revision": body.get("revision"),
                   "status": body.get("status"), "prefix": part[:match.start()]}
        if page_no == 1:
            close()
            current, summaries = [entry], [summary]
            continue
        follows = (current is not None and page_no == len(current) + 1
                   and summary["prefix"] == summaries[-1]["prefix"]
                   and summary["revision"] == summaries[-1]["revision"])
        asked = _query_param(entry.record.get("url"), cursor_param)
        if follows and asked is not None and asked != summaries[-1]["next"]:
            follows = False
        if follows:
            current.append(entry)
            summaries.append(summary)
        else:
            log.warning("%s: page %d does not continue the fetch before it: fetch dropped",
                        entry.path, page_no)
            if current:
                report.incomplete += 1
            current, summaries = None, []
    close()
    return runs


def _kz_sha256(page_sha256s: Iterable[str]) -> str:
    """As ``kz_customs.KzFetch.sha256``: the sha256 of the pages' sha256 digests (the
    files' digests are the manifest's, verified)."""
    digest = hashlib.sha256()
    for sha in page_sha256s:
        digest.update(bytes.fromhex(sha))
    return digest.hexdigest()


def _plan_kz(entries: list[Landed], report: FeedReport) -> list[Candidate]:
    winners = []
    for unit, landed in _by_unit(entries).items():
        candidates = []
        for run, summaries in _page_runs(landed, "next_cursor", "cursor", report):
            # kz_customs.fetch_period: revision of the first page, status of the last.
            revision = int(summaries[0]["revision"])
            status = str(summaries[-1]["status"] if summaries[-1]["status"] is not None
                         else summaries[0]["status"])
            sha = _kz_sha256(e.sha256 for e in run)
            candidates.append(Candidate(unit, revision, status, sha, run))
        winner, superseded = pick_latest(candidates)
        report.superseded += superseded
        if winner:
            winners.append(winner)
    return winners


def _plan_comtrade(entries: list[Landed], report: FeedReport) -> list[Candidate]:
    """The live ingest records each completed unit (``completed.jsonl``) with the landed
    calls it was made of; the last completion of a unit wins, as a fetch replaces it."""
    if not entries:
        return []
    by_name = {entry.path.name: entry for entry in entries}
    root = entries[0].path.parents[2]
    winners: dict[str, Candidate] = {}
    try:
        completions = LandingStore(root).completed(comtrade.FEED)
    except ManifestError as exc:
        raise LandingError(str(exc)) from exc
    for record in completions:
        files = [by_name.get(Path(f["path"]).name) for f in record["files"]]
        if any(f is None for f in files):
            log.warning("comtrade %s: a completion names a file not in the manifest: ignored",
                        record["unit"])
            report.incomplete += 1
            continue
        winners[record["unit"]] = Candidate(
            record["unit"], None, "final", record.get("checksum"), files,
            {"has_reported": bool(record["has_reported"]),
             "probe_rows": 1 if record["has_reported"] else 0})
    report.superseded += len(completions) - report.incomplete - len(winners)
    # data calls landed by a fetch that never completed (killed before its load)
    named = {Path(f["path"]).name for record in completions for f in record["files"]}
    report.incomplete += sum(1 for entry in entries
                             if entry.unit != "availability" and entry.path.name not in named)
    return list(winners.values())


_CALL_REPORTERS = re.compile(r"^data-r(?P<reporters>\d+(?:_\d+)*)-")


def _call_records(entry: Landed, reporter: int) -> list[dict[str, Any]]:
    """The records of a landed data call that belong to ``reporter``'s unit."""
    match = _CALL_REPORTERS.match(entry.part or "")
    reporters = [int(r) for r in match["reporters"].split("_")] if match else [reporter]
    return [record for record in entry.json().get("data") or []
            if comtrade.reporter_of(record, reporters) == reporter]


def _plan_ports(entries: list[Landed], report: FeedReport) -> dict[str, list[list[Landed]]]:
    """Every complete run of each port, in fetch order."""
    return {port: [run for run, _ in _page_runs(landed, "next_page_token", "page_token",
                                                 report)]
            for port, landed in _by_unit(entries).items()}


def _rail_revision(value: Any) -> int | None:
    try:
        return to_int(value, "revision")
    except RowError:
        return None


def _plan_rail(entries: list[Landed], report: FeedReport) -> list[Candidate]:
    winners = []
    for unit, landed in _by_unit(entries).items():
        # The manifest's revision is the report's own attribute (None when it had none).
        candidates = [Candidate(unit, _rail_revision(e.record.get("revision")), None,
                                e.sha256, [e]) for e in landed]
        winner, superseded = pick_latest(candidates)
        report.superseded += superseded
        if winner:
            winners.append(winner)
    return winners


# -------------------------------------------------------------------------- loading

def _count(report: FeedReport, outcome: raw.LoadOutcome) -> None:
    report.units += 1
    report.rows_loaded += outcome.rows_loaded
    report.rows_rejected += outcome.rows_rejected


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


def _load_ru(conn: psycopg.Connection, winners: list[Candidate], report: FeedReport) -> None:
    feed = ru_customs.FEED
    for c in sorted(winners, key=lambda c: c.unit):
        entry = c.entries[0]
        if hasattr(raw, "load_ru_customs_csv"):
            # As ingest does: streamed from the landed file, constant memory.
            with _scoped_temp_tables(conn):
                outcome = raw.load_ru_customs_csv(conn, entry.path, c.unit, c.revision,
                                                  c.status, c.sha256)
        else:
            parsed = ru_customs.parse_csv(entry.read(), c.unit, c.revision, c.status)
            outcome = raw.load_unit(conn, raw.UnitLoad(
                feed, c.unit, c.unit, c.revision, c.status, c.sha256,
                [raw.TableRows("raw.ru_customs_rows", raw.RU_CUSTOMS_COLUMNS, parsed.rows,
                               "delete from raw.ru_customs_rows where period_month = %s",
                               (c.unit,))],
                parsed.rejections))
        _count(report, outcome)


def _load_kz(conn: psycopg.Connection, winners: list[Candidate], report: FeedReport) -> None:
    feed = kz_customs.FEED
    for c in sorted(winners, key=lambda c: c.unit):
        pages = [entry.json() for entry in c.entries]
        parsed = kz_customs.parse_pages(pages, c.unit, c.revision, c.status)
        _count(report, raw.load_unit(conn, raw.UnitLoad(
            feed, c.unit, c.unit, c.revision, c.status, c.sha256,
            [raw.TableRows("raw.kz_customs_rows", raw.KZ_CUSTOMS_COLUMNS, parsed.rows,
                           "delete from raw.kz_customs_rows where period_month = %s",
                           (c.unit,))],
            parsed.rejections)))


def _load_comtrade(conn: psycopg.Connection, winners: list[Candidate],
                   report: FeedReport) -> None:
    feed = comtrade.FEED
    reported = 0
    for c in sorted(winners, key=lambda c: c.unit):
        reporter_text, _, period_month = c.unit.partition(":")
        reporter = int(reporter_text)
        records = [record for entry in c.entries for record in _call_records(entry, reporter)]
        parsed = comtrade.parse_data(records, reporter, period_month)
        reporting = [{"reporter_code": reporter, "period_month": period_month,
                      "has_reported": c.extra["has_reported"],
                      "probe_rows": c.extra["probe_rows"]}]
        where = "where reporter_code = %s and period_month = %s"
        _count(report, raw.load_unit(conn, raw.UnitLoad(
            feed, c.unit, period_month, None, c.status, c.sha256,
            [raw.TableRows("raw.comtrade_rows", raw.COMTRADE_COLUMNS, parsed.rows,
                           f"delete from raw.comtrade_rows {where}", (reporter, period_month)),
             raw.TableRows("raw.comtrade_reporting", raw.COMTRADE_REPORTING_COLUMNS,
                           reporting, f"delete from raw.comtrade_reporting {where}",
                           (reporter, period_month), counted=False)],
            parsed.rejections)))
        reported += bool(c.extra["has_reported"])
    report.detail["reporters_reported"] = reported


def _load_ports(conn: psycopg.Connection, runs_by_port: dict[str, list[list[Landed]]],
                report: FeedReport) -> None:
    marks = {}
    runs_total = 0
    for port, runs in sorted(runs_by_port.items()):
        for run in runs:
            since = _query_param(run[0].record.get("url"), "updated_since")
            mark = raw.port_high_water_mark(conn, port) or ports.INITIAL_HIGH_WATER_MARK
            if since is not None and since != mark:
                log.info("ports %s: run landed at %s asked from %s; the replayed mark is %s",
                         port, run[0].record.get("fetched_at"), since, mark)
            records: list[dict[str, Any]] = []
            for entry in run:
                records.extend(entry.json().get("data") or [])
            parsed = ports.parse_calls(records, port)
            outcome = raw.load_port_calls(conn, port, parsed.calls, parsed.cargo_lines,
                                          parsed.rejections, parsed.max_updated_at)
            report.rows_loaded += outcome.calls_updated
            report.rows_rejected += outcome.rows_rejected
            runs_total += 1
        report.units += 1
        marks[port] = raw.port_high_water_mark(conn, port)
    report.detail.update(runs=runs_total, high_water_marks=marks)


def _load_rail(conn: psycopg.Connection, winners: list[Candidate], report: FeedReport) -> None:
    feed = rail.FEED
    for c in sorted(winners, key=lambda c: c.unit):
        root = rail.parse_xml_root(c.entries[0].read())
        parsed = rail.parse_report(root, c.unit)
        # as ingest_rail: a report rejected whole is recorded as rejected
        rejected_whole = any(r.row_ref == "report" for r in parsed.rejections)
        _count(report, raw.load_unit(conn, raw.UnitLoad(
            feed, c.unit, c.unit[:7], parsed.meta.get("revision"),
            "rejected" if rejected_whole else None, c.sha256,
            [raw.TableRows("raw.rail_consignments", raw.RAIL_COLUMNS, parsed.rows,
                           "delete from raw.rail_consignments where report_date = %s",
                           (c.unit,))],
            parsed.rejections)))


_PLAN = {"ru_customs": _plan_ru, "kz_customs": _plan_kz, "comtrade": _plan_comtrade,
         "ports": _plan_ports, "rail": _plan_rail}
_LOAD = {"ru_customs": _load_ru, "kz_customs": _load_kz, "comtrade": _load_comtrade,
         "ports": _load_ports, "rail": _load_rail}


def _clear(conn: psycopg.Connection, feeds: list[str]) -> None:
    """Empty the selected feeds' part of the raw schema (inside the caller's transaction)."""
    if set(feeds) == set(FEED_IDS):
        tables = ["raw.loaded_units", "raw.rejected_rows",
                  *(t for feed in FEED_IDS for t in FEED_TABLES[feed])]
        conn.execute(f"truncate {', '.join(tables)}")
        return
    for feed in feeds:
        conn.execute(f"truncate {', '.join(FEED_TABLES[feed])}")
    conn.execute("delete from raw.loaded_units where feed = any(%s)", (feeds,))
    conn.execute("delete from raw.rejected_rows where feed = any(%s)", (feeds,))


def rebuild_raw_from_landing(dsn: WarehouseDsn | None, landing_root: Path | str,
                             feeds: Iterable[str] | None = None) -> dict[str, Any]:
    """Rebuild the raw schema (the selected feeds, default all) from the landed files.

    No network: only the files under ``landing_root`` and the warehouse. The selected
    feeds' raw rows are replaced in one transaction. Raises
    :class:`LandingIntegrityError` (naming the files) before touching the warehouse when
    a landed file is missing or differs from its manifest row.
    """
    root = Path(landing_root)
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

    plans = {feed: _PLAN[feed](manifests[feed], reports[feed]) for feed in selected}

    with connect(dsn, autocommit=True) as conn:
        raw.ensure_raw_schema(conn)
        # One transaction: the load functions' own transactions become savepoints.
        with conn.transaction():
            # before the truncates: waiting for a dbt build while holding raw tables
            # that it reads would deadlock (each load takes it again, a no-op)
            locks.build_shared_in_transaction(conn)
            _clear(conn, selected)
            for feed in selected:
                _LOAD[feed](conn, plans[feed], reports[feed])
                log.info("rebuilt %s from landing: %s", feed, reports[feed].as_dict())
    return {"landing_root": str(root),
            "feeds": {feed: reports[feed].as_dict() for feed in selected}}
