"""The expectation suites of the publish gate, written once as code.

``corridor gx sync`` writes them into the committed GX file context under
``expectations/``; the gate runs that context's checkpoint. Every expectation has a
``description`` (the check's name in the manifest and in the gate's failure message)
and a severity: ``critical`` blocks publishing, ``warning`` is only reported.

All checks run as SQL inside PostgreSQL (GX's SQL execution engine, no temp
tables): validating a large mart does not pull its rows into Python. Row checks are
:class:`BoundedUnexpectedRows`: the unexpected rows are counted in the database and
at most :data:`UNEXPECTED_ROWS_SAMPLE` of them reach Python.

One suite per table: ``{batch}`` in a query is that table, as a parenthesised
subquery the query must alias (``from {batch} as r``); a check may read other tables
by name. Layers:

- raw feed rows (``raw_*``): required fields, code formats, non-negative
  quantities, one loaded revision per unit. The loader already moved every bad row to
  ``raw.rejected_rows``, so these are defence in depth.
- completeness (``customs_completeness``, ``rail_completeness``,
  ``port_completeness``): every month of the window is there, feed by feed.
- marts (``fct_trade_flows``, ``dim_*``): unique keys and relationships.
- indicators (``bilateral_trade``, ``corridor_logistics``): keys, identities, ranges,
  and the warnings (mirror asymmetry, unit values).

Queries are ``str.format`` templates: write no other brace in them (no regex
quantifier such as ``{2}``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

import great_expectations.expectations as gxe
from great_expectations.compatibility.sqlalchemy import sqlalchemy as sa
from great_expectations.core.metric_domain_types import MetricDomainTypes
from great_expectations.execution_engine import SqlAlchemyExecutionEngine
from great_expectations.expectations.metadata_types import FailureSeverity
from great_expectations.expectations.metrics.metric_provider import metric_value
from great_expectations.expectations.metrics.query_metric_provider import QueryMetricProvider

CRITICAL = FailureSeverity.CRITICAL
WARNING = FailureSeverity.WARNING

BILATERAL_KEY = ["freq", "ref_area", "counterpart_area", "indicator", "commodity",
                 "time_period"]
LOGISTICS_KEY = ["freq", "node", "indicator", "direction", "cargo", "time_period"]
#: Bilateral indicators that are sums of non-negative flows.
NON_NEGATIVE_BILATERAL = ("X_USD", "M_USD", "TURNOVER_USD", "MIRROR_X_USD", "MIRROR_M_USD")
#: National customs feeds whose every month of the ingest window must be loaded.
CUSTOMS_FEEDS = ("ru_customs", "kz_customs")
#: How the marts name a partner the customs did not disclose (dbt macro undisclosed_partner).
UNDISCLOSED_PARTNER_ISO3 = "_X"

#: Unexpected rows kept in a result (GX's partial_unexpected_count default).
UNEXPECTED_ROWS_SAMPLE = 20
#: Mirror asymmetry warning: |ASYM_*_PCT| above this ...
MIRROR_ASYMMETRY_LIMIT_PCT = 30
#: ... for a partner-month whose TURNOVER_USD is above this.
MIRROR_ASYMMETRY_MIN_TURNOVER_USD = 10_000_000
#: Unit-value warning: outside [low * Q1, high * Q3] of its HS6 x flow x year.
UNIT_VALUE_LOW_FACTOR = 0.5
UNIT_VALUE_HIGH_FACTOR = 2
#: X, M and TURNOVER (BALANCE) are each rounded once to cents: the identity holds
#: within 0.01 (the difference is a whole number of cents, at most 1.5 of them).
USD_IDENTITY_TOLERANCE = 0.01
#: Partner shares (rounded to 4 decimals each) plus the undisclosed share.
SHARE_SUM_TOLERANCE_PCT = 0.01
#: CORRIDOR_NODE_T and its node totals are each rounded to 3 decimals.
NODE_T_TOLERANCE_PER_NODE = 0.001


# --------------------------------------------------------------- bounded row checks

def _batch_subquery(metric_domain_kwargs: dict, execution_engine: SqlAlchemyExecutionEngine,
                    query: str) -> str:
    """``query`` with ``{batch}`` replaced by the batch as a parenthesised subquery.

    GX's own substitution leaves the subquery unaliased when the query contains JOIN and
    appends ``AS subselect`` otherwise, so whether ``{batch} as x`` is valid SQL would
    depend on the rest of the query; here it is always ``(select ...)``: queries alias it.
    """
    batch_selectable, _, _ = execution_engine.get_compute_domain(
        metric_domain_kwargs, domain_type=MetricDomainTypes.TABLE)
    if isinstance(batch_selectable, sa.Table):
        batch_selectable = sa.select(sa.text("*")).select_from(batch_selectable)
    batch = batch_selectable.compile(dialect=execution_engine.engine.dialect,
                                     compile_kwargs={"literal_binds": True})
    return QueryMetricProvider._format_query(query, batch=f"({batch})")


class BoundedUnexpectedRowsQuery(QueryMetricProvider):
    """Count of an unexpected-rows query's rows, and at most UNEXPECTED_ROWS_SAMPLE of them.

    GX's own metrics run the query twice, and ``unexpected_rows_query.table`` takes its
    200 rows with ``fetchmany`` after the driver (psycopg2, a client-side cursor) has
    already buffered the whole result: 10 M unexpected fact rows would all land in
    Python. Here the count runs in PostgreSQL and, only when it is not 0, the sample
    query with a LIMIT: a passing check costs one execution of its query.
    """

    metric_name = "bounded_unexpected_rows_query.summary"
    value_keys = ("unexpected_rows_query",)
    query_param_name: ClassVar[str] = "unexpected_rows_query"

    @metric_value(engine=SqlAlchemyExecutionEngine)
    def _sqlalchemy(cls, execution_engine: SqlAlchemyExecutionEngine,
                    metric_domain_kwargs: dict, metric_value_kwargs: dict,
                    metrics: dict[str, Any], runtime_configuration: dict) -> dict:
        query = _batch_subquery(metric_domain_kwargs, execution_engine,
                                cls._get_query_from_metric_value_kwargs(metric_value_kwargs))
        count = int(execution_engine.execute_query(sa.text(
            f"select count(*) from ({query}) as unexpected_rows")).scalar_one())
        sample = []
        if count:
            sample = cls._get_sqlalchemy_records_from_substituted_batch_subquery(
                # ordered: the same failing data quotes the same rows on every run
                substituted_batch_subquery=f"select * from ({query}) as unexpected_rows "
                                           "order by unexpected_rows::text "
                                           f"limit {UNEXPECTED_ROWS_SAMPLE}",
                execution_engine=execution_engine)
        # as text: exact (no lossy Decimal -> float when GX serialises the result)
        sample = [{column: None if value is None else str(value)
                   for column, value in dict(row).items()} for row in sample]
        return {"row_count": count, "sample": sample}


class BoundedUnexpectedRows(gxe.UnexpectedRowsExpectation):
    """UnexpectedRowsExpectation whose rows are counted, and sampled, in the database.

    Fails when the query returns any row; ``observed_value`` is the number of rows and
    the details hold at most UNEXPECTED_ROWS_SAMPLE of them, whatever the result format
    (but BOOLEAN_ONLY). In the query, ``{batch}`` is the suite's table as a parenthesised subquery:
    always alias it (``from {batch} as r``). Registered as ``bounded_unexpected_rows``:
    load a context holding these suites only after importing this module.
    """

    metric_dependencies: ClassVar[tuple[str, ...]] = ("bounded_unexpected_rows_query.summary",)

    def _validate(self, metrics: dict, runtime_configuration: dict | None = None,
                  execution_engine=None):
        summary = metrics["bounded_unexpected_rows_query.summary"]
        result = super()._validate({"unexpected_rows_query.table": summary["sample"],
                                    "unexpected_rows_query.row_count": summary["row_count"]},
                                   runtime_configuration, execution_engine)
        # the sample is bounded, so every result format may carry it: the gate's message
        # then names the failing rows (feed, period, key), not only how many there are
        if summary["sample"] and isinstance(result, dict) and "result" in result:
            result["result"].setdefault("details", {"unexpected_rows": summary["sample"]})
        return result


def _rows(description: str, query: str, severity: FailureSeverity = CRITICAL):
    return BoundedUnexpectedRows(unexpected_rows_query=" ".join(query.split()),
                                 severity=severity, description=description)


def _in_list(values) -> str:
    return ", ".join(f"'{value}'" for value in values)


def _loaded_revision_rows(table: str, feed: str):
    """A customs month's rows carry the revision ``raw.loaded_units`` holds for it."""
    return _rows(f"{table}: rows carry only their month's loaded revision",
                 "select r.period_month, r.revision, count(*) as rows_count from {batch} as r "
                 "where not exists (select 1 from raw.loaded_units as u "
                 f"where u.feed = '{feed}' and u.unit = r.period_month "
                 "and u.revision = r.revision) group by r.period_month, r.revision")


