"""The national trade of Russia and Kazakhstan: one truth behind three feeds.

``national_lines`` is what a customs service knows of a month (ru_customs and
kz_customs publish it, comtrade's partners mirror it); ``_published_lines`` is
what the customs feed shows of it: a preliminary month lacks a few late
declarations and carries rounder values, and every re-publication changes a few.
The RU<->KZ trade is drawn once (``_pair_lines``) and seen by both reporters.
"""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import replace
from typing import Any

from corridor.simulator import calibration as cal
from corridor.simulator.common import (
    TradeLine,
    _allocate,
    _chapter_pool,
    _cumulative,
    _hs6_weight,
    _mirror_m49,
    _pick,
    _tnved_suffixes,
    countries_by_m49,
    hs_version,
)
from corridor.simulator.faults import ContentFaults, _dropped_count

_FEED_OF = {"RUS": "ru_customs", "KAZ": "kz_customs"}
#: A (partner, flow) or the RU<->KZ pair stops drawing after this many draws in a row
#: that hit a key it already has: its codes are used up. Above scale ~25 the pair asks
#: for more distinct codes than its chapters hold (RU->KZ 240 x scale of 6 121), and its
#: loop, capped by nothing else, never ended; at the scales the tests and the small
#: benchmarks use, 1 000 misses in a row do not happen, so their draws are unchanged.
MAX_MISSES_IN_A_ROW = 1000
#: Running sums of the RU region weights: ordinary trade (False), trade with Kazakhstan (True).
_REGION_WEIGHTS = {False: _cumulative(r[2] for r in cal.RU_REGIONS),
                   True: _cumulative(r[3] for r in cal.RU_REGIONS)}
#: KZ transport modes (and running sums of their weights) by the partner's geography.
_MODES_OVERLAND = (("rail", "road", "other"), _cumulative((60, 35, 5)))
_MODES_CASPIAN = (("sea", "rail", "road"), _cumulative((50, 30, 20)))
_MODES_FAR = (("rail", "road", "sea", "air"), _cumulative((40, 30, 15, 15)))


