"""Every DAG file imports cleanly, fast, without I/O, and follows the house rules."""

from __future__ import annotations

import socket
import time
from datetime import UTC, timedelta
from pathlib import Path

import pytest

from corridor.config import PROJECT_DIR
from corridor.runner import DAGS_DIR, MONTHLY_DAG_IDS, PIPELINE_DAG_IDS, load_dags
from tests.dags.conftest import PARSE_SECONDS

DAG_FILES = sorted(DAGS_DIR.glob("*.py"))


@pytest.fixture()
def no_network(monkeypatch):
    """Any socket connection at import time is a bug: fail loudly."""

    def refuse(*args, **kwargs):
        raise AssertionError("DAG file opened a network connection at import time")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)


@pytest.mark.parametrize("path", DAG_FILES, ids=lambda p: p.name)
def test_dag_file_imports_without_errors_or_io(path: Path, no_network, record_property):
    from airflow.dag_processing.dagbag import DagBag

    started = time.perf_counter()
    bag = DagBag(dag_folder=str(path))
    elapsed = time.perf_counter() - started
    record_property("parse_seconds", round(elapsed, 3))
    PARSE_SECONDS[path.name] = elapsed
    assert bag.import_errors == {}
    assert bag.dags, f"{path.name} defines no DAG"


def test_pipeline_dags_exist_and_follow_house_rules():
    dags = load_dags()
    assert set(PIPELINE_DAG_IDS) <= set(dags)
    for dag_id in PIPELINE_DAG_IDS:
        dag = dags[dag_id]
        assert dag.catchup is False, dag_id
        assert dag.start_date is not None, dag_id
        assert "corridor" in dag.tags, dag_id
        assert dag.max_active_runs == 1, dag_id


def test_ingest_tasks_retry_with_backoff():
    dags = load_dags()
    ingest = [d for d in (*PIPELINE_DAG_IDS, *MONTHLY_DAG_IDS)
              if d.startswith(("corridor_poll_", "corridor_ingest_"))]
    assert len(ingest) == 9
    for dag_id in ingest:
        for task in dags[dag_id].tasks:
            assert task.retries >= 2, f"{dag_id}.{task.task_id}"
            assert task.retry_exponential_backoff, f"{dag_id}.{task.task_id}"
            assert task.retry_delay >= timedelta(seconds=10)
            assert task.execution_timeout is not None, f"{dag_id}.{task.task_id}"
    for dag_id in ("corridor_transform", "corridor_publish"):  # they hold the locks
        assert all(task.execution_timeout is not None for task in dags[dag_id].tasks), dag_id


def _scheduled_on(dag) -> set[str]:
    return {asset.uri for asset in dag.timetable.asset_condition.objects}


def test_assets_wire_ingest_to_transform_to_publish():
    dags = load_dags()
    for dag_id in (*PIPELINE_DAG_IDS, *MONTHLY_DAG_IDS):
        if not dag_id.startswith(("corridor_poll_", "corridor_ingest_")):
            continue
        feed = dag_id.split("_", 2)[2]
        outlets = {o.uri for t in dags[dag_id].tasks for o in t.outlets}
        # the feed's partitioned asset (history per month) and the unkeyed raw asset
        assert outlets == {f"corridor://warehouse/raw/{feed}", "corridor://warehouse/raw"}
    assert _scheduled_on(dags["corridor_transform"]) == {"corridor://warehouse/raw"}
    marts = {o.uri for t in dags["corridor_transform"].tasks for o in t.outlets}
    assert _scheduled_on(dags["corridor_publish"]) == marts


def test_plugins_folder_scan_skips_the_corridor_package():
    """Airflow imports every loose .py of plugins/ as a plugin module named by its stem
    (corridor/simulator/__main__.py would run the simulator); .airflowignore excludes it."""
    from airflow._shared.module_loading import find_path_from_directory

    scanned = [Path(p) for p in find_path_from_directory(str(PROJECT_DIR / "plugins"),
                                                         ".airflowignore", "glob")]
    assert not [p for p in scanned if p.suffix == ".py" and "corridor" in p.parts]


def test_monthly_ingest_dags_have_one_partition_per_month():
    """`airflow backfill create` over March..April makes exactly two runs, keyed by month."""
    from datetime import datetime

    from airflow.serialization.definitions.dag import SerializedDAG
    from airflow.serialization.serialized_objects import DagSerialization

    for dag_id in MONTHLY_DAG_IDS:
        dag = load_dags()[dag_id]
        serialized = DagSerialization.deserialize_dag(DagSerialization.serialize_dag(dag))
        assert isinstance(serialized, SerializedDAG)
        infos = serialized.iter_dagrun_infos_between(datetime(2024, 3, 1, tzinfo=UTC),
                                                     datetime(2024, 4, 1, tzinfo=UTC))
        assert [info.partition_key for info in infos] == ["2024-03", "2024-04"], dag_id
