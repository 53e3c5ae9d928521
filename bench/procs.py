"""Process plumbing for the runner: pinned spawns, /proc CPU and memory readings, clean stops.

Reads /proc directly rather than needing psutil, so the harness runs with the gateway's own deps.
"""

from __future__ import annotations

import http.client
import os
import signal
import subprocess
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

CLK_TCK = os.sysconf("SC_CLK_TCK")
# Scheduling priority for every benchmark process (run.py --nice). Negative values (root only) keep a
# shared machine's other work from stealing the benchmark's cores; 0 leaves priorities alone.
NICE = 0


@dataclass(frozen=True)
class Cores:
    """Where each role runs. None means "not pinned" (a machine with fewer than two usable cores)."""

    load: int | None  # fake upstream, load generators, the runner itself
    proxy: int | None  # the proxy under test

    @staticmethod
    def detect() -> Cores:
        try:
            cpus = sorted(os.sched_getaffinity(0))
        except (AttributeError, OSError):  # not Linux
            return Cores(None, None)
        return Cores(cpus[0], cpus[1]) if len(cpus) >= 2 else Cores(None, None)


def pin_self(core: int | None) -> None:
    if core is not None:
        os.sched_setaffinity(0, {core})
    if NICE:
        os.setpriority(os.PRIO_PROCESS, 0, NICE)


def pinner(core: int | None) -> Callable[[], None]:
    """A preexec_fn that pins the child to one core (None: leave it free) at priority NICE."""
    nice = NICE

    def pin() -> None:
        if core is not None:
            os.sched_setaffinity(0, {core})
        if nice:
            os.setpriority(os.PRIO_PROCESS, 0, nice)

    return pin


def move(pid: int, core: int | None) -> None:
    """Pin every thread of a running process (and of its children) to `core`."""
    if core is None:
        return
    for p in tree(pid):
        try:
            tids = os.listdir(f"/proc/{p}/task")
        except OSError:
            continue
        for tid in tids:
            try:
                os.sched_setaffinity(int(tid), {core})
            except OSError:  # the thread ended meanwhile
                pass


def spawn(
    argv: Sequence[str], core: int | None, log: Path, env: dict[str, str] | None = None
) -> subprocess.Popen:
    """Start a process pinned to one core, in its own session so stop() can end it and its children."""
    out = log.open("ab")
    try:
        return subprocess.Popen(
            list(argv), stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            env=env, preexec_fn=pinner(core), start_new_session=True,
        )  # fmt: skip
    finally:
        out.close()


def stop(proc: subprocess.Popen, grace: float = 5.0) -> None:
    """SIGTERM the process group we created, then SIGKILL it if it lingers."""
    if proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(grace)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(grace)
    except ProcessLookupError:
        pass


def tree(pid: int) -> list[int]:
    """pid and all its descendants (a gateway may run worker processes)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(entry.name))
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(children.get(p, []))
    return out


def cpu_seconds(pids: Sequence[int]) -> float:
    """User + system CPU time of these processes so far (exited ones count as 0)."""
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / CLK_TCK


def machine_busy_seconds() -> float:
    """CPU time the whole machine (all cores) spent running processes, from /proc/stat.

    user + nice + system only: interrupt and softirq time (loopback networking) is partly our own
    traffic, and steal is the hypervisor's, so neither is blamed on other processes.
    """
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    return (fields[0] + fields[1] + fields[2]) / CLK_TCK


def wait_quiet(threshold_pct: float, max_wait_s: float, sample_s: float = 0.5) -> float:
    """Wait (bounded) until the machine is nearly idle; returns the last busy % of one core seen.

    Our own processes are idle between points, so what is busy here is someone else's work.
    """
    deadline = time.monotonic() + max_wait_s
    while True:
        busy0 = machine_busy_seconds()
        time.sleep(sample_s)
        pct = (machine_busy_seconds() - busy0) / sample_s * 100
        if pct <= threshold_pct or time.monotonic() >= deadline:
            return pct


def memory_mb(pids: Sequence[int]) -> tuple[float, float]:
    """(current RSS, peak RSS) in MB summed over the processes."""
    rss = hwm = 0
    for pid in pids:
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    rss += int(line.split()[1])
                elif line.startswith("VmHWM:"):
                    hwm += int(line.split()[1])
        except OSError:
            continue
    return rss / 1024, hwm / 1024


def http_status(
    host: str, port: int, path: str, timeout: float = 1.0, headers: dict[str, str] | None = None
) -> int | None:
    conn = http.client.HTTPConnection(host, port, timeout=timeout)
    try:
        conn.request("GET", path, headers=headers or {})
        return conn.getresponse().status
    except OSError:
        return None
    finally:
        conn.close()


def wait_ready(
    proc: subprocess.Popen,
    port: int,
    t0: float,
    path: str = "/healthz",
    limit: float = 15.0,
    headers: dict[str, str] | None = None,
) -> float | None:
    """Seconds from t0 (taken just before the spawn) until GET path answers 200.

    None if the process exits or the limit passes first.
    """
    while time.perf_counter() - t0 < limit:
        if proc.poll() is not None:
            return None
        if http_status("127.0.0.1", port, path, timeout=0.5, headers=headers) == 200:
            return time.perf_counter() - t0
        time.sleep(0.005)
    return None
