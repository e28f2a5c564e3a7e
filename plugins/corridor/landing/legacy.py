"""The completed fetches of file rows landed before the manifest recorded fetches.

Those rows carry no ``fetch`` id and no fetch row names them (:mod:`corridor.landing`),
so which of them made a completed fetch is derived, once, the way replay derived it
then: a body without part is a whole fetch (ru_customs, rail); kz_customs and ports
pages run from ``p00001`` until a page hands out no cursor; Comtrade's units are its
``completed.jsonl`` lines (written after each unit's load). Zones landed since go
through the fetch rows only; a zone landed partly before and partly after is read both
ways, the old rows first (the manifest is append-only).
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections import defaultdict
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from corridor.feeds import comtrade, kz_customs, ports
from corridor.landing import (
    LEGACY_COMPLETED,
    Fetch,
    Landed,
    LandingError,
    _safe,
    read_jsonl,
)

log = logging.getLogger(__name__)

_FILE_NAME = re.compile(r"^(?P<label>.+)-(?P<sha8>[0-9a-f]{8})\.(?P<suffix>[^.]+)$")
_FETCH_STAMP = re.compile(r"^\d{8}T\d{12}Z(?:-|$)")
_PAGE = re.compile(r"(?:^|-)p(?P<n>\d+)$")
_CALL_REPORTERS = re.compile(r"^data-r(?P<reporters>\d+(?:_\d+)*)-")
#: The cursor each paged feed's page hands out, and the query parameter that asks for it.
_CURSORS = {kz_customs.FEED: ("next_cursor", "cursor"),
            ports.FEED: ("next_page_token", "page_token")}


def fetches(root: Path, feed: str, entries: list[Landed]) -> tuple[list[Fetch], int]:
    """The completed fetches the old file rows ``entries`` hold, and how many fetches
    among them never completed."""
    if not entries:
        return [], 0
    log.info("%s: %d file rows landed before fetches were recorded: derived from the "
             "files", feed, len(entries))
    if feed == comtrade.FEED:
        return _comtrade(root, entries)
    if feed not in _CURSORS:  # one body, one fetch
        return [Fetch(feed, e.unit, e.record.get("revision"), e.record.get("status"),
                      e.sha256, (e.file,)) for e in entries], 0
    found: list[Fetch] = []
    incomplete = 0
    units: dict[str, list[Landed]] = defaultdict(list)
    for entry in entries:
        units[entry.unit].append(entry)
    for unit, landed in units.items():
        runs, cut = _page_runs(landed, *_CURSORS[feed])
        incomplete += cut
        for run, bodies in runs:
            files = tuple(e.file for e in run)
            if feed == ports.FEED:
                found.append(Fetch(feed, unit, None, None, None, files))
                continue
            # kz_customs.fetch_period: revision of the first page, status of the last.
            status = bodies[-1].get("status")
            status = bodies[0].get("status") if status is None else status
            digest = hashlib.sha256()  # as kz_customs.KzFetch.sha256
            for entry in run:
                digest.update(bytes.fromhex(entry.sha256))
            found.append(Fetch(feed, unit, int(bodies[0]["revision"]), str(status),
                               digest.hexdigest(), files))
    return found, incomplete


def part_of(record: dict[str, Any]) -> str | None:
    """The ``part=`` a payload was landed with (page, query split), from the manifest row
    when it records one, else from the file name ``<r{rev}|{fetch ts}>[-part]-<sha8>.ext``."""
    if record.get("part"):
        return str(record["part"])
    match = _FILE_NAME.match(Path(str(record["path"])).name)
    if not match:
        return None
    label = match["label"]
    revision = record.get("revision")
    if revision is not None:
        prefix = _safe(f"r{revision}")
        if label.startswith(prefix + "-"):
            return label[len(prefix) + 1:]
        return None
    stamp = _FETCH_STAMP.match(label)
    return (label[stamp.end():] or None) if stamp else None


def _query_param(url: str, name: str) -> str | None:
    values = parse_qs(urlsplit(str(url or "")).query).get(name)
    return values[0] if values else None


def _page_runs(landed: list[Landed], cursor_field: str, cursor_param: str
               ) -> tuple[list[tuple[list[Landed], list[dict[str, Any]]]], int]:
    """Complete paged fetches of one unit, in fetch order (entries, page bodies), and
    how many were cut. A fetch starts at page 1; page n+1 follows page n when it has the
    same revision and (when the URL shows it) asks for the cursor page n handed out. It
    is complete when its last page hands out no cursor."""
    runs: list[tuple[list[Landed], list[dict[str, Any]]]] = []
    current: list[Landed] = []
    bodies: list[dict[str, Any]] = []
    prefix: str | None = None
    cut = 0
    for entry in [*landed, None]:
        if entry is not None:
            part = part_of(entry.record) or ""
            match = _PAGE.search(part)
            if not match:
                raise LandingError(f"{entry.path}: cannot tell which page this is "
                                   f"(part {part!r})")
            body = entry.file.json
            follows = (current and int(match["n"]) == len(current) + 1
                       and part[:match.start()] == prefix
                       and body.get("revision") == bodies[-1].get("revision")
                       and _query_param(entry.record.get("url"), cursor_param)
                       in (None, bodies[-1].get(cursor_field)))
            if follows:
                current.append(entry)
                bodies.append(body)
                continue
            if int(match["n"]) != 1:
                log.warning("%s: page %s does not continue the fetch before it: fetch "
                            "dropped", entry.path, match["n"])
        if current and not bodies[-1].get(cursor_field) and (
                entry is None or int(match["n"]) == 1):
            runs.append((current, bodies))
        elif current:
            cut += 1
        current, bodies, prefix = [], [], None
        if entry is not None and int(match["n"]) == 1:
            current, bodies, prefix = [entry], [body], part[:match.start()]
    return runs, cut


def _comtrade(root: Path, entries: list[Landed]) -> tuple[list[Fetch], int]:
    """Each ``completed.jsonl`` line: a unit and the landed data calls it was loaded
    from (each may hold several reporters: the call's part names them)."""
    by_name = {entry.path.name: entry for entry in entries}
    found: list[Fetch] = []
    incomplete = 0
    named: set[str] = set()
    for record in read_jsonl(root / _safe(comtrade.FEED) / LEGACY_COMPLETED):
        calls = [by_name.get(Path(f["path"]).name) for f in record["files"]]
        if any(call is None for call in calls):
            log.warning("comtrade %s: a completion names a file not in the manifest: ignored",
                        record["unit"])
            incomplete += 1
            continue
        named.update(call.path.name for call in calls)
        reporter_text, _, period_month = str(record["unit"]).partition(":")
        reporters = []
        for call in calls:
            match = _CALL_REPORTERS.match(part_of(call.record) or "")
            reporters.append([int(r) for r in match["reporters"].split("_")] if match
                             else [int(reporter_text)])
        found.append(Fetch(comtrade.FEED, record["unit"], None, "final",
                           record.get("checksum"), tuple(call.file for call in calls),
                           {"reporter_code": int(reporter_text), "period_month": period_month,
                            "has_reported": bool(record["has_reported"]), "calls": reporters}))
    # data calls landed by a fetch that never completed (killed before its load)
    incomplete += sum(1 for entry in entries
                      if entry.unit != "availability" and entry.path.name not in named)
    return found, incomplete
