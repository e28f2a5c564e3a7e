"""Airflow Assets: what each DAG produces and what the next one waits for."""

from __future__ import annotations

from airflow.sdk import Asset

from corridor.config import FEED_IDS

RAW_FEED_ASSETS: dict[str, Asset] = {
    feed: Asset(name=f"raw_{feed}", uri=f"corridor://warehouse/raw/{feed}", group="raw")
    for feed in FEED_IDS
}
INDICATOR_MARTS = Asset(name="indicator_marts", uri="corridor://warehouse/marts/indicators",
                        group="marts")
RELEASE = Asset(name="published_release", uri="corridor://published/LATEST", group="releases")
