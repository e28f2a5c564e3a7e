"""ru_customs: Russian customs monthly CSV (windows-1251, ';', decimal comma, CRLF).

Two ways to read one file, with the same rules and the same results:

* :func:`parse_csv` → a :class:`ParseResult` with every accepted row as a dict (small
  files, tests, replay);
* :class:`CsvScan` → streaming: rows already formatted as PostgreSQL ``COPY`` text,
  rejections spooled to a temporary file, duplicate keys found on the way in bounded
  memory (:mod:`corridor.feeds.ru_keys`), so that a file of any size loads in constant
  memory (:func:`corridor.load.raw.load_ru_customs_csv`). It reads ~1 MB blocks of
  bytes: runs of lines that every rule accepts as they stand are checked by one
  compiled regex and converted (and their keys hashed) by whole-block operations; only
  the other lines take the per-line rules (the same functions as :func:`parse_csv`).

A source is the payload ``bytes``, a path to the landed file, or an iterable of
``bytes`` chunks.
"""

from __future__ import annotations

import csv
import io
import itertools
import logging
import os
import re
import tempfile
import weakref
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Union

from corridor.feeds import ru_keys
from corridor.feeds.common import (
    FeedError,
    ParseResult,
    RowError,
    check_code,
    duplicate_keys,
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
ENCODING_PG = "WIN1251"  # PostgreSQL's name of it
REQUIRED = ("napr", "period", "strana", "tnved", "stoim", "netto")
FLOWS = ("ИМ", "ЭК")
REPORTER_ISO2 = "RU"
RELEASES_PATH = "/ru-customs/v1/releases"
#: The publisher's column order; a file with exactly this header takes the fast path.
CSV_COLUMNS = ("napr", "period", "strana", "tnved", "edizm", "stoim", "netto", "kol",
               "region", "region_s")
#: ``raw.ru_customs_rows`` columns, in the order :class:`CsvScan` writes them (the CSV's
#: fields first: a run of lines keeps its fields in place).
ROW_COLUMNS = (*CSV_COLUMNS, "period_month", "revision", "status", "row_number")
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
    def opened(self) -> Iterator[IO[bytes]]:
        """The source as a seekable binary file: the payload, the landed file, or the
        spill of an iterable of chunks (which a first pass wrote)."""
        source = self._source
        if isinstance(source, (bytes, bytearray, memoryview)):
            yield io.BytesIO(bytes(source))
        elif isinstance(source, (str, os.PathLike)):
            with open(source, "rb") as handle:
                yield handle
        else:
            assert self._spill is not None, "an iterable source is read once first"
            self._spill.seek(0)
            yield self._spill

    @contextmanager
    def blocks(self, size: int = 1 << 20) -> Iterator[Iterator[bytes]]:
        """The bytes in blocks of about ``size``, each ending after a ``\\n`` (but the
        last): whole lines, as :meth:`lines` splits them, since a block never ends
        inside ``\\r\\n``."""

        if isinstance(self._source, (bytes, bytearray, memoryview, str, os.PathLike)) \
                or self._spill is not None:
            with self.opened() as raw:
                yield _whole_lines(raw, size)
            return
        self._spill = tempfile.TemporaryFile()
        tee = io.BufferedReader(_ChunkReader(self._source, tee=self._spill), 1 << 20)
        yield _whole_lines(tee, size)
        while tee.read(1 << 20):  # a consumer that stopped early: tee the rest too
            pass

    def lines_at(self, offsets: Iterable[int]) -> dict[int, str]:
        """The decoded line (without its end) starting at each byte offset: lines of
        no quote, read again after a pass (:meth:`blocks` or :meth:`lines`). A few are
        read where they are; many, by one pass over the file."""
        wanted = sorted(set(offsets))
        found: dict[int, str] = {}
        with self.opened() as handle:
            if len(wanted) > _SEEKS:
                base, at = 0, 0
                for block in _whole_lines(handle, 1 << 20):
                    end = base + len(block)
                    while at < len(wanted) and wanted[at] < end:
                        start = wanted[at] - base
                        stop = _LINE_BREAK.search(block, start)
                        found[wanted[at]] = block[start:stop.start() if stop else None
                                                  ].decode(ENCODING)
                        at += 1
                    base = end
                return found
            for offset in wanted:
                handle.seek(offset)
                line = b""
                while not (end := _LINE_BREAK.search(line)):
                    more = handle.read(4096)
                    if not more:
                        break
                    line += more
                found[offset] = (line[:end.start()] if end else line).decode(ENCODING)
        return found

    def close(self) -> None:
        if self._spill is not None:
            self._spill.close()


_LINE_BREAK = re.compile(rb"[\r\n]")
#: More lines than this are read again by a pass over the file, not one seek each.
_SEEKS = 2000


def _whole_lines(raw: IO[bytes], size: int) -> Iterator[bytes]:
    """``raw``'s bytes from where it stands, in blocks of about ``size`` that end after
    a ``\\n`` (but the last)."""
    carry = b""
    while chunk := raw.read(size):
        data = carry + chunk if carry else chunk
        cut = data.rfind(b"\n") + 1
        if cut:
            yield data[:cut]
        carry = data[cut:]
    if carry:
        yield carry


#: The one byte windows-1251 leaves undefined.
_UNDEFINED = b"\x98"


class LineDecodeError(ValueError):
    """A byte that is not windows-1251 (0x98), at a byte offset of the source."""

    def __init__(self, offset: int, byte: int) -> None:
        super().__init__(f"byte 0x{byte:02x} at byte offset {offset} is not {ENCODING}")
        self.offset = offset


class _LineCursor:
    """The lines of byte blocks (as :meth:`_Reopenable.lines` splits them), taken one
    at a time, decoded (:meth:`line`, :meth:`lines`), or several at once (:meth:`take`
    with a bytes pattern of whole lines). windows-1251 is one byte a character, so
    a line is decoded alone, and only the lines that need it are."""

    def __init__(self, blocks: Iterator[bytes]) -> None:
        self._blocks = blocks
        self.raw, self.pos = b"", 0
        self.base = 0  # the byte offset of the current block in the source

    def ready(self) -> bool:
        """Whether a line is left (moves to the next block if need be)."""
        while self.pos >= len(self.raw):
            block = next(self._blocks, None)
            if block is None:
                return False
            self.base += len(self.raw)
            self.raw, self.pos = block, 0
        return True

    def take(self, pattern: re.Pattern[bytes]) -> re.Match[bytes] | None:
        """``pattern`` matched at the current line (which it then consumes), or None."""
        match = pattern.match(self.raw, self.pos)
        if match is not None:
            self.pos = match.end()
        return match

    def line(self) -> tuple[int, str]:
        """The current line's byte offset in the source, and the line with its end,
        decoded (after :meth:`ready`)."""
        match = _ANY_LINE_BYTES.match(self.raw, self.pos)
        offset, self.pos = self.base + self.pos, match.end()
        try:
            return offset, match[0].decode(ENCODING)
        except UnicodeDecodeError as exc:
            raise LineDecodeError(offset + exc.start, match[0][exc.start]) from exc

    def lines(self) -> Iterator[str]:
        while self.ready():
            yield self.line()[1]


#: Characters ``str.strip()`` removes that a windows-1251 file can carry.
STRIP_CHARS = "".join(ch for ch in (bytes([b]).decode(ENCODING, "replace") for b in range(256))
                      if ch.isspace())


_LINE_END = r"(?:\r\n|\r|\n|\Z)"
#: Any one line with its end (universal newlines, like ``newline=""``).
_ANY_LINE = re.compile(rf"[^\r\n]*{_LINE_END}")
_ANY_LINE_BYTES = re.compile(_ANY_LINE.pattern.encode("ascii"))


_BOM_AS_1251 = "\ufeff".encode("utf-8").decode(ENCODING)


def _read_header(lines: Iterator[str], period_month: str) -> list[str]:
    try:
        header = next(csv.reader(lines, delimiter=";"))
    except StopIteration:
        raise ValueError(f"{FEED} {period_month}: empty file") from None
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
    return header


def _record_fields(line: str, lines: Iterator[str]) -> list[str]:
    """The fields of the record that starts with ``line``, as the csv module reads them:
    a line without quotes (or NUL) is one record split on ``;``; any other line is
    handed to ``csv.reader``, which may pull continuation lines from ``lines``. Blank
    records are the consumer's business."""
    if '"' in line or "\x00" in line:
        return next(csv.reader(itertools.chain((line,), lines), delimiter=";"))
    return line.rstrip("\r\n").split(";")


def _is_blank(fields: list[str]) -> bool:
    """An empty line (no character but its end): not a data line, skipped. A record of
    empty fields (``;;;;``, blanks) is a data line: :func:`_row` rejects it."""
    return not fields or fields == [""]


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
            for line in lines:
                fields = _record_fields(line, lines)
                if _is_blank(fields):
                    continue  # an empty line (e.g. after the last CRLF)
                row_number += 1
                row, error, key = _classify(fields, index, expected_period)
                if row is not None:
                    row.update(period_month=period_month, revision=revision, status=status,
                               row_number=row_number)
                parsed.append((row_number, fields, row, error, key))
    except UnicodeDecodeError as exc:
        # The text reader decodes ahead of the line it yields: find the byte itself.
        raise ValueError(f"{FEED} {period_month}: {_undecodable(source)}") from exc
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


def _undecodable(source: _Reopenable) -> str:
    """Where the source's first byte that is not windows-1251 is (0x98, the one byte
    the code page leaves undefined), as the streaming scan words it, with the line."""
    with source.opened() as handle:
        base = line = 0
        for block in iter(lambda: handle.read(1 << 20), b""):
            at = block.find(_UNDEFINED)
            if at >= 0:
                line += block.count(b"\n", 0, at)
                return f"line {line + 1}: {LineDecodeError(base + at, _UNDEFINED[0])}"
            base, line = base + len(block), line + block.count(b"\n")
    return f"a byte that is not {ENCODING}"  # never: the decoder found one


# ----------------------------------------------------------------------- streaming

_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})
COPY_NULL = "\\N"


