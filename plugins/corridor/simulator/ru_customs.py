"""``ru_customs``: the Russian customs CSV files and their release list (spec/feeds.md §1).

A month is a windows-1251 CSV (``;``, decimal comma, CRLF) at
``/ru-customs/v1/data/YYYY-MM.csv``, listed with its sha256 and row count at
``/ru-customs/v1/releases``. Above ``RU_STREAM_THRESHOLD_ROWS`` rows a month
(benchmark scale) a month is generated and served as a stream, never held whole.
With a disk cache (``World(config, cache_dir)``, bodies.py) a month is generated once
into a file; the server sends the file and the release list reads its figures.
"""

from __future__ import annotations

import csv
import hashlib
import io
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

from corridor.config import month_add
from corridor.simulator import calibration as cal
from corridor.simulator.bodies import CachedBody
from corridor.simulator.common import (
    TZ_MSK,
    TradeLine,
    _allocate,
    _chapter_pool,
    _extra_code,
    _fmt_comma,
    _hs6_weight,
    _iso,
    _pick,
    _supp,
    hs_version,
    sha256_hex,
)
from corridor.simulator.trade import (
    NationalTrade,
    _draw_code,
    _flow_totals,
    _make_line,
    _mix_chapters,
)

RU_CSV_HEADER = ("napr", "period", "strana", "tnved", "edizm", "stoim", "netto", "kol",
                 "region", "region_s")
#: The unknown column the ``extra_columns`` fault adds to the RU CSV (after ``strana``).
RU_EXTRA_COLUMN = "tamozhnya"
#: Above this many RU rows a month (scale 25), ru_customs is generated and served as a stream.
RU_STREAM_THRESHOLD_ROWS = 50_000
_REGION_NAMES = {code: name for code, name, *_ in cal.RU_REGIONS}


def ru_rows_per_month(scale: float) -> int:
    """Rows of a streamed RU CSV month at ``scale`` (2 000 x scale: 50 -> 100 000)."""
    return max(1, round(cal.ROWS_PER_MONTH["RUS"] * scale))


