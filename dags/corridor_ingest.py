"""Ingest DAGs: what the publishers changed is polled, one month can be (re)loaded alone.

* ``corridor_poll_<feed>`` (every feed; schedule ``CORRIDOR_INGEST_SCHEDULE``, default
  daily) asks the publisher's index once what it has (RU ``releases``, KZ ``periods``,
  Comtrade ``getDa``; rail days by conditional GET; ports from their high-water mark)
  and loads only the months that are new or changed. A run in which nothing changed
  loads nothing and emits no asset event, so nothing downstream runs.
* ``corridor_ingest_<feed>`` (the four monthly feeds) has one partition per month
  (key ``YYYY-MM``): backfill, clear or trigger it to (re)load exactly those months::

      airflow backfill create --dag-id corridor_ingest_ru_customs \\
          --from-date 2024-03-01 --to-date 2024-04-01 --dag-run-conf '{"force": true}'

Each loaded month is an event of the ``raw_<feed>`` asset whose partition key is the
month (the UI's per-month history); the unkeyed ``raw`` event schedules the transform.
Ports are versioned per call and their API has no month filter, so they have no
monthly DAG: ``force`` on ``corridor_poll_ports`` re-syncs from the first call.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from airflow.sdk import CronPartitionTimetable, Param, dag, task

from corridor.assets import RAW, RAW_FEED_ASSETS
from corridor.config import get_settings

DEFAULT_ARGS = {
    "owner": "corridor",
    "retries": 3,
    "retry_delay": timedelta(seconds=30),
    "retry_exponential_backoff": True,
    "max_retry_delay": timedelta(minutes=10),
    "execution_timeout": timedelta(hours=2),
}
PARAMS = {"force": Param(False, type="boolean",
                         description="Reload units even when the publisher's index says they "
                                     "are unchanged")}
MONTHLY_FEEDS = ("ru_customs", "kz_customs", "comtrade", "rail")
#: what the poll and the monthly DAGs of a feed share
COMMON = {"start_date": datetime(2025, 1, 1), "catchup": False, "default_args": DEFAULT_ARGS,
          "params": PARAMS}


def _ingest_dag(feed: str, planned_months, schedule, **dag_kwargs):
    """An ingest DAG of ``feed``: the ``planned_months`` task says which months to load
    (a list of ``ingest_month`` kwargs), each is loaded, then all are recorded."""

    @dag(schedule=schedule, **dag_kwargs, **COMMON)
    def ingest_dag():
        @task(max_active_tis_per_dagrun=2, map_index_template="{{ period_month }}")
        def ingest_month(period_month: str, listing: list | None = None, **context) -> dict:
            from corridor.ingest import ingest_month as ingest

            force = bool(context["params"].get("force"))
            return ingest(feed, period_month, listing=listing, force=force)

        # none_failed: it runs (and alerts on late months) when no month was planned too
        @task(outlets=[RAW_FEED_ASSETS[feed], RAW], trigger_rule="none_failed")
        def record_loads(summaries: list[dict], *, outlet_events=None) -> dict:
            from corridor.load.summary import record_loads as record

            # index, do not iterate: iterating a lazy XCom sequence probes past its end
            return record(feed, [summaries[i] for i in range(len(summaries))],
                          outlet_events[RAW_FEED_ASSETS[feed]])

        record_loads(ingest_month.expand_kwargs(planned_months()))

    return ingest_dag()


def _poll_dag(feed: str):
    @task
    def changed_months(**context) -> list[dict]:
        from corridor.ingest import plan

        return plan(feed, force=bool(context["params"].get("force")))

    return _ingest_dag(
        feed, changed_months,
        dag_id=f"corridor_poll_{feed}",
        description=f"Ask the {feed} publisher what changed; load the new or changed months",
        schedule=get_settings().ingest_schedule,
        max_active_runs=1,
        tags=["corridor", "ingest", "poll", feed],
    )


def _monthly_dag(feed: str):
    @task
    def partition_month(**context) -> list[dict]:
        from corridor.ingest import month_of_partition

        return [{"period_month": month_of_partition(context["dag_run"].partition_key)}]

    return _ingest_dag(
        feed, partition_month,
        dag_id=f"corridor_ingest_{feed}",
        description=f"(Re)load one month of {feed}: backfill, clear or trigger by month",
        # a partition per month; the monthly run tries the month that just ended (the
        # poll DAG loads it whenever the publisher releases it)
        schedule=CronPartitionTimetable("0 0 1 * *", timezone="UTC", run_offset=-1,
                                        key_format="%Y-%m"),
        max_active_runs=2,
        tags=["corridor", "ingest", "month", feed],
    )


for _feed in (*MONTHLY_FEEDS, "ports"):
    globals()[f"corridor_poll_{_feed}"] = _poll_dag(_feed)
for _feed in MONTHLY_FEEDS:
    globals()[f"corridor_ingest_{_feed}"] = _monthly_dag(_feed)
