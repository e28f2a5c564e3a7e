"""The per-unit ingest functions the Airflow tasks (and the CLI) call.

Each resolves its feed Endpoint (Airflow Connection) and the warehouse, fetches,
lands every payload before parsing, parses, loads the unit idempotently and returns
a small JSON-serialisable summary. Nothing here imports Airflow at module level.
"""

from __future__ import annotations

import hashlib
import logging
from contextlib import contextmanager
from typing import Any, Iterator

import psycopg

from corridor.config import (
    FEED_CONN_IDS,
    FEED_PORTS,
    MIRROR_REPORTERS_M49,
    Endpoint,
    Settings,
    WarehouseDsn,
    get_endpoint,
)
from corridor.feeds import comtrade, kz_customs, ports, rail, ru_customs
from corridor.feeds.http import FeedClient
from corridor.landing import LandingStore
from corridor.load import raw
from corridor.warehouse import connect

log = logging.getLogger(__name__)


@contextmanager
def _warehouse(dsn: WarehouseDsn | None) -> Iterator[psycopg.Connection]:
    # autocommit: every raw.load_* call is then its own BEGIN/COMMIT (one unit each).
    with connect(dsn, autocommit=True) as conn:
        raw.ensure_raw_schema(conn)
        yield conn


def _setup(feed: str, settings: Settings | None, endpoint: Endpoint | None
           ) -> tuple[Settings, FeedClient, LandingStore]:
    settings = settings or Settings()
    endpoint = endpoint or get_endpoint(FEED_CONN_IDS[feed])
    return settings, FeedClient(feed, endpoint), LandingStore(settings.landing_root)


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


# ------------------------------------------------------------------------- ru_customs

def ingest_ru_customs(period_month: str, *, dsn: WarehouseDsn | None = None,
                      settings: Settings | None = None, endpoint: Endpoint | None = None
                      ) -> dict[str, Any]:
    feed = ru_customs.FEED
    _, client, store = _setup(feed, settings, endpoint)
    with _warehouse(dsn) as conn:
        held = raw.loaded_unit(conn, feed, period_month) or {}
        fetched = ru_customs.fetch_period(client, period_month, held_sha256=held.get("sha256"),
                                          held_status=held.get("status"))
        if not fetched.released:
            return _summary(feed, period_month, skipped="not_released")
        if fetched.not_modified:
            return _summary(feed, period_month, revision=held.get("revision"),
                            status=held.get("status"), rows_loaded=held.get("rows_loaded", 0),
                            rows_rejected=held.get("rows_rejected", 0), skipped="unchanged")
        if held.get("revision") is not None and held["revision"] > fetched.revision:
            return _summary(feed, period_month, revision=held["revision"],
                            status=held.get("status"), skipped="older_revision")
        landed = store.put(feed, period_month, fetched.revision, fetched.payload,
                           url=fetched.url, status=fetched.status, suffix="csv")
        # Streamed from the landed file: the load holds no period in memory.
        outcome = raw.load_ru_customs_csv(conn, landed.path, period_month, fetched.revision,
                                          fetched.status, fetched.sha256)
    return _from_outcome(outcome)


# ------------------------------------------------------------------------- kz_customs

def ingest_kz_customs(period_month: str, *, dsn: WarehouseDsn | None = None,
                      settings: Settings | None = None, endpoint: Endpoint | None = None
                      ) -> dict[str, Any]:
    feed = kz_customs.FEED
    _, client, store = _setup(feed, settings, endpoint)
    with _warehouse(dsn) as conn:
        entry = kz_customs.period_entry(client, period_month)
        if entry is None:
            return _summary(feed, period_month, skipped="not_published")
        held = raw.loaded_unit(conn, feed, period_month)
        if held is not None and held["revision"] is not None:
            revision = int(entry["revision"])
            # A revision's content never changes: the same revision and status is a no-op.
            if held["revision"] > revision or (held["revision"] == revision
                                               and held["status"] == entry.get("status")):
                return _summary(feed, period_month, revision=held["revision"],
                                status=held["status"], rows_loaded=held["rows_loaded"],
                                rows_rejected=held["rows_rejected"],
                                skipped="unchanged" if held["revision"] == revision
                                else "older_revision")

        def land(fetch, page_no, payload, url):
            store.put(feed, period_month, fetch.revision, payload, url=url,
                      status=fetch.status, suffix="json", part=f"p{page_no:05d}")

        fetched = kz_customs.fetch_period(client, period_month, on_page=land)
        if not fetched.published:
            return _summary(feed, period_month, skipped="not_published")
        parsed = kz_customs.parse_pages(fetched.pages, period_month, fetched.revision,
                                        fetched.status)
        outcome = raw.load_unit(conn, raw.UnitLoad(
            feed, period_month, period_month, fetched.revision, fetched.status,
            fetched.sha256,
            [raw.TableRows("raw.kz_customs_rows", raw.KZ_CUSTOMS_COLUMNS, parsed.rows,
                           "delete from raw.kz_customs_rows where period_month = %s",
                           (period_month,))],
            parsed.rejections))
    return _from_outcome(outcome, pages=len(fetched.pages))


# --------------------------------------------------------------------------- comtrade

