"""ports: Caspian port operators' vessel calls (JSON API), incremental by ``updated_at``."""

from __future__ import annotations

import json
import logging
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import quote

from corridor.feeds.common import (
    FeedError,
    RowError,
    check_storable,
    make_rejection,
    remember_page_token,
)
from corridor.feeds.http import FeedClient, json_body
from corridor.feeds.rules import RowRules
from corridor.feeds.shapes import PortsPage, validated

log = logging.getLogger(__name__)

FEED = "ports"
CALLS_PATH = "/ports/v1/vessel-calls"
PAGE_LIMIT = 500
STATUSES = ("scheduled", "at_berth", "departed", "cancelled")
OPERATIONS = ("load", "discharge")
CARGO_TYPES = ("container", "dry_bulk", "liquid_bulk", "general", "ro_ro")
#: The rules of a call (:func:`_call`) and of one of its cargo lines (:func:`_cargo`, and
#: the simulator's malformed rows). A call's versions are no duplicates: the highest wins.
CALL_RULES = RowRules(
    required=("call_id", "port", "version", "updated_at", "status"),
    integers=("version",),
    one_of={"status": STATUSES},
)
RULES = RowRules(
    required=("operation", "cargo_type", "tonnes"),
    integers=("teu",), decimals=("tonnes",), optional=("teu",),
    codes={"hs_chapter": 2},
    one_of={"operation": OPERATIONS, "cargo_type": CARGO_TYPES},
)
#: Pages one sync of a port may take (``CORRIDOR_PORTS_MAX_PAGES``): more is an error.
MAX_PAGES = 10_000
#: First request of a port never synced: everything.
INITIAL_HIGH_WATER_MARK = "1970-01-01T00:00:00+00:00"


def parse_instant(value: Any, name: str, *, optional: bool = False) -> datetime | None:
    if value is None or value == "":
        if optional:
            return None
        raise RowError("missing_field", f"required field {name!r} is missing")
    try:
        instant = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        raise RowError("unparsable", f"{name}={value!r} is not ISO-8601") from None
    if instant.tzinfo is None:
        raise RowError("unparsable", f"{name}={value!r} has no UTC offset")
    return instant


@dataclass
class PortsParse:
    """Highest version per call, its cargo lines, rejections, the newest ``updated_at``."""

    port: str
    calls: list[dict[str, Any]] = field(default_factory=list)
    cargo_lines: list[dict[str, Any]] = field(default_factory=list)
    rejections: list = field(default_factory=list)
    max_updated_at: str | None = None
    records_seen: int = 0


def parse_calls(records: Iterable[dict[str, Any]], port: str) -> PortsParse:
    """De-duplicate on (call_id, version), keep each call's highest version whatever the
    arrival order, and split it into a ``raw.port_calls`` row and cargo-line rows.
    A cargo line without ``tonnes`` (or otherwise bad) is rejected alone. A record that
    is not an object is a FeedError (the sync fails); a malformed record, or one of
    another port than ``port``, is a rejection with ref :func:`row_ref` (the loader
    keeps it when its version is above the one stored)."""
    out = PortsParse(port)
    best: dict[str, tuple[int, dict[str, Any], dict[str, Any]]] = {}
    newest: datetime | None = None
    for position, record in enumerate(records, start=1):
        if not isinstance(record, dict):
            raise FeedError(FEED, port, f"record {position}",
                            f"a record is an object, not {type(record).__name__}")
        out.records_seen += 1
        raw = json.dumps(record, ensure_ascii=False, default=str)
        call_id = record.get("call_id")
        unit = str(call_id) if call_id else f"{port}:record"
        try:
            call = _call(record, port)
        except RowError as exc:
            ref = (row_ref(call_id, record.get("version")) if call_id
                   else f"{port} updated_at {record.get('updated_at')} record {position}")
            out.rejections.append(make_rejection(FEED, unit, ref,
                                                 exc.reason, exc.message, raw))
            continue
        updated = parse_instant(call["updated_at"], "updated_at")
        if newest is None or updated > newest:
            newest, out.max_updated_at = updated, call["updated_at"]
        current = best.get(call["call_id"])
        if current is None or call["version"] > current[0]:
            best[call["call_id"]] = (call["version"], call, record)
    for version, call, record in best.values():
        out.calls.append(call)
        for line_number, line in enumerate(record.get("cargo") or [], start=1):
            ref = row_ref(call["call_id"], version, line_number)
            try:
                out.cargo_lines.append(_cargo(line, call["call_id"], version, line_number))
            except RowError as exc:
                out.rejections.append(make_rejection(
                    FEED, call["call_id"], ref, exc.reason, exc.message,
                    json.dumps(line, ensure_ascii=False, default=str)))
    return out


def row_ref(call_id: Any, version: Any, line_number: int | None = None) -> str:
    """The ``row_ref`` of a call's rejection: ``<call_id> v<version>[ line <n>]``."""
    ref = f"{call_id} v{version}"
    return ref if line_number is None else f"{ref} line {line_number}"


_REF = re.compile(r" v(-?[0-9]+)(?: line ([0-9]+))?$")


def ref_version(ref: str) -> tuple[int | None, int | None]:
    """(version, cargo line) a :func:`row_ref` names (None where it names none)."""
    found = _REF.search(ref)
    if found is None:
        return None, None
    return int(found[1]), (int(found[2]) if found[2] else None)


