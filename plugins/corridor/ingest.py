"""The per-unit ingest functions the Airflow tasks (and the CLI) call.

Each resolves its feed Endpoint (Airflow Connection) and the warehouse, fetches,
lands every payload before parsing, records the fetch complete in the landing manifest,
loads it idempotently with its feed's load function (:mod:`corridor.load.feed_loads`,
the one replay calls: what is loaded is read back from the landed files) and returns a
small JSON-serialisable summary. Nothing here imports Airflow at module level.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg

from corridor.config import (
    FEED_CONN_IDS,
    FEED_PORTS,
    MIRROR_REPORTERS_M49,
    Endpoint,
    Settings,
    WarehouseDsn,
    get_endpoint,
    get_warehouse_dsn,
)
from corridor.feeds import comtrade, kz_customs, ports, rail, ru_customs
from corridor.feeds.common import FeedError
from corridor.feeds.http import FeedClient, make_session
from corridor.landing import Fetch, LandedFile, LandingStore, new_fetch_id
from corridor.load import feed_loads, raw
from corridor.warehouse import connect

log = logging.getLogger(__name__)


@contextmanager
def _warehouse(dsn: WarehouseDsn | None) -> Iterator[psycopg.Connection]:
    # autocommit: every raw.load_* call is then its own BEGIN/COMMIT (one unit each).
    with connect(dsn, role="loader", autocommit=True) as conn:
        raw.ensure_raw_schema(conn)
        yield conn


def _setup(feed: str, settings: Settings | None, endpoint: Endpoint | None,
           dsn: WarehouseDsn | None = None) -> tuple[Settings, FeedClient, LandingStore]:
    settings = settings or Settings()
    endpoint = endpoint or get_endpoint(FEED_CONN_IDS[feed])
    return settings, FeedClient(feed, endpoint), _store(settings, dsn)


def _store(settings: Settings, dsn: WarehouseDsn | None) -> LandingStore:
    """The landing zone, its manifests written under the warehouse's landing locks."""
    return LandingStore(settings.landing_root, dsn or get_warehouse_dsn("loader"))


@contextmanager
def _session(feed: str, dsn: WarehouseDsn | None, settings: Settings | None,
             endpoint: Endpoint | None
             ) -> Iterator[tuple[FeedClient, LandingStore, psycopg.Connection]]:
    """A feed's client and landing store, and the warehouse (:func:`_warehouse`)."""
    _, client, store = _setup(feed, settings, endpoint, dsn)
    with _warehouse(dsn) as conn:
        yield client, store, conn


def _summary(feed: str, unit: str, *, revision: int | None = None, status: str | None = None,
             rows_loaded: int = 0, rows_rejected: int = 0, skipped: str | None = None,
             **extra: Any) -> dict[str, Any]:
    summary = {"feed": feed, "unit": unit, "revision": revision, "status": status,
               "rows_loaded": rows_loaded, "rows_rejected": rows_rejected, "skipped": skipped,
               **extra}
    log.info("%s %s: revision %s (%s) %s, %d rows loaded, %d rejected", feed, unit, revision,
             status, f"skipped: {skipped}" if skipped else "loaded", rows_loaded, rows_rejected)
    return summary


def _from_outcome(outcome: raw.LoadOutcome, **extra: Any) -> dict[str, Any]:
    return _summary(outcome.feed, outcome.unit, revision=outcome.revision,
                    status=outcome.status, rows_loaded=outcome.rows_loaded,
                    rows_rejected=outcome.rows_rejected, skipped=outcome.skipped, **extra)


# ---------------------------------------------------------------------- the DAG tasks

