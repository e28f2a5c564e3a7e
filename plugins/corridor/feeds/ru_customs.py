"""ru_customs: Russian customs monthly CSV (windows-1251, ';', decimal comma, CRLF).

Two ways to read one file, with the same rules and the same results:

* :func:`parse_csv` → a :class:`ParseResult` with every accepted row as a dict (small
  files, tests, replay);
* :class:`CsvScan` → streaming: rows already formatted as PostgreSQL ``COPY`` text,
  rejections spooled to a temporary file, duplicate keys left to the loader (in SQL),
  so that a file of any size loads in constant memory
  (:func:`corridor.load.raw.load_ru_customs_csv`). It reads ~1 MB blocks of bytes:
  runs of lines that every rule accepts as they stand are checked by one compiled
  regex and converted by whole-block operations; only the other lines take the
  per-line rules (the same functions as :func:`parse_csv`).

A source is the payload ``bytes``, a path to the landed file, or an iterable of
``bytes`` chunks.
"""

from __future__ import annotations

import bisect
import csv
import hashlib
import io
import itertools
import logging
import os
import re
import tempfile
from contextlib import contextmanager
from dataclasses import dataclass
from typing import IO, Any, Iterable, Iterator, Union

from corridor.feeds.common import (
    ParseResult,
    RowError,
    check_code,
    duplicate_keys,
    make_rejection,
    require,
    to_decimal,
)
from corridor.feeds.http import FeedClient, FeedHTTPError, json_body
from corridor.reference import iso2_codes

log = logging.getLogger(__name__)

FEED = "ru_customs"
ENCODING = "windows-1251"
REQUIRED = ("napr", "period", "strana", "tnved", "stoim", "netto")
FLOWS = ("ИМ", "ЭК")
REPORTER_ISO2 = "RU"
RELEASES_PATH = "/ru-customs/v1/releases"
#: The publisher's column order; a file with exactly this header takes the fast path.
CSV_COLUMNS = ("napr", "period", "strana", "tnved", "edizm", "stoim", "netto", "kol",
               "region", "region_s")
#: ``raw.ru_customs_rows`` columns, in the order :class:`CsvScan` writes them.
ROW_COLUMNS = ("period_month", "revision", "status", "row_number", "napr", "period",
               "strana", "tnved", "edizm", "stoim", "netto", "kol", "region", "region_s")
KEY_FIELDS = "(napr, strana, tnved, region)"

Source = Union[bytes, str, "os.PathLike[str]", Iterable[bytes]]


# ------------------------------------------------------------------------- reading

class _ChunkReader(io.RawIOBase):
    """A readable raw stream over an iterable of bytes chunks (optionally teed to a file)."""

    def __init__(self, chunks: Iterable[bytes], tee: IO[bytes] | None = None) -> None:
        self._chunks = iter(chunks)
        self._pending = memoryview(b"")
        self._tee = tee

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        while not self._pending:
            chunk = next(self._chunks, None)
            if chunk is None:
                return 0
            if self._tee is not None:
                self._tee.write(chunk)
            self._pending = memoryview(bytes(chunk))
        size = min(len(buffer), len(self._pending))
        buffer[:size] = self._pending[:size]
        self._pending = self._pending[size:]
        return size


