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
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from corridor import locks
from corridor.config import Settings, WarehouseDsn, get_settings, get_warehouse_dsn

log = logging.getLogger(__name__)


class DbtError(RuntimeError):
    """dbt finished with errors or failing tests."""


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


def run_dbt(args: list[str], *, settings: Settings | None = None,
            dsn: WarehouseDsn | None = None, target_dir: Path | None = None) -> None:
    """Invoke ``dbt <args>`` on the project; raise DbtError naming every failed node."""
    from dbt.cli.main import dbtRunner

    from corridor.window import resolve

    dsn = dsn or get_warehouse_dsn()
    settings = resolve(settings or get_settings(), dsn=dsn)
    project_dir = settings.dbt_project_dir
    work_dir = target_dir or settings.home_dir / "dbt"
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
    with locks.build_exclusive(dsn), _environment(dsn.dbt_env()):
        result = dbtRunner().invoke(command)
    for line in summarise(getattr(result.result, "results", None) or []):
        log.info("dbt %s: %s", args[0], line)
    if result.success:
        return
    failures: list[str] = []
    for node_result in getattr(result.result, "results", None) or []:
        status = str(getattr(node_result, "status", ""))
        if status.lower() in {"error", "fail", "runtime error"}:
            failures.append(f"{node_result.node.unique_id}: {status}: {node_result.message}")
    detail = "; ".join(failures) or str(result.exception or "see dbt log")
    raise DbtError(f"dbt {' '.join(args)} failed: {detail}")


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