def _digits(column: str, length: int) -> str:
    """SQL: ``column`` is exactly ``length`` digits (no regex quantifier: no braces)."""
    return f"({column} ~ '^[0-9]+$' and length({column}) = {length})"


def _not_null_rows(table: str, columns: list[str]) -> Any:
    return _rows(f"{table}: required fields not null ({', '.join(columns)})",
                 "select * from {batch} as b where "
                 + " or ".join(f"{column} is null" for column in columns))


def _non_negative_rows(table: str, columns: list[str]) -> Any:
    return _rows(f"{table}: quantities non-negative ({', '.join(columns)})",
                 "select * from {batch} as b where "
                 + " or ".join(f"{column} < 0" for column in columns))


# ------------------------------------------------------------------------ suites

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


def _observation_checks(dataset: str, key: list[str]) -> list:
    """Checks every published dataset shares: complete keys, unique keys, valid codes."""
    return [
        _not_null_rows(dataset, [*key, "obs_value", "unit_measure", "obs_status"]),
        gxe.ExpectCompoundColumnsToBeUnique(
            column_list=key, severity=CRITICAL,
            description=f"{dataset}: one observation per key"),
        gxe.ExpectColumnValuesToBeInSet(
            column="freq", value_set=["M", "A"], severity=CRITICAL,
            description=f"{dataset}: freq is M or A"),
        gxe.ExpectColumnValuesToBeInSet(
            column="obs_status", value_set=["A", "P"], severity=CRITICAL,
            description=f"{dataset}: obs_status is A or P"),
        _rows(f"{dataset}: no NaN or infinite values",
              "select * from {batch} as b where obs_value in ('NaN', 'Infinity', '-Infinity')"),
    ]


