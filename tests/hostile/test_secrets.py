"""No repr, log line or environment variable carries a password or key."""

from __future__ import annotations

import base64
import json
import logging
import os
import shutil
from pathlib import Path

import pytest

from corridor import ingest
from corridor.config import PROJECT_DIR, Endpoint, Settings, WarehouseDsn
from corridor.feeds.http import FeedClient, make_session

SECRET = "Hostile-S3cret-pw-0815"


def test_endpoint_and_dsn_reprs_mask_the_password():
    endpoint = Endpoint("corridor_rail", "http", "feeds.example", 443, "rail", "user", SECRET)
    dsn = WarehouseDsn("db.example", 5432, "corridor", SECRET, "corridor")
    for thing in (endpoint, dsn, [endpoint], {"dsn": dsn}):
        assert SECRET not in repr(thing) and SECRET not in str(thing)
        # %-formatting on purpose: it calls str() and repr() its own way
        assert SECRET not in f"{thing}" and SECRET not in "%s %r" % (thing, thing)  # noqa: UP031
    assert "password='***'" in repr(dsn) and "user='corridor'" in repr(dsn)
    # still what the clients need
    assert dsn.password == SECRET and SECRET in dsn.conninfo and endpoint.password == SECRET
    assert repr(Endpoint("c", "http", "h", None, None, None, None)).endswith("password=None)")


@pytest.mark.parametrize("feed", ["kz_customs", "comtrade", "ports", "rail"])
def test_feed_client_and_session_reprs_carry_no_key(feed):
    endpoint = Endpoint("c", "http", "127.0.0.1", 1, None, "user", SECRET)
    client = FeedClient(feed, endpoint)
    for thing in (client, client.session, make_session(feed, endpoint), vars(client)):
        assert SECRET not in repr(thing)


def _secret_forms() -> list[str]:
    basic = base64.b64encode(f"user:{SECRET}".encode()).decode()
    return [SECRET, basic]


def test_an_ingest_logs_no_key(fake_server, fresh_database, tmp_path, caplog):
    """Every log line of a rail (basic auth) and a KZ (bearer) ingest, at DEBUG: urllib3's
    request lines included, and a failing request's retries and error."""
    day = "2024-02-01"
    body = (b'<?xml version="1.0" encoding="UTF-8"?><crossingReport '
            b'xmlns="urn:corridor:rail:crossing:1" date="2024-02-01" revision="1">'
            b'</crossingReport>')
    fake_server.routes[f"/rail/v1/crossings/{day}.xml"] = [(200, {}, body)]
    fake_server.routes["/rail/v1/crossings/2024-02-02.xml"] = [(503, {}, b"busy")]
    fake_server.routes["/kz-customs/api/v2/periods"] = [(200, {}, json.dumps({"periods": [
        {"period": "2024-01", "revision": 1, "status": "preliminary", "records": 0}]}
    ).encode())]
    fake_server.routes["/kz-customs/api/v2/trade"] = [(200, {}, json.dumps({
        "period": "2024-01", "revision": 1, "status": "preliminary", "items": [],
        "next_cursor": None}).encode())]
    settings = Settings(landing_dir=tmp_path / "landing")
    endpoint = fake_server.endpoint(login="user", password=SECRET)
    kwargs = {"dsn": fresh_database, "settings": settings, "endpoint": endpoint}
    with caplog.at_level(logging.DEBUG):
        with pytest.raises(Exception) as failure:  # 2024-02-02 keeps answering 503
            ingest.ingest_rail("2024-02", **kwargs)
        ingest.ingest_kz_customs("2024-01", **kwargs)
    # the server did get the credentials: the test would notice them if logged
    sent = [r["headers"].get("Authorization", "") for r in fake_server.requests]
    assert any(SECRET in h for h in sent) and any("Basic" in h for h in sent)
    logged = caplog.text + "\n".join(repr(r.args) for r in caplog.records)
    logged += str(failure.value) + repr(failure.value)
    assert caplog.records
    for form in _secret_forms():
        assert form not in logged
    landed = "".join(p.read_text() for p in settings.landing_root.rglob("*.jsonl"))
    assert SECRET not in landed


@pytest.fixture()
def gate_warehouse(tmp_path: Path, fresh_database: WarehouseDsn):
    """A good batch and a synced context; the DSN carries a password (the embedded
    server trusts its socket and ignores it; a configured one has its own)."""
    from corridor.quality.context import sync_context
    from tests.quality.good_batch import load_good_batch

    dsn = fresh_database
    if not dsn.password:
        dsn = WarehouseDsn(dsn.host, dsn.port, dsn.user, SECRET, dsn.dbname)
    load_good_batch(dsn)
    context_dir = tmp_path / "expectations"
    shutil.copytree(PROJECT_DIR / "expectations", context_dir,
                    ignore=shutil.ignore_patterns("uncommitted"))
    sync_context(context_dir, dsn.sqlalchemy_url)
    return Settings(gx_context_dir=context_dir, home_dir=tmp_path / "home"), dsn


def _environ_leaks(password: str) -> list[str]:
    return [name for name, value in os.environ.items() if password in value]


def test_the_gx_warehouse_url_does_not_stay_in_the_environment(gate_warehouse):
    from corridor.quality.context import URL_VARIABLE
    from corridor.quality.gate import run_gate

    settings, dsn = gate_warehouse
    assert not _environ_leaks(dsn.password)  # sync_context left none either
    summary = run_gate(settings=settings, dsn=dsn)
    assert summary["success"] is True  # GX did reach the warehouse with the URL
    assert not _environ_leaks(dsn.password)
    assert URL_VARIABLE not in os.environ or dsn.password not in os.environ[URL_VARIABLE]
    results = settings.gx_context_dir / "gx"
    assert not [p for p in results.rglob("*") if p.is_file() and p.suffix in (".json", ".yml")
                and dsn.password in p.read_text(errors="replace")]
