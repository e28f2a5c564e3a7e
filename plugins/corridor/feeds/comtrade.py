"""comtrade: partner (mirror) data in the UN Comtrade API v1 format.

Every row goes to raw (breakdowns and aggregates too); ``is_counted_leaf`` marks the
rows that count (motCode 0, customsCode C00, partner2Code 0, aggrLevel 6): summing
the others with the leaves double-counts. The same client works against the real
``comtradeapi.un.org`` (same paths and fields; key in ``Ocp-Apim-Subscription-Key``).
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import requests

from corridor.feeds.common import (
    ParseResult,
    RowError,
    check_storable_fields,
    rejecting_duplicates,
)
from corridor.feeds.http import (
    RETRY_STATUSES,
    FeedClient,
    FeedHTTPError,
    IncompleteBody,
    default_attempts,
    default_backoff,
    json_body,
    max_retry_after,
)
from corridor.feeds.rules import RowRules
from corridor.feeds.shapes import (
    ComtradeAvailability,
    ComtradeAvailabilityRow,
    ComtradeData,
    validated,
)

log = logging.getLogger(__name__)

FEED = "comtrade"
DATA_PATH = "/data/v1/get/C/M/HS"
AVAILABILITY_PATH = "/data/v1/getDa/C/M/HS"
MAX_RECORDS = 100_000  # the free plan's cap: a call returns at most this many, silently
PARTNERS = (398, 643)
FLOWS = ("M", "X")
KEY_FIELDS = ("reporterCode", "period", "flowCode", "partnerCode", "partner2Code", "cmdCode",
              "motCode", "customsCode")
#: The row rules, read by :func:`_row` and the simulator. A cmdCode has as many digits as
#: its aggrLevel says ("TOTAL" is none); the partners are the unit's (``parse_data``).
RULES = RowRules(
    required=(*KEY_FIELDS, "primaryValue"),
    integers=("reporterCode", "partnerCode", "partner2Code", "motCode", "aggrLevel"),
    decimals=("cifvalue", "fobvalue", "netWgt", "primaryValue"),
    optional=("aggrLevel", "cifvalue", "fobvalue", "netWgt"),
    codes={"cmdCode": (2, 4, 6)},
    partner=("partnerCode",), partners=lambda: PARTNERS, reporter_field="reporterCode",
    period=("reporterCode", "period"),
    key=KEY_FIELDS,
)


def unit_of(reporter_code: int, period_month: str) -> str:
    return f"{reporter_code}:{period_month}"


def comtrade_period(period_month: str) -> str:
    """'2024-01' → '202401' (an annual '2010' stays '2010')."""
    return period_month.replace("-", "")


def is_counted_leaf(record: dict[str, Any]) -> bool:
    try:
        return (int(record.get("motCode")) == 0 and record.get("customsCode") == "C00"
                and int(record.get("partner2Code")) == 0 and int(record.get("aggrLevel")) == 6)
    except (TypeError, ValueError):
        return False


def parse_data(records: Iterable[dict[str, Any]], reporter_code: int, period_month: str, *,
               partners: Iterable[int] | None = PARTNERS) -> ParseResult:
    """Records of the data query(ies) of one reporter-month → ``raw.comtrade_rows`` dicts.

    ``partners``: the partner codes the unit may hold (None: any).
    """
    unit = unit_of(reporter_code, period_month)
    result = ParseResult(FEED, unit)
    allowed = set(partners) if partners is not None else None
    parsed = []
    for row_number, record in enumerate(records, start=1):
        key = None
        try:
            if not isinstance(record, dict):
                raise RowError("unparsable", "record is not an object")
            key = _key(record)
            row = _row(record, reporter_code, period_month, allowed)
            row["row_number"] = row_number
            error = None
        except RowError as exc:
            row, error = None, exc
        parsed.append((row_number, record, row, error, key))
    for row_number, record, row, error, key in rejecting_duplicates(parsed, _duplicate_message):
        if error is not None:
            ref = f"{row_number}" if key is None else f"{row_number} {'/'.join(map(str, key))}"
            result.reject(ref, error, json.dumps(record, ensure_ascii=False, default=str))
        else:
            result.rows.append(row)
    return result


def _duplicate_message(key: tuple) -> str:
    return f"key {dict(zip(KEY_FIELDS, key, strict=True))} occurs more than once"


def _key(record: dict[str, Any]) -> tuple | None:
    try:
        return (int(record["reporterCode"]), str(record["period"]), str(record["flowCode"]),
                int(record["partnerCode"]), int(record["partner2Code"]), str(record["cmdCode"]),
                int(record["motCode"]), str(record["customsCode"]))
    except (KeyError, TypeError, ValueError):
        return None


def _row(record: dict[str, Any], reporter_code: int, period_month: str,
         partners: set[int] | None) -> dict[str, Any]:
    RULES.require(record)
    check_storable_fields(record, KEY_FIELDS)
    ints = RULES.numbers(record, RULES.integers)
    reporter, partner, partner2 = ints["reporterCode"], ints["partnerCode"], ints["partner2Code"]
    mot, aggr_level = ints["motCode"], ints["aggrLevel"]
    flow = str(record["flowCode"])
    cmd = str(record["cmdCode"]).strip()
    if cmd != "TOTAL":
        if not cmd.isdigit():
            raise RowError("unparsable", f"cmdCode={cmd!r} is not a digit string")
        lengths = RULES.codes["cmdCode"]
        expected = (aggr_level,) if aggr_level in lengths else lengths
        if len(cmd) not in expected:
            raise RowError("bad_code_length", f"cmdCode={cmd!r} has {len(cmd)} digits "
                                              f"(aggrLevel {aggr_level})")
    # Comtrade area codes are M49-based but not M49 (842 USA, 699 India): the unit's
    # partner list (398, 643) is the reference here, compared as integers.
    if partner == reporter:
        raise RowError("self_partner", f"partnerCode={partner} is the reporter itself")
    if partners is not None and partner not in partners:
        raise RowError("unknown_partner", f"partnerCode={partner} is not one of "
                                          f"{sorted(partners)}")
    values = RULES.numbers(record, RULES.decimals)
    if reporter != reporter_code:
        raise RowError("period_mismatch", f"reporterCode={reporter} is not the unit's "
                                          f"{reporter_code}")
    if str(record["period"]) != comtrade_period(period_month):
        raise RowError("period_mismatch", f"period={record['period']!r} differs from the "
                                          f"unit {period_month}")
    is_leaf = record.get("isLeaf")
    return {"reporter_code": reporter, "period_month": period_month, "flow_code": flow,
            "partner_code": partner, "partner2_code": partner2, "cmd_code": cmd,
            "aggr_level": aggr_level, "is_leaf": bool(is_leaf) if is_leaf is not None else None,
            "mot_code": mot, "customs_code": str(record["customsCode"]),
            "cifvalue": values["cifvalue"], "fobvalue": values["fobvalue"],
            "primary_value": values["primaryValue"], "net_wgt": values["netWgt"],
            "is_counted_leaf": is_counted_leaf(record)}


# ------------------------------------------------------------------------------ fetch
#
# What is fetched is decided by the availability call (getDa): one row per published
# (reporter, month) with its datasetChecksum, the unit's version. A unit whose checksum
# equals the one loaded is not fetched again; a (reporter, month) absent from the listing
# has not been reported (spec/feeds.md) and costs no call at all. The changed units of a
# month are fetched together, several reporters per call, packed under the record cap.
# Every call counts against the key's daily budget (failed ones too), so this feed's
# session retries nothing by itself: ``Calls`` counts each attempt before making it.

@dataclass(frozen=True)
class Published:
    """One row of the availability listing: a unit the reporter has published."""

    reporter_code: int
    period_month: str
    total_records: int
    checksum: str

    @property
    def unit(self) -> str:
        return unit_of(self.reporter_code, self.period_month)


class QuotaExhausted(Exception):
    """No Comtrade call may be made now: the API's quota answer, or Corridor's own budget.
    What was not fetched is fetched by a later run; nothing waits for it."""


def _comtrade_json(response) -> Any:
    """The parsed body (inside the retry: a cut body does not parse). Its shape is
    checked by the caller, which knows the units (:mod:`corridor.feeds.shapes`): a
    whole body of the wrong shape is no transient fault, and a retry costs a call."""
    body = json_body(response)
    if isinstance(body, dict) and body.get("error"):
        raise RuntimeError(f"{FEED}: API error {body['error']!r}")
    return body


def is_quota_answer(error: FeedHTTPError) -> bool:
    """The daily quota 429 ("Out of call volume quota"), not the short rate limit."""
    return error.status == 429 and "call volume quota" in (error.body or "").lower()


class Calls:
    """Every Comtrade call goes through here.

    ``take_call()`` is called before each HTTP request (retries included) and raises
    :class:`QuotaExhausted` when the day's budget is spent. Transient answers (the short
    ``429``, 5xx, a dropped or cut body) are retried with waits capped at
    :func:`corridor.feeds.http.max_retry_after`; the quota answer raises at once.
    """

    def __init__(self, client: FeedClient, take_call: Callable[[], None], *,
                 attempts: int | None = None, backoff: float | None = None,
                 on_quota: Callable[[float | None], None] | None = None) -> None:
        self.client = client
        self.take_call = take_call
        self.attempts = max(attempts or default_attempts(), 1)
        self.backoff = default_backoff() if backoff is None else backoff
        self.on_quota = on_quota
        self.made = 0

    def get(self, path: str, params: dict[str, str], *, unit: str | None = None
            ) -> tuple[dict[str, Any], str, bytes]:
        """One call's parsed body, URL and bytes. A redirect (:class:`FeedRedirect`) or a
        body over the cap (:class:`BodyTooLarge`) fails at once: one call counted."""
        for attempt in range(1, self.attempts + 1):
            self.take_call()
            self.made += 1
            try:
                response = self.client.get(path, params=params, validate=_comtrade_json,
                                           unit=unit)
                return response.parsed, response.url, response.content
            except FeedHTTPError as exc:
                if is_quota_answer(exc):
                    retry_after = _seconds(exc.headers.get("Retry-After"))
                    if self.on_quota is not None:
                        self.on_quota(retry_after)
                    raise QuotaExhausted(f"{FEED}: the API's call quota is spent "
                                         f"(Retry-After {retry_after} s)") from exc
                if exc.status not in RETRY_STATUSES or attempt == self.attempts:
                    raise
                wait = _seconds(exc.headers.get("Retry-After"))
                error: Exception = exc
            except (requests.ConnectionError, requests.Timeout,
                    requests.exceptions.ChunkedEncodingError, IncompleteBody) as exc:
                if attempt == self.attempts:
                    raise
                wait, error = None, exc
            if wait is None or wait < 0:
                wait = self.backoff * 2 ** (attempt - 1)
            wait = min(wait, max_retry_after())
            log.warning("%s: GET %s failed (%s), retry %d in %.1f s", FEED, path,
                        type(error).__name__, attempt, wait)
            time.sleep(wait)
        raise AssertionError("unreachable")


def _seconds(value: str | None) -> float | None:
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


def availability(calls: Calls, reporters: Iterable[int], periods: Iterable[str]
                 ) -> tuple[dict[tuple[int, str], Published], str, bytes]:
    """The units the reporters have published for the months: one getDa call.

    Returns the listing by (reporter, month) and the call's URL and bytes (to land).
    """
    wanted = {comtrade_period(p): p for p in periods}
    params = {"reporterCode": ",".join(str(r) for r in sorted(set(reporters))),
              "period": ",".join(sorted(wanted))}
    body, url, payload = calls.get(AVAILABILITY_PATH, params, unit="availability")
    rows = validated(ComtradeAvailability, body, FEED, "availability", "listing").data
    listing: dict[tuple[int, str], Published] = {}
    for position, row in enumerate(rows, start=1):
        unit = "availability"
        if isinstance(row, dict) and row.get("reporterCode") is not None:
            unit = f"{row.get('reporterCode')}:{row.get('period')}"
        checked = validated(ComtradeAvailabilityRow, row, FEED, unit,
                            f"availability row {position}")
        reporter, period = checked.reporterCode, str(checked.period)
        published = Published(reporter, wanted.get(period, period), checked.totalRecords,
                              checked.datasetChecksum)
        if period in wanted:
            listing[(reporter, published.period_month)] = published
    return listing, url, payload


def pack(units: Sequence[Published], record_cap: int,
         estimate: Callable[[Published], int] | None = None) -> list[list[Published]]:
    """Units of one month in calls of several reporters, each call's records (estimated)
    under the cap. ``estimate``: a unit's expected records (default: its totalRecords, an
    upper bound of what the filtered data query returns)."""
    estimate = estimate or (lambda unit: unit.total_records)
    batches: list[list[Published]] = []
    size = 0
    for unit in sorted(units, key=lambda u: u.reporter_code):
        records = max(min(estimate(unit), record_cap), 1)
        if batches and size + records < record_cap:
            batches[-1].append(unit)
            size += records
        else:
            batches.append([unit])
            size = records
    return batches


@dataclass
class BatchFetch:
    """The data calls of one batch: each reporter's records, and every payload to land."""

    period_month: str
    records: dict[int, list[dict[str, Any]]] = field(default_factory=dict)
    payloads: list[tuple[str, str, bytes]] = field(default_factory=list)  # (part, url, bytes)
    #: The reporters each payload's call asked for (whose records it may hold).
    call_reporters: list[list[int]] = field(default_factory=list)


