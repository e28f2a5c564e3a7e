"""``corridor consumers`` and ``corridor serve`` as a user runs them (subprocesses)."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import httpx

from tests.api.conftest import free_port, publish_two_releases


def corridor(*args: str, env: dict) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "corridor.cli", *args], env=env,
                          capture_output=True, text=True, timeout=120, check=False)


def test_consumers_add_list_revoke_and_serve(tmp_path):
    published = tmp_path / "published"
    ids = publish_two_releases(published)
    env = {**os.environ, "CORRIDOR_PUBLISH_DIR": str(published),
           "CORRIDOR_CONSUMERS_FILE": str(tmp_path / "consumers.json")}
    added = corridor("consumers", "add", "ministry", env=env)
    assert added.returncode == 0, added.stderr
    key = added.stdout.strip()
    assert key.startswith("crd_") and key not in (tmp_path / "consumers.json").read_text()
    assert corridor("consumers", "add", "ministry", env=env).returncode != 0  # one live key
    listed = corridor("consumers", "list", env=env).stdout
    assert listed.startswith("ministry\t") and key not in listed

    port = free_port()
    server = subprocess.Popen([sys.executable, "-m", "corridor.cli", "serve", "--port",
                               str(port)], env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True)
    try:
        url = f"http://127.0.0.1:{port}/releases"
        deadline = time.monotonic() + 60
        while True:
            try:
                response = httpx.get(url, headers={"Authorization": f"Bearer {key}"})
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline and server.poll() is None
                time.sleep(0.2)
        assert [r["release_id"] for r in response.json()] == ids
        assert corridor("consumers", "revoke", "ministry", env=env).returncode == 0
        assert httpx.get(url, headers={"Authorization": f"Bearer {key}"}).status_code == 401
    finally:
        server.terminate()
        output = server.communicate(timeout=30)[0]
    assert "GET /releases 200" in output and "GET /releases 401" in output
    assert key not in output and key.split("_")[2] not in output
    assert "revoked" in corridor("consumers", "list", env=env).stdout
