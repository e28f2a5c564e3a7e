"""Unit loads, dbt builds and publishes at the same time, in processes of their own,
again and again: every release is a state a build left and the gate checked, and no
build fails because of the interleaving.

Three driver loops run side by side against one warehouse while the publishers revise
units: ``ingest-loop`` polls the two customs feeds and loads what changed,
``build-loop`` runs ``dbt build`` back to back and logs the state each build left (a
digest of the observations and of the inputs a release of those marts names),
``publish-loop`` gates and releases. Every release folder must then carry one of the
logged states: the gate and the release read one snapshot between builds
(``tests/hostile/test_locks.py`` shows the gate reads that snapshot), and a release
names the inputs its marts were built from.
"""

from __future__ import annotations

import json
import os
import subprocess
import time

from corridor.publish.datasets import DATASETS, read_csv
from tests.pipeline.conftest import Pipeline
from tests.pipeline.driver import state_digest

ROUNDS = int(os.environ.get("CORRIDOR_TEST_CONCURRENT_ROUNDS", 4))
WAIT_S = 240


def release_state(release) -> str:
    manifest = json.loads((release / "manifest.json").read_text(encoding="utf-8"))
    return state_digest({d.name: read_csv(release / f"{d.name}.csv") for d in DATASETS},
                        manifest["inputs"])


def wait_for(what: str, condition, procs: dict[str, subprocess.Popen]) -> None:
    deadline = time.monotonic() + WAIT_S
    while not condition():
        dead = {name: p.returncode for name, p in procs.items() if p.poll() is not None}
        assert not dead, f"waiting for {what}: a loop ended: {dead}"
        assert time.monotonic() < deadline, f"no {what} within {WAIT_S} s"
        time.sleep(0.5)


def revision(pipeline: Pipeline, feed: str, unit: str) -> int:
    return pipeline.query("select revision from raw.loaded_units where feed = %s "
                          "and unit = %s", feed, unit)[0][0]


def overlap(a: dict, b: dict) -> bool:
    return a["start"] < b["end"] and b["start"] < a["end"]


def test_loads_builds_and_publishes_at_once_release_only_built_gated_states(world):
    stop = world.root / "stop-loops"
    first_build = world.query("select coalesce(max(build_id), 0) from ingest.dbt_builds")[0][0]
    since = len(world.log())
    procs = {
        "ingest": world.start("ingest-loop", "--stop", str(stop),
                              "--feeds", "ru_customs,kz_customs"),
        "build": world.start("build-loop", "--stop", str(stop)),
        "publish": world.start("publish-loop", "--stop", str(stop)),
    }
    try:
        for round_number in range(ROUNDS):
            month = f"2024-0{1 + round_number % 6}"
            revised = [("ru_customs", month), ("kz_customs", month)]
            before = {unit: revision(world, *unit) for unit in revised}
            for feed, unit in revised:
                world.simulator.revise(feed, unit)
            wait_for(f"round {round_number}'s loads", lambda before=before, revised=revised: all(
                revision(world, *unit) > before[unit] for unit in revised), procs)
            loaded = time.time()
            wait_for(f"a build after round {round_number}'s loads", lambda loaded=loaded: any(
                b["start"] > loaded for b in world.log("build")[-3:]), procs)
    finally:
        stop.touch()
        outputs = {}
        for name, proc in procs.items():
            try:
                outputs[name] = proc.communicate(timeout=WAIT_S)[0]
            except subprocess.TimeoutExpired:
                proc.kill()
                outputs[name] = proc.communicate()[0]
    for name, proc in procs.items():
        assert proc.returncode == 0, f"{name} loop failed:\n{outputs[name][-5000:]}"

    entries = world.log()[since:]
    loads = [e for e in entries if e["op"] == "load" and not e.get("skipped")]
    builds = [e for e in entries if e["op"] == "build"]
    publishes = [e for e in entries if e["op"] == "publish"]
    # they did run at the same time: loads and publishes while a build ran
    assert any(overlap(load, build) for load in loads for build in builds)
    assert any(overlap(publish, build) for publish in publishes for build in builds)
    assert len(builds) >= ROUNDS and len({p["release"] for p in publishes}) >= 2
    # no build failed (a loop stops at its first failure; the warehouse's record agrees)
    assert world.query("select count(*), count(*) filter (where success) from "
                       "ingest.dbt_builds where build_id > %s", first_build)[0] == (
        len(builds), len(builds))

    states = {e["state"] for e in world.log("build")}
    for release in world.releases():
        assert release_state(release) in states, (
            f"release {release.name} is no state a build left")
    # and the last state built is published, with the last revisions loaded
    world.run_ok("publish")
    last = world.log("build")[-1]["state"]
    assert release_state(world.latest()) == last
    manifest = json.loads((world.latest() / "manifest.json").read_text(encoding="utf-8"))
    held = {(u["feed"], u["unit"]): u["revision"] for u in manifest["inputs"]}
    for round_number in range(ROUNDS):
        for feed in ("ru_customs", "kz_customs"):
            unit = (feed, f"2024-0{1 + round_number % 6}")
            assert held[unit] == revision(world, *unit)
    print(f"concurrent rounds: {ROUNDS}; {len(loads)} loads, {len(builds)} builds, "
          f"{len(publishes)} publishes, {len({p['release'] for p in publishes})} releases")
