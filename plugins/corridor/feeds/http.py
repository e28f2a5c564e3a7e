"""HTTP sessions for the feeds: auth from the Endpoint, retries, timeouts, whole bodies only.

Every body is streamed (decoded, in chunks) and hashed on the way in, with a per-feed cap
on its decoded bytes (``Settings.max_body_bytes``): over the cap the fetch fails at once
(:class:`BodyTooLarge`, not retried) and nothing more is read, so a gzip bomb never
inflates in memory. A body goes to memory (JSON pages, XML days: bounded by the cap) or,
with ``into_dir``, to a temporary file there (the RU month: GiBs), never both. Every
attempt has an overall deadline, connect to last body byte (``Settings.http_deadline_s``):
past it the attempt fails as a transient fault (:class:`DeadlineExceeded`, retried).
Redirects are never followed: a 3xx the caller did not ask for is a :class:`FeedRedirect`
(not retried), so credentials are never sent to another origin and a redirect never
passes for an (empty) answer. A ``Retry-After`` that is negative or unparsable is ignored
(the normal back-off applies).

Two layers of retry, each for what it sees best:

* urllib3 ``Retry`` on the adapter: status 429/500/502/503/504 (honouring
  ``Retry-After``) and connect errors, for GET only;
* tenacity around request + body read + validation: a dropped connection while
  reading, a body shorter than ``Content-Length`` and a body that does not parse
  (or fails its checksum) are retried, so a body cut short is never loaded.

Back-off is small and configurable (``CORRIDOR_HTTP_BACKOFF`` seconds,
``CORRIDOR_HTTP_RETRIES`` attempts, ``CORRIDOR_HTTP_TIMEOUT`` read timeout) so tests run
fast. No ``Retry-After`` is waited on for longer than ``CORRIDOR_MAX_RETRY_AFTER``
seconds (default 60): a publisher asking for hours is asked again by a later run.
Credentials live in session headers/auth only: nothing here logs them, and logged URLs
never carry them.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import os
import socket
import tempfile
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import IO, Any

import requests
from requests.adapters import HTTPAdapter
from tenacity import (
    Retrying,
    retry_if_exception_type,
    stop_after_attempt,
    wait_exponential,
)
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import DecodeError, ProtocolError, ReadTimeoutError
from urllib3.exceptions import SSLError as Urllib3SSLError
from urllib3.util.retry import Retry

from corridor.config import Endpoint, Settings

log = logging.getLogger(__name__)

USER_AGENT = "corridor-feed-client/0.1"
RETRY_STATUSES = (429, 500, 502, 503, 504)


def _env_float(name: str, default: float) -> float:
    value = os.environ.get(name)
    return float(value) if value not in (None, "") else default


def default_backoff() -> float:
    return _env_float("CORRIDOR_HTTP_BACKOFF", 0.5)


def default_attempts() -> int:
    return int(_env_float("CORRIDOR_HTTP_RETRIES", 5))


def default_timeout() -> tuple[float, float]:
    return (10.0, _env_float("CORRIDOR_HTTP_TIMEOUT", 120.0))


def max_retry_after() -> float:
    """The longest wait on a ``Retry-After`` anywhere (``CORRIDOR_MAX_RETRY_AFTER``)."""
    return _env_float("CORRIDOR_MAX_RETRY_AFTER", 60.0)


#: Bytes asked of the stream per read (decoded bytes: a compressed body decodes at most
#: this much per read).
CHUNK_BYTES = 1 << 16
#: A body in memory past this many bytes is spooled to a temporary file while it streams.
SPOOL_BYTES = 16 << 20
#: Decoded bytes of an unexpected status's body kept for the error (and the quota check).
ERROR_BODY_BYTES = 1 << 16


def feed_limits(feed: str) -> tuple[int, float]:
    """(cap on a body's decoded bytes, deadline of one request in seconds) of ``feed``."""
    settings = Settings()
    return settings.max_body_bytes[feed], settings.http_deadline_s[feed]


class CappedRetry(Retry):
    """urllib3 ``Retry`` whose ``Retry-After`` waits are capped at :func:`max_retry_after`;
    a negative or unparsable ``Retry-After`` counts as none (normal back-off), where
    urllib3 itself would raise ``InvalidHeader`` and end the request."""

    def get_retry_after(self, response) -> float | None:
        value = response.headers.get("Retry-After")
        if value is None:
            return None
        try:
            seconds = self.parse_retry_after(value)
        except Exception:  # urllib3 InvalidHeader: "-5", "soon", ...
            log.warning("ignoring an unparsable Retry-After %r", value[:40])
            return None
        if value.strip().startswith("-"):
            return None
        return min(seconds, max_retry_after())


class IncompleteBody(Exception):
    """The body read is not the whole body (short read, bad checksum, unparsable)."""


class BodyTooLarge(Exception):
    """A body over its feed's cap on decoded bytes (never retried: it would be again)."""


class DeadlineExceeded(requests.exceptions.Timeout):
    """One attempt took longer than its deadline (connect to last byte): transient."""


class FeedHTTPError(Exception):
    """A status the caller did not expect (after urllib3's own retries)."""

    def __init__(self, feed: str, url: str, status: int, body: str,
                 headers: Mapping[str, str] | None = None) -> None:
        super().__init__(f"{feed}: GET {url} answered {status}: {body[:200]}")
        self.feed = feed
        self.url = url
        self.status = status
        self.body = body
        self.headers = dict(headers or {})


class FeedRedirect(FeedHTTPError):
    """A 3xx the caller did not expect: redirects are not followed (nor retried)."""

    def __init__(self, feed: str, unit: str | None, url: str, status: int,
                 headers: Mapping[str, str] | None = None) -> None:
        location = dict(headers or {}).get("Location") or (headers or {}).get("location")
        super().__init__(feed, url, status, "", headers)
        self.location = location
        self.args = (f"{feed}{f' {unit}' if unit else ''}: GET {url} answered {status}, a "
                     f"redirect to {location!r}: redirects are not followed",)


@dataclass(frozen=True)
class FeedResponse:
    status: int
    url: str  # without credentials: auth is in headers, never in the URL
    headers: Mapping[str, str]
    content: bytes  # b"" when the body went to ``path``
    parsed: Any = None  # what ``validate`` returned (parsed JSON, XML root, ...)
    sha256: str | None = None  # of the (decoded) body, hashed as it streamed
    size: int = 0  # decoded body bytes
    path: Path | None = None  # with ``into_dir``: the temporary file holding the body


# ------------------------------------------------------------------ the deadline

#: The deadline watch of the attempt running in this thread (see :class:`_Watch`).
_ATTEMPT = threading.local()


class _Watch:
    """The overall deadline of one attempt, connect to last body byte. Each request the
    attempt sends (urllib3's own status retries included) restarts it; a watchdog thread
    shuts the attempt's sockets down when it passes, so nothing (a trickle of headers or
    of body, a silent peer) holds an attempt past it: the blocked read ends at once."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.deadline = time.monotonic() + seconds
        self.fired = False
        self._connections: list = []
        self._lock = threading.Lock()
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._run, name="feed-deadline", daemon=True)
        self._thread.start()

    def restart(self, connection) -> None:
        with self._lock:
            self.deadline = time.monotonic() + self.seconds
            self._connections.append(connection)

    def _run(self) -> None:
        while not self._done.wait(max(self.deadline - time.monotonic(), 0.0) + 0.01):
            with self._lock:
                if time.monotonic() < self.deadline:
                    continue  # restarted meanwhile
                self.fired = True
                for connection in self._connections:
                    sock = getattr(connection, "sock", None)
                    if sock is not None:
                        try:
                            sock.shutdown(socket.SHUT_RDWR)
                        except OSError:
                            pass
            return

    def stop(self) -> None:
        self._done.set()


class _Watched:
    """Mixed into a urllib3 connection class: each request restarts the running attempt's
    deadline and hands it the connection to shut down."""

    def request(self, *args, **kwargs):
        watch = getattr(_ATTEMPT, "watch", None)
        if watch is not None:
            watch.restart(self)
        return super().request(*args, **kwargs)  # type: ignore[misc]


class _WatchedConnection(_Watched, HTTPConnection):
    pass


class _WatchedHTTPSConnection(_Watched, HTTPSConnection):
    pass


class _WatchedPool(HTTPConnectionPool):
    ConnectionCls = _WatchedConnection


class _WatchedHTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _WatchedHTTPSConnection


class DeadlineAdapter(HTTPAdapter):
    """An ``HTTPAdapter`` whose connections report to the running attempt's deadline."""

    def init_poolmanager(self, *args, **kwargs) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {"http": _WatchedPool,
                                                   "https": _WatchedHTTPSPool}


def _apply_auth(feed: str, session: requests.Session, endpoint: Endpoint) -> None:
    password = endpoint.password or ""
    if feed == "kz_customs":
        session.headers["Authorization"] = f"Bearer {password}"
    elif feed == "comtrade":
        session.headers["Ocp-Apim-Subscription-Key"] = password
    elif feed == "ports":
        session.headers["X-API-Key"] = password
    elif feed == "rail":
        session.auth = (endpoint.login or "", password)
    elif feed == "ru_customs":
        pass  # open data
    else:
        raise ValueError(f"unknown feed {feed!r}")


def make_session(feed: str, endpoint: Endpoint, *, retries: int | None = None,
                 backoff_factor: float | None = None) -> requests.Session:
    """A ``requests.Session`` for one feed: its auth, urllib3 status retries, a user agent.

    ``retries=0``: urllib3 retries nothing and every status comes back to the caller
    (the Comtrade client counts each call against its budget itself).
    """
    backoff = default_backoff() if backoff_factor is None else backoff_factor
    total = default_attempts() if retries is None else retries
    retry = Retry(total=0, raise_on_status=False) if total == 0 else CappedRetry(
        total=total,
        connect=total,
        read=0,  # read errors are tenacity's: it re-reads the whole body
        status=total,
        status_forcelist=RETRY_STATUSES,
        allowed_methods=frozenset({"GET"}),
        backoff_factor=backoff,
        backoff_max=30,
        respect_retry_after_header=True,
        raise_on_status=True,
    )
    session = requests.Session()
    adapter = DeadlineAdapter(max_retries=retry)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    session.headers["User-Agent"] = USER_AGENT
    session.trust_env = False  # no proxy or .netrc surprises: the Connection is the config
    _apply_auth(feed, session, endpoint)
    return session


def check_complete(response: requests.Response, size: int) -> None:
    """Raise IncompleteBody when fewer bytes arrived than ``Content-Length`` announced."""
    declared = response.headers.get("Content-Length")
    if declared and not response.headers.get("Content-Encoding"):
        if size != int(declared):
            raise IncompleteBody(f"body has {size} bytes, Content-Length {declared}")


def _set_socket_timeout(response: requests.Response, seconds: float) -> None:
    """Bound the next socket read by ``seconds`` (what is left of the deadline)."""
    sock = getattr(getattr(response.raw, "_connection", None), "sock", None)
    if sock is not None:
        try:
            sock.settimeout(max(seconds, 0.001))
        except OSError:
            pass


class FeedClient:
    """GETs against one feed's base URL with timeouts, caps and whole-body retries."""

    def __init__(self, feed: str, endpoint: Endpoint, *, session: requests.Session | None = None,
                 timeout: tuple[float, float] | None = None, attempts: int | None = None,
                 backoff_factor: float | None = None, max_body_bytes: int | None = None,
                 deadline_s: float | None = None) -> None:
        self.feed = feed
        self.base_url = endpoint.base_url.rstrip("/")
        self.backoff = default_backoff() if backoff_factor is None else backoff_factor
        self.attempts = default_attempts() if attempts is None else attempts
        self.session = session or make_session(feed, endpoint, retries=self.attempts,
                                               backoff_factor=self.backoff)
        self.timeout = timeout or default_timeout()
        if max_body_bytes is None or deadline_s is None:
            cap, deadline = feed_limits(feed)
            max_body_bytes = cap if max_body_bytes is None else max_body_bytes
            deadline_s = deadline if deadline_s is None else deadline_s
        self.max_body_bytes = max_body_bytes
        self.deadline_s = deadline_s

    def url(self, path: str) -> str:
        return self.base_url + "/" + path.lstrip("/")

    def _read(self, response: requests.Response, sink: IO[bytes], *, limit: int,
              watch: _Watch, unit: str | None, shown: str, fail_over: bool = True
              ) -> tuple[int, str]:
        """Stream the decoded body into ``sink`` (hashing it) until its end, ``limit``
        bytes (``fail_over``: raise :class:`BodyTooLarge`; else stop there) or the
        deadline (:class:`DeadlineExceeded`). Returns (bytes, sha256)."""
        digest = hashlib.sha256()
        size = 0
        read_timeout = self.timeout[1] if isinstance(self.timeout, tuple) else self.timeout
        while True:
            deadline = watch.deadline
            left = deadline - time.monotonic()
            if left <= 0:
                raise DeadlineExceeded(f"{self.feed} {unit or ''}: GET {shown}: no whole "
                                       f"body within {self.deadline_s:g} s ({size} bytes)")
            _set_socket_timeout(response, min(read_timeout or left, left))
            try:
                # read1: what one socket read brings (a trickle cannot hold a read past
                # the deadline), decoded, at most CHUNK_BYTES of it
                chunk = response.raw.read1(CHUNK_BYTES, decode_content=True)
            except ProtocolError as exc:
                raise requests.exceptions.ChunkedEncodingError(exc) from exc
            except DecodeError as exc:
                raise IncompleteBody(f"body does not decode: {exc}") from exc
            except ReadTimeoutError as exc:
                if time.monotonic() >= deadline:
                    raise DeadlineExceeded(f"{self.feed} {unit or ''}: GET {shown}: no "
                                           f"whole body within {self.deadline_s:g} s "
                                           f"({size} bytes)") from exc
                raise requests.exceptions.ConnectionError(exc) from exc
            except Urllib3SSLError as exc:
                raise requests.exceptions.SSLError(exc) from exc
            except OSError as exc:  # a socket timeout or reset below urllib3's wrapping
                raise requests.exceptions.ConnectionError(exc) from exc
            if not chunk:
                if watch.fired:  # the watchdog ended the stream: a cut body, not its end
                    raise DeadlineExceeded(f"{self.feed} {unit or ''}: GET {shown}: no whole "
                                           f"body within {self.deadline_s:g} s ({size} "
                                           f"bytes)")
                return size, digest.hexdigest()
            if size + len(chunk) > limit:
                if not fail_over:
                    chunk = chunk[:limit - size]
                    sink.write(chunk)
                    digest.update(chunk)
                    return size + len(chunk), digest.hexdigest()
                raise BodyTooLarge(
                    f"{self.feed} {unit or '(unit not named)'}: GET {shown}: the body "
                    f"exceeds the cap of {limit} decoded bytes (max_body_bytes, "
                    f"CORRIDOR_MAX_BODY_BYTES): not loaded")
            sink.write(chunk)
            digest.update(chunk)
            size += len(chunk)

    def get(self, path: str, *, params: Mapping[str, str] | str | None = None,
            headers: Mapping[str, str] | None = None,
            ok_statuses: tuple[int, ...] = (200,),
            validate: Callable[[requests.Response], Any] | None = None,
            unit: str | None = None, into_dir: Path | str | None = None) -> FeedResponse:
        """GET ``path``; ``validate`` runs on 200 bodies inside the retry (raise
        :class:`IncompleteBody` or ``ValueError`` to have the body fetched again).

        ``unit`` names what is fetched in errors. ``into_dir``: a 200 body is streamed to
        a new temporary file there (``FeedResponse.path``, the caller's to rename or
        delete), not to memory; ``validate`` is not available then.
        """
        if into_dir is not None and validate is not None:
            raise TypeError("validate reads the body in memory: not with into_dir")
        url = self.url(path)

        def once() -> FeedResponse:
            connect, read = (self.timeout if isinstance(self.timeout, tuple)
                             else (self.timeout, self.timeout))
            left = max(self.deadline_s, 0.001)
            watch = _ATTEMPT.watch = _Watch(self.deadline_s)
            try:
                response = self.session.get(url, params=params, headers=headers,
                                            stream=True, allow_redirects=False,
                                            timeout=(min(connect, left), min(read, left)))
                try:
                    return _answer(response, watch)
                finally:
                    response.close()  # an unread rest (over the cap, an error) is dropped
            except (requests.exceptions.RequestException, IncompleteBody, OSError) as exc:
                if watch.fired and not isinstance(exc, DeadlineExceeded):
                    raise DeadlineExceeded(
                        f"{self.feed} {unit or ''}: GET {url}: no whole answer within "
                        f"{self.deadline_s:g} s") from exc
                raise
            finally:
                watch.stop()
                _ATTEMPT.watch = None

        def _answer(response: requests.Response, watch: _Watch) -> FeedResponse:
            shown = response.url  # credentials are never in the URL
            status = response.status_code
            if status not in ok_statuses:
                if 300 <= status < 400:
                    raise FeedRedirect(self.feed, unit, shown, status, response.headers)
                sink = io.BytesIO()
                self._read(response, sink, limit=ERROR_BODY_BYTES, watch=watch,
                           unit=unit, shown=shown, fail_over=False)
                body = sink.getvalue().decode(response.encoding or "utf-8", "replace")
                raise FeedHTTPError(self.feed, shown, status, body, response.headers)
            if status != 200:  # 304 and the like: no body to keep
                return FeedResponse(status, shown, dict(response.headers), b"")
            if into_dir is not None:
                return _to_file(response, watch, shown)
            # spooled: a body on its way to the cap (a gzip bomb) sits on disk, not in
            # memory; only a whole body under the cap is read into memory, once
            with tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES) as sink:
                size, sha256 = self._read(response, sink, limit=self.max_body_bytes,
                                          watch=watch, unit=unit, shown=shown)
                check_complete(response, size)
                sink.seek(0)
                content = sink.read()
            # what requests would have read itself: validators use response.content
            response._content, response._content_consumed = content, True
            parsed = None
            if validate is not None:
                try:
                    parsed = validate(response)
                except IncompleteBody:
                    raise
                except (ValueError, SyntaxError) as exc:  # JSON / XML (ET.ParseError)
                    raise IncompleteBody(f"body does not parse: {exc}") from exc
            return FeedResponse(status, shown, dict(response.headers), content, parsed,
                                sha256, size)

        def _to_file(response: requests.Response, watch: _Watch, shown: str
                     ) -> FeedResponse:
            Path(into_dir).mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=into_dir, prefix=".landing-", suffix=".tmp")
            try:
                with os.fdopen(fd, "wb") as handle:
                    size, sha256 = self._read(response, handle, limit=self.max_body_bytes,
                                              watch=watch, unit=unit, shown=shown)
                    check_complete(response, size)
                    handle.flush()
                    os.fsync(handle.fileno())
            except BaseException:
                Path(tmp).unlink(missing_ok=True)
                raise
            return FeedResponse(200, shown, dict(response.headers), b"", None, sha256, size,
                                Path(tmp))

        retrying = Retrying(
            retry=retry_if_exception_type((
                requests.exceptions.ChunkedEncodingError,
                requests.exceptions.ConnectionError,
                requests.exceptions.Timeout,
                IncompleteBody,
            )),
            stop=stop_after_attempt(max(self.attempts, 1)),
            wait=wait_exponential(multiplier=self.backoff, max=30),
            reraise=True,
            before_sleep=lambda state: log.warning(
                "%s: GET %s failed (%s), retry %d", self.feed, url,
                type(state.outcome.exception()).__name__, state.attempt_number),
        )
        return retrying(once)


def json_body(response: requests.Response) -> Any:
    """Parse JSON with Decimal numbers (never float)."""
    return json.loads(response.content, parse_float=Decimal)
