"""The simulated world: deterministic RU/KZ trade, mirror, port and rail data.

Everything is a pure function of ``SimConfig``: each unit (a month of a customs
feed, a (reporter, month) of Comtrade, a port-month, a rail day) draws from its
own ``random.Random(f"{seed}:{feed}:{unit}")``, so units are independent, lazily
generated and cached. The HTTP server only serialises what this module returns.

Fault keys (``SimConfig.faults``, JSON in ``CORRIDOR_SIM_FAULTS``):

* ``transient`` (429/503, ``Retry-After: 0``) / ``http_errors`` (500/502/504) /
  ``drop_connection`` / ``truncated_body``: ``{"rate": r, "feeds": [...]}`` (feeds
  optional), drawn per request by the server (server.py); ``duplicate_deliveries``
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
* ``malformed_rows``: ``{feed: n}``: n rows of every unit broken (``malformed_keys``).
* ``ports_out_of_order``: ``true``: some port-call versions are sent after a newer one.
* ``unpublished``: ``{feed: [units]}`` (months, ``"<m49>:YYYY-MM"`` for comtrade, days
  for rail): those units are not out (404 / not listed).
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import math
import random
import threading
import zlib
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from functools import cached_property, lru_cache
from collections.abc import Iterator
from typing import Any

from corridor.config import PROJECT_DIR, month_add, month_range
from corridor.simulator import calibration as cal

SEEDS_DIR = PROJECT_DIR / "dbt_project" / "seeds"
RU_CSV_HEADER = ("napr", "period", "strana", "tnved", "edizm", "stoim", "netto", "kol",
                 "region", "region_s")
RAIL_NAMESPACE = "urn:corridor:rail:crossing:1"
#: The unknown column the ``extra_columns`` fault adds to the RU CSV (after ``strana``).
RU_EXTRA_COLUMN = "tamozhnya"
TZ_KZ = timezone(timedelta(hours=5))
TZ_MSK = timezone(timedelta(hours=3))
#: Above this many RU rows a month (scale 25), ru_customs is generated and served as a stream.
RU_STREAM_THRESHOLD_ROWS = 50_000
FEEDS = ("ru_customs", "kz_customs", "comtrade", "ports", "rail")
_TNVED_SUFFIXES = ("0000", "1000", "9000", "1001", "9009", "0001", "2000", "8000", "9001",
                   "9008", "3000", "5000")


@dataclass
class SimConfig:
    """What the simulated world looks like; the same config always gives the same bytes."""

    seed: int = 20240101
    scale: float = 1.0
    first_month: str = "2022-01"
    last_month: str = "2024-12"
    faults: dict = field(default_factory=dict)
    preliminary_months: int = 2
    #: Most records one Comtrade data call returns (the free plan's 100 000); the API
    #: does not say it cut: ``count`` == cap.
    comtrade_record_cap: int = 100_000


@dataclass(frozen=True, slots=True)
class TradeLine:
    """One national customs record, before a feed's formatting."""

    flow: str  # "X" export | "M" import, seen from the reporter
    partner_iso2: str  # "XX" = undisclosed
    tnved: str  # 10 digits
    value_cents: int  # USD cents (whole dollars for Kazakhstan)
    netto_g: int  # grams
    qty_milli: int | None  # supplementary quantity x 1000
    supp_chapter_key: str | None  # key into SUPP_UNITS / SUPP_UNITS_HS4
    region: str | None = None  # RU only
    mode: str | None = None  # KZ only
    regime: str | None = None  # KZ only


def ru_rows_per_month(scale: float) -> int:
    """Rows of a streamed RU CSV month at ``scale`` (2 000 x scale: 50 -> 100 000)."""
    return max(1, round(cal.ROWS_PER_MONTH["RUS"] * scale))


# --------------------------------------------------------------------------- reference


def _read_seed(name: str) -> list[dict[str, str]]:
    with (SEEDS_DIR / name).open(encoding="utf-8-sig", newline="") as handle:
        return list(csv.DictReader(handle))


@lru_cache(maxsize=1)
def countries() -> dict[str, dict[str, str]]:
    """Country seed by ISO alpha-2."""
    return {row["iso2"]: row for row in _read_seed("ref_countries.csv")}


@lru_cache(maxsize=1)
def _hs6_by_version() -> dict[str, dict[int, list[str]]]:
    out: dict[str, dict[int, list[str]]] = {"HS2017": defaultdict(list),
                                            "HS2022": defaultdict(list)}
    for row in _read_seed("ref_hs_products.csv"):
        if row["level"] == "6" and row["hs_version"] in out:
            out[row["hs_version"]][int(row["hs_code"][:2])].append(row["hs_code"])
    return out


@lru_cache(maxsize=1)
def hs6_descriptions() -> dict[str, str]:
    desc: dict[str, str] = {}
    for row in _read_seed("ref_hs_products.csv"):
        if row["level"] == "6":
            desc[row["hs_code"]] = row["description"]
    return desc


def hs_version(period_month: str) -> str:
    return "HS2022" if period_month >= "2022-01" else "HS2017"


@lru_cache(maxsize=4096)
def _hs6_weight(hs6: str) -> float:
    boost = cal.HS6_BOOST.get(hs6)
    if boost:
        return float(boost)
    return 0.2 + 1.8 * random.Random(f"hsw:{hs6}").random() ** 3


@lru_cache(maxsize=128)
def _chapter_pool(version: str, chapter: int) -> tuple[tuple[str, ...], tuple[float, ...]]:
    codes = tuple(sorted(_hs6_by_version()[version].get(chapter, ())))
    return codes, tuple(_hs6_weight(code) for code in codes)


@lru_cache(maxsize=8192)
def _tnved_suffixes(hs6: str) -> tuple[str, ...]:
    """The national 10-digit extensions of a subheading (same in every seed: a nomenclature)."""
    rng = random.Random(f"tnved:{hs6}")
    return tuple(sorted(rng.sample(_TNVED_SUFFIXES, rng.choice((1, 2, 2, 3, 4)))))


def _m49_text(iso2: str) -> str:
    if iso2 in ("000", "XX"):
        return "000"
    return countries()[iso2]["m49"]


def _name_ru(iso2: str) -> str:
    if iso2 in ("000", "XX"):
        return "Страна не определена"
    return countries()[iso2]["name_ru"]


# --------------------------------------------------------------------------- helpers


def _weighted_index(rng: random.Random, weights: list[float] | tuple[float, ...]) -> int:
    return rng.choices(range(len(weights)), weights=weights)[0]


def _allocate(total: int, weights: dict[Any, float], minimums: dict[Any, int]) -> dict[Any, int]:
    """Largest-remainder split of ``total`` rows, every key getting at least its minimum."""
    base = dict(minimums)
    rest = max(0, total - sum(base.values()))
    weight_sum = sum(weights.values()) or 1.0
    shares = {key: rest * weights[key] / weight_sum for key in weights}
    for key, share in shares.items():
        base[key] = base.get(key, 0) + int(share)
    leftover = rest - sum(int(share) for share in shares.values())
    for key in sorted(shares, key=lambda k: (-(shares[k] - int(shares[k])), str(k)))[:leftover]:
        base[key] += 1
    return base


