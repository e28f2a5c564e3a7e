"""The landing zone: every payload byte-for-byte, before parsing, with a manifest.

``root/<feed>/manifest.jsonl`` holds two kinds of line, each appended whole:

* a **file** row per landed body (``record: "file"``): unit, revision, status, url,
  fetched_at, bytes, sha256, path, part, and ``fetch``, the id of the fetch it is part
  of. A body that is a whole fetch on its own (no ``part``: a release CSV, a rail
  report) says so with ``complete: true``: its row is its fetch's record, the version
  its load decides on being the row's ``revision``, ``status`` and ``sha256`` (and what
  else its load needs: RU's ``stated_rows``, the release entry's rows);
* a **fetch** row per multi-body fetch that completed (``record: "fetch"``), appended
  only once every body of the fetch is landed: the unit, the version the load decides
  on (``revision``, ``status``, ``sha256``), the files it is made of (path and sha256,
  in order) and what else its load needs (Comtrade: whether the unit has reported,
  which reporters each call asked for; KZ: ``stated_rows``, the /periods records).

Replay (:mod:`corridor.landing.replay`) loads completed fetches only; a file no fetch
row names is a piece of a fetch that never completed (a 409 restart, a failure or a
kill while paging) and is not replayed. File rows without ``fetch`` were written before
fetch rows existed: :mod:`corridor.landing.legacy` reads those zones.

The root is a URL (``CORRIDOR_LANDING_URL``, :mod:`corridor.storage`); how each backend
keeps a file whole and a manifest line whole:

* ``file://``: a body is written to a temporary file in its unit's folder, fsynced and
  renamed into place (``os.replace``), and its sha256 is that of the bytes written; a
  manifest line is one ``write`` on an ``O_APPEND`` descriptor.
* an object store: a body is spooled to the worker's temporary folder, PUT (a PUT shows
  the object whole or not at all), read back and its sha256 checked
  (:func:`corridor.storage.put_checked`); a manifest cannot be appended to, so it is
  read, extended by the line and PUT again (and checked).

Either way the manifest is changed under the feed's advisory lock of the warehouse
(``corridor:landing:<feed>``, :mod:`corridor.locks`): writers on any host take turns,
so no line is lost to a concurrent rewrite or cut by another's repair of a torn tail.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import tempfile
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

from corridor import storage

if TYPE_CHECKING:
    from airflow.sdk import ObjectStoragePath

    from corridor.config import WarehouseDsn

log = logging.getLogger(__name__)

MANIFEST = "manifest.jsonl"
#: Where completed fetches are recorded: the manifest itself (``record: "fetch"`` rows).
COMPLETED = MANIFEST
#: Comtrade's completions before they moved into the manifest (read by legacy zones).
LEGACY_COMPLETED = "completed.jsonl"


class LandingError(Exception):
    """The landing zone cannot be replayed as it is."""


class LandingIntegrityError(LandingError):
    """A landed file is missing or differs from its manifest row (sha256, size)."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("landing zone integrity check failed: " + "; ".join(problems))
        self.problems = problems


@dataclass(frozen=True)
class LandedFile:
    path: Path | ObjectStoragePath
    sha256: str
    bytes: int
    fetch_id: str | None = None

    def read(self) -> bytes:
        """The file's bytes, checked against the sha256 it was landed with."""
        payload = self.path.read_bytes()
        if hashlib.sha256(payload).hexdigest() != self.sha256:
            raise LandingIntegrityError([f"{self.path}: sha256 differs from its manifest row"])
        return payload

    @cached_property
    def json(self) -> Any:
        """The body as ``corridor.feeds.http.json_body`` parses a live one (Decimal)."""
        return json.loads(self.read(), parse_float=Decimal)


@dataclass(frozen=True)
class Fetch:
    """One completed fetch of a unit: what its load reads (the per-feed load functions
    of :mod:`corridor.load.feed_loads`, called by the ingest and by replay alike)."""

    feed: str
    unit: str
    revision: int | str | None
    status: str | int | None
    sha256: str | None
    files: tuple[LandedFile, ...]
    extra: Mapping[str, Any] = field(default_factory=dict)


#: Longest label kept readable in a file name; longer ones are hashed.
MAX_LABEL = 64
_READABLE = re.compile(r"[A-Za-z0-9._:-]+")


