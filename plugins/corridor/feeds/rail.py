"""rail: daily railway border-crossing reports (namespaced XML).

Parsed with ``defusedxml.ElementTree`` (the stdlib parser, hardened): a DTD, an entity
declaration or an external reference is refused outright (``forbid_dtd``), so no
"billion laughs" expansion and no fetch. The reports are small, flat and
namespace-qualified (Clark ``{uri}name`` tags match whatever prefix the sender uses).

Only the direct children the contract names are read: crossingReport > crossing >
movement > consignment (never ``iter()`` over all descendants). An element off that
path is either

* an unknown extra element (its name, and every name inside it, outside the report's
  vocabulary: ``<summary/>``, ``<locomotive/>``): ignored, as the contract says of
  unknown extra fields; or
* an element of the vocabulary (``crossing``, ``movement``, ``consignment``, in any
  namespace) in the wrong place, or an unknown element holding one: one rejection
  (``unparsable``, ``row_ref`` = its path), its content not read. So a consignment
  is never dropped silently and never counted twice.
"""

from __future__ import annotations

import calendar
import hashlib
import logging
import xml.etree.ElementTree as ET
from collections import Counter
from dataclasses import dataclass
from datetime import date
from typing import Any

import defusedxml.ElementTree as DefusedET
from defusedxml import DefusedXmlException

from corridor.feeds.common import (
    FeedError,
    ParseResult,
    RowError,
    check_code,
    check_storable,
    to_int,
)
from corridor.feeds.http import FeedClient, FeedHTTPError, IncompleteBody
from corridor.feeds.rules import RowRules
from corridor.reference import iso2_codes, rail_crossing_points

log = logging.getLogger(__name__)

FEED = "rail"
NS = "urn:corridor:rail:crossing:1"
DIRECTIONS = ("inbound", "outbound")
#: The rules of a consignment (with its crossing's point and its movement's direction
#: and transit), read by :func:`_consignment` and the simulator. Origin and destination
#: are partners that may be blank; a report has no self partner, period or key rule.
RULES = RowRules(
    required=("point", "direction", "transit", "gng", "wagons", "teu", "tonnes"),
    integers=("wagons", "teu"), decimals=("tonnes",),
    codes={"gng": 8},
    one_of={"direction": DIRECTIONS, "transit": ("true", "false", "1", "0")},
    partner=("origin", "destination"), partners=iso2_codes,
    point="point", points=rail_crossing_points,
)
#: Where a required text is given: the element that lacks it says so.
_GIVEN_BY = {"point": "crossing", "direction": "movement", "transit": "movement",
             "gng": "consignment"}


def _q(name: str) -> str:
    return f"{{{NS}}}{name}"


class ForbiddenXml(Exception):
    """A DTD or entity in a report: refused (not a ``ValueError``, so the HTTP layer
    does not retry it as a cut body)."""


def parse_xml_root(payload: bytes) -> ET.Element:
    """Parse and check the document element (used inside the HTTP retry: a cut body fails)."""
    try:
        root = DefusedET.fromstring(payload, forbid_dtd=True, forbid_entities=True,
                                    forbid_external=True)
    except DefusedXmlException as exc:
        raise ForbiddenXml(f"{FEED}: the report declares a DTD or entity, refused: "
                           f"{exc!r}") from None
    if root.tag != _q("crossingReport"):
        raise ValueError(f"root element {root.tag!r} is not {{{NS}}}crossingReport")
    return root


def parse_report(payload: bytes | ET.Element, day: str) -> ParseResult:
    """One day's report → ``raw.rail_consignments`` dicts and rejections.

    ``meta`` holds ``revision`` and ``generated``. A report whose ``date`` is not the
    URL's day is rejected whole (one ``date_mismatch`` rejection, no rows).
    """
    result = ParseResult(FEED, day)
    root = payload if isinstance(payload, ET.Element) else parse_xml_root(payload)
    report_date = root.get("date")
    revision_text = root.get("revision")
    try:
        result.meta["revision"] = to_int(revision_text, "revision")
    except RowError as exc:
        result.meta["revision"] = None
        result.reject("report", exc, f"<crossingReport date={report_date!r} "
                                     f"revision={revision_text!r}>")
        return result
    result.meta["generated"] = root.get("generated")
    if report_date != day:
        result.reject("report", RowError("date_mismatch", f"report date {report_date!r} is "
                                                          f"not the URL's day {day}"),
                      ET.tostring(root, encoding="unicode")[:2000])
        return result
    the_day = date.fromisoformat(day)
    row_number = 0

    def unexpected(element: ET.Element, path: str) -> None:
        if not any(_local(inner.tag) in VOCABULARY for inner in element.iter()):
            return  # an unknown extra element: ignored
        text = ET.tostring(element, encoding="unicode").strip()
        result.reject(path, RowError("unparsable", f"unexpected element {element.tag!r} at "
                                                   f"{path}: not read"), text[:2000])

    def children(parent: ET.Element, name: str, path: str):
        """(path, child) of ``parent``'s ``name`` children, XPath-like (``name[n]``);
        the others go to ``unexpected`` (each ``other[n]`` by its own count)."""
        counts: Counter[str] = Counter()
        for child in parent:
            child_name = _name(child)
            counts[child_name] += 1
            child_path = f"{path}/{child_name}[{counts[child_name]}]"
            if child.tag == _q(name):
                yield child_path, child
            else:
                unexpected(child, child_path)

    for where, crossing in children(root, "crossing", "crossingReport"):
        point = (crossing.get("point") or "").strip()
        partner_railway = crossing.get("partnerRailway")
        for movement_path, movement in children(crossing, "movement", where):
            for consignment_path, consignment in children(movement, "consignment",
                                                          movement_path):
                row_number += 1
                for inner in consignment:  # a consignment has no content
                    unexpected(inner, f"{consignment_path}/{_name(inner)}")
                raw = (f"point={point!r} direction={movement.get('direction')!r} "
                       f"transit={movement.get('transit')!r} "
                       + ET.tostring(consignment, encoding="unicode").strip())
                try:
                    check_storable(partner_railway, "partnerRailway")
                    row = _consignment(point, movement, consignment)
                except RowError as exc:
                    result.reject(row_number, exc, raw)
                    continue
                row.update(report_date=the_day, revision=result.meta["revision"],
                           row_number=row_number, partner_railway=partner_railway)
                result.rows.append(row)
    return result


