"""ru_customs: Russian customs monthly CSV (windows-1251, ';', decimal comma, CRLF).

One parser, :class:`Scan`, used by the loader (:func:`corridor.load.raw.load_ru_customs_csv`,
so by ingest and replay) and by :func:`parse_csv` (a unit's rows in memory). pyarrow's
streaming CSV reader splits the records; one regular expression over each block's COPY
lines finds the rows every rule accepts as they stand; any other row (another field count,
blanks, lower case, a broken rule) is judged alone by :func:`_row`, the one place of the
rules and their messages. Duplicate keys: every row's key is kept as one 64-bit integer
and the raw records spilled to a temporary file, whence those of the duplicates come.

A source is the payload ``bytes``, a path to the landed file, or an iterable of ``bytes``
chunks (spooled to a temporary file).
"""

from __future__ import annotations

import csv
import functools
import io
import itertools
import logging
import os
import tempfile
import weakref
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import IO, Any, Union

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from corridor.feeds.common import (
    FeedError,
    ParseResult,
    Rejection,
    RowError,
    check_code,
    make_rejection,
    storable_text,
)
from corridor.feeds.http import FeedClient, FeedHTTPError, json_body
from corridor.feeds.rules import RowRules
from corridor.feeds.shapes import RuRelease, RuReleases, validated
from corridor.reference import iso2_codes

log = logging.getLogger(__name__)

FEED = "ru_customs"
ENCODING = "windows-1251"
REPORTER_ISO2 = "RU"
FLOWS = ("ИМ", "ЭК")
#: The row rules, read by :func:`_row`, :func:`_plain_pattern` and the simulator.
RULES = RowRules(
    required=("napr", "period", "strana", "tnved", "stoim", "netto"),
    decimals=("stoim", "netto", "kol"), optional=("kol",), decimal_comma=True,
    codes={"tnved": 10},
    one_of={"napr": FLOWS},
    partner=("strana",), partners=iso2_codes, reporter=REPORTER_ISO2,
    period=("period",),
    key=("napr", "strana", "tnved", "region"),
)
REQUIRED = RULES.required
RELEASES_PATH = "/ru-customs/v1/releases"
#: The publisher's column order.
CSV_COLUMNS = ("napr", "period", "strana", "tnved", "edizm", "stoim", "netto", "kol",
               "region", "region_s")
#: ``raw.ru_customs_rows`` columns, in the order of :func:`copy_text`.
ROW_COLUMNS = (*CSV_COLUMNS, "period_month", "revision", "status", "row_number")
KEY_NAMES = RULES.key
KEY_FIELDS = f"({', '.join(KEY_NAMES)})"
#: Characters ``str.strip()`` removes that a windows-1251 file can carry.
STRIP_CHARS = "".join(ch for ch in bytes(range(256)).decode(ENCODING, "replace") if ch.isspace())
_BOM_AS_1251 = "\ufeff".encode("utf-8").decode(ENCODING)
#: A key in 64 bits: partner, flow and tnved, then the region as the number of its first
#: appearance in the unit in the low REGION_BITS bits.
REGION_BITS = 21
_NO_KEY = np.uint64(2**64 - 1)  # no key, or one that no accepted row can have
#: Bytes of a block of rows (pyarrow's) and of a read of the file.
BLOCK_BYTES = 1 << 19

Source = Union[bytes, str, "os.PathLike[str]", Iterable[bytes]]


@contextmanager
def seekable(source: Source) -> Iterator[IO[bytes]]:
    """The source as a binary file: the payload, the landed file, or the chunks spooled."""
    if isinstance(source, (bytes, bytearray, memoryview)):
        yield io.BytesIO(source)
    elif isinstance(source, (str, os.PathLike)):
        with open(source, "rb") as handle:
            yield handle
    elif hasattr(source, "open"):  # a landed file on an object store (corridor.storage)
        with source.open("rb") as handle:
            yield handle
    else:
        with tempfile.TemporaryFile() as spool:
            for chunk in source:
                spool.write(chunk)
            yield spool