class RuCustoms(NationalTrade):
    """The ru_customs feed."""

    def ru_periods(self) -> list[str]:
        return [m for m in self.months if m not in self._unpublished("ru_customs")]

    def ru_rows(self, period_month: str) -> list[dict[str, str]]:
        """The CSV data rows of a month as text fields (malformed and duplicate rows included)."""
        steps = self.revision_steps("ru_customs", period_month)

        def build():
            rows = [dict(zip(RU_CSV_HEADER, _csv_fields(line, period_month), strict=True))
                    for line in self._published_lines("RUS", period_month, steps)]
            broken = self._break_rows("ru_customs", period_month, rows)
            self._cache[("malformed", "ru_customs", period_month, steps)] = broken
            self._cache[("duplicates", "ru_customs", period_month, steps)] = \
                self._append_duplicates("ru_customs", period_month, rows,
                                        {ref - 1 for ref, _ in broken})
            return rows
        return self._cached(("ru_rows", period_month, steps), build)

    def ru_header(self) -> tuple[str, ...]:
        """The CSV header; ``extra_columns`` adds an unknown column after ``strana``."""
        if not self._extra_columns("ru_customs"):
            return RU_CSV_HEADER
        at = RU_CSV_HEADER.index("strana") + 1
        return RU_CSV_HEADER[:at] + (RU_EXTRA_COLUMN,) + RU_CSV_HEADER[at:]

    def ru_csv_bytes(self, period_month: str) -> bytes:
        steps = self.revision_steps("ru_customs", period_month)
        return self._cached(("ru_csv", period_month, steps),
                            lambda: self._ru_csv_build(period_month))

    def _ru_csv_build(self, period_month: str) -> bytes:
        header = self.ru_header()
        buffer = io.StringIO()
        writer = csv.writer(buffer, delimiter=";", lineterminator="\r\n")
        writer.writerow(header)
        for row in self.ru_rows(period_month):
            if RU_EXTRA_COLUMN in header:
                row = dict(row, **{RU_EXTRA_COLUMN: _extra_code(row, 8)})
            writer.writerow([row.get(col, "") for col in header])
        return buffer.getvalue().encode("windows-1251")

    def ru_body(self, period_month: str) -> CachedBody:
        """The month's CSV as a file of the disk cache (``self.bodies``, bodies.py):
        generated and written once, then only read. Its name holds the month's state
        (revision, status, re-publication steps); a streamed month's bytes depend on none
        of them (the streamed generator carries no faults), so it has one name."""
        assert self.bodies is not None, "ru_body needs a world with a cache_dir"
        if self.ru_streamed():
            return self.bodies.get("ru_customs", f"{period_month}.stream",
                                   lambda: self.ru_csv_stream(period_month))
        revision, status = self.customs_revision("ru_customs", period_month)
        steps = self.revision_steps("ru_customs", period_month)
        # not kept in memory as well: the file is the copy
        return self.bodies.get("ru_customs", f"{period_month}.r{revision}-{status}.s{steps}",
                               lambda: [self._ru_csv_build(period_month)])

    # ----- releases

    def ru_release(self, period_month: str) -> dict[str, Any]:
        with self._lock:  # one revision step throughout, whatever revise() does meanwhile
            return self._ru_release(period_month)

    def _ru_release(self, period_month: str) -> dict[str, Any]:
        revision, status = self.customs_revision("ru_customs", period_month)
        steps = self.revision_steps("ru_customs", period_month)
        if self.bodies is not None:
            body = self.ru_body(period_month)
            sha, n_rows = body.sha256, body.lines - 1
        elif self.ru_streamed():
            meta = self.ru_stream_meta(period_month)
            sha, n_rows = meta["sha256"], meta["rows"]
        else:
            payload = self.ru_csv_bytes(period_month)
            sha, n_rows = sha256_hex(payload), payload.count(b"\r\n") - 1
        offset = 1 if self.status(period_month)[0] == 1 else 2
        published = datetime.fromisoformat(f"{month_add(period_month, offset)}-03T09:00:00+03:00")
        published = min(published, self.now - timedelta(days=1))
        if steps:
            published = min(published + timedelta(hours=12 * steps), self.now - timedelta(hours=1))
        published = published.astimezone(TZ_MSK)
        return {"period": period_month, "revision": revision, "status": status,
                "published_at": _iso(published), "sha256": sha,
                "rows": n_rows, "path": f"/ru-customs/v1/data/{period_month}.csv"}

    def ru_releases(self) -> dict[str, Any]:
        return {"releases": [self.ru_release(p) for p in self.ru_periods()]}

    # ----- at benchmark scale (streamed)

    def ru_streamed(self) -> bool:
        """Whether this world's RU months are big enough to be generated as a stream."""
        return ru_rows_per_month(self.config.scale) > RU_STREAM_THRESHOLD_ROWS

    def ru_csv_stream(self, period_month: str, rows: int | None = None,
                      chunk_bytes: int = 1 << 20) -> Iterator[bytes]:
        """The RU CSV of a month as byte chunks, never held whole in memory.

        Small worlds (<= ``RU_STREAM_THRESHOLD_ROWS`` rows a month, i.e. scale <= 25)
        yield exactly ``ru_csv_bytes``. Otherwise, or when ``rows`` asks for a size,
        a streamed generator writes ``rows`` (default ``ru_rows_per_month(scale)``)
        clean rows in the same format (windows-1251, ``;``, decimal comma, CRLF, unique
        keys), one (flow, partner) block at a time; its content is its own (same seed
        and size -> same bytes) and carries no faults.
        """
        if rows is None and not self.ru_streamed():
            payload = self.ru_csv_bytes(period_month)
            for start in range(0, len(payload), chunk_bytes):
                yield payload[start:start + chunk_bytes]
            return
        target = rows if rows is not None else ru_rows_per_month(self.config.scale)
        buffer = io.StringIO()
        writer = csv.writer(buffer, delimiter=";", lineterminator="\r\n")
        writer.writerow(RU_CSV_HEADER)
        for block in self._ru_stream_blocks(period_month, target):
            writer.writerows(block)
            if buffer.tell() >= chunk_bytes:
                yield buffer.getvalue().encode("windows-1251")
                buffer.seek(0)
                buffer.truncate()
        if buffer.tell():
            yield buffer.getvalue().encode("windows-1251")

    def ru_stream_meta(self, period_month: str) -> dict[str, Any]:
        """sha256, byte length and data rows of a streamed month (one pass, cached)."""
        def build():
            digest, length, lines = hashlib.sha256(), 0, 0
            for chunk in self.ru_csv_stream(period_month):
                digest.update(chunk)
                length += len(chunk)
                lines += chunk.count(b"\r\n")
            return {"sha256": digest.hexdigest(), "length": length, "rows": lines - 1}
        return self._cached(("ru_stream_meta", period_month), build)

    def _ru_stream_blocks(self, period_month: str, target: int) -> Iterator[list[list[str]]]:
        region_codes = [code for code, *_ in cal.RU_REGIONS]
        version = hs_version(period_month)
        all_chapters = [ch for ch in range(1, 98) if _chapter_pool(version, ch)[0]]
        level = self._level(period_month, cal.RU_REFERENCE_YEAR)
        rng = self._rng("ru_stream", period_month)
        totals, weights, minimums = _flow_totals(
            rng, sorted(cal.RU_FLOWS_MUSD.items()), level, lambda partner, flow: (flow, partner),
            lambda partner: 1)
        allocation = _allocate(target, weights, minimums)
        for flow, partner in sorted(allocation, key=lambda k: ({"X": 0, "M": 1}[k[0]], k[1])):
            n_rows = allocation[(flow, partner)]
            block_rng = self._rng("ru_stream", f"{period_month}:{flow}:{partner}")
            mix = cal.CHAPTER_MIX_OVERRIDES.get(("RUS", flow, partner)) or \
                cal.CHAPTER_MIX[("RUS", flow)]
            chapters, flat = _mix_chapters(mix, version)
            taken: set[tuple[str, str]] = set()
            picks: list[tuple[int, str, str, float]] = []
            misses, attempts = 0, 0
            while len(picks) < n_rows and attempts < n_rows * 50 + 1000:
                attempts += 1
                wide = misses > 30  # the chapter mix is exhausted: draw from everything
                chapter = (block_rng.choice(all_chapters) if wide
                           else chapters[_pick(block_rng, flat)])
                hs6, tnved = _draw_code(block_rng, version, chapter)
                region = (block_rng.choice(region_codes) if wide else
                          self._line_attrs(block_rng, "RUS", flow, partner, chapter,
                                           tnved)["region"])
                if (tnved, region) in taken:
                    misses += 1
                    continue
                misses = 0
                taken.add((tnved, region))
                picks.append((chapter, tnved, region,
                              _hs6_weight(hs6) * block_rng.lognormvariate(0, 0.8)))
            taken.clear()
            total_weight = sum(p[3] for p in picks) or 1.0
            lines = [_make_line("RUS", flow, partner, chapter, tnved,
                                totals[(flow, partner)] * weight / total_weight,
                                {"region": region}, block_rng.lognormvariate(0, 0.35))
                     for chapter, tnved, region, weight in picks]
            del picks
            lines.sort(key=lambda ln: (ln.tnved, ln.region))
            block = []
            for line in lines:
                block.append(_csv_fields(line, period_month))
                if len(block) >= 5000:
                    yield block
                    block = []
            if block:
                yield block


def _csv_fields(line: TradeLine, period_month: str) -> list[str]:
    """A line as the CSV's fields, in ``RU_CSV_HEADER`` order."""
    supp = _supp(line)
    return ["ЭК" if line.flow == "X" else "ИМ", f"{period_month[5:7]}/{period_month[:4]}",
            line.partner_iso2, line.tnved, supp[0] if supp else "",
            _fmt_comma(line.value_cents, 2), _fmt_comma(line.netto_g, 3),
            _fmt_comma(line.qty_milli, 3).rstrip("0").rstrip(",") if supp else "",
            line.region or "", _REGION_NAMES.get(line.region, "")]
