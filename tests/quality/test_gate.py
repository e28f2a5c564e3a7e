"""run_gate over a file context synced from the suites: results and Data Docs in a
folder of the run's own, the Data Docs published under the published root."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import psycopg
import pytest

from corridor.config import PROJECT_DIR, Settings, WarehouseDsn
from corridor.quality.context import sync_context
from corridor.quality.gate import QualityGateFailed, run_gate
from corridor.quality.suites import build_suites
from tests.quality.good_batch import load_good_batch


@pytest.fixture()
def synced_context(tmp_path: Path, fresh_database: WarehouseDsn) -> tuple[Settings, WarehouseDsn]:
    """The committed context (uncommitted/ left out) re-synced against a good batch."""
    load_good_batch(fresh_database)
    context_dir = tmp_path / "expectations"
    shutil.copytree(PROJECT_DIR / "expectations", context_dir,
                    ignore=shutil.ignore_patterns("uncommitted"))
    names = sync_context(context_dir, fresh_database.sqlalchemy_url)
    assert names == [spec.name for spec in build_suites()]
    return Settings(gx_context_dir=context_dir, home_dir=tmp_path / "home"), fresh_database


def test_gate_publishes_its_data_docs_and_leaves_no_results_behind(synced_context, tmp_path):
    settings, dsn = synced_context
    settings = settings.model_copy(update={"publish_dir": tmp_path / "published"})
    context_files = sorted(settings.gx_context_dir.rglob("*"))
    summary = run_gate(settings=settings, dsn=dsn)
    assert summary["success"] is True and summary["failed"] == 0
    assert summary["evaluated"] == sum(len(spec.expectations) for spec in build_suites())
    docs = Path(summary["data_docs"])
    assert docs.is_absolute() and docs.is_file() and docs.name == "index.html"
    assert docs.parent.parent == settings.publish_dir / "data-docs"
    # every suite's validation rendered in the published site
    rendered = list((docs.parent / "validations").rglob("*.html"))
    assert len(rendered) == len(build_suites())
    # results and docs were written in the run's own folder, gone now: the committed
    # context gained no file (a later task on another worker reads nothing there)
    assert sorted(settings.gx_context_dir.rglob("*")) == context_files
    json.dumps(summary)  # goes into manifest.json as it is


def test_failed_gate_keeps_the_docs_link(synced_context, tmp_path):
    settings, dsn = synced_context
    settings = settings.model_copy(update={"publish_dir": tmp_path / "published"})
    with psycopg.connect(dsn.conninfo) as conn:
        conn.execute("delete from raw.loaded_units where feed = 'rail'")
    with pytest.raises(QualityGateFailed) as failure:
        run_gate(settings=settings, dsn=dsn)
    summary = failure.value.summary
    assert summary["success"] is False
    assert Path(summary["data_docs"]).is_file()
    assert "completeness: rail has an accepted daily report" in str(failure.value)
    assert summary["data_docs"] in str(failure.value)