def _poisson(rng: random.Random, lam: float) -> int:
    if lam <= 0:
        return 0
    if lam > 30:
        return max(0, round(rng.gauss(lam, math.sqrt(lam))))
    limit, k, p = math.exp(-lam), 0, 1.0
    while True:
        p *= rng.random()
        if p <= limit:
            return k
        k += 1


def _dec(value: int, places: int) -> Decimal:
    """An integer count of 10**-places units as an exact Decimal."""
    return Decimal(value).scaleb(-places)


def _fmt_comma(value: int, places: int) -> str:
    return f"{_dec(value, places):.{places}f}".replace(".", ",")


def _iso(moment: datetime) -> str:
    text = moment.isoformat(timespec="seconds")
    return text[:-6] + "Z" if text.endswith("+00:00") else text


def _month_bounds(period_month: str, tz: timezone) -> tuple[datetime, datetime]:
    year, month = (int(part) for part in period_month.split("-"))
    start = datetime(year, month, 1, tzinfo=tz)
    nyear, nmonth = (int(part) for part in month_add(period_month, 1).split("-"))
    return start, datetime(nyear, nmonth, 1, tzinfo=tz)


def _extra_code(row: dict[str, Any] | tuple, digits: int) -> str:
    """A deterministic digit string for an extra (unknown) field, derived from the row."""
    text = repr(sorted(row.items()) if isinstance(row, dict) else row)
    return f"{zlib.crc32(text.encode()) % 10 ** digits:0{digits}d}"


def _insert_after(record: dict[str, Any], after: str, extra: dict[str, Any]) -> dict[str, Any]:
    """A copy of ``record`` with ``extra`` fields inserted after field ``after`` (or at the end)."""
    out: dict[str, Any] = {}
    for key, value in record.items():
        out[key] = value
        if key == after:
            out.update(extra)
    if after not in record:
        out.update(extra)
    return out


def sha256_hex(payload: bytes) -> str:
    return hashlib.sha256(payload).hexdigest()


class RawNumber(str):
    """A JSON number written verbatim (keeps ``1234.500`` exactly as text)."""


