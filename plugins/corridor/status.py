"""Due, late and missing: which units of the ingest window have arrived, and which are late.

A unit of month M is **due** ``Settings.due_days[feed]`` days after M's last day (a rail
month when its last day's report is due, i.e. the same rule). It is **late** once its
due date has passed (the due day itself is still on time, UTC dates) and it has not
arrived. Per feed and month the grid has one :class:`Cell` whose ``state`` is
``loaded`` (every expected unit arrived), ``not_due`` (not all arrived, due date still
ahead), ``late`` (due date passed, none arrived) or ``partial`` (due date passed, some
arrived). Expected units of a month: ru_customs/kz_customs the month, comtrade the 9
mirror reporters (``<reporter>:YYYY-MM``), rail every day, ports every feed port.

Arrived means: a ``raw.loaded_units`` row; for comtrade also that the reporter had
reported (``raw.comtrade_reporting.has_reported``; a fetched unit with nothing
published is loaded with 0 rows); for rail not a report rejected whole (status
``rejected``); for ports, whose calls are synced incrementally rather than by month,
the port's last sync (``raw.port_sync_state.synced_at``) is at or after the month's end
in the port's local time (so every call arriving in M could have been received; the
calls per arrival month are counted from ``raw.port_calls``).

The clock is a parameter everywhere (``now``): :func:`read_snapshot` reads the
warehouse once, :meth:`Snapshot.grid` applies the rules for any ``now``.
"""

from __future__ import annotations

import calendar
import logging
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime, time, timedelta, timezone
from typing import Any

from corridor.config import FEED_IDS, FEED_PORTS, MIRROR_REPORTERS_M49, Settings

log = logging.getLogger(__name__)


# --- the rules (pure) ------------------------------------------------------------------

def month_end(month: str) -> date:
    """The last day of ``YYYY-MM``."""
    year, number = (int(part) for part in month.split("-"))
    return date(year, number, calendar.monthrange(year, number)[1])


def due_date(feed: str, month: str, due_days: dict[str, int]) -> date:
    """The day by which ``feed``'s units of ``month`` are due."""
    return month_end(month) + timedelta(days=due_days[feed])


def is_past_due(due: date, now: datetime) -> bool:
    """True once ``due`` is over (UTC); on the due day itself a unit is still on time.
    A naive ``now`` is taken as UTC."""
    if now.tzinfo is None:
        now = now.replace(tzinfo=UTC)
    return now.astimezone(UTC).date() > due


def state_of(expected: int, arrived: int, due: date, now: datetime) -> str:
    """``loaded``, ``not_due``, ``late`` or ``partial`` for a month's units."""
    if arrived >= expected:
        return "loaded"
    if not is_past_due(due, now):
        return "not_due"
    return "partial" if arrived else "late"


def expected_units(feed: str, month: str) -> list[str]:
    """The units of ``month`` a feed publishes (ports: the feed ports)."""
    if feed == "comtrade":
        return [f"{reporter}:{month}" for reporter in MIRROR_REPORTERS_M49]
    if feed == "rail":
        last = month_end(month)
        return [date(last.year, last.month, day).isoformat() for day in range(1, last.day + 1)]
    if feed == "ports":
        return list(FEED_PORTS)
    return [month]


# --- the grid --------------------------------------------------------------------------

@dataclass(frozen=True)
class Cell:
    """One feed × month of the ingest window."""

    feed: str
    month: str
    state: str
    due_date: date
    units_expected: int
    units_loaded: int
    missing: tuple[str, ...] = ()        # expected units not arrived
    revisions: tuple[int, ...] = ()      # distinct revisions of the arrived units
    statuses: tuple[str, ...] = ()       # distinct statuses of the arrived units
    fetched_at: datetime | None = None   # newest loaded_at (ports: the newest sync)
    calls: dict[str, int] | None = None  # ports: calls per port arriving in the month

    def as_dict(self) -> dict[str, Any]:
        """JSON-serialisable (the manifest's ``feed_status``)."""
        data = asdict(self)
        data.update(due_date=self.due_date.isoformat(), missing=list(self.missing),
                    revisions=list(self.revisions), statuses=list(self.statuses),
                    fetched_at=(self.fetched_at.astimezone(UTC)
                                .strftime("%Y-%m-%dT%H:%M:%SZ") if self.fetched_at else None))
        return data


@dataclass(frozen=True)
class LoadedUnit:
    """What the warehouse holds for one arrived unit."""

    revision: int | None
    status: str | None
    loaded_at: datetime | None


