"""The faults of the simulated feeds: what ``SimConfig.faults`` does (spec/feeds.md).

Content faults: the feed modules build a unit clean and hand it to
``ContentFaults`` to be perturbed; each draws from its unit's own stream
(``{unit}:malformed``, ``{unit}:revision:{step}`` ...), so a fault changes its unit
only, the same way every time. Delivery faults: ``DeliveryFaults`` draws, per
request, what the server (server.py) then does to its answer.

Fault keys (``SimConfig.faults``, JSON in ``CORRIDOR_SIM_FAULTS``):

* ``transient`` (429/503, ``Retry-After: 0``) / ``http_errors`` (500/502/504) /
  ``drop_connection`` / ``truncated_body``: ``{"rate": r, "feeds": [...]}`` (feeds
  optional), drawn per request (``DeliveryFaults``); ``duplicate_deliveries``
  (ports pages overlap) likewise. A transient 429 of comtrade carries the real short body
  ``{"statusCode": 429, "message": "Rate limit is exceeded. Try again in 1 seconds."}``.
* ``comtrade_quota``: ``{"calls": N, "retry_after": 14400}``: the comtrade key's call
  budget. Every comtrade call bearing the key counts (get and getDa, failed ones too);
  past N the answer is 429 ``{"statusCode": 429, "message": "Out of call volume quota.
  Quota will be replenished in HH:MM:SS."}`` with ``Retry-After: retry_after`` (seconds,
  default 14400) until ``POST /_sim/comtrade-quota`` (optional ``{"calls": M}``)
  replenishes it.
* ``kz_revision_change``: ``{"periods": [...], "after_pages": n}``: a KZ period is
  re-published (revision+1) once n pages of it were served; older cursors get 409.
* ``kz_republished``: ``{"periods": [...]}``: those KZ periods are one revision further.
* ``shrinking_revision``: ``{"ru_customs": [months], "kz_customs": [months],
  "comtrade": ["<m49>:YYYY-MM"], "rail": [days]}``: one re-publication of each unit
  (revision+1, a few rows vanish, a few change value). ``World.revise`` /
  ``POST /_sim/revise`` do the same at run time, one step per call.
* ``extra_columns``: ``{feed: true}``: unknown fields/columns/elements the client ignores.
* ``duplicate_rows``: ``{feed: n}``: n rows of every unit delivered twice.
* ``malformed_rows``: ``{feed: n}``: n rows of every unit broken, each against one rule
  of its feed's ``RULES`` (malformed.py); ``malformed_keys`` says which, with the reason.
* ``ports_out_of_order``: ``true``: some port-call versions are sent after a newer one.
* ``unpublished``: ``{feed: [units]}`` (months, ``"<m49>:YYYY-MM"`` for comtrade, days
  for rail): those units are not out (404 / not listed).
"""

from __future__ import annotations

import random
import threading
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from corridor.simulator.common import TZ_KZ, TradeLine, WorldCore, _iso
from corridor.simulator.malformed import BREAKS, RULES, break_row