def _raw_suites() -> list[SuiteSpec]:
    """Feed rows as loaded: the loader's acceptance rules, checked again."""
    ru = "raw.ru_customs_rows"
    ru_customs = SuiteSpec("raw_ru_customs", "raw", "ru_customs_rows", [
        _not_null_rows(ru, ["period_month", "revision", "status", "row_number", "napr",
                            "period", "strana", "tnved", "stoim", "netto"]),
        _rows(f"{ru}: tnved is a 10-digit TN VED code",
              f"select * from {{batch}} as b where not {_digits('tnved', 10)}"),
        _rows(f"{ru}: strana is an ISO alpha-2 code",
              "select * from {batch} as b where strana !~ '^[A-Z][A-Z]$'"),
        _non_negative_rows(ru, ["stoim", "netto", "kol"]),
        _loaded_revision_rows(ru, "ru_customs"),
    ])
    kz = "raw.kz_customs_rows"
    kz_customs = SuiteSpec("raw_kz_customs", "raw", "kz_customs_rows", [
        _not_null_rows(kz, ["period_month", "revision", "status", "row_number", "flow",
                            "tn_ved", "partner_m49", "value_thousand_usd", "net_weight_t",
                            "transport_mode", "customs_regime"]),
        _rows(f"{kz}: tn_ved is a 10-digit TN VED code",
              f"select * from {{batch}} as b where not {_digits('tn_ved', 10)}"),
        _rows(f"{kz}: partner_m49 is a 3-digit M49 code",
              f"select * from {{batch}} as b where not {_digits('partner_m49', 3)}"),
        _non_negative_rows(kz, ["value_thousand_usd", "net_weight_t", "supp_qty"]),
        _loaded_revision_rows(kz, "kz_customs"),
    ])
    ct = "raw.comtrade_rows"
    comtrade = SuiteSpec("raw_comtrade", "raw", "comtrade_rows", [
        _not_null_rows(ct, ["reporter_code", "period_month", "row_number", "flow_code",
                            "partner_code", "partner2_code", "cmd_code", "mot_code",
                            "customs_code", "is_counted_leaf"]),
        _rows(f"{ct}: counted leaves have a 6-digit HS code",
              "select * from {batch} as b where is_counted_leaf "
              f"and not {_digits('cmd_code', 6)}"),
        _rows(f"{ct}: reporter_code and partner_code are M49 codes (0-999)",
              "select * from {batch} as b where reporter_code not between 1 and 999 "
              "or partner_code not between 0 and 999"),
        _non_negative_rows(ct, ["cifvalue", "fobvalue", "primary_value", "net_wgt"]),
        # comtrade has no revision: each fetch replaces its (reporter, month) unit
        _rows(f"{ct}: rows belong to a loaded (reporter, month) unit",
              "select r.reporter_code, r.period_month, count(*) as rows_count "
              "from {batch} as r where not exists (select 1 from raw.loaded_units as u "
              "where u.feed = 'comtrade' "
              "and u.unit = r.reporter_code::text || ':' || r.period_month) "
              "group by r.reporter_code, r.period_month"),
    ])
    pc = "raw.port_calls"
    port_calls = SuiteSpec("raw_port_calls", "raw", "port_calls", [
        _not_null_rows(pc, ["call_id", "port", "version", "updated_at", "status"]),
        _rows(f"{pc}: port is a UN/LOCODE",
              "select * from {batch} as b where port !~ '^[A-Z][A-Z][A-Z2-9][A-Z2-9][A-Z2-9]$'"),
    ])
    pl = "raw.port_cargo_lines"
    port_cargo_lines = SuiteSpec("raw_port_cargo_lines", "raw", "port_cargo_lines", [
        _not_null_rows(pl, ["call_id", "version", "line_number", "operation", "cargo_type",
                            "tonnes"]),
        _rows(f"{pl}: hs_chapter is a 2-digit HS chapter where given",
              "select * from {batch} as b where hs_chapter is not null "
              f"and not {_digits('hs_chapter', 2)}"),
        _non_negative_rows(pl, ["tonnes", "teu"]),
        # a port call is the unit of publication, its version the revision
        _rows(f"{pl}: lines carry only their call's loaded version",
              "select l.call_id, l.version, count(*) as lines_count from {batch} as l "
              "where not exists (select 1 from raw.port_calls as c "
              "where c.call_id = l.call_id and c.version = l.version) "
              "group by l.call_id, l.version"),
    ])
    rc = "raw.rail_consignments"
    rail = SuiteSpec("raw_rail_consignments", "raw", "rail_consignments", [
        _not_null_rows(rc, ["report_date", "revision", "row_number", "point", "direction",
                            "transit", "gng", "wagons", "teu", "tonnes"]),
        _rows(f"{rc}: point is in the rail crossing reference list",
              "select * from {batch} as r where not exists (select 1 from "
              "reference.ref_rail_crossings as x where x.point = r.point)"),
        _rows(f"{rc}: gng is an 8-digit code",
              f"select * from {{batch}} as b where not {_digits('gng', 8)}"),
        _rows(f"{rc}: origin and destination are ISO alpha-2 codes where given",
              "select * from {batch} as b where origin !~ '^[A-Z][A-Z]$' "
              "or destination !~ '^[A-Z][A-Z]$'"),
        _non_negative_rows(rc, ["wagons", "teu", "tonnes"]),
        _rows(f"{rc}: rows carry only their day's loaded revision",
              "select r.report_date, r.revision, count(*) as rows_count from {batch} as r "
              "where not exists (select 1 from raw.loaded_units as u "
              "where u.feed = 'rail' and u.unit = to_char(r.report_date, 'YYYY-MM-DD') "
              "and u.revision = r.revision) group by r.report_date, r.revision"),
    ])
    lu = "raw.loaded_units"
    loaded_units = SuiteSpec("raw_loaded_units", "raw", "loaded_units", [
        _rows(f"{lu}: one loaded revision per (feed, unit)",
              "select feed, unit, count(*) as revisions_count from {batch} as b "
              "group by feed, unit having count(*) > 1"),
        _rows(f"{lu}: customs months have a revision",
              f"select * from {{batch}} as b where feed in ({_in_list(CUSTOMS_FEEDS)}) "
              "and revision is null"),
    ])
    return [ru_customs, kz_customs, comtrade, port_calls, port_cargo_lines, rail,
            loaded_units]