class Undecodable(ValueError):
    """A byte that is not windows-1251 (0x98, the one byte it leaves undefined)."""

    def __init__(self, period_month: str, offset: int, line: int, row: int) -> None:
        byte = f"byte 0x98 at byte offset {offset} is not {ENCODING}"
        self.by_line = f"{FEED} {period_month}: line {line}: {byte}"
        super().__init__(f"{FEED} {period_month}: "
                         f"{f'data row {row}' if row else 'the header'}: {byte}")


class _Utf8(io.RawIOBase):
    """A windows-1251 file as UTF-8 for pyarrow, up to the line holding a byte that is
    not windows-1251: there it ends, and :attr:`bad` says where. No read ends between
    the CR and the LF of a CRLF: pyarrow 26 drops that LF when it is in quotes."""

    def __init__(self, raw: IO[bytes]) -> None:
        self.raw, self.out, self.carry, self.done = raw, b"", b"", False
        self.offset = self.line = 0  # of the carry's start
        self.bad: tuple[int, int] | None = None  # (byte offset, line)

    def readable(self) -> bool:
        return True

    def _fill(self) -> None:
        block = self.raw.read(BLOCK_BYTES // 3)
        data = self.carry + block
        cut = (data.rfind(b"\n") + 1 or data.rfind(b"\r", 0, len(data) - 1) + 1
               if block else len(data))
        self.done = not block
        if (at := data.find(b"\x98", 0, cut)) >= 0:
            self.bad = (self.offset + at, self.line + data.count(b"\n", 0, at) + 1)
            cut, self.done = max(data.rfind(b"\n", 0, at), data.rfind(b"\r", 0, at)) + 1, True
        self.out += data[:cut].decode(ENCODING).encode()
        self.offset, self.line = self.offset + cut, self.line + data.count(b"\n", 0, cut)
        self.carry = data[cut:]

    def readinto(self, buffer: Any) -> int:
        while len(self.out) < len(buffer) and not self.done:
            self._fill()
        size = min(len(buffer), len(self.out))
        size -= self.out[size - 1:size + 1] == b"\r\n"
        buffer[:size], self.out = self.out[:size], self.out[size:]
        return size

    def at_end(self) -> bool:
        """Nothing more to read (pyarrow refuses a stream with no bytes at all)."""
        while not self.out and not self.done:
            self._fill()
        return not self.out

    def first_line(self) -> str | None:
        self.at_end()
        line = io.StringIO(self.out.decode(), newline="").readline()
        self.out = self.out[len(line.encode()):]
        return line or None


def _header(stream: _Utf8, period_month: str) -> dict[str, int]:
    """Column positions by name, from the header."""
    line = stream.first_line()
    if line is None:
        if stream.bad:
            raise Undecodable(period_month, *stream.bad, 0)
        raise ValueError(f"{FEED} {period_month}: empty file")
    header = next(csv.reader([line], delimiter=";"))
    if header and header[0].startswith(_BOM_AS_1251):
        # A UTF-8 byte order mark. The contract says windows-1251, where these bytes
        # read "п»ї": not a column name. Decided: refuse the file, naming the BOM, rather
        # than strip it: a BOM says the file was written as UTF-8, and decoding the rest
        # as windows-1251 would load garbled text (or reject every row) without a word.
        raise FeedError(FEED, period_month, "header",
                        f"the file starts with a UTF-8 byte order mark (EF BB BF), not "
                        f"{ENCODING} text: refused")
    header = [name.strip().lower() for name in header]
    repeated = sorted({name for name in header if name and header.count(name) > 1})
    if repeated:
        # Which of the two columns holds the values cannot be known: the file fails.
        raise FeedError(FEED, period_month, "header",
                        f"column {repeated[0]!r} occurs more than once in the header")
    missing = [name for name in REQUIRED if name not in header]
    if missing:
        raise ValueError(f"{FEED} {period_month}: header lacks required columns {missing}")
    return {name: position for position, name in enumerate(header)}


def _blocks(file: IO[bytes], period_month: str) -> Iterator[Any]:
    """The header's column positions by name, then (row numbers, fields by position, odd
    rows) per block of rows. pyarrow reads the records of the header's width; it hands any other to
    ``on_invalid`` with its number, and such records come back as *odd rows*, (number,
    fields as the csv module reads them), with the block whose numbers they fall among.
    A record that the csv module reads as blank (``""``) is no data line: not numbered."""
    file.seek(0)
    stream = _Utf8(file)
    index = _header(stream, period_month)
    yield index
    names = [str(position) for position in range(max(index.values()) + 1)]
    invalid: list[tuple[int, str]] = []

    def on_invalid(row: Any) -> str:
        invalid.append((row.number, row.text))
        return "skip"

    reader = [] if stream.at_end() else pacsv.open_csv(
        stream, read_options=pacsv.ReadOptions(column_names=names, use_threads=False,
                                               block_size=BLOCK_BYTES),
        parse_options=pacsv.ParseOptions(delimiter=";", newlines_in_values=True,
                                         invalid_row_handler=on_invalid),
        convert_options=pacsv.ConvertOptions(column_types=dict.fromkeys(names, pa.string()),
                                             strings_can_be_null=False,
                                             quoted_strings_can_be_null=False))
    empty = [pa.array([], pa.string())] * len(names)
    blanks: list[int] = []
    used = rows = 0  # pyarrow's last number of a row of its own; the last data row
    for batch in itertools.chain(_batches(reader, period_month), [None]):
        size = 0 if batch is None else batch.num_rows
        skip = np.array([number for number, _ in invalid], dtype=np.int64)
        numbers = np.arange(used + 1, used + 1 + size + len(skip))
        numbers = numbers[~np.isin(numbers, skip)][:size]
        used = int(numbers[-1]) if size else used
        taken = [(number, next(csv.reader([text], delimiter=";"), []))
                 for number, text in invalid if batch is None or number < used]
        del invalid[:len(taken)]
        blanks += [number for number, fields in taken if fields in ([], [""])]
        odd = [(number - np.searchsorted(blanks, number), fields)
               for number, fields in taken if fields not in ([], [""])]
        numbers = numbers - np.searchsorted(blanks, numbers)
        rows = max([rows, *numbers[-1:], *(number for number, _ in odd)])
        yield numbers, empty if batch is None else batch.columns, odd
    if stream.bad:
        raise Undecodable(period_month, *stream.bad, rows + 1)


def _batches(reader: Any, period_month: str) -> Iterator[pa.RecordBatch]:
    try:
        yield from reader
    except pa.ArrowInvalid as exc:  # a record longer than BLOCK_BYTES
        raise FeedError(FEED, period_month, None, f"unreadable as CSV: {exc}") from None


def _record(fields: list[str], index: dict[str, int]) -> dict[str, str | None]:
    return {name: (fields[pos].strip() if pos < len(fields) else None)
            for name, pos in index.items()}


@functools.cache
def _partners() -> dict[str, int]:
    return {code: at for at, code in enumerate(sorted(set(RULES.partners()) - {RULES.reporter}))}


def _plain_pattern(expected_period: str) -> str:
    """A COPY line (:data:`ROW_COLUMNS`, tabs) whose fields every rule (:data:`RULES`)
    but the duplicate-key one accepts as they stand, decimal commas aside: its text
    fields need no strip and no COPY escape and hold no comma (a block's commas become
    points at once)."""
    def chars(excluded: str) -> str:
        return "[^" + "".join(f"\\x{{{ord(ch):x}}}" for ch in excluded) + "]"
    filled = f"{chars(_UNSAFE + STRIP_CHARS)}({chars(_UNSAFE)}*{chars(_UNSAFE + STRIP_CHARS)})?"
    number = "[0-9]+(,[0-9]+)?"

    def column(name: str) -> str:
        if name in RULES.one_of:
            return f"({'|'.join(RULES.one_of[name])})"
        if name in RULES.period:
            return expected_period
        if name in RULES.partner:
            return f"({'|'.join(_partners())})"
        if name in RULES.codes:
            return f"[0-9]{{{RULES.codes[name]}}}"
        if name in RULES.decimals:
            return f"({number})?" if name in RULES.optional else number
        return filled if name in RULES.required else f"({filled})?"
    return "^" + "\t".join([*map(column, CSV_COLUMNS), ""])


class Scan:
    """One pass over a file (from :func:`seekable`). Iterating it gives, per block, the
    rows that every rule but the duplicate-key one accepts: those it accepts as they stand
    as COPY text of :data:`ROW_COLUMNS` (UTF-8, empty = NULL) and their count, the others
    as dicts (:func:`_row`), and the rejections. Then :meth:`duplicates` rejects the
    accepted rows whose key occurs twice. In memory: each row's key as one integer and
    whether it is accepted (9 bytes a row); each block's row numbers and raw records go to
    a temporary Arrow stream, read again only when a key repeats. The header is read at
    once: a file whose header fails raises here."""

    def __init__(self, file: IO[bytes], period_month: str, revision: int, status: str
                 ) -> None:
        self.period_month = period_month
        self.constants = {"period_month": period_month, "revision": revision, "status": status}
        self._blocks = _blocks(file, period_month)
        self.index = next(self._blocks)
        self._regions: dict[str, int] = {}
        self._kept: list[tuple[np.ndarray, np.ndarray]] = []  # (keys, accepted) a block
        self._spill = tempfile.TemporaryFile()
        self._writer = pa.ipc.new_stream(self._spill, _SPILL)

    def __iter__(self) -> Iterator[tuple[bytes, int, list[dict[str, Any]], list[Rejection]]]:
        expected = f"{self.period_month[5:7]}/{self.period_month[:4]}"
        pattern, index = _plain_pattern(expected), self.index
        constants = pa.scalar("\t".join(map(str, self.constants.values())))
        extra = [position for name, position in index.items() if name not in CSV_COLUMNS]
        for numbers, columns, odd in self._blocks:
            empty = pc.fill_null(pa.nulls(len(numbers), pa.string()), "")
            field = {name: columns[index[name]] if name in index else empty
                     for name in CSV_COLUMNS}
            lines = pc.binary_join_element_wise(
                *field.values(), constants, pc.binary_join_element_wise(
                    pc.cast(pa.array(numbers), pa.string()), "", "\n"), "\t")
            plain = pc.match_substring_regex(lines, pattern)
            for position in extra:  # a NUL anywhere rejects the row (_row)
                plain = pc.and_(plain, pc.invert(pc.match_substring(columns[position], "\0")))
            mask = plain.to_numpy(zero_copy_only=False)
            at = np.flatnonzero(~mask)
            fields = zip(*(column.take(at).to_pylist() for column in columns), strict=True)
            others = sorted([*zip(numbers[at].tolist(), map(list, fields), strict=True), *odd])
            records = [_record(fields, index) for _, fields in others]
            rows, rejections = [], []
            for (number, fields), record in zip(others, records, strict=True):
                try:
                    rows.append({**_row(record, expected), **self.constants,
                                 "row_number": number})
                except RowError as error:
                    rejections.append(make_rejection(FEED, self.period_month, number,
                                                     error.reason, error.message,
                                                     ";".join(fields)))
            # The plain rows, then the others: keys and which are accepted in memory, row
            # numbers and raw records to the spill.
            accepted = {row["row_number"] for row in rows}
            self._kept.append((np.concatenate([
                self._keys(*(field[name].filter(plain) for name in KEY_NAMES)),
                self._keys(*_key_fields(records))]), np.concatenate([
                    mask[mask], np.array([n in accepted for n, _ in others], bool)])))
            self._writer.write_batch(pa.record_batch([pa.array(np.concatenate([
                numbers[mask], np.array([n for n, _ in others], np.int64)]), pa.int32()),
                pa.concat_arrays([pc.binary_join_element_wise(*columns, ";").filter(plain),
                                  pa.array([";".join(fields) for _, fields in others],
                                           pa.string())])], schema=_SPILL))
            text = lines.filter(plain)
            yield _data(text).translate(_POINT), len(text), rows, rejections

    def _keys(self, napr: pa.Array, strana: pa.Array, tnved: pa.Array, region: pa.Array
              ) -> np.ndarray:
        """Keys of rows, from their key fields as the rules read them: partner and flow,
        the tnved, the region's number in the unit, in 64 bits; _NO_KEY where no accepted
        row can have the key."""
        flow = pc.index_in(napr, value_set=pa.array(FLOWS))
        partner = pc.index_in(strana, value_set=pa.array(list(_partners())))
        digits = f"^[0-9]{{{RULES.codes['tnved']}}}$"
        code = pc.cast(pc.if_else(pc.match_substring_regex(tnved, digits), tnved, None),
                       pa.int64())
        valid = pc.and_(pc.and_(pc.is_valid(flow), pc.is_valid(partner)), pc.is_valid(code))
        encoded = pc.dictionary_encode(pc.if_else(valid, region, ""))
        area = np.array([self._regions.setdefault(value, len(self._regions))
                         for value in encoded.dictionary.to_pylist()], np.uint64)
        flow, partner, code = (pc.fill_null(array, 0).to_numpy().astype(np.uint64)
                               for array in (flow, partner, code))
        keys = ((partner * 2 + flow) << np.uint64(34) | code) << np.uint64(REGION_BITS)
        return np.where(valid.to_numpy(zero_copy_only=False),
                        keys | area[encoded.indices.to_numpy()], _NO_KEY)

    def duplicates(self) -> list[Rejection]:
        """After the pass: the accepted rows whose key occurs more than once in the file
        (counting rejected rows' keys), rejected, in row order."""
        if len(self._regions) > 1 << REGION_BITS:
            raise FeedError(FEED, self.period_month, None,
                            f"more than {1 << REGION_BITS} distinct regions")
        keys = np.concatenate([np.empty(0, np.uint64), *(keys for keys, _ in self._kept)])
        keys.sort()
        repeated = np.unique(keys[1:][keys[1:] == keys[:-1]])
        del keys
        if not len(repeated := repeated[repeated != _NO_KEY]):
            return []
        self._writer.close()
        self._spill.seek(0)
        partners, regions, found = list(_partners()), list(self._regions), []
        for (keys, accepted), batch in zip(self._kept, pa.ipc.open_stream(self._spill),
                                           strict=True):
            for at in np.flatnonzero(np.isin(keys, repeated) & accepted).tolist():
                key = int(keys[at])
                error = duplicate_error((FLOWS[key >> 55 & 1], partners[key >> 56],
                                         f"{key >> REGION_BITS & (1 << 34) - 1:010d}",
                                         regions[key & (1 << REGION_BITS) - 1]))
                found.append(make_rejection(FEED, self.period_month, batch["row"][at].as_py(),
                                            error.reason, error.message,
                                            batch["raw"][at].as_py()))
        return sorted(found, key=lambda rejection: int(rejection.row_ref))

    def __enter__(self) -> Scan:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._spill.close()


_SPILL = pa.schema([("row", pa.int32()), ("raw", pa.string())])


def _key_fields(records: list[dict[str, str | None]]) -> list[pa.Array]:
    """The key fields of records (:func:`_record`) as the rules read them."""
    return [pa.array([(record.get(name) or "").upper() if name in RULES.partner else
                      record.get(name) or "" for record in records], pa.string())
            for name in KEY_NAMES]


def _data(strings: pa.Array) -> bytes:
    """The bytes of a string array (offset 0) end to end."""
    end = np.frombuffer(strings.buffers()[1], np.int32)[len(strings)] if len(strings) else 0
    return bytes(memoryview(strings.buffers()[2] or b"")[:end])


_UNSAFE = "\t\r\n\\,\0"
_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})
_POINT = bytes.maketrans(b",", b".")


