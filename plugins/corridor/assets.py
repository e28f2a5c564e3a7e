"""Airflow Assets: what each DAG produces and what the next one waits for.

``raw_<feed>`` events carry the month they loaded as partition key: the UI shows each
feed-month's history. Airflow does not schedule an unpartitioned DAG on partitioned
events, so every ingest run that changed something also emits one unkeyed ``raw`` event:
the transform is scheduled on that.
"""

from __future__ import annotations

from airflow.sdk import Asset

from corridor.config import FEED_IDS

RAW_FEED_ASSETS: dict[str, Asset] = {
    feed: Asset(name=f"raw_{feed}", uri=f"corridor://warehouse/raw/{feed}", group="raw")
    for feed in FEED_IDS
}
RAW = Asset(name="raw", uri="corridor://warehouse/raw", group="raw")
INDICATOR_MARTS = Asset(name="indicator_marts", uri="corridor://warehouse/marts/indicators",
                        group="marts")
RELEASE = Asset(name="published_release", uri="corridor://published/LATEST", group="releases")
