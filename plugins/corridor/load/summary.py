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
