"""Write a release: every file of the spec's layout, then make it visible, then LATEST.

A release appears whole or not at all. The published root is a URL
(``CORRIDOR_PUBLISH_URL``, :mod:`corridor.storage`), and each backend gives that so:

* ``file://`` (spec/indicators.md, "Layout"): files are written inside
  ``<published>/.staging-<release_id>`` and fsynced, the folder is renamed into
  ``releases/`` (one ``rename``), and only then is ``LATEST`` replaced (a temporary
  file, ``os.replace``). The checksums in the manifest are those of the files written.
* an object store (no rename): the files are written in a local temporary folder, then
  each is PUT under ``releases/<release_id>/``, read back and its sha256 checked against
  the manifest's (:func:`corridor.storage.put_checked`), ``manifest.json`` last of the
  folder, and ``LATEST`` (one PUT: atomic) after all. A folder without
  ``manifest.json`` is a publish that died: LATEST never names it, readers
  (:func:`list_releases`) skip it, and the next publisher removes it.

One publisher at a time: :func:`publish_lock`, an advisory lock of the warehouse.
``publish_release`` reads the warehouse; ``write_release`` only writes files.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import secrets
import shutil
import subprocess
import tempfile
from contextlib import AbstractContextManager, nullcontext
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from corridor import __version__, locks, storage
from corridor.config import PROJECT_DIR, Settings, WarehouseDsn, get_settings, get_warehouse_dsn
from corridor.publish.datasets import DATASETS, read_csv, read_observations, write_csv
from corridor.publish.revisions import count_changes, diff_releases, revisions_header
from corridor.status import Snapshot, read_snapshot
from corridor.warehouse import connect

if TYPE_CHECKING:
    from airflow.sdk import ObjectStoragePath

    Location = Path | ObjectStoragePath

log = logging.getLogger(__name__)


def new_release_id(now: datetime | None = None) -> str:
    """UTC creation time ``YYYYMMDDTHHMMSSZ``, ``-``, 8 hex characters."""
    now = now or datetime.now(UTC)
    return f"{now.strftime('%Y%m%dT%H%M%SZ')}-{secrets.token_hex(4)}"


def sha256_file(path: Location) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def read_inputs(conn, settings: Settings) -> list[dict]:
    """The loaded units of the ingest window the marts were built from, for the manifest
    (:func:`corridor.transform.built_inputs`: a unit loaded after the last build is not
    in its marts, so not in its release)."""
    from corridor.transform import built_inputs

    return [{"feed": unit["feed"], "unit": unit["unit"], "revision": unit["revision"],
             "status": unit["status"] or ("final" if unit["feed"] == "comtrade" else None)}
            for unit in built_inputs(conn)
            if settings.ingest_from <= unit["period_month"] <= settings.period_to]


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


def _fsync(path: Path) -> None:
    """Flush a file's or a folder's entries to disk (a rename is durable once its
    folder is synced), so that a power loss cannot leave LATEST naming empty files."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _replace_latest(published: Location, release_id: str) -> None:
    if not storage.is_local(published):
        storage.put_checked((release_id + "\n").encode("utf-8"), published / "LATEST")
        return
    temporary = published / f".LATEST.{release_id}"
    temporary.write_text(release_id + "\n", encoding="utf-8")
    _fsync(temporary)
    os.replace(temporary, published / "LATEST")
    _fsync(published)


def publish_lock(dsn: WarehouseDsn) -> AbstractContextManager:
    """One publisher at a time (the DAG and ``corridor publish`` or ``corridor run`` may
    both publish, from different machines): a PostgreSQL advisory lock held by a session
    of its own (:data:`corridor.locks.PUBLISH`), one publisher per warehouse on any host,
    dropped by the server when its holder's connection goes, killed or not."""
    return locks.session_lock(dsn, locks.PUBLISH, purpose="another publish")


def _remove_leftovers(published: Location) -> None:
    """What a publish that was killed left: staging folders and LATEST temporaries
    (``file://``), release folders without their manifest (an object store).

    Called under the publish lock: anything staged then belongs to a publisher that
    died. Nothing there was visible.
    """
    if storage.is_local(published):
        leftovers = [*published.glob(".staging-*"), *published.glob(".LATEST.*")]
    else:
        leftovers = [path for folder in (published / "releases", published / "embargoed")
                     for path in (folder.iterdir() if folder.exists() else [])
                     if not (path / "manifest.json").exists()]
    for leftover in leftovers:
        log.warning("removing %s left by an interrupted publish", leftover.name)
        if leftover.is_dir():
            storage.remove_tree(leftover)
        else:
            leftover.unlink(missing_ok=True)


def list_releases(published: Location) -> list[Location]:
    """The releases under the published root, oldest first: the folders of
    ``releases/`` that hold their manifest (on an object store a folder without one is a
    publish that died before its end)."""
    releases = published / "releases"
    if not releases.exists():
        return []
    return sorted((path for path in releases.iterdir() if (path / "manifest.json").exists()),
                  key=lambda path: path.name)