class NationalTrade(ContentFaults):
    """The RUS and KAZ records of a month, as truth and as the customs feeds publish them."""

    def national_lines(self, reporter: str, period_month: str) -> list[TradeLine]:
        """The final (truth) records of reporter RUS or KAZ for a month, in feed order."""
        def build():
            lines = self._national(reporter, period_month, build_lines=True)
            order = {"X": 0, "M": 1}
            lines.sort(key=lambda ln: (order[ln.flow], ln.partner_iso2, ln.tnved,
                                       ln.region or "", ln.mode or "", ln.regime or ""))
            return lines
        return self._cached(("national", reporter, period_month), build)

    def national_count(self, reporter: str, period_month: str) -> int:
        """``len(national_lines(...))`` without building the lines: the month's draws are
        replayed (every random number in the same order) but no record is made or kept."""
        lines = self._cache.get(("national", reporter, period_month))
        if lines is not None:
            return len(lines)
        return self._cached(("national_count", reporter, period_month),
                            lambda: self._national(reporter, period_month, build_lines=False))

    def _national(self, reporter: str, period_month: str,
                  build_lines: bool) -> list[TradeLine] | int:
        """The month's lines (unsorted), or only how many there are (``build_lines=False``)."""
        rng = self._rng(_FEED_OF[reporter], period_month)
        flows = cal.RU_FLOWS_MUSD if reporter == "RUS" else cal.KZ_FLOWS_MUSD
        reference_year = cal.RU_REFERENCE_YEAR if reporter == "RUS" else cal.KZ_REFERENCE_YEAR
        level = self._level(period_month, reference_year)
        mirror_iso2 = {countries_by_m49()[m]["iso2"] for m in _mirror_m49()}
        budget = round(self._row_budget(reporter) * self.config.scale * rng.uniform(0.95, 1.05))
        totals, weights, minimums = _flow_totals(
            rng, flows.items(), level, lambda partner, flow: (partner, flow),
            lambda partner: (cal.MIN_ROWS_MIRROR_PARTNER if partner in mirror_iso2
                             else cal.MIN_ROWS_OTHER_PARTNER))
        allocation = _allocate(budget, weights, minimums)
        taken: set = set()
        lines = list(self._pair_view(rng, reporter, period_month, taken, build_lines))
        for (partner, flow), n_rows in sorted(allocation.items()):
            lines.extend(self._draw_lines(rng, period_month, reporter, flow, partner,
                                          totals[(partner, flow)], n_rows, taken, build_lines))
        return lines if build_lines else len(lines)

    def _row_budget(self, reporter: str) -> float:
        return cal.ROWS_PER_MONTH[reporter]

    def _draw_lines(self, rng: random.Random, period_month: str, reporter: str, flow: str,
                    partner: str, total_usd: float, n_rows: int, taken: set,
                    build_lines: bool = True) -> list[TradeLine | None]:
        """Up to ``n_rows`` lines of one (partner, flow) summing to about ``total_usd``
        (``None`` for each when ``build_lines`` is false: the draws only)."""
        version = hs_version(period_month)
        mix = (cal.CHAPTER_MIX_OVERRIDES.get((reporter, flow, partner))
               or cal.CHAPTER_MIX[(reporter, flow)])
        chapters, flat = _mix_chapters(mix, version)
        key_of = _KEY_OF[reporter]
        picks: list[tuple[int, str, dict[str, str], float]] = []
        attempts = misses = 0
        while (len(picks) < n_rows and attempts < n_rows * 20
               and misses < MAX_MISSES_IN_A_ROW):
            attempts += 1
            chapter = chapters[_pick(rng, flat)]
            hs6, tnved = _draw_code(rng, version, chapter)
            extra = self._line_attrs(rng, reporter, flow, partner, chapter, tnved)
            key = key_of(flow, partner, tnved, extra)
            if key in taken:
                misses += 1
                continue
            misses = 0
            taken.add(key)
            picks.append((chapter, tnved, extra, _hs6_weight(hs6) * rng.lognormvariate(0, 0.8)))
        chapter_share = {ch: mix[ch] for ch in {p[0] for p in picks}}
        share_sum = sum(chapter_share.values()) or 1.0
        weight_in_chapter: dict[int, float] = defaultdict(float)
        for chapter, _, _, weight in picks:
            weight_in_chapter[chapter] += weight
        lines: list[TradeLine | None] = []
        for chapter, tnved, extra, weight in picks:
            value_usd = (total_usd * chapter_share[chapter] / share_sum
                         * weight / weight_in_chapter[chapter])
            value_usd *= rng.lognormvariate(-0.08, 0.4)  # rows of equal chapters still differ
            netto_factor = rng.lognormvariate(0, 0.35)
            lines.append(_make_line(reporter, flow, partner, chapter, tnved, value_usd, extra,
                                    netto_factor) if build_lines else None)
        return lines

    def _line_attrs(self, rng: random.Random, reporter: str, flow: str, partner: str,
                    chapter: int, tnved: str) -> dict[str, str]:
        if reporter == "RUS":
            region = cal.RU_REGIONS[_pick(rng, _REGION_WEIGHTS[partner == "KZ"])]
            return {"region": region[0]}
        hs4 = tnved[:4]
        if hs4 in ("2709", "2711") and partner in ("CN", "RU", "IT", "NL", "RO", "GR", "ES",
                                                   "FR", "KR", "CH", "GB", "US"):
            mode = "pipeline"
        elif chapter == 71:
            mode = "air"
        else:
            if partner in ("CN", "RU", "UZ", "KG", "TM", "TJ", "BY"):
                modes, weights = _MODES_OVERLAND
            elif partner in ("AZ", "IR"):
                modes, weights = _MODES_CASPIAN
            else:
                modes, weights = _MODES_FAR
            mode = modes[_pick(rng, weights)]
        if flow == "X":
            regime = "31" if rng.random() < 0.04 else "10"
        else:
            regime = "51" if rng.random() < 0.04 else "40"
        return {"mode": mode, "regime": regime}

    def _pair_lines(self, period_month: str) -> dict[str, list[tuple]]:
        """The RU<->KZ trade of a month, one truth for both national feeds.

        Returns per direction a list of (tnved, chapter, true_value_usd, netto_kg_factor).
        """
        def build():
            rng = self._rng("pair", period_month)
            level = self._level(period_month, cal.RU_REFERENCE_YEAR)
            version = hs_version(period_month)
            out = {}
            for direction, reporter in (("RU_TO_KZ", "RUS"), ("KZ_TO_RU", "KAZ")):
                total = cal.PAIR_RU_KZ_MUSD[direction] * 1e6 * level * rng.uniform(0.95, 1.05)
                n_rows = max(6, round(self._row_budget(reporter) * 0.12 * self.config.scale
                                      * (1.0 if direction == "RU_TO_KZ" else 0.6)))
                importer = "KZ" if reporter == "RUS" else "RU"
                mix = cal.CHAPTER_MIX_OVERRIDES[(direction, "X", importer)]
                chapters, flat = _mix_chapters(mix, version)
                seen: set[str] = set()
                picks = []
                misses = 0
                while len(picks) < n_rows and misses < MAX_MISSES_IN_A_ROW:
                    chapter = chapters[_pick(rng, flat)]
                    hs6, tnved = _draw_code(rng, version, chapter)
                    if tnved in seen:
                        misses += 1
                        continue
                    misses = 0
                    seen.add(tnved)
                    picks.append((chapter, tnved, _hs6_weight(hs6) * rng.lognormvariate(0, 0.8)))
                share_sum = sum(mix[ch] for ch in {p[0] for p in picks})
                in_chapter: dict[int, float] = defaultdict(float)
                for chapter, _, weight in picks:
                    in_chapter[chapter] += weight
                out[direction] = [
                    (tnved, chapter, total * mix[chapter] / share_sum * weight / in_chapter[chapter]
                     * rng.lognormvariate(-0.08, 0.4),
                     rng.lognormvariate(0, 0.35))
                    for chapter, tnved, weight in picks
                ]
            out["gap"] = (rng.uniform(*cal.PAIR_GAP_RANGE), rng.uniform(*cal.PAIR_GAP_RANGE))
            return out
        return self._cached(("pair", period_month), build)

    def _pair_view(self, rng: random.Random, reporter: str, period_month: str,
                   taken: set, build_lines: bool = True) -> Iterator[TradeLine | None]:
        pair = self._pair_lines(period_month)
        gap_ru_x, gap_kz_x = pair["gap"]
        key_of = _KEY_OF[reporter]
        # RU's exports to KZ carry the published gap over KZ's imports; likewise KZ->RU.
        for direction in ("RU_TO_KZ", "KZ_TO_RU"):
            exporter = "RUS" if direction == "RU_TO_KZ" else "KAZ"
            gap = gap_ru_x if direction == "RU_TO_KZ" else gap_kz_x
            flow = "X" if reporter == exporter else "M"
            partner = "KZ" if reporter == "RUS" else "RU"
            for tnved, chapter, true_value, _ in pair[direction]:
                value = true_value * (1 + gap / 2 if flow == "X" else 1 - gap / 2)
                value *= rng.gauss(1.0, 0.004)
                extra = self._line_attrs(rng, reporter, flow, partner, chapter, tnved)
                taken.add(key_of(flow, partner, tnved, extra))
                if not build_lines:
                    yield None
                    continue
                # its own stream: the weight of a pair line is the same in both feeds' draws
                netto_factor = random.Random(
                    f"{self.seed}:pairw:{period_month}:{tnved}").lognormvariate(0, 0.35)
                yield _make_line(reporter, flow, partner, chapter, tnved, value, extra,
                                 netto_factor)

    # ----- as the customs feeds publish them

    def _published_lines(self, reporter: str, period_month: str,
                         steps: int = 0) -> list[TradeLine]:
        """The lines as the feed publishes them: a preliminary month is incomplete and rounder.

        ``steps`` fault re-publications each drop a few rows and change a few values.
        """
        feed = _FEED_OF[reporter]

        def build():
            lines = self.national_lines(reporter, period_month)
            if self.status(period_month)[0] != 1:
                return lines
            out = []
            for line, (kept, factor) in zip(lines, self._preliminary_fates(
                    feed, period_month, len(lines)), strict=True):
                if not kept:
                    continue  # late declarations, added by the final revision
                if factor is not None:
                    cents = max(100, round(line.value_cents * factor / 100) * 100)
                    line = replace(line, value_cents=cents)
                out.append(line)
            return out
        return self._at_step(("published", reporter, period_month), steps, build,
                             lambda lines, step: self._revise_lines(feed, period_month, lines,
                                                                    step))

    def published_count(self, reporter: str, period_month: str, steps: int = 0) -> int:
        """``len(_published_lines(...))`` from the counts alone (no record is built)."""
        lines = self._cache.get(("published", reporter, period_month, steps))
        if lines is not None:
            return len(lines)
        n = self.national_count(reporter, period_month)
        if self.status(period_month)[0] == 1:
            n = sum(kept for kept, _ in self._preliminary_fates(_FEED_OF[reporter],
                                                                  period_month, n))
        for _ in range(steps):
            n -= _dropped_count(n)
        return n

    def _preliminary_fates(self, feed: str, period_month: str,
                           n_lines: int) -> Iterator[tuple[bool, float | None]]:
        """Per line of a preliminary month: (published yet, value factor or None if exact)."""
        rng = self._rng(feed, f"{period_month}:preliminary")
        for _ in range(n_lines):
            draw = rng.random()
            if draw < 0.03:
                yield False, None
            elif draw < 0.10:
                yield True, rng.uniform(0.93, 1.03)
            else:
                yield True, None