def _completeness_suites() -> list[SuiteSpec]:
    """Every month of the window present, feed by feed (window: marts.dim_periods).

    - customs (``customs_completeness``): each national feed (ru_customs reports RUS,
      kz_customs KAZ) has a loaded unit for every month of the ingest window.
    - rail (``rail_completeness``): a month of the ingest window is present when at
      least one of its days has an accepted daily report: a ``raw.loaded_units`` row
      of feed ``rail`` that was not rejected whole (no ``raw.rejected_rows`` row with
      ``row_ref = 'report'``: date mismatch or unparsable revision). Days still
      missing only make the month provisional (obs_status P), as the spec says.
    - ports (``port_completeness``): calls are synced incrementally, not by month, so
      a (feed port, published month) is present when both hold: the port's sync ran
      after the window ended (``raw.port_sync_state.synced_at`` at or after local
      midnight, at the port's UTC offset, following the window's last day), so every
      call arriving in the window could have been received; and
      ``ind_corridor_logistics`` has the month's always-published totals for the port
      (``PORT_CALLS`` and ``PORT_T``, ``_T``/``_T``, freq M). The ingest-only YoY
      months are not checked for ports: no logistics indicator uses them. A feed port
      that sent no call is synced all the same (its sync state has no high-water mark).
    """
    customs = SuiteSpec("customs_completeness", "raw", "loaded_units", [
        _rows("completeness: every customs feed loaded for every month of the ingest "
              "window",
              "select p.period_month, f.feed from marts.dim_periods p "
              "cross join (values "
              + ", ".join(f"('{feed}')" for feed in CUSTOMS_FEEDS)
              + ") as f(feed) where p.is_ingested and not exists ("
              "select 1 from {batch} as u where u.feed = f.feed "
              "and u.unit = p.period_month)"),
        gxe.ExpectColumnValuesToBeInSet(
            column="status", value_set=["preliminary", "final", "rejected"], mostly=1.0,
            severity=WARNING,
            description="loaded units: status is preliminary, final or rejected "
                        "(a rail report rejected whole)"),
    ])
    rail = SuiteSpec("rail_completeness", "raw", "loaded_units", [
        _rows("completeness: rail has an accepted daily report in every month of the "
              "ingest window",
              "select p.period_month from marts.dim_periods as p where p.is_ingested "
              "and not exists (select 1 from {batch} as u where u.feed = 'rail' "
              "and u.period_month = p.period_month and not exists ("
              "select 1 from raw.rejected_rows as r where r.feed = 'rail' "
              "and r.unit = u.unit and r.row_ref = 'report'))"),
    ])
    ports = SuiteSpec("port_completeness", "raw", "port_sync_state", [
        _rows("completeness: every feed port synced past the window end and has its "
              "month totals for every published month",
              "with window_end as (select max(month_end_date) + 1 as next_day "
              "from marts.dim_periods where is_ingested), "
              "port_months as (select d.port_locode, p.period_month, "
              "exists (select 1 from {batch} as s cross join window_end as w "
              "where s.port = d.port_locode and s.synced_at >= "
              "(w.next_day::timestamp - d.utc_offset::interval) at time zone 'UTC') "
              "as is_synced, "
              "(select count(distinct o.indicator) from marts.ind_corridor_logistics as o "
              "where o.freq = 'M' and o.node = d.port_locode and o.time_period = "
              "p.period_month and o.indicator in ('PORT_CALLS', 'PORT_T') "
              "and o.direction = '_T' and o.cargo = '_T') as totals_count "
              "from marts.dim_ports as d cross join marts.dim_periods as p "
              "where d.is_feed_port and p.is_published) "
              "select * from port_months where not is_synced or totals_count < 2"),
    ])
    return [customs, rail, ports]


