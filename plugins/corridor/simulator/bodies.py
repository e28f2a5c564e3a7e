"""Generated response bodies cached on disk, so a unit is generated once per world.

A national month is ~1 M rows at full regional detail; generating it in Python costs
tens of seconds, reading it back from disk a fraction of one. ``BodyCache`` keeps the
bytes of a unit's body in a file (and its sha256, length and line count beside it), so
the server sends the file and the release listing reads the figures without building
the data.

The key is what the bytes depend on, nothing more: the simulator's code (a digest of
its modules), the world's ``seed``, ``scale``, ``faults`` and ``comtrade_record_cap``;
then the feed, the unit and the unit's own state (revision, status, re-publication
steps). The calendar (``first_month``, ``last_month``, ``preliminary_months``) is left
out on purpose: it only decides a month's status, which is in the unit's part of the key,
so a world one month longer reuses every month it shares with the shorter one.

A body may also carry a line index (``index=True``: where every CRLF-terminated line
ends, so a page of lines is read without reading what comes before it: KZ items, port
versions) and small facts (``facts``: a Comtrade unit's checksum and record count), so
that listings read figures and never build the data.

Delivery faults (truncated bodies, transient errors) act on the way out, never here: a
file holds a unit's whole body or does not exist. Files are written to a temporary name
in the same folder and renamed (the figures last, so a body without figures is never
read), so concurrent simulators with the same world can share one folder.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
from array import array
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from corridor.simulator.common import SimConfig

_PACKAGE_DIR = Path(__file__).resolve().parent
#: SimConfig fields a body does not depend on (the unit's status in its key stands for them).
_CALENDAR_FIELDS = ("first_month", "last_month", "preliminary_months")


@dataclass(frozen=True)
class CachedBody:
    """A unit's body on disk and its figures."""

    path: Path
    sha256: str
    length: int
    lines: int  # CRLF-terminated lines (a CSV's header included)
    facts: dict = field(default_factory=dict)  # what ``get(facts=...)`` stored beside it

    def line_span(self, first: int, stop: int) -> bytes:
        """Lines ``first`` .. ``stop - 1`` (0-based, CRLFs included) of an indexed body."""
        first, stop = max(0, min(first, self.lines)), max(0, min(stop, self.lines))
        if first >= stop:
            return b""
        ends = array("Q")
        with self.path.with_suffix(".idx").open("rb") as handle:
            handle.seek(8 * max(first - 1, 0))
            ends.frombytes(handle.read(8 * (stop - max(first - 1, 0))))
        start = ends[0] if first else 0
        with self.path.open("rb") as handle:
            handle.seek(start)
            return handle.read(ends[-1] - start)


@lru_cache(maxsize=1)
def code_digest() -> str:
    """sha256 of the simulator's modules: changed generation code never reads old bodies."""
    digest = hashlib.sha256()
    for module in sorted(_PACKAGE_DIR.glob("*.py")):
        digest.update(module.name.encode() + b"\0" + module.read_bytes() + b"\0")
    return digest.hexdigest()


def world_key(config: SimConfig) -> str:
    """The folder name of a world's bodies: its config minus the calendar, and the code."""
    fields = {k: v for k, v in asdict(config).items() if k not in _CALENDAR_FIELDS}
    text = json.dumps({"config": fields, "code": code_digest()}, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:24]


class BodyCache:
    """One world's bodies under ``root/<world key>/<feed>/``."""

    def __init__(self, root: str | os.PathLike[str], config: SimConfig) -> None:
        self.dir = Path(root) / world_key(config)
        self._locks: dict[tuple[str, str], threading.Lock] = {}
        self._locks_lock = threading.Lock()

    def _paths(self, feed: str, name: str) -> tuple[Path, Path]:
        folder = self.dir / feed
        return folder / f"{name}.body", folder / f"{name}.json"

    def lookup(self, feed: str, name: str) -> CachedBody | None:
        """The cached body ``name`` of ``feed``, or None when it is not written (yet)."""
        body, meta = self._paths(feed, name)
        try:
            figures = json.loads(meta.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        if not body.is_file() or body.stat().st_size != figures["length"]:
            return None
        return CachedBody(body, figures["sha256"], figures["length"], figures["lines"],
                          figures.get("facts", {}))

    def get(self, feed: str, name: str, generate: Callable[[], Iterable[bytes]], *,
            index: bool = False, facts: Callable[[], dict] | None = None) -> CachedBody:
        """The cached body, generated by ``generate()`` (byte chunks) and written first if
        it is not on disk. One thread generates a body; the others wait for it.

        ``index``: also write where every line ends (``CachedBody.line_span``);
        ``facts()``: called once the chunks are written, its JSON-able dict kept with the
        figures (``CachedBody.facts``)."""
        cached = self.lookup(feed, name)
        if cached is not None:
            return cached
        with self._locks_lock:
            lock = self._locks.setdefault((feed, name), threading.Lock())
        with lock:
            cached = self.lookup(feed, name)
            if cached is None:
                cached = self._write(feed, name, generate(), index, facts)
            return cached

    def _write(self, feed: str, name: str, chunks: Iterable[bytes], index: bool,
               facts: Callable[[], dict] | None) -> CachedBody:
        body, meta = self._paths(feed, name)
        body.parent.mkdir(parents=True, exist_ok=True)
        suffix = f".{os.getpid()}.{threading.get_ident()}.tmp"
        tmp_body, tmp_meta = body.with_name(body.name + suffix), meta.with_name(meta.name + suffix)
        idx = body.with_suffix(".idx")
        tmp_idx = idx.with_name(idx.name + suffix)
        digest, length, lines, last = hashlib.sha256(), 0, 0, b""
        ends = array("Q")
        try:
            with tmp_body.open("wb") as handle:
                for chunk in chunks:
                    if not chunk:
                        continue
                    handle.write(chunk)
                    digest.update(chunk)
                    if index:
                        if last == b"\r" and chunk[:1] == b"\n":
                            ends.append(length + 1)
                        at = chunk.find(b"\r\n")
                        while at >= 0:
                            ends.append(length + at + 2)
                            at = chunk.find(b"\r\n", at + 2)
                    length += len(chunk)
                    # a CRLF split between two chunks counts too
                    lines += chunk.count(b"\r\n") + (last == b"\r" and chunk[:1] == b"\n")
                    last = chunk[-1:]
            figures = {"sha256": digest.hexdigest(), "length": length, "lines": lines}
            if facts is not None:
                figures["facts"] = facts()
            if index:
                tmp_idx.write_bytes(ends.tobytes())
            tmp_meta.write_text(json.dumps(figures), encoding="utf-8")
            if index:
                os.replace(tmp_idx, idx)
            os.replace(tmp_body, body)
            os.replace(tmp_meta, meta)
        finally:
            tmp_body.unlink(missing_ok=True)
            tmp_meta.unlink(missing_ok=True)
            tmp_idx.unlink(missing_ok=True)
        return CachedBody(body, figures["sha256"], length, lines, figures.get("facts", {}))
