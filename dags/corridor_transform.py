"""Transform DAG: when any feed changed raw, build the warehouse with dbt.

Runs dbt in-process with dbt's programmatic runner (dbtRunner): seeds, then
``dbt build`` (models and their tests in DAG order). A failing dbt test fails the
task, so the marts asset is not updated and nothing is published.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from airflow.sdk import dag, task

from corridor.assets import INDICATOR_MARTS, RAW


@dag(
    dag_id="corridor_transform",
    description="dbt: raw feeds -> staging -> intermediate -> marts -> indicator marts",
    schedule=[RAW],
    start_date=datetime(2025, 1, 1),
    catchup=False,
    max_active_runs=1,
    # a stuck build must end: it holds the build lock every unit load waits for
    default_args={"owner": "corridor", "retries": 1, "retry_delay": timedelta(minutes=1),
                  "execution_timeout": timedelta(hours=3)},
    tags=["corridor", "dbt"],
)
def corridor_transform():
    @task
    def dbt_seed() -> None:
        from corridor.transform import run_dbt

        run_dbt(["seed"])

    @task(outlets=[INDICATOR_MARTS])
    def dbt_build() -> None:
        from corridor.transform import run_dbt

        run_dbt(["build", "--exclude", "resource_type:seed"])

    dbt_seed() >> dbt_build()


corridor_transform()
