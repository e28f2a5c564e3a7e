"""The expectation suites of the publish gate, written once as code.

``corridor gx sync`` writes them into the committed GX file context under
``expectations/``; the gate runs that context's checkpoint. Every expectation has a
``description`` (the check's name in the manifest and in the gate's failure message)
and a severity: ``critical`` blocks publishing, ``warning`` is only reported.

One home for each check (README, "The quality gate"): **dbt tests own model
integrity** (keys unique and not null, accepted codes, relationships between models, a
model's shape, unit tests); **these suites own the publish gate**: raw feed rows,
completeness, plausibility (signs, ranges, NaN, warnings) and the identities between
published indicators. No rule is checked on both sides: a key or code check belongs in
the model's yml, not here.

A one-column rule uses GX's standard expectation; a rule whose failure must quote the
failing rows (feed, period, key) is a :class:`BoundedUnexpectedRows` whose SQL is a file
``sql/<suite>/<check>.sql`` beside this module (``$name`` placeholders: the limits of
:data:`SQL_PARAMETERS`, and the check's own parameters). A rule several suites share
(required fields, non-negative quantities, digit codes, loaded revisions, NaN, known
nodes) is one file ``sql/shared/<rule>.sql``: each suite names its columns once, here,
for both the description and the SQL. Indicator lists (flows, nodes by kind) come from
the indicator catalogue (seed ``ref_indicators``, :func:`corridor.reference.indicators`),
the reporters and their customs feeds from the seed ``ref_reporters``
(:func:`corridor.reference.reporters`).

All checks run as SQL inside PostgreSQL (GX's SQL execution engine, no temp tables):
validating a large mart does not pull its rows into Python; a row check is one
statement, which counts its rows in the database and returns at most
:data:`UNEXPECTED_ROWS_SAMPLE` of them.

One suite per table: ``{batch}`` in a query is that table, as a parenthesised
subquery the query must alias (``from {batch} as r``); a check may read other tables
by name. Layers:

- raw feed rows (``raw_*``): required fields, code formats, non-negative
  quantities, one loaded revision per unit. The loader already moved every bad row to
  ``raw.rejected_rows``, so these are defence in depth.
- completeness (``customs_completeness``, ``rail_completeness``,
  ``port_completeness``): every month of the window is there, feed by feed.
- facts (``fct_trade_flows``): one row per source row, known reporter and partner, the
  HS chapter of the code, and the nomenclature and unit-value warnings.
- indicators (``bilateral_trade``, ``corridor_logistics``): required fields, identities,
  ranges, known nodes, and the warnings (mirror asymmetry). Their keys and codes: dbt.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from string import Template
from typing import Any, ClassVar

import great_expectations.expectations as gxe
from great_expectations.compatibility.sqlalchemy import sqlalchemy as sa
from great_expectations.core.metric_domain_types import MetricDomainTypes
from great_expectations.execution_engine import SqlAlchemyExecutionEngine
from great_expectations.expectations.metadata_types import FailureSeverity
from great_expectations.expectations.metrics.metric_provider import metric_value
from great_expectations.expectations.metrics.query_metric_provider import QueryMetricProvider

from corridor.reference import indicator_codes, reporters

CRITICAL = FailureSeverity.CRITICAL
WARNING = FailureSeverity.WARNING

BILATERAL_KEY = ["freq", "ref_area", "counterpart_area", "indicator", "commodity",
                 "time_period"]
LOGISTICS_KEY = ["freq", "node", "indicator", "direction", "cargo", "time_period"]
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

#: The checks' SQL, one ``.sql`` file per check, beside this module.
SQL_DIR = Path(__file__).with_name("sql")
#: ``$name`` placeholders a check's SQL may use (the limits its description names).
SQL_PARAMETERS = {
    "usd_identity_tolerance": USD_IDENTITY_TOLERANCE,
    "share_sum_tolerance_pct": SHARE_SUM_TOLERANCE_PCT,
    "node_t_tolerance_per_node": NODE_T_TOLERANCE_PER_NODE,
    "mirror_asymmetry_limit_pct": MIRROR_ASYMMETRY_LIMIT_PCT,
    "mirror_asymmetry_min_turnover_usd": MIRROR_ASYMMETRY_MIN_TURNOVER_USD,
    "unit_value_low_factor": UNIT_VALUE_LOW_FACTOR,
    "unit_value_high_factor": UNIT_VALUE_HIGH_FACTOR,
    "undisclosed_partner_iso3": UNDISCLOSED_PARTNER_ISO3,
}


def read_sql(relative_path: str, **parameters: Any) -> str:
    """The SQL of ``sql/<relative_path>`` with its ``$name`` placeholders filled.

    ``$`` followed by a name is a placeholder; any other ``$`` (a regex anchor ``$'``)
    is SQL. An unknown placeholder is an error, not SQL sent to the warehouse.
    """
    text = (SQL_DIR / relative_path).read_text(encoding="utf-8").strip().rstrip(";")
    filled = Template(text).safe_substitute({**SQL_PARAMETERS, **parameters})
    left = re.findall(r"\$[A-Za-z_]\w*", filled)
    if left:
        raise KeyError(f"{relative_path}: unknown SQL placeholder(s) {sorted(set(left))}")
    return filled


class BoundedUnexpectedRowsQuery(QueryMetricProvider):
    """Count of an unexpected-rows query's rows, and at most UNEXPECTED_ROWS_SAMPLE of them.

    GX's own metrics (``unexpected_rows_query.row_count`` and ``.table``) run the query
    twice, and ``.table`` takes its 200 rows with ``fetchmany`` after the driver
    (psycopg2, a client-side cursor) has already buffered the whole result: 10 M
    unexpected fact rows would all land in Python. Here one statement
    (``sql/bounded_unexpected_rows.sql``) computes the rows once, counts them in
    PostgreSQL and returns at most the sample: a passing check costs one execution of
    its query, a failing one the same.

    Public GX API only: a ``QueryMetricProvider`` with a ``metric_value`` method (GX's
    documented way to write a query metric), the engine's ``get_compute_domain`` and
    ``execute_query``. ``{batch}`` is replaced here, as a parenthesised subquery, so
    queries always alias it and may use regex quantifiers.
    """

    metric_name = "bounded_unexpected_rows_query.summary"
    value_keys = ("unexpected_rows_query",)
    query_param_name: ClassVar[str] = "unexpected_rows_query"

    @metric_value(engine=SqlAlchemyExecutionEngine)
    def _sqlalchemy(cls, execution_engine: SqlAlchemyExecutionEngine,
                    metric_domain_kwargs: dict, metric_value_kwargs: dict,
                    metrics: dict[str, Any], runtime_configuration: dict) -> dict:
        batch_selectable, _, _ = execution_engine.get_compute_domain(
            metric_domain_kwargs, domain_type=MetricDomainTypes.TABLE)
        if isinstance(batch_selectable, sa.Table):
            batch_selectable = sa.select(sa.text("*")).select_from(batch_selectable)
        batch = batch_selectable.compile(dialect=execution_engine.engine.dialect,
                                         compile_kwargs={"literal_binds": True})
        query = metric_value_kwargs["unexpected_rows_query"].replace("{batch}", f"({batch})")
        statement = read_sql("bounded_unexpected_rows.sql", unexpected_rows_query=query,
                             sample_size=UNEXPECTED_ROWS_SAMPLE)
        rows = execution_engine.execute_query(sa.text(statement)).mappings().all()
        count = int(rows[0][COUNT_COLUMN])
        # as text: exact (no lossy Decimal -> float when GX serialises the result)
        sample = [{column: None if value is None else str(value)
                   for column, value in row.items() if column != COUNT_COLUMN}
                  for row in rows] if count else []
        return {"row_count": count, "sample": sample}


#: The count's column in sql/bounded_unexpected_rows.sql.
COUNT_COLUMN = "unexpected_rows_count__"


class BoundedUnexpectedRows(gxe.UnexpectedRowsExpectation):
    """UnexpectedRowsExpectation whose rows are counted, and sampled, in the database.

    Fails when the query returns any row; ``observed_value`` is the number of rows and
    the details hold at most UNEXPECTED_ROWS_SAMPLE of them, whatever the result format
    (but BOOLEAN_ONLY): the sample is bounded, so the gate's message (SUMMARY) can name
    the failing rows (feed, period, key), not only how many there are. In the query,
    ``{batch}`` is the suite's table as a parenthesised subquery: always alias it
    (``from {batch} as r``). Registered as ``bounded_unexpected_rows``: load a context
    holding these suites only after importing this module.

    ``_validate`` is overridden: it is the hook GX documents for a custom expectation
    (``Expectation``'s API reference: "Expectation classes must implement _validate";
    UnexpectedRowsExpectation's docstring: "can be overridden"). It calls no GX
    internals, it builds the result from the metric.
    """

    metric_dependencies: ClassVar[tuple[str, ...]] = ("bounded_unexpected_rows_query.summary",)

    def _validate(self, metrics: dict, runtime_configuration: dict | None = None,
                  execution_engine=None) -> dict:
        summary = metrics["bounded_unexpected_rows_query.summary"]
        success = summary["row_count"] == 0
        result_format = (runtime_configuration or {}).get("result_format", "SUMMARY")
        if isinstance(result_format, dict):
            result_format = result_format.get("result_format", "SUMMARY")
        if str(getattr(result_format, "value", result_format)).upper() == "BOOLEAN_ONLY":
            return {"success": success}
        result: dict[str, Any] = {"observed_value": summary["row_count"]}
        if summary["sample"]:
            result["details"] = {"unexpected_rows": summary["sample"]}
        return {"success": success, "result": result}


def _sql_list(values) -> str:
    """A SQL list of quoted codes (catalogue codes, ISO codes: letters, digits, ``_``)."""
    for value in values:
        if not re.fullmatch(r"[A-Za-z0-9_]+", value):
            raise ValueError(f"not a code: {value!r}")
    return ", ".join(f"'{value}'" for value in values)


def _rows(description: str, sql_file: str, severity: FailureSeverity = CRITICAL,
          **parameters: Any):
    """A row check: ``sql/<sql_file>`` (its ``$name`` placeholders filled from
    ``parameters``, then :data:`SQL_PARAMETERS`) returns the rows that break the rule."""
    return BoundedUnexpectedRows(unexpected_rows_query=read_sql(sql_file, **parameters),
                                 severity=severity, description=description)


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


# The rules several suites share: one SQL file each under sql/shared/, the columns
# named once (here), in both the check's description and its SQL.

def _required(table: str, columns: list[str]):
    return _rows(f"{table}: required fields not null ({', '.join(columns)})",
                 "shared/required_fields_not_null.sql", columns=", ".join(columns))


def _non_negative(table: str, columns: list[str]):
    return _rows(f"{table}: quantities non-negative ({', '.join(columns)})",
                 "shared/quantities_non_negative.sql", columns=", ".join(columns))


def _digit_code(table: str, column: str, digits: int, what: str):
    """``column`` is a ``digits``-digit code (``what``: the description's wording)."""
    return _rows(f"{table}: {column} is {what}", "shared/digit_code.sql",
                 column=column, digits=digits)


def _loaded_revision(table: str, feed: str, unit: str, unit_column: str,
                     unit_text: str | None = None):
    """Rows carry only their unit's loaded revision (``unit``: month, day)."""
    return _rows(f"{table}: rows carry only their {unit}'s loaded revision",
                 "shared/rows_carry_only_their_loaded_revision.sql", feed=feed,
                 unit_column=unit_column, unit_text=unit_text or f"r.{unit_column}")


def _no_nan(table: str):
    return _rows(f"{table}: no NaN or infinite values", "shared/no_nan_or_infinite_values.sql")


def _raw_suites() -> list[SuiteSpec]:
    """Feed rows as loaded: the loader's acceptance rules, checked again."""
    ru = "raw.ru_customs_rows"
    ru_customs = SuiteSpec("raw_ru_customs", "raw", "ru_customs_rows", [
        _required(ru, ["period_month", "revision", "status", "row_number", "napr", "period",
                       "strana", "tnved", "stoim", "netto"]),
        _digit_code(ru, "tnved", 10, "a 10-digit TN VED code"),
        _rows(f"{ru}: strana is an ISO alpha-2 code", "raw_ru_customs/strana_is_an_iso_alpha.sql"),
        _non_negative(ru, ["stoim", "netto", "kol"]),
        _loaded_revision(ru, "ru_customs", "month", "period_month"),
    ])
    kz = "raw.kz_customs_rows"
    kz_customs = SuiteSpec("raw_kz_customs", "raw", "kz_customs_rows", [
        _required(kz, ["period_month", "revision", "status", "row_number", "flow", "tn_ved",
                       "partner_m49", "value_thousand_usd", "net_weight_t", "transport_mode",
                       "customs_regime"]),
        _digit_code(kz, "tn_ved", 10, "a 10-digit TN VED code"),
        _digit_code(kz, "partner_m49", 3, "a 3-digit M49 code"),
        _non_negative(kz, ["value_thousand_usd", "net_weight_t", "supp_qty"]),
        _loaded_revision(kz, "kz_customs", "month", "period_month"),
    ])
    ct = "raw.comtrade_rows"
    comtrade = SuiteSpec("raw_comtrade", "raw", "comtrade_rows", [
        _required(ct, ["reporter_code", "period_month", "row_number", "flow_code",
                       "partner_code", "partner2_code", "cmd_code", "mot_code", "customs_code",
                       "is_counted_leaf"]),
        _rows(f"{ct}: counted leaves have a 6-digit HS code",
              "raw_comtrade/counted_leaves_have_a_6.sql"),
        _rows(f"{ct}: reporter_code and partner_code are M49 codes (0-999)",
              "raw_comtrade/reporter_code_and_partner_code.sql"),
        _non_negative(ct, ["cifvalue", "fobvalue", "primary_value", "net_wgt"]),
        # comtrade has no revision: each fetch replaces its (reporter, month) unit
        _rows(f"{ct}: rows belong to a loaded (reporter, month) unit",
              "raw_comtrade/rows_belong_to_a_loaded.sql"),
    ])
    pc = "raw.port_calls"
    port_calls = SuiteSpec("raw_port_calls", "raw", "port_calls", [
        _required(pc, ["call_id", "port", "version", "updated_at", "status"]),
        _rows(f"{pc}: port is a UN/LOCODE", "raw_port_calls/port_is_a_un_locode.sql"),
    ])
    pl = "raw.port_cargo_lines"
    port_cargo_lines = SuiteSpec("raw_port_cargo_lines", "raw", "port_cargo_lines", [
        _required(pl, ["call_id", "version", "line_number", "operation", "cargo_type",
                       "tonnes"]),
        _digit_code(pl, "hs_chapter", 2, "a 2-digit HS chapter where given"),
        _non_negative(pl, ["tonnes", "teu"]),
        # a port call is the unit of publication, its version the revision
        _rows(f"{pl}: lines carry only their call's loaded version",
              "raw_port_cargo_lines/lines_carry_only_their_call.sql"),
    ])
    rc = "raw.rail_consignments"
    rail = SuiteSpec("raw_rail_consignments", "raw", "rail_consignments", [
        _required(rc, ["report_date", "revision", "row_number", "point", "direction",
                       "transit", "gng", "wagons", "teu", "tonnes"]),
        _rows(f"{rc}: point is in the rail crossing reference list",
              "raw_rail_consignments/point_is_in_the_rail.sql"),
        _digit_code(rc, "gng", 8, "an 8-digit code"),
        _rows(f"{rc}: origin and destination are ISO alpha-2 codes where given",
              "raw_rail_consignments/origin_and_destination_are_iso.sql"),
        _non_negative(rc, ["wagons", "teu", "tonnes"]),
        # the rail unit is a day, spelt YYYY-MM-DD in raw.loaded_units
        _loaded_revision(rc, "rail", "day", "report_date",
                         unit_text="to_char(r.report_date, 'YYYY-MM-DD')"),
    ])
    lu = "raw.loaded_units"
    loaded_units = SuiteSpec("raw_loaded_units", "raw", "loaded_units", [
        _rows(f"{lu}: one loaded revision per (feed, unit)",
              "raw_loaded_units/one_loaded_revision_per_feed.sql"),
        _rows(f"{lu}: customs months have a revision",
              "raw_loaded_units/customs_months_have_a_revision.sql",
              customs_feeds=_sql_list(reporters().values())),
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
        _rows("completeness: every customs feed loaded for every month of the ingest window",
              "customs_completeness/every_customs_feed_loaded_for.sql",
              customs_feeds=_sql_list(reporters().values())),
        gxe.ExpectColumnValuesToBeInSet(
            column="status", value_set=["preliminary", "final", "rejected"], mostly=1.0,
            severity=WARNING,
            description="loaded units: status is preliminary, final or rejected "
                        "(a rail report rejected whole)"),
    ])
    rail = SuiteSpec("rail_completeness", "raw", "loaded_units", [
        _rows("completeness: rail has an accepted daily report in every month of the "
              "ingest window", "rail_completeness/rail_has_an_accepted_daily.sql"),
    ])
    ports = SuiteSpec("port_completeness", "raw", "port_sync_state", [
        _rows("completeness: every feed port synced past the window end and has its "
              "month totals for every published month",
              "port_completeness/every_feed_port_synced_past.sql"),
    ])
    return [customs, rail, ports]


def _trade_flow_suite() -> SuiteSpec:
    ft = "fct_trade_flows"
    return SuiteSpec(ft, "marts", ft, [
        _rows(f"{ft}: one row per source row (source_feed, period_month, "
              "source_row_number)", "fct_trade_flows/one_row_per_source_row.sql"),
        _rows(f"{ft}: reporter_iso3 in dim_countries",
              "fct_trade_flows/reporter_iso3_in_dim_countries.sql"),
        _rows(f"{ft}: partner_iso3 in dim_countries, or '{UNDISCLOSED_PARTNER_ISO3}' "
              "for an undisclosed partner", "fct_trade_flows/partner_iso3_in_dim_countries.sql"),
        # a code missing from the nomenclature is kept and its chapter is its first two
        # digits (feeds.md: a warning check), so chapters absent from the HS (77, 98)
        # may be published; what must hold is that the chapter is the code's
        _rows(f"{ft}: HS chapter is the first two digits of the HS6 code",
              "fct_trade_flows/hs_chapter_is_the_first.sql"),
        _rows(f"{ft}: HS chapter in dim_hs_products (HS version of the period)",
              "fct_trade_flows/hs_code_in_dim_hs.sql", severity=WARNING,
              hs_level=2, code_column="hs_chapter"),
        _rows(f"{ft}: HS6 subheading in dim_hs_products (HS version of the period)",
              "fct_trade_flows/hs_code_in_dim_hs.sql", severity=WARNING,
              hs_level=6, code_column="hs6_code"),
        _rows(f"{ft}: unit value (USD/kg) within [{UNIT_VALUE_LOW_FACTOR}*Q1, "
              f"{UNIT_VALUE_HIGH_FACTOR}*Q3] of its HS6 x flow x year",
              "fct_trade_flows/unit_value_quartiles.sql", severity=WARNING),
    ])


def _bilateral_suite() -> SuiteSpec:
    bt = "bilateral_trade"
    return SuiteSpec(bt, "marts", "ind_bilateral_trade", [
        _required(bt, [*BILATERAL_KEY, "obs_value", "unit_measure", "obs_status"]),
        _no_nan(bt),
        # the flows of the indicator catalogue (is_flow): sums of trade, never negative
        _rows(f"{bt}: trade flows are non-negative",
              "bilateral_trade/trade_flows_are_non_negative.sql",
              flow_indicators=_sql_list(indicator_codes(bt, is_flow=True))),
        _rows(f"{bt}: every reporter x published month has W00 totals",
              "bilateral_trade/world_totals_complete.sql",
              reporters=_sql_list(reporters())),
        _rows(f"{bt}: TURNOVER_USD = X_USD + M_USD within {USD_IDENTITY_TOLERANCE} per key",
              "bilateral_trade/usd_identity.sql",
              identity_indicator="TURNOVER_USD", m_usd_sign=1),
        _rows(f"{bt}: BALANCE_USD = X_USD - M_USD within {USD_IDENTITY_TOLERANCE} per key",
              "bilateral_trade/usd_identity.sql",
              identity_indicator="BALANCE_USD", m_usd_sign=-1),
        # the undisclosed partner is in W00 but never a partner: its share comes from
        # the fact rows (partner_iso3 '_X', is_partner_undisclosed)
        _rows(f"{bt}: partner shares plus the undisclosed share sum to 100 "
              f"within {SHARE_SUM_TOLERANCE_PCT} per reporter-month",
              "bilateral_trade/partner_shares_sum.sql"),
        *(_rows(f"{bt}: {index} in [0, 1]", "bilateral_trade/index_in_0_1.sql",
                indicator=index) for index in ("HHI_X", "GL_IIT")),
        _rows(f"{bt}: mirror asymmetry within ±{MIRROR_ASYMMETRY_LIMIT_PCT} % "
              f"for partner-months with TURNOVER_USD above "
              f"{MIRROR_ASYMMETRY_MIN_TURNOVER_USD} USD",
              "bilateral_trade/mirror_asymmetry.sql", severity=WARNING),
    ])


#: The dimension of a logistics node and its key, by the catalogue's node_kind.
NODE_DIMENSIONS = {"port": ("dim_ports", "port_locode"),
                   "rail_crossing": ("dim_rail_crossings", "crossing_point"),
                   "corridor": ("dim_corridors", "corridor")}


def _nodes_in_dimension(table: str, node_kind: str):
    """The logistics indicators of ``node_kind`` (indicator catalogue) have their nodes
    in its dimension."""
    codes = indicator_codes("corridor_logistics", node_kind=node_kind)
    dimension, key = NODE_DIMENSIONS[node_kind]
    return _rows(f"{table}: {', '.join(codes)} nodes in {dimension}",
                 "shared/nodes_in_dimension.sql", indicators=_sql_list(codes),
                 dimension=dimension, key=key)


def _logistics_suite() -> SuiteSpec:
    cl = "corridor_logistics"
    return SuiteSpec(cl, "marts", "ind_corridor_logistics", [
        _required(cl, [*LOGISTICS_KEY, "obs_value", "unit_measure", "obs_status"]),
        _no_nan(cl),
        gxe.ExpectColumnValuesToBeBetween(
            column="obs_value", min_value=0, severity=CRITICAL,
            description=f"{cl}: quantities are non-negative"),
        *(_nodes_in_dimension(cl, node_kind) for node_kind in NODE_DIMENSIONS),
        _rows(f"{cl}: CORRIDOR_NODE_T = sum of its nodes' totals within "
              f"{NODE_T_TOLERANCE_PER_NODE} per node",
              "corridor_logistics/corridor_node_t_sum.sql"),
    ])


def build_suites() -> list[SuiteSpec]:
    """All suites of the gate (fresh expectation objects on every call)."""
    return [
        *_raw_suites(),
        *_completeness_suites(),
        _trade_flow_suite(),
        _bilateral_suite(),
        _logistics_suite(),
    ]
