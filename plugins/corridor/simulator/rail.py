"""``rail``: the daily XML reports of the Kazakh border rail crossings (spec/feeds.md §5).

``/rail/v1/crossings/YYYY-MM-DD.xml``: per crossing point and (direction,
transit), the consignments of the day (ETag'd; a re-publication is revision+1).
With a disk cache (bodies.py) a day's XML is written once and sent from the file.
"""

from __future__ import annotations

import math
from datetime import date, datetime, timedelta
from typing import Any

from corridor.reference import read_seed
from corridor.simulator import calibration as cal
from corridor.simulator.bodies import CachedBody
from corridor.simulator.common import (
    TZ_KZ,
    _extra_code,
    _iso,
    _month_bounds,
    _poisson,
    _weighted_index,
)
from corridor.simulator.faults import ContentFaults

RAIL_NAMESPACE = "urn:corridor:rail:crossing:1"


class Rail(ContentFaults):
    """The rail feed."""

    def rail_days(self) -> list[str]:
        first = date.fromisoformat(self.config.first_month + "-01")
        _, end = _month_bounds(self.config.last_month, TZ_KZ)
        days, current = [], first
        while current < end.date():
            if current.isoformat() not in self._unpublished("rail"):
                days.append(current.isoformat())
            current += timedelta(days=1)
        return days

    def rail_day_exists(self, day: str) -> bool:
        try:
            parsed = date.fromisoformat(day)
        except ValueError:
            return False
        return (self.config.first_month <= day[:7] <= self.config.last_month
                and parsed.isoformat() == day and day not in self._unpublished("rail"))

    def rail_report(self, day: str) -> dict[str, Any]:
        """The day's report as data: revision, generated, crossings -> consignments."""
        with self._lock:
            steps = self.revision_steps("rail", day)
            return self._cached(("rail", day, steps), lambda: self._build_rail(day, steps))

    def _build_rail(self, day: str, steps: int = 0) -> dict[str, Any]:
        rng = self._rng("rail", day)
        revision = 2 if rng.random() < 0.03 else 1
        generated = datetime.fromisoformat(day + "T03:00:00+05:00") + timedelta(
            days=1 if revision == 1 else 3)
        season = cal.SEASONALITY[int(day[5:7]) - 1]
        crossings: list[dict[str, Any]] = []
        nothing_crossed = rng.random() < 0.004
        railways = {row["point"]: row["neighbour_railway"]
                    for row in read_seed("ref_rail_crossings")}
        for point, (per_day, mean_wagons) in cal.RAIL_POINTS.items():
            n = 0 if nothing_crossed else _poisson(rng, per_day * season * self.config.logistics)
            if not n:
                continue
            templates = cal.RAIL_FLOWS[point]
            movements: dict[tuple[str, bool], list[dict[str, Any]]] = {}
            for _ in range(n):
                share, direction, transit, origins, destinations, kind, goods = templates[
                    _weighted_index(rng, [t[0] for t in templates])]
                wagons = max(1, round(rng.lognormvariate(math.log(mean_wagons), 0.6)))
                if kind == "container" and transit:
                    wagons = rng.randint(40, 57)  # block container trains
                if kind == "container":
                    teu = wagons * rng.choice((2, 2, 3))
                    tonnes = teu * rng.uniform(8, 14)
                else:
                    teu = 0
                    tonnes = wagons * rng.uniform(58, 70)
                hs6 = rng.choice(goods)
                consignment = {"gng": hs6 + rng.choice(("00", "10", "90", "99")),
                               "wagons": str(wagons), "teu": str(teu),
                               "tonnes": f"{round(tonnes * 1000) / 1000:.3f}",
                               "origin": rng.choice(origins),
                               "destination": rng.choice(destinations)}
                movements.setdefault((direction, transit), []).append(consignment)
            crossings.append({"point": point, "partnerRailway": railways.get(point, ""),
                              "movements": [{"direction": d, "transit": t, "consignments": c}
                                            for (d, t), c in sorted(movements.items())]})
        report = {"date": day, "revision": revision, "generated": _iso(generated),
                  "crossings": crossings}
        for step in range(1, steps + 1):
            self._shrink_rail(day, report, step)
        self._break_rail(day, report)
        self._duplicate_rail(day, report)
        return report

    def rail_body(self, day: str) -> CachedBody:
        """The day's XML as a file of the disk cache; a day does not depend on the calendar
        (only whether it is out does), so its name is the day and its re-publications."""
        assert self.bodies is not None, "rail_body needs a world with a cache_dir"
        with self._lock:
            steps = self.revision_steps("rail", day)

            def generate():
                yield self._rail_xml_build(day)
                self._cache.pop(("rail", day, steps), None)
                self._cache.pop(("rail_xml", day, steps), None)
            return self.bodies.get("rail", f"{day}.s{steps}", generate)

    def rail_xml(self, day: str) -> bytes:
        with self._lock:  # the report and the key of one revision step
            return self._cached(("rail_xml", day, self.revision_steps("rail", day)),
                                lambda: self._rail_xml_build(day))

    def _rail_xml_build(self, day: str) -> bytes:
        extra = self._extra_columns("rail")
        with self._lock:  # the report of the current revision step
            return report_xml(self.rail_report(day), extra)


def report_xml(report: dict[str, Any], extra: bool = False) -> bytes:
    """A report (:meth:`Rail.rail_report`) as the feed's XML; ``extra``: with unknown
    attributes and elements (the ``extra_columns`` fault)."""
    issuer = ' issuer="KTZ-CARGO"' if extra else ""
    out = ['<?xml version="1.0" encoding="UTF-8"?>',
           f'<crossingReport xmlns="{RAIL_NAMESPACE}"',
           f'                date="{report["date"]}" revision="{report["revision"]}"',
           f'                generated="{report["generated"]}"{issuer}>']
    if extra:  # an unknown child element before the crossings
        total = sum(len(m["consignments"]) for c in report["crossings"]
                    for m in c["movements"])
        out.append(f'  <summary consignments="{total}" '
                   f'crossings="{len(report["crossings"])}"/>')
    for crossing in report["crossings"]:
        out.append(f'  <crossing point="{crossing["point"]}" '
                   f'partnerRailway="{crossing["partnerRailway"]}">')
        for movement in crossing["movements"]:
            transit = movement["transit"]  # a bool, or text a fault broke
            transit = transit if isinstance(transit, str) else str(transit).lower()
            trains = (f' trains="{1 + len(movement["consignments"]) // 3}"'
                      if extra else "")
            out.append(f'    <movement direction="{movement["direction"]}" '
                       f'transit="{transit}"{trains}>')
            if extra:
                out.append(f'      <locomotive series="2TE{10 + len(out) % 25}"/>')
            for c in movement["consignments"]:
                attrs = " ".join(f'{k}="{c[k]}"' for k in
                                 ("gng", "wagons", "teu", "tonnes", "origin", "destination")
                                 if k in c)
                if extra:
                    attrs += f' waybill="{_extra_code(c, 8)}"'
                out.append(f"      <consignment {attrs}/>")
            out.append("    </movement>")
        out.append("  </crossing>")
    out.append("</crossingReport>")
    return ("\n".join(out) + "\n").encode("utf-8")
