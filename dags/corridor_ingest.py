"""Ingest DAGs, one per feed: fetch every unit of the ingest window, land it, load it into raw.

Each mapped task instance is one unit (a month; for ports one incremental sync), so a
retry redoes exactly one unit, and the load replaces that unit in one transaction.
The window comes from CORRIDOR_PERIOD_FROM/TO, never from the clock.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from airflow.sdk import dag, task

from corridor.assets import RAW_FEED_ASSETS
from corridor.config import get_settings

DEFAULT_ARGS = {
    "owner": "corridor",
    "retries": 3,
    "retry_delay": timedelta(seconds=30),
    "retry_exponential_backoff": True,
    "max_retry_delay": timedelta(minutes=10),
}

# feed id -> name of the corridor.ingest function that ingests one month of it
MONTHLY_FEEDS = {
    "ru_customs": "ingest_ru_customs",
    "kz_customs": "ingest_kz_customs",
    "comtrade": "ingest_comtrade",
    "rail": "ingest_rail",
}


def _monthly_ingest_dag(feed: str, function_name: str):
    @dag(
        dag_id=f"corridor_ingest_{feed}",
        description=f"Fetch, land and load the {feed} feed for every month of the ingest window",
        schedule=get_settings().ingest_schedule,
        start_date=datetime(2025, 1, 1),
        catchup=False,
        max_active_runs=1,
        default_args=DEFAULT_ARGS,
        tags=["corridor", "ingest", feed],
    )
    def ingest_dag():
        @task
        def ingest_window() -> list[str]:
            from corridor.config import get_settings

            return get_settings().ingest_months

        @task(max_active_tis_per_dagrun=2)
        def ingest_month(period_month: str) -> dict:
            import corridor.ingest

            return getattr(corridor.ingest, function_name)(period_month)

        @task(outlets=[RAW_FEED_ASSETS[feed]])
        def record_loads(summaries: list[dict]) -> dict:
            from corridor.load.summary import summarise_loads

            # index, do not iterate: iterating a lazy XCom sequence probes past its end
            return summarise_loads(feed, [summaries[i] for i in range(len(summaries))])

        record_loads(ingest_month.expand(period_month=ingest_window()))

    return ingest_dag()


for _feed, _function in MONTHLY_FEEDS.items():
    globals()[f"corridor_ingest_{_feed}"] = _monthly_ingest_dag(_feed, _function)


@dag(
    dag_id="corridor_ingest_ports",
    description="Incremental sync of Caspian port vessel calls (updated_since high-water mark)",
    schedule=get_settings().ingest_schedule,
    start_date=datetime(2025, 1, 1),
    catchup=False,
    max_active_runs=1,
    default_args=DEFAULT_ARGS,
    tags=["corridor", "ingest", "ports"],
)
def corridor_ingest_ports():
    @task(outlets=[RAW_FEED_ASSETS["ports"]])
    def sync_vessel_calls() -> dict:
        from corridor.ingest import ingest_ports

        return ingest_ports()

    sync_vessel_calls()


corridor_ingest_ports()
