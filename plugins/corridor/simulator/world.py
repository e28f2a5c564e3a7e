"""The simulated world: deterministic RU/KZ trade, mirror, port and rail data.

Everything is a pure function of ``SimConfig``: each unit (a month of a customs
feed, a (reporter, month) of Comtrade, a port-month, a rail day) draws from its
own ``random.Random(f"{seed}:{feed}:{unit}")``, so units are independent, lazily
generated and cached. The HTTP server only serialises what this package returns.

``World`` is the five feeds together, one module each (ru_customs, kz_customs,
comtrade, ports, rail) over the national truth (trade.py), the faults (faults.py,
which lists every fault key) and the shared core (common.py).
"""

from __future__ import annotations

import time
from typing import Any

from corridor.simulator.common import (  # noqa: F401 - re-exported: the package's names
    FEEDS,
    SimConfig,
    TradeLine,
    _is_month,
    countries,
    countries_by_m49,
    dumps,
    sha256_hex,
)
from corridor.simulator.comtrade import Comtrade
from corridor.simulator.faults import _row_key  # noqa: F401 - re-exported
from corridor.simulator.kz_customs import KzCustoms
from corridor.simulator.ports import Ports
from corridor.simulator.rail import RAIL_NAMESPACE, Rail  # noqa: F401 - re-exported
from corridor.simulator.ru_customs import (  # noqa: F401 - re-exported
    RU_CSV_HEADER,
    RU_EXTRA_COLUMN,
    RU_STREAM_THRESHOLD_ROWS,
    RuCustoms,
    ru_rows_per_month,
)


