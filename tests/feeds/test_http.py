from __future__ import annotations

import hashlib
import json
import logging

import pytest
import requests

from corridor.feeds.http import FeedClient, FeedHTTPError, IncompleteBody, json_body

BODY = json.dumps({"ok": 1.5}).encode()


def test_503_with_retry_after_then_200(fake_server):
    fake_server.routes["/x"] = [(503, {"Retry-After": "0"}, b"busy"),
                                (429, {"Retry-After": "0"}, b"slow down"),
                                (200, {"Content-Type": "application/json"}, BODY)]
    client = FeedClient("ru_customs", fake_server.endpoint())
    response = client.get("/x", validate=json_body)
    assert response.status == 200
    assert str(response.parsed["ok"]) == "1.5"  # Decimal, not float
    assert len(fake_server.hits("/x")) == 3


def test_truncated_body_is_fetched_again(fake_server):
    fake_server.routes["/x"] = [(200, {}, BODY, 5), (200, {}, BODY)]
    client = FeedClient("kz_customs", fake_server.endpoint())
    response = client.get("/x", validate=json_body)
    assert response.content == BODY
    assert len(fake_server.hits("/x")) == 2


def test_unparsable_body_is_retried_then_fails(fake_server):
    fake_server.routes["/x"] = [(200, {}, b'{"broken": ')]
    client = FeedClient("kz_customs", fake_server.endpoint(), attempts=2)
    with pytest.raises(IncompleteBody):
        client.get("/x", validate=json_body)
    assert len(fake_server.hits("/x")) == 2


def test_persistent_503_raises(fake_server):
    fake_server.routes["/x"] = [(503, {"Retry-After": "0"}, b"down")]
    client = FeedClient("ports", fake_server.endpoint(), attempts=2)
    with pytest.raises(requests.exceptions.RetryError):
        client.get("/x")


def test_unexpected_status_is_an_error_naming_the_url(fake_server):
    client = FeedClient("ports", fake_server.endpoint())
    with pytest.raises(FeedHTTPError) as info:
        client.get("/missing")
    assert info.value.status == 404 and "/missing" in str(info.value)


@pytest.mark.parametrize("feed, header, expected", [
    ("kz_customs", "Authorization", "Bearer s3cret-token"),
    ("comtrade", "Ocp-Apim-Subscription-Key", "s3cret-token"),
    ("ports", "X-API-Key", "s3cret-token"),
    ("rail", "Authorization", "Basic dXNlcjpzM2NyZXQtdG9rZW4="),
])
def test_auth_per_feed(fake_server, feed, header, expected):
    fake_server.routes["/x"] = [(200, {}, b"{}")]
    FeedClient(feed, fake_server.endpoint()).get("/x")
    assert fake_server.hits("/x")[0]["headers"][header] == expected


def test_ru_customs_sends_no_credentials(fake_server):
    fake_server.routes["/x"] = [(200, {}, b"{}")]
    FeedClient("ru_customs", fake_server.endpoint()).get("/x")
    headers = fake_server.hits("/x")[0]["headers"]
    assert "Authorization" not in headers
    assert not any("s3cret" in value for value in headers.values())


def test_credentials_never_logged(fake_server, caplog):
    fake_server.routes["/x"] = [(503, {"Retry-After": "0"}, b""), (200, {}, BODY, 3),
                                (200, {}, BODY)]
    with caplog.at_level(logging.DEBUG):
        FeedClient("kz_customs", fake_server.endpoint()).get("/x", validate=json_body)
    assert "s3cret" not in caplog.text


def test_body_is_hashed_as_it_streams(fake_server):
    fake_server.routes["/x"] = [(200, {}, BODY)]
    response = FeedClient("ports", fake_server.endpoint()).get("/x", validate=json_body)
    assert response.size == len(BODY) and response.path is None
    assert response.sha256 == hashlib.sha256(BODY).hexdigest()


def test_into_dir_streams_to_a_temporary_file(fake_server, tmp_path):
    fake_server.routes["/x"] = [(200, {}, BODY, 5), (200, {}, BODY)]  # cut once: retried
    client = FeedClient("ru_customs", fake_server.endpoint())
    response = client.get("/x", unit="2024-01", into_dir=tmp_path / "unit")
    assert response.content == b"" and response.path.read_bytes() == BODY
    assert list((tmp_path / "unit").iterdir()) == [response.path]  # the cut one is gone
    assert response.sha256 == hashlib.sha256(BODY).hexdigest()
    with pytest.raises(TypeError):
        client.get("/x", into_dir=tmp_path, validate=json_body)


def test_limits_come_from_settings(monkeypatch, fake_server):
    monkeypatch.setenv("CORRIDOR_MAX_BODY_BYTES", '{"rail": 1000}')
    monkeypatch.setenv("CORRIDOR_HTTP_DEADLINE_S", '{"ru_customs": 7}')
    rail = FeedClient("rail", fake_server.endpoint())
    ru = FeedClient("ru_customs", fake_server.endpoint())
    assert (rail.max_body_bytes, rail.deadline_s) == (1000, 300.0)
    assert (ru.max_body_bytes, ru.deadline_s) == (4 << 30, 7.0)
