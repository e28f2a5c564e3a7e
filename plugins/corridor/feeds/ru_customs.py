"""ru_customs: Russian customs monthly CSV (windows-1251, ';', decimal comma, CRLF).

One parser, :func:`read_csv`, used by the loader
(:func:`corridor.load.raw.load_ru_customs_csv`, so by ingest and replay) and, through
:func:`parse_csv`, by whoever wants a unit's rows in memory. pyarrow's streaming CSV
reader splits the records (quotes and line breaks in quotes as the csv module reads
them) and the rules run on whole blocks of rows; a row that is not plainly valid (another
field count, blanks, lower case, a dot decimal, a broken rule) is judged alone by
:func:`_row`, so each rule and its message is written once. The duplicate-key rule needs
the whole file: a first pass reads every row's key as one integer (:func:`_keys`, 8 bytes
a row) and finds those that occur twice; the second yields the rows block by block.

A source is the payload ``bytes``, a path to the landed file, or an iterable of
``bytes`` chunks (spooled to a temporary file: it is read twice).
"""

from __future__ import annotations

import csv
import functools
import io
import itertools
import logging
import os
import pickle
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
import pyarrow.ipc

from corridor.feeds.common import (
    FeedError,
    ParseResult,
    Rejection,
    RowError,
    check_code,
    make_rejection,
    require,
    storable_text,
    to_decimal,
)
from corridor.feeds.http import FeedClient, FeedHTTPError, json_body
from corridor.feeds.shapes import RuRelease, RuReleases, validated
from corridor.reference import iso2_codes

log = logging.getLogger(__name__)

FEED = "ru_customs"
ENCODING = "windows-1251"
REQUIRED = ("napr", "period", "strana", "tnved", "stoim", "netto")
FLOWS = ("ИМ", "ЭК")
REPORTER_ISO2 = "RU"
RELEASES_PATH = "/ru-customs/v1/releases"
#: The publisher's column order.
CSV_COLUMNS = ("napr", "period", "strana", "tnved", "edizm", "stoim", "netto", "kol",
               "region", "region_s")
#: ``raw.ru_customs_rows`` columns, in the order of :func:`copy_text`.
ROW_COLUMNS = (*CSV_COLUMNS, "period_month", "revision", "status", "row_number")
KEY_FIELDS = "(napr, strana, tnved, region)"
KEY_NAMES = ("napr", "strana", "tnved", "region")
#: Characters ``str.strip()`` removes that a windows-1251 file can carry.
STRIP_CHARS = "".join(ch for ch in bytes(range(256)).decode(ENCODING, "replace") if ch.isspace())
_BOM_AS_1251 = "\ufeff".encode("utf-8").decode(ENCODING)
_NUMBER = "^[0-9]+(,[0-9]+)?$"
#: A key in 64 bits: partner, flow and tnved, then the region as the number of its first
#: appearance in the unit in the low REGION_BITS bits.
REGION_BITS = 21
_NO_KEY = np.uint64(2**64 - 1)  # no key, or one that no accepted row can have
#: Bytes of a block of rows (pyarrow's) and of a read of the file.
BLOCK_BYTES = 1 << 21

Source = Union[bytes, str, "os.PathLike[str]", Iterable[bytes]]