class _Reopenable:
    """A source that can be read twice (the second pass fetches duplicate rows' text).
    An iterable of chunks is teed to a temporary file on the first read."""

    def __init__(self, source: Source) -> None:
        self._source = source
        self._spill: IO[bytes] | None = None

    @contextmanager
    def lines(self) -> Iterator[Iterator[str]]:
        """Decoded lines with their line ends (universal newlines, untranslated: what
        the csv module expects)."""
        source = self._source
        if isinstance(source, (bytes, bytearray, memoryview)):
            yield iter(io.StringIO(bytes(source).decode(ENCODING), newline=""))
        elif isinstance(source, (str, os.PathLike)):
            with open(source, encoding=ENCODING, newline="", buffering=1 << 20) as handle:
                yield handle
        elif self._spill is not None:
            self._spill.seek(0)
            raw = io.BufferedReader(_ChunkReader(iter(lambda: self._spill.read(1 << 20), b"")))
            yield io.TextIOWrapper(raw, encoding=ENCODING, newline="")
        else:
            self._spill = tempfile.TemporaryFile()
            raw = io.BufferedReader(_ChunkReader(source, tee=self._spill), 1 << 20)
            text = io.TextIOWrapper(raw, encoding=ENCODING, newline="")
            yield text
            for _ in text:  # a consumer that stopped early: tee the rest too
                pass

    @contextmanager
    def text_blocks(self, size: int = 1 << 20) -> Iterator[Iterator[tuple[bytes, str]]]:
        """The bytes in blocks of about ``size``, each ending after a ``\\n`` (but the
        last), with their decoded text: whole lines, as :meth:`lines` splits them, since a
        block never ends inside ``\\r\\n``. windows-1251 is one byte a character: a
        position in the bytes is the same in the text."""
        source = self._source
        close: IO[bytes] | None = None
        if isinstance(source, (bytes, bytearray, memoryview)):
            raw: IO[bytes] = io.BytesIO(bytes(source))
        elif isinstance(source, (str, os.PathLike)):
            raw = close = open(source, "rb")
        elif self._spill is not None:
            self._spill.seek(0)
            raw = self._spill
        else:
            self._spill = tempfile.TemporaryFile()
            raw = io.BufferedReader(_ChunkReader(source, tee=self._spill), 1 << 20)

        def blocks() -> Iterator[tuple[bytes, str]]:
            carry = b""
            while chunk := raw.read(size):
                data = carry + chunk if carry else chunk
                cut = data.rfind(b"\n") + 1
                if cut:
                    block = data[:cut]
                    yield block, block.decode(ENCODING)
                carry = data[cut:]
            if carry:
                yield carry, carry.decode(ENCODING)

        try:
            yield blocks()
            if raw is not self._spill and close is None and self._spill is not None:
                while raw.read(1 << 20):  # a consumer that stopped early: tee the rest too
                    pass
        finally:
            if close is not None:
                close.close()

    def close(self) -> None:
        if self._spill is not None:
            self._spill.close()


class _LineCursor:
    """The lines of text blocks (as :meth:`_Reopenable.lines` splits them), taken one
    at a time (:meth:`take` with a pattern that matches one whole line, :meth:`lines`)
    or several at once (:meth:`take` with a pattern of whole lines)."""

    def __init__(self, blocks: Iterator[tuple[bytes, str]]) -> None:
        self._blocks = blocks
        self.raw, self.block, self.pos = b"", "", 0

    def ready(self) -> bool:
        """Whether a line is left (moves to the next block if need be)."""
        while self.pos >= len(self.block):
            block = next(self._blocks, None)
            if block is None:
                return False
            (self.raw, self.block), self.pos = block, 0
        return True

    def take(self, pattern: re.Pattern) -> re.Match | None:
        """``pattern`` matched at the current line (which it then consumes), or None;
        a bytes pattern matches the block's bytes."""
        match = pattern.match(self.raw if isinstance(pattern.pattern, bytes) else self.block,
                              self.pos)
        if match is not None:
            self.pos = match.end()
        return match

    def lines(self) -> Iterator[str]:
        while self.ready():
            yield self.take(_ANY_LINE)[0]


#: Characters ``str.strip()`` removes that a windows-1251 file can carry.
STRIP_CHARS = "".join(ch for ch in (bytes([b]).decode(ENCODING, "replace") for b in range(256))
                      if ch.isspace())


_LINE_END = r"(?:\r\n|\r|\n|\Z)"
#: Any one line with its end (universal newlines, like ``newline=""``).
_ANY_LINE = re.compile(rf"[^\r\n]*{_LINE_END}")


def _read_header(lines: Iterator[str], period_month: str) -> list[str]:
    try:
        header = next(csv.reader(lines, delimiter=";"))
    except StopIteration:
        raise ValueError(f"{FEED} {period_month}: empty file") from None
    header = [name.strip().lower() for name in header]
    missing = [name for name in REQUIRED if name not in header]
    if missing:
        raise ValueError(f"{FEED} {period_month}: header lacks required columns {missing}")
    return header