def copy_text(rows: list[dict[str, Any]]) -> bytes:
    """Rows (dicts of ``raw.ru_customs_rows`` columns) as COPY text of :data:`ROW_COLUMNS`."""
    return "".join("\t".join("" if row[name] is None else str(row[name]).translate(
        _COPY_ESCAPES) for name in ROW_COLUMNS) + "\n" for row in rows).encode()


def duplicate_error(key: tuple) -> RowError:
    return RowError("duplicate_key", f"key {KEY_FIELDS}={key} occurs more than once in the "
                                     "file")


def parse_csv(payload: Source, period_month: str, revision: int, status: str) -> ParseResult:
    """Accepted rows (dicts of ``raw.ru_customs_rows`` columns) and rejections of one file,
    in row order, in memory (:class:`Scan` streams). The plain rows are read back from
    their COPY text, so that the rows are those the loader sends."""
    rows, rejections = [], []
    with seekable(payload) as file:
        try:
            with Scan(file, period_month, revision, status) as scan:
                for plain, _, others, rejected in scan:
                    for line in plain.decode().splitlines():
                        row = {name: value or None for name, value in
                               zip(ROW_COLUMNS, line.split("\t"), strict=True)}
                        for name in RULES.decimals:
                            row[name] = row[name] and Decimal(row[name])
                        rows.append({**row, **scan.constants, "row_number": int(row["row_number"])})
                    rows += others
                    rejections += rejected
                duplicates = scan.duplicates()
        except Undecodable as exc:
            raise ValueError(exc.by_line) from None
    dropped = {int(rejection.row_ref) for rejection in duplicates}
    return ParseResult(FEED, period_month, sorted(
        (row for row in rows if row["row_number"] not in dropped),
        key=lambda row: row["row_number"]), sorted(rejections + duplicates,
                                                    key=lambda rejection: int(rejection.row_ref)))


