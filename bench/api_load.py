"""Load of the consumer API on loopback: N concurrent clients for S seconds.

    .venv/bin/python -m bench.api_load                   # 32 clients, 30 s
    .venv/bin/python -m bench.api_load --clients 8 --seconds 10 --months 60

Writes a published root of two releases (``--partners`` partners × 2 indicators ×
``--months`` months of bilateral trade; the second revises some rows), adds a consumer,
starts ``corridor serve`` in a child process, then runs a bounded asyncio loop of
``--clients`` clients, each sending one request after another for ``--seconds``: a mix
of a filtered key with a period range, the whole dataset, an ``updatedAfter`` and a
``304`` revalidation. Prints requests/s, p50/p99 latency, errors (anything but 200,
204 and 304, or a transport error) and the server's RSS (``/proc``) before and at the
end.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from corridor.api.consumers import ConsumerStore
from corridor.publish.release import write_release

DATA = "/sdmx/2.1/data/dataflow/CORRIDOR/DF_BILATERAL_TRADE/1.0.0"


def _published(root: Path, partners: int, months: int) -> Path:
    from corridor.reference import country_names

    codes = sorted(code for code in country_names() if code not in ("KAZ",))[:partners]
    periods = [f"{2020 + m // 12}-{m % 12 + 1:02d}" for m in range(months)]
    published = root / "published"
    for revised in (False, True):
        rows = sorted(
            ("M", "KAZ", partner, indicator, "_T", period,
             f"{1000 + i + (1 if revised and i % 50 == 0 else 0)}.00", "USD", "A")
            for i, (partner, indicator, period) in enumerate(
                itertools.product(codes, ("M_USD", "X_USD"), periods)))
        write_release(published, {"bilateral_trade": rows, "corridor_logistics": []},
                      inputs=[], quality={"success": True, "checks": []},
                      coverage={"first_period": periods[0], "last_period": periods[-1]})
    return published


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


async def _client(client: httpx.AsyncClient, until: float, etag: str,
                  latencies: list[float], errors: list[str], rng: random.Random) -> None:
    requests = [
        (f"{DATA}/M.KAZ.CHN+TUR.X_USD+M_USD._T", {"c[TIME_PERIOD]": "ge:2021-01+le:2021-12"},
         {}),
        (f"{DATA}/*", {}, {}),
        (f"{DATA}/*", {"updatedAfter": "2000-01-01T00:00:00Z"}, {}),
        (f"{DATA}/*", {}, {"If-None-Match": etag}),
    ]
    while time.monotonic() < until:
        path, params, headers = rng.choice(requests)
        started = time.perf_counter()
        try:
            response = await client.get(path, params=params, headers=headers)
            await response.aread()
            if response.status_code not in (200, 204, 304):
                errors.append(str(response.status_code))
        except httpx.HTTPError as error:
            errors.append(type(error).__name__)
        latencies.append(time.perf_counter() - started)


async def _load(url: str, key: str, clients: int, seconds: float) -> tuple[list, list]:
    headers = {"Authorization": f"Bearer {key}"}
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(base_url=url, headers=headers, limits=limits,
                                 timeout=60) as client:
        etag = (await client.get(f"{DATA}/*")).headers["etag"]
        latencies: list[float] = []
        errors: list[str] = []
        until = time.monotonic() + seconds
        await asyncio.gather(*(_client(client, until, etag, latencies, errors,
                                       random.Random(n)) for n in range(clients)))
    return latencies, errors


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--partners", type=int, default=50)
    parser.add_argument("--months", type=int, default=24)
    parser.add_argument("--port", type=int, default=8791)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as temporary:
        root = Path(temporary)
        published = _published(root, args.partners, args.months)
        rows = sum(1 for _ in (next((published / "releases").iterdir())
                                / "bilateral_trade.sdmx.csv").open()) - 1
        key = ConsumerStore(root / "consumers.json").add("bench")
        env = {**os.environ, "CORRIDOR_PUBLISH_DIR": str(published),
               "CORRIDOR_CONSUMERS_FILE": str(root / "consumers.json")}
        server = subprocess.Popen(
            [sys.executable, "-m", "corridor.cli", "serve", "--port", str(args.port)],
            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            url = f"http://127.0.0.1:{args.port}"
            deadline = time.monotonic() + 60
            while True:
                try:
                    httpx.get(f"{url}/releases", headers={"Authorization": f"Bearer {key}"})
                    break
                except httpx.TransportError:
                    if time.monotonic() > deadline or server.poll() is not None:
                        raise SystemExit("corridor serve did not start") from None
                    time.sleep(0.2)
            rss_before = _rss_mb(server.pid)
            started = time.monotonic()
            latencies, errors = asyncio.run(_load(url, key, args.clients, args.seconds))
            elapsed = time.monotonic() - started
            rss_after = _rss_mb(server.pid)
        finally:
            server.terminate()
            server.wait(30)
    quantiles = statistics.quantiles(latencies, n=100)
    print(f"dataset: {rows} observations per release, 2 releases; {args.clients} clients, "
          f"{args.seconds:.0f} s (one uvicorn worker)")
    print(f"requests: {len(latencies)}  ({len(latencies) / elapsed:.1f}/s)")
    print(f"latency: p50 {quantiles[49] * 1000:.1f} ms, p99 {quantiles[98] * 1000:.1f} ms")
    print(f"errors: {len(errors)}" + (f" ({sorted(set(errors))})" if errors else ""))
    print(f"server RSS: {rss_before:.0f} MB before, {rss_after:.0f} MB after")


if __name__ == "__main__":
    main()
