"""Duplicate keys of one ru_customs file, found while it streams, in bounded memory.

spec/feeds.md, common rules: a row whose key (``napr``, ``strana``, ``tnved``,
``region``) occurs more than once in the unit is rejected, all copies
(``duplicate_key``); keys of rows rejected for another reason count too.

:class:`KeyIndex` sees every keyed row once, in file order, and answers after the
last one. Three steps:

1. **Hash.** Each key gets a 64-bit hash. Rows of a run (lines of the publisher's
   layout, :func:`corridor.feeds.ru_customs._run_pattern`) are hashed a whole run at a
   time with numpy, from the run's bytes. Other rows are hashed from their key's text,
   in batches, by the same function, so equal keys get equal hashes whichever way
   their row was read (a key that cannot be a run's, e.g. an 8-digit code, is hashed
   by :func:`_text_hash` instead, wherever it comes from).
2. **Bitmap.** The top :data:`BUCKET_BITS` bits of a hash pick a bit of a fixed
   bitmap (32 MiB). A row whose bit is already set, and its bucket, are *candidates*.
   Every row's (hash, row number, byte offset) also goes to a temporary file on disk
   (24 bytes a row). Memory does not grow with the file: only the candidate buckets
   are kept, and there are few (the false ones number about N²/2²⁹: ~1 900 at 1 M
   rows, ~7 500 at 2 M).
3. **Exact.** After the pass, the temporary file is read back in chunks; rows in a
   candidate bucket whose full hash occurs twice are re-read at their byte offset (a
   line of the publisher's layout split on ``;``; any other record read again by the
   per-line rules) and grouped by their exact key. Hash collisions drop out there:
   the result is that of grouping the keys themselves
   (:func:`corridor.feeds.common.duplicate_keys`).
"""

from __future__ import annotations

import hashlib
import itertools
import tempfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import IO

import numpy as np

ENCODING = "windows-1251"
#: Bits of the hash that pick the bitmap's bit: 2**28 bits = 32 MiB.
BUCKET_BITS = 28
#: A region up to this many bytes is hashed with numpy; longer ones by :func:`_text_hash`.
REGION_MAX = 64
#: Rows hashed from their key's text are hashed this many at a time.
BATCH_ROWS = 4096
#: One record of the temporary file per keyed row: ``offset`` is the byte offset of
#: the row's line in the source (:meth:`KeyIndex.add_run`, :meth:`KeyIndex.add_line`),
#: or -1 - the byte offset of its record (:meth:`KeyIndex.add_key`).
RECORD = np.dtype([("hash", "<u8"), ("row", "<i8"), ("offset", "<i8")])
_CHUNK_RECORDS = 1 << 16
#: Bits of the coarse buckets that mark the candidates after the pass (128 KiB).
_MARK_BITS = 20

_M = np.uint64(0x9E3779B97F4A7C15)
_F1 = np.uint64(0xBF58476D1CE4E5B9)
_F2 = np.uint64(0x94D049BB133111EB)
_PREFIX = 24  # b"ИМ;MM/YYYY;KZ;0123456789": napr, the file's period, strana, tnved
_SEMICOLON, _LF = ord(";"), ord("\n")

Key = tuple[str, str, str, str]


@dataclass(frozen=True)
class DuplicateRow:
    """An accepted row whose key occurs more than once: it is to be rejected."""

    row_number: int
    key: Key
    raw_record: str  # the delivered text, fields joined by ``;``


def _shift(h: np.ndarray, bits: int) -> np.ndarray:
    return h ^ (h >> np.uint64(bits))


def _mix(h: np.ndarray, word: np.ndarray) -> np.ndarray:
    return _shift((h ^ word) * _M, 29)


