"""The releases the API may serve, and the observations of one, read as streams.

Visible means: a folder of ``releases/`` with its manifest, whose ``released_at`` has
come (the clock is the caller's, so tests move it). An embargoed release is elsewhere
(``embargoed/``) and so does not exist here; one already in ``releases/`` with a future
``released_at`` is not visible either. ``asOf`` picks the newest release released at or
before an instant; releases are released in order, so that is the one that was
``LATEST`` then.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from corridor.api.query import RowFilter
from corridor.publish.datasets import Dataset


@dataclass(frozen=True)
class Release:
    release_id: str
    path: Path
    released_at: datetime
    manifest: dict

    def summary(self) -> dict:
        return {"release_id": self.release_id,
                "released_at": self.manifest.get("released_at")
                or self.manifest.get("created_at"),
                "coverage": self.manifest.get("coverage"),
                "previous_release_id": self.manifest.get("previous_release_id")}

    def files(self) -> set[str]:
        """The names one may fetch: the manifest's files and the manifest."""
        return {entry["name"] for entry in self.manifest.get("files") or []} | {
            "manifest.json"}


def _instant(text: str) -> datetime:
    return datetime.fromisoformat(text)


def visible_releases(published: Path, now: datetime) -> list[Release]:
    """Every visible release, oldest first."""
    from corridor.publish.release import list_releases

    releases = []
    for folder in list_releases(published):
        try:
            manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
        except json.JSONDecodeError:
            continue  # not a finished release
        released_at = _instant(manifest.get("released_at") or manifest["created_at"])
        if released_at <= now:
            releases.append(Release(folder.name, folder, released_at, manifest))
    return sorted(releases, key=lambda release: (release.released_at, release.release_id))


def as_of(releases: list[Release], instant: datetime | None) -> Release | None:
    """The release that was LATEST at ``instant`` (None: the newest)."""
    candidates = [r for r in releases if instant is None or r.released_at <= instant]
    return candidates[-1] if candidates else None


#: SDMX-CSV columns before the key: STRUCTURE, STRUCTURE_ID, ACTION.
_LEAD = 3


def sdmx_rows(release: Release, dataset: Dataset) -> Iterator[list[str]]:
    """The release's ``<dataset>.sdmx.csv`` as a stream: its header, then its rows (the
    file is closed when the stream ends or is closed)."""
    with (release.path / f"{dataset.name}.sdmx.csv").open(encoding="utf-8",
                                                            newline="") as handle:
        yield from csv.reader(handle)


def select(rows: Iterator[list[str]], dataset: Dataset, rows_filter: RowFilter,
           keys: set[tuple[str, ...]] | None = None) -> Iterator[list[str]]:
    """The rows the filter admits (and, if given, whose key with period is in ``keys``)."""
    width = len(dataset.key)
    for row in rows:
        key = row[_LEAD:_LEAD + width]
        if rows_filter.admits(key[:-1], key[-1]) and (keys is None or tuple(key) in keys):
            yield row


def changed_keys(releases: list[Release],
                 dataset: Dataset) -> set[tuple[str, ...]] | None:
    """The keys (with period) that appeared, changed or disappeared in any of
    ``releases``, from their revisions files; None (every key) when one of them is a
    first release, whose every observation appeared (its revisions file is a header)."""
    if any(not release.manifest.get("previous_release_id") for release in releases):
        return None
    width = len(dataset.key)
    keys: set[tuple[str, ...]] = set()
    for release in releases:
        path = release.path / f"{dataset.name}.revisions.csv"
        with path.open(encoding="utf-8", newline="") as handle:
            reader = csv.reader(handle)
            next(reader)
            keys.update(tuple(row[:width]) for row in reader)
    return keys