def _records(lines: Iterator[str]) -> Iterator[tuple[str | None, list[str] | None]]:
    """The data records after the header, as the csv module reads them: a line without
    quotes (or NUL) is one record split on ``;`` → ``(line, None)``; any other line is
    handed to ``csv.reader``, which may pull continuation lines → ``(None, fields)``.
    Blank records are the consumer's business."""
    for line in lines:
        if '"' in line or "\x00" in line:
            yield None, next(csv.reader(itertools.chain((line,), lines), delimiter=";"))
        else:
            yield line.rstrip("\r\n"), None


def _is_blank(fields: list[str]) -> bool:
    return not fields or all(not field.strip() for field in fields)


def _classify(fields: list[str], index: dict[str, int], expected_period: str
              ) -> tuple[dict[str, Any] | None, RowError | None, tuple | None]:
    """(row, error, key) of one non-blank record by the row rules (no duplicates yet)."""
    record = {name: (fields[pos].strip() if pos < len(fields) else None)
              for name, pos in index.items()}
    key = None
    if all(record.get(name) for name in ("napr", "strana", "tnved")):
        key = (record["napr"], record["strana"].upper(), record["tnved"],
               record.get("region") or "")
    try:
        return _row(record, expected_period), None, key
    except RowError as exc:
        return None, exc, key


def duplicate_error(key: tuple) -> RowError:
    return RowError("duplicate_key", f"key {KEY_FIELDS}={key} occurs more than once in the "
                                     "file")


def parse_csv(payload: Source, period_month: str, revision: int, status: str) -> ParseResult:
    """Accepted rows (dicts of ``raw.ru_customs_rows`` columns) and rejections of one file.

    Holds the whole unit in memory; :class:`CsvScan` is the streaming equivalent.
    """
    result = ParseResult(FEED, period_month)
    expected_period = f"{period_month[5:7]}/{period_month[:4]}"
    source = _Reopenable(payload)
    parsed: list[tuple[int, list[str], dict[str, Any] | None, RowError | None, Any]] = []
    try:
        with source.lines() as lines:
            header = _read_header(lines, period_month)
            index = {name: position for position, name in enumerate(header)}
            row_number = 0
            for line, fields in _records(lines):
                if fields is None:
                    fields = line.split(";")
                if _is_blank(fields):
                    continue  # blank line (e.g. a trailing CRLF)
                row_number += 1
                row, error, key = _classify(fields, index, expected_period)
                if row is not None:
                    row.update(period_month=period_month, revision=revision, status=status,
                               row_number=row_number)
                parsed.append((row_number, fields, row, error, key))
    finally:
        source.close()

    duplicates = duplicate_keys([key for *_, key in parsed])
    for row_number, fields, row, error, key in parsed:
        if error is None and key in duplicates:
            error = duplicate_error(key)
        if error is not None:
            result.reject(row_number, error, ";".join(fields))
        else:
            result.rows.append(row)
    return result


# ----------------------------------------------------------------------- streaming

_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})
COPY_NULL = "\\N"


def copy_text(value: Any, null: str = COPY_NULL) -> str:
    """One value as a field of PostgreSQL ``COPY ... FROM STDIN`` text format."""
    if value is None:
        return null
    return str(value).translate(_COPY_ESCAPES)


def copy_line(values: Iterable[Any], null: str = COPY_NULL) -> str:
    return "\t".join(copy_text(value, null) for value in values) + "\n"


# Free text as the fast path takes it: no surrounding whitespace (the rules strip it),
# nothing COPY text format would have to escape.
_TEXT = r"((?:[^\s;\\](?:[^;\\\t\r\n]*[^\s;\\])?)?)"
_NUMBER = r"([0-9]+(?:,[0-9]+)?)"


def _fast_pattern(expected_period: str) -> re.Pattern[str]:
    """A line of the publisher's layout that every row rule accepts as it stands
    (except the partner list, checked after the match). Anything else takes the
    general path, so the fast path never changes an outcome, only its cost."""
    return re.compile(
        rf"(ИМ|ЭК);{re.escape(expected_period)};([A-Z][A-Z]);([0-9]{{10}});{_TEXT};"
        rf"{_NUMBER};{_NUMBER};((?:[0-9]+(?:,[0-9]+)?)?);{_TEXT};{_TEXT}(?:;.*)?",
        re.DOTALL)


# As _TEXT, but also without a quote or NUL (those lines go to the csv module).
_BLOCK_TEXT = r'((?:[^\s;\\"\x00](?:[^;\\\t\r\n"\x00]*[^\s;\\"\x00])?)?)'


