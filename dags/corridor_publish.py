"""Publish DAG: the GX quality gate, then an immutable release under the published root.

The gate fails the run when a critical expectation fails; the release task then never
runs, so LATEST keeps pointing at the previous good release.
"""

from __future__ import annotations

from datetime import datetime

from airflow.sdk import dag, task

from corridor.assets import INDICATOR_MARTS, RELEASE


@dag(
    dag_id="corridor_publish",
    description="Great Expectations checkpoint gate, then CSV/manifest release and LATEST",
    schedule=[INDICATOR_MARTS],
    start_date=datetime(2025, 1, 1),
    catchup=False,
    max_active_runs=1,
    default_args={"owner": "corridor", "retries": 0},
    tags=["corridor", "quality", "publish"],
)
def corridor_publish():
    @task
    def quality_gate() -> dict:
        from corridor.quality.gate import run_gate

        return run_gate()

    @task(outlets=[RELEASE])
    def publish_release(quality: dict) -> str:
        from corridor.publish.release import publish_release as write_release

        return str(write_release(quality))

    publish_release(quality_gate())


corridor_publish()