class ContentFaults(WorldCore):
    """Re-publications, malformed rows, duplicate rows and reordered versions of a unit."""

    # ----- re-publications (shrinking_revision, kz_republished, kz_revision_change, revise)

    def _revise_lines(self, feed: str, period_month: str, lines: list[TradeLine],
                      step: int) -> list[TradeLine]:
        """One re-publication: ~3 % of the rows (at least one) vanish, ~5 % change value."""
        rng = self._rng(feed, f"{period_month}:revision:{step}")
        dropped, changed = _drop_and_change(rng, range(len(lines)))
        out = []
        for index, line in enumerate(lines):
            if index in dropped:
                continue
            if index in changed:
                factor = rng.uniform(0.85, 1.15)
                if feed == "kz_customs":  # whole dollars: exact thousand-USD
                    cents = max(100, round(line.value_cents * factor / 100) * 100)
                    cents = cents if cents != line.value_cents else cents + 100
                else:
                    cents = max(1, round(line.value_cents * factor))
                    cents = cents if cents != line.value_cents else cents + 1
                line = replace(line, value_cents=cents)
            out.append(line)
        return out

    def _revise_comtrade(self, unit: str, rows: list[dict[str, Any]],
                         step: int) -> list[dict[str, Any]]:
        """One re-publication of a comtrade unit: ~3 % of the leaves (at least one) vanish
        with their breakdown rows, ~5 % (at least one) change value; each partner's TOTAL
        row follows its leaves. Leaves the malformed_rows / duplicate_rows faults touched
        are left alone, so what those faults recorded stays true."""
        if not rows:
            return rows
        rng = self._rng("comtrade", f"{unit}:revision:{step}")
        recorded = ({key for key, _ in self._cache.get(("malformed", "comtrade", unit), [])}
                    | set(self._cache.get(("duplicates", "comtrade", unit), [])))

        def is_leaf(row: dict[str, Any]) -> bool:
            return (row.get("aggrLevel") == 6 and row.get("motCode") == 0
                    and row.get("customsCode") == "C00" and row.get("partner2Code") == 0)

        leaves = [n for n, row in enumerate(rows)
                  if is_leaf(row) and _row_key("comtrade", row) not in recorded]
        dropped, changed = _drop_and_change(rng, leaves)
        gone = {(rows[i]["flowCode"], rows[i]["partnerCode"], rows[i]["cmdCode"])
                for i in dropped}
        delta: dict[tuple[str, int], float] = defaultdict(float)
        out: list[dict[str, Any]] = []
        for index, row in enumerate(rows):
            what = (row.get("flowCode"), row.get("partnerCode"), row.get("cmdCode"))
            if index in dropped:
                delta[(row["flowCode"], row["partnerCode"])] -= row["primaryValue"]
                continue
            if what in gone:  # a breakdown row of a vanished leaf
                continue
            if index in changed:
                old = row["primaryValue"]
                value = round(old * rng.uniform(0.85, 1.15), 2)
                row = _with_value(row, value if value != old else round(old + 1.0, 2))
                delta[(row["flowCode"], row["partnerCode"])] += row["primaryValue"] - old
            out.append(row)
        for index, row in enumerate(out):
            move = delta.get((row.get("flowCode"), row.get("partnerCode")))
            if move and row.get("cmdCode") == "TOTAL":
                out[index] = _with_value(row, round(row["primaryValue"] + move, 2))
        return out

    def _shrink_rail(self, day: str, report: dict[str, Any], step: int = 1) -> None:
        """shrinking_revision: revision+1, at least one consignment fewer, a few tonnes changed."""
        rng = self._rng("rail", f"{day}:revision:{step}")
        report["revision"] += 1
        generated = datetime.fromisoformat(report["generated"]) + timedelta(days=1)
        report["generated"] = _iso(generated.astimezone(TZ_KZ))
        flat = _consignment_refs(report)
        if not flat:
            return  # nothing crossed that day: only the revision moves
        dropped = set(rng.sample(flat, max(1, round(len(flat) * 0.05))))
        kept = [ref for ref in flat if ref not in dropped]
        for ref in rng.sample(kept, min(len(kept), max(1, round(len(flat) * 0.1)))):
            consignment = _consignment(report, ref)
            tonnes = round(float(consignment["tonnes"]) * rng.uniform(0.85, 1.15) * 1000) / 1000
            if f"{tonnes:.3f}" == consignment["tonnes"]:
                tonnes += 1
            consignment["tonnes"] = f"{tonnes:.3f}"
        for ci, mi, ki in sorted(dropped, reverse=True):
            del report["crossings"][ci]["movements"][mi]["consignments"][ki]
        _prune(report)

    # ----- malformed_rows

    def _break_rows(self, feed: str, unit: str, rows: list[dict[str, Any]]) -> list[tuple]:
        """Break N rows of a unit in ways the spec rejects; returns (row ref, reason)."""
        count = self._malformed_count(feed)
        broken: list[tuple] = []
        if count and rows:
            rng = self._rng(feed, f"{unit}:malformed")
            chosen = sorted(rng.sample(range(len(rows)), min(count, len(rows))))
            breaks = BREAKS[feed]
            keys = {_row_key(feed, row) for row in rows}
            for n, index in enumerate(chosen):
                row = rows[index]
                for attempt in range(len(breaks)):
                    rule, name = breaks[(n + attempt) % len(breaks)]
                    candidate = dict(row)
                    reason = break_row(feed, rule, name, candidate, unit)
                    new_key = _row_key(feed, candidate)
                    if new_key == _row_key(feed, row) or new_key not in keys:
                        break
                keys.add(new_key)
                row.clear()
                row.update(candidate)
                if feed == "ru_customs":
                    broken.append((index + 1, reason))  # 1-based data line
                elif feed == "comtrade":
                    broken.append((_row_key(feed, row), reason))
                else:
                    broken.append((index, reason))
        if feed != "comtrade":
            return broken
        self._cache[("malformed", feed, unit)] = broken
        return broken

    def _break_port_calls(self, port: str, period_month: str, calls: list) -> None:
        count = self._malformed_count("ports")
        broken: list[tuple[str, int, str]] = []
        if count and period_month in self.months:
            rng = self._rng("ports", f"{port}:{period_month}:malformed")
            candidates = [records for records in calls if records[-1][1]["cargo"]]
            for n, records in enumerate(rng.sample(candidates, min(count, len(candidates)))):
                newest = records[-1][1]
                index = rng.randrange(len(newest["cargo"]))
                rule, name = BREAKS["ports"][n % len(BREAKS["ports"])]
                for _, record in records:  # the same line in every version that has it
                    if index < len(record["cargo"]):
                        reason = break_row("ports", rule, name, record["cargo"][index], port)
                broken.append((newest["call_id"], index, reason))
        self._cache[("malformed", "ports", f"{port}:{period_month}")] = sorted(broken)

    def _break_rail(self, day: str, report: dict[str, Any]) -> None:
        count = self._malformed_count("rail")
        broken: list[tuple[int, str]] = []
        if count:
            rng = self._rng("rail", f"{day}:malformed")
            flat = _consignment_refs(report)
            chosen = sorted(rng.sample(flat, min(count, len(flat))))
            for n, ref in enumerate(chosen):
                consignment = _consignment(report, ref)
                rule, name = BREAKS["rail"][n % len(BREAKS["rail"])]
                consignment["_malformed"] = break_row("rail", rule, name, consignment, day)
            move_broken_places(report)
            _prune(report)
            broken = _malformed_refs(report)
        self._cache[("malformed", "rail", day)] = broken

    # ----- duplicate_rows

    def _append_duplicates(self, feed: str, unit: str, rows: list[dict[str, Any]],
                           exclude: set[int]) -> list[tuple]:
        """duplicate_rows: append a copy of N clean rows at the end of the unit."""
        count = self._duplicate_count(feed)
        candidates = [i for i in range(len(rows)) if i not in exclude]
        if not count or not candidates:
            return []
        rng = self._rng(feed, f"{unit}:duplicates")
        chosen = sorted(rng.sample(candidates, min(count, len(candidates))))
        rows.extend(dict(rows[i]) for i in chosen)
        return [_row_key(feed, rows[i]) for i in chosen]

    def _duplicate_rail(self, day: str, report: dict[str, Any]) -> None:
        """duplicate_rows: N clean consignments repeated right after themselves."""
        count = self._duplicate_count("rail")
        keys: list[tuple] = []
        if count:
            rng = self._rng("rail", f"{day}:duplicates")
            flat = _consignment_refs(report, clean_only=True)
            chosen = sorted(rng.sample(flat, min(count, len(flat))))
            keys = [_rail_key(report["crossings"][ci], report["crossings"][ci]["movements"][mi],
                              _consignment(report, (ci, mi, ki)))
                    for ci, mi, ki in chosen]
            for ci, mi, ki in sorted(chosen, reverse=True):
                movement = report["crossings"][ci]["movements"][mi]
                movement["consignments"].insert(ki + 1, dict(movement["consignments"][ki]))
            # consignment indices moved: recount the malformed ones
            self._cache[("malformed", "rail", day)] = _malformed_refs(report)
        self._cache[("duplicates", "rail", day)] = keys

    # ----- ports_out_of_order

    def _reorder_port_versions(self, port: str, period_month: str, calls: list) -> None:
        """ports_out_of_order: a call's next-to-last version is (re-)sent after its newest.

        Its ``updated_at`` moves to after the newest version's, so a client paging by
        ``updated_at`` meets version N before version N-1. Each version still exists
        once, with one content; the newest version is unchanged.
        """
        moved: list[tuple[str, int]] = []
        if self.faults.get("ports_out_of_order") and period_month in self.months:
            rng = self._rng("ports", f"{port}:{period_month}:out_of_order")
            candidates = [records for records in calls if len(records) >= 2]
            chosen = [records for records in candidates if rng.random() < 0.2]
            if candidates and not chosen:
                chosen = [candidates[0]]
            for records in chosen:
                newest_at = records[-1][0]
                late = (newest_at + timedelta(minutes=rng.randint(30, 720))).replace(
                    microsecond=0)
                if late > self.now:
                    continue
                _, record = records[-2]
                record["updated_at"] = _iso(late.astimezone(TZ_KZ))
                records[-2] = (late, record)
                moved.append((record["call_id"], record["version"]))
        self._cache[("out_of_order", port, period_month)] = sorted(moved)