def plan(feed: str, *, force: bool = False, settings: Settings | None = None,
         dsn: WarehouseDsn | None = None, endpoint: Endpoint | None = None) -> list[dict]:
    """The months of the ingest window the publisher has new or changed, as the keyword
    arguments of one :func:`ingest_month` each (the poll DAGs' first task).

    One index call per feed: RU ``releases``, KZ ``periods``, Comtrade ``getDa``. Rail
    has no index: every month of the window is planned and each day costs a conditional
    GET (``304`` when unchanged). Ports sync from their high-water mark: one unit.
    """
    from corridor.window import resolve

    settings = resolve(settings or Settings(), dsn=dsn, role="loader", refresh=True)
    months = settings.ingest_months
    if feed == ports.FEED:
        return [{"period_month": "all"}]
    if feed == rail.FEED:
        return [{"period_month": month} for month in months]
    if feed == comtrade.FEED:
        planned = plan_comtrade(months, dsn=dsn, settings=settings, endpoint=endpoint,
                                force=force)
        return [{"period_month": m, "listing": planned["listing"][m]} for m in planned["months"]]
    _, client, _ = _setup(feed, settings, endpoint)
    if feed == ru_customs.FEED:
        index = {e.get("period"): (int(e["revision"]), str(e["status"]), str(e["sha256"]).lower())
                 for e in ru_customs.list_releases(client)}
    elif feed == kz_customs.FEED:
        index = {p.get("period"): (int(p["revision"]), str(p.get("status")), None)
                 for p in kz_customs.list_periods(client)}
    else:
        raise ValueError(f"unknown feed {feed!r}")
    with _warehouse(dsn) as conn:
        held = raw.loaded_units(conn, feed)
    changed = [month for month in months if month in index
               and (force or _changed(held.get(month), *index[month]))]
    log.info("%s: %d of %d months of the window released, %d new or changed", feed,
             sum(1 for m in months if m in index), len(months), len(changed))
    return [{"period_month": month} for month in changed]


def _changed(held: dict[str, Any] | None, revision: int, status: str, sha256: str | None
             ) -> bool:
    if held is None:
        return True
    if held["revision"] is not None and held["revision"] > revision:
        return False  # an older revision than the one loaded is ignored
    return (held["revision"], held["status"]) != (revision, status) or (
        sha256 is not None and held["sha256"] != sha256)


def ingest_month(feed: str, period_month: str, *, listing: list | None = None,
                 force: bool = False) -> dict[str, Any]:
    """One planned month of one feed (a mapped task instance of the ingest DAGs). A month
    outside the ingest window (a monthly DAG's scheduled run for a month no publisher
    has reached, a backfill past the window) loads nothing."""
    from corridor.window import resolve

    if feed == ports.FEED:
        return ingest_ports(force=force)
    if period_month not in resolve(Settings(), role="loader").ingest_months:
        return _summary(feed, period_month, skipped="outside_window")
    if feed == comtrade.FEED:
        return ingest_comtrade(period_month, listing=listing, force=force)
    return {"ru_customs": ingest_ru_customs, "kz_customs": ingest_kz_customs,
            "rail": ingest_rail}[feed](period_month, force=force)


def month_of_partition(partition_key: str | None) -> str:
    """The ``YYYY-MM`` a monthly ingest run is for (its partition key)."""
    key = (partition_key or "")[:7]
    if len(key) != 7 or key[4] != "-" or not (key[:4] + key[5:]).isdigit():
        raise ValueError(f"a monthly ingest run needs a YYYY-MM partition key, got "
                         f"{partition_key!r}")
    return key


# ------------------------------------------------------------------------- ru_customs

