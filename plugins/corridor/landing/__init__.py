"""The landing zone: every payload byte-for-byte, before parsing, with a manifest."""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import re
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

MANIFEST = "manifest.jsonl"
#: Per feed, one line per unit fetch that completed: which landed files make the unit.
COMPLETED = "completed.jsonl"


@dataclass(frozen=True)
class LandedFile:
    path: Path
    sha256: str
    bytes: int


def _safe(part: str) -> str:
    """A path component from a unit or revision label ('156:2024-01' -> '156_2024-01')."""
    return re.sub(r"[^A-Za-z0-9._-]", "_", part) or "_"


def strip_credentials(url: str) -> str:
    parts = urlsplit(url)
    if parts.username or parts.password:
        netloc = parts.hostname or ""
        if parts.port:
            netloc += f":{parts.port}"
        parts = parts._replace(netloc=netloc)
    return urlunsplit(parts)


class LandingStore:
    """Files under ``root/<feed>/<unit>/<revision or fetched-ts>-<sha8>.<suffix>``.

    Written to a temporary file then renamed (``os.replace``): a reader never sees
    half a file. ``root/<feed>/manifest.jsonl`` gets one JSON line per file.
    """

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def put(self, feed: str, unit: str, revision: int | str | None, payload: bytes, *,
            url: str, status: int | str | None, suffix: str, part: str | None = None
            ) -> LandedFile:
        """Store ``payload`` as delivered. ``part`` names one piece of a multi-request
        unit (a page, a query split), so the pieces of one revision sit side by side."""
        fetched_at = datetime.now(UTC)
        sha256 = hashlib.sha256(payload).hexdigest()
        label = (f"r{revision}" if revision is not None
                 else fetched_at.strftime("%Y%m%dT%H%M%S%fZ"))
        if part:
            label += f"-{part}"
        directory = self.root / _safe(feed) / _safe(unit)
        directory.mkdir(parents=True, exist_ok=True)
        path = directory / f"{_safe(label)}-{sha256[:8]}.{suffix.lstrip('.')}"
        fd, tmp = tempfile.mkstemp(dir=directory, prefix=".landing-", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(payload)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        record = {
            "feed": feed, "unit": unit, "revision": revision, "status": status,
            "url": strip_credentials(url), "fetched_at": fetched_at.isoformat(),
            "bytes": len(payload), "sha256": sha256, "path": str(path), "part": part,
        }
        self._append_manifest(self.root / _safe(feed) / MANIFEST, record)
        return LandedFile(path=path, sha256=sha256, bytes=len(payload))

    def unit_dir(self, feed: str, unit: str) -> Path:
        """The folder of ``unit``'s files (not created here): where a large body is
        streamed to a temporary file before :meth:`put_file` renames it into place."""
        return self.root / _safe(feed) / _safe(unit)

    def put_file(self, feed: str, unit: str, revision: int | str | None, tmp_path: Path, *,
                 sha256: str, size: int, url: str, status: int | str | None, suffix: str,
                 part: str | None = None) -> LandedFile:
        """Land an already-written temporary file (in :meth:`unit_dir`, written and
        fsynced by the caller, which hashed it on the way: ``sha256``, ``size``) by
        renaming it to the name :meth:`put` would give it: the same layout and manifest
        line, without holding the payload in memory."""
        fetched_at = datetime.now(UTC)
        label = (f"r{revision}" if revision is not None
                 else fetched_at.strftime("%Y%m%dT%H%M%S%fZ"))
        if part:
            label += f"-{part}"
        directory = self.unit_dir(feed, unit)
        directory.mkdir(parents=True, exist_ok=True)
        path = directory / f"{_safe(label)}-{sha256[:8]}.{suffix.lstrip('.')}"
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
        path = self.root / _safe(feed) / COMPLETED
        if not path.exists():
            return []
        return [json.loads(line) for line in path.read_text("utf-8").splitlines() if line]

    @staticmethod
    def _append_manifest(manifest: Path, record: dict) -> None:
        line = (json.dumps(record, ensure_ascii=False, default=str) + "\n").encode("utf-8")
        with manifest.open("ab") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)  # parallel tasks append whole lines
            try:
                handle.write(line)
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def manifest(self, feed: str) -> list[dict]:
        path = self.root / _safe(feed) / MANIFEST
        if not path.exists():
            return []
        return [json.loads(line) for line in path.read_text("utf-8").splitlines() if line]