#: Counter-drawn delivery faults, in the order they are tried for each request.
DELIVERY_FAULTS = ("transient", "http_errors", "drop_connection", "truncated_body")
#: At most this many delivery faults in a row for one identical request (path + query).
MAX_CONSECUTIVE_FAILURES = 2


class DeliveryFaults:
    """The delivery faults a server's requests meet (the server applies them)."""

    def __init__(self, seed: int, faults: dict[str, Any]) -> None:
        self._seed = seed
        self._faults = faults
        self._lock = threading.Lock()
        self._requests = 0
        self._streaks: dict[str, int] = defaultdict(int)

    def draw(self, feed: str | None, request_key: str) -> tuple[str, str] | None:
        """(kind, detail) of the delivery fault this request meets, or None.

        One request counter for all kinds (it only moves when some counter-drawn fault
        is configured); each kind draws from ``Random(f"{seed}:{kind}:{n}")``, so the
        same requests in the same order meet the same faults. An identical request
        (path + query) never fails more than ``MAX_CONSECUTIVE_FAILURES`` times in a row.
        """
        faults = self._faults
        configured = [kind for kind in (*DELIVERY_FAULTS, "duplicate_deliveries")
                      if float((faults.get(kind) or {}).get("rate", 0) or 0) > 0]
        if not configured:
            return None
        with self._lock:
            self._requests += 1
            number = self._requests
        firing = []
        for kind in DELIVERY_FAULTS:
            if kind not in configured:
                continue
            spec = faults[kind]
            rng = random.Random(f"{self._seed}:{kind}:{number}")
            if rng.random() >= float(spec["rate"]):
                continue
            if spec.get("feeds") is not None and feed not in spec["feeds"]:
                continue
            if kind == "transient":
                detail = "503" if rng.random() < 0.5 else "429"
            elif kind == "http_errors":
                detail = rng.choice(("500", "502", "504"))
            else:
                detail = ""
            firing.append((kind, detail))
        chosen = None
        if len(firing) == 1:
            chosen = firing[0]
        elif firing:  # several kinds fire: one of them, drawn as deterministically
            chosen = random.Random(f"{self._seed}:pick:{number}").choice(firing)
        if "duplicate_deliveries" in configured and chosen is None:
            spec = faults["duplicate_deliveries"]
            rng = random.Random(f"{self._seed}:duplicate_deliveries:{number}")
            if (rng.random() < float(spec["rate"]) and feed == "ports"
                    and feed in spec.get("feeds", ["ports"])):
                return ("duplicate_deliveries", str(rng.randint(1, 3)))
        with self._lock:
            if chosen and self._streaks[request_key] >= MAX_CONSECUTIVE_FAILURES:
                chosen = None
            self._streaks[request_key] = self._streaks[request_key] + 1 if chosen else 0
        return chosen