def _flow_totals(rng: random.Random, flows: Iterable[tuple[str, tuple[float, float]]],
                 level: float, key_of, minimum_of) -> tuple[dict, dict, dict]:
    """(value total, row weight, row minimum) per (partner, flow) with trade, drawn in
    ``flows`` order; ``key_of(partner, flow)`` names the keys."""
    totals: dict[Any, float] = {}
    weights: dict[Any, float] = {}
    minimums: dict[Any, int] = {}
    for partner, pair_values in flows:
        for flow, annual in zip(("X", "M"), pair_values, strict=True):
            if annual <= 0:
                continue
            key = key_of(partner, flow)
            totals[key] = annual * 1e6 * level * rng.lognormvariate(0, 0.06)
            weights[key] = annual ** 0.5
            minimums[key] = minimum_of(partner)
    return totals, weights, minimums


def _mix_chapters(mix: dict[int, float], version: str) -> tuple[list[int], tuple[float, ...]]:
    """The chapters of a mix that exist in ``version`` and the running sums of their
    (flattened) draw weights, for ``_pick``."""
    chapters = [ch for ch in mix if _chapter_pool(version, ch)[0]]
    return chapters, _cumulative(mix[ch] ** 0.6 for ch in chapters)


def _draw_code(rng: random.Random, version: str, chapter: int) -> tuple[str, str]:
    """(hs6, 10-digit tnved) of one draw in ``chapter``."""
    codes, weights = _chapter_pool(version, chapter)
    hs6 = codes[_pick(rng, weights)]
    return hs6, hs6 + rng.choice(_tnved_suffixes(hs6))


