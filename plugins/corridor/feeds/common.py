"""What every feed parser shares: rejections, value checks, duplicate-key rejection."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Hashable, Iterable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

#: Rejection reasons (raw.rejected_rows.reason), spec/feeds.md "Rows".
REASONS = frozenset({
    "missing_field", "unparsable", "negative_value", "unknown_partner", "self_partner",
    "bad_code_length", "period_mismatch", "duplicate_key", "unknown_point", "date_mismatch",
})


@dataclass(frozen=True)
class Rejection:
    """A delivered row kept out of the raw tables, with why."""

    feed: str
    unit: str
    row_ref: str
    reason: str
    detail: str
    raw_record: str | None


class FeedError(Exception):
    """A payload the contract does not allow as a whole (wrong shape, a count that does
    not reconcile, paging that does not end): the unit fails and nothing of it loads.
    Not a ``ValueError``: raised inside an HTTP ``validate`` it is not retried as a cut
    body."""

    def __init__(self, feed: str, unit: str, position: str | None, message: str) -> None:
        where = f" {position}" if position else ""
        super().__init__(f"{feed} unit {unit}{where}: {message}")
        self.feed, self.unit, self.position, self.message = feed, unit, position, message

    def __reduce__(self):  # picklable (a task's error may cross a process boundary)
        return type(self), (self.feed, self.unit, self.position, self.message)


def remember_page_token(seen: set[str], token: str, field_name: str, feed: str, unit: str,
                        page_no: int) -> None:
    """Add a page's next-page token to ``seen``; one already there fails the unit (the
    publisher would page in a circle)."""
    if token in seen:
        raise FeedError(feed, unit, f"page {page_no}",
                        f"{field_name} {token!r} repeats an earlier page's: paging would not end")
    seen.add(token)


class RowError(Exception):
    """One row breaks a rule; ``reason`` is one of :data:`REASONS`."""

    def __init__(self, reason: str, message: str) -> None:
        assert reason in REASONS, reason
        super().__init__(message)
        self.reason = reason
        self.message = message


@dataclass
class ParseResult:
    """Accepted rows (dicts keyed by raw-table column) and rejections of one unit."""

    feed: str
    unit: str
    rows: list[dict[str, Any]] = field(default_factory=list)
    rejections: list[Rejection] = field(default_factory=list)
    meta: dict[str, Any] = field(default_factory=dict)

    def reject(self, row_ref: str | int, error: RowError, raw_record: str | None) -> None:
        self.rejections.append(make_rejection(self.feed, self.unit, row_ref, error.reason,
                                              error.message, raw_record))


def make_rejection(feed: str, unit: str, row_ref: str | int, reason: str, message: str,
                   raw_record: str | None) -> Rejection:
    # The detail names feed, unit and row so that a log line or a table row stands alone.
    # Every text is made storable: a rejection must never make the unit's COPY fail.
    unit, row_ref = storable_text(unit), storable_text(str(row_ref))
    detail = storable_text(f"{feed} unit {unit} row {row_ref}: {message}")
    return Rejection(feed, unit, row_ref, reason, detail,
                     None if raw_record is None else storable_text(raw_record))


def unstorable(text: str) -> str | None:
    """Why PostgreSQL cannot store ``text`` (a NUL character, a lone surrogate), or None."""
    if "\x00" in text:
        return "a NUL character"
    if not text.isascii():
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            return "a lone surrogate"
    return None


def storable_text(text: str) -> str:
    """``text`` with what PostgreSQL cannot store made visible: NUL as ``\\u0000``, a
    lone surrogate as its ``\\udXXX`` escape (backslashreplace)."""
    if unstorable(text) is None:
        return text
    text = text.replace("\x00", "\\u0000")
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def check_storable(value: Any, name: str) -> Any:
    """``value`` unchanged, or a RowError (``unparsable``) naming the field when it is text
    PostgreSQL cannot store."""
    if isinstance(value, str):
        why = unstorable(value)
        if why is not None:
            raise RowError("unparsable", f"{name} holds {why}, which cannot be stored: "
                                         f"{storable_text(value)!r}")
    return value


def check_storable_fields(record: dict[str, Any], names: Iterable[str]) -> None:
    """:func:`check_storable` on every text value of ``names`` in ``record``, nested
    objects and lists included."""
    for name in names:
        _check_nested(record.get(name), name)


def _check_nested(value: Any, name: str) -> None:
    if isinstance(value, str):
        check_storable(value, name)
    elif isinstance(value, dict):
        for key, inner in value.items():
            _check_nested(inner, f"{name}.{key}")
    elif isinstance(value, list):
        for index, inner in enumerate(value):
            _check_nested(inner, f"{name}[{index}]")


def require(record: dict[str, Any], name: str) -> Any:
    value = record.get(name)
    if value is None or (isinstance(value, str) and value.strip() == ""):
        raise RowError("missing_field", f"required field {name!r} is missing")
    return value


def to_decimal(value: Any, name: str, *, comma: bool = False, nonnegative: bool = True,
               optional: bool = False) -> Decimal | None:
    """A Decimal from text or a JSON number (never via float); negative values rejected."""
    if value is None or (isinstance(value, str) and value.strip() == ""):
        if optional:
            return None
        raise RowError("missing_field", f"required field {name!r} is missing")
    if isinstance(value, bool):
        raise RowError("unparsable", f"{name}={value!r} is not a number")
    if isinstance(value, float):
        # json parsed without parse_float=Decimal: go through repr, the shortest exact text.
        value = repr(value)
    text = str(value).strip()
    if comma:
        text = text.replace(",", ".")
    try:
        number = Decimal(text)
    except InvalidOperation:
        raise RowError("unparsable", f"{name}={value!r} is not a number") from None
    if not number.is_finite():
        raise RowError("unparsable", f"{name}={value!r} is not a finite number")
    if nonnegative and number < 0:
        raise RowError("negative_value", f"{name}={value!r} is negative")
    return number


def to_int(value: Any, name: str, *, nonnegative: bool = True, optional: bool = False
           ) -> int | None:
    number = to_decimal(value, name, nonnegative=nonnegative, optional=optional)
    if number is None:
        return None
    if number != number.to_integral_value():
        raise RowError("unparsable", f"{name}={value!r} is not an integer")
    return int(number)


def check_code(value: Any, name: str, length: int) -> str:
    """A commodity code as delivered text of exactly ``length`` digits (never padded)."""
    if not isinstance(value, str):
        # A JSON number has lost its leading zeros: the code cannot be trusted.
        raise RowError("unparsable", f"{name}={value!r} is not text")
    code = value.strip()
    if not code.isdigit():
        raise RowError("unparsable", f"{name}={value!r} is not a digit string")
    if len(code) != length:
        raise RowError("bad_code_length", f"{name}={value!r} has {len(code)} digits, not {length}")
    return code


def duplicate_keys(keys: list[Hashable | None]) -> set[Hashable]:
    """Keys that occur more than once (``None`` = no usable key, never a duplicate)."""
    counts = Counter(key for key in keys if key is not None)
    return {key for key, count in counts.items() if count > 1}


#: One delivered row as a parser saw it: (row number, the record as delivered, the raw
#: row or None, its RowError or None, its key or None).
Parsed = tuple[int, Any, dict[str, Any] | None, RowError | None, Hashable | None]


def rejecting_duplicates(parsed: list[Parsed], message: Callable[[Hashable], str]
                         ) -> Iterator[Parsed]:
    """The parsed rows again, every copy of a key that occurs more than once failing now
    with a ``duplicate_key`` error (``message(key)`` says which key)."""
    duplicates = duplicate_keys([key for *_, key in parsed])
    for row_number, record, row, error, key in parsed:
        if error is None and key in duplicates:
            error = RowError("duplicate_key", message(key))
        yield row_number, record, row, error, key