def _block_pattern(expected_period: str, partners: Iterable[str]) -> re.Pattern[str]:
    """One line with its end (like :data:`_ANY_LINE`); groups 1-9 are set when the line
    is one :func:`_fast_pattern` accepts (no quote, no NUL) with a partner in
    ``partners``, None otherwise."""
    by_first: dict[str, list[str]] = {}
    for code in sorted(partners):
        if len(code) == 2 and all("A" <= ch <= "Z" for ch in code):
            by_first.setdefault(code[0], []).append(code[1])
    strana = "|".join(f"{first}[{''.join(seconds)}]" for first, seconds in by_first.items())
    good = (rf"(ИМ|ЭК);{re.escape(expected_period)};({strana or '(?!)'});([0-9]{{10}});"
            rf"{_BLOCK_TEXT};{_NUMBER};{_NUMBER};((?:[0-9]+(?:,[0-9]+)?)?);{_BLOCK_TEXT};"
            rf'{_BLOCK_TEXT}(?:;[^\r\n"\x00]*)?')
    return re.compile(rf"(?:{good}{_LINE_END}|[^\r\n]*{_LINE_END})")


def _run_pattern(expected_period: str, partners: Iterable[str]) -> re.Pattern[bytes]:
    """One or more CRLF lines in a row that :func:`_block_pattern` takes for the fast
    path, with exactly the 10 publisher's fields and no comma but decimal commas: such
    a run becomes ``COPY`` text by whole-string replacements (:func:`_run_copy_text`).
    On the windows-1251 bytes (faster than on text); ``\\s`` of the text pattern is
    spelled out as the bytes of :data:`STRIP_CHARS` (what ``\\s`` and ``str.strip``
    take in a windows-1251 text)."""
    blank = re.escape(STRIP_CHARS.encode(ENCODING)).decode("latin-1")
    # _BLOCK_TEXT without a comma either: a run's commas are then decimal commas only.
    text = (rf'(?:[^{blank};\\",\x00](?:[^;\\\t\r\n",\x00]*[^{blank};\\",\x00])?)?')
    by_first: dict[str, list[str]] = {}
    for code in sorted(partners):
        if len(code) == 2 and all("A" <= ch <= "Z" for ch in code):
            by_first.setdefault(code[0], []).append(code[1])
    strana = "|".join(f"{first}[{''.join(seconds)}]" for first, seconds in by_first.items())
    number = "[0-9]+(?:,[0-9]+)?"
    flows = "|".join(re.escape(flow.encode(ENCODING)).decode("latin-1") for flow in FLOWS)
    line = (rf"(?:{flows});{re.escape(expected_period)};(?:{strana or '(?!)'});[0-9]{{10}};"
            rf"{text};{number};{number};(?:{number})?;{text};{text}\r\n")
    return re.compile(rf"(?:{line})+".encode("latin-1"))


_RUN_TRANSLATION = bytes.maketrans(b",;", b".\t")


def _run_copy_text(run: bytes) -> list[str]:
    """The lines of a run (:func:`_run_pattern`) as ``COPY`` text fields napr..region_s,
    tab-separated, without line end: what the fast path writes for each, in one go
    (the CSV's field order is ``ROW_COLUMNS``'s; commas are decimal commas, the only
    ``\\r`` are line ends; no field needs a ``COPY`` escape; an empty field is NULL
    with :attr:`CsvScan.COPY_NULL`)."""
    rows = run.translate(_RUN_TRANSLATION, b"\r").decode(ENCODING).split("\n")
    rows.pop()  # after the last line end
    return rows


#: CRLF lines in a row that are one non-blank record each: no quote, no NUL, and a
#: first character that is neither blank nor the delimiter (bytes of windows-1251).
_RECORD_RUN = re.compile(rb'(?:[^%s;"\x00][^\r\n"\x00]*\r\n)+'
                         % re.escape(STRIP_CHARS.encode(ENCODING)))


