"""The landing zone: every payload byte-for-byte, before parsing, with a manifest."""

from __future__ import annotations

import fcntl
import hashlib
import json
import logging
import os
import re
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

log = logging.getLogger(__name__)

MANIFEST = "manifest.jsonl"
#: Per feed, one line per unit fetch that completed: which landed files make the unit.
COMPLETED = "completed.jsonl"


@dataclass(frozen=True)
class LandedFile:
    path: Path
    sha256: str
    bytes: int


#: Longest label kept readable in a file name; longer ones are hashed.
MAX_LABEL = 64
_READABLE = re.compile(r"[A-Za-z0-9._:-]+")


class ManifestError(ValueError):
    """A manifest (or completed.jsonl) line that is not the torn last one does not parse."""


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


def read_jsonl(path: Path) -> list[dict]:
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

    Written to a temporary file then renamed (``os.replace``): a reader never sees
    half a file. ``root/<feed>/manifest.jsonl`` gets one JSON line per file,
    appended whole (:meth:`_append_manifest`); readers skip a torn last line
    (:func:`read_jsonl`).
    """

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def put(self, feed: str, unit: str, revision: int | str | None, payload: bytes, *,
            url: str, status: int | str | None, suffix: str, part: str | None = None
            ) -> LandedFile:
        """Store ``payload`` as delivered. ``part`` names one piece of a multi-request
        unit (a page, a query split), so the pieces of one revision sit side by side."""
        directory = self.unit_dir(feed, unit)
        directory.mkdir(parents=True, exist_ok=True)
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
                             url=url, status=status, suffix=suffix, part=part)

    def unit_dir(self, feed: str, unit: str) -> Path:
        """The folder of ``unit``'s files (not created here): where a large body is
        streamed to a temporary file before :meth:`put_file` renames it into place."""
        return self.root / _safe(feed) / _safe(unit)

    def put_file(self, feed: str, unit: str, revision: int | str | None, tmp_path: Path, *,
                 sha256: str, size: int, url: str, status: int | str | None, suffix: str,
                 part: str | None = None) -> LandedFile:
        """Land an already-written temporary file (in :meth:`unit_dir`, written and
        fsynced by the caller, which hashed it on the way: ``sha256``, ``size``) by
        renaming it into place, with its manifest line; :meth:`put` lands bytes so."""
        fetched_at = datetime.now(UTC)
        label = _safe(f"r{revision}" if revision is not None
                      else fetched_at.strftime("%Y%m%dT%H%M%S%fZ"))
        if part:
            label += f"-{_safe(part)}"
        directory = self.unit_dir(feed, unit)
        directory.mkdir(parents=True, exist_ok=True)
        path = directory / f"{label}-{sha256[:8]}.{_safe(suffix.lstrip('.'))}"
        try:
            os.replace(tmp_path, path)
        except BaseException:
            Path(tmp_path).unlink(missing_ok=True)
            raise
        record = {
            "feed": feed, "unit": unit, "revision": revision, "status": status,
            "url": strip_credentials(url), "fetched_at": fetched_at.isoformat(),
            "bytes": size, "sha256": sha256, "path": str(path), "part": part,
        }
        self._append_manifest(self.root / _safe(feed) / MANIFEST, record)
        return LandedFile(path=path, sha256=sha256, bytes=size)

    def complete(self, feed: str, unit: str, files: list[LandedFile], **extra: object) -> None:
        """Record that a fetch of ``unit`` completed and which landed files it is made of
        (a Comtrade call may hold several units; replay reads this, not file names)."""
        record = {"feed": feed, "unit": unit, "completed_at": datetime.now(UTC).isoformat(),
                  "files": [{"path": str(f.path), "sha256": f.sha256} for f in files], **extra}
        directory = self.root / _safe(feed)
        directory.mkdir(parents=True, exist_ok=True)
        self._append_manifest(directory / COMPLETED, record)

    def completed(self, feed: str) -> list[dict]:
        return read_jsonl(self.root / _safe(feed) / COMPLETED)

    @staticmethod
    def _append_manifest(manifest: Path, record: dict) -> None:
        """Append one line with ONE ``write`` on an ``O_APPEND`` descriptor (the kernel
        places it whole at the end), under an exclusive ``flock`` so that the repair
        below cannot race another writer.

        A writer killed mid-line leaves an unterminated tail: it is cut off before this
        line is appended (readers skip it meanwhile), or it would glue onto this line
        and turn into a bad line in the middle.
        """
        line = (json.dumps(record, ensure_ascii=False, default=str) + "\n").encode("utf-8")
        fd = os.open(manifest, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
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
                fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            os.close(fd)

    def manifest(self, feed: str) -> list[dict]:
        return read_jsonl(self.root / _safe(feed) / MANIFEST)