def fetch_batch(calls: Calls, period_month: str, reporters: Sequence[int], *,
                record_cap: int = MAX_RECORDS) -> BatchFetch:
    """The data of several reporters for one month, split while a call is truncated
    (``count`` = cap): by reporter, then per partner, then per flow."""
    fetch = BatchFetch(period_month, {reporter: [] for reporter in reporters})
    base = {"period": comtrade_period(period_month), "motCode": "0", "customsCode": "C00",
            "partner2Code": "0"}
    _fetch_split(calls, fetch, base, list(reporters), list(PARTNERS), list(FLOWS), record_cap)
    return fetch


def _fetch_split(calls: Calls, fetch: BatchFetch, base: dict[str, str], reporters: list[int],
                 partners: list[int], flows: list[str], record_cap: int) -> None:
    params = {**base, "reporterCode": ",".join(map(str, reporters)),
              "partnerCode": ",".join(map(str, partners)), "flowCode": ",".join(flows)}
    part = (f"data-r{'_'.join(map(str, reporters))}-p{'_'.join(map(str, partners))}"
            f"-f{'_'.join(flows)}")
    units = ",".join(unit_of(reporter, fetch.period_month) for reporter in reporters)
    body, url, payload = calls.get(DATA_PATH, params, unit=f"{fetch.period_month} {part}")
    shape = validated(ComtradeData, body, FEED, units, f"call {part}")
    data = body["data"]
    if int(shape.count or 0) < record_cap and len(data) < record_cap:
        fetch.payloads.append((part, url, payload))
        fetch.call_reporters.append(list(reporters))
        for record in data:
            fetch.records[reporter_of(record, reporters)].append(record)
        return
    log.info("%s %s: %d records for reporters %s partners %s flows %s: truncated, "
             "splitting", FEED, fetch.period_month, len(data), reporters, partners, flows)
    if len(reporters) > 1:
        half = len(reporters) // 2
        for group in (reporters[:half], reporters[half:]):
            _fetch_split(calls, fetch, base, group, partners, flows, record_cap)
    elif len(partners) > 1:
        for partner in partners:
            _fetch_split(calls, fetch, base, reporters, [partner], flows, record_cap)
    elif len(flows) > 1:
        for flow in flows:
            _fetch_split(calls, fetch, base, reporters, partners, [flow], record_cap)
    else:
        # One reporter, month, partner and flow with mot/customs/partner2 totals holds at
        # most a few thousand HS6 lines: a full page here means the source misbehaves.
        # (A per-chapter cmdCode split would return chapter aggregates, not leaves.)
        raise RuntimeError(f"{FEED} {reporters[0]}:{fetch.period_month}: still "
                           f"{len(data)} records for partner {partners[0]}, flow {flows[0]}")


def reporter_of(record: Any, reporters: list[int]) -> int:
    """The unit a record of a several-reporter answer belongs to. A record naming no
    reporter of the call goes to the call's first one, whose parse rejects it."""
    try:
        reporter = int(record["reporterCode"])
    except (KeyError, TypeError, ValueError):
        return reporters[0]
    return reporter if reporter in reporters else reporters[0]