def _dimension_suites() -> list[SuiteSpec]:
    def unique(table: str, columns: list[str]) -> SuiteSpec:
        key = ", ".join(columns)
        return SuiteSpec(table, "marts", table, [
            _rows(f"{table}: key ({key}) unique and not null",
                  f"select {key}, count(*) as rows_count from {{batch}} as b group by {key} "
                  "having count(*) > 1 or "
                  + " or ".join(f"{column} is null" for column in columns)),
        ])

    return [
        unique("dim_countries", ["country_iso3"]),
        unique("dim_hs_products", ["hs_version", "hs_code"]),
        unique("dim_ports", ["port_locode"]),
        unique("dim_rail_crossings", ["crossing_point"]),
        unique("dim_corridors", ["corridor"]),
        unique("dim_periods", ["period_month"]),
    ]


#: The HS version of a period: HS 2022 from 2022-01, HS 2017 before (spec/feeds.md).
_HS_VERSION = "case when f.period_month >= '2022-01' then 'HS2022' else 'HS2017' end"


def _trade_flow_suite() -> SuiteSpec:
    ft = "fct_trade_flows"
    return SuiteSpec(ft, "marts", ft, [
        _rows(f"{ft}: one row per source row (source_feed, period_month, "
              "source_row_number)",
              "select source_feed, period_month, source_row_number, count(*) as rows_count "
              "from {batch} as b group by source_feed, period_month, source_row_number "
              "having count(*) > 1"),
        _rows(f"{ft}: reporter_iso3 in dim_countries",
              "select * from {batch} as f where not exists (select 1 from "
              "marts.dim_countries as c where c.country_iso3 = f.reporter_iso3)"),
        _rows(f"{ft}: partner_iso3 in dim_countries, or '{UNDISCLOSED_PARTNER_ISO3}' "
              "for an undisclosed partner",
              "select * from {batch} as f where case "
              "when coalesce(f.is_partner_undisclosed, false) then "
              f"f.partner_iso3 is distinct from '{UNDISCLOSED_PARTNER_ISO3}' "
              "else not exists (select 1 from marts.dim_countries as c "
              "where c.country_iso3 = f.partner_iso3) end"),
        # a code missing from the nomenclature is kept and its chapter is its first two
        # digits (feeds.md: a warning check), so chapters absent from the HS (77, 98)
        # may be published; what must hold is that the chapter is the code's
        _rows(f"{ft}: HS chapter is the first two digits of the HS6 code",
              "select * from {batch} as f where f.hs_chapter is null "
              "or f.hs_chapter !~ '^[0-9][0-9]$' or left(f.hs6_code, 2) <> f.hs_chapter"),
        _rows(f"{ft}: HS chapter in dim_hs_products (HS version of the period)",
              "select * from {batch} as f where not exists (select 1 from "
              "marts.dim_hs_products as h where h.hs_level = 2 "
              f"and h.hs_version = {_HS_VERSION} and h.hs_code = f.hs_chapter)",
              severity=WARNING),
        _rows(f"{ft}: HS6 subheading in dim_hs_products (HS version of the period)",
              "select * from {batch} as f where not exists (select 1 from "
              "marts.dim_hs_products as h where h.hs_level = 6 "
              f"and h.hs_version = {_HS_VERSION} and h.hs_code = f.hs6_code)",
              severity=WARNING),
        _rows(f"{ft}: unit value (USD/kg) within [{UNIT_VALUE_LOW_FACTOR}*Q1, "
              f"{UNIT_VALUE_HIGH_FACTOR}*Q3] of its HS6 x flow x year",
              "with valued as (select reporter_iso3, period_month, source_feed, "
              "source_row_number, hs6_code, flow, left(period_month, 4) as period_year, "
              "trade_value_usd / net_weight_kg as unit_value_usd_per_kg "
              "from {batch} as b where net_weight_kg > 0), "
              "quartiles as (select hs6_code, flow, period_year, "
              "percentile_cont(0.25) within group (order by unit_value_usd_per_kg) as q1, "
              "percentile_cont(0.75) within group (order by unit_value_usd_per_kg) as q3 "
              "from valued group by hs6_code, flow, period_year) "
              "select v.*, q.q1, q.q3 from valued as v inner join quartiles as q "
              "using (hs6_code, flow, period_year) "
              f"where v.unit_value_usd_per_kg < {UNIT_VALUE_LOW_FACTOR} * q.q1 "
              f"or v.unit_value_usd_per_kg > {UNIT_VALUE_HIGH_FACTOR} * q.q3",
              severity=WARNING),
    ])