def _row(record: dict[str, str | None], expected_period: str) -> dict[str, Any]:
    for name, value in record.items():
        # windows-1251 text holds no surrogate; a NUL cannot be stored.
        if value and "\x00" in value:
            raise RowError("unparsable", f"{name} holds a NUL character, which cannot be "
                                         f"stored: {storable_text(value)!r}")
    if not any(record.values()):
        raise RowError("missing_field", "blank record: every field is empty")
    RULES.require(record)
    napr = record["napr"]
    if napr not in RULES.one_of["napr"]:
        raise RowError("unparsable", f"napr={napr!r} is not {' or '.join(RULES.one_of['napr'])}")
    period = record["period"]
    month, _, year = period.partition("/")
    if not (len(month) == 2 and month.isdigit() and len(year) == 4 and year.isdigit()
            and 1 <= int(month) <= 12):
        raise RowError("unparsable", f"period={period!r} is not MM/YYYY")
    strana = record["strana"].upper()
    if strana not in RULES.partners():
        raise RowError("unknown_partner", f"strana={strana!r} is not an ISO alpha-2 code")
    if strana == RULES.reporter:
        raise RowError("self_partner", f"strana is the reporter itself ({RULES.reporter})")
    tnved = check_code(record["tnved"], "tnved", RULES.codes["tnved"])
    numbers = RULES.numbers(record, RULES.decimals)
    if period != expected_period:
        raise RowError("period_mismatch", f"period={period!r} differs from the file's month "
                                          f"{expected_period}")
    return {"napr": napr, "period": period, "strana": strana, "tnved": tnved,
            "edizm": record.get("edizm") or None, **numbers,
            "region": record.get("region") or None, "region_s": record.get("region_s") or None}


