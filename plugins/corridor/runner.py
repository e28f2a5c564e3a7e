"""Run the deployed DAGs end to end on this machine (``corridor run`` / ``make run``).

The DAG objects are the ones in ``dags/`` a scheduler would run; ``dag.test()`` runs
each in-process against the SQLite Airflow metadata database under the project's
home folder. Asset triggers are what a scheduler would follow: the runner plays that
part by running the ingest DAGs, then the transform DAG (scheduled on the feed
assets), then the publish DAG (scheduled on the marts asset).
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import time
from pathlib import Path

from corridor.config import PROJECT_DIR, Settings

log = logging.getLogger(__name__)

DAGS_DIR = PROJECT_DIR / "dags"
#: The poll DAGs: what a scheduler runs on CORRIDOR_INGEST_SCHEDULE.
INGEST_DAG_IDS = (
    "corridor_poll_ru_customs",
    "corridor_poll_kz_customs",
    "corridor_poll_comtrade",
    "corridor_poll_ports",
    "corridor_poll_rail",
)
#: The monthly (partitioned) ingest DAGs: backfill, clear or trigger one month.
MONTHLY_DAG_IDS = (
    "corridor_ingest_ru_customs",
    "corridor_ingest_kz_customs",
    "corridor_ingest_comtrade",
    "corridor_ingest_rail",
)
PIPELINE_DAG_IDS = (*INGEST_DAG_IDS, "corridor_transform", "corridor_publish")


class PipelineError(RuntimeError):
    """A DAG run did not succeed."""

    def __init__(self, dag_id: str, failed_tasks: list[str], message: str = ""):
        self.dag_id = dag_id
        self.failed_tasks = failed_tasks
        super().__init__(message or f"{dag_id} failed: tasks {', '.join(failed_tasks) or '?'}")


def airflow_env(settings: Settings) -> dict[str, str]:
    """Environment for a local Airflow: SQLite metadata under the project's ignored home."""
    airflow_home = settings.home_dir / "airflow"
    return {
        "AIRFLOW_HOME": str(airflow_home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(DAGS_DIR),
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(PROJECT_DIR / "plugins"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{airflow_home / 'airflow.db'}",
        "AIRFLOW__CORE__DAGBAG_IMPORT_TIMEOUT": "120",
        "AIRFLOW__LOGGING__LOGGING_LEVEL": os.environ.get("AIRFLOW__LOGGING__LOGGING_LEVEL",
                                                          "WARNING"),
    }


def prepare_airflow(settings: Settings) -> None:
    """Point this process at the local Airflow and migrate its metadata DB (idempotent)."""
    env = airflow_env(settings)
    Path(env["AIRFLOW_HOME"]).mkdir(parents=True, exist_ok=True)
    os.environ.update(env)
    subprocess.run([sys.executable, "-m", "airflow", "db", "migrate"], check=True,
                   env=os.environ.copy(), stdout=subprocess.DEVNULL)


def load_dags() -> dict:
    """Parse ``dags/`` as the dag-processor would and return the DAGs by id."""
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(DAGS_DIR))
    if bag.import_errors:
        raise PipelineError("dagbag", [], f"DAG import errors: {bag.import_errors}")
    return dict(bag.dags)


def run_dag(dag) -> None:
    """One ``dag.test()`` run; raise PipelineError naming the failed tasks."""
    from airflow.utils.state import DagRunState, TaskInstanceState

    log.warning("running DAG %s", dag.dag_id)
    dag_run = dag.test()
    if dag_run.state == DagRunState.SUCCESS:
        return
    # the tasks that failed themselves, not those skipped because of them
    failed = sorted(
        f"{ti.task_id}[{ti.map_index}]" if ti.map_index >= 0 else ti.task_id
        for ti in dag_run.get_task_instances() if ti.state == TaskInstanceState.FAILED
    )
    raise PipelineError(dag.dag_id, failed)


def run_pipeline(settings: Settings, dag_ids: tuple[str, ...] = PIPELINE_DAG_IDS) -> None:
    """Run the poll, transform and publish DAGs in their asset order, saying where it is
    (a progress bar in a terminal, one log line per DAG otherwise)."""
    prepare_airflow(settings)
    dags = load_dags()
    if not sys.stderr.isatty():
        for number, dag_id in enumerate(dag_ids, start=1):
            started = time.monotonic()
            run_dag(dags[dag_id])
            log.warning("[%d/%d] %s done in %.1f s", number, len(dag_ids), dag_id,
                        time.monotonic() - started)
        return
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    columns = (TextColumn("{task.description}"), BarColumn(), TextColumn("{task.completed}/"
               "{task.total} DAGs"), TimeElapsedColumn())
    with Progress(*columns, transient=False) as progress:
        bar = progress.add_task("pipeline", total=len(dag_ids))
        for dag_id in dag_ids:
            progress.update(bar, description=dag_id)
            run_dag(dags[dag_id])
            progress.advance(bar)
        progress.update(bar, description="pipeline")
