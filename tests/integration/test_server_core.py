"""Server, config, hot reload, listener re-bind, limits, error shapes and the CLI."""

from __future__ import annotations

import os
import re
import socket
import stat
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
import tomli_w

from tests.conftest import ROOT, LevityServer, free_port, wait_port


def test_first_start_creates_private_config_with_fresh_key(tmp_path: Path) -> None:
    home = tmp_path / "fresh"
    port = free_port()
    env = {**os.environ, "LEVITY_HOME": str(home), "LEVITY_PORT": str(port), "PYTHONPATH": str(ROOT / "src")}
    proc = subprocess.Popen(
        [sys.executable, "-m", "levity", "serve"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        wait_port(port, proc=proc)
        r = httpx.get(f"http://127.0.0.1:{port}/healthz")
        assert r.status_code == 200 and r.json()["status"] == "ok" and r.json()["version"]
    finally:
        proc.terminate()
        out = proc.communicate(timeout=5)[0]
    assert stat.S_IMODE(home.stat().st_mode) == 0o700
    cfg = home / "config.toml"
    assert stat.S_IMODE(cfg.stat().st_mode) == 0o600
    key = re.search(r'api_key = "([^"]+)"', cfg.read_text()).group(1)
    assert re.fullmatch(r"sk-[0-9a-f]{32}", key)
    # The banner says where the key is, and the effective mode, but never the key itself.
    assert key not in out
    assert "effective: off" in out and str(cfg) in out and "levity key show" in out
    shown = subprocess.run(
        [sys.executable, "-m", "levity", "key", "show"], env=env, capture_output=True, text=True
    )
    assert shown.stdout.strip() == key


def test_config_validation_names_field_and_value(tmp_path: Path) -> None:
    s = LevityServer(tmp_path / "h")
    (s.home / "config.toml").write_text(tomli_w.dumps({"proxy": {"port": s.port, "auth_mode": "sometimes"}}))
    r = s.cli("config", "get", "proxy.port")
    assert r.returncode != 0 and "proxy.auth_mode" in r.stderr and "sometimes" in r.stderr
    assert "Traceback" not in r.stderr
    (s.home / "config.toml").write_text(tomli_w.dumps({"proxy": {"port": s.port, "colour": "blue"}}))
    r = s.cli("config", "get", "proxy.port")
    assert r.returncode != 0 and "proxy.colour: unknown key" in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1


def test_cli_config_set_get_and_errors(tmp_path: Path) -> None:
    s = LevityServer(tmp_path / "h")
    assert s.cli("config", "set", "proxy.auth_mode", "strict").returncode == 0
    assert s.cli("config", "get", "proxy.auth_mode").stdout.strip() == "strict"
    r = s.cli("config", "set", "proxy.port", "70000")
    assert (
        r.returncode != 0 and "proxy.port" in r.stderr and "70000" in r.stderr and "Traceback" not in r.stderr
    )
    r = s.cli("config", "set", "proxy.nope", "1")
    assert r.returncode != 0 and "unknown config key: proxy.nope" in r.stderr
    r = s.cli("--version")
    assert r.returncode == 0 and "levity" in r.stdout


def test_patch_config_validates_and_masks(server: LevityServer) -> None:
    with server.admin() as c:
        r = c.patch("/api/config", json={"proxy": {"auth_mode": "sometimes"}})
        assert r.status_code == 422 and "proxy.auth_mode" in r.json()["error"]["message"]
        r = c.patch("/api/config", json={"proxy": {"bogus": 1}})
        assert r.status_code == 422 and "proxy.bogus: unknown key" in r.json()["error"]["message"]
        r = c.patch("/api/config", content=b"not json")
        assert r.status_code == 400
        data = c.get("/api/config").json()
    assert data["proxy"]["api_key"] == "****" + server.api_key[-4:]
    assert server.api_key not in str(data)
    assert data["effective_auth_mode"] == "off" and data["bind_address"] == "127.0.0.1"


def test_key_change_applies_to_next_request_without_restart(make_server: Any) -> None:
    s = make_server(proxy={"auth_mode": "strict"})
    old = s.api_key
    assert httpx.get(s.base + "/healthz", headers={"x-api-key": old}).status_code == 200
    # Through the admin API: the very next request sees the new key.
    r = httpx.post(s.base + "/api/proxy/api-key/regenerate", headers={"x-api-key": old})
    new = r.json()["api_key"]
    assert re.fullmatch(r"sk-[0-9a-f]{32}", new) and new != old
    assert httpx.get(s.base + "/healthz", headers={"x-api-key": old}).status_code == 401
    assert httpx.get(s.base + "/healthz", headers={"x-api-key": new}).status_code == 200
    # By editing the file: the watcher swaps the snapshot.
    cfg = s.read_config()
    cfg["proxy"]["api_key"] = "sk-edited-by-hand-000000000000000"
    (s.home / "config.toml").write_text(tomli_w.dumps(cfg))
    deadline = time.monotonic() + 3
    while httpx.get(s.base + "/healthz", headers={"x-api-key": new}).status_code != 401:
        assert time.monotonic() < deadline, "file edit not picked up"
        time.sleep(0.05)
    assert (
        httpx.get(s.base + "/healthz", headers={"x-api-key": "sk-edited-by-hand-000000000000000"}).status_code
        == 200
    )
    # `levity key regenerate` from the CLI reaches the running server too.
    newest = s.cli("key", "regenerate").stdout.strip()
    deadline = time.monotonic() + 3
    while httpx.get(s.base + "/healthz", headers={"x-api-key": newest}).status_code != 200:
        assert time.monotonic() < deadline, "CLI change not picked up"
        time.sleep(0.05)
    # A broken edit keeps the last good snapshot.
    (s.home / "config.toml").write_text("[proxy\nbroken")
    time.sleep(0.6)
    assert httpx.get(s.base + "/healthz", headers={"x-api-key": newest}).status_code == 200
    assert "config file change ignored" in s.log()


def test_port_change_rebinds_live_and_failed_rebind_keeps_listener(server: LevityServer) -> None:
    key = server.api_key
    old_port, new_port = server.port, free_port()
    server.patch({"proxy": {"port": new_port}})
    wait_port(new_port)
    assert httpx.get(f"http://127.0.0.1:{new_port}/healthz").status_code == 200
    deadline = time.monotonic() + 3
    while True:
        try:
            socket.create_connection(("127.0.0.1", old_port), timeout=0.2).close()
        except OSError:
            break
        assert time.monotonic() < deadline, "old socket still open"
        time.sleep(0.05)
    server.port = new_port
    # Occupy a port, then ask for it: the old listener stays and the error is reported.
    blocker = socket.socket()
    blocker.bind(("127.0.0.1", 0))
    blocker.listen()
    taken = blocker.getsockname()[1]
    try:
        httpx.patch(server.base + "/api/config", json={"proxy": {"port": taken}}, headers={"x-api-key": key})
        deadline = time.monotonic() + 3
        while not (
            err := httpx.get(server.base + "/api/config", headers={"x-api-key": key}).json()["listener"][
                "error"
            ]
        ):
            assert time.monotonic() < deadline
            time.sleep(0.05)
        assert str(taken) in err and f"still listening on 127.0.0.1:{new_port}" in err
        assert httpx.get(server.base + "/healthz").status_code == 200
    finally:
        blocker.close()


def test_lan_access_moves_bind_address(server: LevityServer) -> None:
    server.patch({"proxy": {"allow_lan_access": True}})
    deadline = time.monotonic() + 3
    while True:
        data = httpx.get(server.base + "/api/config", headers={"x-api-key": server.api_key}).json()
        if data["listener"]["host"] == "0.0.0.0":
            break
        assert time.monotonic() < deadline
        time.sleep(0.05)
    assert data["bind_address"] == "0.0.0.0" and data["effective_auth_mode"] == "all_except_health"
    out = subprocess.run(["ss", "-ltn"], capture_output=True, text=True).stdout
    assert f"0.0.0.0:{server.port}" in out and f"127.0.0.1:{server.port}" not in out
    # auto + LAN: healthz open, the rest needs the key.
    assert httpx.get(server.base + "/healthz").status_code == 200
    assert httpx.get(server.base + "/v1/models").status_code == 401


def test_cli_overrides_host_and_port(make_server: Any) -> None:
    port = free_port()
    s = make_server(args=["--port", str(port)])
    assert httpx.get(f"http://127.0.0.1:{port}/healthz").status_code == 200
    assert s.config_port != port
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"http://127.0.0.1:{s.config_port}/healthz")


def test_env_overrides(make_server: Any) -> None:
    s = make_server(env={"LEVITY_AUTH_MODE": "strict", "LEVITY_API_KEY": "sk-from-env-0000000000000000000"})
    assert httpx.get(s.base + "/healthz").status_code == 401
    assert (
        httpx.get(s.base + "/healthz", headers={"x-api-key": "sk-from-env-0000000000000000000"}).status_code
        == 200
    )
    r = httpx.patch(
        s.base + "/api/config",
        json={"proxy": {"auth_mode": "off"}},
        headers={"x-api-key": "sk-from-env-0000000000000000000"},
    )
    assert r.status_code == 422 and "LEVITY_AUTH_MODE" in r.json()["error"]["message"]


def test_body_limit_413_without_reading_rest(make_server: Any) -> None:
    s = make_server(proxy={"max_body_bytes": 2048})
    with socket.create_connection(("127.0.0.1", s.port), timeout=5) as sock:
        sock.sendall(
            b"POST /v1/messages HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Content-Length: 100000000\r\n\r\n{"
        )
        data = sock.recv(65536).decode()
    assert data.startswith("HTTP/1.1 413")
    assert '"type":"request_too_large"' in data

    # Chunked bodies are measured as they arrive.
    def gen() -> Any:
        for _ in range(10):
            yield b"x" * 1024

    r = httpx.post(s.base + "/v1/chat/completions", content=gen())
    assert r.status_code in (413, 404)


@pytest.mark.parametrize(
    ("path", "hint"),
    [
        ("/v1/v1/chat/completions", "already ends in /v1"),
        ("/chat/completions", "add /v1 to your base URL"),
        ("/v1/chat/completions/extra", "remove what follows /v1/chat/completions"),
        ("/v1beta/models/models/gemini-2.5-flash:generateContent", "models/ prefix"),
    ],
)
def test_unknown_paths_404_with_hints(server: LevityServer, path: str, hint: str) -> None:
    r = httpx.post(server.base + path, json={})
    assert r.status_code == 404
    assert hint in str(r.json())
    if path.startswith("/v1beta"):
        assert r.json()["error"]["status"] == "NOT_FOUND"


def test_cors_preflight_and_head(make_server: Any) -> None:
    s = make_server(proxy={"auth_mode": "strict"})
    r = httpx.options(
        s.base + "/v1/chat/completions",
        headers={
            "Origin": "http://example.test",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization,content-type",
        },
    )
    assert r.status_code == 204
    assert r.headers["access-control-allow-origin"] == "http://example.test"
    assert "authorization" in r.headers["access-control-allow-headers"]
    r = httpx.get(s.base + "/healthz", headers={"Origin": "http://example.test", "x-api-key": s.api_key})
    assert r.headers["access-control-allow-origin"] == "http://example.test"
    # HEAD answers quickly on any path (401 here: strict mode still applies to it).
    t = time.monotonic()
    assert httpx.head(s.base + "/").status_code in (200, 302)
    assert httpx.head(s.base + "/v1/messages", headers={"x-api-key": s.api_key}).status_code == 200
    assert httpx.head(s.base + "/v1/messages").status_code == 401
    assert time.monotonic() - t < 1.0
