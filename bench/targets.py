"""The things under test: direct to the fake upstream, the bare pass-through, and Levity instances."""

from __future__ import annotations

import http.client
import os
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import levity_target
import procs
from scenarios import Scenario

BENCH_DIR = Path(__file__).resolve().parent
DIRECT_KEY = "sk-direct-bench"


@dataclass
class Target:
    name: str
    kind: str  # "direct", "bare" or "levity"
    port: int
    wires: tuple[str, ...]  # client wires it accepts
    proc: subprocess.Popen | None = None
    cold_start_s: float | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc else None

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def headers(self, wire: str) -> list[str]:
        if self.kind == "levity":
            return levity_target.client_headers(wire)
        if wire == "anthropic":
            return [f"x-api-key: {DIRECT_KEY}", f"anthropic-version: {levity_target.ANTHROPIC_VERSION}"]
        return [f"Authorization: Bearer {DIRECT_KEY}"]


def start_fake(port: int, core: int | None, logs: Path, chunks: int, paced_ms: float) -> subprocess.Popen:
    argv = [sys.executable, str(BENCH_DIR / "fake_upstream.py"), "--port", str(port)]
    argv += ["--chunks", str(chunks), "--paced-ms", str(paced_ms)]
    t0 = time.perf_counter()
    proc = procs.spawn(argv, core, logs / "fake_upstream.log")
    if procs.wait_ready(proc, port, t0) is None:
        procs.stop(proc)
        raise RuntimeError(f"fake upstream did not start; see {logs / 'fake_upstream.log'}")
    return proc


def start_bare(port: int, fake_url: str, core: int | None, logs: Path) -> Target:
    argv = [sys.executable, str(BENCH_DIR / "bare_proxy.py"), "--port", str(port), "--upstream", fake_url]
    t0 = time.perf_counter()
    target = Target("bare pass-through", "bare", port, ("openai", "anthropic"))
    target.proc = procs.spawn(argv, core, logs / "bare_proxy.log")
    target.cold_start_s = procs.wait_ready(target.proc, port, t0)
    if target.cold_start_s is None:
        procs.stop(target.proc)
        raise RuntimeError(f"bare proxy did not start; see {logs / 'bare_proxy.log'}")
    return target


def levity_env(src: Path | None, home: Path) -> dict[str, str]:
    env = dict(os.environ, LEVITY_HOME=str(home))
    if src is not None:
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(src), env.get("PYTHONPATH")]))
    return env


def start_levity(
    spec: levity_target.LevitySpec, python: str, src: Path | None, port: int, fake_url: str,
    core: int | None, work: Path,
) -> Target:  # fmt: skip
    """Set up and start one Levity instance; raises RuntimeError with the reason when it cannot."""
    slug = spec.name.replace(" ", "-").replace("→", "-to-")
    home = work / slug
    env = levity_env(src, home)
    argv = levity_target.prepare(spec, python, home, port, fake_url, env)
    target = Target(spec.name, "levity", port, (spec.client_wire,))
    log = work / f"{slug}.log"
    t0 = time.perf_counter()
    target.proc = procs.spawn(argv, core, log, env)
    health = levity_target.health_headers()
    target.cold_start_s = procs.wait_ready(target.proc, port, t0, limit=20.0, headers=health)
    if target.cold_start_s is None:
        procs.stop(target.proc)
        tail = log.read_text(errors="replace")[-600:] if log.exists() else ""
        raise RuntimeError(f"`levity serve` gave no 200 on /healthz within 20 s; log tail: {tail}")
    return target


def check(target: Target, scenario: Scenario, body: bytes, timeout: float = 15.0) -> str | None:
    """One request before any load: None when the reply is a 200 with the expected content."""
    conn = http.client.HTTPConnection("127.0.0.1", target.port, timeout=timeout)
    try:
        headers = {"Content-Type": "application/json"}
        for h in target.headers(scenario.wire):
            name, _, value = h.partition(":")
            headers[name.strip()] = value.strip()
        conn.request("POST", scenario.path, body=body, headers=headers)
        resp = conn.getresponse()
        data = resp.read()
    except OSError as exc:
        return f"{type(exc).__name__}: {exc}"
    finally:
        conn.close()
    if resp.status != 200:
        return f"HTTP {resp.status}: {data[:300]!r}"
    if scenario.marker not in data:
        return f"reply lacks {scenario.marker!r}: {data[:300]!r}"
    return None
