"""The summary of a dbt invocation that the transform task logs instead of every node."""

from __future__ import annotations

from types import SimpleNamespace

from corridor.transform import summarise


def _result(name: str, kind: str, status: str, seconds: float) -> SimpleNamespace:
    return SimpleNamespace(node=SimpleNamespace(name=name, resource_type=kind), status=status,
                           execution_time=seconds)


def test_counts_by_type_and_status_and_names_the_slowest():
    results = [_result("fct_trade", "model", "success", 3.2),
               _result("dim_dates", "model", "success", 0.4),
               _result("unique_fct_trade", "test", "pass", 0.1),
               _result("not_null_x", "test", "fail", 0.2),
               _result("ind_bilateral_trade", "model", "success", 9.9)]
    counts, slowest = summarise(results, slowest=2)
    assert counts == "3 models success, 1 tests fail, 1 tests pass"
    assert slowest == "slowest: ind_bilateral_trade 9.9 s, fct_trade 3.2 s"
    assert summarise([]) == []
