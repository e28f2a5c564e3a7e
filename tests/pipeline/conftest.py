"""One simulated world and warehouse the pipeline tests run the driver's processes on."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest

from corridor.config import PROJECT_DIR, WarehouseDsn
from corridor.roles import init_warehouse
from corridor.simulator import SimConfig, SimulatorHandle, connection_uris, start_simulator
from corridor.warehouse import embedded_uri
from tests.databases import temporary_database

PERIOD = "2024-06"  # one published month; the ingest window is the 12 before it too
SIM = SimConfig(seed=5, scale=0.02, first_month="2023-06", last_month=PERIOD)
STEP_TIMEOUT_S = 600


@dataclass
class Pipeline:
    """A warehouse, its landing zone and published root, fed by one simulator; runs the
    driver's steps (``tests/pipeline/driver.py``) in processes of their own."""

    simulator: SimulatorHandle
    dsn: WarehouseDsn
    root: Path

    @property
    def log_path(self) -> Path:
        return self.root / "log.jsonl"

    @property
    def published(self) -> Path:
        return self.root / "published"

    def env(self) -> dict[str, str]:
        return {**os.environ, **connection_uris(self.simulator.base_url),
                "AIRFLOW_CONN_CORRIDOR_WAREHOUSE": embedded_uri(self.dsn),
                "CORRIDOR_PERIOD_FROM": PERIOD, "CORRIDOR_PERIOD_TO": PERIOD,
                "CORRIDOR_HOME_DIR": str(self.root / "home"),
                "CORRIDOR_PUBLISH_DIR": str(self.published),
                "CORRIDOR_LANDING_DIR": str(self.root / "landing"),
                "PYTHONPATH": os.pathsep.join([str(PROJECT_DIR), str(PROJECT_DIR / "plugins")])}

    def command(self, step: str, *options: str) -> list[str]:
        return [sys.executable, "-m", "tests.pipeline.driver", step, "--log",
                str(self.log_path), *options]

    def start(self, step: str, *options: str) -> subprocess.Popen:
        return subprocess.Popen(self.command(step, *options), env=self.env(), cwd=PROJECT_DIR,
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)

    def run(self, step: str, *options: str) -> subprocess.CompletedProcess:
        return subprocess.run(self.command(step, *options), env=self.env(), cwd=PROJECT_DIR,
                              capture_output=True, text=True, timeout=STEP_TIMEOUT_S)

    def run_ok(self, step: str, *options: str) -> None:
        done = self.run(step, *options)
        assert done.returncode == 0, f"{step} {options} failed:\n{done.stdout}\n{done.stderr}"

    def log(self, op: str | None = None) -> list[dict]:
        if not self.log_path.exists():
            return []
        entries = [json.loads(line) for line in self.log_path.read_text().splitlines()]
        return [e for e in entries if op is None or e["op"] == op]

    def releases(self) -> list[Path]:
        folder = self.published / "releases"
        return sorted(folder.iterdir()) if folder.exists() else []

    def latest(self) -> Path:
        return self.published / "releases" / (self.published / "LATEST").read_text().strip()

    def query(self, sql: str, *params) -> list[tuple]:
        with psycopg.connect(self.dsn.conninfo, autocommit=True) as conn:
            return conn.execute(sql, params).fetchall()


@pytest.fixture(scope="package")
def world(warehouse_server, tmp_path_factory):
    """The simulator (revised by the tests as they go) and a first, clean pipeline run
    on its own warehouse."""
    root = tmp_path_factory.mktemp("pipeline")
    with start_simulator(SIM) as simulator, temporary_database(warehouse_server,
                                                               "pipe") as dsn:
        init_warehouse(dsn, passwords={})  # the stages connect as its roles
        pipeline = Pipeline(simulator, dsn, root / "main")
        pipeline.root.mkdir()
        pipeline.run_ok("run")
        yield pipeline