# ------------------------------------------------------------------------------ fetch

@dataclass
class RuFetch:
    period_month: str
    released: bool
    revision: int | None = None
    status: str | None = None
    sha256: str | None = None
    #: the verified CSV, a temporary file in ``spool_dir`` (rename it into place or
    #: :meth:`discard` it); None with released=True: 304, the held bytes are current
    path: Path | None = None
    url: str | None = None
    not_modified: bool = False
    size: int = 0
    rows: int | None = None  # data lines the release entry states

    def __post_init__(self) -> None:
        if self.path is not None:  # a temporary file nobody landed goes with its fetch
            weakref.finalize(self, Path(self.path).unlink, missing_ok=True)

    @property
    def payload(self) -> bytes | None:
        """The whole file in memory (small files and tests only: a month is GiBs)."""
        return None if self.path is None else Path(self.path).read_bytes()

    def discard(self) -> None:
        if self.path is not None:
            Path(self.path).unlink(missing_ok=True)
            self.path = None


def release_entries(body: Any) -> list[dict[str, Any]]:
    """The entries of a /releases body, each checked (an object with period, revision,
    status, sha256, rows): another shape is a FeedError naming the entry."""
    listing = validated(RuReleases, body, FEED, "releases", "listing")
    entries = []
    for position, entry in enumerate(listing.releases, start=1):
        unit = str(entry.get("period")) if isinstance(entry, dict) and entry.get("period") \
            else "releases"
        checked = validated(RuRelease, entry, FEED, unit, f"releases entry {position}")
        entries.append(dict(entry, **checked.model_dump()))
    return entries


