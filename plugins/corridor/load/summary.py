"""One line per feed run: what was loaded, skipped and rejected."""

from __future__ import annotations

import logging
from collections import Counter

log = logging.getLogger(__name__)


def summarise_loads(feed: str, summaries: list[dict]) -> dict:
    """Aggregate the per-unit summaries of one ingest run (returned to XCom and logged)."""
    outcome = Counter(summary.get("skipped") or "loaded" for summary in summaries)
    total = {
        "feed": feed,
        "units": len(summaries),
        "outcomes": dict(sorted(outcome.items())),
        "rows_loaded": sum(s.get("rows_loaded") or 0 for s in summaries),
        "rows_rejected": sum(s.get("rows_rejected") or 0 for s in summaries),
    }
    log.info("%s: %s", feed, total)
    return total


def loaded_months(feed: str, summaries: list[dict]) -> list[str]:
    """The months of an ingest run whose raw rows changed (a unit loaded, not skipped)."""
    months = set()
    for summary in summaries:
        if feed == "ports":
            if summary.get("rows_loaded") or summary.get("rows_rejected"):
                months.add("all")
            continue
        parts = summary.get("units") or summary.get("days") or [summary]
        if any(part.get("skipped") is None for part in parts):
            months.add(summary["unit"])
    return sorted(months)


def record_loads(feed: str, summaries: list[dict], raw_feed_events) -> dict:
    """The last task of an ingest run: one summary line, one ``raw_<feed>`` asset event
    per month whose rows changed (its partition key), none when nothing changed.

    Raises ``AirflowSkipException`` when no month changed: a skipped task emits no asset
    event, so a poll that found nothing new triggers no transform and no publish.
    """
    from airflow.sdk.exceptions import AirflowSkipException

    from corridor.status import check_late

    total = summarise_loads(feed, summaries)
    # a due unit that has not arrived: one WARNING line naming feed and month
    total["late"] = [f"{f} {month}" for f, month, _ in check_late(feed=feed)]
    pending = [unit for summary in summaries for unit in summary.get("pending") or ()]
    if pending:
        log.warning("%s: %d units pending (call budget or quota spent): a later run fetches "
                    "them: %s", feed, len(pending), ", ".join(pending[:20]))
    months = loaded_months(feed, summaries)
    total.update(months_changed=months, units_pending=len(pending))
    if not months:
        raise AirflowSkipException(f"{feed}: nothing changed at the publisher")
    if feed != "ports":
        raw_feed_events.add_partitions(months)
    return total