def _same_as(release: Location, observations: dict[str, list[tuple[str, ...]]],
             inputs: list[dict], coverage: dict[str, str]) -> bool:
    """Would a new release say what ``release`` says? Then none is written: a release is a
    statement that something changed, and consumers key caches and ``asOf`` on its id."""
    manifest = json.loads((release / "manifest.json").read_text(encoding="utf-8"))
    return (manifest.get("inputs") == inputs and manifest.get("coverage") == coverage
            and all(read_csv(release / f"{d.name}.csv") == observations[d.name]
                    for d in DATASETS))


def _file_entry(path: Path, rows: int | None = None) -> dict:
    entry = {"name": path.name, "sha256": sha256_file(path)}
    if rows is not None:
        entry["rows"] = rows
    return entry


def write_release(published: Location | str, observations: dict[str, list[tuple[str, ...]]], *,
                  inputs: list[dict], quality: dict, coverage: dict[str, str],
                  status: Snapshot | None = None,
                  lock: AbstractContextManager | None = None,
                  embargo_until: datetime | None = None) -> Location:
    """Write every file of a release from its observations; make it LATEST.

    ``observations`` maps each dataset name to its plain-CSV rows (text, sorted). The
    revisions files compare them with the release ``LATEST`` points at. Files go into
    ``.staging-<id>`` inside the published root; the folder is renamed into
    ``releases/`` and only then is ``LATEST`` replaced, so a crash at any point leaves
    either no new release or a complete one, and ``LATEST`` unchanged until the end (on
    an object store: module docstring). ``status`` (the warehouse's loads) gives the
    manifest's ``feed_status``, judged at the release's creation time. ``lock`` is the
    publish lock to hold while writing (:func:`publish_lock`); without one the caller is
    the only publisher of this root (tests writing plain observations), and a caller
    that holds it already passes ``contextlib.nullcontext()``.

    With ``embargo_until`` the release is written to ``embargoed/<release_id>/``
    instead, LATEST untouched, and replaces any release still waiting there for the
    same last period; :func:`corridor.publish.calendar.release_due` releases it.
    """
    published = storage.resolve(published)
    if storage.is_local(published):
        (published / "releases").mkdir(parents=True, exist_ok=True)
    with nullcontext() if lock is None else lock:
        _remove_leftovers(published)
        return _write_locked(published, observations, inputs=inputs, quality=quality,
                             coverage=coverage, status=status, embargo_until=embargo_until)