#: Masks keeping the first k bytes (k = 0..8) of a little-endian 64-bit word.
_KEEP = np.array([(1 << (8 * k)) - 1 for k in range(9)], dtype=np.uint64)
#: One odd multiplier per 8-byte word of a region.
_WORD_FACTORS = [np.uint64((0x9E3779B97F4A7C15 * (2 * j + 1)) % (1 << 64) | 1)
                 for j in range(REGION_MAX // 8)]
_PAD = bytes(REGION_MAX + 8)


def _words(data: bytes) -> np.ndarray:
    """Element i: the 8 bytes of ``data`` from byte i, as a little-endian integer
    (``data`` must end with 7 spare bytes)."""
    return np.ndarray(shape=(len(data) - 7,), dtype="<u8", buffer=data, strides=(1,))


def _regular_hashes(words: np.ndarray, prefix_start: np.ndarray, region_start: np.ndarray,
                    region_len: np.ndarray) -> np.ndarray:
    """Hashes of keys of the regular shape, read from ``words`` (:func:`_words` of the
    rows' bytes): at ``prefix_start`` the 24 bytes ``napr;<period>;strana;tnved``
    (2 + 7 + 2 + 10 bytes and 3 ``;``), at ``region_start`` the region (``region_len``
    bytes, at most :data:`REGION_MAX`). The region's words are summed, each times its
    own factor, so that the bytes after it (masked to zero) add nothing."""
    h = _mix(region_len.astype(np.uint64) * _M, words[prefix_start])
    h = _mix(h, words[prefix_start + 8])
    h = _mix(h, words[prefix_start + 16])
    region = np.zeros(len(h), dtype=np.uint64)
    for j in range(-(-int(region_len.max(initial=0)) // 8)):
        kept = _KEEP[np.clip(region_len - 8 * j, 0, 8)]
        region += (words[region_start + 8 * j] & kept) * _WORD_FACTORS[j]
    h = _mix(h, region)
    return _shift(_shift(_shift(h, 30) * _F1, 27) * _F2, 31)


def _text_hash(key: Key) -> int:
    """The hash of a key outside the regular shape (never equal to a regular one's key,
    so the two hashes need not agree)."""
    digest = hashlib.blake2b("\x1f".join(key).encode("utf-8"), digest_size=8).digest()
    return int.from_bytes(digest, "little")


class KeyIndex:
    """Feed it every keyed row of one file in order (:meth:`add_run`,
    :meth:`add_line`, :meth:`add_key`), then ask :meth:`duplicates`.

    ``expected_period`` is the file's ``MM/YYYY``: part of every regular key's hashed
    prefix (a run's lines carry it; other rows' keys are hashed with it, whatever
    period they carried, since the period is not part of the key)."""

    def __init__(self, expected_period: str, *, bucket_bits: int | None = None) -> None:
        bucket_bits = BUCKET_BITS if bucket_bits is None else bucket_bits
        self._period = expected_period.encode(ENCODING)
        self._bitmap = np.zeros(1 << max(bucket_bits - 3, 0), dtype=np.uint8)
        self._bucket_bits = bucket_bits
        self._bucket_shift = np.uint64(64 - bucket_bits)
        self._collided: list[np.ndarray] = []
        self._records: IO[bytes] = tempfile.TemporaryFile()
        # Rows hashed from their key's text, waiting for a batch: regular keys' bytes,
        # and (hash, row, offset) of the others.
        self._prefixes: list[bytes] = []
        self._regions: list[bytes] = []
        self._rows: list[int] = []
        self._offsets: list[int] = []
        self._text: list[tuple[int, int, int]] = []

    def close(self) -> None:
        self._records.close()

    # ------------------------------------------------------------------ the pass

    def add_run(self, run: bytes, offset: int, first_row: int) -> int:
        """A run of CRLF lines of the publisher's 10 fields (exactly 9 ``;`` each),
        starting at byte ``offset`` of the source, numbered from ``first_row``; returns
        the number of lines."""
        data = np.frombuffer(run, dtype=np.uint8)
        # Per line: its 9 semicolons and its LF, in order.
        marks = np.flatnonzero((data == _SEMICOLON) | (data == _LF)).reshape(-1, 10)
        count = len(marks)
        starts = np.empty(count, dtype=np.int64)
        starts[0] = 0
        starts[1:] = marks[:-1, 9] + 1
        region_start = marks[:, 7] + 1
        region_len = marks[:, 8] - region_start
        long = region_len > REGION_MAX
        if long.any():  # rare: hash their text
            hashes = _regular_hashes(_words(run + _PAD), starts, region_start,
                                     np.where(long, 0, region_len))
            for index in np.flatnonzero(long):
                fields = run[starts[index]:marks[index, 9] - 1].decode(ENCODING).split(";")
                hashes[index] = _text_hash((fields[0], fields[2], fields[3], fields[8]))
        else:
            hashes = _regular_hashes(_words(run + _PAD), starts, region_start, region_len)
        self._observe(hashes, np.arange(first_row, first_row + count, dtype=np.int64),
                      starts + offset)
        return count

    def add_line(self, row_number: int, key: Key, offset: int) -> None:
        """A row whose line (no quotes, fields in the publisher's order, key fields as
        delivered) starts at byte ``offset``: :meth:`duplicates` re-reads it there."""
        self._add(row_number, key, offset)

    def add_key(self, row_number: int, key: Key, offset: int) -> None:
        """A row read by the per-line rules, its key as :func:`_classify` gives it,
        from the record that starts at byte ``offset``: :meth:`duplicates` reads that
        record again if need be."""
        self._add(row_number, key, -1 - offset)

    def _add(self, row_number: int, key: Key, offset: int) -> None:
        napr, strana, tnved, region = key
        try:
            prefix = b";".join((napr.encode(ENCODING), self._period, strana.encode(ENCODING),
                                tnved.encode(ENCODING)))
            region_bytes = region.encode(ENCODING)
        except UnicodeEncodeError:
            prefix = region_bytes = b""
        if len(prefix) != _PREFIX or len(region_bytes) > REGION_MAX \
                or prefix.count(b";") != 3 or b";" in region_bytes:
            self._text.append((_text_hash(key), row_number, offset))
        else:
            self._prefixes.append(prefix)
            self._regions.append(region_bytes)
            self._rows.append(row_number)
            self._offsets.append(offset)
        if len(self._rows) + len(self._text) >= BATCH_ROWS:
            self._flush()

    def _flush(self) -> None:
        if self._text:
            hashes, rows, offsets = zip(*self._text, strict=True)
            self._observe(np.array(hashes, dtype=np.uint64), np.array(rows, dtype=np.int64),
                          np.array(offsets, dtype=np.int64))
            self._text.clear()
        if not self._rows:
            return
        count = len(self._rows)
        region_len = np.fromiter(map(len, self._regions), dtype=np.int64, count=count)
        # Each row's prefix then region, one after the other.
        lengths = _PREFIX + region_len
        prefix_start = np.zeros(count, dtype=np.int64)
        np.cumsum(lengths[:-1], out=prefix_start[1:])
        data = b"".join(itertools.chain.from_iterable(zip(self._prefixes, self._regions,
                                                          strict=True))) + _PAD
        self._observe(_regular_hashes(_words(data), prefix_start, prefix_start + _PREFIX,
                                      region_len),
                      np.array(self._rows, dtype=np.int64),
                      np.array(self._offsets, dtype=np.int64))
        self._prefixes.clear()
        self._regions.clear()
        self._rows.clear()
        self._offsets.clear()

    def _observe(self, hashes: np.ndarray, rows: np.ndarray, offsets: np.ndarray) -> None:
        if not len(hashes):
            return
        buckets = np.sort((hashes >> self._bucket_shift).astype(np.int64))
        byte, bit = buckets >> 3, (1 << (buckets & 7)).astype(np.uint8)
        seen = buckets[(self._bitmap[byte] & bit) != 0]
        twice = buckets[1:][buckets[1:] == buckets[:-1]]
        if seen.size or twice.size:
            self._collided.append(np.concatenate((seen, twice)))
        # Set the bits: OR together the bits of each byte first (bytes are sorted).
        first = np.flatnonzero(np.concatenate(([True], byte[1:] != byte[:-1])))
        self._bitmap[byte[first]] |= np.bitwise_or.reduceat(bit, first)
        records = np.empty(len(hashes), dtype=RECORD)
        records["hash"], records["row"], records["offset"] = hashes, rows, offsets
        self._records.write(records.tobytes())

    # ------------------------------------------------------------------ the answer

    def duplicates(self, read_lines: Callable[[Iterable[int]], dict[int, str]],
                   read_records: Callable[[Iterable[int]], dict[int, tuple[Key, bool, str]]]
                   ) -> list[DuplicateRow]:
        """The accepted rows whose key occurs more than once, by row number, once all
        rows are in. ``read_lines(offsets)``: the source's line (without its end) at
        each offset; ``read_records(offsets)``: (key, accepted, raw record) of the record
        at each offset, by the per-line rules."""
        self._flush()
        if not self._collided:
            return []
        # A small bitmap of coarse buckets (the top _MARK_BITS bits) marks the candidate
        # buckets; a few more rows pass it, and drop out at the full hash below.
        coarse = np.concatenate(self._collided) >> max(self._bucket_bits - _MARK_BITS, 0)
        marks = np.zeros(1 << max(min(self._bucket_bits, _MARK_BITS) - 3, 0), dtype=np.uint8)
        np.bitwise_or.at(marks, coarse >> 3, (1 << (coarse & 7)).astype(np.uint8))
        mark_shift = np.uint64(64 - min(self._bucket_bits, _MARK_BITS))
        self._records.flush()
        self._records.seek(0)
        candidates = []
        while chunk := self._records.read(_CHUNK_RECORDS * RECORD.itemsize):
            records = np.frombuffer(chunk, dtype=RECORD)
            buckets = (records["hash"] >> mark_shift).astype(np.int64)
            marked = marks[buckets >> 3] & (1 << (buckets & 7)).astype(np.uint8)
            candidates.append(records[marked != 0])
        records = np.concatenate(candidates)
        records = records[np.argsort(records["hash"], kind="stable")]
        same = records["hash"][1:] == records["hash"][:-1]
        paired = np.zeros(len(records), dtype=bool)
        paired[1:] |= same
        paired[:-1] |= same
        records = records[paired]
        if not len(records):
            return []

        # The exact keys of the rows whose hash occurs twice.
        rows: dict[int, tuple[Key, bool, str]] = {}
        at_offset = records[records["offset"] >= 0]
        lines = read_lines(int(offset) for offset in at_offset["offset"])
        for row, offset in zip(at_offset["row"].tolist(), at_offset["offset"].tolist(),
                               strict=True):
            fields = lines[offset].split(";")
            rows[row] = ((fields[0], fields[2], fields[3], fields[8]), True, lines[offset])
        in_records = records[records["offset"] < 0]
        if len(in_records):
            found = read_records(int(-1 - offset) for offset in in_records["offset"])
            for row, offset in zip(in_records["row"].tolist(), in_records["offset"].tolist(),
                                   strict=True):
                rows[row] = found[-1 - offset]
        by_key: dict[Key, list[int]] = {}
        for row, (key, _, _) in rows.items():
            by_key.setdefault(key, []).append(row)
        return sorted(
            (DuplicateRow(row, key, rows[row][2])
             for key, group in by_key.items() if len(group) > 1
             for row in group if rows[row][1]),
            key=lambda duplicate: duplicate.row_number)
