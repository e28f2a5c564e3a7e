"""Hostile HTTP answers: gzip bombs and bodies over the cap, redirects to other origins,
tricklers, silent servers and bad ``Retry-After`` values (corridor.feeds.http)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
import zlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import requests

from corridor.config import Endpoint
from corridor.feeds import comtrade, kz_customs, ports, rail, ru_customs
from corridor.feeds.http import (
    BodyTooLarge,
    DeadlineExceeded,
    FeedClient,
    FeedRedirect,
    IncompleteBody,
    json_body,
    make_session,
)

PLUGINS = Path(__file__).resolve().parents[2] / "plugins"
MiB = 1 << 20
EMPTY_COMTRADE = b'{"elapsedTime": "0.01 secs", "count": 0, "error": "", "data": []}'


class HostileServer:
    """127.0.0.1 server: ``routes[path] = handler(request_handler)`` writes the whole
    answer itself; every request is recorded (path, headers)."""

    def __init__(self) -> None:
        self.routes: dict = {}
        self.requests: list[dict] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args) -> None:
                pass

            def do_GET(self) -> None:
                path = self.path.partition("?")[0]
                server.requests.append({"path": path, "headers": dict(self.headers)})
                route = server.routes.get(path)
                try:
                    if route is None:
                        send(self, 200, {"Content-Type": "application/json"}, EMPTY_COMTRADE)
                    else:
                        route(self)
                except (BrokenPipeError, ConnectionResetError):
                    self.close_connection = True

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    @property
    def port(self) -> int:
        return self.httpd.server_address[1]

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def endpoint(self) -> Endpoint:
        return Endpoint("test", "http", "127.0.0.1", self.port, None, "user", "s3cret-token")

    def hits(self, path: str) -> int:
        return sum(1 for r in self.requests if r["path"] == path)

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def send(handler, status: int, headers: dict, body: bytes) -> None:
    handler.send_response(status)
    for name, value in headers.items():
        handler.send_header(name, value)
    handler.send_header("Content-Length", str(len(body)))
    handler.end_headers()
    handler.wfile.write(body)


def gzip_bomb(inflated: int = 2 << 30, status: int = 200,
              headers: dict | None = None):
    """A handler streaming gzip of ``inflated`` zero bytes (~2 MB on the wire for 2 GiB),
    compressed on the fly, close-delimited (no Content-Length), as a ``status`` with
    ``headers`` (default: a JSON 200)."""
    if headers is None:
        headers = {"Content-Type": "application/json"}

    def route(handler) -> None:
        handler.send_response(status)
        for name, value in headers.items():
            handler.send_header(name, value)
        handler.send_header("Content-Encoding", "gzip")
        handler.send_header("Connection", "close")
        handler.end_headers()
        handler.close_connection = True
        packer = zlib.compressobj(9, zlib.DEFLATED, 31)  # 31: a gzip stream
        zeros = bytes(MiB)
        for _ in range(inflated // MiB):
            handler.wfile.write(packer.compress(zeros))
        handler.wfile.write(packer.flush())

    return route


def trickle(length: int = 1000, interval: float = 1.0, *, silent: bool = False):
    """A 200 announcing ``length`` bytes then sending one byte per ``interval`` (or,
    ``silent``, nothing at all)."""

    def route(handler) -> None:
        handler.send_response(200)
        handler.send_header("Content-Length", str(length))
        handler.end_headers()
        handler.wfile.flush()
        for _ in range(length):
            if not silent:
                handler.wfile.write(b" ")
                handler.wfile.flush()
            time.sleep(interval)

    return route


def redirect_to(location: str, status: int = 302):
    def route(handler) -> None:
        send(handler, status, {"Location": location}, b"")

    return route


@pytest.fixture()
def hostile(monkeypatch):
    monkeypatch.setenv("CORRIDOR_HTTP_BACKOFF", "0")
    monkeypatch.setenv("CORRIDOR_HTTP_RETRIES", "3")
    servers = [HostileServer(), HostileServer()]
    yield servers
    for server in servers:
        server.close()


# ------------------------------------------------------------------- caps, gzip bombs

_MEASURE = r"""
import json, sys
from corridor.config import Endpoint
from corridor.feeds.http import BodyTooLarge, FeedClient