def list_releases(client: FeedClient) -> list[dict[str, Any]]:
    response = client.get(RELEASES_PATH, validate=json_body, unit="releases")
    return release_entries(response.parsed)


def fetch_period(client: FeedClient, period_month: str, *, held_sha256: str | None = None,
                 held_status: str | None = None, max_attempts: int = 3,
                 spool_dir: Path | str | None = None) -> RuFetch:
    """The CSV of ``period_month`` whose sha256 equals its release entry.

    The body is streamed to a temporary file in ``spool_dir`` (default: the system's
    temporary directory; the ingest passes the landing zone's unit folder, so landing it
    is a rename) and hashed on the way: a month is never held in memory.
    ``held_sha256``/``held_status``: what we already hold; the sha is sent as
    ``If-None-Match`` when both are the entry's, so an unchanged file costs a 304.
    A body with another sha means the URL
    moved to a newer revision between the listing and the download: list again.
    """
    spool_dir = spool_dir if spool_dir is not None else tempfile.gettempdir()
    for attempt in range(1, max_attempts + 1):
        entry = next((e for e in list_releases(client) if e.get("period") == period_month),
                     None)
        if entry is None:
            return RuFetch(period_month, released=False)
        sha = str(entry["sha256"]).lower()
        revision, status = int(entry["revision"]), str(entry["status"])
        path = entry.get("path") or f"/ru-customs/v1/data/{period_month}.csv"
        held = held_sha256 == sha and held_status == status
        headers = {"If-None-Match": f'"{sha}"'} if held else None
        try:
            response = client.get(path, headers=headers, ok_statuses=(200, 304),
                                  unit=period_month, into_dir=spool_dir)
        except FeedHTTPError as exc:
            if exc.status == 404:
                return RuFetch(period_month, released=False)
            raise
        if response.status == 304:
            return RuFetch(period_month, True, revision, status, sha, None, response.url,
                           not_modified=True)
        got = response.sha256
        if got == sha:
            return RuFetch(period_month, True, revision, status, sha, response.path,
                           response.url, size=response.size, rows=int(entry["rows"]))
        Path(response.path).unlink(missing_ok=True)
        log.warning("%s %s: downloaded sha256 %s is not the release entry's %s "
                    "(attempt %d): listing again", FEED, period_month, got[:12], sha[:12],
                    attempt)
    raise RuntimeError(f"{FEED} {period_month}: no download matched its release entry's "
                       f"sha256 after {max_attempts} listings")
