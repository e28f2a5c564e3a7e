"""comtrade: partner (mirror) data in the UN Comtrade API v1 format.

Every row goes to raw (breakdowns and aggregates too); ``is_counted_leaf`` marks the
rows that count (motCode 0, customsCode C00, partner2Code 0, aggrLevel 6): summing
the others with the leaves double-counts. The same client works against the real
``comtradeapi.un.org`` (same paths and fields; key in ``Ocp-Apim-Subscription-Key``).
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass, field
from typing import Any, Iterable

from corridor.feeds.common import (
    ParseResult,
    RowError,
    duplicate_keys,
    require,
    to_decimal,
    to_int,
)
from corridor.feeds.http import FeedClient, IncompleteBody, json_body

log = logging.getLogger(__name__)

FEED = "comtrade"
DATA_PATH = "/data/v1/get/C/M/HS"
MAX_RECORDS = 100_000  # a call returns at most this many and does not say it cut
PARTNERS = (398, 643)
FLOWS = ("M", "X")
KEY_FIELDS = ("reporterCode", "period", "flowCode", "partnerCode", "partner2Code", "cmdCode",
              "motCode", "customsCode")


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
    duplicates = duplicate_keys([key for *_, key in parsed])
    for row_number, record, row, error, key in parsed:
        if error is None and key in duplicates:
            error = RowError("duplicate_key", f"key {dict(zip(KEY_FIELDS, key))} occurs more "
                                              "than once")
        if error is not None:
            ref = f"{row_number}" if key is None else f"{row_number} {'/'.join(map(str, key))}"
            result.reject(ref, error, json.dumps(record, ensure_ascii=False, default=str))
        else:
            result.rows.append(row)
    return result


def _key(record: dict[str, Any]) -> tuple | None:
    try:
        return (int(record["reporterCode"]), str(record["period"]), str(record["flowCode"]),
                int(record["partnerCode"]), int(record["partner2Code"]), str(record["cmdCode"]),
                int(record["motCode"]), str(record["customsCode"]))
    except (KeyError, TypeError, ValueError):
        return None


def _row(record: dict[str, Any], reporter_code: int, period_month: str,
         partners: set[int] | None) -> dict[str, Any]:
    for name in (*KEY_FIELDS, "primaryValue"):
        require(record, name)
    reporter = to_int(record["reporterCode"], "reporterCode")
    partner = to_int(record["partnerCode"], "partnerCode")
    partner2 = to_int(record["partner2Code"], "partner2Code")
    mot = to_int(record["motCode"], "motCode")
    aggr_level = to_int(record.get("aggrLevel"), "aggrLevel", optional=True)
    flow = str(record["flowCode"])
    cmd = str(record["cmdCode"]).strip()
    if cmd != "TOTAL":
        if not cmd.isdigit():
            raise RowError("unparsable", f"cmdCode={cmd!r} is not a digit string")
        expected = (aggr_level,) if aggr_level in (2, 4, 6) else (2, 4, 6)
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
    values = {name: to_decimal(record.get(name), name, optional=True)
              for name in ("cifvalue", "fobvalue", "netWgt")}
    primary = to_decimal(record["primaryValue"], "primaryValue")
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
            "primary_value": primary, "net_wgt": values["netWgt"],
            "is_counted_leaf": is_counted_leaf(record)}


# ------------------------------------------------------------------------------ fetch

@dataclass
class ComtradeFetch:
    reporter_code: int
    period_month: str
    has_reported: bool
    probe_rows: int
    records: list[dict[str, Any]] = field(default_factory=list)
    payloads: list[tuple[str, str, bytes]] = field(default_factory=list)  # (part, url, bytes)

    @property
    def sha256(self) -> str:
        digest = hashlib.sha256()
        for part, _url, payload in self.payloads:
            digest.update(part.encode() + b"\0" + hashlib.sha256(payload).digest())
        return digest.hexdigest()


def _comtrade_json(response) -> dict[str, Any]:
    body = json_body(response)
    if not isinstance(body, dict) or "data" not in body:
        raise IncompleteBody("not a Comtrade data response")
    if body.get("error"):
        raise RuntimeError(f"{FEED}: API error {body['error']!r}")
    return body


def _query(client: FeedClient, params: dict[str, str]) -> tuple[dict[str, Any], str, bytes]:
    response = client.get(DATA_PATH, params=params, validate=_comtrade_json)
    return response.parsed, response.url, response.content


def fetch_reporter_month(client: FeedClient, reporter_code: int, period_month: str
                         ) -> ComtradeFetch:
    """The probe, then (if j reported t) the data query, split while truncated."""
    period = comtrade_period(period_month)
    base = {"reporterCode": str(reporter_code), "period": period}
    probe, url, payload = _query(client, {**base, "partnerCode": "0", "cmdCode": "TOTAL"})
    probe_rows = len(probe.get("data") or [])
    has_reported = int(probe.get("count") or 0) > 0 or probe_rows > 0
    fetch = ComtradeFetch(reporter_code, period_month, has_reported, probe_rows,
                          payloads=[("probe", url, payload)])
    if not has_reported:
        return fetch
    data_params = {**base, "motCode": "0", "customsCode": "C00", "partner2Code": "0"}
    # Split order when a call hits the 100 000-record cap: per partner, then per flow.
    _fetch_split(client, fetch, data_params, list(PARTNERS), list(FLOWS))
    return fetch


def _fetch_split(client: FeedClient, fetch: ComtradeFetch, base: dict[str, str],
                 partners: list[int], flows: list[str]) -> None:
    params = {**base, "partnerCode": ",".join(map(str, partners)),
              "flowCode": ",".join(flows)}
    body, url, payload = _query(client, params)
    count = int(body.get("count") or 0)
    if count < MAX_RECORDS and len(body.get("data") or []) < MAX_RECORDS:
        part = f"data-{'_'.join(map(str, partners))}-{'_'.join(flows)}"
        fetch.payloads.append((part, url, payload))
        fetch.records.extend(body.get("data") or [])
        return
    log.info("%s %s:%s: %d records for partners %s flows %s: truncated, splitting", FEED,
             fetch.reporter_code, fetch.period_month, count, partners, flows)
    if len(partners) > 1:
        for partner in partners:
            _fetch_split(client, fetch, base, [partner], flows)
    elif len(flows) > 1:
        for flow in flows:
            _fetch_split(client, fetch, base, partners, [flow])
    else:
        # One reporter, month, partner and flow with mot/customs/partner2 totals holds at
        # most a few thousand HS6 lines: a full page here means the source misbehaves.
        # (A per-chapter cmdCode split would return chapter aggregates, not leaves.)
        raise RuntimeError(f"{FEED} {fetch.reporter_code}:{fetch.period_month}: still "
                           f"{count} records for partner {partners[0]}, flow {flows[0]}")
