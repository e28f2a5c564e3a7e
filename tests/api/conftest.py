"""A published root with two releases, and the API serving it on loopback (a real
uvicorn server in a thread: real clients talk HTTP to it)."""

from __future__ import annotations

import itertools
import json
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
import uvicorn

from corridor.api.app import create_app
from corridor.api.consumers import ConsumerStore
from corridor.publish.release import write_release

PARTNERS = ("RUS", "CHN", "TUR", "W00")
MONTHS = [f"2024-{m:02d}" for m in range(1, 13)]
#: when each release was released (written into its manifest)
RELEASED = ("2025-01-10T10:00:00Z", "2025-02-10T10:00:00Z")


def bilateral(revised: bool) -> list[tuple[str, ...]]:
    rows = []
    for partner, indicator, month in itertools.product(PARTNERS, ("M_USD", "X_USD"), MONTHS):
        value = 1000 + 10 * MONTHS.index(month) + PARTNERS.index(partner)
        if revised and (partner, indicator, month) == ("CHN", "X_USD", "2024-03"):
            value += 1  # revised in the second release
        if revised and (partner, indicator, month) == ("TUR", "M_USD", "2024-05"):
            continue  # gone in the second release
        rows.append(("M", "KAZ", partner, indicator, "_T", month, f"{value}.00", "USD",
                     "A"))
    if revised:  # a new month
        rows += [("M", "KAZ", "CHN", "X_USD", "_T", "2025-01", "7.50", "USD", "P")]
    return sorted(rows)


def logistics() -> list[tuple[str, ...]]:
    return [("M", "DOSTYK", "RAIL_T", "_T", "_T", month, f"{1500 + i}.250", "T", "A")
            for i, month in enumerate(MONTHS)]


def publish_two_releases(published: Path) -> list[str]:
    ids = []
    for revised, released_at in zip((False, True), RELEASED, strict=True):
        release = write_release(
            published, {"bilateral_trade": bilateral(revised),
                        "corridor_logistics": logistics()},
            inputs=[], quality={"success": True, "evaluated": 0, "failed": 0,
                                "failed_warnings": 0, "checks": []},
            coverage={"first_period": "2024-01", "last_period": MONTHS[-1]})
        manifest_path = release / "manifest.json"
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
        manifest["released_at"] = released_at
        manifest_path.write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
        ids.append(release.name)
    return ids


def instant(text: str) -> datetime:
    return datetime.fromisoformat(text)


@dataclass
class Api:
    url: str
    key: str
    published: Path
    consumers: ConsumerStore
    release_ids: list[str]
    now: list[datetime] = field(default_factory=lambda: [datetime(2025, 3, 1, tzinfo=UTC)])
    log: list[str] = field(default_factory=list)

    def get(self, path: str, key: str | None = None, **kwargs) -> httpx.Response:
        headers = {"Authorization": f"Bearer {key or self.key}", **kwargs.pop("headers", {})}
        return httpx.get(self.url + path, headers=headers, timeout=30, **kwargs)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="session")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    root = tmp_path_factory.mktemp("api")
    published = root / "published"
    ids = publish_two_releases(published)
    consumers = ConsumerStore(root / "consumers.json")
    key = consumers.add("ministry of trade")
    holder = Api("", key, published, consumers, ids)
    app = create_app(published, consumers, clock=lambda: holder.now[0])
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port,
                                           access_log=False, log_config=None))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert time.monotonic() < deadline, "the API did not start"
        time.sleep(0.05)
    holder.url = f"http://127.0.0.1:{port}"
    yield holder
    server.should_exit = True
    thread.join(10)