def ingest_ru_customs(period_month: str, *, dsn: WarehouseDsn | None = None,
                      settings: Settings | None = None, endpoint: Endpoint | None = None,
                      force: bool = False) -> dict[str, Any]:
    """One month's release CSV, unless the one loaded is the same or newer."""
    feed = ru_customs.FEED
    with _session(feed, dsn, settings, endpoint) as (client, store, conn):
        held = {} if force else raw.loaded_unit(conn, feed, period_month) or {}
        # Streamed to a temporary file in the unit's landing folder and verified there
        # (sha256 of the release entry): landing it is a rename, loading it a stream.
        fetched = ru_customs.fetch_period(client, period_month, held_sha256=held.get("sha256"),
                                          held_status=held.get("status"),
                                          spool_dir=store.spool_dir(feed, period_month))
        try:
            if not fetched.released:
                return _summary(feed, period_month, skipped="not_released")
            if fetched.not_modified:
                return _summary(feed, period_month, revision=held.get("revision"),
                                status=held.get("status"),
                                rows_loaded=held.get("rows_loaded", 0),
                                rows_rejected=held.get("rows_rejected", 0), skipped="unchanged")
            if held.get("revision") is not None and held["revision"] > fetched.revision:
                return _summary(feed, period_month, revision=held["revision"],
                                status=held.get("status"), skipped="older_revision")
            # one body, a whole fetch: its manifest row records it complete
            landed = store.put_file(feed, period_month, fetched.revision, fetched.path,
                                    sha256=fetched.sha256, size=fetched.size, url=fetched.url,
                                    status=fetched.status, suffix="csv",
                                    **{feed_loads.STATED_ROWS: fetched.rows})
            fetched.path = None  # landed: no longer a temporary file
        finally:
            fetched.discard()
        fetch = Fetch(feed, period_month, fetched.revision, fetched.status, landed.sha256,
                      (landed,), {feed_loads.STATED_ROWS: fetched.rows})
        outcome = feed_loads.load_ru_customs(conn, fetch)
    return _from_outcome(outcome)


# ------------------------------------------------------------------------- kz_customs

def ingest_kz_customs(period_month: str, *, dsn: WarehouseDsn | None = None,
                      settings: Settings | None = None, endpoint: Endpoint | None = None,
                      force: bool = False) -> dict[str, Any]:
    """One month's pages at one revision (restarted when it is re-published while
    paging), unless the revision loaded is the same or newer."""
    feed = kz_customs.FEED
    with _session(feed, dsn, settings, endpoint) as (client, store, conn):
        entry = kz_customs.period_entry(client, period_month)
        if entry is None:
            return _summary(feed, period_month, skipped="not_published")
        held = raw.loaded_unit(conn, feed, period_month)
        if held is not None and held["revision"] is not None and not force:
            revision = int(entry["revision"])
            # A revision's content never changes: the same revision and status is a no-op.
            if held["revision"] > revision or (held["revision"] == revision
                                               and held["status"] == entry.get("status")):
                return _summary(feed, period_month, revision=held["revision"],
                                status=held["status"], rows_loaded=held["rows_loaded"],
                                rows_rejected=held["rows_rejected"],
                                skipped="unchanged" if held["revision"] == revision
                                else "older_revision")

        pages: list[LandedFile] = []  # of the current pass (a restart begins again)

        def land(fetch, page_no, payload, url):
            if page_no == 1:
                pages.clear()
            pages.append(store.put(feed, period_month, fetch.revision, payload, url=url,
                                   status=fetch.status, suffix="json", part=f"p{page_no:05d}",
                                   fetch_id=pages[0].fetch_id if pages else None))

        fetched = kz_customs.fetch_period(client, period_month, on_page=land,
                                          records=int(entry["records"]))
        if not fetched.published:
            return _summary(feed, period_month, skipped="not_published")
        if fetched.revision != int(entry["revision"]):
            # Re-published while paging: the records stated for the revision paged.
            entry = kz_customs.period_entry(client, period_month)
            if entry is None or int(entry["revision"]) != fetched.revision:
                raise FeedError(feed, period_month, None,
                                f"the pages are revision {fetched.revision}, /periods lists "
                                f"{None if entry is None else entry['revision']}: its "
                                "records cannot be reconciled")
        fetch = store.complete(feed, period_month, pages, revision=fetched.revision,
                               status=fetched.status, sha256=fetched.sha256,
                               **{feed_loads.STATED_ROWS: int(entry["records"])})
        outcome = feed_loads.load_kz_customs(conn, fetch)
    return _from_outcome(outcome, pages=len(fetched.pages))


