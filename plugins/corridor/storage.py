"""Where the files that outlive a task live: the landing zone and the published root.

Both are URLs (``CORRIDOR_LANDING_URL``, ``CORRIDOR_PUBLISH_URL``), so that a task on
any worker reads and writes the same files and nothing stays on the worker's disk:

* ``file://`` (the default, from ``CORRIDOR_LANDING_DIR`` / ``CORRIDOR_PUBLISH_DIR``)
  resolves to a :class:`pathlib.Path`: the local (or shared) disk, where a temporary
  file in the same folder, ``fsync`` and ``os.replace`` make a file appear whole, a
  staging folder renamed makes a release appear whole, and one ``O_APPEND`` write
  appends a manifest line whole;
* anything else (``s3://``, ``gs://``, ``abfs://``, ``memory://``...) resolves to
  Airflow's :class:`airflow.sdk.ObjectStoragePath` (fsspec; the credentials are an
  Airflow connection named in the URL, ``s3://aws_default@bucket/prefix``, and the
  scheme's provider must be installed: ``apache-airflow-providers-amazon`` for
  ``s3://``). An object store has no rename and no append, but a PUT is atomic per
  object (S3, GCS and Azure Blob show an object whole or not at all, never half of
  it): :func:`put_checked` PUTs, reads the object back and compares its sha256 with
  the bytes meant, so a body that arrived corrupted fails the task instead of being
  landed or published. What needs more than one object to appear together (a release,
  a manifest line appended) is built on that by its writer: see
  :mod:`corridor.publish.release` and :class:`corridor.landing.LandingStore`.
"""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO
from urllib.parse import unquote, urlsplit

if TYPE_CHECKING:
    from airflow.sdk import ObjectStoragePath

CHUNK_BYTES = 1 << 20


def resolve(url: str | Path) -> Path | ObjectStoragePath:
    """The location a URL (or a plain path) names: a ``Path`` for ``file://`` and plain
    paths, an ``ObjectStoragePath`` for every other scheme. Both have the pathlib API
    (``/``, ``name``, ``open``, ``read_bytes``, ``exists``, ``iterdir``...)."""
    if isinstance(url, Path):
        return url
    if not isinstance(url, str):  # already an ObjectStoragePath
        return url
    parts = urlsplit(url)
    if parts.scheme in ("", "file", "local"):
        return Path(unquote(parts.path) if parts.scheme else url)
    from airflow.sdk import ObjectStoragePath

    return ObjectStoragePath(url)


def is_local(location: Path | ObjectStoragePath) -> bool:
    """A folder of the local disk (rename, fsync and O_APPEND are available)."""
    return isinstance(location, Path)


def url_of(location: Path | ObjectStoragePath) -> str:
    """The URL of a location, as the settings would name it."""
    return location.absolute().as_uri() if is_local(location) else str(location)


def sha256_of(location: Path | ObjectStoragePath) -> tuple[str, int]:
    """The sha256 and size of a file, read in chunks (bounded memory)."""
    digest, size = hashlib.sha256(), 0
    with location.open("rb") as handle:
        for chunk in iter(lambda: handle.read(CHUNK_BYTES), b""):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size


class ChecksumMismatch(OSError):
    """An object read back after its PUT is not the bytes that were sent."""


def put_checked(source: Path | bytes, target: ObjectStoragePath, sha256: str | None = None
                ) -> str:
    """PUT ``source`` (a local file, streamed, or bytes) as the object ``target``, read
    it back and check its sha256 (``sha256``: what the caller already knows the bytes
    hash to; else it is computed here). Returns the sha256."""
    if isinstance(source, bytes):
        sha256 = sha256 or hashlib.sha256(source).hexdigest()
        target.write_bytes(source)
    else:
        sha256 = sha256 or sha256_of(source)[0]
        with source.open("rb") as handle, target.open("wb") as out:
            _copy(handle, out)
    found, _ = sha256_of(target)
    if found != sha256:
        raise ChecksumMismatch(f"{target}: read back with sha256 {found}, PUT with {sha256}")
    return sha256


def _copy(source: BinaryIO, target: BinaryIO) -> None:
    shutil.copyfileobj(source, target, CHUNK_BYTES)


def put_tree(source: Path, target: Path | ObjectStoragePath) -> None:
    """Copy a local folder's files under ``target`` (each PUT checked on an object
    store); a folder of reports, not a release: it is not made to appear at once."""
    for path in sorted(source.rglob("*")):
        if not path.is_file():
            continue
        destination = target / path.relative_to(source).as_posix()
        if is_local(destination):
            destination.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, destination)
        else:
            put_checked(path, destination)


def remove_tree(location: Path | ObjectStoragePath) -> None:
    """Delete a folder and everything under it (missing: nothing to do)."""
    if is_local(location):
        shutil.rmtree(location, ignore_errors=True)
    elif location.exists():
        location.fs.rm(location.path, recursive=True)