@contextmanager
def seekable(source: Source) -> Iterator[IO[bytes]]:
    """The source as a binary file: the payload, the landed file, or the chunks spooled."""
    if isinstance(source, (bytes, bytearray, memoryview)):
        yield io.BytesIO(source)
    elif isinstance(source, (str, os.PathLike)):
        with open(source, "rb") as handle:
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
        while not self.out and not self.done:
            self._fill()
        size = min(len(buffer), len(self.out))
        size -= self.out[size - 1:size + 1] == b"\r\n"
        buffer[:size], self.out = self.out[:size], self.out[size:]
        return size

    def first_line(self) -> str | None:
        while not self.out and not self.done:
            self._fill()
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

    reader = pacsv.open_csv(
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


def _by_value(array: pa.Array, test: Any, dtype: Any = bool) -> np.ndarray:
    """``test(value)`` of each row's value, called once per distinct value."""
    encoded = pc.dictionary_encode(array)
    return np.array([test(value) for value in encoded.dictionary.to_pylist()],
                    dtype=dtype)[encoded.indices.to_numpy()]


def _keys(napr: pa.Array, strana: pa.Array, tnved: pa.Array, region: pa.Array,
          regions: dict[str, int]) -> np.ndarray:
    """The key of each row, or _NO_KEY where it has none that an accepted row can have
    (napr a flow, strana a partner, a 10-digit tnved): only those can reject one."""
    flow = _by_value(napr, lambda value: FLOWS.index(value.strip())
                     if value.strip() in FLOWS else -1, np.int64)
    partner = _by_value(strana, lambda value: _partners().get(value.strip().upper(), -1),
                        np.int64)
    area = _by_value(region, lambda value: regions.setdefault(value.strip(), len(regions)),
                     np.uint64)
    digits = pc.match_substring_regex(tnved, "^[0-9]{10}$").to_numpy(zero_copy_only=False)
    code = np.array(pc.cast(pc.if_else(digits, tnved, "0"), pa.int64()))
    for at in np.flatnonzero(~digits):  # blanks around it, or no code
        value = tnved[int(at)].as_py().strip()
        code[at] = int(value) if len(value) == 10 and value.isascii() and value.isdigit() else -1
    key = ((partner * 2 + flow).astype(np.uint64) << np.uint64(34) | code.astype(np.uint64)
           ) << np.uint64(REGION_BITS) | area
    return np.where((flow >= 0) & (partner >= 0) & (code >= 0), key, _NO_KEY)


@functools.cache
def _partners() -> dict[str, int]:
    return {code: at for at, code in enumerate(sorted(iso2_codes() - {REPORTER_ISO2}))}


def _odd_keys(records: list[dict[str, str | None]], regions: dict[str, int]) -> np.ndarray:
    return _keys(*(pa.array([record.get(name) or "" for record in records], pa.string())
                   for name in ("napr", "strana", "tnved", "region")), regions)


def _field(index: dict[str, int], columns: list[pa.Array], name: str) -> pa.Array:
    """A column of a block; one the file lacks is empty."""
    if name in index:
        return columns[index[name]]
    return pc.fill_null(pa.nulls(len(columns[0]), pa.string()), "")


class Scan:
    """One pass over a file (from :func:`seekable`). Iterating it gives, per block, the
    rows that every rule but the duplicate-key one accepts as they stand (a table of
    :data:`CSV_COLUMNS` as delivered, decimal commas, and ``row_number``), the other such
    rows (dicts of ``raw.ru_customs_rows`` columns, as :func:`_row` returns them) and
    the rejections. Then :meth:`duplicates` names the accepted rows that the duplicate-
    key rule rejects: every row's key is kept as one integer (8 bytes, and its row
    number), and each block spilled to a temporary file, whence their records come.
    The header is read at once: a file whose header fails raises here."""

    def __init__(self, file: IO[bytes], period_month: str, revision: int, status: str
                 ) -> None:
        self.period_month = period_month
        self.constants = {"period_month": period_month, "revision": revision, "status": status}
        self._blocks = _blocks(file, period_month)
        self.index = next(self._blocks)
        self._regions: dict[str, int] = {}
        self._keys: list[tuple[np.ndarray, np.ndarray]] = []  # (key, row number) of accepted
        # Each block's plain rows as delivered (Arrow IPC) and its odd rows (pickled).
        self._spill, self._odd = tempfile.TemporaryFile(), tempfile.TemporaryFile()
        self._plain: pa.ipc.RecordBatchFileWriter | None = None
        self._spilled: list[tuple[int, int]] = []  # (last row number, odd offset) per block

    def __iter__(self) -> Iterator[tuple[pa.Table, list[dict[str, Any]], list[Rejection]]]:
        expected = f"{self.period_month[5:7]}/{self.period_month[:4]}"
        index, regions = self.index, self._regions
        tests = {"napr": FLOWS.__contains__, "period": expected.__eq__,
                 "strana": _partners().__contains__}
        for numbers, columns, odd in self._blocks:
            field = {name: _field(index, columns, name) for name in {*CSV_COLUMNS, *index}}
            plain = np.logical_and.reduce([  # rows _row accepts as they stand, plain text
                *(pc.match_substring_regex(field[name], pattern).to_numpy(zero_copy_only=False)
                  for name, pattern in (("tnved", "^[0-9]{10}$"), ("stoim", _NUMBER),
                                        ("netto", _NUMBER), ("kol", f"{_NUMBER}|^$"))),
                *(_by_value(field[name], tests.get(name, _plain_text)) for name in field
                  if name not in ("tnved", "stoim", "netto", "kol"))])
            keys = _keys(*(field[name] for name in KEY_NAMES), regions)
            rest = np.flatnonzero(~plain)
            fields = zip(*(column.take(rest).to_pylist() for column in columns), strict=True)
            odd = sorted([*zip(numbers[rest].tolist(), fields, strict=True), *odd])
            records = [_record(list(fields), index) for _, fields in odd]
            odd_keys = _odd_keys(records, regions)
            table = pa.table({**{name: pc.filter(field[name], pa.array(plain))
                                 for name in CSV_COLUMNS}, "row_number": numbers[plain]})
            rows, rejections, accepted = [], [], []
            for (number, fields), record in zip(odd, records, strict=True):
                try:
                    rows.append({**_row(record, expected), **self.constants,
                                 "row_number": number})
                    accepted.append(True)
                except RowError as error:
                    rejections.append(make_rejection(FEED, self.period_month, number,
                                                     error.reason, error.message,
                                                     ";".join(fields)))
                    accepted.append(False)
            # Every row's key counts; only accepted rows are rejected (the others: -1).
            self._keys.append((np.concatenate([keys[plain], odd_keys]), np.concatenate([
                numbers[plain], np.where(accepted, [n for n, _ in odd], -1)
                if odd else np.empty(0, np.int64)])))
            batch = pa.record_batch([*columns, numbers], [*map(str, range(len(columns))),
                                                          "row_number"])
            if self._plain is None:
                self._plain = pa.ipc.new_file(self._spill, batch.schema)
            self._plain.write_batch(batch.filter(pa.array(plain)))
            self._spilled.append((int(max([0, *numbers[-1:], *(n for n, _ in odd)])),
                                  self._odd.tell()))
            pickle.dump(odd, self._odd)
            yield table, rows, rejections

    def duplicates(self) -> list[Rejection]:
        """After the pass: the accepted rows whose key occurs more than once in the file
        (counting rejected rows' keys), rejected, in row order."""
        if len(self._regions) > 1 << REGION_BITS:
            raise FeedError(FEED, self.period_month, None,
                            f"more than {1 << REGION_BITS} distinct regions")
        keys = np.concatenate([np.empty(0, np.uint64), *(k for k, _ in self._keys)])
        numbers = np.concatenate([np.empty(0, np.int64), *(n for _, n in self._keys)])
        self._keys.clear()
        ordered = np.sort(keys)
        repeated = np.unique(ordered[1:][ordered[1:] == ordered[:-1]])
        repeated = repeated[repeated != _NO_KEY]
        del ordered
        at = np.minimum(np.searchsorted(repeated, keys), max(len(repeated) - 1, 0))
        rows = np.sort(numbers[(repeated[at] == keys) & (numbers >= 0)]) if len(repeated) \
            else numbers[:0]
        found = []
        if self._plain is not None:
            self._plain.close()
            spilled = pa.ipc.open_file(self._spill)
        for block, (last, offset) in enumerate(self._spilled):  # only the blocks with one
            if not len(rows) or rows[0] > last:
                continue
            plain = spilled.get_batch(block)
            self._odd.seek(offset)
            odd = dict(pickle.load(self._odd))
            plain_numbers = plain.column("row_number").to_numpy()
            for number in rows[rows <= last].tolist():
                if number in odd:
                    fields = odd[number]
                else:
                    at = int(np.searchsorted(plain_numbers, number))
                    fields = [value for name, value in plain.slice(at, 1).to_pylist()[0].items()
                              if name != "row_number"]
                record = _record(list(fields), self.index)
                error = duplicate_error((record["napr"], record["strana"].upper(),
                                         record["tnved"], record.get("region") or ""))
                found.append(make_rejection(FEED, self.period_month, number, error.reason,
                                            error.message, ";".join(fields)))
            rows = rows[rows > last]
        return found

    def __enter__(self) -> Scan:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._spill.close()
        self._odd.close()


def _plain_text(value: str) -> bool:
    """Text that needs no stripping, no COPY escape and holds no comma (a block's decimal
    commas become points all at once: :func:`copy_text`)."""
    return value == value.strip() and not any(ch in value for ch in "\x00\\\t\r\n,")


_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


def copy_text(table: pa.Table, rows: list[dict[str, Any]], period_month: str, revision: int,
              status: str) -> bytes:
    """A block's accepted rows (from :func:`read_csv`) as ``COPY`` text of
    :data:`ROW_COLUMNS`, UTF-8, empty = NULL: ``COPY ... (null '')``."""
    constants = [pa.scalar(f"{period_month}\t{revision}\t{status}")]
    lines = pc.binary_join_element_wise(*(table[name] for name in CSV_COLUMNS), *constants,
                                        pc.binary_join_element_wise(pc.cast(
                                            table["row_number"], pa.string()), "", "\n"), "\t")
    lines = lines.combine_chunks() if isinstance(lines, pa.ChunkedArray) else lines
    end = np.frombuffer(lines.buffers()[1], np.int32)[len(lines)] if len(lines) else 0
    data = bytes(memoryview(lines.buffers()[2] or b"")[:end]).translate(_POINT)
    return data + "".join(
        "\t".join("" if row[name] is None else str(row[name]).translate(_COPY_ESCAPES)
                  for name in ROW_COLUMNS) + "\n" for row in rows).encode()


_POINT = bytes.maketrans(b",", b".")


def duplicate_error(key: tuple) -> RowError:
    return RowError("duplicate_key", f"key {KEY_FIELDS}={key} occurs more than once in the "
                                     "file")


def parse_csv(payload: Source, period_month: str, revision: int, status: str) -> ParseResult:
    """Accepted rows (dicts of ``raw.ru_customs_rows`` columns) and rejections of one file,
    in row order, in memory (:class:`Scan` streams)."""
    result = ParseResult(FEED, period_month)
    with seekable(payload) as file:
        try:
            with Scan(file, period_month, revision, status) as scan:
                for table, rows, rejections in scan:
                    for row in table.to_pylist():
                        for name in ("edizm", "kol", "region", "region_s"):
                            row[name] = row[name] or None
                        for name in ("stoim", "netto", "kol"):
                            row[name] = row[name] and Decimal(row[name].replace(",", "."))
                        result.rows.append({**row, **scan.constants})
                    result.rows += rows
                    result.rejections += rejections
                duplicates = scan.duplicates()
        except Undecodable as exc:
            raise ValueError(exc.by_line) from None
    rejected = {int(rejection.row_ref) for rejection in duplicates}
    result.rows = sorted((row for row in result.rows if row["row_number"] not in rejected),
                         key=lambda row: row["row_number"])
    result.rejections = sorted(result.rejections + duplicates,
                               key=lambda rejection: int(rejection.row_ref))
    return result


def _row(record: dict[str, str | None], expected_period: str) -> dict[str, Any]:
    for name, value in record.items():
        # windows-1251 text holds no surrogate; a NUL cannot be stored.
        if value and "\x00" in value:
            raise RowError("unparsable", f"{name} holds a NUL character, which cannot be "
                                         f"stored: {storable_text(value)!r}")
    if not any(record.values()):
        raise RowError("missing_field", "blank record: every field is empty")
    for name in REQUIRED:
        require(record, name)
    napr = record["napr"]
    if napr not in FLOWS:
        raise RowError("unparsable", f"napr={napr!r} is not ИМ or ЭК")
    period = record["period"]
    month, _, year = period.partition("/")
    if not (len(month) == 2 and month.isdigit() and len(year) == 4 and year.isdigit()
            and 1 <= int(month) <= 12):
        raise RowError("unparsable", f"period={period!r} is not MM/YYYY")
    strana = record["strana"].upper()
    if strana not in iso2_codes():
        raise RowError("unknown_partner", f"strana={strana!r} is not an ISO alpha-2 code")
    if strana == REPORTER_ISO2:
        raise RowError("self_partner", "strana is the reporter itself (RU)")
    tnved = check_code(record["tnved"], "tnved", 10)
    stoim = to_decimal(record["stoim"], "stoim", comma=True)
    netto = to_decimal(record["netto"], "netto", comma=True)
    kol = to_decimal(record.get("kol"), "kol", comma=True, optional=True)
    if period != expected_period:
        raise RowError("period_mismatch", f"period={period!r} differs from the file's month "
                                          f"{expected_period}")
    return {"napr": napr, "period": period, "strana": strana, "tnved": tnved,
            "edizm": record.get("edizm") or None, "stoim": stoim, "netto": netto, "kol": kol,
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