# --------------------------------------------------------------------------- comtrade

def comtrade_calls(client: FeedClient, conn: psycopg.Connection, settings: Settings
                   ) -> comtrade.Calls:
    """Comtrade calls counted against the day's budget in the warehouse (shared by every
    task and run), the quota answer recorded there too."""
    return comtrade.Calls(
        client, lambda: raw.take_comtrade_call(conn, settings.comtrade_daily_budget),
        on_quota=lambda retry_after: raw.note_comtrade_quota(conn, retry_after))


def _comtrade_client(endpoint: Endpoint | None) -> FeedClient:
    endpoint = endpoint or get_endpoint(FEED_CONN_IDS[comtrade.FEED])
    # attempts=1, no urllib3 retries: comtrade.Calls retries, counting every call
    return FeedClient(comtrade.FEED, endpoint, attempts=1,
                      session=make_session(comtrade.FEED, endpoint, retries=0))


def _published_as_dict(published: comtrade.Published) -> dict[str, Any]:
    return {"reporter_code": published.reporter_code, "period_month": published.period_month,
            "total_records": published.total_records, "checksum": published.checksum}


def plan_comtrade(months: list[str], *, dsn: WarehouseDsn | None = None,
                  settings: Settings | None = None, endpoint: Endpoint | None = None,
                  reporters: tuple[int, ...] = MIRROR_REPORTERS_M49, force: bool = False
                  ) -> dict[str, Any]:
    """One availability call for the whole window: the months with a unit to (re)load,
    each with its listing rows, so the month tasks make no availability call of their own."""
    settings = settings or Settings()
    client = _comtrade_client(endpoint)
    store = _store(settings, dsn)
    with _warehouse(dsn) as conn:
        calls = comtrade_calls(client, conn, settings)
        try:
            listing, url, payload = comtrade.availability(calls, reporters, months)
        except comtrade.QuotaExhausted as exc:
            log.warning("%s: no availability listing this run: %s", comtrade.FEED, exc)
            return {"feed": comtrade.FEED, "months": [], "pending": None, "calls": calls.made}
        store.put(comtrade.FEED, "availability", None, payload, url=url, status=200,
                  suffix="json")
        held = raw.loaded_units(conn, comtrade.FEED)
    todo: dict[str, list[dict[str, Any]]] = {}
    for month in months:
        rows = [listing[(r, month)] for r in reporters if (r, month) in listing]
        stale = [r for r in rows if force or (held.get(r.unit) or {}).get("sha256") != r.checksum]
        unreported = [r for r in reporters if (r, month) not in listing
                      and (force or _held_reported(held.get(comtrade.unit_of(r, month))))]
        if stale or unreported:
            todo[month] = [_published_as_dict(r) for r in rows]
    units = sum(len(v) for v in todo.values())
    log.info("%s: %d units published in the window, %d months to load", comtrade.FEED,
             len(listing), len(todo))
    return {"feed": comtrade.FEED, "months": sorted(todo), "listing": todo,
            "units_listed": len(listing), "units_in_months": units, "calls": calls.made}


def _held_reported(held: dict[str, Any] | None) -> bool:
    """A unit not in the listing must be (re)loaded as "not reported" unless it already is."""
    return held is None or held.get("sha256") is not None