class ManifestError(LandingError, ValueError):
    """A manifest (or legacy completed.jsonl) line that is not the torn last one does not parse."""


def _safe(part: str) -> str:
    """A path component from a unit, revision or part label.

    Our own labels stay readable as they always were ('156:2024-01' -> '156_2024-01',
    ':' being the only separator our unit names use). A label that carries anything
    else (feed text: '/', spaces, control characters, '..'), or is longer than
    :data:`MAX_LABEL`, becomes ``h-`` and 16 hex digits of its sha256: stable, short,
    and never a path. The manifest keeps the label itself.
    """
    text = str(part)
    if (text and len(text) <= MAX_LABEL and _READABLE.fullmatch(text)
            and not text.startswith(".")):
        return text.replace(":", "_")
    return "h-" + hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:16]


def read_jsonl(path: Path | ObjectStoragePath) -> list[dict]:
    """The records of an append-only JSON-lines file written by :class:`LandingStore`.

    A torn LAST line (unterminated, or not JSON: a writer killed mid-append) is skipped
    with a warning naming the file; a bad line anywhere else raises
    :class:`ManifestError` naming file and line, as that is not what a crash leaves.
    """
    if not path.exists():
        return []
    data = path.read_bytes()
    lines = data.split(b"\n")
    # data ends with "\n": the last element is b"" (nothing torn)
    torn = lines.pop()
    records: list[dict] = []
    last = len(lines)
    for number, raw in enumerate(lines, start=1):
        if not raw.strip():
            continue
        try:
            record = json.loads(raw.decode("utf-8"))
            if not isinstance(record, dict):
                raise ValueError("not a JSON object")
        except ValueError as exc:
            if number == last and not torn:
                log.warning("%s: line %d is torn (%s): skipped", path, number, exc)
                continue
            raise ManifestError(f"{path}: line {number} does not parse: {exc}") from exc
        records.append(record)
    if torn.strip():
        log.warning("%s: line %d is torn (no line end, %d bytes): skipped", path, last + 1,
                    len(torn))
    return records


def strip_credentials(url: str) -> str:
    parts = urlsplit(url)
    if parts.username or parts.password:
        netloc = parts.hostname or ""
        if parts.port:
            netloc += f":{parts.port}"
        parts = parts._replace(netloc=netloc)
    return urlunsplit(parts)