def _write_locked(published: Location, observations: dict[str, list[tuple[str, ...]]], *,
                  inputs: list[dict], quality: dict, coverage: dict[str, str],
                  status: Snapshot | None = None,
                  embargo_until: datetime | None = None) -> Location:
    from corridor.publish.calendar import embargoed
    from corridor.publish.report import write_reports
    from corridor.publish.sdmx import write_sdmx_csv, write_structure

    previous = latest_release(published)
    waiting = [folder for folder, manifest in embargoed(published)
               if manifest["coverage"]["last_period"] == coverage["last_period"]]
    for release in [*waiting[-1:], *([previous] if previous is not None else [])]:
        if _same_as(release, observations, inputs, coverage):
            log.info("nothing changed since release %s (observations, inputs, "
                     "coverage): no new release", release.name)
            return release
    created = datetime.now(UTC)
    release_id = new_release_id(created)
    local = storage.is_local(published)
    # file://: staged inside the published root, renamed whole; else staged on the
    # worker's temporary folder and PUT file by file (module docstring)
    staging = (published if local else Path(tempfile.mkdtemp(prefix="corridor-release-"))
               ) / f".staging-{release_id}"
    staging.mkdir()
    final = published / ("embargoed" if embargo_until else "releases") / release_id
    if storage.is_local(published):
        final.parent.mkdir(parents=True, exist_ok=True)
    try:
        files, revisions = [], {}
        for dataset in DATASETS:
            rows = observations[dataset.name]
            plain = staging / f"{dataset.name}.csv"
            write_csv(plain, dataset.columns, rows)
            files.append(_file_entry(plain, len(rows)))
            sdmx_csv = staging / f"{dataset.name}.sdmx.csv"
            write_sdmx_csv(sdmx_csv, dataset, rows)
            files.append(_file_entry(sdmx_csv, len(rows)))
            before = read_csv(previous / plain.name) if previous else None
            changes = diff_releases(dataset, before, rows, previous.name if previous else None)
            revised = staging / f"{dataset.name}.revisions.csv"
            write_csv(revised, revisions_header(dataset), changes)
            files.append(_file_entry(revised, len(changes)))
            revisions[dataset.name] = count_changes(dataset, changes)
        structure = staging / "structure.xml"
        write_structure(structure)
        files.append(_file_entry(structure))
        manifest = {
            "release_id": release_id,
            "created_at": created.strftime("%Y-%m-%dT%H:%M:%SZ"),
            # an embargoed release gets its released_at when it is released
            "released_at": None if embargo_until else created.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "embargo_until": embargo_until.isoformat() if embargo_until else None,
            "code_version": code_version(),
            "coverage": coverage,
            "previous_release_id": previous.name if previous else None,
            "revisions": revisions,
            "files": files,
            "inputs": inputs,
            "quality": quality,
            "feed_status": [cell.as_dict() for cell in status.grid(created)] if status else [],
        }
        reports = write_reports(staging, observations["bilateral_trade"],
                                observations["corridor_logistics"], manifest,
                                api_url=get_settings().api_url)
        files.extend(_file_entry(report) for report in reports)
        (staging / "manifest.json").write_text(
            json.dumps(manifest, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        if local:
            for path in staging.iterdir():
                _fsync(path)
            _fsync(staging)
            os.rename(staging, final)
            _fsync(final.parent)
        else:
            for entry in files:  # the files the manifest lists, then the manifest itself
                storage.put_checked(staging / entry["name"], final / entry["name"],
                                    entry["sha256"])
            storage.put_checked(staging / "manifest.json", final / "manifest.json")
    except BaseException:
        if not local:
            storage.remove_tree(final)
        raise
    finally:
        shutil.rmtree(staging if local else staging.parent, ignore_errors=True)
    if embargo_until:
        for older in waiting:  # a newer release replaces one waiting for the same period
            log.info("embargoed release %s replaced by %s", older.name, release_id)
            storage.remove_tree(older)
        log.info("release %s embargoed until %s", release_id, manifest["embargo_until"])
        return final
    _replace_latest(published, release_id)
    log.info("published release %s (%s)", release_id,
             ", ".join(f"{f['name']}: {f['rows']} rows" for f in files if "rows" in f))
    return final


def make_visible(published: Location, folder: Location, manifest: dict, *,
                 replace_latest: bool = True) -> Location:
    """Move a written release (an embargoed one, ``folder``) into ``releases/`` with
    ``manifest`` (its ``released_at`` set), then replace LATEST; as atomic as writing
    one (module docstring): on ``file://`` the manifest is replaced inside the folder,
    then the folder renamed; on an object store each file is PUT and checked under
    ``releases/``, the manifest last, and the embargoed copy removed after LATEST."""
    final = published / "releases" / manifest["release_id"]
    text = json.dumps(manifest, indent=2, ensure_ascii=False) + "\n"
    if storage.is_local(published):
        temporary = folder / ".manifest.json.new"
        temporary.write_text(text, encoding="utf-8")
        _fsync(temporary)
        os.replace(temporary, folder / "manifest.json")
        _fsync(folder)
        os.rename(folder, final)
        _fsync(final.parent)
    else:
        for entry in manifest["files"]:
            storage.put_checked((folder / entry["name"]).read_bytes(), final / entry["name"],
                                entry["sha256"])
        storage.put_checked(text.encode("utf-8"), final / "manifest.json")
    if replace_latest:
        _replace_latest(published, manifest["release_id"])
    if not storage.is_local(published):
        storage.remove_tree(folder)
    return final


def publish_release(quality: dict, *, settings: Settings | None = None,
                    dsn: WarehouseDsn | None = None, conn=None,
                    lock: AbstractContextManager | None = None) -> Location:
    """Read the indicator marts and the loaded units, write a release, make it LATEST.

    ``conn``: read on this connection (:func:`corridor.publish.run` passes the one whose
    snapshot the gate checked), else on a new one. ``lock``: the publish lock to hold
    while writing, default the warehouse's (:func:`publish_lock` with ``dsn``).
    """
    from corridor.publish.calendar import embargo_for, read_calendar
    from corridor.window import resolve

    dsn = dsn or get_warehouse_dsn("publisher")
    settings = resolve(settings or get_settings(), dsn=dsn)
    calendar = read_calendar(settings.release_calendar) if settings.release_calendar else {}
    embargo_until = embargo_for(calendar, settings.period_to, datetime.now(UTC))
    with nullcontext(conn) if conn is not None else connect(dsn) as reader:
        observations = {dataset.name: read_observations(reader, dataset)
                        for dataset in DATASETS}
        inputs = read_inputs(reader, settings)
        status = read_snapshot(reader, settings)
    return write_release(settings.publish_root, observations, inputs=inputs, quality=quality,
                         coverage={"first_period": settings.period_from,
                                   "last_period": settings.period_to}, status=status,
                         lock=publish_lock(dsn) if lock is None else lock,
                         embargo_until=embargo_until)


def latest_release(published: Location | str) -> Location | None:
    """The release LATEST points at, if any."""
    published = storage.resolve(published)
    latest = published / "LATEST"
    if not latest.exists():
        return None
    return published / "releases" / latest.read_text(encoding="utf-8").strip()