def ingest_comtrade(period_month: str, *, dsn: WarehouseDsn | None = None,
                    settings: Settings | None = None, endpoint: Endpoint | None = None,
                    reporters: tuple[int, ...] = MIRROR_REPORTERS_M49,
                    listing: list[dict[str, Any]] | None = None, force: bool = False
                    ) -> dict[str, Any]:
    """Every mirror reporter for one month; each (reporter, month) is its own unit.

    ``listing``: the month's availability rows from :func:`plan_comtrade` (else one
    availability call is made). A reporter absent from the listing has not reported: its
    unit is loaded empty with no call. The changed units are fetched in calls of several
    reporters under the record cap. When the budget or the API's quota runs out, the
    units not fetched are reported as ``pending`` and fetched by a later run.
    """
    feed = comtrade.FEED
    settings = settings or Settings()
    client = _comtrade_client(endpoint)
    store = _store(settings, dsn)
    units: list[dict[str, Any]] = []
    pending: list[str] = []
    with _warehouse(dsn) as conn:
        calls = comtrade_calls(client, conn, settings)
        if listing is None:
            try:
                found, url, payload = comtrade.availability(calls, reporters, [period_month])
            except comtrade.QuotaExhausted as exc:
                log.warning("%s %s: %s; the month is left for a later run", feed,
                            period_month, exc)
                return _comtrade_summary(period_month, [], [comtrade.unit_of(r, period_month)
                                                            for r in reporters], calls.made)
            store.put(feed, "availability", None, payload, url=url, status=200, suffix="json")
            published = [found[(r, period_month)] for r in reporters if (r, period_month) in found]
        else:
            published = [comtrade.Published(**row) for row in listing]
        by_reporter = {p.reporter_code: p for p in published}
        held = raw.loaded_units(conn, feed)
        for reporter in reporters:
            unit = comtrade.unit_of(reporter, period_month)
            if reporter not in by_reporter and (force or _held_reported(held.get(unit))):
                units.append(_load_comtrade_unit(conn, store, reporter, period_month, None,
                                                 [], []))
        stale = [p for p in published
                 if force or (held.get(p.unit) or {}).get("sha256") != p.checksum]

        def estimate(unit: comtrade.Published) -> int:
            before = held.get(unit.unit)
            return (before["rows_loaded"] + before["rows_rejected"]) if before \
                and before.get("sha256") else unit.total_records

        batches = comtrade.pack(stale, settings.comtrade_record_cap, estimate)
        for number, batch in enumerate(batches):
            try:
                fetched = comtrade.fetch_batch(calls, period_month,
                                               [u.reporter_code for u in batch],
                                               record_cap=settings.comtrade_record_cap)
            except comtrade.QuotaExhausted as exc:
                pending = [u.unit for b in batches[number:] for u in b]
                log.warning("%s %s: %s; %d units pending for a later run", feed,
                            period_month, exc, len(pending))
                break
            batch_id = new_fetch_id()
            files = [store.put(feed, period_month, None, payload, url=url, status=200,
                               suffix="json", part=part, fetch_id=batch_id)
                     for part, url, payload in fetched.payloads]
            for unit in batch:
                units.append(_load_comtrade_unit(conn, store, unit.reporter_code, period_month,
                                                 unit, files, fetched.call_reporters))
    return _comtrade_summary(period_month, units, pending, calls.made)


def _load_comtrade_unit(conn: psycopg.Connection, store: LandingStore, reporter: int,
                        period_month: str, published: comtrade.Published | None,
                        files: list[LandedFile], call_reporters: list[list[int]]
                        ) -> dict[str, Any]:
    """Record one (reporter, month) fetched (the batch's data calls, and each call's
    reporters) and replace it; not in the listing (``published`` None): not reported."""
    fetch = store.complete(
        comtrade.FEED, comtrade.unit_of(reporter, period_month), files, status="final",
        sha256=published.checksum if published else None, reporter_code=reporter,
        period_month=period_month, has_reported=published is not None,
        total_records=published.total_records if published else 0, calls=call_reporters)
    return _from_outcome(feed_loads.load_comtrade(conn, fetch),
                         has_reported=published is not None)


def _comtrade_summary(period_month: str, units: list[dict[str, Any]], pending: list[str],
                      calls: int) -> dict[str, Any]:
    return {"feed": comtrade.FEED, "unit": period_month, "units": units,
            "rows_loaded": sum(u["rows_loaded"] for u in units),
            "rows_rejected": sum(u["rows_rejected"] for u in units),
            "reporters_reported": sum(1 for u in units if u["has_reported"]),
            "pending": pending, "calls": calls, "skipped": None}


