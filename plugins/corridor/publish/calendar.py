"""The release calendar and embargo (spec/indicators.md "Release calendar and embargo").

The calendar is a CSV (``CORRIDOR_RELEASE_CALENDAR``): ``last_period,embargo_until``,
one row per announced release. A gated release whose coverage ends at a ``last_period``
whose ``embargo_until`` is still ahead is written to ``embargoed/<release_id>/`` by the
release writer (:func:`corridor.publish.release.write_release`), where nothing reads it:
``LATEST``, the API and the visible reports know only ``releases/``.

:func:`release_due` releases what is due: under the publish lock, each embargoed release
whose instant has come gets its ``released_at``, is moved into ``releases/`` (one rename
on ``file://``; on an object store, checked PUTs, manifest last) and ``LATEST`` is
replaced, as for any release. The deployment calls it at the instant from the triggerer
(DAG ``corridor_embargo``: a deferrable ``DateTimeSensorAsync``, no worker waits);
``corridor releases release-due`` does the same by hand. The clock is the caller's, so
tests move it.
"""

from __future__ import annotations

import csv
import json
import logging
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from corridor import storage

log = logging.getLogger(__name__)

#: A release released later than this after its calendar instant is late.
ON_TIME = timedelta(minutes=1)
_PERIOD = re.compile(r"\d{4}-(0[1-9]|1[0-2])")


class CalendarError(ValueError):
    """A calendar file that cannot be read; the message names the row."""


def read_calendar(path: Path | str) -> dict[str, datetime]:
    """``last_period`` -> ``embargo_until`` (timezone-aware) of the calendar file."""
    with Path(path).open(encoding="utf-8-sig", newline="") as handle:
        reader = csv.DictReader(handle)
        if reader.fieldnames != ["last_period", "embargo_until"]:
            raise CalendarError(f"release calendar {path}: header must be "
                                f"last_period,embargo_until, not {reader.fieldnames}")
        calendar: dict[str, datetime] = {}
        for number, row in enumerate(reader, start=2):
            period, text = (row["last_period"] or "").strip(), (row["embargo_until"] or "")
            where = f"release calendar {path} line {number}"
            if not _PERIOD.fullmatch(period):
                raise CalendarError(f"{where}: last_period {period!r} is not YYYY-MM")
            try:
                instant = datetime.fromisoformat(text.strip())
            except ValueError:
                instant = None
            if instant is None or instant.tzinfo is None:
                raise CalendarError(f"{where}: embargo_until {text!r} is not an ISO 8601 "
                                    "instant with an offset")
            if period in calendar:
                raise CalendarError(f"{where}: {period} is in the calendar twice")
            calendar[period] = instant
    return calendar


def embargo_for(calendar: dict[str, datetime], last_period: str,
                now: datetime) -> datetime | None:
    """The instant a release ending at ``last_period`` must wait for: its entry's, if
    that is still ahead; None (released at once) without an entry or when late."""
    instant = calendar.get(last_period)
    return instant if instant is not None and instant > now else None


def _manifest(folder) -> dict | None:
    try:
        return json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    except (FileNotFoundError, NotADirectoryError, json.JSONDecodeError):
        return None  # not a finished release


def embargoed(published) -> list[tuple[object, dict]]:
    """Every finished embargoed release (folder, manifest), the first due first."""
    root = storage.resolve(published) / "embargoed"
    if not root.exists():
        return []
    found = [(folder, manifest) for folder in root.iterdir()
             if (manifest := _manifest(folder)) is not None]
    return sorted(found, key=lambda item: (item[1]["embargo_until"], item[1]["release_id"]))


def next_embargo(published) -> datetime | None:
    """When the next embargoed release is due (None: nothing waits)."""
    waiting = embargoed(published)
    return datetime.fromisoformat(waiting[0][1]["embargo_until"]) if waiting else None


def release_due(published, now: datetime | None = None, lock=None) -> list[str]:
    """Release every embargoed release whose ``embargo_until`` has come (under ``lock``,
    the publish lock); the ids released. Idempotent: run twice, releases nothing more."""
    from contextlib import nullcontext

    from corridor.publish.release import latest_release, make_visible

    now = now or datetime.now(UTC)
    published = storage.resolve(published)
    released = []
    with nullcontext() if lock is None else lock:
        for folder, manifest in embargoed(published):
            if datetime.fromisoformat(manifest["embargo_until"]) > now:
                break
            manifest["released_at"] = now.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
            latest = latest_release(published)
            newer = latest is not None and (_manifest(latest) or {}).get(
                "created_at", "") > manifest["created_at"]
            make_visible(published, folder, manifest, replace_latest=not newer)
            log.info("released embargoed release %s at %s (embargo until %s)",
                     manifest["release_id"], manifest["released_at"],
                     manifest["embargo_until"])
            released.append(manifest["release_id"])
    return released


@dataclass(frozen=True)
class CalendarLine:
    last_period: str
    planned: datetime
    release_id: str | None
    released_at: str | None
    state: str  # on time, late, early, embargoed, not released


def calendar_lines(calendar: dict[str, datetime], published) -> list[CalendarLine]:
    """Each entry with the release that met it (the first released whose coverage ends
    at its period), when, and on time (within :data:`ON_TIME` of the instant) or late."""
    from corridor.publish.release import list_releases

    published = storage.resolve(published)
    visible = sorted((manifest for folder in list_releases(published)
                      if (manifest := _manifest(folder)) is not None),
                     key=lambda m: m.get("released_at") or m["created_at"])
    waiting = {m["coverage"]["last_period"]: m for _, m in embargoed(published)}
    lines = []
    for period, planned in sorted(calendar.items()):
        met = next((m for m in visible if (m.get("coverage") or {}).get("last_period")
                    == period), None)
        if met is None:
            state = "embargoed" if period in waiting else "not released"
            lines.append(CalendarLine(period, planned,
                                      waiting[period]["release_id"] if period in waiting
                                      else None, None, state))
            continue
        released_at = met.get("released_at") or met["created_at"]
        when = datetime.fromisoformat(released_at)
        state = ("early" if when < planned else
                 "on time" if when <= planned + ON_TIME else "late")
        lines.append(CalendarLine(period, planned, met["release_id"], released_at, state))
    return lines