def _drop_and_change(rng: random.Random, candidates: Sequence[int]) -> tuple[set[int], set[int]]:
    """Which rows a re-publication drops (~3 %, at least one, never all) and which of the
    rest change value (~5 % of all, at least one)."""
    n = len(candidates)
    dropped = set(rng.sample(candidates, _dropped_count(n))) if n > 1 else set()
    kept = [i for i in candidates if i not in dropped]
    return dropped, set(rng.sample(kept, min(len(kept), max(1, round(n * 0.05)))))


def _dropped_count(n_rows: int) -> int:
    """How many of ``n_rows`` rows one re-publication drops."""
    return min(n_rows - 1, max(1, round(n_rows * 0.03))) if n_rows > 1 else 0


def _with_value(row: dict[str, Any], value: float) -> dict[str, Any]:
    """A copy of a comtrade row worth ``value`` (primaryValue and whichever of cif/fob it has)."""
    row = dict(row, primaryValue=value)
    for key in ("cifvalue", "fobvalue"):
        if row.get(key) is not None:
            row[key] = value
    return row


def _consignment_refs(report: dict[str, Any],
                      clean_only: bool = False) -> list[tuple[int, int, int]]:
    """(crossing, movement, consignment) indices of a rail report, in document order."""
    return [(ci, mi, ki) for ci, crossing in enumerate(report["crossings"])
            for mi, movement in enumerate(crossing["movements"])
            for ki, consignment in enumerate(movement["consignments"])
            if not (clean_only and "_malformed" in consignment)]


