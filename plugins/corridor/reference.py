"""The dbt seeds as Python reads them: one reader, and the cached code lists of the
feed rows and the indicator catalogue.

Every code column is read as text (csv module, no type guessing): HS and M49 codes
carry leading zeros. M49 codes are compared as integers (``"031"`` = Comtrade ``31``).
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from datetime import timedelta, timezone
from functools import lru_cache
from pathlib import Path

from babel import Locale

from corridor.config import PROJECT_DIR

#: Where a project keeps its seeds (the dbt project's seed-paths).
SEEDS_SUBDIR = Path("dbt_project") / "seeds"

#: The languages of every published name (spec/indicators.md "Languages"), in the order
#: structure.xml gives them; each is a ``name_<lang>`` column of the label seeds.
LANGUAGES = ("en", "ru", "kk")

#: Undisclosed partner codes: valid partners that count in totals (spec/feeds.md "Codes").
UNDISCLOSED_ISO2 = "XX"
UNDISCLOSED_M49 = 0


def read_seed(name: str, project_dir: Path = PROJECT_DIR) -> list[dict[str, str]]:
    """The rows of seed ``name`` (``ref_countries``) of the project, every value text.

    The one reader of the seeds in Python (feeds, simulator, SDMX, gate, report);
    ``project_dir`` lets a caller read another copy of the project (tests).
    """
    path = Path(project_dir) / SEEDS_SUBDIR / f"{name}.csv"
    with path.open(encoding="utf-8-sig", newline="") as handle:
        return [dict(row) for row in csv.DictReader(handle)]


@lru_cache(maxsize=1)
def iso2_codes() -> frozenset[str]:
    """ISO 3166-1 alpha-2 codes of the country seed, plus ``XX`` (undisclosed)."""
    return frozenset({row["iso2"].strip().upper() for row in read_seed("ref_countries")}
                     | {UNDISCLOSED_ISO2})


@lru_cache(maxsize=1)
def m49_codes() -> frozenset[int]:
    """M49 codes of the country seed as integers, plus 0 (``000`` undisclosed)."""
    return frozenset({int(row["m49"]) for row in read_seed("ref_countries")
                      if row["m49"].strip().isdigit()} | {UNDISCLOSED_M49})


@lru_cache(maxsize=1)
def rail_crossing_points() -> frozenset[str]:
    """Crossing-point codes of the rail feed."""
    return frozenset(row["point"].strip() for row in read_seed("ref_rail_crossings"))


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
            for row in read_seed("ref_caspian_ports")}


@lru_cache(maxsize=1)
def feed_ports() -> dict[str, Port]:
    """The ports whose operators publish the ports feed (role ``feed_port``)."""
    return {code: port for code, port in caspian_ports().items() if port.role == "feed_port"}


# ------------------------------------------------------------ indicator catalogue

@dataclass(frozen=True)
class Indicator:
    """One row of the indicator catalogue (seed ``ref_indicators``)."""

    code: str
    dataset: str        # bilateral_trade, corridor_logistics
    unit_measure: str   # USD, PCT, IDX, T, H, NUM, TEU
    decimals: int
    node_kind: str      # logistics: port, rail_crossing, corridor; bilateral: ""
    is_flow: bool       # a sum of trade or traffic, never negative
    names: dict[str, str]  # by language (LANGUAGES)


@lru_cache(maxsize=1)
def indicators() -> dict[str, Indicator]:
    """The published indicators by code, in the catalogue's order (spec/indicators.md)."""
    return {row["indicator"]: Indicator(
                code=row["indicator"], dataset=row["dataset"],
                unit_measure=row["unit_measure"], decimals=int(row["decimals"]),
                node_kind=row["node_kind"], is_flow=row["is_flow"] == "true",
                names=_names(row))
            for row in read_seed("ref_indicators")}


def indicator_codes(dataset: str, **attributes: object) -> tuple[str, ...]:
    """Codes of ``dataset`` in catalogue order, optionally those whose attributes match
    (``indicator_codes("corridor_logistics", node_kind="port")``)."""
    return tuple(code for code, indicator in indicators().items()
                 if indicator.dataset == dataset
                 and all(getattr(indicator, name) == value
                         for name, value in attributes.items()))


@lru_cache(maxsize=1)
def reporters() -> dict[str, str]:
    """The reporters of DF_BILATERAL_TRADE (ISO alpha-3, publication order) and the
    customs feed of each (seed ``ref_reporters``)."""
    return {row["iso3"]: row["customs_feed"] for row in read_seed("ref_reporters")}


# ------------------------------------------------------------ names in every language

def _names(row: dict[str, str]) -> dict[str, str]:
    return {language: row[f"name_{language}"] for language in LANGUAGES}


@dataclass(frozen=True)
class Labels:
    """The project's own names (seed ``ref_labels``): scheme -> code -> language -> name.

    Schemes are the code lists (``CL_NODE``) and the kinds of structure (``AGENCY``,
    ``AGENCY_SCHEME``, ``DATAFLOW``, ``DSD``, ``CONCEPT_SCHEME``, ``CONCEPT``,
    ``CODELIST``)."""

    by_scheme: dict[str, dict[str, dict[str, str]]]

    def __call__(self, scheme: str, code: str) -> dict[str, str]:
        """The names of ``code``; a code without a row is an error naming it."""
        try:
            return self.by_scheme[scheme][code]
        except KeyError:
            raise KeyError(f"seed ref_labels has no names for {scheme} {code!r}: add the "
                           f"row {scheme},{code},<name in {'>,<'.join(LANGUAGES)}>") from None

    def scheme(self, scheme: str) -> dict[str, dict[str, str]]:
        """Every code of ``scheme`` (in seed order) with its names."""
        return self.by_scheme[scheme]


def labels(project_dir: Path = PROJECT_DIR) -> Labels:
    """The label seed of the project, read now."""
    by_scheme: dict[str, dict[str, dict[str, str]]] = {}
    for row in read_seed("ref_labels", project_dir):
        by_scheme.setdefault(row["scheme"], {})[row["code"]] = _names(row)
    return Labels(by_scheme)


def country_names(project_dir: Path = PROJECT_DIR) -> dict[str, dict[str, str]]:
    """Every country of the seed by ISO alpha-3, named in each language by CLDR (Babel's
    territory names, looked up by the seed's alpha-2 code)."""
    territories = {language: Locale.parse(language).territories for language in LANGUAGES}
    names = {}
    for row in read_seed("ref_countries", project_dir):
        iso2 = row["iso2"].strip().upper()
        missing = [language for language in LANGUAGES if iso2 not in territories[language]]
        if missing:
            raise KeyError(f"CLDR has no {'/'.join(missing)} name for {iso2} ({row['iso3']})")
        names[row["iso3"]] = {language: territories[language][iso2] for language in LANGUAGES}
    return names
