"""What every simulated feed shares: the config, reference data, helpers, the world's core.

``WorldCore`` holds the state of one world (its config, the unit cache, the lock
the server's threads share, the calendar) and the per-unit random streams: each
unit draws from its own ``random.Random(f"{seed}:{feed}:{unit}")``, so units are
independent, lazily generated and cached.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import random
import threading
import zlib
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from functools import cached_property, lru_cache
from itertools import accumulate
from typing import Any

from corridor.config import month_add, month_range
from corridor.reference import read_seed
from corridor.simulator import calibration as cal

TZ_KZ = timezone(timedelta(hours=5))
TZ_MSK = timezone(timedelta(hours=3))
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
    #: The scale of rail and port traffic; None: ``scale``. The customs feeds at national
    #: volume (scale 500: RU 1 M rows a month) beside real crossing and port traffic is
    #: scale 500 with logistics_scale 1 (bench.end_to_end's default).
    logistics_scale: float | None = None

    @property
    def logistics(self) -> float:
        """The scale rail and ports are generated at."""
        return self.scale if self.logistics_scale is None else self.logistics_scale


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


def _supp(line: TradeLine) -> tuple[str, str, float] | None:
    """(Russian unit name, KZ unit name, kg per unit) of a line's supplementary quantity."""
    if not line.supp_chapter_key:
        return None
    key = line.supp_chapter_key
    return cal.SUPP_UNITS_HS4.get(key) or cal.SUPP_UNITS[int(key)]


# --------------------------------------------------------------------------- reference


@lru_cache(maxsize=1)
def countries() -> dict[str, dict[str, str]]:
    """Country seed by ISO alpha-2."""
    return {row["iso2"]: row for row in read_seed("ref_countries")}


@lru_cache(maxsize=1)
def _hs6_by_version() -> dict[str, dict[int, list[str]]]:
    out: dict[str, dict[int, list[str]]] = {"HS2017": defaultdict(list),
                                            "HS2022": defaultdict(list)}
    for row in read_seed("ref_hs_products"):
        if row["level"] == "6" and row["hs_version"] in out:
            out[row["hs_version"]][int(row["hs_code"][:2])].append(row["hs_code"])
    return out


@lru_cache(maxsize=1)
def hs6_descriptions() -> dict[str, str]:
    desc: dict[str, str] = {}
    for row in read_seed("ref_hs_products"):
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
    """The subheadings of a chapter and the running sums of their weights (for ``_pick``)."""
    codes = tuple(sorted(_hs6_by_version()[version].get(chapter, ())))
    return codes, _cumulative(_hs6_weight(code) for code in codes)


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


def _cumulative(weights: Iterable[float]) -> tuple[float, ...]:
    """Running sums of ``weights``, summed once for many ``_pick`` draws."""
    return tuple(accumulate(weights))


def _pick(rng: random.Random, cum_weights: tuple[float, ...]) -> int:
    """``_weighted_index`` from running sums: the same draw, without summing again."""
    return rng.choices(range(len(cum_weights)), cum_weights=cum_weights)[0]


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


@lru_cache(maxsize=1)
def countries_by_m49() -> dict[int, dict[str, str]]:
    return {int(row["m49"]): row for row in countries().values() if row["m49"].isdigit()}


def _mirror_m49() -> tuple[int, ...]:
    from corridor.config import MIRROR_REPORTERS_M49

    return MIRROR_REPORTERS_M49


def _is_month(text: str) -> bool:
    return (len(text) == 7 and text[4] == "-" and text[:4].isdigit() and text[5:].isdigit()
            and 1 <= int(text[5:]) <= 12)


# --------------------------------------------------------------------------- the core


class WorldCore:
    """One world's state, calendar, random streams and fault settings (the feeds build on it)."""

    def __init__(self, config: SimConfig | None = None,
                 cache_dir: str | os.PathLike[str] | None = None) -> None:
        from corridor.simulator.bodies import BodyCache

        self.config = config or SimConfig()
        #: bodies cached on disk (bodies.py), or None: built in memory on every start
        self.bodies = BodyCache(cache_dir, self.config) if cache_dir is not None else None
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

    def _cached(self, key: tuple, build):
        with self._lock:
            if key not in self._cache:
                self._cache[key] = build()
            return self._cache[key]

    #: In-memory kinds that hold a month's records (the fault records are small and kept).
    _MONTH_CONTENT = frozenset({"national", "national_count", "published", "pair",
                                "kz_items", "ru_rows", "ru_csv", "comtrade", "comtrade_da"})

    def forget_month(self, period_month: str) -> None:
        """Drop a month's records from memory once the disk cache holds what they were
        built for: at national volume a month of both reporters is hundreds of MB."""
        with self._lock:
            for key in [key for key in self._cache
                        if key[0] in self._MONTH_CONTENT and period_month in key]:
                del self._cache[key]

    def _rng(self, feed: str, unit: str) -> random.Random:
        return random.Random(f"{self.seed}:{feed}:{unit}")

    @staticmethod
    def _level(period_month: str, reference_year: int) -> float:
        year, month = int(period_month[:4]), int(period_month[5:7])
        growth = cal.GROWTH_BY_YEAR.get(year, 1.0) / cal.GROWTH_BY_YEAR[reference_year]
        return growth * cal.SEASONALITY[month - 1] / 12.0

    def _at_step(self, key: tuple, steps: int, build: Callable[[], Any],
                 revise: Callable[[Any, int], Any]) -> Any:
        """A unit's content after ``steps`` re-publications, every step cached: step 0 is
        ``build()``, step n is ``revise(content at step n - 1, n)``."""
        if not steps:
            return self._cached((*key, 0), build)
        return self._cached((*key, steps),
                            lambda: revise(self._at_step(key, steps - 1, build, revise), steps))

    def customs_revision(self, feed: str, period_month: str) -> tuple[int, str]:
        """(revision, status) a customs feed publishes, re-publications by faults included."""
        revision, status = self.status(period_month)
        return revision + self.revision_steps(feed, period_month), status

