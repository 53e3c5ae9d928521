"""Runs one load measurement (wrk or the SSE client) and accounts for the CPU every party used.

CPU is read from /proc around the run: the proxy under test, the fake upstream, the load generator
(reaped children of the runner) and whatever else the machine did ("foreign"), which flags a noisy
neighbour that would make the numbers unreliable.
"""

from __future__ import annotations

import json
import resource
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import procs

BENCH_DIR = Path(__file__).resolve().parent
LUA = BENCH_DIR / "post.lua"
SSE_CLIENT = BENCH_DIR / "sse_client.py"
# Before each point, wait up to QUIET_WAIT_S for other processes to use under QUIET_PCT of a core:
# the machine may be shared, and a neighbour's burst would be charged to the proxy under test.
# QUIET_BUDGET_S caps the waiting over the whole run, so a machine that never calms down still
# finishes in bounded time (the report then carries a noise warning).
QUIET_PCT, QUIET_WAIT_S, QUIET_BUDGET_S = 20.0, 20.0, 120.0


def _wait_quiet() -> float | None:
    global QUIET_BUDGET_S
    limit = min(QUIET_WAIT_S, QUIET_BUDGET_S)
    if limit <= 0:
        return None
    t0 = time.monotonic()
    pct = procs.wait_quiet(QUIET_PCT, limit)
    QUIET_BUDGET_S -= time.monotonic() - t0
    return pct


@dataclass(frozen=True)
class Watch:
    """The processes whose CPU a measurement attributes by name."""

    proxy: int | None  # the proxy under test (None for direct)
    fake: int


def _children_cpu() -> float:
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime


def _self_cpu() -> float:
    ru = resource.getrusage(resource.RUSAGE_SELF)
    return ru.ru_utime + ru.ru_stime


def measured(argv: Sequence[str], core: int | None, watch: Watch, timeout: float) -> tuple[str, dict]:
    """Run a load generator to completion; returns its stdout and the CPU accounting of the run."""
    proxy_pids = procs.tree(watch.proxy) if watch.proxy else []
    quiet_pct = _wait_quiet()
    before = (procs.cpu_seconds(proxy_pids), procs.cpu_seconds([watch.fake]), _children_cpu(), _self_cpu())
    busy0, t0 = procs.machine_busy_seconds(), time.perf_counter()
    done = subprocess.run(list(argv), capture_output=True, timeout=timeout, preexec_fn=procs.pinner(core))
    wall = time.perf_counter() - t0
    busy = procs.machine_busy_seconds() - busy0
    after = (procs.cpu_seconds(proxy_pids), procs.cpu_seconds([watch.fake]), _children_cpu(), _self_cpu())
    proxy_s, fake_s, load_s, self_s = (a - b for a, b in zip(after, before, strict=True))
    cpu = {
        "wall_s": wall,
        "proxy_cpu_s": proxy_s,
        "fake_cpu_s": fake_s,
        "load_cpu_s": load_s,
        "foreign_cpu_s": max(0.0, busy - proxy_s - fake_s - load_s - self_s),
        "busy_before_pct": quiet_pct,
    }
    if done.returncode:
        raise RuntimeError(f"{Path(argv[0]).name} exited {done.returncode}: {done.stderr.decode()[-400:]}")
    return done.stdout.decode(), cpu


def wrk(
    url: str, body_file: Path, headers: Sequence[str], conc: int, seconds: int, core: int | None, watch: Watch
) -> dict:
    """wrk at fixed concurrency for a fixed duration: req/s, latency percentiles, errors, CPU."""
    argv = ["wrk", "-t1", f"-c{conc}", f"-d{seconds}s", "--timeout", "5s", "-s", str(LUA), url]
    argv += ["--", str(body_file), *headers]
    out, cpu = measured(argv, core, watch, timeout=seconds + 30)
    line = next((ln for ln in out.splitlines() if ln.startswith("BENCH_JSON ")), None)
    if line is None:
        raise RuntimeError(f"wrk printed no summary: {out[-400:]}")
    res = json.loads(line.removeprefix("BENCH_JSON "))
    res["rps"] = res["requests"] / (res["duration_us"] / 1e6)
    res["errors"] = sum(v for k, v in res.items() if k.startswith("err_"))
    return res | cpu


def sse(
    url: str, body_file: Path, headers: Sequence[str], marker: bytes, conc: int, requests: int,
    core: int | None, watch: Watch,
) -> dict:  # fmt: skip
    """The SSE client: TTFB and TTLB percentiles (ms) over a bounded number of streams."""
    argv = [sys.executable, str(SSE_CLIENT), "--url", url, "--body-file", str(body_file), "--json"]
    argv += ["--concurrency", str(conc), "--requests", str(requests), "--marker", marker.decode()]
    argv += ["--max-seconds", "120"]
    for h in headers:
        argv += ["--header", h]
    out, cpu = measured(argv, core, watch, timeout=150)
    return json.loads(out.strip().splitlines()[-1]) | cpu