class LandingStore:
    """Files under ``root/<feed>/<unit>/<revision or fetched-ts>[-<part>]-<sha8>.<suffix>``
    (each label through :func:`_safe`: feed text never reaches a path unhashed).

    A file appears whole (module docstring: a rename on ``file://``, a checked PUT on an
    object store); ``root/<feed>/manifest.jsonl`` gets its lines appended whole
    (:meth:`_append_manifest`) after the file is in place; readers skip a torn last line
    (:func:`read_jsonl`).

    ``dsn``: the warehouse whose advisory lock ``corridor:landing:<feed>`` serialises the
    manifest's writers (the ingest passes it). Without one, a ``file://`` store relies on
    ``O_APPEND`` alone (one writer, or writers that leave no torn tail: tests, tools), and
    an object store refuses to write, as a manifest rewritten by two writers at once
    would lose a line.
    """

    def __init__(self, root: Path | ObjectStoragePath | str, dsn: WarehouseDsn | None = None
                 ) -> None:
        self.root = storage.resolve(root)
        self.dsn = dsn

    def put(self, feed: str, unit: str, revision: int | str | None, payload: bytes, *,
            url: str, status: int | str | None, suffix: str, part: str | None = None,
            fetch_id: str | None = None) -> LandedFile:
        """Store ``payload`` as delivered. Without ``part`` the body is a whole fetch and
        its row records it complete; ``part`` names one piece of the multi-request fetch
        ``fetch_id`` (a page, a query split), which :meth:`complete` records."""
        directory = self.spool_dir(feed, unit)
        fd, tmp = tempfile.mkstemp(dir=directory, prefix=".landing-", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(payload)
                handle.flush()
                os.fsync(handle.fileno())
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return self.put_file(feed, unit, revision, Path(tmp),
                             sha256=hashlib.sha256(payload).hexdigest(), size=len(payload),
                             url=url, status=status, suffix=suffix, part=part,
                             fetch_id=fetch_id)

    def unit_dir(self, feed: str, unit: str) -> Path | ObjectStoragePath:
        """The folder of ``unit``'s files (not created here)."""
        return self.root / _safe(feed) / _safe(unit)

    def spool_dir(self, feed: str, unit: str) -> Path:
        """A local folder (created) where a body is written or streamed to a temporary
        file before :meth:`put_file` lands it: on ``file://`` the unit's own folder (landing
        it is a rename), on an object store the worker's temporary folder (it is PUT)."""
        directory = self.unit_dir(feed, unit)
        if not storage.is_local(directory):
            return Path(tempfile.gettempdir())
        directory.mkdir(parents=True, exist_ok=True)
        return directory

    def put_file(self, feed: str, unit: str, revision: int | str | None, tmp_path: Path, *,
                 sha256: str, size: int, url: str, status: int | str | None, suffix: str,
                 part: str | None = None, fetch_id: str | None = None, **fields: Any
                 ) -> LandedFile:
        """Land an already-written temporary file (in :meth:`spool_dir`, written and
        fsynced by the caller, which hashed it on the way: ``sha256``, ``size``) by
        renaming it into place (``file://``) or PUTting it and checking it (an object
        store, the temporary file is then deleted), with its manifest line; :meth:`put`
        lands bytes so. ``fields``: what else the load of a whole-body fetch reads (as
        :meth:`complete`'s)."""
        fetched_at = datetime.now(UTC)
        label = _safe(f"r{revision}" if revision is not None
                      else fetched_at.strftime("%Y%m%dT%H%M%S%fZ"))
        if part:
            label += f"-{_safe(part)}"
        directory = self.unit_dir(feed, unit)
        path = directory / f"{label}-{sha256[:8]}.{_safe(suffix.lstrip('.'))}"
        try:
            if storage.is_local(directory):
                directory.mkdir(parents=True, exist_ok=True)
                os.replace(tmp_path, path)
            else:
                storage.put_checked(Path(tmp_path), path, sha256)
        finally:
            Path(tmp_path).unlink(missing_ok=True)
        landed = LandedFile(path, sha256, size, fetch_id or new_fetch_id())
        self._append_manifest(feed, {
            "record": "file", "feed": feed, "unit": unit, "revision": revision,
            "status": status, "url": strip_credentials(url),
            "fetched_at": fetched_at.isoformat(), "bytes": size, "sha256": sha256,
            "path": str(path), "part": part, "fetch": landed.fetch_id,
            "complete": part is None, **fields})
        return landed

    def complete(self, feed: str, unit: str, files: list[LandedFile], **fields: Any
                 ) -> Fetch:
        """Record that a fetch of ``unit`` completed: the landed ``files`` it is made of,
        in order (a Comtrade call may serve several units), and ``fields``: the version
        its load decides on (``revision``, ``status``, ``sha256``) and what else the load
        needs. Call it once every file is landed, before loading."""
        record = {"record": "fetch", "feed": feed, "unit": unit, "revision": None,
                  "status": None, "sha256": None, **fields,
                  "fetch": files[0].fetch_id if files else new_fetch_id(),
                  "completed_at": datetime.now(UTC).isoformat(),
                  "files": [{"path": str(f.path), "sha256": f.sha256} for f in files]}
        self._append_manifest(feed, record)
        return fetch_of(record, files)

    @contextmanager
    def _manifest_lock(self, feed: str) -> Iterator[None]:
        """The feed's advisory lock of the warehouse (class docstring), if there is one."""
        if self.dsn is None:
            if not storage.is_local(self.root):
                raise LandingError(f"{self.root}: an object-store landing zone is written "
                                   "under the warehouse's lock: LandingStore(root, dsn)")
            yield
            return
        from corridor import locks

        with locks.session_lock(self.dsn, locks.landing(feed),
                                purpose="another writer of the feed's manifest"):
            yield

    def _append_manifest(self, feed: str, record: dict) -> None:
        """Append one line under the feed's manifest lock.

        On ``file://``: ONE ``write`` on an ``O_APPEND`` descriptor (the kernel places it
        whole at the end). On an object store: the manifest read, the line added, the
        whole PUT again and checked. A writer killed mid-line (``file://``) leaves an
        unterminated tail: it is cut off before this line is appended (readers skip it
        meanwhile), or it would glue onto this line and turn into a bad line in the
        middle.
        """
        line = (json.dumps(record, ensure_ascii=False, default=str) + "\n").encode("utf-8")
        manifest = self.root / _safe(feed) / MANIFEST
        with self._manifest_lock(feed):
            if storage.is_local(manifest):
                _append_local(manifest, line)
            else:
                held = manifest.read_bytes() if manifest.exists() else b""
                storage.put_checked(held[:held.rfind(b"\n") + 1] + line, manifest)

    def _lines(self, feed: str) -> list[dict]:
        return read_jsonl(self.root / _safe(feed) / MANIFEST)

    def manifest(self, feed: str) -> list[dict]:
        """The file rows of ``feed``, in landing order."""
        return [r for r in self._lines(feed) if r.get("record", "file") == "file"]

    def completed(self, feed: str) -> list[dict]:
        """The completed fetches of ``feed`` as fetch rows, in landing order (a whole-body
        file row stands for its own)."""
        return [r if r.get("record") == "fetch" else
                {**r, "record": "fetch", "completed_at": r["fetched_at"],
                 "files": [{"path": r["path"], "sha256": r["sha256"]}]}
                for r in self._lines(feed)
                if r.get("record") == "fetch" or (r.get("record") == "file" and r.get("complete"))]


def _append_local(manifest: Path, line: bytes) -> None:
    """``line`` appended to a local manifest with one ``O_APPEND`` write, a torn tail cut
    off first (the caller holds the feed's manifest lock)."""
    manifest.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(manifest, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        size = os.fstat(fd).st_size
        if size and os.pread(fd, 1, size - 1) != b"\n":
            keep = os.pread(fd, size, 0).rfind(b"\n") + 1
            log.warning("%s: cutting a torn last line (%d bytes) before appending",
                        manifest, size - keep)
            os.ftruncate(fd, keep)
        written = os.write(fd, line)
        if written != len(line):  # a full disk: never leave half a line behind
            os.ftruncate(fd, os.fstat(fd).st_size - written)
            raise OSError(f"{manifest}: short write ({written} of {len(line)} bytes)")
        os.fsync(fd)
    finally:
        os.close(fd)


def new_fetch_id() -> str:
    return uuid.uuid4().hex[:16]


def fetch_of(record: Mapping[str, Any], files: list[LandedFile]) -> Fetch:
    """A fetch row (and its files) as the :class:`Fetch` its load reads."""
    extra = {k: v for k, v in record.items() if k not in _FETCH_FIELDS}
    return Fetch(record["feed"], record["unit"], record.get("revision"),
                 record.get("status"), record.get("sha256"), tuple(files), extra)


_FETCH_FIELDS = frozenset({"record", "feed", "unit", "revision", "status", "sha256", "fetch",
                           "completed_at", "files", "url", "fetched_at", "bytes", "path",
                           "part", "complete"})


@dataclass
class Landed:
    """One file row and where its file is under the landing root it is read from."""

    index: int  # position among the feed's file rows (landing order)
    record: dict[str, Any]
    path: Path | ObjectStoragePath

    @property
    def unit(self) -> str:
        return str(self.record["unit"])

    @property
    def sha256(self) -> str:
        return str(self.record["sha256"]).lower()

    @cached_property
    def file(self) -> LandedFile:
        return LandedFile(self.path, self.sha256, int(self.record.get("bytes") or 0),
                          self.record.get("fetch"))


def _resolve(root: Path | ObjectStoragePath, feed: str, record: dict[str, Any]
             ) -> Path | ObjectStoragePath:
    """The file under *this* root (the manifest keeps the path it was written to; the
    landing folder may have been moved or copied since)."""
    recorded = Path(str(record["path"]))
    # the unit folder as it was written (however that version of _safe named it); a
    # name that could leave the feed folder is not trusted: derived from the unit again
    folder = recorded.parent.name
    if folder in ("", ".", "..") or "/" in folder:
        folder = _safe(str(record["unit"]))
    name = recorded.name
    if name in ("", ".", ".."):
        raise LandingError(f"{root / _safe(feed) / MANIFEST}: row names no file: {recorded}")
    return root / _safe(feed) / folder / name


def read_manifest(root: Path | ObjectStoragePath | str, feed: str) -> list[Landed]:
    """The file rows of ``feed`` under ``root``, in landing order."""
    root = storage.resolve(root)
    return [Landed(index, record, _resolve(root, feed, record))
            for index, record in enumerate(LandingStore(root).manifest(feed))]