class CsvScan:
    """One streaming pass over a file: :meth:`copy_blocks` yields the rows accepted by
    the row rules as ``COPY`` text (columns :data:`ROW_COLUMNS`), and writes rejections
    (with the key of the rejected row, which still counts towards duplicates) to
    :attr:`rejections`, a temporary file of ``COPY`` text lines with the columns
    :data:`REJECTION_SPOOL_COLUMNS`. Duplicate keys are the loader's job (in SQL);
    :meth:`raw_records` re-reads the rows it finds.

    Speed without a second set of rules: a run of CRLF lines of the publisher's
    layout that :func:`_run_pattern` takes (a subset of what the per-line fast path
    takes, which is a subset of what :func:`_row` accepts unchanged) is converted as a
    whole (:func:`_run_copy_text`); any other line is read as :func:`_records` reads it
    and judged by :func:`_classify`, as in :func:`parse_csv`."""

    REJECTION_SPOOL_COLUMNS = ("row_ref", "reason", "detail", "raw_record", "key_napr",
                               "key_strana", "key_tnved", "key_region")
    #: NULL in :meth:`copy_blocks`: the empty string (no value of a row is one), so
    #: that empty optional fields need no rewriting. COPY them with :data:`COPY_OPTIONS`.
    COPY_NULL = ""
    COPY_OPTIONS = "(null '')"

    def __init__(self, source: Source, period_month: str, revision: int, status: str,
                 *, block_rows: int = 4096) -> None:
        self.period_month = period_month
        self.revision = revision
        self.status = status
        self.block_rows = block_rows
        self.rows_accepted = 0
        self.rows_rejected = 0
        self.rejections: IO[str] = tempfile.SpooledTemporaryFile(
            max_size=8 << 20, mode="w+", encoding="utf-8", newline="\n")
        self._source = _Reopenable(source)

    def close(self) -> None:
        self.rejections.close()
        self._source.close()

    def __enter__(self) -> CsvScan:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def copy_blocks(self) -> Iterator[str]:
        period_month, revision, status = self.period_month, self.revision, self.status
        expected_period = f"{period_month[5:7]}/{period_month[:4]}"
        prefix = f"{copy_text(period_month)}\t{revision}\t{copy_text(status)}\t"
        null = self.COPY_NULL
        partners = iso2_codes() - {REPORTER_ISO2}
        with self._source.text_blocks() as blocks:
            cursor = _LineCursor(blocks)
            lines = cursor.lines()  # for csv.reader: continuation lines
            header = _read_header(lines, period_month)
            index = {name: position for position, name in enumerate(header)}
            run = None
            line_pattern = _ANY_LINE
            if (tuple(header[:len(CSV_COLUMNS)]) == CSV_COLUMNS
                    and not set(header[len(CSV_COLUMNS):]) & set(CSV_COLUMNS)):
                run = _run_pattern(expected_period, partners)
                line_pattern = _block_pattern(expected_period, partners)
            numbered = (prefix.replace("{", "{{").replace("}", "}}") + "{}\t{}\n").format
            block: list[str] = []
            append = block.append
            block_rows = self.block_rows
            row_number = accepted = 0
            while cursor.ready():
                if run is not None and (match := cursor.take(run)) is not None:
                    # The common case: many lines at C speed, no per-line Python.
                    rows = _run_copy_text(match[0])
                    if block:
                        yield "".join(block)
                        block.clear()
                    yield "".join(map(numbered, range(row_number + 1,
                                                      row_number + 1 + len(rows)), rows))
                    row_number += len(rows)
                    accepted += len(rows)
                    continue
                match = cursor.take(line_pattern)
                if match.lastindex:  # the fast path: a line every rule accepts as it is
                    napr, strana, tnved, edizm, stoim, netto, kol, region, region_s = (
                        match.groups())
                    row_number += 1
                    accepted += 1
                    append(f"{prefix}{row_number}\t{napr}\t{expected_period}\t{strana}\t"
                           f"{tnved}\t{edizm or null}\t{stoim.replace(',', '.')}\t"
                           f"{netto.replace(',', '.')}\t"
                           f"{kol.replace(',', '.') if kol else null}\t{region or null}\t"
                           f"{region_s or null}\n")
                    if len(block) >= block_rows:
                        yield "".join(block)
                        block.clear()
                    continue
                line = match[0]
                if '"' in line or "\x00" in line:  # as _records
                    fields = next(csv.reader(itertools.chain((line,), lines), delimiter=";"))
                else:
                    fields = line.rstrip("\r\n").split(";")
                if _is_blank(fields):
                    continue
                row_number += 1
                row, error, key = _classify(fields, index, expected_period)
                if error is not None:
                    self._reject(row_number, error, ";".join(fields), key)
                    continue
                accepted += 1
                row.update(period_month=period_month, revision=revision, status=status,
                           row_number=row_number)
                append(copy_line((row[column] for column in ROW_COLUMNS), null))
            if block:
                yield "".join(block)
        self.rows_accepted = accepted

    def _reject(self, row_number: int, error: RowError, raw_record: str,
                key: tuple | None) -> None:
        rejection = make_rejection(FEED, self.period_month, row_number, error.reason,
                                   error.message, raw_record)
        self.rows_rejected += 1
        self.rejections.write(copy_line((rejection.row_ref, rejection.reason,
                                         rejection.detail, rejection.raw_record,
                                         *(key or (None,) * 4))))

    def raw_records(self, row_numbers: Iterable[int]) -> dict[int, str]:
        """The delivered text (fields joined by ``;``) of some data rows: a second pass."""
        wanted = set(row_numbers)
        found: dict[int, str] = {}
        if not wanted:
            return found
        numbers = sorted(wanted)
        last = numbers[-1]
        with self._source.text_blocks() as blocks:
            cursor = _LineCursor(blocks)
            lines = cursor.lines()  # for csv.reader: continuation lines
            _read_header(lines, self.period_month)
            row_number = 0
            while row_number < last and cursor.ready():
                if (match := cursor.take(_RECORD_RUN)) is not None:
                    # Lines of one record each, none blank: count them, split if needed.
                    run = match[0]
                    count = run.count(b"\n")
                    first = bisect.bisect_right(numbers, row_number)
                    stop = bisect.bisect_right(numbers, row_number + count)
                    if first < stop:
                        run_lines = run.split(b"\r\n")
                        for wanted_number in numbers[first:stop]:
                            found[wanted_number] = run_lines[wanted_number - row_number - 1
                                                             ].decode(ENCODING)
                    row_number += count
                    continue
                line = cursor.take(_ANY_LINE)[0]
                fields = None
                if '"' in line or "\x00" in line:  # as _records
                    fields = next(csv.reader(itertools.chain((line,), lines), delimiter=";"))
                    if _is_blank(fields):
                        continue
                else:
                    line = line.rstrip("\r\n")
                    # Only a line whose first visible character is the delimiter can be
                    # blank: most lines need no split.
                    head = line.lstrip()
                    if not head or (head[0] == ";" and _is_blank(line.split(";"))):
                        continue
                row_number += 1
                if row_number in wanted:
                    found[row_number] = line if fields is None else ";".join(fields)
        return found


