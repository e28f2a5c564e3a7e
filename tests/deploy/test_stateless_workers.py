"""No state on a worker's disk between tasks (issue 14, part 2).

Two workers, each a process with a HOME, a working directory, a temporary folder and a
Corridor home of its own, share only the warehouse and the landing and published URLs,
as Celery workers on two hosts do. One ingests; the other, which has never seen the
landing zone on its disk, builds the marts; the first, its disk wiped meanwhile,
gates and publishes. The release must be the one a single process publishes from the
same world, and no stage may leave a file on its worker's disk.

The stages are the DAG tasks' code paths (``tests/pipeline/driver.py``).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from corridor.config import PROJECT_DIR
from corridor.roles import init_warehouse
from corridor.simulator import SimConfig, connection_uris, start_simulator
from corridor.warehouse import embedded_uri
from tests.databases import temporary_database

PERIOD = "2024-06"
SIM = SimConfig(seed=5, scale=0.02, first_month="2023-06", last_month=PERIOD)
STEP_TIMEOUT_S = 900


@dataclass
class Worker:
    """A worker host's own disk: HOME, working directory, TMPDIR, Corridor home."""

    root: Path

    @property
    def folders(self) -> dict[str, Path]:
        return {name: self.root / name for name in ("home", "cwd", "tmp", "corridor")}

    def wipe(self) -> None:
        """A fresh disk (another host, or the same one after a restart)."""
        shutil.rmtree(self.root, ignore_errors=True)
        for folder in self.folders.values():
            folder.mkdir(parents=True)

    def run(self, step: str, shared: dict[str, str]) -> None:
        folders = self.folders
        env = {**os.environ, **shared, "HOME": str(folders["home"]),
               "TMPDIR": str(folders["tmp"]), "CORRIDOR_HOME_DIR": str(folders["corridor"]),
               "PYTHONPATH": os.pathsep.join([str(PROJECT_DIR), str(PROJECT_DIR / "plugins")]),
               "PYTHONDONTWRITEBYTECODE": "1"}
        for name in ("CORRIDOR_LANDING_DIR", "CORRIDOR_PUBLISH_DIR", "TMP", "TEMP"):
            env.pop(name, None)
        done = subprocess.run([sys.executable, "-m", "tests.pipeline.driver", step],
                              cwd=folders["cwd"], env=env, capture_output=True, text=True,
                              timeout=STEP_TIMEOUT_S)
        assert done.returncode == 0, f"{step} on {self.root.name}:\n{done.stdout}\n{done.stderr}"

    def leftovers(self) -> list[str]:
        """Every file a stage left on this worker's disk."""
        return sorted(str(path.relative_to(self.root)) for path in self.root.rglob("*")
                      if not path.is_dir())


def _shared(simulator, dsn, root: Path) -> dict[str, str]:
    """What every worker is configured with: feeds, warehouse, window, and the landing
    zone and published root as URLs."""
    return {**connection_uris(simulator.base_url),
            "AIRFLOW_CONN_CORRIDOR_WAREHOUSE": embedded_uri(dsn),
            "CORRIDOR_PERIOD_FROM": PERIOD, "CORRIDOR_PERIOD_TO": PERIOD,
            "CORRIDOR_LANDING_URL": (root / "landing").as_uri(),
            "CORRIDOR_PUBLISH_URL": (root / "published").as_uri()}


def _latest(published: Path) -> tuple[Path, dict]:
    release = published / "releases" / (published / "LATEST").read_text().strip()
    return release, json.loads((release / "manifest.json").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def runs(warehouse_server, tmp_path_factory):
    """The same world published by one process, and by stages on two workers."""
    root = tmp_path_factory.mktemp("stateless")
    with start_simulator(SIM) as simulator, \
            temporary_database(warehouse_server, "solo") as solo_dsn, \
            temporary_database(warehouse_server, "split") as split_dsn:
        for dsn in (solo_dsn, split_dsn):  # the stages connect as its roles
            init_warehouse(dsn, passwords={})
        solo = Worker(root / "solo")
        solo.wipe()
        solo.run("run", _shared(simulator, solo_dsn, root / "solo-store"))

        shared = _shared(simulator, split_dsn, root / "store")
        worker_a, worker_b = Worker(root / "worker-a"), Worker(root / "worker-b")
        left: dict[str, list[str]] = {}
        for step, worker in (("ingest", worker_a), ("build", worker_b),
                             ("publish", worker_a)):
            worker.wipe()  # nothing an earlier stage left on a disk can help this one
            worker.run(step, shared)
            left[step] = worker.leftovers()
        yield {"solo": root / "solo-store", "split": root / "store", "left": left}


def test_no_stage_leaves_a_file_on_its_worker(runs):
    assert runs["left"] == {"ingest": [], "build": [], "publish": []}


def test_the_stages_wrote_to_the_shared_urls(runs):
    store = runs["split"]
    for feed in ("ru_customs", "kz_customs", "comtrade", "ports", "rail"):
        assert (store / "landing" / feed / "manifest.jsonl").stat().st_size > 0, feed
    release, manifest = _latest(store / "published")
    assert manifest["quality"]["success"] is True
    # the gate's Data Docs are published beside the releases, from the publishing worker
    docs = Path(manifest["quality"]["data_docs"])
    assert docs.is_file() and docs.parent.parent == store / "published" / "data-docs"
    assert not list((store / "published").glob(".staging-*"))


def test_the_release_is_the_one_a_single_process_publishes(runs):
    split, split_manifest = _latest(runs["split"] / "published")
    solo, solo_manifest = _latest(runs["solo"] / "published")
    data_files = [entry["name"] for entry in solo_manifest["files"]
                  if not entry["name"].startswith("report")]  # the reports name their release
    assert len(data_files) == 7 and [e["name"] for e in split_manifest["files"]] == [
        e["name"] for e in solo_manifest["files"]]
    for name in data_files:
        assert (split / name).read_bytes() == (solo / name).read_bytes(), name
    for key in ("inputs", "coverage", "revisions"):
        assert split_manifest[key] == solo_manifest[key], key
    assert {entry["name"]: entry.get("rows") for entry in split_manifest["files"]} == {
        entry["name"]: entry.get("rows") for entry in solo_manifest["files"]}
