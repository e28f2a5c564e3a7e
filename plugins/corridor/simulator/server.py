"""One loopback HTTP server speaking the five feed contracts (spec/feeds.md).

The handler only routes, authenticates and serialises; all data comes from
``World``. Transient faults are drawn from the request counter, so a run with
the same requests in the same order meets the same faults.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import json
import os
import re
import threading
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from corridor.config import FEED_CONN_IDS, connection_env_name, http_connection_uri
from corridor.simulator.bodies import CachedBody
from corridor.simulator.common import SimConfig, dumps, sha256_hex
from corridor.simulator.faults import DeliveryFaults
from corridor.simulator.world import World

#: Credentials the simulator accepts, per feed: (login, password).
SIM_CREDENTIALS: dict[str, tuple[str | None, str | None]] = {
    "ru_customs": (None, None),
    "kz_customs": ("corridor", "kz-dev-token"),
    "comtrade": ("corridor", "comtrade-dev-key"),
    "ports": ("corridor", "ports-dev-key"),
    "rail": ("corridor", "rail-dev-password"),
}

_PERIOD = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")
_RU_DATA = re.compile(r"^/ru-customs/v1/data/(\d{4}-\d{2})\.csv$")
_RAIL_DAY = re.compile(r"^/rail/v1/crossings/(\d{4}-\d{2}-\d{2})\.xml$")
KZ_DEFAULT_PAGE_SIZE = 500
KZ_MAX_PAGE_SIZE = 1000
PORTS_DEFAULT_LIMIT = 100
PORTS_MAX_LIMIT = 500
_ROUTES = (("/ru-customs/", "ru_customs"), ("/kz-customs/", "kz_customs"),
           ("/data/v1/", "comtrade"), ("/ports/", "ports"), ("/rail/", "rail"))
#: The simulator's own control surface (no feed contract, no auth, no faults, loopback only).
CONTROL_PREFIX = "/_sim/"
#: Default ``Retry-After`` (seconds) of the comtrade_quota fault's 429.
COMTRADE_QUOTA_RETRY_AFTER = 14400
#: The short 429 of comtrade (a transient fault) and the call-budget one.
COMTRADE_RATE_LIMIT_MESSAGE = "Rate limit is exceeded. Try again in 1 seconds."
COMTRADE_QUOTA_MESSAGE = "Out of call volume quota. Quota will be replenished in {}."
_COMTRADE_DATA = "/data/v1/get/C/M/HS"
_COMTRADE_AVAILABILITY = "/data/v1/getDa/C/M/HS"


def connection_uris(base_url: str) -> dict[str, str]:
    """``AIRFLOW_CONN_*`` name -> connection URI of every feed served at ``base_url``."""
    return {connection_env_name(FEED_CONN_IDS[feed]): http_connection_uri(base_url, *credentials)
            for feed, credentials in SIM_CREDENTIALS.items()}


def write_port_file(path: str | os.PathLike[str], base_url: str) -> None:
    """Write ``base_url`` to ``path`` atomically (a temporary file renamed over it)."""
    target = Path(path)
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    tmp.write_text(base_url + "\n", encoding="utf-8")
    os.replace(tmp, target)


def _hms(seconds: int) -> str:
    return f"{seconds // 3600:02d}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


def _encode_token(payload: dict[str, Any]) -> str:
    raw = json.dumps(payload, sort_keys=True, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_token(token: str) -> dict[str, Any] | None:
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        payload = json.loads(raw)
    except (binascii.Error, ValueError):
        return None
    return payload if isinstance(payload, dict) else None


def _page(records: list, offset: int, size: int,
          token_fields: dict[str, Any]) -> tuple[list, str | None]:
    """The page of ``size`` records from ``offset`` and the token of the next (None: the last)."""
    page = records[offset:offset + size]
    return page, _next_token(offset + len(page), len(records), token_fields)


def _next_token(next_offset: int, total: int, token_fields: dict[str, Any]) -> str | None:
    """The token of the page from ``next_offset`` of ``total`` records (None: no more)."""
    return _encode_token({**token_fields, "o": next_offset}) if next_offset < total else None


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], world: World) -> None:
        super().__init__(address, _Handler)
        self.world = world
        self._lock = threading.Lock()
        self.delivery = DeliveryFaults(world.seed, world.faults)
        self._log: list[dict[str, Any]] = []
        quota = world.faults.get("comtrade_quota") or {}
        self._quota_calls: int | None = (int(quota["calls"]) if quota.get("calls") is not None
                                         else None)
        self._quota_retry_after = int(quota.get("retry_after") or COMTRADE_QUOTA_RETRY_AFTER)
        self._quota_used = 0

    def record(self, entry: dict[str, Any]) -> dict[str, Any]:
        """Append one answered request to the log, numbering it (seq from 1)."""
        with self._lock:
            stored = {"seq": len(self._log) + 1, **entry}
            self._log.append(stored)
            return stored

    def update_record(self, stored: dict[str, Any], **fields: Any) -> None:
        with self._lock:
            stored.update(fields)

    def requests_since(self, since: int = 0) -> list[dict[str, Any]]:
        with self._lock:
            return [dict(entry) for entry in self._log[max(0, since):]]

    def comtrade_call(self) -> bool:
        """Count one comtrade call against the key's budget; False when past it."""
        with self._lock:
            self._quota_used += 1
            return self._quota_calls is None or self._quota_used <= self._quota_calls

    def replenish_comtrade_quota(self, calls: int | None = None) -> dict[str, Any]:
        with self._lock:
            if calls is not None:
                self._quota_calls = calls
            self._quota_used = 0
            return {"calls": self._quota_calls, "used": 0}

