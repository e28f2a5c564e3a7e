"""The publish gate: run the committed checkpoint, fail on any critical expectation."""

from __future__ import annotations

import logging

from corridor.config import Settings, WarehouseDsn, get_settings, get_warehouse_dsn
from corridor.quality.context import CHECKPOINT, get_context

log = logging.getLogger(__name__)


class QualityGateFailed(RuntimeError):
    """At least one critical expectation failed: nothing may be published."""

    def __init__(self, summary: dict):
        self.summary = summary
        failed = [c for c in summary["checks"] if c["severity"] == "critical" and not c["success"]]
        lines = "\n".join(f"  - {c['name']} ({c['suite']}): {c['observed']}" for c in failed)
        super().__init__(f"quality gate failed: {len(failed)} critical expectation(s)\n{lines}")


def _observed(result) -> str:
    detail = result.result or {}
    for key in ("unexpected_count", "observed_value", "unexpected_percent"):
        if key in detail and detail[key] is not None:
            return f"{key}={detail[key]}"
    if result.exception_info and result.exception_info.get("raised_exception"):
        return "error: " + str(result.exception_info.get("exception_message"))[:300]
    return ""


def summarise_checkpoint(checkpoint_result) -> dict:
    """The manifest's ``quality`` section from a GX CheckpointResult."""
    checks = []
    for suite_result in checkpoint_result.run_results.values():
        for result in suite_result.results:
            config = result.expectation_config
            severity = str(getattr(config.severity, "value", config.severity) or "critical")
            checks.append({
                "name": config.description or config.type,
                "suite": suite_result.suite_name,
                "severity": severity,
                "success": bool(result.success),
                "observed": _observed(result),
            })
    failed_critical = [c for c in checks if c["severity"] == "critical" and not c["success"]]
    failed_warnings = [c for c in checks if c["severity"] != "critical" and not c["success"]]
    return {
        "success": not failed_critical,
        "evaluated": len(checks),
        "failed": len(failed_critical),
        "failed_warnings": len(failed_warnings),
        "checks": checks,
    }


def run_gate(settings: Settings | None = None, dsn: WarehouseDsn | None = None) -> dict:
    """Run the checkpoint against the warehouse; raise QualityGateFailed if it must block."""
    settings = settings or get_settings()
    dsn = dsn or get_warehouse_dsn()
    context = get_context(settings.gx_context_dir, warehouse_url=dsn.sqlalchemy_url)
    result = context.checkpoints.get(CHECKPOINT).run()
    summary = summarise_checkpoint(result)
    log.info("quality gate: %s evaluated, %s critical failed, %s warnings failed",
             summary["evaluated"], summary["failed"], summary["failed_warnings"])
    if not summary["success"]:
        raise QualityGateFailed(summary)
    return summary