def _pivot(indicators: dict[str, str]) -> str:
    """SQL select-list items: one column per indicator of a key (null when absent)."""
    return ", ".join(f"max(obs_value) filter (where indicator = '{indicator}') as {alias}"
                     for indicator, alias in indicators.items())


def _bilateral_suite() -> SuiteSpec:
    key = "freq, ref_area, counterpart_area, commodity, time_period"
    flows = _pivot({"X_USD": "x_usd", "M_USD": "m_usd", "TURNOVER_USD": "turnover_usd",
                    "BALANCE_USD": "balance_usd"})
    return SuiteSpec("bilateral_trade", "marts", "ind_bilateral_trade", [
        *_observation_checks("bilateral_trade", BILATERAL_KEY),
        _rows("bilateral_trade: trade flows are non-negative",
              "select * from {batch} as b where obs_value < 0 and indicator in ("
              + _in_list(NON_NEGATIVE_BILATERAL) + ")"),
        _rows("bilateral_trade: every reporter x published month has W00 totals",
              "select p.period_month, r.reporter from marts.dim_periods p "
              "cross join (values ('RUS'), ('KAZ')) as r(reporter) "
              "where p.is_published and not exists (select 1 from {batch} as b "
              "where b.freq = 'M' and b.ref_area = r.reporter "
              "and b.counterpart_area = 'W00' and b.indicator = 'TURNOVER_USD' "
              "and b.commodity = '_T' and b.time_period = p.period_month)"),
        _rows(f"bilateral_trade: TURNOVER_USD = X_USD + M_USD within "
              f"{USD_IDENTITY_TOLERANCE} per key",
              f"select * from (select {key}, {flows} from {{batch}} as b group by {key}) as k "
              "where turnover_usd is not null and (x_usd is null or m_usd is null "
              f"or abs(turnover_usd - (x_usd + m_usd)) > {USD_IDENTITY_TOLERANCE})"),
        _rows(f"bilateral_trade: BALANCE_USD = X_USD - M_USD within "
              f"{USD_IDENTITY_TOLERANCE} per key",
              f"select * from (select {key}, {flows} from {{batch}} as b group by {key}) as k "
              "where balance_usd is not null and (x_usd is null or m_usd is null "
              f"or abs(balance_usd - (x_usd - m_usd)) > {USD_IDENTITY_TOLERANCE})"),
        # the undisclosed partner is in W00 but never a partner: its share comes from
        # the fact rows (partner_iso3 '_X', is_partner_undisclosed)
        _rows(f"bilateral_trade: partner shares plus the undisclosed share sum to 100 "
              f"within {SHARE_SUM_TOLERANCE_PCT} per reporter-month",
              "with shares as (select ref_area, time_period, "
              "sum(obs_value) as partner_share_pct from {batch} as b "
              "where freq = 'M' and indicator = 'PARTNER_SHARE_PCT' and commodity = '_T' "
              "group by ref_area, time_period), "
              "world as (select ref_area, time_period from {batch} as b where freq = 'M' "
              "and indicator = 'TURNOVER_USD' and counterpart_area = 'W00' "
              "and commodity = '_T'), "
              "flows as (select reporter_iso3 as ref_area, period_month as time_period, "
              "sum(trade_value_usd) as world_turnover_usd, coalesce(sum(trade_value_usd) "
              "filter (where is_partner_undisclosed), 0) as undisclosed_turnover_usd "
              "from marts.fct_trade_flows where is_published "
              "group by reporter_iso3, period_month), "
              "totals as (select w.ref_area, w.time_period, "
              "coalesce(s.partner_share_pct, 0) as partner_share_pct, "
              "100 * f.undisclosed_turnover_usd / f.world_turnover_usd "
              "as undisclosed_share_pct from world as w "
              "inner join flows as f using (ref_area, time_period) "
              "left join shares as s using (ref_area, time_period) "
              "where f.world_turnover_usd <> 0) "
              "select * from totals where abs(partner_share_pct + undisclosed_share_pct "
              f"- 100) > {SHARE_SUM_TOLERANCE_PCT}"),
        _rows("bilateral_trade: HHI_X in [0, 1]",
              "select * from {batch} as b where indicator = 'HHI_X' "
              "and (obs_value < 0 or obs_value > 1)"),
        _rows("bilateral_trade: GL_IIT in [0, 1]",
              "select * from {batch} as b where indicator = 'GL_IIT' "
              "and (obs_value < 0 or obs_value > 1)"),
        _rows(f"bilateral_trade: mirror asymmetry within ±{MIRROR_ASYMMETRY_LIMIT_PCT} % "
              f"for partner-months with TURNOVER_USD above "
              f"{MIRROR_ASYMMETRY_MIN_TURNOVER_USD} USD",
              "select a.*, t.obs_value as turnover_usd from {batch} as a "
              "inner join {batch} as t on t.freq = a.freq and t.ref_area = a.ref_area "
              "and t.counterpart_area = a.counterpart_area and t.commodity = a.commodity "
              "and t.time_period = a.time_period and t.indicator = 'TURNOVER_USD' "
              "where a.freq = 'M' and a.commodity = '_T' "
              "and a.indicator in ('ASYM_X_PCT', 'ASYM_M_PCT') "
              f"and abs(a.obs_value) > {MIRROR_ASYMMETRY_LIMIT_PCT} "
              f"and t.obs_value > {MIRROR_ASYMMETRY_MIN_TURNOVER_USD}",
              severity=WARNING),
    ])