# ------------------------------------------------------------- staged (COPY csv) path

class CopyFallback(Exception):
    """PostgreSQL's CSV reader might read this file differently from :func:`parse_csv`
    (or cannot read it): load it with the Python path instead."""


_FIELD_LIMIT = csv.field_size_limit()
_PLAIN_FIELD = rb'[^;"\r\n]*'
_QUOTED_FIELD = rb'"(?:[^"]|"")*"'
#: A record with quotes that both csv readers split alike: every quote belongs to a
#: field quoted from its first to its last character (doubled inside).
_WELL_QUOTED = re.compile(rb"(?:%s|%s)(?:;(?:%s|%s))*" % (_PLAIN_FIELD, _QUOTED_FIELD,
                                                        _PLAIN_FIELD, _QUOTED_FIELD),
                          re.DOTALL)
_END_OF_DATA = re.compile(rb"(?:\A|\n)\\\.")


class StagedSource:
    """A source streamed as raw bytes to ``COPY ... (FORMAT csv, DELIMITER ';', HEADER,
    ENCODING 'WIN1251')``, in blocks of whole records (about ``chunk_size``).

    Python does no per-row work: it only looks, at C speed, for what PostgreSQL's CSV
    reader could read differently from :func:`parse_csv`, and raises
    :class:`CopyFallback` for it: a quote that is not a whole quoted field, a
    ``\\.`` line (PostgreSQL's end-of-data marker), a record longer than the csv
    module's field limit, a header the Python path would treat otherwise. What
    PostgreSQL itself refuses (ragged rows, bad bytes, NUL, stray CR/LF) fails the COPY.
    :meth:`fallback_source` gives the bytes again for the Python path."""

    def __init__(self, source: Source, chunk_size: int = 1 << 20) -> None:
        self._source = source
        self._chunk_size = chunk_size
        self._is_iterable = not isinstance(source, (bytes, bytearray, memoryview, str,
                                                    os.PathLike))
        self._iterator = iter(source) if self._is_iterable else None
        self._spill: IO[bytes] | None = None
        self._chunks: Iterator[bytes] | None = None
        self._file: IO[bytes] | None = None
        self._rest = b""
        self.header_line = b""

    def _read_chunks(self) -> Iterator[bytes]:
        source, size = self._source, self._chunk_size
        if isinstance(source, (bytes, bytearray, memoryview)):
            view = memoryview(source)
            for start in range(0, len(view), size):
                yield bytes(view[start:start + size])
        elif isinstance(source, (str, os.PathLike)):
            self._file = open(source, "rb")
            while chunk := self._file.read(size):
                yield chunk
        else:
            self._spill = tempfile.TemporaryFile()
            for chunk in self._iterator:
                chunk = bytes(chunk)
                self._spill.write(chunk)  # before handing it on: a fallback replays it
                yield chunk

    def header(self, period_month: str) -> list[str] | None:
        """The header's column names as :func:`_read_header` reads them, or None when
        the file must take the Python path (which rejects or raises properly)."""
        self._chunks = self._read_chunks()
        data = b""
        while (end := data.find(b"\n")) < 0 and len(data) < _FIELD_LIMIT:
            chunk = next(self._chunks, None)
            if chunk is None:
                break
            data += chunk
        if end < 0:
            return None
        self.header_line, self._rest = data[:end + 1], data[end + 1:]
        try:
            text = self.header_line.decode(ENCODING)
        except UnicodeDecodeError:
            return None
        text = text[:-2] if text.endswith("\r\n") else text[:-1]
        if any(ch in text for ch in '"\r\n\x00'):
            return None
        header = [name.strip().lower() for name in text.split(";")]
        if any(name not in header for name in REQUIRED):
            return None
        return header

    def blocks(self) -> Iterator[bytes]:
        """The header line, then the data in blocks of whole records (after
        :meth:`header`)."""
        yield self.header_line
        carry = self._rest
        for chunk in self._chunks:
            data = carry + chunk if carry else chunk
            cut = self._check(data, final=False)
            if cut:
                yield data[:cut]
            carry = data[cut:]
        if carry:
            self._check(carry, final=True)
            yield carry

    @staticmethod
    def _check(data: bytes, *, final: bool) -> int:
        """Where the last complete record of ``data`` ends; CopyFallback for a record
        PostgreSQL could read otherwise than the csv module."""
        cut = len(data) if final else data.rfind(b"\n") + 1
        if b"\\." in data and _END_OF_DATA.search(data, 0, cut):
            raise CopyFallback("a line starts with \\. (COPY's end-of-data marker)")
        quote = data.find(b'"', 0, cut)
        while quote >= 0:
            start = data.rfind(b"\n", 0, quote) + 1  # records before it hold no quote
            end = start
            while True:
                newline = data.find(b"\n", end)
                if newline < 0 and not final:
                    if len(data) - start > _FIELD_LIMIT:
                        raise CopyFallback("a quoted record longer than the csv field limit")
                    return start  # the record goes on in the next chunk
                end = len(data) if newline < 0 else newline + 1
                if end - start > _FIELD_LIMIT:
                    raise CopyFallback("a quoted record longer than the csv field limit")
                if data.count(b'"', start, end) % 2 == 0:
                    break
                if newline < 0:
                    raise CopyFallback("an unterminated quoted field")
            record = data[start:end]
            if record.endswith(b"\n"):
                record = record[:-2] if record.endswith(b"\r\n") else record[:-1]
            if not _WELL_QUOTED.fullmatch(record):
                raise CopyFallback("a quote that is not a whole quoted field")
            quote = data.find(b'"', end, cut)
        return cut

    def fallback_source(self) -> Source:
        """The whole source again, for the Python path."""
        if not self._is_iterable:
            return self._source
        if self._spill is None:
            self._spill = tempfile.TemporaryFile()
        self._spill.seek(0, os.SEEK_END)
        for chunk in self._iterator:  # what the staged path did not read
            self._spill.write(chunk)
        self._spill.seek(0)
        spill = self._spill
        return iter(lambda: spill.read(1 << 20), b"")

    def close(self) -> None:
        for handle in (self._file, self._spill):
            if handle is not None:
                handle.close()

    def __enter__(self) -> StagedSource:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


