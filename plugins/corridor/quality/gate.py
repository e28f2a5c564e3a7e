"""The publish gate: run the committed checkpoint, fail on any critical expectation.

Each run's validation results are stored by the checkpoint in the context's
validation results store (``expectations/gx/uncommitted/validations/``, git-ignored),
and the run's Data Docs are rendered into the context's local site
(``expectations/gx/uncommitted/data_docs/local_site/``); the summary's ``data_docs``
is that site's ``index.html``, which the release manifest links to.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
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


def build_data_docs(context, checkpoint_result) -> str | None:
    """Render this run's validation results into the local Data Docs site (and its
    index); return the absolute path of the site's ``index.html``."""
    identifiers = list(checkpoint_result.run_results)
    context.build_data_docs(site_names=[DOCS_SITE], resource_identifiers=identifiers)
    for site in context.get_docs_sites_urls(site_name=DOCS_SITE, only_if_exists=False):
        url = site.get("site_url")
        if url and url.startswith("file://"):
            return str(Path(unquote(urlsplit(url).path)).resolve())
    return None


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
    carries ``data_docs``: the absolute path of the Data Docs index, None if the site
    could not be built.
    """
    settings = settings or get_settings()
    dsn = dsn or get_warehouse_dsn("gate")
    with reading_snapshot(dsn.sqlalchemy_url, snapshot) as url:
        context = get_context(settings.gx_context_dir, warehouse_url=url)
        try:
            result = context.checkpoints.get(CHECKPOINT).run()
        finally:
            _dispose_engines(context)
    summary = summarise_checkpoint(result)
    try:
        summary["data_docs"] = build_data_docs(context, result)
    except Exception:  # noqa: BLE001 - the docs are a report: never what blocks a release
        log.exception("quality gate: Data Docs could not be built")
        summary["data_docs"] = None
    log.info("quality gate: %s evaluated, %s critical failed, %s warnings failed; "
             "Data Docs %s", summary["evaluated"], summary["failed"],
             summary["failed_warnings"], summary["data_docs"])
    if not summary["success"]:
        raise QualityGateFailed(summary)
    return summary