def copy_text(value: Any, null: str = COPY_NULL) -> str:
    """One value as a field of PostgreSQL ``COPY ... FROM STDIN`` text format."""
    if value is None:
        return null
    text = str(value)
    # str.translate with a mapping costs microseconds a call: only when there is
    # something to escape.
    if "\\" in text or "\t" in text or "\n" in text or "\r" in text:
        return text.translate(_COPY_ESCAPES)
    return text


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
    a run becomes ``COPY`` text by whole-string replacements (:func:`_run_copy_bytes`).
    On the windows-1251 bytes (faster than on text); ``\\s`` of the text pattern is
    spelled out as the bytes of :data:`STRIP_CHARS` (what ``\\s`` and ``str.strip``
    take in a windows-1251 text)."""
    blank = re.escape(STRIP_CHARS.encode(ENCODING)).decode("latin-1")
    inner_blank = re.escape("".join(sorted(set(STRIP_CHARS) - set("\t\r\n"))).encode(ENCODING)
                            ).decode("latin-1")
    # _BLOCK_TEXT without a comma either: a run's commas are then decimal commas only;
    # nor 0x98, the one byte windows-1251 leaves undefined: a run is never decoded on
    # the client, and such a line must fail to decode on the per-line path. Spelled
    # without backtracking (possessive): non-blanks, then blanks (not tab, CR, LF)
    # followed by non-blanks, any number of times; so no blank at either end.
    solid = rf'[^{blank};\\",\x00\x98]'
    text = rf"(?:{solid}++(?:[{inner_blank}]++{solid}++)*+)?+"
    by_first: dict[str, list[str]] = {}
    for code in sorted(partners):
        if len(code) == 2 and all("A" <= ch <= "Z" for ch in code):
            by_first.setdefault(code[0], []).append(code[1])
    strana = "|".join(f"{first}[{''.join(seconds)}]" for first, seconds in by_first.items())
    number = "[0-9]++(?:,[0-9]++)?+"
    flows = "|".join(re.escape(flow.encode(ENCODING)).decode("latin-1") for flow in FLOWS)
    line = (rf"(?:{flows});{re.escape(expected_period)};(?:{strana or '(?!)'});[0-9]{{10}};"
            rf"{text};{number};{number};(?:{number})?+;{text};{text}\r\n")
    return re.compile(rf"(?:{line})+".encode("latin-1"))


_RUN_TRANSLATION = bytes.maketrans(b",;", b".\t")


def _run_copy_bytes(run: bytes, suffix: bytes, first_row: int) -> bytes:
    """The lines of a run (:func:`_run_pattern`) as ``COPY`` text lines of
    :data:`ROW_COLUMNS`, windows-1251, numbered from ``first_row``: fields napr..region_s
    (the CSV's order), ``suffix`` (a tab, then the unit's constant columns, each
    followed by a tab), the row number. Whole-string operations but one join: commas
    are decimal commas, the only ``\\r`` are line ends, no field needs a ``COPY``
    escape, and an empty field is NULL with :attr:`CsvScan.COPY_NULL`."""
    lines = run.translate(_RUN_TRANSLATION, b"\r").split(b"\n")
    lines.pop()  # after the last line end
    return b"".join(itertools.chain.from_iterable(
        zip(lines, _line_ends(suffix, first_row, len(lines)), strict=True)))


_THOUSAND = [b"%03d" % number for number in range(1000)]


def _line_ends(suffix: bytes, first_row: int, count: int) -> list[bytes]:
    """``suffix + b"<row number>\\n"`` for ``count`` rows from ``first_row``, made a
    thousand at a time by one join and one split (three times faster than formatting
    each). ``suffix`` holds no line break (``COPY`` text escapes them)."""
    ends: list[bytes] = []
    row, stop = first_row, first_row + count
    while row < stop:
        thousands, low = divmod(row, 1000)
        high = min(stop - thousands * 1000, 1000)
        if thousands:
            head = b"%s%d" % (suffix, thousands)
            ends += (head + (b"\n" + head).join(_THOUSAND[low:high]) + b"\n").splitlines(True)
        else:
            ends += [b"%s%d\n" % (suffix, number) for number in range(row, high)]
        row = thousands * 1000 + high
    return ends


class CsvScan:
    """One streaming pass over a file: :meth:`copy_blocks` yields the rows accepted by
    the row rules as ``COPY`` text (columns :data:`ROW_COLUMNS`), writes rejections to
    :attr:`rejections` (a temporary file of ``COPY`` text lines with the columns
    :data:`REJECTION_SPOOL_COLUMNS`) and gives every keyed row, accepted or rejected, to
    a :class:`~corridor.feeds.ru_keys.KeyIndex`. After the pass, :meth:`duplicates`
    names the accepted rows that the duplicate-key rule rejects (the loader deletes them
    again and rejects them).

    Speed without a second set of rules: a run of CRLF lines of the publisher's
    layout that :func:`_run_pattern` takes (a subset of what the per-line fast path
    takes, which is a subset of what :func:`_row` accepts unchanged) is converted as a
    whole (:func:`_run_copy_bytes`) and its keys hashed as a whole; any other line is
    read as :func:`_record_fields` reads it and judged by :func:`_classify`, as in
    :func:`parse_csv`."""

    #: The columns of :attr:`rejections`' lines (``raw.rejected_rows`` but feed, unit).
    REJECTION_SPOOL_COLUMNS = ("row_ref", "reason", "detail", "raw_record")
    #: NULL in :meth:`copy_blocks`: the empty string (no value of a row is one), so
    #: that empty optional fields need no rewriting. COPY them with :data:`COPY_OPTIONS`.
    COPY_NULL = ""
    COPY_OPTIONS = f"(null '', encoding '{ENCODING_PG}')"

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
        self.expected_period = f"{period_month[5:7]}/{period_month[:4]}"
        self.keys = ru_keys.KeyIndex(self.expected_period)

    def close(self) -> None:
        self.rejections.close()
        self.keys.close()
        self._source.close()

    def __enter__(self) -> CsvScan:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def copy_blocks(self) -> Iterator[bytes]:
        """``COPY`` text of the accepted rows, columns :data:`ROW_COLUMNS`, encoded in
        windows-1251 (the file's own bytes, mostly): COPY them with
        :attr:`COPY_OPTIONS`."""
        period_month, revision, status = self.period_month, self.revision, self.status
        expected_period = self.expected_period
        constants = f"{copy_text(period_month)}\t{revision}\t{copy_text(status)}\t"
        suffix = f"\t{constants}".encode(ENCODING)
        null = self.COPY_NULL
        partners = iso2_codes() - {REPORTER_ISO2}
        keys = self.keys
        with self._source.blocks() as blocks:
            cursor = _LineCursor(blocks)
            lines = cursor.lines()  # for csv.reader: continuation lines
            try:
                header = _read_header(lines, period_month)
            except LineDecodeError as exc:
                raise ValueError(f"{FEED} {period_month}: the header: {exc}") from exc
            index = self._index = {name: position for position, name in enumerate(header)}
            run = None
            line_pattern = _ANY_LINE
            if (tuple(header[:len(CSV_COLUMNS)]) == CSV_COLUMNS
                    and not set(header[len(CSV_COLUMNS):]) & set(CSV_COLUMNS)):
                run = _run_pattern(expected_period, partners)
                line_pattern = _block_pattern(expected_period, partners)
            block: list[str] = []
            append = block.append
            block_rows = self.block_rows
            row_number = accepted = 0
            try:
                while cursor.ready():
                    if run is not None and (match := cursor.take(run)) is not None:
                        # The common case: many lines at C speed, no per-line Python.
                        if block:
                            yield "".join(block).encode(ENCODING)
                            block.clear()
                        lines_run = match[0]
                        count = keys.add_run(lines_run, cursor.base + match.start(),
                                             row_number + 1)
                        yield _run_copy_bytes(lines_run, suffix, row_number + 1)
                        row_number += count
                        accepted += count
                        continue
                    offset, line = cursor.line()
                    match = line_pattern.match(line)
                    if match.lastindex:  # the fast path: a line every rule accepts as it is
                        napr, strana, tnved, edizm, stoim, netto, kol, region, region_s = (
                            match.groups())
                        row_number += 1
                        accepted += 1
                        keys.add_line(row_number, (napr, strana, tnved, region or ""), offset)
                        append(f"{napr}\t{expected_period}\t{strana}\t{tnved}\t{edizm or null}\t"
                               f"{stoim.replace(',', '.')}\t{netto.replace(',', '.')}\t"
                               f"{kol.replace(',', '.') if kol else null}\t{region or null}\t"
                               f"{region_s or null}\t{constants}{row_number}\n")
                        if len(block) >= block_rows:
                            yield "".join(block).encode(ENCODING)
                            block.clear()
                        continue
                    fields = _record_fields(line, lines)
                    if _is_blank(fields):
                        continue
                    row_number += 1
                    row, error, key = _classify(fields, index, expected_period)
                    if key is not None:
                        keys.add_key(row_number, key, offset)
                    if error is not None:
                        self._reject(row_number, error, ";".join(fields))
                        continue
                    accepted += 1
                    row.update(period_month=period_month, revision=revision, status=status,
                               row_number=row_number)
                    append(copy_line((row[column] for column in ROW_COLUMNS), null))
            except LineDecodeError as exc:
                raise ValueError(f"{FEED} {period_month}: data row {row_number + 1}: {exc}"
                                 ) from exc
            if block:
                yield "".join(block).encode(ENCODING)
        self.rows_accepted = accepted

    def _reject(self, row_number: int, error: RowError, raw_record: str) -> None:
        rejection = make_rejection(FEED, self.period_month, row_number, error.reason,
                                   error.message, raw_record)
        self.rows_rejected += 1
        self.rejections.write(copy_line((rejection.row_ref, rejection.reason,
                                         rejection.detail, rejection.raw_record)))

    def duplicates(self) -> list[ru_keys.DuplicateRow]:
        """After :meth:`copy_blocks`: the accepted rows whose key occurs more than once
        in the file (counting rejected rows' keys), by row number."""
        return self.keys.duplicates(self._source.lines_at, self._records_at)

    def _records_at(self, offsets: Iterable[int]) -> dict[int, tuple[tuple, bool, str]]:
        """(key, accepted, raw record) of the record starting at each byte offset, read
        again as :meth:`copy_blocks` read it (a quoted record may span lines)."""
        found: dict[int, tuple[tuple, bool, str]] = {}
        with self._source.opened() as handle:
            for offset in sorted(set(offsets)):
                handle.seek(offset)
                lines = _LineCursor(_whole_lines(handle, 1 << 16)).lines()
                fields = _record_fields(next(lines), lines)
                _, error, key = _classify(fields, self._index, self.expected_period)
                found[offset] = (key, error is None, ";".join(fields))
        return found


def _row(record: dict[str, str | None], expected_period: str) -> dict[str, Any]:
    for name, value in record.items():
        # windows-1251 text holds no surrogate; a NUL cannot be stored (the fast paths'
        # patterns exclude it, so such a line always comes here).
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