#: The report's element names (local): off their place, an element is rejected.
VOCABULARY = frozenset({"crossingReport", "crossing", "movement", "consignment"})


def _local(tag: Any) -> str | None:
    return tag.rpartition("}")[2] if isinstance(tag, str) else None


def _name(element: ET.Element) -> str:
    """An element's name in a path: local name in the report's namespace, else Clark."""
    tag = element.tag if isinstance(element.tag, str) else repr(element.tag)
    return tag.removeprefix(f"{{{NS}}}")


def _given(value: str | None, name: str) -> str:
    if not value:
        raise RowError("missing_field", f"{_GIVEN_BY[name]} has no {name}")
    return value


def _consignment(point: str, movement: ET.Element, consignment: ET.Element) -> dict[str, Any]:
    if _given(point, "point") not in RULES.points():
        raise RowError("unknown_point", f"point={point!r} is not a known crossing point")
    direction = _given(movement.get("direction"), "direction")
    if direction not in RULES.one_of["direction"]:
        raise RowError("unparsable", f"direction={direction!r} is not "
                                     f"{'/'.join(RULES.one_of['direction'])}")
    transit_text = _given(movement.get("transit"), "transit")
    if transit_text not in RULES.one_of["transit"]:
        raise RowError("unparsable", f"transit={transit_text!r} is not a boolean")
    gng = check_code(_given(consignment.get("gng"), "gng"), "gng", RULES.codes["gng"])
    numbers = RULES.numbers(consignment, RULES.non_negative)
    places = {}
    for name in RULES.partner:
        value = (consignment.get(name) or "").strip().upper() or None
        if value is not None and value not in RULES.partners():
            raise RowError("unknown_partner", f"{name}={value!r} is not an ISO alpha-2 code")
        places[name] = value
    return {"point": point, "direction": direction, "transit": transit_text in ("true", "1"),
            "gng": gng, **numbers, **places}


# ------------------------------------------------------------------------------ fetch

def days_of(period_month: str) -> list[str]:
    year, month = (int(part) for part in period_month.split("-"))
    return [f"{year:04d}-{month:02d}-{day:02d}"
            for day in range(1, calendar.monthrange(year, month)[1] + 1)]


@dataclass
class RailFetch:
    day: str
    state: str  # 'new' | 'not_modified' | 'not_out'
    payload: bytes | None = None
    root: ET.Element | None = None
    sha256: str | None = None
    url: str | None = None


def _etag_sha(headers) -> str | None:
    etag = headers.get("ETag") or headers.get("etag")
    if not etag:
        return None
    return etag.removeprefix("W/").strip('"').lower()


def fetch_day(client: FeedClient, day: str, *, held_sha256: str | None = None) -> RailFetch:
    """The newest report of ``day``; ``held_sha256`` (the ETag last loaded) makes an
    unchanged day a 304. 404 = not out yet (normal)."""
    def validate(response):
        root = parse_xml_root(response.content)
        announced = _etag_sha(response.headers)
        if announced and len(announced) == 64 and \
                hashlib.sha256(response.content).hexdigest() != announced:
            raise IncompleteBody("body sha256 differs from its ETag")
        return root

    headers = {"If-None-Match": f'"{held_sha256}"'} if held_sha256 else None
    try:
        response = client.get(f"/rail/v1/crossings/{day}.xml", headers=headers,
                              ok_statuses=(200, 304), validate=validate, unit=day)
    except FeedHTTPError as exc:
        if exc.status == 404:
            return RailFetch(day, "not_out")
        raise
    except ForbiddenXml as exc:
        raise FeedError(FEED, day, "report", str(exc)) from None
    except IncompleteBody as exc:
        # Retried as a cut body, and still not well-formed XML (a NUL, an invalid
        # character reference, ...): the day fails, nothing of it loads.
        raise FeedError(FEED, day, "report", f"not a well-formed report after retries: "
                                             f"{exc}") from exc
    if response.status == 304:
        return RailFetch(day, "not_modified", sha256=held_sha256, url=response.url)
    return RailFetch(day, "new", response.content, response.parsed,
                     hashlib.sha256(response.content).hexdigest(), response.url)
