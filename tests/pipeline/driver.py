"""The pipeline's steps, each in a process of its own: what the concurrency and crash tests
start, run side by side and kill.

    python -m tests.pipeline.driver STEP [--log FILE] [--stop FILE] [--kill STAGE:AT]

Steps (the code paths the DAG tasks run; settings, warehouse and feeds from the
environment, as a task has them):

- ``run``: ingest every feed (plan, then each planned month), ``dbt seed`` (unless
  ``--no-seed``) and ``dbt build``, publish (gate and release);
- ``ingest``, ``build``, ``publish``: one of those;
- ``ingest-loop``, ``build-loop``, ``publish-loop``: that step again and again until the
  ``--stop`` file exists.

``--log`` gets one JSON line per step done (``op``, ``start``, ``end`` wall-clock
seconds, and what it did), and from ``build``/``build-loop`` the state each build left:
``state``, a digest of the published observations and of the inputs a release of those
marts names (what ``state_digest`` computes from a release).

``--kill STAGE:AT`` sends SIGKILL to this process in the middle of a stage: ``fetch``
(after the AT-th chunk of a response body reached the landing zone), ``copy`` (after
the AT-th row or block sent by a COPY), ``release`` (at the AT-th file written or synced
into a release), ``dbt`` and ``gate`` (AT seconds into the dbt build or the quality
gate). Without ``--kill``, ``run`` logs how many events each stage had and how long the
timed ones took, so that a test can choose points inside them.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import signal
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from corridor.config import FEED_IDS

COUNTED = ("fetch", "copy", "release")
TIMED = ("dbt", "gate")


def state_digest(observations: dict[str, list], inputs: list[dict]) -> str:
    """One digest for published observations (dataset -> rows of text) and inputs."""
    text = json.dumps([{name: [list(row) for row in rows]
                        for name, rows in sorted(observations.items())}, inputs],
                      sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


class Log:
    def __init__(self, path: Path | None) -> None:
        self.path = path

    def write(self, **entry) -> None:
        if self.path is None:
            return
        with self.path.open("a", encoding="utf-8") as handle:
            handle.write(json.dumps(entry) + "\n")
            handle.flush()
            os.fsync(handle.fileno())


class Killer:
    """Counts the stages' events; SIGKILLs this process at the chosen one."""

    def __init__(self, target: str | None, log: Log) -> None:
        self.stage, _, at = (target or "").partition(":")
        self.at = float(at) if at else 0.0
        self.counts: Counter[str] = Counter()
        self.seconds: Counter[str] = Counter()
        self.log = log

    def die(self) -> None:
        self.log.write(op="killed", stage=self.stage, at=self.at, end=time.time())
        os.kill(os.getpid(), signal.SIGKILL)

    def tick(self, stage: str) -> None:
        self.counts[stage] += 1
        if stage == self.stage and self.counts[stage] == int(self.at):
            self.die()

    @contextmanager
    def timed(self, stage: str) -> Iterator[None]:
        timer = threading.Timer(self.at, self.die) if stage == self.stage else None
        started = time.monotonic()
        if timer is not None:
            timer.start()
        try:
            yield
        finally:
            if timer is not None:
                timer.cancel()  # the stage ended first: no kill elsewhere
            self.seconds[stage] += time.monotonic() - started


def instrument(killer: Killer) -> None:
    """Count (and maybe kill at) the events of the untimed stages: wrap the functions
    that stream a body to the landing zone, send COPY data, write a release's files."""
    import psycopg

    from corridor.feeds import http
    from corridor.publish import release
    from corridor.quality import gate

    read = http.FeedClient._read

    class Sink:
        def __init__(self, sink) -> None:
            self.sink = sink

        def write(self, data: bytes) -> int:
            written = self.sink.write(data)
            killer.tick("fetch")
            return written

    def counted_read(self, response, sink, **kwargs):
        return read(self, response, Sink(sink), **kwargs)

    http.FeedClient._read = counted_read

    for name in ("write", "write_row"):
        original = getattr(psycopg.Copy, name)

        def counted(self, *args, _original=original, **kwargs):
            result = _original(self, *args, **kwargs)
            killer.tick("copy")
            return result

        setattr(psycopg.Copy, name, counted)

    for name in ("write_csv", "_fsync"):
        original = getattr(release, name)

        def counted(*args, _original=original, **kwargs):
            killer.tick("release")
            return _original(*args, **kwargs)

        setattr(release, name, counted)

    run_gate = gate.run_gate

    def timed_gate(*args, **kwargs):
        with killer.timed("gate"):
            return run_gate(*args, **kwargs)

    gate.run_gate = timed_gate


# --------------------------------------------------------------------------- the steps

def ingest(log: Log, feeds: tuple[str, ...] = FEED_IDS) -> None:
    from corridor.ingest import ingest_month, plan

    for feed in feeds:
        for kwargs in plan(feed):
            start = time.time()
            summary = ingest_month(feed, **kwargs)
            log.write(op="load", feed=feed, unit=kwargs["period_month"], start=start,
                      end=time.time(), skipped=summary.get("skipped"))


def build(log: Log, killer: Killer, *, seed: bool = False) -> None:
    from corridor.config import get_settings, get_warehouse_dsn
    from corridor.publish.datasets import DATASETS, read_observations
    from corridor.publish.release import read_inputs
    from corridor.transform import run_dbt
    from corridor.warehouse import connect
    from corridor.window import resolve

    if seed:
        run_dbt(["seed"])
    start = time.time()
    with killer.timed("dbt"):
        run_dbt(["build", "--exclude", "resource_type:seed"])
    end = time.time()
    # only this process builds: the marts stay as this build left them until its next
    dsn = get_warehouse_dsn("publisher")
    settings = resolve(get_settings(), dsn=dsn)
    with connect(dsn) as conn:
        observations = {d.name: read_observations(conn, d) for d in DATASETS}
        inputs = read_inputs(conn, settings)
    log.write(op="build", start=start, end=end, state=state_digest(observations, inputs))


def publish(log: Log) -> None:
    from corridor.publish import run

    start = time.time()
    release = run()
    log.write(op="publish", start=start, end=time.time(), release=release.name)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m tests.pipeline.driver")
    parser.add_argument("step", choices=["run", "ingest", "build", "publish", "ingest-loop",
                                         "build-loop", "publish-loop"])
    parser.add_argument("--log", type=Path)
    parser.add_argument("--stop", type=Path)
    parser.add_argument("--kill", help="STAGE:AT, STAGE one of " + ", ".join(COUNTED + TIMED))
    parser.add_argument("--feeds", default=",".join(FEED_IDS))
    parser.add_argument("--no-seed", action="store_true",
                        help="build without `dbt seed` first (the seeds are loaded already)")
    args = parser.parse_args(argv)
    log = Log(args.log)
    killer = Killer(args.kill, log)
    instrument(killer)
    feeds = tuple(args.feeds.split(","))

    if args.step.endswith("-loop"):
        step = {"ingest-loop": lambda: ingest(log, feeds), "build-loop": lambda: build(log, killer),
                "publish-loop": lambda: publish(log)}[args.step]
        while not args.stop.exists():
            step()
            time.sleep(0.5)
        return
    if args.step in ("run", "ingest"):
        ingest(log, feeds)
    if args.step in ("run", "build"):
        build(log, killer, seed=not args.no_seed)
    if args.step in ("run", "publish"):
        publish(log)
    if args.step == "run":
        log.write(op="stages", counts=dict(killer.counts), seconds=dict(killer.seconds),
                  end=time.time())


if __name__ == "__main__":
    main()
