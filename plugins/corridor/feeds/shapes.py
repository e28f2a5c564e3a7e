"""The shape of every JSON payload the feeds send, declared once (pydantic models).

Only the envelope is declared: that a page is an object, that its list of rows is a
list of objects, the fields a client reads to page, version and reconcile. The rows'
own fields are judged row by row by the parsers (a bad row is a rejection, never an
error). A payload of another shape is a :class:`~corridor.feeds.common.FeedError`
naming feed, unit and position: the unit fails and nothing of it is loaded (never an
``AttributeError`` on a list, never a silently empty unit). Unknown extra fields are
ignored, as the contract says.
"""

from __future__ import annotations

from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, StrictStr, ValidationError

from corridor.feeds.common import FeedError


class Shape(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


# ------------------------------------------------------------------------ kz_customs

class KzPeriod(Shape):
    period: StrictStr
    revision: int
    status: StrictStr | None = None
    records: int


class KzPeriods(Shape):
    periods: list[KzPeriod]


class KzPage(Shape):
    period: StrictStr | None = None
    revision: int
    status: StrictStr | None = None
    items: list[dict[str, Any]]
    next_cursor: StrictStr | None = None


# ------------------------------------------------------------------------ ru_customs

class RuRelease(Shape):
    period: StrictStr
    revision: int
    status: StrictStr
    sha256: StrictStr
    rows: int
    path: StrictStr | None = None


class RuReleases(Shape):
    releases: list[Any]  # entries one by one: an error names the entry


# ----------------------------------------------------------------------------- ports

class PortsPage(Shape):
    data: list[Any]  # records one by one: an error names the record
    next_page_token: StrictStr | None = None


# -------------------------------------------------------------------------- comtrade

class ComtradeData(Shape):
    data: list[dict[str, Any]]
    count: int | None = None


class ComtradeAvailabilityRow(Shape):
    reporterCode: int
    period: str | int
    totalRecords: int
    datasetChecksum: StrictStr


class ComtradeAvailability(Shape):
    data: list[Any]


M = TypeVar("M", bound=BaseModel)


def validated(model: type[M], payload: Any, feed: str, unit: str, position: str) -> M:
    """``payload`` as ``model``, or a FeedError naming feed, unit, position and what is
    wrong (the first few problems, with where they are in the payload)."""
    try:
        return model.model_validate(payload)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(part) for part in error['loc']) or 'the payload'}: {error['msg']}"
            for error in exc.errors()[:3])
        kind = type(payload).__name__
        raise FeedError(feed, unit, position,
                        f"{model.__name__} of the wrong shape ({kind}): {problems}") from None
