"""The committed GX file context under ``expectations/``, its sync from code, and an
ephemeral validation of the same suites (tests, ad-hoc checks).

Importing this module registers the suites' custom expectation
(:class:`corridor.quality.suites.BoundedUnexpectedRows`): open a context holding
these suites only through :func:`get_context`.
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path

from corridor.quality.suites import SuiteSpec, build_suites

DATASOURCE = "corridor_warehouse"
CHECKPOINT = "corridor_publish_gate"
#: The committed context's Data Docs site (great_expectations.yml, under uncommitted/).
DOCS_SITE = "local_site"
#: The datasource's connection string is this variable, substituted at run time, so the
#: committed context holds no host, path or secret.
URL_VARIABLE = "CORRIDOR_GX_WAREHOUSE_URL"
#: Expectation ids derive from suite and check name: a re-sync changes no file.
ID_NAMESPACE = uuid.UUID("5b0c1d2e-7c43-4a59-9a57-0c7d1f1e2a10")
#: Counts and at most 20 unexpected values per check: results stay small whatever the
#: table size (row checks bound their sample in SQL, see suites.BoundedUnexpectedRows).
RESULT_FORMAT = {"result_format": "SUMMARY"}


#: What ``${CORRIDOR_GX_WAREHOUSE_URL}`` resolves to when no warehouse is given.
UNSET_URL = "postgresql+psycopg2://unset"


def get_context(context_dir: Path, warehouse_url: str | None = None):
    """Open the file context (``context_dir/gx``) with the warehouse URL if given.

    The URL (with its password) reaches GX as the context's *runtime environment*,
    which GX's config substitution reads before ``os.environ``: it is never put in the
    process environment, where every later subprocess and crash report would see it.
    """
    import great_expectations as gx

    if warehouse_url is not None:
        runtime = {URL_VARIABLE: warehouse_url}
    elif URL_VARIABLE in os.environ:  # set by the operator: GX reads it from there
        runtime = {}
    else:
        runtime = {URL_VARIABLE: UNSET_URL}
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
    return gx.get_context(mode="file", project_root_dir=str(context_dir),
                          runtime_environment=runtime)


def _validation_name(spec: SuiteSpec) -> str:
    return f"{spec.name}__{spec.schema}_{spec.table}"


def _add_checkpoint(context, datasource, specs: list[SuiteSpec], *, stable_ids: bool):
    """Assets, suites, validation definitions and the checkpoint (replacing same names)."""
    import great_expectations as gx

    validations = []
    for spec in specs:
        asset = next((a for a in datasource.assets if a.name == spec.asset_name), None)
        if asset is None:
            asset = datasource.add_table_asset(name=spec.asset_name, table_name=spec.table,
                                               schema_name=spec.schema)
        batch_definition = next(
            (b for b in asset.batch_definitions if b.name == "whole_table"), None
        ) or asset.add_batch_definition_whole_table("whole_table")
        suite = gx.ExpectationSuite(name=spec.name, expectations=spec.expectations)
        if stable_ids:
            _set_stable_ids(spec, suite)
        suite = context.suites.add_or_update(suite)
        if stable_ids and _set_stable_ids(spec, suite):
            # GX gives a suite it has just created fresh random ids; an update keeps ours
            suite = context.suites.add_or_update(suite)
        validation = gx.ValidationDefinition(name=_validation_name(spec),
                                             data=batch_definition, suite=suite)
        validations.append(context.validation_definitions.add_or_update(validation))
    return context.checkpoints.add_or_update(
        gx.Checkpoint(name=CHECKPOINT, validation_definitions=validations,
                      result_format=RESULT_FORMAT))


def _set_stable_ids(spec: SuiteSpec, suite) -> bool:
    """Derive each expectation's id from suite and check name; whether any changed.

    (The suite's own id is GX's, drawn when ``sync`` first creates the suite and kept by
    every later sync: it is committed with the suite.)"""
    changed = False
    for expectation in suite.expectations:
        stable = str(uuid.uuid5(ID_NAMESPACE, f"{spec.name}:{expectation.description}"))
        changed |= expectation.id != stable
        expectation.id = stable
    return changed


def sync_context(context_dir: Path, warehouse_url: str) -> list[str]:
    """Write datasource, assets, suites, validation definitions and the checkpoint.

    GX checks that every table asset exists, so this runs against a built warehouse
    (``warehouse_url``); the committed context stores only ``${CORRIDOR_GX_WAREHOUSE_URL}``.
    Idempotent: existing objects of the same name are replaced. Returns the suite names.
    """
    from great_expectations.data_context.types.base import ProgressBarsConfig

    context = get_context(context_dir, warehouse_url=warehouse_url)
    # task logs are read by people: no tqdm bars in them
    context.variables.progress_bars = ProgressBarsConfig(globally=False,
                                                         metric_calculations=False)
    context.variables.save()
    # reuse what exists, so that re-syncing unchanged suites rewrites identical files
    if DATASOURCE in context.data_sources.all():
        datasource = context.data_sources.get(DATASOURCE)
    else:
        datasource = context.data_sources.add_sql(
            name=DATASOURCE, connection_string="${" + URL_VARIABLE + "}",
            create_temp_table=False)
    specs = build_suites()
    _add_checkpoint(context, datasource, specs, stable_ids=True)
    return [spec.name for spec in specs]


def validate(warehouse_url: str, suites: list[SuiteSpec] | None = None) -> dict:
    """Validate ``suites`` (default: all of the gate) against ``warehouse_url`` with an
    ephemeral context; returns the gate's summary dict (nothing is written to disk).

    ``warehouse_url`` is a SQLAlchemy URL (``WarehouseDsn.sqlalchemy_url``: the
    embedded server listens on a unix socket, so ``add_sql``, not ``add_postgres``).
    """
    import great_expectations as gx
    from great_expectations.data_context.types.base import ProgressBarsConfig

    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False,
                                                         metric_calculations=False)
    datasource = context.data_sources.add_sql(name=DATASOURCE,
                                              connection_string=warehouse_url,
                                              create_temp_table=False)
    try:
        checkpoint = _add_checkpoint(context, datasource,
                                     build_suites() if suites is None else suites,
                                     stable_ids=False)
        return summarise_checkpoint(checkpoint.run())
    finally:
        # close the pooled connections now, not whenever the context is collected
        execution_engine = getattr(datasource, "_execution_engine", None)
        for engine in (getattr(datasource, "_engine", None),
                       getattr(execution_engine, "engine", None)):
            if engine is not None:
                engine.dispose()


# ---------------------------------------------------------------------- summary

#: Unexpected rows quoted in a check's ``observed`` text (the gate message, the manifest).
OBSERVED_EXAMPLES = 3


def _observed(result) -> str:
    detail = result.result or {}
    for key in ("unexpected_count", "observed_value", "unexpected_percent"):
        if key in detail and detail[key] is not None:
            examples = (detail.get("details") or {}).get("unexpected_rows") or []
            quoted = "; ".join(
                ", ".join(f"{column}={value}" for column, value in dict(row).items())
                for row in examples[:OBSERVED_EXAMPLES])
            return f"{key}={detail[key]}" + (f" (e.g. {quoted})" if quoted else "")
    info = result.exception_info or {}
    # either one {raised_exception, exception_message} or one such dict per failed metric
    for entry in [info, *(v for v in info.values() if isinstance(v, dict))]:
        if entry.get("raised_exception") or entry.get("exception_message"):
            message = str(entry.get("exception_message") or "").strip()
            return "error: " + " ".join(message.split())[:300]
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