@dataclass
class Snapshot:
    """The warehouse's loads, read once; :meth:`grid` applies the rules at any ``now``."""

    months: Sequence[str]
    due_days: dict[str, int]
    units: dict[str, dict[str, LoadedUnit]] = field(default_factory=dict)  # feed -> unit
    port_calls: dict[tuple[str, str], int] = field(default_factory=dict)  # (port, month)
    port_synced: dict[str, datetime] = field(default_factory=dict)  # port -> synced_at
    port_offsets: dict[str, timezone] = field(default_factory=dict)

    def _port_arrived(self, port: str, month: str) -> LoadedUnit | None:
        synced = self.port_synced.get(port)
        tz = self.port_offsets.get(port, UTC)
        next_midnight = datetime.combine(month_end(month) + timedelta(days=1), time(), tz)
        if synced is None or synced < next_midnight:
            return None
        return LoadedUnit(None, None, synced)

    def cell(self, feed: str, month: str, now: datetime) -> Cell:
        expected = expected_units(feed, month)
        if feed == "ports":
            arrived = {p: u for p in expected if (u := self._port_arrived(p, month))}
        else:
            held = self.units.get(feed, {})
            arrived = {u: held[u] for u in expected if u in held}
        due = due_date(feed, month, self.due_days)
        fetched = [u.loaded_at for u in arrived.values() if u.loaded_at]
        return Cell(
            feed=feed, month=month,
            state=state_of(len(expected), len(arrived), due, now),
            due_date=due, units_expected=len(expected), units_loaded=len(arrived),
            missing=tuple(u for u in expected if u not in arrived),
            revisions=tuple(sorted({u.revision for u in arrived.values()
                                    if u.revision is not None})),
            statuses=tuple(sorted({u.status for u in arrived.values() if u.status})),
            fetched_at=max(fetched, default=None),
            calls=({p: self.port_calls.get((p, month), 0) for p in expected}
                   if feed == "ports" else None),
        )

    def grid(self, now: datetime) -> list[Cell]:
        """Every feed × month of the window, feed by feed, months in order."""
        return [self.cell(feed, month, now) for feed in FEED_IDS for month in self.months]


def read_snapshot(conn, settings: Settings) -> Snapshot:
    """Read ``raw.loaded_units``, ``raw.port_calls`` and ``raw.port_sync_state`` for the
    ingest window (an empty snapshot where the raw schema does not exist yet)."""
    from corridor.reference import feed_ports

    months = settings.ingest_months
    snapshot = Snapshot(months, dict(settings.due_days),
                        port_offsets={code: port.tzinfo for code, port in feed_ports().items()})
    if conn.execute("select to_regclass('raw.loaded_units')").fetchone()[0] is None:
        return snapshot
    rows = conn.execute(
        """
        select u.feed, u.unit, u.revision, u.status, u.loaded_at
        from raw.loaded_units as u
        left join raw.comtrade_reporting as r
          on u.feed = 'comtrade' and r.reporter_code::text || ':' || r.period_month = u.unit
        where u.period_month between %s and %s
          and coalesce(r.has_reported, true)
          and not (u.feed = 'rail' and u.status is not distinct from 'rejected')
        """, (months[0], months[-1])).fetchall()
    for feed, unit, revision, status, loaded_at in rows:
        snapshot.units.setdefault(feed, {})[unit] = LoadedUnit(revision, status, loaded_at)
    for port, tz in snapshot.port_offsets.items():
        offset = tz.utcoffset(None)
        calls = conn.execute(
            """
            select to_char(arrived_at::timestamptz at time zone %s::interval, 'YYYY-MM') as m,
                   count(*)
            from raw.port_calls where port = %s and arrived_at is not null
            group by m
            """, (offset, port)).fetchall()
        snapshot.port_calls.update({(port, month): count for month, count in calls})
    snapshot.port_synced.update(conn.execute(
        "select port, synced_at from raw.port_sync_state").fetchall())
    return snapshot


def build_grid(conn, settings: Settings, now: datetime) -> list[Cell]:
    """The feed × month grid of the ingest window as of ``now``."""
    return read_snapshot(conn, settings).grid(now)