class StagedRecheck:
    """The rows of a staged file that the SQL rules do not accept as they stand, run
    through the Python row rules (:func:`_classify`): accepted rows as ``COPY`` text
    lines of :data:`ROW_COLUMNS` in :attr:`rows`, rejections (with their key) in
    :attr:`rejections` (columns :attr:`CsvScan.REJECTION_SPOOL_COLUMNS`)."""

    def __init__(self, header: list[str], period_month: str, revision: int,
                 status: str) -> None:
        self.index = {name: position for position, name in enumerate(header)}
        self.period_month, self.revision, self.status = period_month, revision, status
        self.expected_period = f"{period_month[5:7]}/{period_month[:4]}"
        self.rows_accepted = self.rows_rejected = 0
        self.rows: IO[str] = tempfile.SpooledTemporaryFile(
            max_size=8 << 20, mode="w+", encoding="utf-8", newline="\n")
        self.rejections: IO[str] = tempfile.SpooledTemporaryFile(
            max_size=8 << 20, mode="w+", encoding="utf-8", newline="\n")

    def add(self, row_number: int, values: Iterable[str | None]) -> None:
        fields = ["" if value is None else value for value in values]
        if _is_blank(fields):
            # parse_csv skips it and numbers the rows after it one lower.
            raise CopyFallback(f"a blank record (data row {row_number})")
        row, error, key = _classify(fields, self.index, self.expected_period)
        if error is not None:
            rejection = make_rejection(FEED, self.period_month, row_number, error.reason,
                                       error.message, ";".join(fields))
            self.rows_rejected += 1
            self.rejections.write(copy_line((rejection.row_ref, rejection.reason,
                                             rejection.detail, rejection.raw_record,
                                             *(key or (None,) * 4))))
            return
        row.update(period_month=self.period_month, revision=self.revision,
                   status=self.status, row_number=row_number)
        self.rows_accepted += 1
        self.rows.write(copy_line(row[column] for column in ROW_COLUMNS))

    def close(self) -> None:
        self.rows.close()
        self.rejections.close()