def status(key):
    with open("/proc/self/status") as handle:
        for line in handle:
            if line.startswith(key):
                return int(line.split()[1]) * 1024

feed, port, into, path = sys.argv[1], int(sys.argv[2]), sys.argv[3] or None, sys.argv[4]
client = FeedClient(feed, Endpoint("t", "http", "127.0.0.1", port, None, "u", "p"))
rss = status("VmRSS:")
try:
    client.get(path, unit="2024-01", into_dir=into)
    outcome = "loaded"
except BodyTooLarge as exc:
    outcome = str(exc)
print(json.dumps({"rss_before": rss, "hwm_after": status("VmHWM:"), "outcome": outcome}))
"""


def _measure(server: HostileServer, feed: str, into: Path | None, env: dict,
             path: str = "/bomb") -> dict:
    run = subprocess.run(
        [sys.executable, "-c", _MEASURE, feed, str(server.port), str(into or ""), path],
        env={**os.environ, "PYTHONPATH": f"{PLUGINS}{os.pathsep}{os.environ.get('PYTHONPATH', '')}",
             "CORRIDOR_HTTP_BACKOFF": "0", **env},
        capture_output=True, text=True, timeout=300, check=True)
    return json.loads(run.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("feed, into, env, cap", [
    # a JSON page, at the feed's default cap (256 MiB): spooled, then refused
    ("kz_customs", False, {}, 256 * MiB),
    # the RU month goes to a file in the landing folder; its cap set below the bomb
    ("ru_customs", True, {"CORRIDOR_MAX_BODY_BYTES": json.dumps({"ru_customs": 256 * MiB})},
     256 * MiB),
])
def test_gzip_bomb_stops_at_the_cap_without_inflating_in_memory(hostile, tmp_path, feed, into,
                                                                 env, cap):
    server = hostile[0]
    server.routes["/bomb"] = gzip_bomb(2 << 30)
    spool = tmp_path / "unit" if into else None
    figures = _measure(server, feed, spool, env)
    growth = figures["hwm_after"] - figures["rss_before"]
    print(f"{feed}: peak RSS growth {growth / MiB:.1f} MiB on a 2 GiB gzip bomb")
    assert feed in figures["outcome"] and "2024-01" in figures["outcome"]
    assert str(cap) in figures["outcome"], figures["outcome"]
    assert growth < 300 * MiB, f"peak RSS grew {growth / MiB:.0f} MiB"
    assert server.hits("/bomb") == 1  # over the cap: not retried
    if spool is not None:
        assert not list(spool.iterdir())  # the partial temporary file is gone


def test_a_bomb_on_a_retried_503_is_dropped_undecoded(hostile):
    """urllib3 drains a retried status's body before asking again: raw bytes, never
    decoded, so a bomb there costs its wire size only."""
    server = hostile[0]
    answers = ["bomb", "ok"]
    # 512 MiB inflated: drained whole, so kept small
    bomb = gzip_bomb(512 * MiB, status=503, headers={"Retry-After": "0"})

    def route(handler) -> None:
        if answers.pop(0) == "bomb":
            bomb(handler)
        else:
            send(handler, 200, {}, b'{"ok": 1}')

    server.routes["/503"] = route
    figures = _measure(server, "kz_customs", None, {}, path="/503")
    growth = figures["hwm_after"] - figures["rss_before"]
    print(f"503 bomb: peak RSS growth {growth / MiB:.1f} MiB")
    assert figures["outcome"] == "loaded" and server.hits("/503") == 2
    assert growth < 100 * MiB


def test_body_over_the_cap_fails_at_once_naming_feed_unit_and_cap(hostile):
    server = hostile[0]
    server.routes["/page"] = lambda h: send(h, 200, {}, b'{"data": "' + b"x" * 5000 + b'"}')
    client = FeedClient("ports", server.endpoint(), max_body_bytes=4096)
    with pytest.raises(BodyTooLarge) as info:
        client.get("/page", unit="KZAAU page 3", validate=json_body)
    assert "ports" in str(info.value) and "KZAAU page 3" in str(info.value)
    assert "4096" in str(info.value)
    assert server.hits("/page") == 1


def test_cap_from_settings(hostile, monkeypatch):
    monkeypatch.setenv("CORRIDOR_MAX_BODY_BYTES", '{"rail": 100}')
    server = hostile[0]
    server.routes["/rail/v1/crossings/2024-01-15.xml"] = lambda h: send(h, 200, {}, b"<a/>" * 50)
    with pytest.raises(BodyTooLarge, match="rail 2024-01-15.*100 decoded bytes"):
        rail.fetch_day(FeedClient("rail", server.endpoint()), "2024-01-15")


def test_a_cut_gzip_body_is_fetched_again(hostile):
    server = hostile[0]
    whole = zlib.compress(b'{"ok": 1}', wbits=31)
    answers = [whole[:8], whole]

    def route(handler):
        body = answers.pop(0) if len(answers) > 1 else answers[0]
        send(handler, 200, {"Content-Encoding": "gzip"}, body)

    server.routes["/x"] = route
    response = FeedClient("kz_customs", server.endpoint()).get("/x", validate=json_body)
    assert response.parsed == {"ok": 1} and server.hits("/x") == 2


# ------------------------------------------------------------------------- redirects

@pytest.mark.parametrize("feed, header", [
    ("kz_customs", "Authorization"),
    ("comtrade", "Ocp-Apim-Subscription-Key"),
    ("ports", "X-API-Key"),
    ("rail", "Authorization"),
    ("ru_customs", None),
])
def test_a_redirect_to_another_origin_is_an_error_and_sends_it_nothing(hostile, feed, header):
    origin, other = hostile
    location = f"{other.base_url}/elsewhere"
    origin.routes["/x"] = redirect_to(location)
    client = FeedClient(feed, origin.endpoint())
    with pytest.raises(FeedRedirect) as info:
        client.get("/x", unit="2024-01")
    message = str(info.value)
    assert feed in message and "2024-01" in message and location in message
    assert info.value.status == 302 and info.value.location == location
    assert other.requests == []  # no request at all, so no credentials either
    assert origin.hits("/x") == 1  # not retried
    if header:
        assert header in origin.requests[0]["headers"]  # the origin did get them
    assert "s3cret" not in message


@pytest.mark.parametrize("feed, fetch", [
    ("ru_customs", lambda c: ru_customs.fetch_period(c, "2024-01")),
    ("kz_customs", lambda c: kz_customs.fetch_period(c, "2024-01")),
    ("ports", lambda c: ports.fetch_pages(c, "KZAAU", "2024-01-01T00:00:00+00:00")),
    ("rail", lambda c: rail.fetch_day(c, "2024-01-15")),
], ids=["ru_customs", "kz_customs", "ports", "rail"])
def test_every_feed_fetch_fails_on_a_redirect(hostile, feed, fetch):
    origin, other = hostile
    for path in ("/ru-customs/v1/releases", "/kz-customs/api/v2/trade",
                 "/ports/v1/vessel-calls", "/rail/v1/crossings/2024-01-15.xml"):
        origin.routes[path] = redirect_to(f"{other.base_url}{path}", 301)
    with pytest.raises(FeedRedirect, match=feed):
        fetch(FeedClient(feed, origin.endpoint()))
    assert other.requests == []


def _comtrade_calls(server: HostileServer, counted: list) -> comtrade.Calls:
    """As ingest._comtrade_client: attempts=1, a session that retries nothing."""
    endpoint = server.endpoint()
    client = FeedClient(comtrade.FEED, endpoint, attempts=1,
                        session=make_session(comtrade.FEED, endpoint, retries=0))
    return comtrade.Calls(client, lambda: counted.append(1), attempts=3, backoff=0)


def test_comtrade_redirect_to_an_empty_answer_is_an_error_counted_once(hostile):
    origin, other = hostile  # ``other`` answers {"count": 0, "data": []} to anything
    origin.routes[comtrade.AVAILABILITY_PATH] = redirect_to(
        f"{other.base_url}{comtrade.AVAILABILITY_PATH}?reporterCode=156")
    origin.routes[comtrade.DATA_PATH] = redirect_to(f"{other.base_url}{comtrade.DATA_PATH}", 307)
    counted: list = []
    calls = _comtrade_calls(origin, counted)
    with pytest.raises(FeedRedirect, match="comtrade availability"):
        comtrade.availability(calls, [156], ["2024-01"])
    with pytest.raises(FeedRedirect, match="comtrade 2024-01 data-r156"):
        comtrade.fetch_batch(calls, "2024-01", [156])
    assert len(counted) == 2 and calls.made == 2  # one call each, never counted twice
    assert origin.hits(comtrade.AVAILABILITY_PATH) == 1 and origin.hits(comtrade.DATA_PATH) == 1
    assert other.requests == []


def test_comtrade_body_over_the_cap_is_one_call(hostile, monkeypatch):
    monkeypatch.setenv("CORRIDOR_MAX_BODY_BYTES", json.dumps({"comtrade": 4 * MiB}))
    server = hostile[0]
    server.routes[comtrade.DATA_PATH] = gzip_bomb(64 * MiB)
    counted: list = []
    with pytest.raises(BodyTooLarge, match=f"comtrade 2024-01 .*{4 * MiB}"):
        comtrade.fetch_batch(_comtrade_calls(server, counted), "2024-01", [156])
    assert len(counted) == 1 and server.hits(comtrade.DATA_PATH) == 1


# ------------------------------------------------------------------ deadlines, waits

def test_a_trickling_server_fails_each_attempt_at_the_deadline(hostile, monkeypatch):
    monkeypatch.setenv("CORRIDOR_HTTP_DEADLINE_S", '{"ports": 1.5}')
    server = hostile[0]
    server.routes["/slow"] = trickle(1000, 1.0)
    client = FeedClient("ports", server.endpoint(), attempts=2)
    started = time.monotonic()
    with pytest.raises(DeadlineExceeded, match="1.5 s"):
        client.get("/slow", unit="KZAAU page 1")
    elapsed = time.monotonic() - started
    assert server.hits("/slow") == 2  # transient: retried, then an error
    assert 3.0 <= elapsed < 7.0, elapsed


def test_a_silent_server_fails_at_the_deadline_not_the_read_timeout(hostile):
    server = hostile[0]
    server.routes["/silent"] = trickle(10, 1.0, silent=True)
    client = FeedClient("kz_customs", server.endpoint(), attempts=1, timeout=(5.0, 60.0),
                        deadline_s=1.0)
    started = time.monotonic()
    with pytest.raises(requests.exceptions.Timeout):
        client.get("/silent")
    assert time.monotonic() - started < 3.0


def test_trickled_headers_fail_at_the_deadline(hostile):
    server = hostile[0]

    def route(handler) -> None:
        handler.wfile.write(b"HTTP/1.1 200 OK\r\n")
        handler.wfile.flush()
        for _ in range(60):
            handler.wfile.write(b"X")  # one header byte every 0.2 s: never a timeout
            handler.wfile.flush()
            time.sleep(0.2)

    server.routes["/headers"] = route
    client = FeedClient("rail", server.endpoint(), attempts=2, deadline_s=1.0)
    started = time.monotonic()
    with pytest.raises(DeadlineExceeded):
        client.get("/headers", unit="2024-01-15")
    assert server.hits("/headers") == 2
    assert time.monotonic() - started < 4.0


def test_503_retries_inside_urllib3_each_get_their_own_deadline(hostile):
    server = hostile[0]
    answers = [(503, {"Retry-After": "1"}, b"busy"), (503, {"Retry-After": "1"}, b"busy"),
               (200, {}, b'{"ok": 1}')]
    server.routes["/x"] = lambda h: send(h, *(answers.pop(0) if len(answers) > 1 else answers[0]))
    client = FeedClient("ports", server.endpoint(), deadline_s=1.5)
    assert client.get("/x", validate=json_body).parsed == {"ok": 1}
    assert server.hits("/x") == 3


def test_a_close_delimited_trickle_cut_at_the_deadline_is_not_a_whole_body(hostile):
    server = hostile[0]

    def route(handler) -> None:  # no Content-Length: the body ends when the socket does
        handler.send_response(200)
        handler.send_header("Connection", "close")
        handler.end_headers()
        handler.close_connection = True
        for _ in range(40):
            handler.wfile.write(b"<a/>")
            handler.wfile.flush()
            time.sleep(0.1)

    server.routes["/close"] = route
    client = FeedClient("rail", server.endpoint(), attempts=1, timeout=(5.0, 0.5),
                        deadline_s=1.0)
    with pytest.raises(DeadlineExceeded):
        client.get("/close")


def test_comtrade_retries_a_deadline_counting_each_call(hostile):
    server = hostile[0]
    server.routes[comtrade.AVAILABILITY_PATH] = trickle(1000, 0.5)
    counted: list = []
    calls = _comtrade_calls(server, counted)
    calls.client.deadline_s = 0.8
    with pytest.raises(DeadlineExceeded):
        comtrade.availability(calls, [156], ["2024-01"])
    assert len(counted) == 3 == server.hits(comtrade.AVAILABILITY_PATH)


@pytest.mark.parametrize("retry_after", ["-5", "soon", "-1.5", ""])
def test_a_negative_or_unparsable_retry_after_is_plain_back_off(hostile, retry_after):
    server = hostile[0]
    answers = [(503, {"Retry-After": retry_after}, b"busy"),
               (429, {"Retry-After": retry_after}, b"slow"),
               (200, {}, b'{"ok": 1}')]
    server.routes["/x"] = lambda h: send(h, *(answers.pop(0) if len(answers) > 1 else answers[0]))
    started = time.monotonic()
    response = FeedClient("ports", server.endpoint()).get("/x", validate=json_body)
    assert response.parsed == {"ok": 1} and server.hits("/x") == 3
    assert time.monotonic() - started < 5


def test_comtrade_negative_retry_after_is_plain_back_off(hostile):
    server = hostile[0]
    answers = [(503, {"Retry-After": "-30"}, b"busy"), (200, {}, EMPTY_COMTRADE)]
    server.routes[comtrade.AVAILABILITY_PATH] = lambda h: send(
        h, *(answers.pop(0) if len(answers) > 1 else answers[0]))
    counted: list = []
    listing, _, _ = comtrade.availability(_comtrade_calls(server, counted), [156], ["2024-01"])
    assert listing == {} and len(counted) == 2


def test_retry_after_stays_capped(hostile, monkeypatch):
    monkeypatch.setenv("CORRIDOR_MAX_RETRY_AFTER", "0.2")
    server = hostile[0]
    answers = [(503, {"Retry-After": "3600"}, b"busy"), (200, {}, b"{}")]
    server.routes["/x"] = lambda h: send(h, *(answers.pop(0) if len(answers) > 1 else answers[0]))
    started = time.monotonic()
    FeedClient("ports", server.endpoint()).get("/x")
    assert time.monotonic() - started < 3


# ------------------------------------------------------------------- RU to the file

def test_ru_month_streams_to_a_temporary_file_in_the_spool_dir(hostile, tmp_path):
    import hashlib

    server = hostile[0]
    body = "napr;period\r\n".encode("windows-1251") * 1000
    stale = b"old revision"
    sha = hashlib.sha256(body).hexdigest()
    releases = json.dumps({"releases": [{"period": "2024-01", "revision": 2,
                                         "status": "final", "sha256": sha, "rows": 999,
                                         "path": "/ru-customs/v1/data/2024-01.csv"}]}).encode()
    server.routes["/ru-customs/v1/releases"] = lambda h: send(h, 200, {}, releases)
    answers = [stale, body]
    server.routes["/ru-customs/v1/data/2024-01.csv"] = lambda h: send(
        h, 200, {}, answers.pop(0) if len(answers) > 1 else answers[0])
    spool = tmp_path / "landing" / "ru_customs" / "2024-01"
    fetched = ru_customs.fetch_period(FeedClient("ru_customs", server.endpoint()), "2024-01",
                                      spool_dir=spool)
    assert fetched.path.parent == spool and fetched.path.name.startswith(".landing-")
    assert fetched.size == len(body) and fetched.sha256 == sha
    assert fetched.path.read_bytes() == body
    assert list(spool.iterdir()) == [fetched.path]  # the stale download was removed
    fetched.discard()
    assert not list(spool.iterdir())


def test_an_incomplete_page_is_still_retried(hostile):
    server = hostile[0]
    answers = [b'{"broken": ', b'{"ok": 2}']
    server.routes["/x"] = lambda h: send(h, 200, {}, answers.pop(0) if len(answers) > 1
                                         else answers[0])
    with pytest.raises(IncompleteBody):
        FeedClient("ports", server.endpoint(), attempts=1).get("/x", validate=json_body)
    assert FeedClient("ports", server.endpoint()).get("/x", validate=json_body).parsed == \
        {"ok": 2}
