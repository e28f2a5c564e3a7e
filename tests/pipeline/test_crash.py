"""SIGKILL anywhere in the pipeline, then rerun: the end state is a clean run's.

Each round the publishers revise some units, a pipeline run (ingest, dbt, publish:
the driver, one process) is killed at a random point of one stage — mid-body while a
response streams into the landing zone, mid-COPY, mid-``dbt build``, mid-gate, while a
release's files are written — and the run is started again. After the last round, the
raw fingerprint, every mart and the latest release equal those of one clean run on a
fresh warehouse against the same publishers.

``CORRIDOR_TEST_KILL_ROUNDS`` (default 5, one per stage) sets the rounds; the seed of
the kill points is printed, ``CORRIDOR_TEST_KILL_SEED`` replays one.
"""

from __future__ import annotations

import json
import os
import random
import signal

import psycopg

from corridor.load.fingerprint import VOLATILE_COLUMNS, raw_fingerprint
from corridor.publish.datasets import DATASETS, read_csv
from corridor.roles import init_warehouse
from tests.databases import temporary_database
from tests.pipeline.conftest import Pipeline
from tests.pipeline.driver import COUNTED, TIMED

STAGES = ("fetch", "copy", "dbt", "gate", "release")
COMTRADE_REPORTERS = (156, 860, 417, 792, 31)
#: The incremental marts' bookkeeping: a digest of each month's loaded units, which
#: holds the load time of units without a sha256 (comtrade): not data, and not equal
#: across two warehouses that loaded the same rows at different times.
MARTS_VOLATILE = VOLATILE_COLUMNS | {"period_fingerprint"}


def revise(pipeline: Pipeline, round_number: int) -> list[str]:
    """Each feed with revisions re-publishes one unit: a different month each round."""
    months = [f"2023-{m:02d}" for m in range(7, 13)] + [f"2024-{m:02d}" for m in range(1, 7)]
    month = months[round_number % len(months)]
    revised = []
    for feed, unit in (("ru_customs", month), ("kz_customs", months[-1 - round_number % 12]),
                       ("rail", f"{month}-1{round_number % 10}")):
        pipeline.simulator.revise(feed, unit)
        revised.append(f"{feed} {unit}")
    for reporter in COMTRADE_REPORTERS:
        try:
            pipeline.simulator.revise("comtrade", f"{reporter}:{month}")
        except KeyError:  # that reporter did not report the month
            continue
        revised.append(f"comtrade {reporter}:{month}")
        break
    return revised


def kill_point(stage: str, measured: dict, rng: random.Random) -> str:
    """A point inside ``stage`` of an incremental run like the measured one."""
    if stage in TIMED:
        return f"{stage}:{rng.uniform(0.1, 0.7) * measured['seconds'][stage]:.2f}"
    assert stage in COUNTED
    return f"{stage}:{rng.randint(1, max(1, int(0.8 * measured['counts'][stage])))}"


def state(pipeline: Pipeline) -> dict:
    with psycopg.connect(pipeline.dsn.conninfo, autocommit=True) as conn:
        fingerprints = {"raw": raw_fingerprint(conn),
                        "marts": raw_fingerprint(conn, "marts", MARTS_VOLATILE)}
    latest = pipeline.latest()
    manifest = json.loads((latest / "manifest.json").read_text(encoding="utf-8"))
    return {**fingerprints, "inputs": manifest["inputs"], "coverage": manifest["coverage"],
            "observations": {d.name: read_csv(latest / f"{d.name}.csv") for d in DATASETS}}


def test_sigkill_at_random_points_then_rerun_ends_as_a_clean_run(world, warehouse_server):
    rounds = int(os.environ.get("CORRIDOR_TEST_KILL_ROUNDS", len(STAGES)))
    seed = int(os.environ.get("CORRIDOR_TEST_KILL_SEED", random.randrange(1 << 30)))
    rng = random.Random(seed)
    print(f"kill rounds: {rounds}, seed {seed} (CORRIDOR_TEST_KILL_SEED replays it)")

    # an incremental run of the rounds' shape, measured: the stages' events and times
    revise(world, 0)
    world.run_ok("run", "--no-seed")
    measured = world.log("stages")[-1]
    assert all(measured["counts"].get(stage, 0) > 0 for stage in COUNTED), measured

    kills = []
    for round_number in range(1, rounds + 1):
        stage = STAGES[(round_number - 1) % len(STAGES)]
        revised = revise(world, round_number)
        point = kill_point(stage, measured, rng)
        killed = world.run("run", "--no-seed", "--kill", point)
        context = f"round {round_number} (seed {seed}), kill at {point}, revised {revised}"
        assert killed.returncode == -signal.SIGKILL, (
            f"{context}: the run was not killed (exit {killed.returncode}):\n"
            f"{killed.stdout[-3000:]}\n{killed.stderr[-3000:]}")
        assert world.log()[-1]["op"] == "killed", context
        kills.append(point)
        world.run_ok("run", "--no-seed")  # the rerun
    assert {point.split(":")[0] for point in kills} == set(STAGES[:rounds])

    with temporary_database(warehouse_server, "clean") as dsn:
        init_warehouse(dsn, passwords={})
        clean = Pipeline(world.simulator, dsn, world.root.parent / "clean")
        clean.root.mkdir()
        clean.run_ok("run")
        expected = state(clean)
    got = state(world)
    for part in ("raw", "marts", "inputs", "coverage", "observations"):
        assert got[part] == expected[part], f"{part} differs from a clean run (seed {seed})"
    # what was compared is not trivial: every feed, thousands of rows, both datasets
    assert {table for table, (rows, _) in got["raw"].items() if rows} >= {
        "raw.ru_customs_rows", "raw.kz_customs_rows", "raw.comtrade_rows",
        "raw.port_calls", "raw.rail_consignments", "raw.loaded_units"}
    assert sum(rows for rows, _ in got["raw"].values()) > 2_000
    assert all(len(rows) > 50 for rows in got["observations"].values())
    print(f"kills: {kills}; raw rows {sum(r for r, _ in got['raw'].values())}, lost or "
          "duplicated 0 (fingerprints equal)")