def cell_text(c: Cell) -> str:
    """A cell in a few words: ``loaded r2 final 2025-02-03``, ``partial 7/9 due 2024-12-29``."""
    parts = [c.state]
    if c.feed == "ports":
        parts.append("+".join(str(n) for n in (c.calls or {}).values()) + " calls")
    if c.feed in ("comtrade", "rail") or (c.feed == "ports" and c.state != "loaded"):
        parts.append(f"{c.units_loaded}/{c.units_expected}")
    if c.revisions:
        low, high = c.revisions[0], c.revisions[-1]
        parts.append(f"r{low}" if low == high else f"r{low}-{high}")
    parts += c.statuses
    if c.state == "loaded":
        parts.append(c.fetched_at.astimezone(UTC).date().isoformat()
                     if c.fetched_at else "")
    else:
        parts.append(f"due {c.due_date.isoformat()}")
    return " ".join(p for p in parts if p)


def grid_table(grid: Iterable[Cell]) -> tuple[list[str], list[list[Cell | str]]]:
    """Header and rows (one per month, a column per feed) for printing the grid."""
    by_key = {(c.feed, c.month): c for c in grid}
    feeds = [f for f in FEED_IDS if any(k[0] == f for k in by_key)]
    months = sorted({k[1] for k in by_key})
    return (["month", *feeds],
            [[month, *(by_key.get((f, month), "") for f in feeds)] for month in months])


# --- summaries and alerts --------------------------------------------------------------

@dataclass(frozen=True)
class FeedSummary:
    feed: str
    done: int     # arrived units of the months already due
    due: int      # expected units of the months already due
    early: int    # arrived units of months not due yet
    late: int     # due units not arrived

    def line(self) -> str:
        return (f"{self.feed:<11} {self.done}/{self.due} units done / due, {self.late} late, "
                f"{self.early} arrived before due")


def summarise(grid: Iterable[Cell], now: datetime) -> list[FeedSummary]:
    """Per feed: units done / due (a month is due once its due date has passed)."""
    totals: dict[str, list[int]] = {}
    for c in grid:
        done, due, early = totals.setdefault(c.feed, [0, 0, 0])
        if is_past_due(c.due_date, now):
            totals[c.feed] = [done + c.units_loaded, due + c.units_expected, early]
        else:
            totals[c.feed] = [done, due, early + c.units_loaded]
    return [FeedSummary(feed, done, due, early, due - done)
            for feed, (done, due, early) in totals.items()]


def late_units(grid: Iterable[Cell]) -> list[tuple[str, str, date]]:
    """(feed, month, due date) of every month with units late (``late`` or ``partial``)."""
    return [(c.feed, c.month, c.due_date) for c in grid if c.state in ("late", "partial")]


def _late_message(c: Cell, shown: int = 10) -> str:
    message = f"corridor late: {c.feed} {c.month} was due {c.due_date.isoformat()}, "
    if c.state == "late":
        return message + "not arrived"
    missing = [u.split(":")[0] if c.feed == "comtrade" else u for u in c.missing]
    more = f", +{len(missing) - shown} more" if len(missing) > shown else ""
    return (message + f"{c.units_loaded}/{c.units_expected} units arrived "
            f"(missing {', '.join(missing[:shown])}{more})")


def alert_late(grid: Iterable[Cell], logger: logging.Logger | None = None
               ) -> list[tuple[str, str, date]]:
    """Log one WARNING per late feed-month (e.g. ``corridor late: ru_customs 2024-11 was
    due 2025-01-14, not arrived``); return :func:`late_units` of the grid."""
    logger = logger or log
    cells = [c for c in grid if c.state in ("late", "partial")]
    for c in cells:
        logger.warning("%s", _late_message(c))
    return late_units(cells)


def check_late(now: datetime | None = None, *, settings: Settings | None = None,
               dsn=None, feed: str | None = None) -> list[tuple[str, str, date]]:
    """Read the warehouse (at ``dsn``, else as the loader) and :func:`alert_late` (the
    poll DAGs call it for their feed after each load; ``now`` defaults to the current UTC
    time, the only place the clock is read)."""
    from corridor.config import get_settings
    from corridor.warehouse import connect
    from corridor.window import resolve

    settings = resolve(settings or get_settings(), dsn=dsn, role="loader")
    with connect(dsn, role="loader") as conn:
        grid = build_grid(conn, settings, now or datetime.now(UTC))
    return alert_late([c for c in grid if feed is None or c.feed == feed])


def late_units_callback(context: dict[str, Any] | None = None) -> None:
    """Airflow callback shape (``on_success_callback=late_units_callback``)."""
    check_late()
