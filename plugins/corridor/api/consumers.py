"""Consumer keys of the API: who may read, stored as salted hashes only.

A key is ``crd_<id>_<secret>``: ``id`` (8 hex characters) finds its entry, ``secret`` is
32 random bytes (``secrets.token_urlsafe``). Only ``HMAC-SHA256(salt, secret)`` is
stored, with a salt of its own per key. A fast keyed hash is the right scheme for a
256-bit random secret (as for GitHub's or PyPI's tokens): there is no password to guess,
so the slowness of a password hash (scrypt, argon2) would only slow every request.
Comparison is constant-time (``hmac.compare_digest``), and an unknown id costs the same
work as a known one.

The store is a JSON file (``CORRIDOR_CONSUMERS_FILE``, default
``<home_dir>/consumers.json``), written atomically with mode 0600; the API re-reads it
when it changes, so a revoked key stops working without a restart.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

_KEY = re.compile(r"crd_([0-9a-f]{8})_([A-Za-z0-9_-]{43})")
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9 ._-]{0,63}")


@dataclass(frozen=True)
class Consumer:
    name: str
    key_id: str
    created_at: str
    revoked_at: str | None


def _digest(salt: bytes, secret: str) -> str:
    return hmac.new(salt, secret.encode("ascii"), hashlib.sha256).hexdigest()


class ConsumerStore:
    """The consumers file: add, revoke, list, and check a presented key."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._cache: tuple[float, int, list[dict]] | None = None

    def __repr__(self) -> str:
        return f"ConsumerStore({str(self.path)!r})"

    def _entries(self) -> list[dict]:
        try:
            stat = self.path.stat()
        except FileNotFoundError:
            return []
        if self._cache and self._cache[:2] == (stat.st_mtime, stat.st_size):
            return self._cache[2]
        entries = json.loads(self.path.read_text(encoding="utf-8"))["consumers"]
        self._cache = (stat.st_mtime, stat.st_size, entries)
        return entries

    def _write(self, entries: list[dict]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        temporary = self.path.with_name(f".{self.path.name}.{secrets.token_hex(4)}")
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            json.dump({"consumers": entries}, handle, indent=2)
            handle.write("\n")
        os.replace(temporary, self.path)
        self._cache = None

    def add(self, name: str, now: datetime | None = None) -> str:
        """A new key for ``name``: returned once, never stored."""
        if not _NAME.fullmatch(name):
            raise ValueError(f"consumer name {name!r}: letters, digits, space, . _ - "
                             "(at most 64)")
        entries = self._entries()
        if any(e["name"] == name and not e["revoked_at"] for e in entries):
            raise ValueError(f"consumer {name!r} already has a key: revoke it first")
        key_id, secret, salt = secrets.token_hex(4), secrets.token_urlsafe(32), os.urandom(16)
        entries = [*entries, {
            "name": name, "key_id": key_id, "salt": salt.hex(),
            "digest": _digest(salt, secret),
            "created_at": (now or datetime.now(UTC)).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "revoked_at": None}]
        self._write(entries)
        return f"crd_{key_id}_{secret}"

    def revoke(self, name: str, now: datetime | None = None) -> int:
        """End every live key of ``name``; how many were ended."""
        entries = self._entries()
        when = (now or datetime.now(UTC)).strftime("%Y-%m-%dT%H:%M:%SZ")
        ended = 0
        for entry in entries:
            if entry["name"] == name and not entry["revoked_at"]:
                entry["revoked_at"] = when
                ended += 1
        if ended:
            self._write(entries)
        return ended

    def list(self) -> list[Consumer]:
        return [Consumer(e["name"], e["key_id"], e["created_at"], e["revoked_at"])
                for e in self._entries()]

    def check(self, key: str) -> str | None:
        """The consumer's name if ``key`` is a live key, else None (constant time in
        the secret; an unknown id is checked against a dummy entry)."""
        match = _KEY.fullmatch(key or "")
        key_id, secret = match.groups() if match else ("", "x" * 43)
        entry = next((e for e in self._entries()
                      if e["key_id"] == key_id and not e["revoked_at"]), None)
        salt = bytes.fromhex(entry["salt"]) if entry else b"\0" * 16
        expected = entry["digest"] if entry else "0" * 64
        same = hmac.compare_digest(_digest(salt, secret), expected)
        return entry["name"] if entry and same and match else None