def _make_line(reporter: str, flow: str, partner: str, chapter: int, tnved: str,
               value_usd: float, extra: dict, netto_factor: float) -> TradeLine:
    if reporter == "KAZ":
        value_cents = max(1, round(value_usd)) * 100  # whole dollars: exact thousand-USD
    else:
        value_cents = max(1, round(value_usd * 100))
    unit_value = cal.UNIT_VALUE_HS4.get(tnved[:4], cal.UNIT_VALUE_USD_PER_KG.get(chapter, 5))
    netto_kg = value_usd / unit_value * netto_factor
    netto_g = max(1, round(netto_kg * 1000))
    supp_key = None
    qty_milli = None
    if tnved[:4] in cal.SUPP_UNITS_HS4:
        supp_key = tnved[:4]
    elif chapter in cal.SUPP_UNITS:
        supp_key = str(chapter)
    if supp_key:
        kg_per_unit = (cal.SUPP_UNITS_HS4.get(supp_key) or cal.SUPP_UNITS[int(supp_key)])[2]
        units = netto_kg / kg_per_unit
        # whole pieces/litres for units of a kilo or more; grams keep 3 decimals
        qty_milli = (max(1, round(units)) * 1000 if kg_per_unit >= 1
                     else max(1, round(units * 1000)))
    return TradeLine(flow, partner, tnved, value_cents, netto_g, qty_milli, supp_key,
                     region=extra.get("region"), mode=extra.get("mode"),
                     regime=extra.get("regime"))


_KEY_OF = {
    "RUS": lambda flow, partner, tnved, extra: (flow, partner, tnved, extra.get("region")),
    "KAZ": lambda flow, partner, tnved, extra: (flow, partner, tnved, extra.get("mode"),
                                                extra.get("regime")),
}
