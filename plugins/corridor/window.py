"""The coverage window: the months to publish, and 12 more before them to ingest.

With ``CORRIDOR_PERIOD_FROM``/``TO`` set it is fixed. With both unset it rolls with the
publishers (spec/feeds.md): ``TO`` is the newest month that both customs feeds have
released, ``FROM`` is ``CORRIDOR_WINDOW_MONTHS`` − 1 months before it. Every poll
resolves it from the two indexes and records it in the warehouse
(``ingest.coverage_window``), so the transform, the gate, the release and
``corridor status`` that follow use the window the ingest used, and a month that a
feed has not released yet (late) never enters it: the months before it keep publishing.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from corridor.config import FEED_CONN_IDS, Settings, WarehouseDsn, get_endpoint, month_add

log = logging.getLogger(__name__)


class WindowError(RuntimeError):
    """The rolling window cannot be resolved (a customs feed has released nothing)."""


def rolling_window(ru_months: Iterable[str], kz_months: Iterable[str], length: int
                   ) -> tuple[str, str]:
    """(FROM, TO) of the window of ``length`` months ending at the newest month that
    both customs feeds have released."""
    both = set(ru_months) & set(kz_months)
    if not both:
        raise WindowError("no month has been released by both ru_customs and kz_customs: "
                          "set CORRIDOR_PERIOD_FROM/TO or wait for the publishers")
    last = max(both)
    return month_add(last, -(length - 1)), last


def _from_publishers(settings: Settings) -> tuple[str, str]:
    from corridor.feeds import kz_customs, ru_customs
    from corridor.feeds.http import FeedClient

    ru = FeedClient(ru_customs.FEED, get_endpoint(FEED_CONN_IDS[ru_customs.FEED]))
    kz = FeedClient(kz_customs.FEED, get_endpoint(FEED_CONN_IDS[kz_customs.FEED]))
    return rolling_window((e.get("period") for e in ru_customs.list_releases(ru)),
                          (p.get("period") for p in kz_customs.list_periods(kz)),
                          settings.window_months)


def resolve(settings: Settings | None = None, *, dsn: WarehouseDsn | None = None,
            role: str | None = None, refresh: bool = False) -> Settings:
    """``settings`` with the window filled in (read at ``dsn``, else as ``role``).

    Fixed: as given. Rolling: from the publishers' indexes when ``refresh`` (a poll) or
    when none was recorded yet, then recorded by a role that may write it (the loader;
    the others use it unrecorded); otherwise the one the last poll recorded.
    """
    from corridor.load import raw
    from corridor.warehouse import connect

    settings = settings or Settings()
    if not settings.rolling:
        return settings
    with connect(dsn, role=role, autocommit=True) as conn:
        raw.ensure_raw_schema(conn)
        recorded = conn.execute("select period_from, period_to from ingest.coverage_window"
                                ).fetchone()
        if refresh or recorded is None:
            window = _from_publishers(settings)
            if not conn.execute("select has_table_privilege('ingest.coverage_window', "
                                "'insert')").fetchone()[0]:
                return settings.model_copy(update={"period_from": window[0],
                                                   "period_to": window[1]})
            conn.execute(
                "insert into ingest.coverage_window (period_from, period_to) values (%s, %s) "
                "on conflict (id) do update set period_from = excluded.period_from, "
                "period_to = excluded.period_to, resolved_at = now()", window)
            if recorded is None or tuple(recorded) != window:
                log.info("rolling window: publish %s..%s (the newest month both customs "
                         "feeds have released)", *window)
        else:
            window = tuple(recorded)
    return settings.model_copy(update={"period_from": window[0], "period_to": window[1]})
