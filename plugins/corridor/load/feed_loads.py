"""Each feed's load, declared once: its raw tables (name, columns, the columns that key
one unit) and the one function that loads a completed fetch from the landing zone.

The live ingest (:mod:`corridor.ingest`) lands a fetch, records it complete and calls
the feed's function with the :class:`~corridor.landing.Fetch` the record describes;
replay (:mod:`corridor.landing.replay`) reads the same records and calls the same
function. What is loaded is therefore what was landed, read back and re-checked against
its sha256, whichever path loads it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import psycopg

from corridor.feeds import comtrade, kz_customs, ports, rail, ru_customs
from corridor.feeds.common import RowError, to_int
from corridor.landing import Fetch
from corridor.load import raw


@dataclass(frozen=True)
class RawTable:
    """One raw table a feed loads: its columns, and the columns holding one unit's key
    (its rows are replaced by deleting on them); ``counted``: in ``rows_loaded``."""

    name: str
    columns: Sequence[str]
    unit_key: tuple[str, ...] = ()
    counted: bool = True

    def rows(self, rows: Sequence[Any], *unit_key: Any) -> raw.TableRows:
        """A unit's rows for :func:`raw.load_unit`, replacing the unit's rows here."""
        where = " and ".join(f"{column} = %s" for column in self.unit_key)
        return raw.TableRows(self.name, self.columns, rows,
                             f"delete from {self.name} where {where}", unit_key, self.counted)


RU_ROWS = RawTable("raw.ru_customs_rows", raw.RU_CUSTOMS_COLUMNS, ("period_month",))
KZ_ROWS = RawTable("raw.kz_customs_rows", raw.KZ_CUSTOMS_COLUMNS, ("period_month",))
COMTRADE_ROWS = RawTable("raw.comtrade_rows", raw.COMTRADE_COLUMNS,
                         ("reporter_code", "period_month"))
COMTRADE_REPORTING = RawTable("raw.comtrade_reporting", raw.COMTRADE_REPORTING_COLUMNS,
                              ("reporter_code", "period_month"), counted=False)
RAIL_ROWS = RawTable("raw.rail_consignments", raw.RAIL_COLUMNS, ("report_date",))
#: Ports are versioned per call, not replaced per unit (:func:`raw.load_port_calls`).
PORT_TABLES = (RawTable("raw.port_calls", raw.PORT_CALL_COLUMNS),
               RawTable("raw.port_cargo_lines", raw.PORT_CARGO_COLUMNS),
               RawTable("raw.port_sync_state", ("port", "high_water_mark", "synced_at")))

Outcome = raw.LoadOutcome | raw.PortLoadOutcome


#: The fetch field holding the data rows the publisher states for the unit (RU: the
#: release entry's ``rows``; KZ: the /periods ``records``), which its load must reconcile
#: (None in a zone landed before it was recorded: not checked).
STATED_ROWS = "stated_rows"


def load_ru_customs(conn: psycopg.Connection, fetch: Fetch) -> raw.LoadOutcome:
    """Streamed from the landed file: the load holds no period in memory."""
    return raw.load_ru_customs_csv(conn, fetch.files[0].path, fetch.unit,
                                   int(fetch.revision), str(fetch.status), fetch.sha256,
                                   expected_rows=fetch.extra.get(STATED_ROWS))


def load_kz_customs(conn: psycopg.Connection, fetch: Fetch) -> raw.LoadOutcome:
    """The pages in order, reconciled with the rows the publisher states."""
    unit, revision, status = fetch.unit, int(fetch.revision), str(fetch.status)
    parsed = kz_customs.parse_pages([page.json for page in fetch.files], unit, revision,
                                    status)
    return raw.load_unit(conn, raw.UnitLoad(
        kz_customs.FEED, unit, unit, revision, status, fetch.sha256,
        [KZ_ROWS.rows(parsed.rows, unit)], parsed.rejections,
        expected_rows=fetch.extra.get(STATED_ROWS)))


def load_comtrade(conn: psycopg.Connection, fetch: Fetch) -> raw.LoadOutcome:
    """One (reporter, month): its records from the data calls it was fetched with (a
    call may hold several reporters: ``calls`` names each call's), and whether it has
    reported; its version is the listing's datasetChecksum (None: not reported)."""
    reporter, period_month = int(fetch.extra["reporter_code"]), fetch.extra["period_month"]
    records = [record for call, reporters in zip(fetch.files, fetch.extra["calls"], strict=True)
               for record in call.json.get("data") or []
               if comtrade.reporter_of(record, reporters) == reporter]
    parsed = comtrade.parse_data(records, reporter, period_month)
    has_reported = bool(fetch.extra["has_reported"])
    # probe_rows 1: the unit's row in the availability listing (totalRecords moves with
    # delivery faults such as duplicated rows, so it is not kept here)
    reporting = [{"reporter_code": reporter, "period_month": period_month,
                  "has_reported": has_reported, "probe_rows": int(has_reported)}]
    return raw.load_unit(conn, raw.UnitLoad(
        comtrade.FEED, fetch.unit, period_month, None, fetch.status, fetch.sha256,
        [COMTRADE_ROWS.rows(parsed.rows, reporter, period_month),
         COMTRADE_REPORTING.rows(reporting, reporter, period_month)], parsed.rejections))


def load_ports(conn: psycopg.Connection, fetch: Fetch) -> raw.PortLoadOutcome:
    """One run of a port's pages: the highest version of each call wins, the high-water
    mark moves (never back)."""
    records = [record for page in fetch.files for record in page.json.get("data") or []]
    parsed = ports.parse_calls(records, fetch.unit)
    return raw.load_port_calls(conn, fetch.unit, parsed.calls, parsed.cargo_lines,
                               parsed.rejections, parsed.max_updated_at)


def load_rail(conn: psycopg.Connection, fetch: Fetch) -> raw.LoadOutcome:
    """One day's report. A report rejected whole (date mismatch, no revision) leaves the
    day without an accepted report: its month stays provisional
    (int_rail_months_completed)."""
    day = fetch.unit
    parsed = rail.parse_report(rail.parse_xml_root(fetch.files[0].read()), day)
    rejected_whole = any(r.row_ref == "report" for r in parsed.rejections)
    return raw.load_unit(conn, raw.UnitLoad(
        rail.FEED, day, day[:7], parsed.meta.get("revision"),
        "rejected" if rejected_whole else None, fetch.sha256,
        [RAIL_ROWS.rows(parsed.rows, day)], parsed.rejections))


def recorded_version(fetch: Fetch) -> tuple[int | None, str | None, str | None]:
    """(revision, status, sha256) as the fetch row records them."""
    revision = None if fetch.revision is None else int(fetch.revision)
    return revision, None if fetch.status is None else str(fetch.status), fetch.sha256


def rail_version(fetch: Fetch) -> tuple[int | None, str | None, str | None]:
    """The report's own revision attribute (None when it is not a number); the status a
    rail unit is loaded with is its parse's, not the HTTP status the row records."""
    try:
        revision = to_int(fetch.revision, "revision")
    except RowError:
        revision = None
    return revision, None, fetch.sha256


@dataclass(frozen=True)
class FeedLoad:
    """A feed's raw tables and its load. ``version``: what :func:`raw.decide` compares
    when replay picks each unit's newest fetch (None: every fetch applies, in order, as
    ports' incremental runs do). ``listings``: units landed for the record, never loaded
    (Comtrade's availability listing)."""

    tables: tuple[RawTable, ...]
    load: Callable[[psycopg.Connection, Fetch], Outcome]
    version: Callable[[Fetch], tuple[int | None, str | None, str | None]] | None = \
        recorded_version
    listings: frozenset[str] = frozenset()


FEED_LOADS: dict[str, FeedLoad] = {
    ru_customs.FEED: FeedLoad((RU_ROWS,), load_ru_customs),
    kz_customs.FEED: FeedLoad((KZ_ROWS,), load_kz_customs),
    comtrade.FEED: FeedLoad((COMTRADE_ROWS, COMTRADE_REPORTING), load_comtrade,
                            listings=frozenset({"availability"})),
    ports.FEED: FeedLoad(PORT_TABLES, load_ports, version=None),
    rail.FEED: FeedLoad((RAIL_ROWS,), load_rail, version=rail_version),
}
