"""Publish DAG: the GX quality gate and an immutable release, from ONE warehouse state.

One task (``gate_and_release``, :func:`corridor.publish.run`): the gate's checks and
the release's reads share one exported snapshot of the warehouse, so no dbt build or
unit load can slip in between what was checked and what is published. A critical
failure fails the task before anything is written: LATEST keeps pointing at the
previous good release.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from airflow.sdk import dag, task

from corridor.assets import INDICATOR_MARTS, RELEASE


@dag(
    dag_id="corridor_publish",
    description="Great Expectations checkpoint gate and CSV/manifest release (one snapshot)",
    schedule=[INDICATOR_MARTS],
    start_date=datetime(2025, 1, 1),
    catchup=False,
    max_active_runs=1,
    # a stuck publish must end: it holds the publish lock
    default_args={"owner": "corridor", "retries": 0, "execution_timeout": timedelta(hours=1)},
    tags=["corridor", "quality", "publish"],
)
def corridor_publish():
    @task(outlets=[RELEASE])
    def gate_and_release() -> str:
        from corridor.publish import run

        return str(run())

    gate_and_release()


corridor_publish()
