"""Hostile feeds: paging that would not end (a cursor or token repeated, more pages than
the records allow) is an error naming feed, unit and page, and loads nothing."""

from __future__ import annotations

import pytest

from corridor import ingest
from corridor.feeds import kz_customs
from corridor.feeds.common import FeedError
from tests.hostile.test_rows import KzFeed, PortsFeed, kz_item, kz_page, port_call, raw_state

# ====================================================================== 7. paging ends

def test_kz_repeated_cursor_is_an_error(fake_server, kw):
    KzFeed(fake_server, [kz_page([kz_item()], "c1"), kz_page([kz_item("2709009002")], "c1")],
           records=3000)
    before = raw_state(kw["dsn"])
    with pytest.raises(FeedError, match=r"^kz_customs unit 2024-01 page 2: next_cursor 'c1' "
                                        r"repeats"):
        ingest.ingest_kz_customs("2024-01", **kw)
    assert raw_state(kw["dsn"]) == before
    assert len(fake_server.hits("/kz-customs/api/v2/trade")) == 2


def test_kz_more_pages_than_records_allow_is_an_error(fake_server, kw):
    KzFeed(fake_server, [], records=1, endless=True)
    before = raw_state(kw["dsn"])
    limit = kz_customs.max_pages(1)
    assert limit == 1 + kz_customs.PAGE_MARGIN
    with pytest.raises(FeedError, match=rf"^kz_customs unit 2024-01 page {limit + 1}: still "
                                        rf"a next_cursor after {limit} pages"):
        ingest.ingest_kz_customs("2024-01", **kw)
    assert len(fake_server.hits("/kz-customs/api/v2/trade")) == limit
    assert raw_state(kw["dsn"]) == before


def test_ports_repeated_token_is_an_error(fake_server, kw):
    PortsFeed(fake_server, {"KZAAU": [{"data": [port_call()], "next_page_token": "t1"},
                                      {"data": [port_call("KZAAU-2")],
                                       "next_page_token": "t1"}]})
    before = raw_state(kw["dsn"])
    with pytest.raises(FeedError, match=r"^ports unit KZAAU page 2: next_page_token 't1' "
                                        r"repeats"):
        ingest.ingest_ports(**kw)
    assert raw_state(kw["dsn"]) == before


def test_ports_pages_are_capped(fake_server, kw, monkeypatch):
    monkeypatch.setenv("CORRIDOR_PORTS_MAX_PAGES", "3")
    PortsFeed(fake_server, endless=True)
    before = raw_state(kw["dsn"])
    with pytest.raises(FeedError, match=r"^ports unit KZAAU page 3: still a next_page_token "
                                        r"after 3 pages"):
        ingest.ingest_ports(**kw)
    assert len(fake_server.hits("/ports/v1/vessel-calls")) == 3
    assert raw_state(kw["dsn"]) == before

