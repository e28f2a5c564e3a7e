"""Write a release: plain CSVs and manifest into a staging folder, rename, swap LATEST.

A release appears whole or not at all: files are written inside
``<published>/.staging-<release_id>``, the folder is renamed into ``releases/``, and
only then is ``LATEST`` replaced (write a temporary file, ``os.replace``).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import secrets
import shutil
import subprocess
from datetime import datetime, timezone
from pathlib import Path

from corridor import __version__
from corridor.config import PROJECT_DIR, Settings, WarehouseDsn, get_settings, get_warehouse_dsn
from corridor.publish.datasets import DATASETS, read_observations, write_csv
from corridor.warehouse import connect

log = logging.getLogger(__name__)


def new_release_id(now: datetime | None = None) -> str:
    """UTC creation time ``YYYYMMDDTHHMMSSZ``, ``-``, 8 hex characters."""
    now = now or datetime.now(timezone.utc)
    return f"{now.strftime('%Y%m%dT%H%M%SZ')}-{secrets.token_hex(4)}"


def sha256_file(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def read_inputs(conn, settings: Settings) -> list[dict]:
    """Every loaded unit of the ingest window, for the manifest."""
    rows = conn.execute(
        "select feed, unit, revision, status from raw.loaded_units "
        "where period_month between %s and %s order by feed, unit",
        (settings.ingest_from, settings.period_to),
    ).fetchall()
    return [{"feed": feed, "unit": unit, "revision": revision,
             "status": status or ("final" if feed == "comtrade" else None)}
            for feed, unit, revision, status in rows]


def code_version() -> str:
    """The git commit of the code, or the package version outside a checkout."""
    try:
        commit = subprocess.run(["git", "rev-parse", "--short=12", "HEAD"], cwd=PROJECT_DIR,
                                capture_output=True, text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"],
                               cwd=PROJECT_DIR, capture_output=True, text=True).stdout.strip()
        return f"{__version__}+g{commit}{'.dirty' if dirty else ''}"
    except (OSError, subprocess.CalledProcessError):
        return __version__


def _replace_latest(published: Path, release_id: str) -> None:
    temporary = published / f".LATEST.{release_id}"
    temporary.write_text(release_id + "\n", encoding="utf-8")
    os.replace(temporary, published / "LATEST")


def publish_release(quality: dict, *, settings: Settings | None = None,
                    dsn: WarehouseDsn | None = None) -> Path:
    """Write a new release from the indicator marts and make it LATEST."""
    settings = settings or get_settings()
    dsn = dsn or get_warehouse_dsn()
    published = settings.publish_dir
    (published / "releases").mkdir(parents=True, exist_ok=True)
    created = datetime.now(timezone.utc)
    release_id = new_release_id(created)
    staging = published / f".staging-{release_id}"
    staging.mkdir()
    try:
        files = []
        with connect(dsn) as conn:
            for dataset in DATASETS:
                rows = read_observations(conn, dataset)
                path = staging / f"{dataset.name}.csv"
                write_csv(path, dataset.columns, rows)
                files.append({"name": path.name, "sha256": sha256_file(path), "rows": len(rows)})
            inputs = read_inputs(conn, settings)
        manifest = {
            "release_id": release_id,
            "created_at": created.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "code_version": code_version(),
            "coverage": {"first_period": settings.period_from,
                         "last_period": settings.period_to},
            "files": files,
            "inputs": inputs,
            "quality": quality,
        }
        (staging / "manifest.json").write_text(
            json.dumps(manifest, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        final = published / "releases" / release_id
        os.rename(staging, final)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    _replace_latest(published, release_id)
    log.info("published release %s (%s)", release_id,
             ", ".join(f"{f['name']}: {f['rows']} rows" for f in files))
    return final


def latest_release(published: Path) -> Path | None:
    """The release LATEST points at, if any."""
    latest = published / "LATEST"
    if not latest.exists():
        return None
    return published / "releases" / latest.read_text(encoding="utf-8").strip()