def ingest_comtrade(period_month: str, *, dsn: WarehouseDsn | None = None,
                    settings: Settings | None = None, endpoint: Endpoint | None = None,
                    reporters: tuple[int, ...] = MIRROR_REPORTERS_M49) -> dict[str, Any]:
    """Every mirror reporter for one month; each (reporter, month) is its own unit.
    A reporter that fails does not stop the others; the call raises at the end."""
    feed = comtrade.FEED
    _, client, store = _setup(feed, settings, endpoint)
    units: list[dict[str, Any]] = []
    failures: list[str] = []
    with _warehouse(dsn) as conn:
        for reporter in reporters:
            unit = comtrade.unit_of(reporter, period_month)
            try:
                fetched = comtrade.fetch_reporter_month(client, reporter, period_month)
            except Exception as exc:  # noqa: BLE001 - reported below, raised at the end
                log.error("%s %s: fetch failed: %s", feed, unit, exc)
                failures.append(f"{unit}: {exc}")
                continue
            for part, url, payload in fetched.payloads:
                store.put(feed, unit, None, payload, url=url, status="final", suffix="json",
                          part=part)
            parsed = comtrade.parse_data(fetched.records, reporter, period_month)
            reporting = [{"reporter_code": reporter, "period_month": period_month,
                          "has_reported": fetched.has_reported,
                          "probe_rows": fetched.probe_rows}]
            where = "where reporter_code = %s and period_month = %s"
            outcome = raw.load_unit(conn, raw.UnitLoad(
                feed, unit, period_month, None, "final", fetched.sha256,
                [raw.TableRows("raw.comtrade_rows", raw.COMTRADE_COLUMNS, parsed.rows,
                               f"delete from raw.comtrade_rows {where}",
                               (reporter, period_month)),
                 raw.TableRows("raw.comtrade_reporting", raw.COMTRADE_REPORTING_COLUMNS,
                               reporting, f"delete from raw.comtrade_reporting {where}",
                               (reporter, period_month), counted=False)],
                parsed.rejections))
            units.append(_from_outcome(outcome, has_reported=fetched.has_reported))
    summary = {"feed": feed, "unit": period_month, "units": units,
               "rows_loaded": sum(u["rows_loaded"] for u in units),
               "rows_rejected": sum(u["rows_rejected"] for u in units),
               "reporters_reported": sum(1 for u in units if u["has_reported"]),
               "failed": failures}
    if failures:
        raise RuntimeError(f"{feed} {period_month}: {len(failures)} reporter(s) failed: "
                           + "; ".join(failures))
    return summary


# ------------------------------------------------------------------------------ ports

def ingest_ports(*, dsn: WarehouseDsn | None = None, settings: Settings | None = None,
                 endpoint: Endpoint | None = None,
                 port_codes: tuple[str, ...] = FEED_PORTS) -> dict[str, Any]:
    """Both feed ports, incrementally from their high-water marks."""
    feed = ports.FEED
    _, client, store = _setup(feed, settings, endpoint)
    results = []
    with _warehouse(dsn) as conn:
        for port in port_codes:
            since = raw.port_high_water_mark(conn, port) or ports.INITIAL_HIGH_WATER_MARK
            stamp = hashlib.sha256(since.encode()).hexdigest()[:6]

            def land(page_no, payload, url, port=port, stamp=stamp):
                store.put(feed, port, None, payload, url=url, status=200, suffix="json",
                          part=f"since{stamp}-p{page_no:05d}")

            records = ports.fetch_pages(client, port, since, on_page=land)
            parsed = ports.parse_calls(records, port)
            outcome = raw.load_port_calls(conn, port, parsed.calls, parsed.cargo_lines,
                                          parsed.rejections, parsed.max_updated_at)
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
                settings: Settings | None = None, endpoint: Endpoint | None = None
                ) -> dict[str, Any]:
    """Every day of the month: new or re-issued reports load, 304s and 404s are cheap."""
    feed = rail.FEED
    _, client, store = _setup(feed, settings, endpoint)
    days: list[dict[str, Any]] = []
    with _warehouse(dsn) as conn:
        for day in rail.days_of(period_month):
            held = raw.loaded_unit(conn, feed, day) or {}
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
            store.put(feed, day, revision_attr, fetched.payload, url=fetched.url, status=200,
                      suffix="xml")
            parsed = rail.parse_report(fetched.root, day)
            # a report rejected whole (date mismatch, no revision) leaves the day without
            # an accepted report: its month stays provisional (int_rail_months_completed)
            rejected_whole = any(r.row_ref == "report" for r in parsed.rejections)
            outcome = raw.load_unit(conn, raw.UnitLoad(
                feed, day, day[:7], parsed.meta.get("revision"),
                "rejected" if rejected_whole else None, fetched.sha256,
                [raw.TableRows("raw.rail_consignments", raw.RAIL_COLUMNS, parsed.rows,
                               "delete from raw.rail_consignments where report_date = %s",
                               (day,))],
                parsed.rejections))
            days.append(_from_outcome(outcome))
    return {"feed": feed, "unit": period_month, "days": days,
            "days_out": sum(1 for d in days if d.get("skipped") != "not_out"),
            "rows_loaded": sum(d["rows_loaded"] for d in days if d.get("skipped") is None),
            "rows_rejected": sum(d["rows_rejected"] for d in days if d.get("skipped") is None),
            "skipped": None}
