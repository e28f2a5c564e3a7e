"""HTTP sessions for the feeds: auth from the Endpoint, retries, timeouts, whole bodies only.

Two layers of retry, each for what it sees best:

* urllib3 ``Retry`` on the adapter: status 429/500/502/503/504 (honouring
  ``Retry-After``) and connect errors, for GET only;
* tenacity around request + body read + validation: a dropped connection while
  reading, a body shorter than ``Content-Length`` and a body that does not parse
  (or fails its checksum) are retried, so a body cut short is never loaded.

Back-off is small and configurable (``CORRIDOR_HTTP_BACKOFF`` seconds,
``CORRIDOR_HTTP_RETRIES`` attempts, ``CORRIDOR_HTTP_TIMEOUT`` read timeout) so tests run
fast. No ``Retry-After`` is waited on for longer than ``CORRIDOR_MAX_RETRY_AFTER``
seconds (default 60): a publisher asking for hours is asked again by a later run. Credentials live in session headers/auth only: nothing here logs them, and
logged URLs never carry them.
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Callable, Mapping

import requests
from requests.adapters import HTTPAdapter
from tenacity import (
    Retrying,
    retry_if_exception_type,
    stop_after_attempt,
    wait_exponential,
)
from urllib3.util.retry import Retry

from corridor.config import Endpoint

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


class CappedRetry(Retry):
    """urllib3 ``Retry`` whose ``Retry-After`` waits are capped at :func:`max_retry_after`."""

    def get_retry_after(self, response) -> float | None:
        seconds = super().get_retry_after(response)
        return None if seconds is None else min(seconds, max_retry_after())


class IncompleteBody(Exception):
    """The body read is not the whole body (short read, bad checksum, unparsable)."""


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


@dataclass(frozen=True)
class FeedResponse:
    status: int
    url: str  # without credentials: auth is in headers, never in the URL
    headers: Mapping[str, str]
    content: bytes
    parsed: Any = None  # what ``validate`` returned (parsed JSON, XML root, ...)


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
    adapter = HTTPAdapter(max_retries=retry)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    session.headers["User-Agent"] = USER_AGENT
    session.trust_env = False  # no proxy or .netrc surprises: the Connection is the config
    _apply_auth(feed, session, endpoint)
    return session


def check_complete(response: requests.Response) -> None:
    """Raise IncompleteBody when fewer bytes arrived than ``Content-Length`` announced."""
    declared = response.headers.get("Content-Length")
    if declared and not response.headers.get("Content-Encoding"):
        if len(response.content) != int(declared):
            raise IncompleteBody(
                f"body has {len(response.content)} bytes, Content-Length {declared}")


class FeedClient:
    """GETs against one feed's base URL with timeouts and whole-body retries."""

    def __init__(self, feed: str, endpoint: Endpoint, *, session: requests.Session | None = None,
                 timeout: tuple[float, float] | None = None, attempts: int | None = None,
                 backoff_factor: float | None = None) -> None:
        self.feed = feed
        self.base_url = endpoint.base_url.rstrip("/")
        self.backoff = default_backoff() if backoff_factor is None else backoff_factor
        self.attempts = default_attempts() if attempts is None else attempts
        self.session = session or make_session(feed, endpoint, retries=self.attempts,
                                               backoff_factor=self.backoff)
        self.timeout = timeout or default_timeout()

    def url(self, path: str) -> str:
        return self.base_url + "/" + path.lstrip("/")

    def get(self, path: str, *, params: Mapping[str, str] | str | None = None,
            headers: Mapping[str, str] | None = None,
            ok_statuses: tuple[int, ...] = (200,),
            validate: Callable[[requests.Response], Any] | None = None) -> FeedResponse:
        """GET ``path``; ``validate`` runs on 200 bodies inside the retry (raise
        :class:`IncompleteBody` or ``ValueError`` to have the body fetched again)."""
        url = self.url(path)

        def once() -> FeedResponse:
            response = self.session.get(url, params=params, headers=headers,
                                        timeout=self.timeout)
            shown = response.url  # credentials are never in the URL
            if response.status_code not in ok_statuses:
                raise FeedHTTPError(self.feed, shown, response.status_code,
                                    response.text if response.content else "",
                                    response.headers)
            parsed = None
            if response.status_code == 200:
                check_complete(response)
                if validate is not None:
                    try:
                        parsed = validate(response)
                    except IncompleteBody:
                        raise
                    except (ValueError, SyntaxError) as exc:  # JSON / XML (ET.ParseError)
                        raise IncompleteBody(f"body does not parse: {exc}") from exc
            return FeedResponse(response.status_code, shown, dict(response.headers),
                                response.content, parsed)

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
