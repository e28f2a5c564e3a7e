"""How the ``malformed_rows`` fault breaks a row: against one of its feed's row rules, the
``RULES`` its parser reads (corridor.feeds.rules), recording that rule's reason.

:data:`BREAKS` says which rule (and field) the fault breaks, row after row, per feed;
:data:`HOW` how a rule is broken in the feed's format (CSV text, JSON numbers, XML
attributes). Only a rule the feed declares can be broken, and the reason recorded is the
declaration's: the parser rejects the row with it (tests/feeds/test_rules.py).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from corridor.config import month_add
from corridor.feeds import comtrade, kz_customs, ports, rail, ru_customs
from corridor.feeds.rules import RowRules
from corridor.simulator.common import RawNumber

#: The row rules of each feed (a port call's cargo line for ports, a consignment for rail).
RULES: dict[str, RowRules] = {"ru_customs": ru_customs.RULES, "kz_customs": kz_customs.RULES,
                              "comtrade": comtrade.RULES, "ports": ports.RULES,
                              "rail": rail.RULES}

#: (rule, field) the fault breaks in turn, one row after the other.
BREAKS: dict[str, tuple[tuple[str, str], ...]] = {
    "ru_customs": (("non_negative", "stoim"), ("codes", "tnved"), ("partner", "strana"),
                   ("required", "stoim"), ("reporter", "strana"), ("period", "period")),
    "kz_customs": (("non_negative", "value_thousand_usd"), ("codes", "tn_ved"),
                   ("partner", "partner_m49"), ("required", "net_weight_t"),
                   ("reporter", "partner_m49")),
    "comtrade": (("non_negative", "primaryValue"), ("codes", "cmdCode"),
                 ("required", "primaryValue")),
    "ports": (("required", "tonnes"), ("non_negative", "tonnes")),
    "rail": (("non_negative", "tonnes"), ("required", "wagons"), ("codes", "gng"),
             ("partner", "origin"), ("point", "point")),
}

#: A value no closed list holds.
NOT_LISTED = "?"

Breaker = Callable[[dict[str, Any], str, str], None]  # (row, field, unit), in place


def break_row(feed: str, rule: str, name: str, row: dict[str, Any], unit: str) -> str:
    """Break ``row`` (in place) against ``rule`` on its field ``name``; the reason the
    parser rejects it with. A KeyError when the feed declares no such rule."""
    reason = RULES[feed].reason(rule, name)
    HOW[feed][rule](row, name, unit)
    return reason


def _set(value: Any) -> Breaker:
    def breaker(row: dict[str, Any], name: str, unit: str) -> None:
        row[name] = value
    return breaker


def _pop(row: dict[str, Any], name: str, unit: str) -> None:
    row.pop(name, None)


def _drop_digit(row: dict[str, Any], name: str, unit: str) -> None:
    row[name] = row[name][:-1]


def _minus_text(row: dict[str, Any], name: str, unit: str) -> None:
    value = row[name]
    row[name] = "-" + value if value.strip("0,.") else "-1"  # "-0" is no negative number


def _negated(value: Any) -> Any:
    """A JSON number made negative (zero: minus one of its type)."""
    return -abs(value) or type(value)(-1)


def _other_month(unit: str) -> str:
    return month_add(unit[-7:], -1)


# ------------------------------------------------------------------ ru_customs: CSV text

def _ru_other_period(row: dict[str, Any], name: str, unit: str) -> None:
    other = _other_month(unit)
    row[name] = f"{other[5:7]}/{other[:4]}"


# ------------------------------------------------------------------ kz_customs: JSON

def _kz_negate(row: dict[str, Any], name: str, unit: str) -> None:
    row[name] = _negated(row[name])


def _kz_partner(code: str, name_ru: str) -> Breaker:
    def breaker(row: dict[str, Any], name: str, unit: str) -> None:
        row.update({name: code, "partner_name_ru": name_ru})
    return breaker


# ------------------------------------------------------------------ comtrade: JSON

#: The one value a reporter gave, as primaryValue and as cifvalue or fobvalue.
_COMTRADE_VALUES = ("primaryValue", "cifvalue", "fobvalue")


def _comtrade_tied(name: str) -> tuple[str, ...]:
    return _COMTRADE_VALUES if name == "primaryValue" else (name,)


def _comtrade_null(row: dict[str, Any], name: str, unit: str) -> None:
    row.update(dict.fromkeys(_comtrade_tied(name)))


def _comtrade_negate(row: dict[str, Any], name: str, unit: str) -> None:
    for key in _comtrade_tied(name):
        if isinstance(row.get(key), (int, float)):
            row[key] = _negated(row[key])


def _comtrade_self_partner(row: dict[str, Any], name: str, unit: str) -> None:
    row[name] = row[comtrade.RULES.reporter_field]


def _comtrade_other_unit(row: dict[str, Any], name: str, unit: str) -> None:
    if name == "period":
        row[name] = _other_month(unit).replace("-", "")
    else:  # the reporter: another one's row
        row[name] += 1


# ------------------------------------------------------------------ ports: JSON numbers

def _ports_negate(row: dict[str, Any], name: str, unit: str) -> None:
    value = row.get(name)
    row[name] = RawNumber("-" + ("1" if value is None else str(value).lstrip("-")))


# ------------------------------------------------------------------ rail: XML attributes

#: A consignment's fields its crossing and movement give: broken, the consignment moves
#: to a crossing of its own (faults.py), with what ``_place`` says.
RAIL_PLACE = ("point", "direction", "transit")


def _rail(breaker: Breaker, place_value: Any = None) -> Breaker:
    def rail_breaker(row: dict[str, Any], name: str, unit: str) -> None:
        if name in RAIL_PLACE:
            row.setdefault("_place", {})[name] = place_value
        else:
            breaker(row, name, unit)
    return rail_breaker


HOW: dict[str, dict[str, Breaker]] = {
    "ru_customs": {"required": _set(""), "non_negative": _minus_text, "codes": _drop_digit,
                   "one_of": _set(NOT_LISTED), "partner": _set("QQ"),
                   "reporter": _set(ru_customs.RULES.reporter), "period": _ru_other_period},
    "kz_customs": {"required": _pop, "non_negative": _kz_negate, "codes": _drop_digit,
                   "one_of": _set(NOT_LISTED), "partner": _kz_partner("999", "???"),
                   "reporter": _kz_partner(f"{kz_customs.RULES.reporter:03d}", "Казахстан"),
                   "period": lambda row, name, unit: row.update({name: _other_month(unit)})},
    "comtrade": {"required": _comtrade_null, "non_negative": _comtrade_negate,
                 "codes": _drop_digit, "partner": _set(0),
                 "reporter": _comtrade_self_partner, "period": _comtrade_other_unit},
    "ports": {"required": _pop, "non_negative": _ports_negate, "codes": _drop_digit,
              "one_of": _set(NOT_LISTED)},
    "rail": {"required": _rail(_pop, ""), "non_negative": _rail(_minus_text),
             "codes": _rail(_drop_digit), "one_of": _rail(_set(NOT_LISTED), NOT_LISTED),
             "partner": _rail(_set("QQ")), "point": _rail(_pop, "NOWHERE")},
}
