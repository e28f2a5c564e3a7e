"""A feed's row rules, declared once (spec/feeds.md "Rows").

Each feed module declares its :class:`RowRules` as ``RULES`` next to its constants. Its
parser reads them (which fields, lengths, lists, codes), and so does the simulator's
malformed-rows fault (corridor.simulator.malformed), which breaks one rule of a row and
records that rule's reason: what the simulator says it broke and what the parser rejects
cannot drift apart (tests/feeds/test_rules.py).
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

from corridor.feeds.common import REASONS, require, to_decimal, to_int


@dataclass(frozen=True)
class RowRules:
    """The rules every row of a feed keeps. A row that breaks one is rejected with that
    rule's reason (:attr:`REASON`); each parser checks them in its own order."""

    #: Fields a row must have.
    required: tuple[str, ...] = ()
    #: Numbers that may not be negative: integers, decimals (written with a decimal
    #: comma when ``decimal_comma``), and which of them may be blank.
    integers: tuple[str, ...] = ()
    decimals: tuple[str, ...] = ()
    optional: tuple[str, ...] = ()
    decimal_comma: bool = False
    #: Commodity-code fields → their number of digits (a tuple: any of those).
    codes: Mapping[str, int | tuple[int, ...]] = field(default_factory=dict)
    #: Fields whose value is one of a closed list.
    one_of: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    #: Partner fields and the codes they may hold.
    partner: tuple[str, ...] = ()
    partners: Callable[[], Collection[Any]] | None = None
    #: The reporter, which is no partner: its own code, or the field that holds it.
    reporter: str | int | None = None
    reporter_field: str | None = None
    #: The field naming a point of a reference list (rail: the crossing points).
    point: str | None = None
    points: Callable[[], Collection[str]] | None = None
    #: Fields that must be the unit's: its month (comtrade: and its reporter).
    period: tuple[str, ...] = ()
    #: The fields no two rows of a unit may share.
    key: tuple[str, ...] = ()

    #: The rejection reason of each rule (raw.rejected_rows.reason).
    REASON: ClassVar[Mapping[str, str]] = {
        "required": "missing_field", "non_negative": "negative_value",
        "codes": "bad_code_length", "one_of": "unparsable", "partner": "unknown_partner",
        "reporter": "self_partner", "point": "unknown_point", "period": "period_mismatch",
        "key": "duplicate_key"}

    @property
    def non_negative(self) -> tuple[str, ...]:
        return (*self.integers, *self.decimals)

    def fields(self, rule: str) -> tuple[str, ...]:
        """The fields ``rule`` (a key of :attr:`REASON`) governs; none when the feed has
        no such rule. The reporter rule governs the partner fields."""
        if rule == "reporter":
            return self.partner if (self.reporter, self.reporter_field) != (None, None) else ()
        if rule == "point":
            return (self.point,) if self.point else ()
        value = getattr(self, rule)
        return tuple(value)

    def reason(self, rule: str, name: str) -> str:
        """The reason of a row whose field ``name`` breaks ``rule``; a KeyError when the
        feed declares no such rule on that field."""
        if name not in self.fields(rule):
            raise KeyError(f"no {rule} rule on {name!r}")
        return self.REASON[rule]

    def require(self, record: Mapping[str, Any]) -> None:
        """Each required field present (missing_field), in order."""
        for name in self.required:
            require(record, name)

    def numbers(self, record: Any, names: Iterable[str]) -> dict[str, Any]:
        """The numbers ``names`` of a record (anything with ``get``), checked in order:
        an int or a Decimal, None for a blank optional one."""
        out = {}
        for name in names:
            optional = name in self.optional
            if name in self.integers:
                out[name] = to_int(record.get(name), name, optional=optional)
            else:
                out[name] = to_decimal(record.get(name), name, comma=self.decimal_comma,
                                       optional=optional)
        return out


assert set(RowRules.REASON.values()) <= REASONS