class World(RuCustoms, KzCustoms, Comtrade, Ports, Rail):
    """The simulated world behind the five feeds (pure data; see server.py for HTTP)."""

    def revise(self, feed: str, unit: str) -> dict[str, Any]:
        """Re-publish one unit now, one revision step further (as ``shrinking_revision``).

        ``unit``: ``YYYY-MM`` (ru_customs, kz_customs), ``"<reporter m49>:YYYY-MM"``
        (comtrade), ``YYYY-MM-DD`` (rail). Customs: revision+1, ~3 % of the rows vanish,
        ~5 % change value. Comtrade: a few leaves vanish or change value (their partner
        TOTAL follows), so ``datasetChecksum`` and ``lastReleased`` change. Rail: revision+1,
        a consignment fewer, some tonnes changed. Nothing else changes (comtrade rows
        derive from the national truth, not from what the customs feeds published).
        Raises ``ValueError`` for an unknown feed or a malformed unit, ``KeyError`` for a
        unit that is not published. Returns the unit's new state.
        """
        if feed not in ("ru_customs", "kz_customs", "comtrade", "rail"):
            raise ValueError(f"feed {feed!r} cannot be revised "
                             "(ru_customs, kz_customs, comtrade, rail)")
        if not isinstance(unit, str):
            raise ValueError("unit must be a string")
        if feed in ("ru_customs", "kz_customs"):
            if not _is_month(unit):
                raise ValueError("unit must be YYYY-MM")
            listed = self.ru_periods() if feed == "ru_customs" else self.kz_periods_list()
            if unit not in listed:
                raise KeyError(f"{feed} {unit} is not published")
        elif feed == "comtrade":
            reporter, _, period_month = unit.partition(":")
            if not reporter.isdigit() or not _is_month(period_month):
                raise ValueError("unit must be <reporter m49>:YYYY-MM")
            unit = f"{int(reporter)}:{period_month}"
            if not self.comtrade_reported(int(reporter), period_month):
                raise KeyError(f"comtrade {unit} is not published")
        else:
            if len(unit) != 10 or not unit[:4].isdigit():
                raise ValueError("unit must be YYYY-MM-DD")
            if not self.rail_day_exists(unit):
                raise KeyError(f"rail {unit} is not out")
        with self._lock:
            self._live_steps[(feed, unit)] += 1
            steps = self.revision_steps(feed, unit)
            state: dict[str, Any] = {"feed": feed, "unit": unit, "revision_steps": steps}
            if feed in ("ru_customs", "kz_customs"):
                state["revision"] = self.customs_revision(feed, unit)[0]
            elif feed == "comtrade":
                row = self._availability_row(int(unit.partition(":")[0]), unit[-7:])
                state.update({k: row[k] for k in ("datasetChecksum", "lastReleased",
                                                  "totalRecords")})
            else:
                state["revision"] = self.rail_report(unit)["revision"]
            return state

    # ----- the disk cache

    def generate_all(self) -> dict[str, Any]:
        """Write every body of the world to the disk cache (those already there are read),
        month by month, each month's records dropped from memory once its bodies are
        written: the KZ month and the Comtrade units share its national lines. Returns
        the seconds and units per feed (ports are built in memory when first asked)."""
        assert self.bodies is not None, "generate_all needs a world with a cache_dir"
        seconds: dict[str, float] = dict.fromkeys(("ru_customs", "kz_customs", "comtrade",
                                                   "rail"), 0.0)
        units: dict[str, int] = dict.fromkeys(seconds, 0)

        def timed(feed: str, work) -> None:
            started = time.perf_counter()
            work()
            seconds[feed] += time.perf_counter() - started
            units[feed] += 1
        ru, kz = set(self.ru_periods()), set(self.kz_periods_list())
        for period_month in self.months:
            if period_month in ru:
                timed("ru_customs", lambda m=period_month: self.ru_release(m))
            with self._lock:
                if period_month in kz:
                    timed("kz_customs", lambda m=period_month: self.kz_body(
                        m, self.revision_steps("kz_customs", m)))
                timed("comtrade", lambda m=period_month: self.comtrade_month_bodies(
                    m, forget=False))
                self.forget_month(period_month)
        for day in self.rail_days():
            timed("rail", lambda d=day: self.rail_body(d))
        return {"seconds": {feed: round(value, 3) for feed, value in seconds.items()},
                "units": units}

    # ----- what the content faults did

    def malformed_keys(self, feed: str, unit: str) -> list[tuple]:
        """Which rows of a unit the malformed-rows fault broke, and why: the reason the
        feed's parser rejects each with (the rule's, simulator/malformed.py).

        ``unit``: ``YYYY-MM`` (customs), ``"<reporter m49>:YYYY-MM"`` (comtrade),
        ``"<LOCODE>:YYYY-MM"`` (ports, local arrival month), ``YYYY-MM-DD`` (rail).
        Row refs: ru_customs 1-based data line; kz_customs 0-based item index;
        comtrade the row key (reporterCode, period, flowCode, partnerCode,
        partner2Code, cmdCode, motCode, customsCode); ports (call_id, cargo line
        index); rail 0-based consignment index in document order.
        """
        return self._fault_record("malformed", feed, unit)

    def duplicate_keys(self, feed: str, unit: str) -> list[tuple]:
        """Keys the duplicate_rows fault delivered twice in a unit (units as ``malformed_keys``).

        Keys: ru_customs (napr, strana, tnved, region); kz_customs (flow, tn_ved,
        partner_m49, transport_mode, customs_regime); comtrade the 8-field row key;
        rail (point, direction, transit, gng, wagons, teu, tonnes, origin, destination):
        the spec names no rail row key, so a rail "duplicate" is an identical consignment.
        """
        if feed == "ports":
            return []
        return self._fault_record("duplicates", feed, unit)

    def _fault_record(self, kind: str, feed: str, unit: str) -> list:
        """What a content fault recorded for a unit, generating the unit first."""
        if feed == "ru_customs":
            self.ru_rows(unit)
        elif feed == "kz_customs":
            self.kz_items(unit)
        elif feed == "comtrade":
            reporter, _, period_month = unit.partition(":")
            self.comtrade_rows(int(reporter), period_month)
        elif feed == "ports":
            port, _, period_month = unit.partition(":")
            self.port_calls_month(port, period_month)
        elif feed == "rail":
            self.rail_report(unit)
        else:
            return []
        if feed in ("ru_customs", "kz_customs"):
            return list(self._cache.get((kind, feed, unit, self.revision_steps(feed, unit)), []))
        return list(self._cache.get((kind, feed, unit), []))
