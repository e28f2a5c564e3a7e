"""National volume end to end: ingest, dbt, gate and release of a whole window, then +1 month.

    .venv/bin/python -m bench.end_to_end --scale 500 --months 36   # RU 1 M rows a month
    .venv/bin/python -m bench.end_to_end --scale 5 --months 14     # small, quick

Runs the pipeline's own functions in this process, in the order the DAGs run them
(``corridor.ingest.plan`` / ``ingest_month`` per feed, ``corridor.transform.run_dbt``
seed + build, ``corridor.publish.run``), against an embedded PostgreSQL 16 in a
temporary home and the feed simulator in its own process (as ``corridor run``), its
bodies cached on disk (``--cache-dir``, default the project home's
``simulator-cache``: a second run of the same world reads every body back). The ingest
window is ``--months`` months ending at ``--last-month`` (publishing the last
``months - 12``). Then the simulator is restarted one month longer and the same steps run
again: what adding one month costs (the new month, the preliminary month turned final).

Stages: generate (``POST /_sim/generate``: the simulator writes every body of the world to
its disk cache the first time a world is run, and finds them later), fetch + land (ingest
minus load: requests, spooling, checksums, landing, KZ/Comtrade parsing), load (the raw
loaders: ``load_ru_customs_csv``, ``load_unit``, ``load_port_calls``), dbt, gate, release.
Peak RSS: the largest of this process and its children (``ru_maxrss``; the simulator is
one); the embedded PostgreSQL is not counted. Ends with ``end to end: <s> s, peak RSS <MB>
MB, +1 month <s> s``. Measures; asserts nothing about speed.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import sys
import tempfile
import time
import urllib.request
from collections import defaultdict
from collections.abc import Callable
from contextlib import ExitStack, contextmanager
from pathlib import Path

from corridor.config import FEED_CONN_IDS, FEED_IDS, PROJECT_DIR, connection_env_name, month_add

#: The loaders the ingest functions call: time inside them is "load".
LOADERS = ("load_ru_customs_csv", "load_unit", "load_port_calls")
STAGES = ("generate", "fetch + land", "load", "dbt", "gate", "release")


class Timings:
    def __init__(self) -> None:
        self.seconds: dict[str, float] = defaultdict(float)

    @contextmanager
    def stage(self, name: str):
        started = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[name] += time.perf_counter() - started

    def wrap(self, owner: object, name: str, stage: str) -> Callable[[], None]:
        """Time every call of ``owner.name`` into ``stage``; returns the undo."""
        original = getattr(owner, name)

        def timed(*args, **kwargs):
            with self.stage(stage):
                return original(*args, **kwargs)
        setattr(owner, name, timed)
        return lambda: setattr(owner, name, original)


def peak_rss_mb() -> tuple[float, float]:
    """(this process, its largest waited-for child) peak RSS in MB."""
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return own, children


def _window_env(args: argparse.Namespace, last_month: str) -> dict[str, str]:
    return {"CORRIDOR_PERIOD_FROM": month_add(last_month, -(args.months - 13)),
            "CORRIDOR_PERIOD_TO": last_month, "CORRIDOR_SIM_SCALE": str(args.scale),
            "CORRIDOR_SIM_LOGISTICS_SCALE": str(args.logistics_scale),
            "CORRIDOR_SIM_SEED": str(args.seed)}


def run_once(last_month: str, args: argparse.Namespace) -> Timings:
    """One pass of the pipeline over the window ending at ``last_month``."""
    from corridor import ingest
    from corridor.cli import ensure_feeds
    from corridor.config import get_settings
    from corridor.load import raw
    from corridor.publish import run as publish
    from corridor.quality import gate
    from corridor.transform import run_dbt

    os.environ.update(_window_env(args, last_month))
    for conn_id in FEED_CONN_IDS.values():  # the previous pass's simulator is gone
        os.environ.pop(connection_env_name(conn_id), None)
    settings = get_settings()
    timings = Timings()
    with ExitStack() as stack:
        for loader in LOADERS:
            stack.callback(timings.wrap(raw, loader, "load"))
        stack.callback(timings.wrap(gate, "run_gate", "gate"))
        print(f"  feeds: {ensure_feeds(settings, stack)}", flush=True)
        base_url = os.environ[connection_env_name(FEED_CONN_IDS["ru_customs"])].rstrip("/")
        with timings.stage("generate"):
            # every body of the world is written (or found) before the answer
            request = urllib.request.Request(f"{base_url}/_sim/generate", data=b"",
                                             method="POST")
            with urllib.request.urlopen(request, timeout=24 * 3600) as response:
                generated = json.loads(response.read())
        print(f"  generate: {timings.seconds['generate']:.1f} s {generated}", flush=True)
        ingest_started = time.perf_counter()
        for feed in FEED_IDS:
            started, loaded = time.perf_counter(), 0
            units = ingest.plan(feed)
            for unit in units:
                summary = ingest.ingest_month(feed, **unit)
                loaded += int(summary.get("rows_loaded") or 0) if not summary.get("skipped") \
                    else 0
            print(f"  ingest {feed}: {len(units)} units, {loaded} rows loaded, "
                  f"{time.perf_counter() - started:.1f} s", flush=True)
        ingest_seconds = time.perf_counter() - ingest_started
        timings.seconds["fetch + land"] = ingest_seconds - timings.seconds["load"]
        with timings.stage("dbt"):
            run_dbt(["seed"])
            run_dbt(["build", "--exclude", "resource_type:seed"])
        with timings.stage("release"):
            publish()
        timings.seconds["release"] -= timings.seconds["gate"]
    return timings


def report(title: str, timings: Timings) -> float:
    total = sum(timings.seconds[stage] for stage in STAGES)
    print(f"{title}:")
    for stage in STAGES:
        print(f"  {stage:<13} {timings.seconds[stage]:9.1f} s")
    print(f"  {'total':<13} {total:9.1f} s", flush=True)
    return total


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.end_to_end", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scale", type=float, default=500,
                        help="simulator scale (RU rows a month = 2 000 x scale)")
    parser.add_argument("--logistics-scale", type=float, default=1,
                        help="rail and port traffic scale (default 1: the crossings' and "
                             "ports' real traffic beside customs at national volume)")
    parser.add_argument("--months", type=int, default=36,
                        help="months of the ingest window (>= 13: 12 YoY base months + 1)")
    parser.add_argument("--last-month", default="2024-11",
                        help="the window's last month; +1 month adds the one after")
    parser.add_argument("--seed", type=int, default=20240101)
    parser.add_argument("--cache-dir", type=Path,
                        default=PROJECT_DIR / ".corridor" / "simulator-cache",
                        help="the simulator's bodies (kept: a second run reads them back)")
    parser.add_argument("--home", type=Path, default=None,
                        help="the run's home (warehouse, landing, releases); default a "
                             "temporary folder, removed at the end")
    args = parser.parse_args(argv)
    if args.months < 13:
        parser.error("--months must be at least 13")
    from corridor.cli import ensure_warehouse
    from corridor.config import get_settings
    from corridor.warehouse import _EMBEDDED

    home = args.home or Path(tempfile.mkdtemp(prefix="corridor-e2e-"))
    os.environ.update({"CORRIDOR_HOME_DIR": str(home),
                       "CORRIDOR_PUBLISH_DIR": str(home / "published"),
                       "CORRIDOR_SIM_CACHE_DIR": str(args.cache_dir),
                       **_window_env(args, args.last_month)})
    print(f"scale {args.scale} (rail and ports {args.logistics_scale}): "
          f"RU {round(2000 * args.scale)} rows a month, "
          f"{args.months} months to {args.last_month}; home {home}, "
          f"simulator cache {args.cache_dir}", flush=True)
    try:
        print(f"warehouse: {ensure_warehouse(get_settings())}", flush=True)
        first = run_once(args.last_month, args)
        total = report("window", first)
        added = run_once(month_add(args.last_month, 1), args)
        plus_one = report("+1 month", added)
    finally:
        for server in _EMBEDDED:  # stopped before its data folder goes
            server.cleanup()
        if args.home is None:
            shutil.rmtree(home, ignore_errors=True)
    own, children = peak_rss_mb()
    print(f"peak RSS: this process {own:.0f} MB, largest child (the simulator) "
          f"{children:.0f} MB")
    print(f"end to end: {total:.1f} s, peak RSS {max(own, children):.0f} MB, "
          f"+1 month {plus_one:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
