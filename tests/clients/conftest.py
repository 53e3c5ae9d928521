"""Fixtures for driving the real AI CLIs (Claude Code, Codex, Gemini CLI) against a gateway.

The CLIs live in a cache outside the repo (`$LEVITY_CLI_CACHE`, default /tmp/levity-cli-cache),
installed at pinned versions by `install_clis.sh` (CI runs it; the session fixture below runs it
too, which is instant once installed). Each run gets a throwaway HOME, a minimal environment
(nothing inherited that could point a CLI elsewhere or leak a real key) and the settings from
/work/shared/clients.md that switch off every call to another host.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.integration.fake_upstream import FakeUpstream

HERE = Path(__file__).resolve().parent
CLI_CACHE = Path(os.environ.get("LEVITY_CLI_CACHE", "/tmp/levity-cli-cache"))
CLI_BIN = CLI_CACHE / "bin"
CLIS = ("claude", "codex", "gemini")


@pytest.fixture(scope="session")
def cli_bin() -> Path:
    """The directory holding the three CLIs; installs them (pinned) when missing."""
    if not all((CLI_BIN / name).exists() for name in CLIS):
        done = subprocess.run(
            ["bash", str(HERE / "install_clis.sh")], capture_output=True, text=True, timeout=600
        )
        assert done.returncode == 0, f"installing the CLIs failed:\n{done.stdout}\n{done.stderr}"
    missing = [name for name in CLIS if not (CLI_BIN / name).exists()]
    assert not missing, f"CLIs missing from {CLI_BIN}: {missing}; run tests/clients/install_clis.sh"
    return CLI_BIN


@pytest.fixture
def fake() -> Iterator[FakeUpstream]:
    up = FakeUpstream().start()
    yield up
    up.stop()


@dataclass
class CliRun:
    argv: list[str]
    returncode: int
    stdout: str
    stderr: str

    def json(self) -> Any:
        return json.loads(self.stdout)

    def explain(self, server: Any = None, fake: FakeUpstream | None = None) -> str:
        """Everything needed to see why a client run went wrong, for assertion messages."""
        parts = [
            f"argv: {self.argv}",
            f"exit: {self.returncode}",
            f"stdout:\n{self.stdout[-4000:]}",
            f"stderr:\n{self.stderr[-4000:]}",
        ]
        if server is not None:
            parts.append(f"gateway log:\n{server.log()[-4000:]}")
        if fake is not None:
            parts.append("upstream saw: " + ", ".join(f"{r.path}?{r.query}" for r in fake.calls()))
        return "\n".join(parts)


class CliHome:
    """A throwaway HOME (and working directory) for one CLI run."""

    def __init__(self, root: Path, bin_dir: Path) -> None:
        self.home = root / "home"
        self.work = root / "work"
        self.home.mkdir(parents=True)
        self.work.mkdir()
        node_dir = Path(shutil.which("node") or "/usr/bin/node").parent
        self.env: dict[str, str] = {
            "HOME": str(self.home),
            "PATH": os.pathsep.join([str(bin_dir), str(node_dir), "/usr/local/bin", "/usr/bin", "/bin"]),
            "LANG": "C.UTF-8",
            "TERM": "dumb",
            "NO_COLOR": "1",
            "CI": "1",
            "TMPDIR": str(root),
            # Loopback must never go through a proxy, whatever the machine has configured.
            "NO_PROXY": "127.0.0.1,localhost",
            "no_proxy": "127.0.0.1,localhost",
        }

    def run(self, argv: list[str], extra_env: dict[str, str], timeout: float = 60) -> CliRun:
        try:
            done = subprocess.run(
                argv,
                cwd=self.work,
                env={**self.env, **extra_env},
                stdin=subprocess.DEVNULL,
                capture_output=True,
                text=True,
                timeout=timeout,
            )
        except subprocess.TimeoutExpired as exc:
            out = exc.stdout.decode(errors="replace") if isinstance(exc.stdout, bytes) else exc.stdout or ""
            err = exc.stderr.decode(errors="replace") if isinstance(exc.stderr, bytes) else exc.stderr or ""
            return CliRun(argv, -9, out, err + f"\n[timed out after {timeout}s]")
        return CliRun(argv, done.returncode, done.stdout, done.stderr)


@pytest.fixture
def cli_home(tmp_path: Path, cli_bin: Path) -> CliHome:
    return CliHome(tmp_path / "cli", cli_bin)
