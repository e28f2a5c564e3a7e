"""Write a release: plain CSVs and manifest into a staging folder, rename, swap LATEST.

A release appears whole or not at all: files are written inside
``<published>/.staging-<release_id>``, the folder is renamed into ``releases/``, and
only then is ``LATEST`` replaced (write a temporary file, ``os.replace``).
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import logging
import os
import secrets
import shutil
import subprocess
from dataclasses import dataclass
from datetime import datetime, timezone
from decimal import Decimal
from pathlib import Path

from corridor import __version__
from corridor.config import PROJECT_DIR, Settings, WarehouseDsn, get_settings, get_warehouse_dsn
from corridor.warehouse import connect

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Dataset:
    """A published dataset: its indicator mart and its plain CSV columns."""

    name: str
    mart: str
    key: tuple[str, ...]

    @property
    def columns(self) -> tuple[str, ...]:
        return (*self.key, "obs_value", "unit_measure", "obs_status")


DATASETS = (
    Dataset("bilateral_trade", "marts.ind_bilateral_trade",
            ("freq", "ref_area", "counterpart_area", "indicator", "commodity", "time_period")),
    Dataset("corridor_logistics", "marts.ind_corridor_logistics",
            ("freq", "node", "indicator", "direction", "cargo", "time_period")),
)


def new_release_id(now: datetime | None = None) -> str:
    """UTC creation time ``YYYYMMDDTHHMMSSZ``, ``-``, 8 hex characters."""
    now = now or datetime.now(timezone.utc)
    return f"{now.strftime('%Y%m%dT%H%M%SZ')}-{secrets.token_hex(4)}"


def format_value(value: Decimal) -> str:
    """Fixed point, no exponent, never ``-0``; the mart has already rounded it once."""
    if value == 0:
        value = abs(value)
    return format(value, "f")


def read_observations(conn, dataset: Dataset) -> list[tuple[str, ...]]:
    """The dataset's rows as published text, sorted by the key columns in byte order."""
    columns = ", ".join(dataset.columns)
    rows = [
        tuple(format_value(v) if isinstance(v, Decimal) else str(v) for v in row)
        for row in conn.execute(f"select {columns} from {dataset.mart}")
    ]
    key_width = len(dataset.key)
    rows.sort(key=lambda row: tuple(part.encode("utf-8") for part in row[:key_width]))
    return rows


def write_csv(path: Path, header: tuple[str, ...], rows: list[tuple[str, ...]]) -> None:
    """UTF-8 without BOM, LF line ends, RFC 4180 quoting only where needed."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n", quoting=csv.QUOTE_MINIMAL)
    writer.writerow(header)
    writer.writerows(rows)
    path.write_bytes(buffer.getvalue().encode("utf-8"))


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