def dumps(value: Any) -> str:
    """Compact JSON where ``Decimal`` and ``RawNumber`` are written as fixed-point numbers."""
    if isinstance(value, RawNumber):
        return str(value)
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, dict):
        return "{" + ",".join(f"{json.dumps(str(k))}:{dumps(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list | tuple):
        return "[" + ",".join(dumps(v) for v in value) + "]"
    return json.dumps(value, ensure_ascii=False)


def _imo(rng: random.Random) -> str:
    digits = [rng.randint(1, 9)] + [rng.randint(0, 9) for _ in range(5)]
    check = sum(d * w for d, w in zip(digits, (7, 6, 5, 4, 3, 2), strict=True)) % 10
    return "".join(map(str, digits)) + str(check)


# --------------------------------------------------------------------------- the world


class World:
    """The simulated world behind the five feeds (pure data; see server.py for HTTP)."""

    def __init__(self, config: SimConfig | None = None) -> None:
        self.config = config or SimConfig()
        self.seed = self.config.seed
        self.faults = self.config.faults or {}
        self._cache: dict[tuple, Any] = {}
        self._lock = threading.RLock()  # the server's threads share one world
        # kz_revision_change: pages served per period, and periods already re-published.
        self._kz_pages: dict[str, int] = defaultdict(int)
        self._kz_live: dict[str, int] = {}
        # World.revise: run-time re-publications per (feed, unit).
        self._live_steps: dict[tuple[str, str], int] = defaultdict(int)

    # ----- calendar

    @cached_property
    def months(self) -> list[str]:
        return month_range(self.config.first_month, self.config.last_month)

    @cached_property
    def now(self) -> datetime:
        """The world's fixed "now": 5 days after the end of ``last_month``, 00:00 +05:00."""
        start, end = _month_bounds(self.config.last_month, TZ_KZ)
        return end + timedelta(days=5)

    def status(self, period_month: str) -> tuple[int, str]:
        """(revision, status) of a customs month: newest N preliminary rev 1, older final rev 2."""
        count = self.config.preliminary_months
        newest = self.months[-count:] if count > 0 else []
        return (1, "preliminary") if period_month in newest else (2, "final")

    def _unpublished(self, feed: str) -> set[str]:
        return set(self.faults.get("unpublished", {}).get(feed, ()))

    def _malformed_count(self, feed: str) -> int:
        return int(self.faults.get("malformed_rows", {}).get(feed, 0))

    def _fault(self, kind: str) -> Any:
        return self.faults.get(kind) or {}

    def _extra_columns(self, feed: str) -> bool:
        return bool(self._fault("extra_columns").get(feed))

    def _duplicate_count(self, feed: str) -> int:
        return int(self._fault("duplicate_rows").get(feed, 0) or 0)

    def revision_steps(self, feed: str, unit: str) -> int:
        """How many times the faults re-published a unit beyond its clean revision.

        ``kz_republished`` and ``shrinking_revision`` add one each (static); a
        ``kz_revision_change`` period adds one once its trigger has fired on the server;
        every ``revise(feed, unit)`` adds one. Caches of a unit's content are keyed by
        this number, so a new step is a cache miss for that unit only.
        """
        steps = 0
        if feed == "kz_customs":
            steps += unit in set(self._fault("kz_republished").get("periods", ()))
            steps += self._kz_live.get(unit, 0)
        steps += unit in set(self._fault("shrinking_revision").get(feed, ()))
        steps += self._live_steps.get((feed, unit), 0)
        return steps

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

    def kz_page_served(self, period_month: str) -> None:
        """The server served a 200 page of ``period_month`` (drives ``kz_revision_change``)."""
        change = self._fault("kz_revision_change")
        if period_month not in set(change.get("periods", ())):
            return
        with self._lock:
            self._kz_pages[period_month] += 1
            if (period_month not in self._kz_live
                    and self._kz_pages[period_month] >= int(change.get("after_pages", 1))):
                self._kz_live[period_month] = 1

    def kz_republished_live(self) -> list[str]:
        """Periods a ``kz_revision_change`` fault has re-published so far."""
        with self._lock:
            return sorted(self._kz_live)

    def _revise_lines(self, feed: str, period_month: str, lines: list[TradeLine],
                      step: int) -> list[TradeLine]:
        """One re-publication: ~3 % of the rows (at least one) vanish, ~5 % change value."""
        rng = self._rng(feed, f"{period_month}:revision:{step}")
        n = len(lines)
        dropped = set(rng.sample(range(n), min(n - 1, max(1, round(n * 0.03))))) if n > 1 else set()
        kept = [i for i in range(n) if i not in dropped]
        changed = set(rng.sample(kept, min(len(kept), max(1, round(n * 0.05)))))
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
                line = TradeLine(line.flow, line.partner_iso2, line.tnved, cents, line.netto_g,
                                 line.qty_milli, line.supp_chapter_key, line.region, line.mode,
                                 line.regime)
            out.append(line)
        return out

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

    def _cached(self, key: tuple, build):
        with self._lock:
            if key not in self._cache:
                self._cache[key] = build()
            return self._cache[key]

    def _rng(self, feed: str, unit: str) -> random.Random:
        return random.Random(f"{self.seed}:{feed}:{unit}")

    @staticmethod
    def _level(period_month: str, reference_year: int) -> float:
        year, month = int(period_month[:4]), int(period_month[5:7])
        growth = cal.GROWTH_BY_YEAR.get(year, 1.0) / cal.GROWTH_BY_YEAR[reference_year]
        return growth * cal.SEASONALITY[month - 1] / 12.0

    # ----- national trade (truth, before a feed's status and faults)

    def _draw_lines(self, rng: random.Random, period_month: str, reporter: str, flow: str,
                    partner: str, total_usd: float, n_rows: int, mix_key: tuple,
                    taken: set, key_of) -> list[TradeLine]:
        """``n_rows`` lines of one (partner, flow) summing to about ``total_usd``."""
        version = hs_version(period_month)
        mix = cal.CHAPTER_MIX_OVERRIDES.get(mix_key) or cal.CHAPTER_MIX[(reporter, flow)]
        chapters = [ch for ch in mix if _chapter_pool(version, ch)[0]]
        flat = [mix[ch] ** 0.6 for ch in chapters]
        picks: list[tuple[int, str]] = []
        attempts = 0
        while len(picks) < n_rows and attempts < n_rows * 20:
            attempts += 1
            chapter = chapters[_weighted_index(rng, flat)]
            codes, weights = _chapter_pool(version, chapter)
            hs6 = codes[_weighted_index(rng, weights)]
            tnved = hs6 + rng.choice(_tnved_suffixes(hs6))
            extra = self._line_attrs(rng, reporter, flow, partner, chapter, tnved)
            key = key_of(flow, partner, tnved, extra)
            if key in taken:
                continue
            taken.add(key)
            picks.append((chapter, tnved, extra, _hs6_weight(hs6) * rng.lognormvariate(0, 0.8)))
        chapter_share = {ch: mix[ch] for ch in {p[0] for p in picks}}
        share_sum = sum(chapter_share.values()) or 1.0
        weight_in_chapter: dict[int, float] = defaultdict(float)
        for chapter, _, _, weight in picks:
            weight_in_chapter[chapter] += weight
        lines = []
        for chapter, tnved, extra, weight in picks:
            value_usd = (total_usd * chapter_share[chapter] / share_sum
                         * weight / weight_in_chapter[chapter])
            value_usd *= rng.lognormvariate(-0.08, 0.4)  # rows of equal chapters still differ
            lines.append(self._make_line(rng, reporter, flow, partner, chapter, tnved,
                                         value_usd, extra))
        return lines

    def _line_attrs(self, rng: random.Random, reporter: str, flow: str, partner: str,
                    chapter: int, tnved: str) -> dict[str, str]:
        if reporter == "RUS":
            near_kz = partner == "KZ"
            weights = [r[3] if near_kz else r[2] for r in cal.RU_REGIONS]
            region = cal.RU_REGIONS[_weighted_index(rng, weights)]
            return {"region": region[0]}
        hs4 = tnved[:4]
        if hs4 in ("2709", "2711") and partner in ("CN", "RU", "IT", "NL", "RO", "GR", "ES",
                                                   "FR", "KR", "CH", "GB", "US"):
            mode = "pipeline"
        elif chapter == 71:
            mode = "air"
        else:
            if partner in ("CN", "RU", "UZ", "KG", "TM", "TJ", "BY"):
                table = (("rail", 60), ("road", 35), ("other", 5))
            elif partner in ("AZ", "IR"):
                table = (("sea", 50), ("rail", 30), ("road", 20))
            else:
                table = (("rail", 40), ("road", 30), ("sea", 15), ("air", 15))
            mode = table[_weighted_index(rng, [w for _, w in table])][0]
        if flow == "X":
            regime = "31" if rng.random() < 0.04 else "10"
        else:
            regime = "51" if rng.random() < 0.04 else "40"
        return {"mode": mode, "regime": regime}

    def _make_line(self, rng: random.Random, reporter: str, flow: str, partner: str,
                   chapter: int, tnved: str, value_usd: float, extra: dict) -> TradeLine:
        if reporter == "KAZ":
            value_cents = max(1, round(value_usd)) * 100  # whole dollars: exact thousand-USD
        else:
            value_cents = max(1, round(value_usd * 100))
        unit_value = cal.UNIT_VALUE_HS4.get(tnved[:4], cal.UNIT_VALUE_USD_PER_KG.get(chapter, 5))
        netto_kg = value_usd / unit_value * rng.lognormvariate(0, 0.35)
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

    @staticmethod
    def _key_ru(flow: str, partner: str, tnved: str, extra: dict) -> tuple:
        return (flow, partner, tnved, extra.get("region"))

    @staticmethod
    def _key_kz(flow: str, partner: str, tnved: str, extra: dict) -> tuple:
        return (flow, partner, tnved, extra.get("mode"), extra.get("regime"))

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
                chapters = [ch for ch in mix if _chapter_pool(version, ch)[0]]
                flat = [mix[ch] ** 0.6 for ch in chapters]
                seen: set[str] = set()
                picks = []
                while len(picks) < n_rows:
                    chapter = chapters[_weighted_index(rng, flat)]
                    codes, weights = _chapter_pool(version, chapter)
                    hs6 = codes[_weighted_index(rng, weights)]
                    tnved = hs6 + rng.choice(_tnved_suffixes(hs6))
                    if tnved in seen:
                        continue
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

    def _row_budget(self, reporter: str) -> float:
        return cal.ROWS_PER_MONTH[reporter]

    def national_lines(self, reporter: str, period_month: str) -> list[TradeLine]:
        """The final (truth) records of reporter RUS or KAZ for a month, in feed order."""
        def build():
            feed = "ru_customs" if reporter == "RUS" else "kz_customs"
            rng = self._rng(feed, period_month)
            flows = cal.RU_FLOWS_MUSD if reporter == "RUS" else cal.KZ_FLOWS_MUSD
            reference_year = cal.RU_REFERENCE_YEAR if reporter == "RUS" else cal.KZ_REFERENCE_YEAR
            level = self._level(period_month, reference_year)
            key_of = self._key_ru if reporter == "RUS" else self._key_kz
            mirror_iso2 = {countries_by_m49()[m]["iso2"] for m in _mirror_m49()}
            budget = round(self._row_budget(reporter) * self.config.scale * rng.uniform(0.95, 1.05))
            weights, minimums, totals = {}, {}, {}
            for partner, pair_values in flows.items():
                for flow, annual in zip(("X", "M"), pair_values, strict=True):
                    if annual <= 0:
                        continue
                    total = annual * 1e6 * level * rng.lognormvariate(0, 0.06)
                    totals[(partner, flow)] = total
                    weights[(partner, flow)] = annual ** 0.5
                    minimums[(partner, flow)] = (
                        cal.MIN_ROWS_MIRROR_PARTNER if partner in mirror_iso2
                        else cal.MIN_ROWS_OTHER_PARTNER)
            allocation = _allocate(budget, weights, minimums)
            taken: set = set()
            lines: list[TradeLine] = []
            lines.extend(self._pair_view(rng, reporter, period_month, taken))
            for (partner, flow), n_rows in sorted(allocation.items()):
                lines.extend(self._draw_lines(rng, period_month, reporter, flow, partner,
                                              totals[(partner, flow)], n_rows,
                                              (reporter, flow, partner), taken, key_of))
            order = {"X": 0, "M": 1}
            lines.sort(key=lambda ln: (order[ln.flow], ln.partner_iso2, ln.tnved,
                                       ln.region or "", ln.mode or "", ln.regime or ""))
            return lines
        return self._cached(("national", reporter, period_month), build)

    def _pair_view(self, rng: random.Random, reporter: str, period_month: str,
                   taken: set) -> list[TradeLine]:
        pair = self._pair_lines(period_month)
        gap_ru_x, gap_kz_x = pair["gap"]
        out = []
        # RU's exports to KZ carry the published gap over KZ's imports; likewise KZ->RU.
        for direction in ("RU_TO_KZ", "KZ_TO_RU"):
            exporter = "RUS" if direction == "RU_TO_KZ" else "KAZ"
            gap = gap_ru_x if direction == "RU_TO_KZ" else gap_kz_x
            flow = "X" if reporter == exporter else "M"
            partner = "KZ" if reporter == "RUS" else "RU"
            for tnved, chapter, true_value, weight_factor in pair[direction]:
                value = true_value * (1 + gap / 2 if flow == "X" else 1 - gap / 2)
                value *= rng.gauss(1.0, 0.004)
                extra = self._line_attrs(rng, reporter, flow, partner, chapter, tnved)
                key_of = self._key_ru if reporter == "RUS" else self._key_kz
                key = key_of(flow, partner, tnved, extra)
                taken.add(key)
                line = self._make_line(random.Random(f"{self.seed}:pairw:{period_month}:{tnved}"),
                                       reporter, flow, partner, chapter, tnved, value, extra)
                out.append(line)
        return out

    def customs_revision(self, feed: str, period_month: str) -> tuple[int, str]:
        """(revision, status) a customs feed publishes, re-publications by faults included."""
        revision, status = self.status(period_month)
        return revision + self.revision_steps(feed, period_month), status

    def _published_lines(self, reporter: str, period_month: str,
                         steps: int = 0) -> list[TradeLine]:
        """The lines as the feed publishes them: a preliminary month is incomplete and rounder.

        ``steps`` fault re-publications each drop a few rows and change a few values.
        """
        feed = "ru_customs" if reporter == "RUS" else "kz_customs"
        if steps:
            def revise():
                previous = self._published_lines(reporter, period_month, steps - 1)
                return self._revise_lines(feed, period_month, previous, steps)
            return self._cached(("published", reporter, period_month, steps), revise)

        def build():
            lines = self.national_lines(reporter, period_month)
            revision, _ = self.status(period_month)
            if revision != 1:
                return lines
            rng = self._rng("ru_customs" if reporter == "RUS" else "kz_customs",
                            f"{period_month}:preliminary")
            out = []
            for line in lines:
                draw = rng.random()
                if draw < 0.03:
                    continue  # late declarations, added by the final revision
                if draw < 0.10:
                    factor = rng.uniform(0.93, 1.03)
                    cents = max(100, round(line.value_cents * factor / 100) * 100)
                    line = TradeLine(line.flow, line.partner_iso2, line.tnved, cents, line.netto_g,
                                     line.qty_milli, line.supp_chapter_key, line.region,
                                     line.mode, line.regime)
                out.append(line)
            return out
        return self._cached(("published", reporter, period_month, 0), build)

    # ----- ru_customs

    def ru_periods(self) -> list[str]:
        return [m for m in self.months if m not in self._unpublished("ru_customs")]

    def ru_rows(self, period_month: str) -> list[dict[str, str]]:
        """The CSV data rows of a month as text fields (malformed and duplicate rows included)."""
        steps = self.revision_steps("ru_customs", period_month)

        def build():
            region_names = {code: name for code, name, *_ in cal.RU_REGIONS}
            mm_yyyy = f"{period_month[5:7]}/{period_month[:4]}"
            rows = []
            for line in self._published_lines("RUS", period_month, steps):
                supp = _supp(line)
                rows.append({
                    "napr": "ЭК" if line.flow == "X" else "ИМ", "period": mm_yyyy,
                    "strana": line.partner_iso2, "tnved": line.tnved,
                    "edizm": supp[0] if supp else "",
                    "stoim": _fmt_comma(line.value_cents, 2),
                    "netto": _fmt_comma(line.netto_g, 3),
                    "kol": _fmt_comma(line.qty_milli, 3).rstrip("0").rstrip(",") if supp else "",
                    "region": line.region or "", "region_s": region_names.get(line.region, ""),
                })
            broken = self._break_rows("ru_customs", period_month, rows)
            self._cache[("malformed", "ru_customs", period_month, steps)] = broken
            self._cache[("duplicates", "ru_customs", period_month, steps)] = \
                self._append_duplicates("ru_customs", period_month, rows,
                                        {ref - 1 for ref, _ in broken})
            return rows
        return self._cached(("ru_rows", period_month, steps), build)

    def ru_header(self) -> tuple[str, ...]:
        """The CSV header; ``extra_columns`` adds an unknown column after ``strana``."""
        if not self._extra_columns("ru_customs"):
            return RU_CSV_HEADER
        at = RU_CSV_HEADER.index("strana") + 1
        return RU_CSV_HEADER[:at] + (RU_EXTRA_COLUMN,) + RU_CSV_HEADER[at:]

    def ru_csv_bytes(self, period_month: str) -> bytes:
        steps = self.revision_steps("ru_customs", period_month)

        def build():
            header = self.ru_header()
            buffer = io.StringIO()
            writer = csv.writer(buffer, delimiter=";", lineterminator="\r\n")
            writer.writerow(header)
            for row in self.ru_rows(period_month):
                if RU_EXTRA_COLUMN in header:
                    row = dict(row, **{RU_EXTRA_COLUMN: _extra_code(row, 8)})
                writer.writerow([row.get(col, "") for col in header])
            return buffer.getvalue().encode("windows-1251")
        return self._cached(("ru_csv", period_month, steps), build)

    # ----- ru_customs at benchmark scale (streamed)

    def ru_streamed(self) -> bool:
        """Whether this world's RU months are big enough to be generated as a stream."""
        return ru_rows_per_month(self.config.scale) > RU_STREAM_THRESHOLD_ROWS

    def ru_csv_stream(self, period_month: str, rows: int | None = None,
                      chunk_bytes: int = 1 << 20) -> Iterator[bytes]:
        """The RU CSV of a month as byte chunks, never held whole in memory.

        Small worlds (<= ``RU_STREAM_THRESHOLD_ROWS`` rows a month, i.e. scale <= 25)
        yield exactly ``ru_csv_bytes``. Otherwise, or when ``rows`` asks for a size,
        a streamed generator writes ``rows`` (default ``ru_rows_per_month(scale)``)
        clean rows in the same format (windows-1251, ``;``, decimal comma, CRLF, unique
        keys), one (flow, partner) block at a time; its content is its own (same seed
        and size -> same bytes) and carries no faults.
        """
        if rows is None and not self.ru_streamed():
            payload = self.ru_csv_bytes(period_month)
            for start in range(0, len(payload), chunk_bytes):
                yield payload[start:start + chunk_bytes]
            return
        target = rows if rows is not None else ru_rows_per_month(self.config.scale)
        buffer = io.StringIO()
        writer = csv.writer(buffer, delimiter=";", lineterminator="\r\n")
        writer.writerow(RU_CSV_HEADER)
        for block in self._ru_stream_blocks(period_month, target):
            writer.writerows(block)
            if buffer.tell() >= chunk_bytes:
                yield buffer.getvalue().encode("windows-1251")
                buffer.seek(0)
                buffer.truncate()
        if buffer.tell():
            yield buffer.getvalue().encode("windows-1251")

    def ru_stream_meta(self, period_month: str) -> dict[str, Any]:
        """sha256, byte length and data rows of a streamed month (one pass, cached)."""
        def build():
            digest, length, lines = hashlib.sha256(), 0, 0
            for chunk in self.ru_csv_stream(period_month):
                digest.update(chunk)
                length += len(chunk)
                lines += chunk.count(b"\r\n")
            return {"sha256": digest.hexdigest(), "length": length, "rows": lines - 1}
        return self._cached(("ru_stream_meta", period_month), build)

    def _ru_stream_blocks(self, period_month: str, target: int) -> Iterator[list[list[str]]]:
        region_names = {code: name for code, name, *_ in cal.RU_REGIONS}
        region_codes = [code for code, *_ in cal.RU_REGIONS]
        mm_yyyy = f"{period_month[5:7]}/{period_month[:4]}"
        version = hs_version(period_month)
        all_chapters = [ch for ch in range(1, 98) if _chapter_pool(version, ch)[0]]
        level = self._level(period_month, cal.RU_REFERENCE_YEAR)
        rng = self._rng("ru_stream", period_month)
        weights, minimums, totals = {}, {}, {}
        for partner, pair_values in sorted(cal.RU_FLOWS_MUSD.items()):
            for flow, annual in zip(("X", "M"), pair_values, strict=True):
                if annual > 0:
                    totals[(flow, partner)] = annual * 1e6 * level * rng.lognormvariate(0, 0.06)
                    weights[(flow, partner)] = annual ** 0.5
                    minimums[(flow, partner)] = 1
        allocation = _allocate(target, weights, minimums)
        for flow, partner in sorted(allocation, key=lambda k: ({"X": 0, "M": 1}[k[0]], k[1])):
            n_rows = allocation[(flow, partner)]
            block_rng = self._rng("ru_stream", f"{period_month}:{flow}:{partner}")
            mix = cal.CHAPTER_MIX_OVERRIDES.get(("RUS", flow, partner)) or \
                cal.CHAPTER_MIX[("RUS", flow)]
            chapters = [ch for ch in mix if _chapter_pool(version, ch)[0]]
            flat = [mix[ch] ** 0.6 for ch in chapters]
            taken: set[tuple[str, str]] = set()
            picks: list[tuple[int, str, str, float]] = []
            misses, attempts = 0, 0
            while len(picks) < n_rows and attempts < n_rows * 50 + 1000:
                attempts += 1
                wide = misses > 30  # the chapter mix is exhausted: draw from everything
                chapter = (block_rng.choice(all_chapters) if wide
                           else chapters[_weighted_index(block_rng, flat)])
                codes, code_weights = _chapter_pool(version, chapter)
                hs6 = codes[_weighted_index(block_rng, code_weights)]
                tnved = hs6 + block_rng.choice(_tnved_suffixes(hs6))
                region = (block_rng.choice(region_codes) if wide else
                          self._line_attrs(block_rng, "RUS", flow, partner, chapter,
                                           tnved)["region"])
                if (tnved, region) in taken:
                    misses += 1
                    continue
                misses = 0
                taken.add((tnved, region))
                picks.append((chapter, tnved, region,
                              _hs6_weight(hs6) * block_rng.lognormvariate(0, 0.8)))
            taken.clear()
            total_weight = sum(p[3] for p in picks) or 1.0
            lines = [self._make_line(block_rng, "RUS", flow, partner, chapter, tnved,
                                     totals[(flow, partner)] * weight / total_weight,
                                     {"region": region})
                     for chapter, tnved, region, weight in picks]
            del picks
            lines.sort(key=lambda ln: (ln.tnved, ln.region))
            block = []
            for line in lines:
                supp = _supp(line)
                block.append([
                    "ЭК" if line.flow == "X" else "ИМ", mm_yyyy, line.partner_iso2, line.tnved,
                    supp[0] if supp else "", _fmt_comma(line.value_cents, 2),
                    _fmt_comma(line.netto_g, 3),
                    _fmt_comma(line.qty_milli, 3).rstrip("0").rstrip(",") if supp else "",
                    line.region, region_names.get(line.region, "")])
                if len(block) >= 5000:
                    yield block
                    block = []
            if block:
                yield block

    def ru_release(self, period_month: str) -> dict[str, Any]:
        with self._lock:  # one revision step throughout, whatever revise() does meanwhile
            return self._ru_release(period_month)

    def _ru_release(self, period_month: str) -> dict[str, Any]:
        revision, status = self.customs_revision("ru_customs", period_month)
        steps = self.revision_steps("ru_customs", period_month)
        if self.ru_streamed():
            meta = self.ru_stream_meta(period_month)
            sha, n_rows = meta["sha256"], meta["rows"]
        else:
            payload = self.ru_csv_bytes(period_month)
            sha, n_rows = sha256_hex(payload), payload.count(b"\r\n") - 1
        offset = 1 if self.status(period_month)[0] == 1 else 2
        published = datetime.fromisoformat(f"{month_add(period_month, offset)}-03T09:00:00+03:00")
        published = min(published, self.now - timedelta(days=1))
        if steps:
            published = min(published + timedelta(hours=12 * steps), self.now - timedelta(hours=1))
        published = published.astimezone(TZ_MSK)
        return {"period": period_month, "revision": revision, "status": status,
                "published_at": _iso(published), "sha256": sha,
                "rows": n_rows, "path": f"/ru-customs/v1/data/{period_month}.csv"}

    def ru_releases(self) -> dict[str, Any]:
        return {"releases": [self.ru_release(p) for p in self.ru_periods()]}

    # ----- kz_customs

    def kz_periods_list(self) -> list[str]:
        return [m for m in self.months if m not in self._unpublished("kz_customs")]

    def kz_items(self, period_month: str, steps: int | None = None) -> list[dict[str, Any]]:
        """All items of a month in feed order (Decimal values; malformed rows included).

        ``steps``: re-publications to apply (default: the current state of the faults).
        """
        if steps is None:
            steps = self.revision_steps("kz_customs", period_month)
        extra = self._extra_columns("kz_customs")

        def build():
            items = []
            for line in self._published_lines("KAZ", period_month, steps):
                supp = _supp(line)
                items.append({
                    "flow": "export" if line.flow == "X" else "import",
                    "tn_ved": line.tnved,
                    "partner_m49": _m49_text(line.partner_iso2),
                    "partner_name_ru": _name_ru(line.partner_iso2),
                    "value_thousand_usd": _dec(line.value_cents // 100, 3),
                    "net_weight_t": _dec(max(1, round(line.netto_g / 1000)), 3),
                    "supp_qty": _dec(line.qty_milli, 3) if supp else None,
                    "supp_unit": supp[1] if supp else None,
                    "transport_mode": line.mode, "customs_regime": line.regime,
                })
            broken = self._break_rows("kz_customs", period_month, items)
            self._cache[("malformed", "kz_customs", period_month, steps)] = broken
            self._cache[("duplicates", "kz_customs", period_month, steps)] = \
                self._append_duplicates("kz_customs", period_month, items,
                                        {ref for ref, _ in broken})
            if extra:  # unknown fields in the middle of every item
                items = [_insert_after(item, "partner_name_ru",
                                       {"declarations": 1 + int(_extra_code(item, 2)),
                                        "customs_post": _extra_code(item, 8)})
                         for item in items]
            return items
        return self._cached(("kz_items", period_month, steps), build)

    def kz_period_info(self, period_month: str, steps: int | None = None) -> dict[str, Any]:
        if steps is None:
            steps = self.revision_steps("kz_customs", period_month)
        revision, status = self.status(period_month)
        offset = 1 if revision == 1 else 2
        generated = datetime.fromisoformat(f"{month_add(period_month, offset)}-02T12:00:00+05:00")
        generated = min(generated, self.now - timedelta(days=2))
        if steps:
            generated = min(generated + timedelta(hours=12 * steps), self.now - timedelta(hours=1))
        return {"period": period_month, "revision": revision + steps, "status": status,
                "records": len(self.kz_items(period_month, steps)),
                "generated_at": _iso(generated)}

    def kz_snapshot(self, period_month: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        """(period info, items) of one consistent state (a re-publication may happen meanwhile)."""
        with self._lock:
            steps = self.revision_steps("kz_customs", period_month)
            return (self.kz_period_info(period_month, steps),
                    self.kz_items(period_month, steps))

    def kz_periods(self) -> dict[str, Any]:
        periods = []
        for period_month in self.kz_periods_list():
            info = self.kz_period_info(period_month)
            periods.append({k: info[k] for k in ("period", "revision", "status", "records")})
        return {"periods": periods}

    # ----- comtrade

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
        if steps:
            def revise():
                previous = self._comtrade_rows_at(reporter_m49, period_month, steps - 1)
                return self._revise_comtrade(reporter_m49, period_month, previous, steps)
            return self._cached(("comtrade", reporter_m49, period_month, steps), revise)

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
        return self._cached(("comtrade", reporter_m49, period_month), build)

    def _revise_comtrade(self, j: int, period_month: str, rows: list[dict[str, Any]],
                         step: int) -> list[dict[str, Any]]:
        """One re-publication of a comtrade unit: ~3 % of the leaves (at least one) vanish
        with their breakdown rows, ~5 % (at least one) change value; each partner's TOTAL
        row follows its leaves. Leaves the malformed_rows / duplicate_rows faults touched
        are left alone, so what those faults recorded stays true."""
        unit = f"{j}:{period_month}"
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
        n = len(leaves)
        dropped = set(rng.sample(leaves, min(n - 1, max(1, round(n * 0.03))))) if n > 1 else set()
        kept = [i for i in leaves if i not in dropped]
        changed = set(rng.sample(kept, min(len(kept), max(1, round(n * 0.05)))))
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
                value = value if value != old else round(old + 1.0, 2)
                row = dict(row, primaryValue=value)
                for key in ("cifvalue", "fobvalue"):
                    if row.get(key) is not None:
                        row[key] = value
                delta[(row["flowCode"], row["partnerCode"])] += value - old
            out.append(row)
        for index, row in enumerate(out):
            move = delta.get((row.get("flowCode"), row.get("partnerCode")))
            if move and row.get("cmdCode") == "TOTAL":
                value = round(row["primaryValue"] + move, 2)
                row = dict(row, primaryValue=value)
                for key in ("cifvalue", "fobvalue"):
                    if row.get(key) is not None:
                        row[key] = value
                out[index] = row
        return out

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
        for (flow, i_m49), (value, kg) in sorted(totals.items()):
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

    def _availability_row(self, j: int, period_month: str) -> dict[str, Any]:
        with self._lock:
            steps = self.revision_steps("comtrade", f"{j}:{period_month}")

            def build():
                rows = self._comtrade_rows_at(j, period_month, steps)
                canonical = json.dumps(rows, sort_keys=True, separators=(",", ":"),
                                       ensure_ascii=False, allow_nan=False)
                first, last = self._comtrade_release_times(j, period_month, steps)
                year, month = int(period_month[:4]), int(period_month[5:7])
                return {
                    "typeCode": "C", "freqCode": "M",
                    "classificationCode": "H6" if period_month >= "2022-01" else "H5",
                    "classificationSearchCode": "HS", "isOriginalClassification": True,
                    "reporterCode": j, "period": f"{year}{month:02d}", "refYear": year,
                    "refMonth": month, "totalRecords": len(rows),
                    "datasetChecksum": sha256_hex(canonical.encode("utf-8")),
                    "firstReleased": first, "lastReleased": last,
                }
            return dict(self._cached(("comtrade_da", j, period_month, steps), build))

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
                for row in self.comtrade_rows(reporter, f"{period[:4]}-{period[4:]}"):
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

    # ----- ports

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
            n_calls = max(1, round(8 * self.config.scale))
        else:
            n_calls = max(2, round(cal.PORT_CALLS_PER_MONTH[port] * season * self.config.scale
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
                shown_tz = timezone.utc
            elif arrival.hour == 23 and (arrival + timedelta(hours=1)).day == 1:
                shown_tz = timezone(timedelta(hours=6))
            else:
                shown_tz = call_rng.choices((TZ_KZ, timezone.utc, timezone(timedelta(hours=4))),
                                            weights=(85, 10, 5))[0]
            vessel = call_rng.choice(self._fleet[kind])
            previous_port = counterparts[_weighted_index(call_rng, cp_weights)]
            next_port = counterparts[_weighted_index(call_rng, cp_weights)]
            planned = self._cargo(call_rng, kind, port)
            actual = [dict(line, tonnes=RawNumber(
                f"{float(line['tonnes']) * call_rng.uniform(0.96, 1.03):.1f}")) for line in planned]
            base = {"call_id": call_id, "port": port, "vessel": vessel,
                    "previous_port": previous_port, "next_port": next_port}
            boundary = shown_tz in (timezone.utc, timezone(timedelta(hours=6))) and (
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

    def out_of_order_versions(self, port: str, period_month: str) -> list[tuple[str, int]]:
        """(call_id, version) pairs the ports_out_of_order fault sent after a newer version."""
        self.port_calls_month(port, period_month)
        return list(self._cache.get(("out_of_order", port, period_month), []))

    def _break_port_calls(self, port: str, period_month: str, calls: list) -> None:
        count = self._malformed_count("ports")
        broken: list[tuple[str, int, str]] = []
        if count and period_month in self.months:
            rng = self._rng("ports", f"{port}:{period_month}:malformed")
            candidates = [records for records in calls if records[-1][1]["cargo"]]
            for n, records in enumerate(rng.sample(candidates, min(count, len(candidates)))):
                newest = records[-1][1]
                index = rng.randrange(len(newest["cargo"]))
                reason = ("missing_tonnes", "negative_value")[n % 2]
                for _, record in records:  # the same line in every version that has it
                    if index < len(record["cargo"]):
                        line = record["cargo"][index]
                        if reason == "missing_tonnes":
                            line.pop("tonnes", None)
                        else:
                            line["tonnes"] = RawNumber("-" + str(line["tonnes"]).lstrip("-"))
                broken.append((newest["call_id"], index, reason))
        self._cache[("malformed", "ports", f"{port}:{period_month}")] = sorted(broken)

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

    def port_versions(self, port: str | None = None,
                      updated_since: datetime | None = None) -> list[dict[str, Any]]:
        """Visible versions in feed order, optionally from ``updated_since`` (inclusive)."""
        return [record for moment, record in self._port_timeline()
                if (port is None or record["port"] == port)
                and (updated_since is None or moment >= updated_since)]

    def port_calls(self, port: str | None = None) -> list[dict[str, Any]]:
        """The newest visible version of every call (what statistics count)."""
        newest: dict[str, dict[str, Any]] = {}
        for record in self.port_versions(port):  # the highest version wins, whatever the order
            known = newest.get(record["call_id"])
            if known is None or record["version"] > known["version"]:
                newest[record["call_id"]] = record
        return sorted(newest.values(), key=lambda r: r["call_id"])

    # ----- rail

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
                    for row in _read_seed("ref_rail_crossings.csv")}
        for point, (per_day, mean_wagons) in cal.RAIL_POINTS.items():
            n = 0 if nothing_crossed else _poisson(rng, per_day * season * self.config.scale)
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

    def _shrink_rail(self, day: str, report: dict[str, Any], step: int = 1) -> None:
        """shrinking_revision: revision+1, at least one consignment fewer, a few tonnes changed."""
        rng = self._rng("rail", f"{day}:revision:{step}")
        report["revision"] += 1
        generated = datetime.fromisoformat(report["generated"]) + timedelta(days=1)
        report["generated"] = _iso(generated.astimezone(TZ_KZ))
        flat = [(ci, mi, ki) for ci, crossing in enumerate(report["crossings"])
                for mi, movement in enumerate(crossing["movements"])
                for ki, _ in enumerate(movement["consignments"])]
        if not flat:
            return  # nothing crossed that day: only the revision moves
        dropped = set(rng.sample(flat, max(1, round(len(flat) * 0.05))))
        kept = [ref for ref in flat if ref not in dropped]
        for ci, mi, ki in rng.sample(kept, min(len(kept), max(1, round(len(flat) * 0.1)))):
            consignment = report["crossings"][ci]["movements"][mi]["consignments"][ki]
            tonnes = round(float(consignment["tonnes"]) * rng.uniform(0.85, 1.15) * 1000) / 1000
            if f"{tonnes:.3f}" == consignment["tonnes"]:
                tonnes += 1
            consignment["tonnes"] = f"{tonnes:.3f}"
        for ci, mi, ki in sorted(dropped, reverse=True):
            del report["crossings"][ci]["movements"][mi]["consignments"][ki]
        for crossing in report["crossings"]:
            crossing["movements"] = [m for m in crossing["movements"] if m["consignments"]]
        report["crossings"] = [c for c in report["crossings"] if c["movements"]]

    def _duplicate_rail(self, day: str, report: dict[str, Any]) -> None:
        """duplicate_rows: N clean consignments repeated right after themselves."""
        count = self._duplicate_count("rail")
        keys: list[tuple] = []
        if count:
            rng = self._rng("rail", f"{day}:duplicates")
            flat = [(ci, mi, ki) for ci, crossing in enumerate(report["crossings"])
                    for mi, movement in enumerate(crossing["movements"])
                    for ki, c in enumerate(movement["consignments"]) if "_malformed" not in c]
            chosen = sorted(rng.sample(flat, min(count, len(flat))))
            keys = [_rail_key(report["crossings"][ci], report["crossings"][ci]["movements"][mi],
                              report["crossings"][ci]["movements"][mi]["consignments"][ki])
                    for ci, mi, ki in chosen]
            for ci, mi, ki in sorted(chosen, reverse=True):
                movement = report["crossings"][ci]["movements"][mi]
                movement["consignments"].insert(ki + 1, dict(movement["consignments"][ki]))
            broken, index = [], 0  # consignment indices moved: recount the malformed ones
            for crossing in report["crossings"]:
                for movement in crossing["movements"]:
                    for consignment in movement["consignments"]:
                        if "_malformed" in consignment:
                            broken.append((index, consignment["_malformed"]))
                        index += 1
            self._cache[("malformed", "rail", day)] = broken
        self._cache[("duplicates", "rail", day)] = keys

    def _break_rail(self, day: str, report: dict[str, Any]) -> None:
        count = self._malformed_count("rail")
        broken: list[tuple[int, str]] = []
        if count:
            rng = self._rng("rail", f"{day}:malformed")
            flat = [(ci, mi, ki) for ci, crossing in enumerate(report["crossings"])
                    for mi, movement in enumerate(crossing["movements"])
                    for ki, _ in enumerate(movement["consignments"])]
            chosen = sorted(rng.sample(flat, min(count, len(flat))))
            reasons = ("negative_value", "missing_required", "bad_commodity_length",
                       "unknown_partner", "unknown_point")
            moved = []
            for n, (ci, mi, ki) in enumerate(chosen):
                consignment = report["crossings"][ci]["movements"][mi]["consignments"][ki]
                reason = reasons[n % len(reasons)]
                consignment["_malformed"] = reason
                if reason == "negative_value":
                    consignment["tonnes"] = "-" + consignment["tonnes"]
                elif reason == "missing_required":
                    del consignment["wagons"]
                elif reason == "bad_commodity_length":
                    consignment["gng"] = consignment["gng"][:7]
                elif reason == "unknown_partner":
                    consignment["origin"] = "QQ"
                else:
                    moved.append((ci, mi, ki))
            for ci, mi, ki in sorted(moved, reverse=True):
                movement = report["crossings"][ci]["movements"][mi]
                consignment = movement["consignments"].pop(ki)
                report["crossings"].append({
                    "point": "NOWHERE", "partnerRailway": "XX",
                    "movements": [{"direction": movement["direction"],
                                   "transit": movement["transit"],
                                   "consignments": [consignment]}]})
            for crossing in report["crossings"]:
                crossing["movements"] = [m for m in crossing["movements"] if m["consignments"]]
            report["crossings"] = [c for c in report["crossings"] if c["movements"]]
            index = 0
            for crossing in report["crossings"]:
                for movement in crossing["movements"]:
                    for consignment in movement["consignments"]:
                        if "_malformed" in consignment:
                            broken.append((index, consignment["_malformed"]))
                        index += 1
        self._cache[("malformed", "rail", day)] = broken

    def rail_xml(self, day: str) -> bytes:
        extra = self._extra_columns("rail")

        def build():
            report = self.rail_report(day)
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
                    transit = "true" if movement["transit"] else "false"
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
        with self._lock:  # the report and the key of one revision step
            return self._cached(("rail_xml", day, self.revision_steps("rail", day)), build)

    # ----- faults

    def _break_rows(self, feed: str, unit: str, rows: list[dict[str, Any]]) -> list[tuple]:
        """Break N rows of a unit in ways the spec rejects; returns (row ref, reason)."""
        count = self._malformed_count(feed)
        broken: list[tuple] = []
        if count and rows:
            rng = self._rng(feed, f"{unit}:malformed")
            chosen = sorted(rng.sample(range(len(rows)), min(count, len(rows))))
            breakers = _BREAKERS[feed]
            keys = {_row_key(feed, row) for row in rows}
            for n, index in enumerate(chosen):
                row = rows[index]
                for attempt in range(len(breakers)):
                    reason, breaker = breakers[(n + attempt) % len(breakers)]
                    candidate = dict(row)
                    breaker(candidate, unit)
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

    def malformed_keys(self, feed: str, unit: str) -> list[tuple]:
        """Which rows of a unit the malformed-rows fault broke, and why.

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


def _supp(line: TradeLine) -> tuple[str, str, float] | None:
    if not line.supp_chapter_key:
        return None
    key = line.supp_chapter_key
    return cal.SUPP_UNITS_HS4.get(key) or cal.SUPP_UNITS[int(key)]


def _row_key(feed: str, row: dict[str, Any]) -> tuple:
    if feed == "ru_customs":
        return (row.get("napr"), row.get("strana"), row.get("tnved"), row.get("region"))
    if feed == "kz_customs":
        return (row.get("flow"), row.get("tn_ved"), row.get("partner_m49"),
                row.get("transport_mode"), row.get("customs_regime"))
    return (row.get("reporterCode"), row.get("period"), row.get("flowCode"),
            row.get("partnerCode"), row.get("partner2Code"), row.get("cmdCode"),
            row.get("motCode"), row.get("customsCode"))


def _rail_key(crossing: dict[str, Any], movement: dict[str, Any],
              consignment: dict[str, Any]) -> tuple:
    return (crossing["point"], movement["direction"], movement["transit"],
            *(consignment.get(k) for k in ("gng", "wagons", "teu", "tonnes", "origin",
                                           "destination")))


def _is_month(text: str) -> bool:
    return (len(text) == 7 and text[4] == "-" and text[:4].isdigit() and text[5:].isdigit()
            and 1 <= int(text[5:]) <= 12)


def _other_month(unit: str) -> str:
    return month_add(unit[-7:], -1)


def _ru_period_mismatch(row: dict, unit: str) -> None:
    other = _other_month(unit)
    row["period"] = f"{other[5:7]}/{other[:4]}"


def _negate_comtrade(row: dict, unit: str) -> None:
    for key in ("primaryValue", "cifvalue", "fobvalue"):
        if isinstance(row.get(key), float):
            row[key] = -abs(row[key]) or -1.0


def _null_comtrade_values(row: dict, unit: str) -> None:
    row.update({"primaryValue": None, "cifvalue": None, "fobvalue": None})


_BREAKERS = {
    "ru_customs": (
        ("negative_value", lambda r, u: r.update(stoim="-" + r["stoim"])),
        ("bad_commodity_length", lambda r, u: r.update(tnved=r["tnved"][:9])),
        ("unknown_partner", lambda r, u: r.update(strana="QQ")),
        ("missing_required", lambda r, u: r.update(stoim="")),
        ("self_partner", lambda r, u: r.update(strana="RU")),
        ("period_mismatch", _ru_period_mismatch),
    ),
    "kz_customs": (
        ("negative_value", lambda r, u: r.update(value_thousand_usd=-r["value_thousand_usd"])),
        ("bad_commodity_length", lambda r, u: r.update(tn_ved=r["tn_ved"][:9])),
        ("unknown_partner", lambda r, u: r.update(partner_m49="999", partner_name_ru="???")),
        ("missing_required", lambda r, u: r.pop("net_weight_t", None)),
        ("self_partner",
         lambda r, u: r.update(partner_m49="398", partner_name_ru="Казахстан")),
    ),
    "comtrade": (
        ("negative_value", _negate_comtrade),
        ("bad_commodity_length", lambda r, u: r.update(cmdCode=r["cmdCode"][:5])),
        ("missing_required", _null_comtrade_values),
    ),
}


@lru_cache(maxsize=1)
def countries_by_m49() -> dict[int, dict[str, str]]:
    return {int(row["m49"]): row for row in countries().values() if row["m49"].isdigit()}


def _mirror_m49() -> tuple[int, ...]:
    from corridor.config import MIRROR_REPORTERS_M49

    return MIRROR_REPORTERS_M49