def _row(record: dict[str, str | None], expected_period: str) -> dict[str, Any]:
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
    payload: bytes | None = None  # None with released=True: 304, the held bytes are current
    url: str | None = None
    not_modified: bool = False


def list_releases(client: FeedClient) -> list[dict[str, Any]]:
    response = client.get(RELEASES_PATH, validate=json_body)
    return list(response.parsed.get("releases") or [])


def fetch_period(client: FeedClient, period_month: str, *, held_sha256: str | None = None,
                 held_status: str | None = None, max_attempts: int = 3) -> RuFetch:
    """The CSV of ``period_month`` whose sha256 equals its release entry.

    ``held_sha256``/``held_status``: what we already hold; the sha is sent as
    ``If-None-Match`` when both are the entry's, so an unchanged file costs a 304.
    A body with another sha means the URL
    moved to a newer revision between the listing and the download: list again.
    """
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
            response = client.get(path, headers=headers, ok_statuses=(200, 304))
        except FeedHTTPError as exc:
            if exc.status == 404:
                return RuFetch(period_month, released=False)
            raise
        if response.status == 304:
            return RuFetch(period_month, True, revision, status, sha, None, response.url,
                           not_modified=True)
        got = hashlib.sha256(response.content).hexdigest()
        if got == sha:
            return RuFetch(period_month, True, revision, status, sha, response.content,
                           response.url)
        log.warning("%s %s: downloaded sha256 %s is not the release entry's %s "
                    "(attempt %d): listing again", FEED, period_month, got[:12], sha[:12],
                    attempt)
    raise RuntimeError(f"{FEED} {period_month}: no download matched its release entry's "
                       f"sha256 after {max_attempts} listings")
