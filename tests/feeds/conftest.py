"""A tiny scripted HTTP server on 127.0.0.1 for client tests (no simulator needed)."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from corridor.config import Endpoint

# A script answers one request: (status, headers, body[, bytes actually sent]).
Reply = tuple


class FakeFeedServer:
    def __init__(self) -> None:
        self.routes: dict[str, list[Reply] | Callable] = {}
        self.requests: list[dict] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args) -> None:  # keep test output quiet
                pass

            def do_GET(self) -> None:
                path, _, query = self.path.partition("?")
                server.requests.append({"path": path, "query": query,
                                        "headers": dict(self.headers)})
                route = server.routes.get(path)
                if route is None:
                    reply = (404, {}, b'{"error": "not found"}')
                elif callable(route):
                    reply = route(path, query, dict(self.headers))
                else:
                    reply = route.pop(0) if len(route) > 1 else route[0]
                status, headers, body, *cut = reply
                sent = body[:cut[0]] if cut else body
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                if cut:
                    self.send_header("Connection", "close")
                    self.close_connection = True
                self.end_headers()
                self.wfile.write(sent)
                self.wfile.flush()

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def endpoint(self, login: str | None = "user", password: str | None = "s3cret-token"
                 ) -> Endpoint:
        port = self.httpd.server_address[1]
        return Endpoint("test", "http", "127.0.0.1", port, None, login, password)

    def hits(self, path: str) -> list[dict]:
        return [r for r in self.requests if r["path"] == path]

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@contextmanager
def scripted_server(monkeypatch: pytest.MonkeyPatch, *, retries: int
                    ) -> Iterator[FakeFeedServer]:
    """A ``FakeFeedServer`` for one test, the clients retrying ``retries`` times with no
    back-off; closed afterwards."""
    monkeypatch.setenv("CORRIDOR_HTTP_BACKOFF", "0")
    monkeypatch.setenv("CORRIDOR_HTTP_RETRIES", str(retries))
    server = FakeFeedServer()
    try:
        yield server
    finally:
        server.close()


@pytest.fixture()
def fake_server(monkeypatch):
    with scripted_server(monkeypatch, retries=4) as server:
        yield server
