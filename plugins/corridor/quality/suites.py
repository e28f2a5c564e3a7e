"""The expectation suites of the publish gate, written once as code.

``corridor gx sync`` writes them into the committed GX file context under
``expectations/``; the gate runs that context's checkpoint. Every expectation has a
``description`` (the check's name in the manifest) and a severity: ``critical``
blocks publishing, ``warning`` is only reported.

All checks run as SQL inside PostgreSQL (GX's SQL execution engine, no temp
tables): validating a large mart does not pull its rows into Python.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import great_expectations.expectations as gxe
from great_expectations.expectations.metadata_types import FailureSeverity

CRITICAL = FailureSeverity.CRITICAL
WARNING = FailureSeverity.WARNING

BILATERAL_KEY = ["freq", "ref_area", "counterpart_area", "indicator", "commodity",
                 "time_period"]
LOGISTICS_KEY = ["freq", "node", "indicator", "direction", "cargo", "time_period"]
#: Bilateral indicators that are sums of non-negative flows.
NON_NEGATIVE_BILATERAL = ("X_USD", "M_USD", "TURNOVER_USD", "MIRROR_X_USD", "MIRROR_M_USD")
#: National customs feeds whose every month of the ingest window must be loaded.
CUSTOMS_FEEDS = ("ru_customs", "kz_customs")


@dataclass(frozen=True)
class SuiteSpec:
    """One suite over one warehouse table."""

    name: str
    schema: str
    table: str
    expectations: list = field(default_factory=list)

    @property
    def asset_name(self) -> str:
        return f"{self.schema}.{self.table}"


def _not_null(columns: list[str], dataset: str) -> list:
    return [
        gxe.ExpectColumnValuesToNotBeNull(column=column, severity=CRITICAL,
                                          description=f"{dataset}: {column} not null")
        for column in columns
    ]


def _observation_checks(dataset: str, key: list[str]) -> list:
    """Checks every published dataset shares: complete keys, unique keys, valid codes."""
    return [
        *_not_null([*key, "obs_value", "unit_measure", "obs_status"], dataset),
        gxe.ExpectCompoundColumnsToBeUnique(
            column_list=key, severity=CRITICAL,
            description=f"{dataset}: one observation per key"),
        gxe.ExpectColumnValuesToBeInSet(
            column="freq", value_set=["M", "A"], severity=CRITICAL,
            description=f"{dataset}: freq is M or A"),
        gxe.ExpectColumnValuesToBeInSet(
            column="obs_status", value_set=["A", "P"], severity=CRITICAL,
            description=f"{dataset}: obs_status is A or P"),
        gxe.UnexpectedRowsExpectation(
            unexpected_rows_query=(
                "select * from {batch} where obs_value in ('NaN', 'Infinity', '-Infinity')"),
            severity=CRITICAL,
            description=f"{dataset}: no NaN or infinite values"),
    ]


def build_suites() -> list[SuiteSpec]:
    """All suites of the gate (fresh expectation objects on every call)."""
    bilateral = SuiteSpec(
        name="bilateral_trade", schema="marts", table="ind_bilateral_trade",
        expectations=[
            *_observation_checks("bilateral_trade", BILATERAL_KEY),
            gxe.UnexpectedRowsExpectation(
                unexpected_rows_query=(
                    "select * from {batch} where obs_value < 0 and indicator in ("
                    + ", ".join(f"'{name}'" for name in NON_NEGATIVE_BILATERAL) + ")"),
                severity=CRITICAL,
                description="bilateral_trade: trade flows are non-negative"),
            gxe.UnexpectedRowsExpectation(
                unexpected_rows_query=(
                    "select p.period_month, r.reporter from marts.dim_periods p "
                    "cross join (values ('RUS'), ('KAZ')) as r(reporter) "
                    "where p.is_published and not exists (select 1 from {batch} b "
                    "where b.freq = 'M' and b.ref_area = r.reporter "
                    "and b.counterpart_area = 'W00' and b.indicator = 'TURNOVER_USD' "
                    "and b.commodity = '_T' and b.time_period = p.period_month)"),
                severity=CRITICAL,
                description="bilateral_trade: every reporter x published month has W00 totals"),
        ],
    )
    logistics = SuiteSpec(
        name="corridor_logistics", schema="marts", table="ind_corridor_logistics",
        expectations=[
            *_observation_checks("corridor_logistics", LOGISTICS_KEY),
            gxe.ExpectColumnValuesToBeBetween(
                column="obs_value", min_value=0, severity=CRITICAL,
                description="corridor_logistics: quantities are non-negative"),
        ],
    )
    loaded_units = SuiteSpec(
        name="customs_completeness", schema="raw", table="loaded_units",
        expectations=[
            gxe.UnexpectedRowsExpectation(
                unexpected_rows_query=(
                    "select p.period_month, f.feed from marts.dim_periods p "
                    "cross join (values "
                    + ", ".join(f"('{feed}')" for feed in CUSTOMS_FEEDS)
                    + ") as f(feed) where p.is_ingested and not exists ("
                    "select 1 from {batch} u where u.feed = f.feed "
                    "and u.unit = p.period_month)"),
                severity=CRITICAL,
                description="completeness: every customs feed loaded for every month "
                            "of the ingest window"),
            gxe.ExpectColumnValuesToBeInSet(
                column="status", value_set=["preliminary", "final"], mostly=1.0,
                severity=WARNING,
                description="loaded units: status is preliminary or final"),
        ],
    )
    return [bilateral, logistics, loaded_units]
