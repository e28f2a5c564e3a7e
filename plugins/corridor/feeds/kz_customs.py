"""kz_customs: Kazakhstan customs JSON API, paged per month.

Values stay as delivered (thousand USD, tonnes): dbt converts. Numbers are Decimal
(``parse_float=Decimal``), M49 codes text with their leading zeros.
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass, field
from typing import Any

from corridor.feeds.common import (
    FeedError,
    ParseResult,
    RowError,
    check_code,
    check_storable_fields,
    rejecting_duplicates,
    remember_page_token,
)
from corridor.feeds.http import FeedClient, FeedHTTPError, json_body
from corridor.feeds.rules import RowRules
from corridor.feeds.shapes import KzPage, KzPeriods, validated
from corridor.reference import m49_codes

log = logging.getLogger(__name__)

FEED = "kz_customs"
FLOWS = ("export", "import")
TRANSPORT_MODES = ("rail", "sea", "road", "pipeline", "air", "other")
REPORTER_M49 = 398
#: The row rules, read by :func:`_row` and the simulator.
RULES = RowRules(
    required=("flow", "tn_ved", "partner_m49", "value_thousand_usd", "net_weight_t",
              "transport_mode", "customs_regime"),
    decimals=("value_thousand_usd", "net_weight_t", "supp_qty"), optional=("supp_qty",),
    codes={"tn_ved": 10},
    one_of={"flow": FLOWS, "transport_mode": TRANSPORT_MODES},
    partner=("partner_m49",), partners=m49_codes, reporter=REPORTER_M49,
    period=("period",),
    key=("flow", "tn_ved", "partner_m49", "transport_mode", "customs_regime"),
)
REQUIRED = RULES.required
PAGE_SIZE = 1000
#: Pages beyond ``ceil(records / PAGE_SIZE)`` a period may take (an empty last page, a
#: publisher serving a little less than asked) before paging is an error.
PAGE_MARGIN = 2
#: Pages of a period whose ``records`` are not known (never more, whatever the cursor).
MAX_PAGES = 10_000
#: Stored text fields of an item (checked to be storable).
TEXT_FIELDS = (*REQUIRED, "partner_name_ru", "supp_unit", "period")
PERIODS_PATH = "/kz-customs/api/v2/periods"
TRADE_PATH = "/kz-customs/api/v2/trade"


def parse_pages(pages: list[dict[str, Any]], period_month: str, revision: int, status: str
                ) -> ParseResult:
    """Items of all pages of one period (in order) → ``raw.kz_customs_rows`` dicts."""
    result = ParseResult(FEED, period_month)
    parsed = []
    row_number = 0
    for page_no, page in enumerate(pages, start=1):
        # A page of another shape (items null, missing, not a list, an item that is not
        # an object) fails the unit: an error naming the page, never an empty unit.
        shape = validated(KzPage, page, FEED, period_month, f"page {page_no}")
        page_period = shape.period
        for item in page["items"]:
            row_number += 1
            key = None
            try:
                key = _key(item)
                row = _row(item, period_month, page_period)
                row.update(period_month=period_month, revision=revision, status=status,
                           row_number=row_number)
                error = None
            except RowError as exc:
                row, error = None, exc
            parsed.append((row_number, item, row, error, key))
    for row_number, item, row, error, _ in rejecting_duplicates(parsed, _duplicate_message):
        raw = json.dumps(item, ensure_ascii=False, default=str)
        if error is not None:
            result.reject(row_number, error, raw)
        else:
            result.rows.append(row)
    return result


def _duplicate_message(key: tuple) -> str:
    names = ", ".join(RULES.key)
    return f"key ({names})={key} occurs more than once"


def _key(item: dict[str, Any]) -> tuple | None:
    values = [item.get(name) for name in RULES.key]
    if any(value is None for value in values):
        return None
    at = RULES.key.index("partner_m49")
    partner = str(values[at]).strip()
    values[at] = int(partner) if partner.isdigit() else partner  # "031" is 31
    return tuple(str(v).strip() if not isinstance(v, int) else v for v in values)


def _row(item: dict[str, Any], period_month: str, page_period: str | None) -> dict[str, Any]:
    check_storable_fields(item, TEXT_FIELDS)
    RULES.require(item)
    flow = item["flow"]
    if flow not in RULES.one_of["flow"]:
        raise RowError("unparsable", f"flow={flow!r} is not {' or '.join(RULES.one_of['flow'])}")
    tn_ved = check_code(item["tn_ved"], "tn_ved", RULES.codes["tn_ved"])
    partner = item["partner_m49"]
    if not isinstance(partner, str) or not partner.strip().isdigit():
        raise RowError("unparsable", f"partner_m49={partner!r} is not an M49 code as text")
    partner = partner.strip()
    if int(partner) not in RULES.partners():
        raise RowError("unknown_partner", f"partner_m49={partner!r} is not an M49 code")
    if int(partner) == RULES.reporter:
        raise RowError("self_partner", f"partner_m49 is the reporter itself ({RULES.reporter})")
    numbers = RULES.numbers(item, RULES.decimals)
    mode = item["transport_mode"]
    if mode not in RULES.one_of["transport_mode"]:
        raise RowError("unparsable", f"transport_mode={mode!r} is not a known mode")
    regime = item["customs_regime"]
    if isinstance(regime, (dict, list, bool)):
        raise RowError("unparsable", f"customs_regime={regime!r} is not a code")
    item_period = item.get(RULES.period[0], page_period)
    if item_period is not None and item_period != period_month:
        raise RowError("period_mismatch", f"period={item_period!r} differs from the unit "
                                          f"{period_month}")
    supp_unit = item.get("supp_unit")
    return {"flow": flow, "tn_ved": tn_ved, "partner_m49": partner,
            "partner_name_ru": item.get("partner_name_ru"), **numbers,
            "supp_unit": str(supp_unit) if supp_unit is not None else None,
            "transport_mode": mode, "customs_regime": str(regime).strip()}


# ------------------------------------------------------------------------------ fetch

class RevisionChanged(Exception):
    """The period was re-published while paging: restart it."""


@dataclass
class KzFetch:
    period_month: str
    published: bool
    revision: int | None = None
    status: str | None = None
    pages: list[dict[str, Any]] = field(default_factory=list)
    payloads: list[bytes] = field(default_factory=list)
    urls: list[str] = field(default_factory=list)

    @property
    def sha256(self) -> str:
        digest = hashlib.sha256()
        for payload in self.payloads:
            digest.update(hashlib.sha256(payload).digest())
        return digest.hexdigest()


def list_periods(client: FeedClient) -> list[dict[str, Any]]:
    """The /periods listing, each entry checked (period, revision, records)."""
    response = client.get(PERIODS_PATH, validate=json_body, unit="periods")
    body = response.parsed
    listing = validated(KzPeriods, body, FEED, "periods", "listing")
    return [dict(raw, **entry.model_dump())
            for raw, entry in zip(body["periods"], listing.periods, strict=True)]


def period_entry(client: FeedClient, period_month: str) -> dict[str, Any] | None:
    return next((p for p in list_periods(client) if p.get("period") == period_month), None)


def max_pages(records: int | None) -> int:
    """The most pages a period of ``records`` items may take."""
    if records is None:
        return MAX_PAGES
    return min(-(-max(records, 0) // PAGE_SIZE) + PAGE_MARGIN, MAX_PAGES)


def fetch_period(client: FeedClient, period_month: str, *, max_restarts: int = 3,
                 on_page=None, records: int | None = None) -> KzFetch:
    """All pages of one period at one revision; restarts on ``409 revision_changed``
    (or a page of another revision). ``on_page(fetch, page_no, payload, url)`` lands
    each page as it arrives.

    Paging is bounded: a cursor seen before in this pass, or more pages than
    ``records`` (the /periods count) allow (:func:`max_pages`), is a FeedError."""
    limit = max_pages(records)
    for attempt in range(1, max_restarts + 2):
        fetch = KzFetch(period_month, published=True)
        cursor: str | None = None
        seen: set[str] = set()
        try:
            for page_no in range(1, limit + 2):
                if page_no > limit:
                    raise FeedError(FEED, period_month, f"page {page_no}",
                                    f"still a next_cursor after {limit} pages (records "
                                    f"{records}, page_size {PAGE_SIZE}): paging does not end")
                params = {"period": period_month, "page_size": str(PAGE_SIZE)}
                if cursor:
                    params["cursor"] = cursor
                try:
                    response = client.get(TRADE_PATH, params=params, validate=json_body,
                                          unit=f"{period_month} page {len(fetch.pages) + 1}")
                except FeedHTTPError as exc:
                    if exc.status == 404:
                        return KzFetch(period_month, published=False)
                    if exc.status == 409:
                        raise RevisionChanged(str(exc)) from exc
                    raise
                page = response.parsed
                shape = validated(KzPage, page, FEED, period_month, f"page {page_no}")
                revision = shape.revision
                if fetch.revision is None:
                    fetch.revision, fetch.status = revision, str(page.get("status"))
                elif revision != fetch.revision:
                    raise RevisionChanged(f"page revision {revision} != {fetch.revision}")
                fetch.pages.append(page)
                fetch.payloads.append(response.content)
                fetch.urls.append(response.url)
                if on_page is not None:
                    on_page(fetch, len(fetch.pages), response.content, response.url)
                cursor = shape.next_cursor
                if not cursor:
                    # The newest page's status is the unit's (status comes from the newest version).
                    fetch.status = str(page.get("status", fetch.status))
                    return fetch
                remember_page_token(seen, cursor, "next_cursor", FEED, period_month, page_no)
            raise AssertionError("unreachable")
        except RevisionChanged as exc:
            log.warning("%s %s: revision changed while paging (%s), restart %d",
                        FEED, period_month, exc, attempt)
    raise RuntimeError(f"{FEED} {period_month}: revision kept changing over "
                       f"{max_restarts} restarts")

