"""``<dataset>.revisions.csv``: what changed since the previous release.

One row per observation that ``appeared``, ``disappeared`` or ``changed`` (its value or
its status, compared as published text) between the previous release's plain CSV and
this one's, keyed by the dataset's key columns and sorted like the plain CSV. The first
release's file holds only the header.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable

from corridor.publish.datasets import Dataset

REVISION_COLUMNS = ("change", "previous_value", "new_value", "previous_status", "new_status",
                    "previous_release_id")
CHANGES = ("appeared", "disappeared", "changed")


def revisions_header(dataset: Dataset) -> tuple[str, ...]:
    return (*dataset.key, *REVISION_COLUMNS)


def _by_key(dataset: Dataset, rows: Iterable[tuple[str, ...]]) -> dict[tuple, tuple[str, str]]:
    """key → (obs_value, obs_status) of the plain CSV rows."""
    width = len(dataset.key)
    value_at = dataset.columns.index("obs_value")
    status_at = dataset.columns.index("obs_status")
    return {row[:width]: (row[value_at], row[status_at]) for row in rows}


def diff_releases(dataset: Dataset, previous: Iterable[tuple[str, ...]] | None,
                  current: Iterable[tuple[str, ...]],
                  previous_release_id: str | None) -> list[tuple[str, ...]]:
    """The revisions rows of ``current`` against ``previous`` (None: first release)."""
    if previous is None:
        return []
    before = _by_key(dataset, previous)
    after = _by_key(dataset, current)
    rows = []
    for key in before.keys() | after.keys():
        old, new = before.get(key), after.get(key)
        if old == new:
            continue
        change = "appeared" if old is None else "disappeared" if new is None else "changed"
        old_value, old_status = old or ("", "")
        new_value, new_status = new or ("", "")
        rows.append((*key, change, old_value, new_value, old_status, new_status,
                     previous_release_id or ""))
    rows.sort(key=lambda row: tuple(part.encode("utf-8") for part in row[:len(dataset.key)]))
    return rows


def count_changes(dataset: Dataset, rows: list[tuple[str, ...]]) -> dict[str, int]:
    """``{"appeared": n, "disappeared": n, "changed": n}`` for the manifest and report."""
    counts = Counter(row[len(dataset.key)] for row in rows)
    return {change: counts.get(change, 0) for change in CHANGES}
