"""Cached code lists from the dbt seeds, for validating feed rows.

Every code column is read as text (csv module, no type guessing): HS and M49 codes
carry leading zeros. M49 codes are compared as integers (``"031"`` = Comtrade ``31``).
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from datetime import timedelta, timezone
from functools import lru_cache
from pathlib import Path

from corridor.config import PROJECT_DIR

SEEDS_DIR = PROJECT_DIR / "dbt_project" / "seeds"

#: Undisclosed partner codes: valid partners that count in totals (spec/feeds.md "Codes").
UNDISCLOSED_ISO2 = "XX"
UNDISCLOSED_M49 = 0


def _read_seed(name: str) -> list[dict[str, str]]:
    path = Path(SEEDS_DIR) / name
    with path.open(encoding="utf-8-sig", newline="") as handle:
        return [dict(row) for row in csv.DictReader(handle)]


@lru_cache(maxsize=1)
def iso2_codes() -> frozenset[str]:
    """ISO 3166-1 alpha-2 codes of the country seed, plus ``XX`` (undisclosed)."""
    return frozenset({row["iso2"].strip().upper() for row in _read_seed("ref_countries.csv")}
                     | {UNDISCLOSED_ISO2})


@lru_cache(maxsize=1)
def m49_codes() -> frozenset[int]:
    """M49 codes of the country seed as integers, plus 0 (``000`` undisclosed)."""
    return frozenset({int(row["m49"]) for row in _read_seed("ref_countries.csv")
                      if row["m49"].strip().isdigit()} | {UNDISCLOSED_M49})


@lru_cache(maxsize=1)
def rail_crossing_points() -> frozenset[str]:
    """Crossing-point codes of the rail feed."""
    return frozenset(row["point"].strip() for row in _read_seed("ref_rail_crossings.csv"))


@dataclass(frozen=True)
class Port:
    locode: str
    name: str
    role: str
    utc_offset: str  # "+05:00"

    @property
    def tzinfo(self) -> timezone:
        sign = -1 if self.utc_offset.startswith("-") else 1
        hours, _, minutes = self.utc_offset.lstrip("+-").partition(":")
        return timezone(sign * timedelta(hours=int(hours), minutes=int(minutes or 0)))


@lru_cache(maxsize=1)
def caspian_ports() -> dict[str, Port]:
    """All ports of the seed by LOCODE, with their local UTC offsets."""
    return {row["locode"]: Port(row["locode"], row["name"], row["role"], row["utc_offset"])
            for row in _read_seed("ref_caspian_ports.csv")}


@lru_cache(maxsize=1)
def feed_ports() -> dict[str, Port]:
    """The ports whose operators publish the ports feed (role ``feed_port``)."""
    return {code: port for code, port in caspian_ports().items() if port.role == "feed_port"}
