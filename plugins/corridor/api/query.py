"""The data query of the API, parsed: which rows of a dataset a request asks for.

Pure functions (no files, no HTTP), so every rule has a fast unit test. A malformed key,
filter or instant raises :class:`BadQuery`, which the API answers with ``400``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

_CODE = re.compile(r"[A-Za-z0-9_@$-]{1,64}")
_PERIOD = re.compile(r"\d{4}(-(0[1-9]|1[0-2]))?")
_OPERATORS: dict[str, Callable[[str, str], bool]] = {
    "ge": lambda a, b: a >= b, "le": lambda a, b: a <= b, "eq": lambda a, b: a == b}


class BadQuery(ValueError):
    """A request the API cannot read (400)."""


def parse_key(key: str, dimensions: tuple[str, ...]) -> tuple[frozenset[str] | None, ...]:
    """``M.KAZ.RUS+CHN..._T`` -> per dimension the codes asked for (None: all).

    ``*`` alone (or an empty key) is everything; in a position, ``*`` or nothing matches
    all and ``+`` separates alternatives."""
    if key in ("*", "all", ""):
        return (None,) * len(dimensions)
    parts = key.split(".")
    if len(parts) != len(dimensions):
        raise BadQuery(f"key {key!r} has {len(parts)} positions, the dataflow "
                       f"{len(dimensions)} ({'.'.join(dimensions)})")
    wanted = []
    for dimension, part in zip(dimensions, parts, strict=True):
        if part in ("", "*"):
            wanted.append(None)
            continue
        codes = part.split("+")
        bad = [code for code in codes if not _CODE.fullmatch(code)]
        if bad:
            raise BadQuery(f"key position {dimension}: {bad[0]!r} is not a code")
        wanted.append(frozenset(codes))
    return tuple(wanted)


@dataclass(frozen=True)
class PeriodBound:
    operator: str  # ge, le, eq
    period: str    # YYYY or YYYY-MM

    def admits(self, period: str) -> bool:
        """Annual periods (either side) compare by year, months by month."""
        if len(period) == 4 or len(self.period) == 4:
            return _OPERATORS[self.operator](period[:4], self.period[:4])
        return _OPERATORS[self.operator](period, self.period)


def parse_period_filter(text: str) -> tuple[PeriodBound, ...]:
    """``ge:2024-01+le:2024-06`` (a ``+`` arrives as a space when not escaped)."""
    bounds = []
    for part in re.split(r"[+ ]", text.strip()):
        operator, _, period = part.partition(":")
        if not period:  # a bare period is eq
            operator, period = "eq", operator
        if operator not in _OPERATORS or not _PERIOD.fullmatch(period):
            raise BadQuery(f"TIME_PERIOD filter {part!r}: expected ge:, le: or eq: and a "
                           "period YYYY or YYYY-MM")
        bounds.append(PeriodBound(operator, period))
    return tuple(bounds)


def period_filter(params: Mapping[str, str]) -> tuple[PeriodBound, ...]:
    """The TIME_PERIOD bounds of the query string, however the client spells them:
    ``c[TIME_PERIOD]=ge:..`` (SDMX REST 2.x, the spec), ``c=TIME_PERIOD:ge:..`` (sdmx1's
    spelling of the same), ``startPeriod``/``endPeriod`` (SDMX REST 1.x)."""
    bounds: list[PeriodBound] = []
    if "c[TIME_PERIOD]" in params:
        bounds += parse_period_filter(params["c[TIME_PERIOD]"])
    if "c" in params:
        component, _, text = params["c"].partition(":")
        if component != "TIME_PERIOD" or not text:
            raise BadQuery(f"c={params['c']!r}: only TIME_PERIOD:<filter> is supported")
        bounds += parse_period_filter(text)
    for name, operator in (("startPeriod", "ge"), ("endPeriod", "le")):
        if name in params:
            bounds += parse_period_filter(f"{operator}:{params[name]}")
    other = [name for name in params if name.startswith("c[") and name != "c[TIME_PERIOD]"]
    if other:
        raise BadQuery(f"{other[0]}: only TIME_PERIOD can be filtered (use the key)")
    return tuple(bounds)


def parse_instant(text: str, name: str) -> datetime:
    """An ISO 8601 instant (``2025-02-20T10:00:00+05:00``, ``...Z``, or a date: its UTC
    midnight); without an offset it is UTC."""
    try:
        instant = datetime.fromisoformat(text.strip().replace(" ", "+"))
    except ValueError:
        raise BadQuery(f"{name}={text!r} is not an ISO 8601 instant") from None
    return instant if instant.tzinfo else instant.replace(tzinfo=UTC)


def one_of(params: Mapping[str, str], *names: str) -> str | None:
    """The value of whichever spelling the client used (at most one)."""
    given = [name for name in names if name in params]
    if len(given) > 1:
        raise BadQuery(f"give one of {', '.join(given)}, not both")
    return params[given[0]] if given else None


@dataclass(frozen=True)
class RowFilter:
    """Which observations of a dataset a request selects."""

    key: tuple[frozenset[str] | None, ...]
    periods: tuple[PeriodBound, ...]

    def admits(self, key: list[str], period: str) -> bool:
        return (all(codes is None or value in codes
                    for codes, value in zip(self.key, key, strict=True))
                and all(bound.admits(period) for bound in self.periods))
