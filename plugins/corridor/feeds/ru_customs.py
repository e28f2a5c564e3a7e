"""ru_customs: Russian customs monthly CSV (windows-1251, ';', decimal comma, CRLF)."""

from __future__ import annotations

import csv
import hashlib
import io
import logging
from dataclasses import dataclass
from typing import Any

from corridor.feeds.common import (
    ParseResult,
    RowError,
    check_code,
    duplicate_keys,
    require,
    to_decimal,
)
from corridor.feeds.http import FeedClient, FeedHTTPError, json_body
from corridor.reference import iso2_codes

log = logging.getLogger(__name__)

FEED = "ru_customs"
ENCODING = "windows-1251"
REQUIRED = ("napr", "period", "strana", "tnved", "stoim", "netto")
FLOWS = ("ИМ", "ЭК")
REPORTER_ISO2 = "RU"
RELEASES_PATH = "/ru-customs/v1/releases"


def parse_csv(payload: bytes, period_month: str, revision: int, status: str) -> ParseResult:
    """Accepted rows (dicts of ``raw.ru_customs_rows`` columns) and rejections of one file."""
    result = ParseResult(FEED, period_month)
    text = payload.decode(ENCODING)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=";")
    try:
        header = [name.strip().lower() for name in next(reader)]
    except StopIteration:
        raise ValueError(f"{FEED} {period_month}: empty file") from None
    missing = [name for name in REQUIRED if name not in header]
    if missing:
        raise ValueError(f"{FEED} {period_month}: header lacks required columns {missing}")
    index = {name: position for position, name in enumerate(header)}
    expected_period = f"{period_month[5:7]}/{period_month[:4]}"

    parsed: list[tuple[int, list[str], dict[str, Any] | None, RowError | None, Any]] = []
    row_number = 0
    for fields in reader:
        if not fields or all(not field.strip() for field in fields):
            continue  # blank line (e.g. a trailing CRLF)
        row_number += 1
        record = {name: (fields[pos].strip() if pos < len(fields) else None)
                  for name, pos in index.items()}
        key = None
        if all(record.get(name) for name in ("napr", "strana", "tnved")):
            key = (record["napr"], record["strana"].upper(), record["tnved"],
                   record.get("region") or "")
        try:
            row = _row(record, expected_period)
            error = None
        except RowError as exc:
            row, error = None, exc
        if row is not None:
            row.update(period_month=period_month, revision=revision, status=status,
                       row_number=row_number)
        parsed.append((row_number, fields, row, error, key))

    duplicates = duplicate_keys([key for *_, key in parsed])
    for row_number, fields, row, error, key in parsed:
        if error is None and key in duplicates:
            error = RowError("duplicate_key", f"key (napr, strana, tnved, region)={key} "
                                              "occurs more than once in the file")
        if error is not None:
            result.reject(row_number, error, ";".join(fields))
        else:
            result.rows.append(row)
    return result


def _row(record: dict[str, str | None], expected_period: str) -> dict[str, Any]:
    for name in REQUIRED:
        require(record, name)
    napr = record["napr"]
    if napr not in FLOWS:
        raise RowError("unparsable", f"napr={napr!r} is not ИМ or ЭК")
    period = record["period"]
    month, _, year = period.partition("/")
    if not (len(month) == 2 and month.isdigit() and len(year) == 4 and year.isdigit()
            and 1 <= int(month) <= 12):
        raise RowError("unparsable", f"period={period!r} is not MM/YYYY")
    strana = record["strana"].upper()
    if strana not in iso2_codes():
        raise RowError("unknown_partner", f"strana={strana!r} is not an ISO alpha-2 code")
    if strana == REPORTER_ISO2:
        raise RowError("self_partner", "strana is the reporter itself (RU)")
    tnved = check_code(record["tnved"], "tnved", 10)
    stoim = to_decimal(record["stoim"], "stoim", comma=True)
    netto = to_decimal(record["netto"], "netto", comma=True)
    kol = to_decimal(record.get("kol"), "kol", comma=True, optional=True)
    if period != expected_period:
        raise RowError("period_mismatch", f"period={period!r} differs from the file's month "
                                          f"{expected_period}")
    return {"napr": napr, "period": period, "strana": strana, "tnved": tnved,
            "edizm": record.get("edizm") or None, "stoim": stoim, "netto": netto, "kol": kol,
            "region": record.get("region") or None, "region_s": record.get("region_s") or None}


# ------------------------------------------------------------------------------ fetch

@dataclass
class RuFetch:
    period_month: str
    released: bool
    revision: int | None = None
    status: str | None = None
    sha256: str | None = None
    payload: bytes | None = None  # None with released=True: 304, the held bytes are current
    url: str | None = None
    not_modified: bool = False


def list_releases(client: FeedClient) -> list[dict[str, Any]]:
    response = client.get(RELEASES_PATH, validate=json_body)
    return list(response.parsed.get("releases") or [])


def fetch_period(client: FeedClient, period_month: str, *, held_sha256: str | None = None,
                 held_status: str | None = None, max_attempts: int = 3) -> RuFetch:
    """The CSV of ``period_month`` whose sha256 equals its release entry.

    ``held_sha256``/``held_status``: what we already hold; the sha is sent as
    ``If-None-Match`` when both are the entry's, so an unchanged file costs a 304.
    A body with another sha means the URL
    moved to a newer revision between the listing and the download: list again.
    """
    for attempt in range(1, max_attempts + 1):
        entry = next((e for e in list_releases(client) if e.get("period") == period_month),
                     None)
        if entry is None:
            return RuFetch(period_month, released=False)
        sha = str(entry["sha256"]).lower()
        revision, status = int(entry["revision"]), str(entry["status"])
        path = entry.get("path") or f"/ru-customs/v1/data/{period_month}.csv"
        held = held_sha256 == sha and held_status == status
        headers = {"If-None-Match": f'"{sha}"'} if held else None
        try:
            response = client.get(path, headers=headers, ok_statuses=(200, 304))
        except FeedHTTPError as exc:
            if exc.status == 404:
                return RuFetch(period_month, released=False)
            raise
        if response.status == 304:
            return RuFetch(period_month, True, revision, status, sha, None, response.url,
                           not_modified=True)
        got = hashlib.sha256(response.content).hexdigest()
        if got == sha:
            return RuFetch(period_month, True, revision, status, sha, response.content,
                           response.url)
        log.warning("%s %s: downloaded sha256 %s is not the release entry's %s "
                    "(attempt %d): listing again", FEED, period_month, got[:12], sha[:12],
                    attempt)
    raise RuntimeError(f"{FEED} {period_month}: no download matched its release entry's "
                       f"sha256 after {max_attempts} listings")
