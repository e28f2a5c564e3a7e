"""The publish gate: run the committed checkpoint, fail on any critical expectation.

Each run's validation results are stored by the checkpoint in the context's
validation results store (``expectations/gx/uncommitted/validations/``, git-ignored),
and the run's Data Docs are rendered into the context's local site
(``expectations/gx/uncommitted/data_docs/local_site/``); the summary's ``data_docs``
is that site's ``index.html``, which the release manifest links to.
"""

from __future__ import annotations

import logging
from pathlib import Path
from urllib.parse import unquote, urlsplit

from corridor.config import Settings, WarehouseDsn, get_settings, get_warehouse_dsn
from corridor.quality.context import (
    CHECKPOINT,
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


def run_gate(settings: Settings | None = None, dsn: WarehouseDsn | None = None) -> dict:
    """Run the checkpoint against the warehouse; raise QualityGateFailed if it must block.

    The summary (also on failure, in the exception) carries ``data_docs``: the
    absolute path of the Data Docs index, None if the site could not be built.
    """
    settings = settings or get_settings()
    dsn = dsn or get_warehouse_dsn()
    context = get_context(settings.gx_context_dir, warehouse_url=dsn.sqlalchemy_url)
    result = context.checkpoints.get(CHECKPOINT).run()
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