#: Logistics indicators by the dimension their node belongs to.
PORT_INDICATORS = ("PORT_T", "PORT_TEU", "PORT_CALLS", "PORT_STAY_H")
RAIL_INDICATORS = ("RAIL_T", "RAIL_WAGONS", "RAIL_TEU", "RAIL_TRANSIT_T")


def _logistics_suite() -> SuiteSpec:
    def nodes_in(dimension: str, column: str, indicators: tuple[str, ...]) -> Any:
        return _rows(f"corridor_logistics: {', '.join(indicators)} nodes in {dimension}",
                     f"select * from {{batch}} as o where o.indicator in "
                     f"({_in_list(indicators)}) and not exists (select 1 from "
                     f"marts.{dimension} as d where d.{column} = o.node)")

    return SuiteSpec("corridor_logistics", "marts", "ind_corridor_logistics", [
        *_observation_checks("corridor_logistics", LOGISTICS_KEY),
        gxe.ExpectColumnValuesToBeBetween(
            column="obs_value", min_value=0, severity=CRITICAL,
            description="corridor_logistics: quantities are non-negative"),
        nodes_in("dim_ports", "port_locode", PORT_INDICATORS),
        nodes_in("dim_rail_crossings", "crossing_point", RAIL_INDICATORS),
        nodes_in("dim_corridors", "corridor", ("CORRIDOR_NODE_T",)),
        _rows(f"corridor_logistics: CORRIDOR_NODE_T = sum of its nodes' totals within "
              f"{NODE_T_TOLERANCE_PER_NODE} per node",
              "with nodes as (select corridor, crossing_point as node, 'RAIL_T' as indicator "
              "from marts.dim_rail_crossings union all "
              "select corridor, port_locode, 'PORT_T' from marts.dim_ports "
              "where is_feed_port), "
              "node_counts as (select corridor, count(*) as nodes_count from nodes "
              "group by corridor), "
              "node_sums as (select n.corridor, o.freq, o.time_period, "
              "sum(o.obs_value) as nodes_t from nodes as n inner join {batch} as o "
              "on o.node = n.node and o.indicator = n.indicator and o.direction = '_T' "
              "and o.cargo = '_T' group by n.corridor, o.freq, o.time_period) "
              "select c.freq, c.node as corridor, c.time_period, "
              "c.obs_value as corridor_node_t, coalesce(s.nodes_t, 0) as nodes_t, "
              "coalesce(k.nodes_count, 0) as nodes_count from {batch} as c "
              "left join node_sums as s on s.corridor = c.node and s.freq = c.freq "
              "and s.time_period = c.time_period "
              "left join node_counts as k on k.corridor = c.node "
              "where c.indicator = 'CORRIDOR_NODE_T' and abs(c.obs_value - "
              "coalesce(s.nodes_t, 0)) > "
              f"{NODE_T_TOLERANCE_PER_NODE} * coalesce(k.nodes_count, 0)"),
    ])


def build_suites() -> list[SuiteSpec]:
    """All suites of the gate (fresh expectation objects on every call)."""
    return [
        *_raw_suites(),
        *_completeness_suites(),
        *_dimension_suites(),
        _trade_flow_suite(),
        _bilateral_suite(),
        _logistics_suite(),
    ]
