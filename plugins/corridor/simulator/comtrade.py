"""``comtrade``: partner (mirror) data in the UN Comtrade API v1 format (spec/feeds.md §3).

A mirror reporter j's month mirrors what Russia and Kazakhstan recorded of their
trade with j (``national_lines``): j's imports are their exports, valued CIF
(bar EAEU and FOB importers), and the other way round, with a little noise.
``/data/v1/getDa`` lists the units published (with a checksum of their rows),
``/data/v1/get`` answers filtered queries, at most ``comtrade_record_cap`` rows.
With a disk cache (bodies.py) a unit's rows are written once (a JSON row a line, its
checksum and record count beside them): the data calls read them back, ``getDa`` reads
only the figures.
"""

from __future__ import annotations

import json
from collections import defaultdict
from datetime import datetime, timedelta
from typing import Any

from corridor.config import month_add
from corridor.simulator import calibration as cal
from corridor.simulator.bodies import CachedBody
from corridor.simulator.common import (
    _extra_code,
    _insert_after,
    _mirror_m49,
    countries_by_m49,
    hs6_descriptions,
    sha256_hex,
)
from corridor.simulator.faults import _row_key
from corridor.simulator.trade import NationalTrade


class Comtrade(NationalTrade):
    """The comtrade feed."""

    def comtrade_reported(self, reporter_m49: int, period_month: str) -> bool:
        if reporter_m49 not in _mirror_m49() or period_month not in self.months:
            return False
        if reporter_m49 in cal.COMTRADE_NEVER_REPORTS:
            return False
        late = cal.COMTRADE_LATE_MONTHS.get(reporter_m49, 0)
        if late and period_month in self.months[-late:]:
            return False
        return f"{reporter_m49}:{period_month}" not in self._unpublished("comtrade")

    def comtrade_rows(self, reporter_m49: int, period_month: str) -> list[dict[str, Any]]:
        """Every row reporter j publishes for a month (leaves, breakdowns, totals)."""
        with self._lock:
            return self._comtrade_rows_at(
                reporter_m49, period_month,
                self.revision_steps("comtrade", f"{reporter_m49}:{period_month}"))

    def _comtrade_rows_at(self, reporter_m49: int, period_month: str,
                          steps: int) -> list[dict[str, Any]]:
        unit = f"{reporter_m49}:{period_month}"

        def build():
            if not self.comtrade_reported(reporter_m49, period_month):
                return []
            rows = self._build_comtrade(reporter_m49, period_month)
            if self._extra_columns("comtrade"):
                rows = [_insert_after(row, "isLeaf",
                                      {"datasetCode": int(_extra_code(_row_key("comtrade", row),
                                                                      9)),
                                       "isExtraRevised": False})
                        for row in rows]
            return rows
        return self._at_step(("comtrade", reporter_m49, period_month), steps, build,
                             lambda rows, step: self._revise_comtrade(unit, rows, step))

    def _build_comtrade(self, j: int, period_month: str) -> list[dict[str, Any]]:
        rng = self._rng("comtrade", f"{j}:{period_month}")
        j_iso2 = countries_by_m49()[j]["iso2"]
        leaves: list[dict[str, Any]] = []
        totals: dict[tuple[str, int], list[float]] = {}
        for i_reporter, i_m49 in (("RUS", 643), ("KAZ", 398)):
            factor = 1.0 if (j in cal.EAEU_M49 and i_m49 in cal.EAEU_M49) else cal.CIF_FOB_FACTOR
            by_hs6: dict[tuple[str, str], list[float]] = defaultdict(lambda: [0.0, 0.0])
            for line in self.national_lines(i_reporter, period_month):
                if line.partner_iso2 != j_iso2:
                    continue
                # j's imports mirror i's exports and the other way round.
                mirror_flow = "M" if line.flow == "X" else "X"
                acc = by_hs6[(mirror_flow, line.tnved[:6])]
                acc[0] += line.value_cents / 100
                acc[1] += line.netto_g / 1000
            for (flow, hs6), (value, kg) in sorted(by_hs6.items()):
                noise = rng.gauss(1.0, 0.025)
                if flow == "M":
                    value = value * (factor if j not in cal.COMTRADE_FOB_IMPORTERS else 1.0) * noise
                else:
                    value = value / factor * noise
                kg = kg * rng.gauss(1.0, 0.04)
                row = self._comtrade_row(j, i_m49, period_month, flow, hs6, round(value, 2),
                                         round(max(kg, 0.001), 3))
                leaves.append(row)
                tot = totals.setdefault((flow, i_m49), [0.0, 0.0])
                tot[0] += row["primaryValue"]
                tot[1] += row["netWgt"]
        rows = list(leaves)
        # Breakdown rows (mode of transport, customs procedure, second partner): they
        # repeat part of a leaf's value and must not be summed with the leaves.
        for leaf in leaves:
            if rng.random() >= 0.12:
                continue
            share = round(rng.uniform(0.3, 0.9), 2)
            kind = rng.choice(("mot", "customs", "partner2"))
            extra = dict(leaf)
            for key in ("primaryValue", "cifvalue", "fobvalue", "netWgt", "qty"):
                if isinstance(extra.get(key), float):
                    extra[key] = round(extra[key] * share, 2)
            if kind == "mot":
                extra["motCode"], extra["motDesc"] = rng.choice(
                    ((2100, "Sea"), (3100, "Railway"), (3200, "Road")))
            elif kind == "customs":
                extra["customsCode"], extra["customsDesc"] = "C01", "Clearance for home use"
            else:
                other = 643 if leaf["partnerCode"] == 398 else 398
                extra["partner2Code"] = other
                extra["partner2ISO"], extra["partner2Desc"] = cal.COMTRADE_AREAS[other]
            rows.append(extra)
        # Broken leaves only: breakdown rows above were copied from the clean ones.
        broken = {key for key, _ in self._break_rows("comtrade", f"{j}:{period_month}", leaves)}
        duplicated = self._append_duplicates(
            "comtrade", f"{j}:{period_month}", leaves,
            {n for n, leaf in enumerate(leaves) if _row_key("comtrade", leaf) in broken})
        self._cache[("duplicates", "comtrade", f"{j}:{period_month}")] = duplicated
        rows.extend(dict(leaf) for leaf in leaves[len(leaves) - len(duplicated):])
        for (flow, i_m49), (value, _kg) in sorted(totals.items()):
            rows.append(self._comtrade_total(j, i_m49, period_month, flow, round(value, 2)))
        world_total = sum(v for v, _ in totals.values()) * cal.COMTRADE_WORLD_MULTIPLIER[j]
        for flow, share in (("M", 0.55), ("X", 0.45)):
            rows.append(self._comtrade_total(j, 0, period_month, flow,
                                             round(max(world_total, 1e6) * share, 2)))
        return rows

    def _comtrade_row(self, j: int, partner: int, period_month: str, flow: str, hs6: str,
                      value: float, kg: float) -> dict[str, Any]:
        year, month = int(period_month[:4]), int(period_month[5:7])
        reporter_iso, reporter_desc = cal.COMTRADE_AREAS[j]
        partner_iso, partner_desc = cal.COMTRADE_AREAS[partner]
        fob_import = flow == "M" and j in cal.COMTRADE_FOB_IMPORTERS
        cif = value if flow == "M" and not fob_import else None
        fob = value if cif is None else None
        return {
            "typeCode": "C", "freqCode": "M", "refPeriodId": year * 10000 + month * 100 + 1,
            "refYear": year, "refMonth": month, "period": f"{year}{month:02d}",
            "reporterCode": j, "reporterISO": reporter_iso, "reporterDesc": reporter_desc,
            "flowCode": flow, "flowDesc": "Import" if flow == "M" else "Export",
            "partnerCode": partner, "partnerISO": partner_iso, "partnerDesc": partner_desc,
            "partner2Code": 0, "partner2ISO": "W00", "partner2Desc": "World",
            "classificationCode": "H6" if period_month >= "2022-01" else "H5",
            "classificationSearchCode": "HS", "isOriginalClassification": True,
            "cmdCode": hs6, "cmdDesc": hs6_descriptions().get(hs6, ""), "aggrLevel": len(hs6),
            "isLeaf": len(hs6) == 6, "customsCode": "C00", "customsDesc": "TOTAL CPC",
            "mosCode": "0", "motCode": 0, "motDesc": "TOTAL MOT",
            "qtyUnitCode": 8, "qtyUnitAbbr": "kg", "qty": kg, "isQtyEstimated": False,
            "altQtyUnitCode": None, "altQtyUnitAbbr": None, "altQty": None,
            "isAltQtyEstimated": False, "netWgt": kg, "isNetWgtEstimated": False,
            "grossWgt": None, "isGrossWgtEstimated": False, "cifvalue": cif, "fobvalue": fob,
            "primaryValue": value, "legacyEstimationFlag": 0, "isReported": True,
            "isAggregate": False,
        }

    def _comtrade_total(self, j: int, partner: int, period_month: str, flow: str,
                        value: float) -> dict[str, Any]:
        row = self._comtrade_row(j, partner, period_month, flow, "TOTAL", value, 0.0)
        row.update({"cmdDesc": "All Commodities", "aggrLevel": 0, "isLeaf": False,
                    "qtyUnitCode": -1, "qtyUnitAbbr": "N/A", "qty": None, "netWgt": None,
                    "isAggregate": True})
        return row

    def _comtrade_release_times(self, j: int, period_month: str, steps: int) -> tuple[str, str]:
        """(firstReleased, lastReleased): first 1-3 months after the month (before the
        world's now); each revision step moves lastReleased on by a day (never capped, so
        it moves at every step)."""
        rng = self._rng("comtrade", f"{j}:{period_month}:released")
        lag = 1 + cal.COMTRADE_LATE_MONTHS.get(j, 0) + rng.randint(0, 1)
        first = datetime.fromisoformat(f"{month_add(period_month, lag)}-01T09:30:00")
        first += timedelta(days=rng.randint(0, 26))
        first = min(first, self.now.replace(tzinfo=None, hour=9, minute=30)
                    - timedelta(days=2))
        last = first + timedelta(days=steps)
        return (first.isoformat(timespec="seconds"), last.isoformat(timespec="seconds"))

    def comtrade_body(self, j: int, period_month: str, steps: int) -> CachedBody:
        """A published unit's rows as a file of the disk cache (``json.dumps(row)`` a line,
        CRLF), its ``totalRecords`` and ``datasetChecksum`` in the figures. The rows do not
        depend on the calendar (only whether the unit is out does): no month in the name."""
        assert self.bodies is not None, "comtrade_body needs a world with a cache_dir"
        facts: dict[str, Any] = {}

        def generate():
            rows = self._comtrade_rows_at(j, period_month, steps)
            facts.update(totalRecords=len(rows), datasetChecksum=_checksum(rows))
            for start in range(0, len(rows), 1000):
                yield "".join(json.dumps(row, ensure_ascii=False) + "\r\n"
                              for row in rows[start:start + 1000]).encode("utf-8")
        return self.bodies.get("comtrade", f"{j}-{period_month}.s{steps}", generate,
                               facts=lambda: facts)

    def comtrade_month_bodies(self, period_month: str, forget: bool = True) -> None:
        """Every published unit of a month into the disk cache, then (``forget``) the
        month's records out of memory: the reporters share the month's national lines."""
        with self._lock:
            for j in _mirror_m49():
                if self.comtrade_reported(j, period_month):
                    self.comtrade_body(j, period_month,
                                       self.revision_steps("comtrade", f"{j}:{period_month}"))
            if forget:
                self.forget_month(period_month)

    def _comtrade_cached(self, j: int, period_month: str) -> CachedBody:
        """The unit's cached body at its current step (its month written first if not)."""
        with self._lock:
            steps = self.revision_steps("comtrade", f"{j}:{period_month}")
            name = f"{j}-{period_month}.s{steps}"
            body = self.bodies.lookup("comtrade", name)
            if body is None:
                self.comtrade_month_bodies(period_month)
                body = self.comtrade_body(j, period_month, steps)
            return body

    def _comtrade_served_rows(self, j: int, period_month: str) -> list[dict[str, Any]]:
        """``comtrade_rows`` as the server answers them: from the disk cache when there is
        one (JSON round-trips every value of a row exactly, in its key order)."""
        if self.bodies is None:
            return self.comtrade_rows(j, period_month)
        if not self.comtrade_reported(j, period_month):
            return []
        body = self._comtrade_cached(j, period_month)
        with body.path.open("rb") as handle:
            return [json.loads(line) for line in handle]

    def _availability_row(self, j: int, period_month: str) -> dict[str, Any]:
        with self._lock:
            steps = self.revision_steps("comtrade", f"{j}:{period_month}")
            if self.bodies is not None:
                facts = self._comtrade_cached(j, period_month).facts
                return self._availability_fields(j, period_month, steps,
                                                 facts["totalRecords"],
                                                 facts["datasetChecksum"])

            def build():
                rows = self._comtrade_rows_at(j, period_month, steps)
                return self._availability_fields(j, period_month, steps, len(rows),
                                                 _checksum(rows))
            return dict(self._cached(("comtrade_da", j, period_month, steps), build))

    def _availability_fields(self, j: int, period_month: str, steps: int, records: int,
                             checksum: str) -> dict[str, Any]:
        first, last = self._comtrade_release_times(j, period_month, steps)
        year, month = int(period_month[:4]), int(period_month[5:7])
        return {
            "typeCode": "C", "freqCode": "M",
            "classificationCode": "H6" if period_month >= "2022-01" else "H5",
            "classificationSearchCode": "HS", "isOriginalClassification": True,
            "reporterCode": j, "period": f"{year}{month:02d}", "refYear": year,
            "refMonth": month, "totalRecords": records,
            "datasetChecksum": checksum,
            "firstReleased": first, "lastReleased": last,
        }

    def comtrade_availability(self, reporters: list[int] | set[int] | None = None,
                              periods: list[str] | set[str] | None = None
                              ) -> list[dict[str, Any]]:
        """The ``/data/v1/getDa/C/M/HS`` rows: one per (reporter, month) published.

        ``reporters``: m49 codes (None = all mirror reporters); ``periods``: ``YYYYMM``
        (or ``YYYY-MM``; None = every month of the world). Ordered by (reporter, period).
        ``datasetChecksum`` is the sha256 of the unit's rows as canonical JSON (sorted
        keys, compact), so it changes exactly when the unit's rows do.
        """
        codes = sorted(set(_mirror_m49()) if reporters is None else set(reporters))
        if periods is None:
            months = list(self.months)
        else:
            months = sorted({p if "-" in p else f"{p[:4]}-{p[4:]}" for p in periods
                             if len(p.replace("-", "")) == 6 and p.replace("-", "").isdigit()})
        return [self._availability_row(j, t) for j in codes for t in months
                if self.comtrade_reported(j, t)]

    def comtrade_query(self, params: dict[str, str]) -> list[dict[str, Any]]:
        """Rows answering a ``/data/v1/get/C/M/HS`` query (filters as the real API's)."""
        def ints(name: str) -> set[int] | None:
            raw = params.get(name)
            if raw in (None, "", "all"):
                return None
            return {int(part) for part in raw.split(",") if part.strip()}

        def texts(name: str) -> set[str] | None:
            raw = params.get(name)
            if raw in (None, "", "all"):
                return None
            return {part.strip() for part in raw.split(",") if part.strip()}

        reporters = ints("reporterCode") or set()
        periods = texts("period") or set()
        partners, flows, commodities = ints("partnerCode"), texts("flowCode"), texts("cmdCode")
        rows: list[dict[str, Any]] = []
        for reporter in sorted(reporters):
            for period in sorted(periods):
                if len(period) != 6 or not period.isdigit():
                    continue
                for row in self._comtrade_served_rows(reporter,
                                                      f"{period[:4]}-{period[4:]}"):
                    if partners is not None and row.get("partnerCode") not in partners:
                        continue
                    if flows is not None and row.get("flowCode") not in flows:
                        continue
                    if commodities is not None and row.get("cmdCode") not in commodities:
                        continue
                    # motCode/customsCode/partner2Code are deliberately not filtered: breakdown
                    # rows "may come anyway" (spec) and the client must drop them.
                    rows.append(row)
        return rows[:self.config.comtrade_record_cap]


def _checksum(rows: list[dict[str, Any]]) -> str:
    """``datasetChecksum``: sha256 of the rows as canonical JSON (sorted keys, compact)."""
    canonical = json.dumps(rows, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                           allow_nan=False)
    return sha256_hex(canonical.encode("utf-8"))
