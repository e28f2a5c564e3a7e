"""The publish gate: run the committed checkpoint, fail on any critical expectation.

Each run works on a copy of the committed context (``expectations/gx`` without its
``uncommitted/``) in a temporary folder of its own, removed at the end: the
checkpoint's validation results and the Data Docs it renders stay on no worker's disk.
The run's Data Docs site is then published under the published root
(``<CORRIDOR_PUBLISH_URL>/data-docs/<gate run>/``, :mod:`corridor.storage`), next to the
releases, whichever worker gated; the summary's ``data_docs`` is that site's
``index.html``, which the release manifest links to (and the failure message names).
"""

from __future__ import annotations

import logging
import secrets
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import unquote, urlsplit

from corridor.config import Settings, WarehouseDsn, get_settings, get_warehouse_dsn
from corridor.quality.context import (
    CHECKPOINT,
    DATASOURCE,
    DOCS_SITE,
    get_context,
    summarise_checkpoint,
)

__all__ = ["QualityGateFailed", "build_data_docs", "run_gate", "summarise_checkpoint"]

log = logging.getLogger(__name__)


class QualityGateFailed(RuntimeError):
    """At least one critical expectation failed: nothing may be published."""

    def __init__(self, summary: dict):
        self.summary = summary
        failed = [c for c in summary["checks"] if c["severity"] == "critical" and not c["success"]]
        lines = "\n".join(f"  - {c['name']} ({c['suite']}): {c['observed']}" for c in failed)
        docs = f"\nData Docs: {summary['data_docs']}" if summary.get("data_docs") else ""
        super().__init__(f"quality gate failed: {len(failed)} critical expectation(s)\n{lines}"
                         f"{docs}")


def _dispose_engines(context) -> None:
    """Close GX's pooled warehouse connections now (their transactions read the
    snapshot; they must not outlive the exporting transaction's use)."""
    try:
        datasource = context.data_sources.get(DATASOURCE)
    except Exception:  # noqa: BLE001 - nothing opened
        return
    execution_engine = getattr(datasource, "_execution_engine", None)
    for engine in (getattr(datasource, "_engine", None),
                   getattr(execution_engine, "engine", None)):
        if engine is not None and hasattr(engine, "dispose"):
            engine.dispose()


def build_data_docs(context, checkpoint_result) -> Path | None:
    """Render this run's validation results into the context's local Data Docs site
    (and its index); return the absolute path of the site's ``index.html``."""
    identifiers = list(checkpoint_result.run_results)
    context.build_data_docs(site_names=[DOCS_SITE], resource_identifiers=identifiers)
    for site in context.get_docs_sites_urls(site_name=DOCS_SITE, only_if_exists=False):
        url = site.get("site_url")
        if url and url.startswith("file://"):
            return Path(unquote(urlsplit(url).path)).resolve()
    return None


def publish_data_docs(index: Path, settings: Settings) -> str:
    """Copy a Data Docs site (its ``index``'s folder) to
    ``<published root>/data-docs/<UTC time>-<hex>/``; that copy's ``index.html``."""
    from corridor import storage

    run_id = f"{datetime.now(UTC):%Y%m%dT%H%M%SZ}-{secrets.token_hex(4)}"
    target = settings.publish_root / "data-docs" / run_id
    storage.put_tree(index.parent, target)
    return str(target / index.name)


@contextmanager
def working_context_dir(settings: Settings) -> Iterator[Path]:
    """A temporary copy of the committed context (``uncommitted/`` left out), removed
    when the block ends: where this run's results and Data Docs are written."""
    with tempfile.TemporaryDirectory(prefix="corridor-gx-") as work:
        shutil.copytree(settings.gx_context_dir / "gx", Path(work) / "gx",
                        ignore=shutil.ignore_patterns("uncommitted"))
        yield Path(work)


@contextmanager
def reading_snapshot(url: str, snapshot: str | None) -> Iterator[str]:
    """``url`` for GX whose every transaction reads the exported ``snapshot``.

    GX opens its own SQLAlchemy engine and connections; each transaction it begins on
    them first runs ``SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY`` and
    ``SET TRANSACTION SNAPSHOT`` (a ``begin`` listener on every Engine while the block
    runs, acting only on engines opened with this URL, which carries a unique
    ``application_name``). A snapshot that cannot be imported fails the statement, so
    the gate never silently reads another state.
    """
    if snapshot is None:
        yield url
        return
    import sqlalchemy
    from sqlalchemy.engine import make_url

    tag = f"corridor-gate-{secrets.token_hex(6)}"
    tagged = make_url(url).update_query_dict({"application_name": tag})

    def import_snapshot(connection) -> None:
        if connection.engine.url.query.get("application_name") != tag:
            return
        cursor = connection.connection.dbapi_connection.cursor()
        try:
            cursor.execute("set transaction isolation level repeatable read, read only")
            cursor.execute("set transaction snapshot %s", (snapshot,))
        finally:
            cursor.close()

    sqlalchemy.event.listen(sqlalchemy.Engine, "begin", import_snapshot)
    try:
        yield tagged.render_as_string(hide_password=False)
    finally:
        sqlalchemy.event.remove(sqlalchemy.Engine, "begin", import_snapshot)


def run_gate(settings: Settings | None = None, dsn: WarehouseDsn | None = None, *,
             snapshot: str | None = None) -> dict:
    """Run the checkpoint against the warehouse; raise QualityGateFailed if it must block.

    ``snapshot``: an exported snapshot (``pg_export_snapshot()``) every check reads,
    see :func:`corridor.publish.run`. The summary (also on failure, in the exception)
    carries ``data_docs``: where the Data Docs index was published (module docstring),
    None if the site could not be built or published.
    """
    settings = settings or get_settings()
    dsn = dsn or get_warehouse_dsn("gate")
    with working_context_dir(settings) as context_dir:
        with reading_snapshot(dsn.sqlalchemy_url, snapshot) as url:
            context = get_context(context_dir, warehouse_url=url)
            try:
                result = context.checkpoints.get(CHECKPOINT).run()
            finally:
                _dispose_engines(context)
        summary = summarise_checkpoint(result)
        try:
            index = build_data_docs(context, result)
            summary["data_docs"] = index and publish_data_docs(index, settings)
        except Exception:  # noqa: BLE001 - the docs are a report: never what blocks a release
            log.exception("quality gate: Data Docs could not be built or published")
            summary["data_docs"] = None
    log.info("quality gate: %s evaluated, %s critical failed, %s warnings failed; "
             "Data Docs %s", summary["evaluated"], summary["failed"],
             summary["failed_warnings"], summary["data_docs"])
    if not summary["success"]:
        raise QualityGateFailed(summary)
    return summary
