"""The committed GX file context under ``expectations/`` and its sync from code."""

from __future__ import annotations

import os
import uuid
from pathlib import Path

from corridor.quality.suites import SuiteSpec, build_suites

DATASOURCE = "corridor_warehouse"
CHECKPOINT = "corridor_publish_gate"
#: The datasource's connection string is this variable, substituted at run time, so the
#: committed context holds no host, path or secret.
URL_VARIABLE = "CORRIDOR_GX_WAREHOUSE_URL"
#: Expectation ids derive from suite and check name: a re-sync changes no file.
ID_NAMESPACE = uuid.UUID("5b0c1d2e-7c43-4a59-9a57-0c7d1f1e2a10")


def get_context(context_dir: Path, warehouse_url: str | None = None):
    """Open the file context (``context_dir/gx``); set the warehouse URL if given."""
    import great_expectations as gx

    if warehouse_url is not None:
        os.environ[URL_VARIABLE] = warehouse_url
    os.environ.setdefault(URL_VARIABLE, "postgresql+psycopg2://unset")
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
    return gx.get_context(mode="file", project_root_dir=str(context_dir))


def _validation_name(spec: SuiteSpec) -> str:
    return f"{spec.name}__{spec.schema}_{spec.table}"


def sync_context(context_dir: Path, warehouse_url: str) -> list[str]:
    """Write datasource, assets, suites, validation definitions and the checkpoint.

    GX checks that every table asset exists, so this runs against a built warehouse
    (``warehouse_url``); the committed context stores only ``${CORRIDOR_GX_WAREHOUSE_URL}``.
    Idempotent: existing objects of the same name are replaced. Returns the suite names.
    """
    import great_expectations as gx

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
    validations = []
    for spec in build_suites():
        asset = next((a for a in datasource.assets if a.name == spec.asset_name), None)
        if asset is None:
            asset = datasource.add_table_asset(name=spec.asset_name, table_name=spec.table,
                                               schema_name=spec.schema)
        batch_definition = next(
            (b for b in asset.batch_definitions if b.name == "whole_table"), None
        ) or asset.add_batch_definition_whole_table("whole_table")
        suite = gx.ExpectationSuite(name=spec.name, expectations=spec.expectations)
        for expectation in suite.expectations:
            expectation.id = str(uuid.uuid5(ID_NAMESPACE, f"{spec.name}:{expectation.description}"))
        suite = context.suites.add_or_update(suite)
        validation = gx.ValidationDefinition(name=_validation_name(spec),
                                             data=batch_definition, suite=suite)
        validations.append(context.validation_definitions.add_or_update(validation))
    context.checkpoints.add_or_update(
        gx.Checkpoint(name=CHECKPOINT, validation_definitions=validations,
                      result_format={"result_format": "SUMMARY"}))
    return [spec.name for spec in build_suites()]
