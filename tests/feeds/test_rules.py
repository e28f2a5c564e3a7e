"""The simulator's malformed rows and the parsers cannot drift: both read a feed's
``RULES`` (corridor.feeds.rules).

For each feed, a clean row of the simulator's world is broken against every rule the
simulator can break (simulator/malformed.py ``HOW``), on every field the rule governs,
and parsed: the parser rejects it with the reason the simulator records. Every rule a
feed declares can be broken (so a rule added to the declaration needs a breaker and a
parser check that agrees), and every break the fault makes is a declared rule. No
database, no server: a few seconds.
"""

from __future__ import annotations

import copy
import csv
import io
import json
from decimal import Decimal
from typing import Any

import pytest

from corridor.feeds import comtrade, kz_customs, ports, rail, ru_customs
from corridor.feeds.rules import RowRules
from corridor.simulator import SimConfig, World
from corridor.simulator.common import dumps
from corridor.simulator.faults import _prune, _row_key, move_broken_places
from corridor.simulator.malformed import BREAKS, HOW, RAIL_PLACE, RULES, break_row
from corridor.simulator.rail import report_xml
from corridor.simulator.ru_customs import RU_CSV_HEADER

MONTH = "2024-01"
DAY = "2024-01-10"
FEEDS = ("ru_customs", "kz_customs", "comtrade", "ports", "rail")


@pytest.fixture(scope="module")
def world() -> World:
    return World(SimConfig(seed=20240101, scale=0.1, first_month=MONTH, last_month=MONTH))


def breakable(feed: str) -> list[tuple[str, str]]:
    """(rule, field) of every rule the simulator can break in ``feed``."""
    return [(rule, name) for rule in HOW[feed] for name in RULES[feed].fields(rule)]


def test_every_declared_rule_can_be_broken_and_every_break_is_declared() -> None:
    for feed in FEEDS:
        rules = RULES[feed]
        declared = {rule for rule in RowRules.REASON if rules.fields(rule)} - {"key"}
        assert set(HOW[feed]) == declared, f"{feed}: breakers {sorted(HOW[feed])}, rules " \
                                           f"{sorted(declared)}"
        for rule, name in BREAKS[feed]:
            assert rules.reason(rule, name) == RowRules.REASON[rule]
    assert RULES == {"ru_customs": ru_customs.RULES, "kz_customs": kz_customs.RULES,
                     "comtrade": comtrade.RULES, "ports": ports.RULES, "rail": rail.RULES}


def test_a_break_of_an_undeclared_rule_is_refused() -> None:
    with pytest.raises(KeyError):
        break_row("ru_customs", "codes", "stoim", {"stoim": "1,00"}, MONTH)
    with pytest.raises(KeyError):
        break_row("rail", "reporter", "origin", {"origin": "KZ"}, DAY)


# ------------------------------------------------------------- one row, each feed's way

def _rejections(feed: str, rows: list[dict[str, Any]], unit: str) -> tuple[int, list]:
    """(accepted count, [(reason, detail)]) of the parser over ``rows``."""
    if feed == "ru_customs":
        buffer = io.StringIO()
        writer = csv.writer(buffer, delimiter=";", lineterminator="\r\n")
        writer.writerow(RU_CSV_HEADER)
        writer.writerows([row.get(name, "") for name in RU_CSV_HEADER] for row in rows)
        result = ru_customs.parse_csv(buffer.getvalue().encode("windows-1251"), unit, 1, "final")
        return len(result.rows), result.rejections
    if feed == "kz_customs":
        page = json.loads(dumps({"period": unit, "revision": 1, "status": "final",
                                 "items": rows, "next_cursor": None}), parse_float=Decimal)
        result = kz_customs.parse_pages([page], unit, 1, "final")
        return len(result.rows), result.rejections
    reporter, _, month = unit.partition(":")
    records = json.loads(dumps(rows), parse_float=Decimal)
    result = comtrade.parse_data(records, int(reporter), month)
    return len(result.rows), result.rejections


def _clean_rows(feed: str, world: World) -> tuple[str, list[dict[str, Any]]]:
    if feed == "ru_customs":
        return MONTH, world.ru_rows(MONTH)
    if feed == "kz_customs":
        return MONTH, world.kz_items(MONTH)
    reporter = next(j for j in (156, 112, 417, 860) if world.comtrade_reported(j, MONTH))
    leaves = [row for row in world.comtrade_rows(reporter, MONTH) if row["aggrLevel"] == 6
              and row["motCode"] == 0 and row["partner2Code"] == 0
              and row["customsCode"] == "C00"]
    return f"{reporter}:{MONTH}", leaves


def _filled(row: dict[str, Any], name: str) -> bool:
    return row.get(name) not in (None, "")


@pytest.mark.parametrize("feed", ["ru_customs", "kz_customs", "comtrade"])
def test_each_break_is_rejected_with_its_reason(feed: str, world: World) -> None:
    unit, rows = _clean_rows(feed, world)
    assert _rejections(feed, rows[:20], unit) == (20, [])
    for rule, name in breakable(feed):
        row = copy.deepcopy(next((row for row in rows if _filled(row, name)), rows[0]))
        reason = break_row(feed, rule, name, row, unit)
        accepted, rejections = _rejections(feed, [row], unit)
        assert (accepted, [r.reason for r in rejections]) == (0, [reason]), (
            feed, rule, name, row, rejections)


@pytest.mark.parametrize("feed", ["ru_customs", "kz_customs", "comtrade"])
def test_a_repeated_key_is_rejected_as_the_rules_say(feed: str, world: World) -> None:
    unit, rows = _clean_rows(feed, world)
    row = rows[0]
    assert _row_key(feed, row) == tuple(row[name] for name in RULES[feed].key)
    accepted, rejections = _rejections(feed, [row, dict(row)], unit)
    assert (accepted, [r.reason for r in rejections]) == (0, [RowRules.REASON["key"]] * 2)


def test_each_cargo_line_break_is_rejected_with_its_reason(world: World) -> None:
    calls = [call for port in ("KZAAU", "KZKUR") for call in world.port_calls_month(port, MONTH)
             if call["cargo"]]
    for rule, name in breakable("ports"):
        call = copy.deepcopy(next(call for call in calls if _filled(call["cargo"][0], name)))
        reason = break_row("ports", rule, name, call["cargo"][0], call["port"])
        parsed = ports.parse_calls(json.loads(dumps([call]), parse_float=Decimal), call["port"])
        assert len(parsed.calls) == 1 and len(parsed.cargo_lines) == len(call["cargo"]) - 1
        assert [(r.row_ref, r.reason) for r in parsed.rejections] == [
            (ports.row_ref(call["call_id"], call["version"], 1), reason)], (rule, name)


def test_each_consignment_break_is_rejected_with_its_reason(world: World) -> None:
    clean = world.rail_report(DAY)
    assert rail.parse_report(report_xml(clean), DAY).rejections == []
    total = sum(len(m["consignments"]) for c in clean["crossings"] for m in c["movements"])
    for rule, name in breakable("rail"):
        report = copy.deepcopy(clean)
        consignment = next(c for crossing in report["crossings"]
                           for movement in crossing["movements"]
                           for c in movement["consignments"]
                           if name in RAIL_PLACE or (_filled(c, name) and c[name].strip("0.")))
        reason = break_row("rail", rule, name, consignment, DAY)
        move_broken_places(report)
        _prune(report)
        result = rail.parse_report(report_xml(report), DAY)
        assert (len(result.rows), [r.reason for r in result.rejections]) == (
            total - 1, [reason]), (rule, name, result.rejections)