# ------------------------------------------------------------------------------ ports

def ingest_ports(*, dsn: WarehouseDsn | None = None, settings: Settings | None = None,
                 endpoint: Endpoint | None = None,
                 port_codes: tuple[str, ...] = FEED_PORTS, force: bool = False
                 ) -> dict[str, Any]:
    """Both feed ports, incrementally from their high-water marks (``force``: from the
    first call; versions already held change nothing)."""
    feed = ports.FEED
    results = []
    with _session(feed, dsn, settings, endpoint) as (client, store, conn):
        for port in port_codes:
            since = (None if force else raw.port_high_water_mark(conn, port)
                     ) or ports.INITIAL_HIGH_WATER_MARK
            stamp = hashlib.sha256(since.encode()).hexdigest()[:6]

            pages: list[LandedFile] = []

            def land(page_no, payload, url, port=port, stamp=stamp, pages=pages):
                pages.append(store.put(feed, port, None, payload, url=url, status=200,
                                       suffix="json", part=f"since{stamp}-p{page_no:05d}",
                                       fetch_id=pages[0].fetch_id if pages else None))

            records = ports.fetch_pages(client, port, since, on_page=land)
            fetch = store.complete(feed, port, pages, updated_since=since)
            outcome = feed_loads.load_ports(conn, fetch)
            log.info("ports %s: since %s, %d records, %d calls updated, %d rejected",
                     port, since, len(records), outcome.calls_updated, outcome.rows_rejected)
            results.append({**outcome.as_dict(), "updated_since": since,
                            "records": len(records)})
    return {"feed": feed, "unit": ",".join(port_codes), "ports": results,
            "rows_loaded": sum(r["calls_updated"] for r in results),
            "cargo_lines_loaded": sum(r["cargo_lines_loaded"] for r in results),
            "rows_rejected": sum(r["rows_rejected"] for r in results), "skipped": None}


# ------------------------------------------------------------------------------- rail

def ingest_rail(period_month: str, *, dsn: WarehouseDsn | None = None,
                settings: Settings | None = None, endpoint: Endpoint | None = None,
                force: bool = False) -> dict[str, Any]:
    """Every day of the month: new or re-issued reports load, 304s and 404s are cheap."""
    feed = rail.FEED
    days: list[dict[str, Any]] = []
    with _session(feed, dsn, settings, endpoint) as (client, store, conn):
        for day in rail.days_of(period_month):
            held = {} if force else raw.loaded_unit(conn, feed, day) or {}
            fetched = rail.fetch_day(client, day, held_sha256=held.get("sha256"))
            if fetched.state == "not_out":
                days.append({"unit": day, "skipped": "not_out", "rows_loaded": 0,
                             "rows_rejected": 0})
                continue
            if fetched.state == "not_modified":
                days.append({"unit": day, "skipped": "unchanged",
                             "revision": held.get("revision"),
                             "rows_loaded": held.get("rows_loaded", 0),
                             "rows_rejected": held.get("rows_rejected", 0)})
                continue
            revision_attr = fetched.root.get("revision")
            # one body, a whole fetch: its manifest row records it complete
            landed = store.put(feed, day, revision_attr, fetched.payload, url=fetched.url,
                               status=200, suffix="xml")
            fetch = Fetch(feed, day, revision_attr, 200, landed.sha256, (landed,))
            days.append(_from_outcome(feed_loads.load_rail(conn, fetch)))
    return {"feed": feed, "unit": period_month, "days": days,
            "days_out": sum(1 for d in days if d.get("skipped") != "not_out"),
            "rows_loaded": sum(d["rows_loaded"] for d in days if d.get("skipped") is None),
            "rows_rejected": sum(d["rows_rejected"] for d in days if d.get("skipped") is None),
            "skipped": None}