def _call(record: dict[str, Any], port: str) -> dict[str, Any]:
    CALL_RULES.require(record)
    for name in ("call_id", "port", "updated_at", "status", "arrived_at", "departed_at",
                 "previous_port", "next_port"):
        check_storable(record.get(name), name)
    if record["port"] != port:
        raise RowError("unparsable", f"port={record['port']!r} is not the port asked for "
                                     f"({port})")
    version = CALL_RULES.numbers(record, CALL_RULES.integers)["version"]
    parse_instant(record["updated_at"], "updated_at")
    parse_instant(record.get("arrived_at"), "arrived_at", optional=True)
    parse_instant(record.get("departed_at"), "departed_at", optional=True)
    if record["status"] not in CALL_RULES.one_of["status"]:
        raise RowError("unparsable", f"status={record['status']!r} is not a call status")
    vessel = record.get("vessel") or {}
    if not isinstance(vessel, dict):
        raise RowError("unparsable", "vessel is not an object")
    for name in ("imo", "name", "flag"):
        check_storable(vessel.get(name), f"vessel.{name}")
    if not isinstance(record.get("cargo") or [], list):
        raise RowError("unparsable", "cargo is not a list")

    def text(value: Any) -> str | None:
        return None if value is None else str(value)

    return {"call_id": str(record["call_id"]), "port": str(record["port"]), "version": version,
            "updated_at": str(record["updated_at"]), "status": record["status"],
            "vessel_imo": text(vessel.get("imo")), "vessel_name": text(vessel.get("name")),
            "vessel_flag": text(vessel.get("flag")), "arrived_at": text(record.get("arrived_at")),
            "departed_at": text(record.get("departed_at")),
            "previous_port": text(record.get("previous_port")),
            "next_port": text(record.get("next_port"))}


def _cargo(line: Any, call_id: str, version: int, line_number: int) -> dict[str, Any]:
    if not isinstance(line, dict):
        raise RowError("unparsable", "cargo line is not an object")
    RULES.require(line)
    for name in ("operation", "cargo_type", "hs_chapter"):
        check_storable(line.get(name), name)
    if line["operation"] not in RULES.one_of["operation"]:
        raise RowError("unparsable", f"operation={line['operation']!r} is not "
                                     f"{'/'.join(RULES.one_of['operation'])}")
    if line["cargo_type"] not in RULES.one_of["cargo_type"]:
        raise RowError("unparsable", f"cargo_type={line['cargo_type']!r} is not known")
    numbers = RULES.numbers(line, (*RULES.decimals, *RULES.integers))
    tonnes, teu = numbers["tonnes"], numbers["teu"]
    chapter = line.get("hs_chapter")
    if chapter is not None:
        chapter = str(chapter).strip()
        if not chapter.isdigit():
            raise RowError("unparsable", f"hs_chapter={chapter!r} is not a digit string")
        if len(chapter) != RULES.codes["hs_chapter"]:
            raise RowError("bad_code_length", f"hs_chapter={chapter!r} is not "
                                              f"{RULES.codes['hs_chapter']} digits")
    return {"call_id": call_id, "version": version, "line_number": line_number,
            "operation": line["operation"], "cargo_type": line["cargo_type"],
            "hs_chapter": chapter, "tonnes": tonnes, "teu": teu}


# ------------------------------------------------------------------------------ fetch

def query_string(port: str, updated_since: str, page_token: str | None) -> str:
    """The query, percent-encoded by hand: a bare ``+`` in the offset would read as a space."""
    params = [("port", port), ("updated_since", updated_since), ("limit", str(PAGE_LIMIT))]
    if page_token:
        params.append(("page_token", page_token))
    return "&".join(f"{name}={quote(value, safe='')}" for name, value in params)


def default_max_pages() -> int:
    value = os.environ.get("CORRIDOR_PORTS_MAX_PAGES")
    return int(value) if value not in (None, "") else MAX_PAGES


def fetch_pages(client: FeedClient, port: str, updated_since: str, *, on_page=None,
                max_pages: int | None = None) -> list[dict[str, Any]]:
    """Every record changed since ``updated_since`` (inclusive), all pages.
    ``on_page(page_no, payload, url)`` lands each page as it arrives. A page of another
    shape, a ``next_page_token`` seen before, or more than ``max_pages`` pages
    (:func:`default_max_pages`) is a FeedError."""
    limit = default_max_pages() if max_pages is None else max_pages
    records: list[dict[str, Any]] = []
    token: str | None = None
    seen: set[str] = set()
    for page_no in range(1, limit + 1):
        response = client.get(CALLS_PATH, params=query_string(port, updated_since, token),
                              validate=json_body, unit=f"{port} page {page_no}")
        if on_page is not None:
            on_page(page_no, response.content, response.url)
        body = response.parsed
        shape = validated(PortsPage, body, FEED, port, f"page {page_no}")
        for index, record in enumerate(body["data"], start=1):
            if not isinstance(record, dict):
                raise FeedError(FEED, port, f"page {page_no} record {index}",
                                f"a record is an object, not {type(record).__name__}")
        records.extend(body["data"])
        token = shape.next_page_token
        if not token:
            return records
        remember_page_token(seen, token, "next_page_token", FEED, port, page_no)
    raise FeedError(FEED, port, f"page {limit}",
                    f"still a next_page_token after {limit} pages (CORRIDOR_PORTS_MAX_PAGES)")
