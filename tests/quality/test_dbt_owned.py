"""The bad batches of the checks dbt owns (README, "Quality gate: one home per check").

Model keys and coded columns are dbt tests (``dbt_project/models/**/_*__models.yml``),
not GX expectations. These are the bad batches that once broke the GX duplicates: each
breaks a copy of the good batch and ``dbt test`` on the model must fail exactly that
dbt test (the GX gate no longer checks them, ``test_suites`` checks it does not).
"""

from __future__ import annotations

import pytest

from corridor.config import PROJECT_DIR
from tests.quality.test_suites import (  # noqa: F401 - good_template, mutate: fixtures
    BT_CHAPTER_ROW,
    CL_BREAKDOWN_ROW,
    _duplicate,
    _update,
    good_template,
    mutate,
)

DBT_PROJECT = PROJECT_DIR / "dbt_project"

#: The time_period format test of ind_bilateral_trade, which depends on freq too.
BT_PERIOD_FORMAT = ("expression_is_true_ind_bilateral_trade__freq_M_and_time_period_0_9_4_"
                    "0_9_2_or_freq_A_and_time_period_0_9_4_")
#: (model, dbt test name) -> SQL mutations of the good batch, each failing exactly it
#: (and, for a freq outside M and A, the period format test that reads freq too).
ALSO_FAILING = {"accepted_values_ind_bilateral_trade_freq__M__A": [BT_PERIOD_FORMAT]}
DBT_BAD_BATCHES: dict[tuple[str, str], list[str]] = {
    ("dim_countries", "unique_dim_countries_country_iso3"): [
        "insert into marts.dim_countries (country_iso3, country_iso2) values ('CHN', 'C1')",
    ],
    ("dim_hs_products", "unique_combination_dim_hs_products_hs_version__hs_code"): [
        "insert into marts.dim_hs_products (hs_version, hs_code, hs_level) "
        "values ('HS2022', '270900', 6)",
    ],
    ("dim_ports", "unique_dim_ports_port_locode"): [
        "insert into marts.dim_ports (port_locode, is_feed_port) values ('AZBAK', false)",
    ],
    ("dim_rail_crossings", "not_null_dim_rail_crossings_crossing_point"): [
        "insert into marts.dim_rail_crossings (crossing_point, corridor) values (null, null)",
    ],
    ("dim_corridors", "unique_dim_corridors_corridor"): [
        "insert into marts.dim_corridors (corridor) values ('EW_NORTH')",
    ],
    ("dim_periods", "unique_dim_periods_period_month"): [
        "insert into marts.dim_periods select * from marts.dim_periods "
        "where period_month = '2024-02'",
    ],
    ("ind_bilateral_trade", "unique_combination_ind_bilateral_trade_freq__ref_area__"
                            "counterpart_area__indicator__commodity__time_period"): [
        _duplicate(BT_CHAPTER_ROW),
    ],
    ("ind_bilateral_trade", "accepted_values_ind_bilateral_trade_freq__M__A"): [
        _update(BT_CHAPTER_ROW, "freq = 'Q'"),
    ],
    ("ind_bilateral_trade", "accepted_values_ind_bilateral_trade_obs_status__A__P"): [
        _update(BT_CHAPTER_ROW, "obs_status = 'E'"),
    ],
    ("ind_corridor_logistics", "unique_combination_ind_corridor_logistics_freq__node__"
                               "indicator__direction__cargo__time_period"): [
        _duplicate(CL_BREAKDOWN_ROW),
    ],
    ("ind_corridor_logistics", "accepted_values_ind_corridor_logistics_freq__M__A"): [
        _update(CL_BREAKDOWN_ROW, "freq = 'W'"),
    ],
    ("ind_corridor_logistics", "accepted_values_ind_corridor_logistics_obs_status__A__P"): [
        _update(CL_BREAKDOWN_ROW, "obs_status = 'p'"),
    ],
}


def _failed_dbt_tests(dsn, models: list[str], tmp_path, monkeypatch) -> list[str]:
    from dbt.cli.main import dbtRunner

    for name, value in dsn.dbt_env().items():
        monkeypatch.setenv(name, value)
    # the good batch holds the marts alone: the tests of these models only (cautious), and
    # its data tests, not its unit tests (they need the upstream models)
    result = dbtRunner().invoke([
        "test", "--project-dir", str(DBT_PROJECT), "--profiles-dir", str(DBT_PROJECT),
        "--target-path", str(tmp_path / "target"), "--log-path", str(tmp_path / "logs"),
        "--select", *models, "--indirect-selection", "cautious", "--resource-type", "test"])
    assert result.result is not None, result.exception
    return sorted(r.node.name for r in result.result.results
                  if str(r.status).lower() not in ("pass", "success"))


def test_good_batch_passes_the_model_tests(mutate, tmp_path, monkeypatch):  # noqa: F811
    models = sorted({model for model, _ in DBT_BAD_BATCHES})
    assert _failed_dbt_tests(mutate.clone(None), models, tmp_path, monkeypatch) == []


@pytest.mark.parametrize(
    ("model", "test_name", "sql"),
    [pytest.param(model, test_name, sql, id=f"{test_name[:60]}#{number}")
     for (model, test_name), sqls in DBT_BAD_BATCHES.items()
     for number, sql in enumerate(sqls)])
def test_bad_batch_fails_exactly_its_dbt_test(mutate, tmp_path, monkeypatch,  # noqa: F811
                                              model: str, test_name: str, sql: str):
    assert _failed_dbt_tests(mutate.clone(sql), [model], tmp_path, monkeypatch) == sorted(
        [test_name, *ALSO_FAILING.get(test_name, [])])
