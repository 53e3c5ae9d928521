"""Shared fixtures: a real `levity serve` process on a free loopback port."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

try:  # test-side client only (the SDKs bring it); never on the gateway's request path
    import httpx
except ImportError:  # some SDK builds ship it renamed as httpx2
    import httpx2 as httpx  # type: ignore[no-redef]
import pytest
import tomli_w

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port: int, timeout: float = 10.0, proc: subprocess.Popen | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"server exited early with {proc.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.03)
    raise TimeoutError(f"port {port} did not open")


class LevityServer:
    """A gateway process with its own LEVITY_HOME; `config` edits the file like a user would."""

    def __init__(
        self,
        home: Path,
        proxy: dict[str, Any] | None = None,
        env: dict[str, str] | None = None,
        args: list[str] | None = None,
    ) -> None:
        self.home = home
        self.port = free_port()
        self.api_key = "sk-test-" + os.urandom(8).hex()
        home.mkdir(parents=True, exist_ok=True)
        data = {"proxy": {"port": self.port, "api_key": self.api_key, **(proxy or {})}}
        (home / "config.toml").write_text(tomli_w.dumps(data))
        self.api_key = data["proxy"]["api_key"]
        self.env = {**os.environ, "LEVITY_HOME": str(home), **(env or {})}
        self.env.pop("HTTP_PROXY", None)
        self.env.pop("HTTPS_PROXY", None)
        src = str(ROOT / "src")
        self.env["PYTHONPATH"] = src + os.pathsep + self.env.get("PYTHONPATH", "")
        self.args = args or []
        self.config_port = self.port
        if "--port" in self.args:  # the command line wins for this run
            self.port = int(self.args[self.args.index("--port") + 1])
        self.log_path = home / "server.log"
        self.proc: subprocess.Popen | None = None

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> LevityServer:
        self._log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "levity", "serve", *self.args],
            env=self.env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )
        wait_port(self.port, proc=self.proc)
        return self

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        if getattr(self, "_log", None):
            self._log.close()

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "levity", *args], env=self.env, capture_output=True, text=True, timeout=30
        )

    def read_config(self) -> dict[str, Any]:
        return tomllib.loads((self.home / "config.toml").read_text())

    def admin_key(self) -> str:
        proxy = self.read_config()["proxy"]
        return proxy.get("admin_password") or proxy.get("api_key", "")

    def admin(self) -> httpx.Client:
        return httpx.Client(
            base_url=self.base, headers={"Authorization": f"Bearer {self.admin_key()}"}, timeout=10
        )

    def patch(self, patch: dict[str, Any]) -> dict[str, Any]:
        with self.admin() as c:
            r = c.patch("/api/config", json=patch)
            assert r.status_code == 200, r.text
            return r.json()


@pytest.fixture
def make_server(tmp_path: Path) -> Iterator[Any]:
    servers: list[LevityServer] = []

    def factory(**kw: Any) -> LevityServer:
        prepare = kw.pop("prepare", None)  # called with the home directory before the process starts
        s = LevityServer(tmp_path / f"home{len(servers)}", **kw)
        servers.append(s)
        if prepare is not None:
            prepare(s.home)
        return s.start()

    yield factory
    for s in servers:
        s.stop()


@pytest.fixture
def server(make_server: Any) -> LevityServer:
    return make_server()
