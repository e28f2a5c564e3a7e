"""ru_customs: Russian customs monthly CSV (windows-1251, ';', decimal comma, CRLF).

Two ways to read one file, with the same rules and the same results:

* :func:`parse_csv` → a :class:`ParseResult` with every accepted row as a dict (small
  files, tests, replay);
* :class:`CsvScan` → streaming: rows already formatted as PostgreSQL ``COPY`` text,
  rejections spooled to a temporary file, duplicate keys left to the loader (in SQL),
  so that a file of any size loads in constant memory
  (:func:`corridor.load.raw.load_ru_customs_csv`).

A source is the payload ``bytes``, a path to the landed file, or an iterable of
``bytes`` chunks.
"""

from __future__ import annotations

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

    def close(self) -> None:
        if self._spill is not None:
            self._spill.close()


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


def copy_text(value: Any) -> str:
    """One value as a field of PostgreSQL ``COPY ... FROM STDIN`` text format."""
    if value is None:
        return COPY_NULL
    return str(value).translate(_COPY_ESCAPES)


def copy_line(values: Iterable[Any]) -> str:
    return "\t".join(map(copy_text, values)) + "\n"


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


class CsvScan:
    """One streaming pass over a file: :meth:`copy_blocks` yields the rows accepted by
    the row rules as ``COPY`` text (columns :data:`ROW_COLUMNS`), and writes rejections
    (with the key of the rejected row, which still counts towards duplicates) to
    :attr:`rejections`, a temporary file of ``COPY`` text lines with the columns
    :data:`REJECTION_SPOOL_COLUMNS`. Duplicate keys are the loader's job (in SQL);
    :meth:`raw_records` re-reads the rows it finds."""

    REJECTION_SPOOL_COLUMNS = ("row_ref", "reason", "detail", "raw_record", "key_napr",
                               "key_strana", "key_tnved", "key_region")

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
        null = COPY_NULL
        partners = iso2_codes() - {REPORTER_ISO2}
        with self._source.lines() as lines:
            header = _read_header(lines, period_month)
            index = {name: position for position, name in enumerate(header)}
            fast = None
            if (tuple(header[:len(CSV_COLUMNS)]) == CSV_COLUMNS
                    and not set(header[len(CSV_COLUMNS):]) & set(CSV_COLUMNS)):
                fast = _fast_pattern(expected_period).fullmatch
            block: list[str] = []
            row_number = accepted = 0
            for line, fields in _records(lines):
                if line is not None:
                    match = fast(line) if fast is not None else None
                    if match is not None and match[2] in partners:
                        napr, strana, tnved, edizm, stoim, netto, kol, region, region_s = (
                            match.groups())
                        row_number += 1
                        accepted += 1
                        block.append(
                            f"{prefix}{row_number}\t{napr}\t{expected_period}\t{strana}\t"
                            f"{tnved}\t{edizm or null}\t{stoim.replace(',', '.')}\t"
                            f"{netto.replace(',', '.')}\t"
                            f"{kol.replace(',', '.') if kol else null}\t{region or null}\t"
                            f"{region_s or null}\n")
                        if len(block) >= self.block_rows:
                            yield "".join(block)
                            block.clear()
                        continue
                    fields = line.split(";")
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
                block.append(copy_line(row[column] for column in ROW_COLUMNS))
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
        last = max(wanted)
        with self._source.lines() as lines:
            _read_header(lines, self.period_month)
            row_number = 0
            for line, fields in _records(lines):
                if fields is None:
                    # Only a line whose first visible character is the delimiter can be
                    # blank: most lines need no split.
                    head = line.lstrip()
                    if not head or (head[0] == ";" and _is_blank(line.split(";"))):
                        continue
                elif _is_blank(fields):
                    continue
                row_number += 1
                if row_number in wanted:
                    found[row_number] = line if fields is None else ";".join(fields)
                    if row_number == last:
                        break
        return found


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
