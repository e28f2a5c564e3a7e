"""``ports``: vessel calls at the Kazakh Caspian ports (spec/feeds.md §4).

Every call is a sequence of versions (scheduled, at berth, departed, or
cancelled), each with its ``updated_at``; ``/ports/v1/vessel-calls`` pages through
the versions visible at the world's "now", optionally from ``updated_since``.
A port-month's calls draw from their own stream, and each call from its own.
"""

from __future__ import annotations

import random
from bisect import bisect_left
from datetime import UTC, datetime, timedelta, timezone
from functools import cached_property
from typing import Any

from corridor.config import month_add
from corridor.simulator import calibration as cal
from corridor.simulator.common import (
    TZ_KZ,
    RawNumber,
    _extra_code,
    _insert_after,
    _iso,
    _month_bounds,
    _weighted_index,
)
from corridor.simulator.faults import ContentFaults


class Ports(ContentFaults):
    """The ports feed."""

    def port_months(self) -> list[str]:
        return self.months + [month_add(self.config.last_month, 1)]

    def port_calls_month(self, port: str, period_month: str) -> list[dict[str, Any]]:
        """All versions (dicts) of the calls arriving at ``port`` in a local month."""
        return self._cached(("ports", port, period_month),
                            lambda: self._build_port_month(port, period_month))

    @cached_property
    def _fleet(self) -> dict[str, list[dict[str, str]]]:
        rng = self._rng("ports", "fleet")
        first = ("CASPIAN", "AKTAU", "MANGYSTAU", "BEKET", "ASTANA", "ALATAU", "BAKU",
                 "SHIRVAN", "GOBUSTAN", "KARABAKH", "TURKMEN", "VOLGA", "ASTRAKHAN", "ARAL",
                 "KURYK", "TENGIZ", "ZHAIK", "BARYS", "AKZHAYIK", "ABSHERON")
        second = ("TRADER", "STAR", "SPIRIT", "PRIDE", "EXPRESS", "GLORY", "VOYAGER", "I",
                  "II", "III", "ATA", "SEA", "WAVE", "BRIDGE", "LINK", "DAWN")
        flags = {"tanker": ("KZ", "AZ", "RU", "KZ"), "bulk": ("RU", "AZ", "TM", "KZ"),
                 "container": ("AZ", "KZ", "AZ"), "general": ("RU", "AZ", "IR", "TM"),
                 "ferry": ("AZ", "TM", "KZ", "AZ")}
        fleet: dict[str, list[dict[str, str]]] = {}
        names: set[str] = set()
        for kind, size in (("tanker", 14), ("bulk", 12), ("container", 10), ("general", 12),
                           ("ferry", 14)):
            fleet[kind] = []
            while len(fleet[kind]) < size:
                name = f"{rng.choice(first)} {rng.choice(second)}"
                if name in names:
                    continue
                names.add(name)
                fleet[kind].append({"imo": _imo(rng), "name": name,
                                    "flag": rng.choice(flags[kind])})
        return fleet

    def _cargo(self, rng: random.Random, kind: str, port: str) -> list[dict[str, Any]]:
        lines: list[dict[str, Any]] = []
        if kind == "tanker":
            lines.append(("load", "liquid_bulk", "27", rng.uniform(5000, 12000), None))
        elif kind == "bulk":
            chapter = rng.choice(("10", "10", "10", "72", "26", "31", "25"))
            operation = "load" if chapter in ("10", "72", "26") else "discharge"
            lines.append((operation, "dry_bulk", chapter, rng.uniform(2500, 5000), None))
        elif kind == "container":
            for operation in ("discharge", "load"):
                teu = rng.randint(20, 260 if operation == "discharge" else 160)
                chapter = rng.choice(("84", "85", "39", "94", None, None))
                lines.append((operation, "container", chapter, teu * rng.uniform(9, 16), teu))
        elif kind == "general":
            chapter = rng.choice(("72", "73", "44", "84", None))
            lines.append((rng.choice(("load", "discharge")), "general", chapter,
                          rng.uniform(800, 3500), None))
        else:  # rail/road ferry
            for operation in ("discharge", "load"):
                if rng.random() < 0.85:
                    chapter = rng.choice(("72", "10", "87", "28", None, None))
                    lines.append((operation, "ro_ro", chapter, rng.uniform(600, 2600), None))
            if rng.random() < 0.3:
                lines.append(("load", "general", rng.choice(("72", None)),
                              rng.uniform(100, 800), None))
            if not lines:
                lines.append(("discharge", "ro_ro", None, rng.uniform(600, 2600), None))
        return [{"operation": op, "cargo_type": ctype, "hs_chapter": ch,
                 "tonnes": RawNumber(f"{round(t, 1):.1f}"), "teu": teu}
                for op, ctype, ch, t, teu in lines]

    def _build_port_month(self, port: str, period_month: str) -> list[dict[str, Any]]:
        rng = self._rng("ports", f"{port}:{period_month}")
        start, end = _month_bounds(period_month, TZ_KZ)
        future = period_month > self.config.last_month
        season = cal.SEASONALITY[int(period_month[5:7]) - 1]
        if future:
            n_calls = max(1, round(8 * self.config.logistics))
        else:
            n_calls = max(2, round(cal.PORT_CALLS_PER_MONTH[port] * season * self.config.logistics
                                   * rng.uniform(0.9, 1.1)))
        mix = cal.PORT_VESSEL_MIX[port]
        kinds = list(mix)
        counterparts = [c for c, _ in cal.COUNTERPART_PORTS]
        cp_weights = [w for _, w in cal.COUNTERPART_PORTS]
        span = (end - start).total_seconds()
        plans = []
        for index in range(n_calls):
            kind = kinds[_weighted_index(rng, [mix[k] for k in kinds])]
            if future:
                arrival = self.now + timedelta(hours=rng.uniform(6, 240))
            elif index == 0:  # just after local midnight on the 1st, sent in UTC
                arrival = start + timedelta(minutes=rng.randint(3, 55))
            elif index == 1:  # just before local midnight on the last day, sent at +06:00
                arrival = end - timedelta(minutes=rng.randint(3, 55))
            else:
                arrival = start + timedelta(seconds=rng.uniform(3600, span - 3600))
            arrival = arrival.replace(second=0, microsecond=0)
            plans.append((kind, arrival))
        plans.sort(key=lambda plan: plan[1])
        last_world_month = period_month == self.config.last_month
        calls = []
        for seq, (kind, arrival) in enumerate(plans, start=1):
            call_rng = random.Random(f"{self.seed}:ports:{port}:{period_month}:{seq}")
            call_id = f"{port}-{period_month[:4]}-{int(period_month[5:7]):02d}{seq:04d}"
            stay_h = {"tanker": (20, 40), "bulk": (30, 80), "container": (15, 40),
                      "general": (20, 60), "ferry": (10, 30)}[kind]
            stay = timedelta(hours=call_rng.uniform(*stay_h))
            if last_world_month and seq > len(plans) - 2:
                stay = timedelta(days=call_rng.uniform(7, 10))  # still at berth at "now"
            departure = (arrival + stay).replace(second=0, microsecond=0)
            if arrival.day == 1 and arrival.hour == 0:
                shown_tz = UTC
            elif arrival.hour == 23 and (arrival + timedelta(hours=1)).day == 1:
                shown_tz = timezone(timedelta(hours=6))
            else:
                shown_tz = call_rng.choices((TZ_KZ, UTC, timezone(timedelta(hours=4))),
                                            weights=(85, 10, 5))[0]
            vessel = call_rng.choice(self._fleet[kind])
            previous_port = counterparts[_weighted_index(call_rng, cp_weights)]
            next_port = counterparts[_weighted_index(call_rng, cp_weights)]
            planned = self._cargo(call_rng, kind, port)
            actual = [dict(line, tonnes=RawNumber(
                f"{float(line['tonnes']) * call_rng.uniform(0.96, 1.03):.1f}")) for line in planned]
            base = {"call_id": call_id, "port": port, "vessel": vessel,
                    "previous_port": previous_port, "next_port": next_port}
            boundary = shown_tz in (UTC, timezone(timedelta(hours=6))) and (
                arrival.day == 1 and arrival.hour == 0 or arrival.hour == 23
                and (arrival + timedelta(hours=1)).day == 1)
            cancelled = not future and not boundary and call_rng.random() < 0.04
            skip_scheduled = call_rng.random() < 0.10
            versions: list[tuple[datetime, str, dict]] = []
            eta = arrival + timedelta(minutes=call_rng.randint(-180, 180))
            if future:  # announced before "now", arriving after it: still scheduled
                versions.append((self.now - timedelta(hours=call_rng.uniform(1, 72)), "scheduled",
                                 {"eta": _iso(arrival.astimezone(shown_tz)), "arrived_at": None,
                                  "departed_at": None, "cargo": planned}))
            elif not skip_scheduled or cancelled:
                versions.append((arrival - timedelta(hours=call_rng.uniform(24, 96)), "scheduled",
                                 {"eta": _iso(eta.astimezone(shown_tz)), "arrived_at": None,
                                  "departed_at": None, "cargo": planned}))
            if cancelled:
                versions.append((arrival - timedelta(hours=call_rng.uniform(2, 20)), "cancelled",
                                 {"eta": _iso(eta.astimezone(shown_tz)), "arrived_at": None,
                                  "departed_at": None, "cargo": []}))
            elif not future:
                versions.append((arrival + timedelta(minutes=call_rng.randint(5, 40)), "at_berth",
                                 {"arrived_at": _iso(arrival.astimezone(shown_tz)),
                                  "departed_at": None, "cargo": planned}))
                versions.append((departure + timedelta(minutes=call_rng.randint(10, 120)),
                                 "departed",
                                 {"arrived_at": _iso(arrival.astimezone(shown_tz)),
                                  "departed_at": _iso(departure.astimezone(shown_tz)),
                                  "cargo": actual}))
            records = []
            for version, (updated_at, status, body) in enumerate(versions, start=1):
                updated_at = updated_at.replace(microsecond=0).astimezone(TZ_KZ)
                record = {"call_id": call_id, "port": port, "version": version,
                          "updated_at": _iso(updated_at), "status": status,
                          "vessel": base["vessel"], "arrived_at": body["arrived_at"],
                          "departed_at": body["departed_at"],
                          "previous_port": previous_port, "next_port": next_port,
                          "cargo": [dict(line) for line in body["cargo"]]}
                if "eta" in body:
                    record["eta"] = body["eta"]
                records.append((updated_at, record))
            calls.append(records)
        self._break_port_calls(port, period_month, calls)
        self._reorder_port_versions(port, period_month, calls)
        if self._extra_columns("ports"):
            for records in calls:
                for _, record in records:
                    code = _extra_code((record["call_id"],), 4)
                    record_extra = {"berth": f"B{int(code) % 12 + 1}",
                                    "agent_ref": f"AG-{code}"}
                    record["cargo"] = [
                        _insert_after(line, "cargo_type",
                                      {"stowage": ("hold", "deck", "tank")[(int(code) + n) % 3]})
                        for n, line in enumerate(record["cargo"])]
                    updated = _insert_after(record, "status", record_extra)
                    record.clear()
                    record.update(updated)
        return [record for records in calls for _, record in records]

    def out_of_order_versions(self, port: str, period_month: str) -> list[tuple[str, int]]:
        """(call_id, version) pairs the ports_out_of_order fault sent after a newer version."""
        self.port_calls_month(port, period_month)
        return list(self._cache.get(("out_of_order", port, period_month), []))

    def _port_timeline(self) -> list[tuple[datetime, dict[str, Any]]]:
        """Every visible version (updated_at <= now), ordered by (updated_at, call_id, version)."""
        def build():
            records = []
            for code in cal.PORT_CALLS_PER_MONTH:
                for period_month in self.port_months():
                    for record in self.port_calls_month(code, period_month):
                        moment = datetime.fromisoformat(record["updated_at"])
                        if moment <= self.now:
                            records.append((moment, record["call_id"], record["version"], record))
            records.sort(key=lambda item: item[:3])
            return [(item[0], item[3]) for item in records]
        return self._cached(("port_timeline",), build)

    def _port_index(self, port: str) -> tuple[list[datetime], list[dict[str, Any]]]:
        """One port's part of the timeline, in its order, and the moments beside it: a page
        is found by bisection, not by filtering every version of the world again."""
        def build():
            part = [(moment, record) for moment, record in self._port_timeline()
                    if record["port"] == port]
            return [moment for moment, _ in part], [record for _, record in part]
        return self._cached(("port_index", port), build)

    def port_versions(self, port: str | None = None,
                      updated_since: datetime | None = None) -> list[dict[str, Any]]:
        """Visible versions in feed order, optionally from ``updated_since`` (inclusive)."""
        if port is not None:
            moments, records = self._port_index(port)
            return records[0 if updated_since is None else bisect_left(moments, updated_since):]
        return [record for moment, record in self._port_timeline()
                if updated_since is None or moment >= updated_since]

    def port_calls(self, port: str | None = None) -> list[dict[str, Any]]:
        """The newest visible version of every call (what statistics count)."""
        newest: dict[str, dict[str, Any]] = {}
        for record in self.port_versions(port):  # the highest version wins, whatever the order
            known = newest.get(record["call_id"])
            if known is None or record["version"] > known["version"]:
                newest[record["call_id"]] = record
        return sorted(newest.values(), key=lambda r: r["call_id"])


def _imo(rng: random.Random) -> str:
    digits = [rng.randint(1, 9)] + [rng.randint(0, 9) for _ in range(5)]
    check = sum(d * w for d, w in zip(digits, (7, 6, 5, 4, 3, 2), strict=True)) % 10
    return "".join(map(str, digits)) + str(check)
