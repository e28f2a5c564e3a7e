"""Run dbt against the warehouse with dbt's programmatic runner.

dbtRunner runs in the task's own process: no extra interpreter start per model and
no dependency on cosmos' per-model task graph, which on a 2-core worker would cost
more in scheduling than the models take to build. The dbt project itself is plain
dbt, so cosmos can render it later without changes.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from corridor import locks
from corridor.config import Settings, WarehouseDsn, get_settings, get_warehouse_dsn
from corridor.quality.gate import QualityGateFailed

if TYPE_CHECKING:
    import psycopg

log = logging.getLogger(__name__)


class DbtError(RuntimeError):
    """dbt finished with errors or failing tests."""


class MartsNotBuilt(RuntimeError):
    """The marts are not those of a finished, successful dbt build: nothing may be
    published from them."""


#: dbt commands that rebuild the marts: each is recorded in ``ingest.dbt_builds``.
REBUILDS = ("build", "run")


@contextmanager
def _environment(values: dict[str, str]) -> Iterator[None]:
    saved = {key: os.environ.get(key) for key in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def dbt_vars(settings: Settings) -> str:
    return json.dumps({"period_from": settings.period_from, "period_to": settings.period_to})


class SourcesStale(QualityGateFailed):
    """A source is older than its ``error_after`` (``dbt source freshness``): the
    gate fails, nothing is published."""

    def __init__(self, freshness: list[dict]):
        super().__init__({"success": False, "checks": [], "source_freshness": freshness})
        stale = [f"  - {f['source']}: {f['status']} (newest load {f['max_loaded_at']})"
                 for f in freshness if f["status"] not in {"pass", "warn"}]
        self.args = ("quality gate failed: source freshness\n" + "\n".join(stale),)


def source_freshness(settings: Settings | None = None,
                     dsn: WarehouseDsn | None = None) -> list[dict]:
    """``dbt source freshness`` (a check of the gate: at ``dsn``, else as the gate role):
    every source's status (pass, warn, error, runtime error) and newest load, by source
    name. Raise :class:`SourcesStale` when one is not pass or warn (its thresholds: the
    sources' yml)."""
    result = _invoke(["source", "freshness"], settings=settings, dsn=dsn, role="gate")
    freshness = sorted(
        ({"source": f"{r.node.source_name}.{r.node.name}", "status": str(r.status),
          "max_loaded_at": (r.max_loaded_at.isoformat()
                            if getattr(r, "max_loaded_at", None) else None)}
         for r in getattr(result.result, "results", None) or []
         if getattr(r.node, "resource_type", None) == "source"),  # not the run hooks
        key=lambda f: f["source"])
    if not freshness and result.exception is not None:
        raise DbtError(f"dbt source freshness failed: {result.exception}")
    for f in freshness:
        log.info("source freshness: %s %s (newest load %s)", f["source"], f["status"],
                 f["max_loaded_at"])
    if any(f["status"] not in {"pass", "warn"} for f in freshness):
        raise SourcesStale(freshness)
    return freshness


def run_dbt(args: list[str], *, settings: Settings | None = None,
            dsn: WarehouseDsn | None = None, target_dir: Path | None = None) -> None:
    """Invoke ``dbt <args>`` on the project (at ``dsn``, else as the transformer role);
    raise DbtError naming every failed node.

    ``target_dir``: dbt's target and logs folder, default one of this invocation only."""
    result = _invoke(args, settings=settings, dsn=dsn, target_dir=target_dir,
                     role="transformer")
    if result.success:
        return
    failures: list[str] = []
    for node_result in getattr(result.result, "results", None) or []:
        status = str(getattr(node_result, "status", ""))
        if status.lower() in {"error", "fail", "runtime error"}:
            failures.append(f"{node_result.node.unique_id}: {status}: {node_result.message}")
    detail = "; ".join(failures) or str(result.exception or "see dbt log")
    raise DbtError(f"dbt {' '.join(args)} failed: {detail}")


def _invoke(args: list[str], *, role: str, settings: Settings | None = None,
            dsn: WarehouseDsn | None = None, target_dir: Path | None = None):
    """``dbt <args>`` on the project under the build lock; dbt's result object.

    ``target_dir``: where dbt keeps its target and logs (``corridor docs`` keeps the site
    there); default a temporary folder removed when dbt is done."""
    from corridor.window import resolve

    dsn = dsn or get_warehouse_dsn(role)
    settings = resolve(settings or get_settings(), dsn=dsn)
    if target_dir is not None:
        return _invoke_in(args, settings, dsn, target_dir)
    # dbt's target and logs are of this invocation only: nothing a later task (on
    # another worker) reads is left on this one's disk (dbt parses the project afresh)
    with tempfile.TemporaryDirectory(prefix="corridor-dbt-") as work_dir:
        return _invoke_in(args, settings, dsn, Path(work_dir))


def _invoke_in(args: list[str], settings: Settings, dsn: WarehouseDsn, work_dir: Path):
    from dbt.cli.main import dbtRunner

    project_dir = settings.dbt_project_dir
    command = [
        # node lines go to dbt's log file only; the task logs the summary below
        "--quiet", *args,
        "--project-dir", str(project_dir),
        "--profiles-dir", str(project_dir),
        "--target-path", str(work_dir / "target"),
        "--log-path", str(work_dir / "logs"),
        "--vars", dbt_vars(settings),
    ]
    log.info("dbt %s", " ".join(args))
    # The build lock, exclusively, for the whole invocation (corridor.locks): no unit
    # load commits while dbt reads raw or rebuilds the marts. The profile's password is
    # in os.environ for this call only.
    with locks.build_exclusive(dsn) as lock, _environment(dsn.dbt_env()):
        build_id = _start_build(lock, args[0]) if args[0] in REBUILDS else None
        result = None
        try:
            result = dbtRunner().invoke(command)
        finally:
            if build_id is not None:
                _finish_build(lock, build_id, bool(result and result.success))
    for line in summarise(getattr(result.result, "results", None) or []):
        log.info("dbt %s: %s", args[0], line)
    return result


def _start_build(conn: psycopg.Connection, command: str) -> int:
    """Record a build starting, with the loaded units it reads (no load commits while
    it holds the build lock)."""
    from corridor.load.raw import ensure_raw_schema

    ensure_raw_schema(conn)
    return conn.execute(
        """
        insert into ingest.dbt_builds (command, inputs)
        select %s, coalesce(jsonb_agg(jsonb_build_object(
                   'feed', feed, 'unit', unit, 'period_month', period_month,
                   'revision', revision, 'status', status) order by feed, unit), '[]')
        from raw.loaded_units
        returning build_id
        """, (command,)).fetchone()[0]


def _finish_build(conn: psycopg.Connection, build_id: int, success: bool) -> None:
    conn.execute("update ingest.dbt_builds set finished_at = now(), success = %s "
                 "where build_id = %s", (success, build_id))


def built_inputs(conn: psycopg.Connection) -> list[dict]:
    """The loaded units the marts were built from: the latest build's, which must have
    finished successfully (else :class:`MartsNotBuilt`: a build killed or failed halfway
    leaves some marts rebuilt and others not)."""
    recorded = conn.execute("select to_regclass('ingest.dbt_builds')").fetchone()[0]
    row = recorded and conn.execute(
        "select build_id, started_at, finished_at, success, inputs "
        "from ingest.dbt_builds order by build_id desc limit 1").fetchone()
    if not row:  # no table yet (a warehouse never transformed), or no build in it
        raise MartsNotBuilt("no dbt build of the marts is recorded (ingest.dbt_builds): "
                            "run the transform first")
    build_id, started_at, finished_at, success, inputs = row
    if not success:
        state = "did not finish (killed?)" if finished_at is None else "failed"
        raise MartsNotBuilt(f"the latest dbt build of the marts (#{build_id}, started "
                            f"{started_at:%Y-%m-%d %H:%M:%S %Z}) {state}: its marts may be "
                            "half rebuilt; run the transform again before publishing")
    return inputs


def summarise(results, slowest: int = 5) -> list[str]:
    """dbt's run results in a few lines: nodes by type and status, the slowest nodes."""
    from collections import Counter

    counts = Counter((r.node.resource_type, str(r.status)) for r in results
                     if getattr(r, "node", None) is not None)
    if not counts:
        return []
    lines = [", ".join(f"{n} {kind}s {status}" for (kind, status), n in sorted(counts.items()))]
    timed = sorted((r for r in results if getattr(r, "node", None) is not None),
                   key=lambda r: r.execution_time or 0, reverse=True)[:slowest]
    lines.append("slowest: " + ", ".join(f"{r.node.name} {r.execution_time:.1f} s"
                                         for r in timed))
    return lines