def _consignment(report: dict[str, Any], ref: tuple[int, int, int]) -> dict[str, Any]:
    ci, mi, ki = ref
    return report["crossings"][ci]["movements"][mi]["consignments"][ki]


def _malformed_refs(report: dict[str, Any]) -> list[tuple[int, str]]:
    """(0-based consignment index in document order, reason) of the broken consignments."""
    consignments = (_consignment(report, ref) for ref in _consignment_refs(report))
    return [(index, consignment["_malformed"])
            for index, consignment in enumerate(consignments) if "_malformed" in consignment]


def move_broken_places(report: dict[str, Any]) -> None:
    """Each consignment whose crossing or movement a break changed (its ``_place``) to a
    crossing of its own at the end, with its movement's other attributes."""
    moved = [ref for ref in _consignment_refs(report) if "_place" in _consignment(report, ref)]
    for ci, mi, ki in sorted(moved, reverse=True):
        movement = report["crossings"][ci]["movements"][mi]
        consignment = movement["consignments"].pop(ki)
        place = {"point": report["crossings"][ci]["point"], **movement,
                 **consignment.pop("_place")}
        report["crossings"].append({
            "point": place["point"], "partnerRailway": "XX",
            "movements": [{"direction": place["direction"], "transit": place["transit"],
                           "consignments": [consignment]}]})


def _prune(report: dict[str, Any]) -> None:
    """Drop the movements and crossings a fault left without a consignment."""
    for crossing in report["crossings"]:
        crossing["movements"] = [m for m in crossing["movements"] if m["consignments"]]
    report["crossings"] = [c for c in report["crossings"] if c["movements"]]


def _row_key(feed: str, row: dict[str, Any]) -> tuple:
    """The duplicate key of a customs or comtrade row (its feed's ``RULES.key``)."""
    return tuple(row.get(name) for name in RULES[feed].key)


def _rail_key(crossing: dict[str, Any], movement: dict[str, Any],
              consignment: dict[str, Any]) -> tuple:
    return (crossing["point"], movement["direction"], movement["transit"],
            *(consignment.get(k) for k in ("gng", "wagons", "teu", "tonnes", "origin",
                                           "destination")))