class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"
    server_version = "CorridorSim/1.0"

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        return  # keep test output quiet; the simulator is not the system under test

    # ----- plumbing

    @property
    def world(self) -> World:
        return self.server.world

    _status: int | None = None
    _body_bytes: int = 0
    _declared: int = 0
    _entry: dict[str, Any] | None = None  # this request's log entry, until it is stored
    _logged: dict[str, Any] | None = None  # ... and once it is

    def send_response(self, code: int, message: str | None = None) -> None:
        self._status = code
        super().send_response(code, message)

    def send_header(self, keyword: str, value: str) -> None:
        if keyword.lower() == "content-length":
            self._declared = int(value)
        super().send_header(keyword, value)

    def end_headers(self) -> None:
        # The request is logged before a byte of the answer leaves, so a client that has
        # its answer always finds it in the log, in the order the answers came.
        if self._entry is not None and self._logged is None:
            planned = 0 if self.command == "HEAD" or self._status == 304 else self._declared
            self._logged = self.server.record({**self._entry, "status": self._status,
                                               "bytes": planned, "fault": self._fault_kind})
        super().end_headers()

    def _write(self, data: bytes) -> None:
        """Write body bytes (counted for the request log)."""
        self.wfile.write(data)
        self._body_bytes += len(data)

    def _send(self, status: int, body: bytes = b"", content_type: str = "application/json",
              headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        if self.command == "HEAD":
            return
        if self._fault_kind == "truncated_body" and status == 200 and len(body) > 1:
            # Full Content-Length announced, half the body sent, then the socket closes.
            self._write(body[:len(body) // 2])
            self.wfile.flush()
            self.close_connection = True
            return
        self._write(body)

    def _json(self, status: int, payload: Any, headers: dict[str, str] | None = None) -> None:
        self._send(status, dumps(payload).encode("utf-8"), "application/json; charset=utf-8",
                   headers)

    def _error(self, status: int, message: str) -> None:
        self._json(status, {"error": message})

    def _etagged(self, body: bytes, content_type: str) -> None:
        etag = f'"{sha256_hex(body)}"'
        if not self._not_modified(etag):
            self._send(200, body, content_type, {"ETag": etag})

    def _not_modified(self, etag: str) -> bool:
        """Answer 304 when the client holds ``etag`` (If-None-Match); True if it did."""
        candidates = [tag.strip() for tag in self.headers.get("If-None-Match", "").split(",")]
        if etag not in candidates and "*" not in candidates:
            return False
        self.send_response(304)
        self.send_header("ETag", etag)
        self.send_header("Content-Length", "0")
        self.end_headers()
        return True

    def _page_size(self, params: dict[str, str], name: str, default: int,
                   maximum: int) -> int | None:
        """The page size asked in ``name`` (1..maximum); None once the 400 is sent."""
        try:
            size = int(params.get(name) or default)
        except ValueError:
            self._error(400, f"{name} must be an integer")
            return None
        if not 1 <= size <= maximum:
            self._error(400, f"{name} must be 1..{maximum}")
            return None
        return size

    def _page_token(self, params: dict[str, str], name: str,
                    **expected: Any) -> dict[str, Any] | None:
        """The paging token in ``name`` (offset ``o`` 0 without one), which must carry the
        ``expected`` fields; None once the 400 is sent."""
        if not params.get(name):
            return {"o": 0}
        token = _decode_token(params[name])
        if (not token or any(token.get(key) != value for key, value in expected.items())
                or not isinstance(token.get("o"), int)):
            self._error(400, f"invalid {name}")
            return None
        return token

    def _authorized(self, feed: str) -> bool:
        login, password = SIM_CREDENTIALS[feed]
        if feed == "kz_customs":
            return self.headers.get("Authorization", "") == f"Bearer {password}"
        if feed == "comtrade":
            return self.headers.get("Ocp-Apim-Subscription-Key", "") == password
        if feed == "ports":
            return self.headers.get("X-API-Key", "") == password
        if feed == "rail":
            expected = base64.b64encode(f"{login}:{password}".encode()).decode()
            return self.headers.get("Authorization", "") == f"Basic {expected}"
        return True

    _fault_kind: str | None = None
    _fault_detail: str = ""

    def _delivery_fault(self, feed: str | None) -> bool:
        """Apply this request's delivery fault; True when the response is already decided."""
        self._fault_kind, self._fault_detail = None, ""
        drawn = self.server.delivery.draw(feed, self.path)
        if drawn is None:
            return False
        self._fault_kind, self._fault_detail = drawn
        if self._fault_kind == "transient":
            status = int(self._fault_detail)
            body = ({"statusCode": 429, "message": COMTRADE_RATE_LIMIT_MESSAGE}
                    if status == 429 and feed == "comtrade" else {"error": "try again"})
            self._send(status, dumps(body).encode(), headers={"Retry-After": "0"})
            return True
        if self._fault_kind == "http_errors":
            self._send(int(self._fault_detail), dumps({"error": "server error"}).encode())
            return True
        if self._fault_kind == "drop_connection":
            # The request has been read; close without a byte of response.
            self.close_connection = True
            return True
        return False  # truncated_body / duplicate_deliveries act while serving

    # ----- routing

    def do_HEAD(self) -> None:  # noqa: N802 - stdlib name
        self._serve()

    def do_GET(self) -> None:  # noqa: N802 - stdlib name
        self._serve()

    def do_POST(self) -> None:  # noqa: N802 - stdlib name
        self._serve()

    def _serve(self) -> None:
        """Answer one request and record it in the request log, whatever happens."""
        self._status, self._body_bytes, self._declared = None, 0, 0
        self._fault_kind, self._fault_detail = None, ""
        parts = urlsplit(self.path)
        if parts.path.startswith(CONTROL_PREFIX):
            feed = "control"
        else:
            feed = next((name for prefix, name in _ROUTES if parts.path.startswith(prefix)),
                        None)
        self._entry = {"feed": feed, "method": self.command, "path": parts.path,
                       "query": parts.query}
        self._logged = None
        try:
            if feed == "control":
                self._control(parts.path, parts.query)
            elif self.command == "POST":
                self._read_body()
                self._error(405, "method not allowed")
            else:
                self._get(feed, parts.path, parts.query)
        finally:
            if self._logged is None:  # nothing was answered (a dropped connection)
                self.server.record({**self._entry, "status": self._status,
                                    "bytes": self._body_bytes, "fault": self._fault_kind})
            elif self._logged["bytes"] != self._body_bytes:  # a truncated body
                self.server.update_record(self._logged, bytes=self._body_bytes)
            self._entry = self._logged = None

    def _read_body(self) -> bytes:
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            length = 0
        return self.rfile.read(length) if length > 0 else b""

    def _get(self, feed: str | None, path: str, query: str) -> None:
        params = dict(parse_qsl(query, keep_blank_values=True))
        if feed == "comtrade" and self._authorized(feed) and not self.server.comtrade_call():
            self._comtrade_quota_exceeded()
            return
        if self._delivery_fault(feed):
            return
        handlers = {"ru_customs": self._ru, "kz_customs": self._kz,
                    "comtrade": self._comtrade, "ports": self._ports, "rail": self._rail}
        if feed is not None:
            if not self._authorized(feed):
                self._error(401, "unauthorized")
                return
            handlers[feed](path, params)
            return
        if path in ("/", "/health"):
            self._json(200, {"status": "ok", "feeds": list(SIM_CREDENTIALS)})
            return
        self._error(404, "not found")

    # ----- control surface (/_sim/)

    def _control(self, path: str, query: str) -> None:
        body = self._read_body() if self.command == "POST" else b""
        host = self.client_address[0] if self.client_address else ""
        try:
            loopback = ipaddress.ip_address(host.split("%")[0]).is_loopback
        except ValueError:
            loopback = False
        if not loopback:
            self._error(403, "the /_sim/ control surface answers loopback clients only")
            return
        routes = {"/_sim/requests": ("GET", self._control_requests),
                  "/_sim/revise": ("POST", self._control_revise),
                  "/_sim/comtrade-quota": ("POST", self._control_quota),
                  "/_sim/generate": ("POST", self._control_generate)}
        if path not in routes:
            self._error(404, "not found")
            return
        method, handler = routes[path]
        if self.command != method and not (method == "GET" and self.command == "HEAD"):
            self._json(405, {"error": f"use {method}"}, headers={"Allow": method})
            return
        handler(query, body)

    def _json_body(self, body: bytes) -> dict[str, Any] | None:
        if not body.strip():
            return {}
        try:
            payload = json.loads(body)
        except ValueError:
            return None
        return payload if isinstance(payload, dict) else None

    def _control_requests(self, query: str, body: bytes) -> None:
        params = dict(parse_qsl(query, keep_blank_values=True))
        try:
            since = int(params.get("since") or 0)
        except ValueError:
            self._error(400, "since must be an integer")
            return
        self._json(200, self.server.requests_since(since))

    def _control_revise(self, query: str, body: bytes) -> None:
        payload = self._json_body(body)
        if payload is None or not isinstance(payload.get("feed"), str) \
                or not isinstance(payload.get("unit"), str):
            self._error(400, 'body must be JSON {"feed": ..., "unit": ...}')
            return
        try:
            state = self.world.revise(payload["feed"], payload["unit"])
        except ValueError as error:
            self._error(400, str(error))
            return
        except KeyError as error:
            self._error(404, str(error.args[0] if error.args else error))
            return
        self._json(200, state)

    def _control_generate(self, query: str, body: bytes) -> None:
        """Fill the disk cache with every body of the world (``World.generate_all``)."""
        if self.world.bodies is None:
            self._error(409, "the simulator has no disk cache (--cache-dir)")
            return
        self._json(200, self.world.generate_all())

    def _control_quota(self, query: str, body: bytes) -> None:
        payload = self._json_body(body)
        calls = None if payload is None else payload.get("calls")
        if payload is None or not (calls is None or (isinstance(calls, int)
                                                     and not isinstance(calls, bool)
                                                     and calls >= 0)):
            self._error(400, 'body must be empty or JSON {"calls": <int >= 0>}')
            return
        self._json(200, self.server.replenish_comtrade_quota(calls))

    # ----- ru_customs

    def _ru(self, path: str, params: dict[str, str]) -> None:
        if path == "/ru-customs/v1/releases":
            self._json(200, self.world.ru_releases())
            return
        match = _RU_DATA.match(path)
        if not match or match.group(1) not in self.world.ru_periods():
            self._error(404, "period not released")
            return
        if self.world.bodies is not None:
            self._send_file(self.world.ru_body(match.group(1)), "text/csv; charset=windows-1251")
            return
        if self.world.ru_streamed():
            self._ru_streamed(match.group(1))
            return
        self._etagged(self.world.ru_csv_bytes(match.group(1)), "text/csv; charset=windows-1251")

    def _send_file(self, body: CachedBody, content_type: str) -> None:
        """A body of the disk cache, ETag its sha256, sent from the file by the kernel
        (``sendfile``); truncated_body sends half of it, as ``_send`` does."""
        etag = f'"{body.sha256}"'
        if self._not_modified(etag):
            return
        self.send_response(200)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(body.length))
        self.send_header("ETag", etag)
        self.end_headers()
        if self.command == "HEAD":
            return
        truncated = self._fault_kind == "truncated_body" and body.length > 1
        count = body.length // 2 if truncated else body.length
        self.wfile.flush()
        with body.path.open("rb") as handle:
            self._body_bytes += self.connection.sendfile(handle, 0, count)
        if truncated:
            self.close_connection = True

    def _ru_streamed(self, period_month: str) -> None:
        """A benchmark-size month: sent chunk by chunk, never held whole in memory."""
        meta = self.world.ru_stream_meta(period_month)
        etag = f'"{meta["sha256"]}"'
        if self._not_modified(etag):
            return
        self.send_response(200)
        self.send_header("Content-Type", "text/csv; charset=windows-1251")
        self.send_header("Content-Length", str(meta["length"]))
        self.send_header("ETag", etag)
        self.end_headers()
        if self.command == "HEAD":
            return
        budget = meta["length"] // 2 if self._fault_kind == "truncated_body" else None
        for chunk in self.world.ru_csv_stream(period_month):
            if budget is not None:
                chunk = chunk[:budget]
                budget -= len(chunk)
            self._write(chunk)
            if budget == 0:
                self.close_connection = True
                return

    # ----- kz_customs

    def _kz(self, path: str, params: dict[str, str]) -> None:
        if path == "/kz-customs/api/v2/periods":
            self._json(200, self.world.kz_periods())
            return
        if path != "/kz-customs/api/v2/trade":
            self._error(404, "not found")
            return
        period_month = params.get("period", "")
        if not _PERIOD.match(period_month):
            self._error(400, "period must be YYYY-MM")
            return
        if period_month not in self.world.kz_periods_list():
            self._error(404, "period not published")
            return
        page_size = self._page_size(params, "page_size", KZ_DEFAULT_PAGE_SIZE, KZ_MAX_PAGE_SIZE)
        if page_size is None:
            return
        if self.world.bodies is not None:  # a page is a slice of the month's file
            info, month_file = self.world.kz_snapshot_body(period_month)
        else:
            info, items = self.world.kz_snapshot(period_month)
        token = self._page_token(params, "cursor", p=period_month)
        if token is None:
            return
        if params.get("cursor") and token.get("r") != info["revision"]:
            self._json(409, {"error": "revision_changed"})
            return
        fields = {"p": period_month, "r": info["revision"]}
        if self.world.bodies is not None:
            offset = token["o"]
            page = self.world.kz_page(month_file, offset, page_size)
            next_cursor = _next_token(min(offset + page_size, month_file.lines),
                                      month_file.lines, fields)
        else:
            page, next_cursor = _page(items, token["o"], page_size, fields)
        body = {"period": period_month, "revision": info["revision"], "status": info["status"],
                "generated_at": info["generated_at"], "items": page, "next_cursor": next_cursor}
        if self.world.faults.get("extra_columns", {}).get("kz_customs"):
            body = {**body, "source_system": "KGD-ASTANA-1"}
        # Counted before the answer leaves: the client's next request must find it counted.
        self.world.kz_page_served(period_month)
        self._json(200, body)

    # ----- comtrade

    def _comtrade_quota_exceeded(self) -> None:
        wait = self.server._quota_retry_after
        self._json(429, {"statusCode": 429, "message": COMTRADE_QUOTA_MESSAGE.format(_hms(wait))},
                   headers={"Retry-After": str(wait)})

    def _comtrade(self, path: str, params: dict[str, str]) -> None:
        if path.rstrip("/") == _COMTRADE_AVAILABILITY:
            self._comtrade_availability(params)
            return
        if path.rstrip("/") != _COMTRADE_DATA:
            self._error(404, "not found")
            return
        if not params.get("reporterCode") or not params.get("period"):
            self._json(400, {"elapsedTime": "0.01 secs", "count": 0, "data": [],
                             "error": "reporterCode and period are required"})
            return
        try:
            rows = self.world.comtrade_query(params)
        except ValueError:
            self._json(400, {"elapsedTime": "0.01 secs", "count": 0, "data": [],
                             "error": "invalid parameter"})
            return
        self._send(200, json.dumps({"elapsedTime": "0.05 secs", "count": len(rows),
                                    "data": rows, "error": ""}, ensure_ascii=False).encode())

    def _comtrade_availability(self, params: dict[str, str]) -> None:
        def parts(name: str) -> list[str] | None:
            raw = params.get(name)
            if raw in (None, "", "all"):
                return None
            return [part.strip() for part in raw.split(",") if part.strip()]

        try:
            reporters = parts("reporterCode")
            codes = None if reporters is None else [int(code) for code in reporters]
        except ValueError:
            self._json(400, {"elapsedTime": "0.01 secs", "count": 0, "data": [],
                             "error": "invalid parameter"})
            return
        rows = self.world.comtrade_availability(codes, parts("period"))
        self._send(200, json.dumps({"elapsedTime": "0.02 secs", "count": len(rows),
                                    "error": "", "data": rows}, ensure_ascii=False).encode())

    # ----- ports

    def _ports(self, path: str, params: dict[str, str]) -> None:
        if path != "/ports/v1/vessel-calls":
            self._error(404, "not found")
            return
        port = params.get("port") or None
        since = None
        if params.get("updated_since"):
            try:
                since = datetime.fromisoformat(params["updated_since"])
            except ValueError:
                self._error(400, "updated_since must be ISO-8601 (percent-encode '+')")
                return
            if since.tzinfo is None:
                self._error(400, "updated_since needs a UTC offset")
                return
        limit = self._page_size(params, "limit", PORTS_DEFAULT_LIMIT, PORTS_MAX_LIMIT)
        if limit is None:
            return
        query_id = f"{port}|{params.get('updated_since', '')}"
        token = self._page_token(params, "page_token", q=query_id)
        if token is None:
            return
        offset = token["o"]
        records = self.world.port_versions(port, since)
        if self._fault_kind == "duplicate_deliveries" and offset > 0:
            # Overlapping pages: this page repeats the tail of the previous one (same
            # versions, same content). Fewer than ``limit`` back, so paging still advances.
            offset -= min(int(self._fault_detail), offset, limit - 1)
        page, next_token = _page(records, offset, limit, {"q": query_id})
        self._json(200, {"data": page, "next_page_token": next_token})

    # ----- rail

    def _rail(self, path: str, params: dict[str, str]) -> None:
        match = _RAIL_DAY.match(path)
        if not match or not self.world.rail_day_exists(match.group(1)):
            self._error(404, "report not out")
            return
        if self.world.bodies is not None:
            self._send_file(self.world.rail_body(match.group(1)),
                            "application/xml; charset=utf-8")
            return
        self._etagged(self.world.rail_xml(match.group(1)), "application/xml; charset=utf-8")


class SimulatorHandle:
    """A running simulator: ``base_url``, ``world``, ``stop()``; also a context manager."""

    def __init__(self, server: _Server, thread: threading.Thread) -> None:
        self._server = server
        self._thread = thread
        host, port = server.server_address[:2]
        self.host = host
        self.port = port
        self.base_url = f"http://{host}:{port}"
        self.world = server.world

    @property
    def config(self) -> SimConfig:
        return self.world.config

    def connection_uris(self) -> dict[str, str]:
        return connection_uris(self.base_url)

    def requests(self, since: int = 0) -> list[dict[str, Any]]:
        """The request log: entries with ``seq`` > ``since``, oldest first. Each entry:
        seq, feed (feed name, "control" for /_sim/, None otherwise), method, path, query,
        status (None when the connection was dropped), bytes (body bytes sent), fault
        (the delivery fault the request met, or None)."""
        return self._server.requests_since(since)

    def revise(self, feed: str, unit: str) -> dict[str, Any]:
        """Re-publish one unit now (``World.revise``)."""
        return self.world.revise(feed, unit)

    def replenish_comtrade_quota(self, calls: int | None = None) -> dict[str, Any]:
        """Reset the comtrade call count; ``calls`` replaces the budget when given."""
        return self._server.replenish_comtrade_quota(calls)

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> SimulatorHandle:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def start_simulator(config: SimConfig | None = None, host: str = "127.0.0.1",
                    port: int = 0, cache_dir: str | os.PathLike[str] | None = None
                    ) -> SimulatorHandle:
    """Serve the simulated world on ``host:port`` (0 = any free port) in a daemon thread.

    ``cache_dir``: keep generated bodies on disk there (bodies.py) and serve them from
    the files; None builds them in memory (every start generates again)."""
    server = _Server((host, port), World(config or SimConfig(), cache_dir=cache_dir))
    thread = threading.Thread(target=server.serve_forever, name="corridor-simulator",
                              daemon=True)
    thread.start()
    return SimulatorHandle(server, thread)
