"""``kz_customs``: the Kazakh customs JSON API (spec/feeds.md §2).

``/kz-customs/api/v2/periods`` lists every published month with its revision,
status and record count; ``/kz-customs/api/v2/trade`` pages through a month's
items (the paging itself is the server's). The listing does not build a month's
items: its record count comes from ``_kz_record_count``. With a disk cache (bodies.py)
a month's items are written once, one JSON item a line with a line index, so a page
is a slice of the file and the listing reads the count beside it.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from corridor.config import month_add
from corridor.simulator.bodies import CachedBody
from corridor.simulator.common import (
    RawNumber,
    _dec,
    _extra_code,
    _insert_after,
    _iso,
    _m49_text,
    _name_ru,
    _supp,
    dumps,
)
from corridor.simulator.trade import NationalTrade


class KzCustoms(NationalTrade):
    """The kz_customs feed, and the ``kz_revision_change`` fault that paging drives."""

    def kz_periods_list(self) -> list[str]:
        return [m for m in self.months if m not in self._unpublished("kz_customs")]

    def kz_periods(self) -> dict[str, Any]:
        periods = []
        for period_month in self.kz_periods_list():
            info = self.kz_period_info(period_month)
            periods.append({k: info[k] for k in ("period", "revision", "status", "records")})
        return {"periods": periods}

    def kz_items(self, period_month: str, steps: int | None = None) -> list[dict[str, Any]]:
        """All items of a month in feed order (Decimal values; malformed rows included).

        ``steps``: re-publications to apply (default: the current state of the faults).
        """
        if steps is None:
            steps = self.revision_steps("kz_customs", period_month)
        extra = self._extra_columns("kz_customs")

        def build():
            items = []
            for line in self._published_lines("KAZ", period_month, steps):
                supp = _supp(line)
                items.append({
                    "flow": "export" if line.flow == "X" else "import",
                    "tn_ved": line.tnved,
                    "partner_m49": _m49_text(line.partner_iso2),
                    "partner_name_ru": _name_ru(line.partner_iso2),
                    "value_thousand_usd": _dec(line.value_cents // 100, 3),
                    "net_weight_t": _dec(max(1, round(line.netto_g / 1000)), 3),
                    "supp_qty": _dec(line.qty_milli, 3) if supp else None,
                    "supp_unit": supp[1] if supp else None,
                    "transport_mode": line.mode, "customs_regime": line.regime,
                })
            broken = self._break_rows("kz_customs", period_month, items)
            self._cache[("malformed", "kz_customs", period_month, steps)] = broken
            self._cache[("duplicates", "kz_customs", period_month, steps)] = \
                self._append_duplicates("kz_customs", period_month, items,
                                        {ref for ref, _ in broken})
            if extra:  # unknown fields in the middle of every item
                items = [_insert_after(item, "partner_name_ru",
                                       {"declarations": 1 + int(_extra_code(item, 2)),
                                        "customs_post": _extra_code(item, 8)})
                         for item in items]
            return items
        return self._cached(("kz_items", period_month, steps), build)

    def _kz_record_count(self, period_month: str, steps: int) -> int:
        """``len(kz_items(period_month, steps))``, without building the items.

        The published lines, plus the copies duplicate_rows appends (of rows
        malformed_rows left alone); malformed rows are broken in place.
        """
        items = self._cache.get(("kz_items", period_month, steps))
        if items is not None:
            return len(items)
        if self.bodies is not None:
            cached = self.bodies.lookup("kz_customs", self._kz_body_name(period_month, steps))
            if cached is not None:
                return cached.lines
        lines = self.published_count("KAZ", period_month, steps)
        clean = lines - min(self._malformed_count("kz_customs"), lines)
        return lines + min(self._duplicate_count("kz_customs"), clean)

    def kz_period_info(self, period_month: str, steps: int | None = None) -> dict[str, Any]:
        if steps is None:
            steps = self.revision_steps("kz_customs", period_month)
        revision, status = self.status(period_month)
        offset = 1 if revision == 1 else 2
        generated = datetime.fromisoformat(f"{month_add(period_month, offset)}-02T12:00:00+05:00")
        generated = min(generated, self.now - timedelta(days=2))
        if steps:
            generated = min(generated + timedelta(hours=12 * steps), self.now - timedelta(hours=1))
        return {"period": period_month, "revision": revision + steps, "status": status,
                "records": self._kz_record_count(period_month, steps),
                "generated_at": _iso(generated)}

    def kz_snapshot(self, period_month: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        """(period info, items) of one consistent state (a re-publication may happen meanwhile)."""
        with self._lock:
            steps = self.revision_steps("kz_customs", period_month)
            items = self.kz_items(period_month, steps)
            return self.kz_period_info(period_month, steps), items

    # ----- from the disk cache

    def _kz_body_name(self, period_month: str, steps: int) -> str:
        revision, status = self.status(period_month)
        return f"{period_month}.r{revision + steps}-{status}.s{steps}"

    def kz_body(self, period_month: str, steps: int) -> CachedBody:
        """A month's items as a file of the disk cache: ``dumps(item)`` a line (CRLF), with
        a line index, so ``kz_page`` reads one page of it (``forget_month`` then drops the
        items and the lines they came from)."""
        assert self.bodies is not None, "kz_body needs a world with a cache_dir"

        def generate():
            items = self.kz_items(period_month, steps)
            for start in range(0, len(items), 1000):
                yield "".join(dumps(item) + "\r\n"
                              for item in items[start:start + 1000]).encode("utf-8")
        return self.bodies.get("kz_customs", self._kz_body_name(period_month, steps),
                               generate, index=True)

    def kz_snapshot_body(self, period_month: str) -> tuple[dict[str, Any], CachedBody]:
        """``kz_snapshot`` from the disk cache: (period info, the items' file)."""
        with self._lock:
            steps = self.revision_steps("kz_customs", period_month)
            body = self.bodies.lookup("kz_customs", self._kz_body_name(period_month, steps))
            if body is None:
                body = self.kz_body(period_month, steps)
                self.forget_month(period_month)
            return self.kz_period_info(period_month, steps), body

    @staticmethod
    def kz_page(body: CachedBody, offset: int, size: int) -> RawNumber:
        """Items ``offset`` .. ``offset + size - 1`` of a cached month as the JSON list the
        server writes (``dumps`` of the items)."""
        text = body.line_span(offset, offset + size).decode("utf-8")
        return RawNumber("[" + text[:-2].replace("\r\n", ",") + "]")

    # ----- the kz_revision_change fault

    def kz_page_served(self, period_month: str) -> None:
        """The server served a 200 page of ``period_month`` (drives ``kz_revision_change``)."""
        change = self._fault("kz_revision_change")
        if period_month not in set(change.get("periods", ())):
            return
        with self._lock:
            self._kz_pages[period_month] += 1
            if (period_month not in self._kz_live
                    and self._kz_pages[period_month] >= int(change.get("after_pages", 1))):
                self._kz_live[period_month] = 1

    def kz_republished_live(self) -> list[str]:
        """Periods a ``kz_revision_change`` fault has re-published so far."""
        with self._lock:
            return sorted(self._kz_live)
