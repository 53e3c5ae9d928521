"""Turns the runner's raw numbers into the Markdown report (medians over rounds, ratios, goals)."""

from __future__ import annotations

import argparse
import datetime as dt
import platform
import statistics
import subprocess
import sys
from collections.abc import Iterable

DIRECT, BARE = "direct (fake upstream)", "bare pass-through"
NOISY_FOREIGN_PCT = 10.0  # other processes using more than this much of a core make numbers suspect
RSS_LIMIT_MB, RSS_FLAT_PCT = 120.0, 5.0


def machine_meta(args: argparse.Namespace, cores: object, now: dt.datetime) -> dict:
    try:
        wrk = (
            subprocess.run(["wrk", "--version"], capture_output=True, text=True).stdout.split("[")[0].strip()
        )
    except OSError:
        wrk = "?"
    try:
        import aiohttp

        aiohttp_version = aiohttp.__version__
    except ImportError:
        aiohttp_version = "?"
    cpu = next(
        (ln.split(":", 1)[1].strip() for ln in open("/proc/cpuinfo") if ln.startswith("model name")), "?"
    )
    return {
        "date": now.strftime("%Y-%m-%d %H:%M"),
        "mode": "quick" if args.quick else "full",
        "rounds": args.rounds,
        "duration_s": args.duration,
        "levels": args.levels,
        "chunks": args.chunks,
        "paced_ms": args.paced_ms,
        "sse_requests": args.sse_requests,
        "cores": repr(cores),
        "cpu": cpu,
        "python": platform.python_version(),
        "aiohttp": aiohttp_version,
        "wrk": wrk,
        "nice": args.nice,
        "argv": " ".join(sys.argv[1:]),
    }


def _med(rows: Iterable[dict], key: str) -> float | None:
    values = [r[key] for r in rows]
    return statistics.median(values) if values else None


def _pick(rows: list[dict], **where: object) -> list[dict]:
    return [r for r in rows if all(r.get(k) == v for k, v in where.items())]


def _f(value: float | None, fmt: str = "{:.0f}") -> str:
    return "—" if value is None else fmt.format(value)


def _table(head: list[str], rows: list[list[str]]) -> list[str]:
    return [
        "| " + " | ".join(head) + " |",
        "|" + "---|" * len(head),
        *("| " + " | ".join(r) + " |" for r in rows),
    ]


class Numbers:
    """Median-over-rounds accessors on the raw results."""

    def __init__(self, res: dict) -> None:
        self.res = res
        self.load, self.sse = res["load"], res["sse"]
        self.shared = res.get("shared", [])  # c=1 with the proxy on the load core

    def load_med(self, target: str, scenario: str, conc: int, key: str) -> float | None:
        return _med(_pick(self.load, target=target, scenario=scenario, conc=conc), key)

    def per_req_us(self, target: str, scenario: str, conc: int, cpu_key: str) -> float | None:
        rows = _pick(self.load, target=target, scenario=scenario, conc=conc)
        return statistics.median(r[cpu_key] / max(1, r["requests"]) * 1e6 for r in rows) if rows else None

    def core_pct(self, target: str, scenario: str, conc: int, cpu_key: str) -> float | None:
        rows = _pick(self.load, target=target, scenario=scenario, conc=conc)
        return statistics.median(r[cpu_key] / r["wall_s"] * 100 for r in rows) if rows else None

    def ratio(self, target: str, scenario: str, conc: int) -> float | None:
        mine, bare = self.load_med(target, scenario, conc, "rps"), self.load_med(BARE, scenario, conc, "rps")
        return mine / bare if mine is not None and bare else None

    def cpu_ratio(self, target: str, scenario: str) -> float | None:
        """Bare's proxy CPU per request over this target's at c=16: the req/s ratio two proxies
        would have if each had a core to itself, which a busy machine cannot distort much."""
        mine = self.per_req_us(target, scenario, 16, "proxy_cpu_s")
        bare = self.per_req_us(BARE, scenario, 16, "proxy_cpu_s")
        return bare / mine if mine and bare is not None else None

    def noisy(self, *targets: str, scenario: str, conc: int | None = None, sse: bool = False) -> bool:
        """Whether other processes took over NOISY_FOREIGN_PCT of a core during these points."""
        rows = [
            r for t in targets
            for r in _pick(self.sse if sse else self.load, target=t, scenario=scenario)
            if conc is None or r.get("conc") == conc
        ]  # fmt: skip
        return any(r["foreign_cpu_s"] / r["wall_s"] * 100 > NOISY_FOREIGN_PCT for r in rows if r["wall_s"])

    def added_ms(self, target: str, scenario: str, key: str, shared: bool = False) -> float | None:
        mine = self.shared_med(target, scenario, key) if shared else self.load_med(target, scenario, 1, key)
        direct = self.load_med(DIRECT, scenario, 1, key)
        return (mine - direct) / 1000 if mine is not None and direct is not None else None

    def shared_med(self, target: str, scenario: str, key: str) -> float | None:
        return _med(_pick(self.shared, target=target, scenario=scenario), key)

    def sse_med(self, target: str, scenario: str, key: str) -> float | None:
        return _med(_pick(self.sse, target=target, scenario=scenario), key)

    def sse_added(self, target: str, scenario: str, key: str) -> float | None:
        mine, direct = self.sse_med(target, scenario, key), self.sse_med(DIRECT, scenario, key)
        return mine - direct if mine is not None and direct is not None else None


def _pairs(rows: list[dict]) -> list[tuple[str, str]]:
    """(scenario, target) in run order, grouped by scenario."""
    order = {sc: i for i, sc in enumerate(dict.fromkeys(r["scenario"] for r in rows))}
    pairs = dict.fromkeys((r["scenario"], r["target"]) for r in rows)
    return sorted(pairs, key=lambda p: order[p[0]])  # stable: targets keep their run order


def capacity_section(res: dict) -> list[str]:
    rows = []
    for r in res["capacity"]:
        us = r["fake_cpu_s"] / max(1, r["requests"]) * 1e6
        rows.append(
            [r["scenario"], f"{r['rps']:.0f}", f"{us:.1f}", f"{r['fake_cpu_s'] / r['wall_s'] * 100:.0f}"]
        )
    return _table(["reply", "req/s", "fake CPU µs/req", "fake core %"], rows)


def throughput_section(n: Numbers, levels: list[int]) -> list[str]:
    head = ["scenario", "target", *(f"c={c}" for c in levels), "×bare c=16", "×bare c=64"]
    head += ["proxy CPU µs/req c=16", "×bare by CPU", "proxy core % c=16", "load core % c=16", "errors"]
    rows = []
    for sc, t in _pairs(n.load):
        row = [sc, t, *(_f(n.load_med(t, sc, c, "rps")) for c in levels)]
        row += [_f(n.ratio(t, sc, 16), "{:.2f}"), _f(n.ratio(t, sc, 64), "{:.2f}")]
        proxy = t != DIRECT
        row.append(_f(n.per_req_us(t, sc, 16, "proxy_cpu_s") if proxy else None))
        row.append(_f(n.cpu_ratio(t, sc) if proxy else None, "{:.2f}"))
        row.append(_f(n.core_pct(t, sc, 16, "proxy_cpu_s") if proxy else None))
        fake, load = n.core_pct(t, sc, 16, "fake_cpu_s"), n.core_pct(t, sc, 16, "load_cpu_s")
        row.append(_f(fake + load if fake is not None and load is not None else None))
        row.append(str(sum(r["errors"] for r in _pick(n.load, target=t, scenario=sc))))
        rows.append(row)
    return _table(head, rows)


def latency_section(n: Numbers, shared: bool = False) -> list[str]:
    rows = []
    for sc, t in _pairs(n.shared if shared else _pick(n.load, conc=1)):
        if shared:
            p50, p99 = n.shared_med(t, sc, "p50_us"), n.shared_med(t, sc, "p99_us")
        else:
            p50, p99 = n.load_med(t, sc, 1, "p50_us"), n.load_med(t, sc, 1, "p99_us")
        rows.append(
            [sc, t, _f(p50 and p50 / 1000, "{:.3f}"), _f(p99 and p99 / 1000, "{:.3f}"),
             _f(n.added_ms(t, sc, "p50_us", shared), "{:+.3f}"),
             _f(n.added_ms(t, sc, "p99_us", shared), "{:+.3f}")]
        )  # fmt: skip
    return _table(["scenario", "target", "p50 ms", "p99 ms", "added p50 ms", "added p99 ms"], rows)


def sse_section(n: Numbers) -> list[str]:
    rows = []
    for sc, t in _pairs(n.sse):
        rows.append(
            [sc, t, *(_f(n.sse_med(t, sc, k), "{:.3f}") for k in ("ttfb_p50_ms", "ttfb_p99_ms")),
             *(_f(n.sse_added(t, sc, k), "{:+.3f}") for k in ("ttfb_p50_ms", "ttfb_p99_ms")),
             *(_f(n.sse_med(t, sc, k), "{:.2f}") for k in ("ttlb_p50_ms", "ttlb_p99_ms")),
             str(sum(r["errors"] for r in _pick(n.sse, target=t, scenario=sc)))]
        )  # fmt: skip
    head = ["scenario", "target", "TTFB p50 ms", "TTFB p99 ms", "added TTFB p50", "added TTFB p99"]
    return _table(head + ["TTLB p50 ms", "TTLB p99 ms", "errors"], rows)


def process_section(res: dict) -> list[str]:
    rows = []
    for name, p in res["procs"].items():
        soak = res["soak"].get(name)
        soak_txt = "—"
        if soak:
            soak_txt = " → ".join(f"{mb:.1f}" for mb in soak["rss_mb"])
            soak_txt += (
                f" (at {', '.join(f'{k // 1000}k' for k in soak['requests'])} req; {soak['errors']} errors)"
            )
        cold = _f(p["cold_start_s"] and p["cold_start_s"] * 1000, "{:.0f} ms")
        rows.append([name, cold, f"{p['rss_mb']:.1f}", f"{p['peak_rss_mb']:.1f}", soak_txt])
    return _table(
        ["target", "cold start to /healthz 200", "RSS MB at end", "peak RSS MB", "soak RSS MB"], rows
    )


def goals(res: dict, n: Numbers) -> list[list[str]]:
    """The issue's targets, checked for each Levity target that ran.

    A verdict from points during which other processes were busy is marked "(noisy)".
    """
    out: list[list[str]] = []

    def add(goal: str, target: str, value: float | None, ok: bool, fmt: str, noisy: bool = False) -> None:
        if value is not None:  # a point that did not run is not a verdict
            verdict = ("pass" if ok else "FAIL") + (" (noisy)" if noisy else "")
            out.append([goal, target, _f(value, fmt), verdict])

    levity = [name for name in res["procs"] if name.startswith("levity")]
    for t in levity:
        floor = 0.8 if "same-protocol" in t else 0.5
        for sc in dict.fromkeys(r["scenario"] for r in _pick(n.load, target=t)):
            r, cpu = n.ratio(t, sc, 16), n.cpu_ratio(t, sc)
            noisy = n.noisy(t, BARE, scenario=sc, conc=16)
            add(f"{sc} c=16 ≥ {floor}× bare req/s", t, r, r is not None and r >= floor, "{:.2f}×", noisy)
            add(
                f"{sc} ≥ {floor}× bare by CPU per request",
                t,
                cpu,
                cpu is not None and cpu >= floor,
                "{:.2f}×",
            )
            if sc.endswith("json"):
                noisy = n.noisy(t, DIRECT, scenario=sc, conc=1)
                a50, a99 = n.added_ms(t, sc, "p50_us"), n.added_ms(t, sc, "p99_us")
                add(f"{sc} c=1 added p50 ≤ 1 ms", t, a50, a50 is not None and a50 <= 1, "{:.3f} ms", noisy)
                add(f"{sc} c=1 added p99 ≤ 3 ms", t, a99, a99 is not None and a99 <= 3, "{:.3f} ms", noisy)
                s50, s99 = n.added_ms(t, sc, "p50_us", True), n.added_ms(t, sc, "p99_us", True)
                shared = "(proxy on the load core)"
                add(f"{sc} c=1 added p50 ≤ 1 ms {shared}", t, s50, s50 is not None and s50 <= 1, "{:.3f} ms")
                add(f"{sc} c=1 added p99 ≤ 3 ms {shared}", t, s99, s99 is not None and s99 <= 3, "{:.3f} ms")
            else:
                noisy = n.noisy(t, DIRECT, scenario=sc, sse=True)
                ttfb = n.sse_added(t, sc, "ttfb_p50_ms")
                add(f"{sc} TTFB added ≤ 2 ms", t, ttfb, ttfb is not None and ttfb <= 2, "{:.3f} ms", noisy)
        cold = res["procs"][t]["cold_start_s"]
        add("cold start ≤ 1 s", t, cold, cold is not None and cold <= 1, "{:.3f} s")
        soak = res["soak"].get(t)
        if soak and len(soak["rss_mb"]) == 3:
            first, second = soak["rss_mb"][1], soak["rss_mb"][2]
            add(
                f"RSS ≤ {RSS_LIMIT_MB:.0f} MB after first phase", t, first, first <= RSS_LIMIT_MB, "{:.1f} MB"
            )
            growth = (second - first) / first * 100 if first else None
            add(f"RSS flat over second phase (≤ {RSS_FLAT_PCT:.0f}%)", t, growth,
                growth is not None and growth <= RSS_FLAT_PCT, "{:+.1f}%")  # fmt: skip
    return out


def render(res: dict) -> str:
    m, n = res["meta"], Numbers(res)
    per_point = f"{m['duration_s']} s per point" + (
        " at c=16, 1 s at other levels" if m["mode"] == "quick" else ""
    )
    lines = [
        f"## Levity benchmark, {m['date']} ({m['mode']})",
        "",
        f"{m['cpu']}; cores {m['cores']}; Python {m['python']}, aiohttp {m['aiohttp']}, {m['wrk']}. "
        f"{m['rounds']} round(s), {per_point}, medians; SSE replies have {m['chunks']} chunks; "
        f"nice {m.get('nice', 0)}; run took {m.get('elapsed_s', '?')} s (`run.py {m['argv']}`).",
        "",
        "### Fake upstream alone (wrk on the other core, c=64)",
        *capacity_section(res),
        "",
        f"### Throughput, req/s (wrk, {per_point})",
        *throughput_section(n, m["levels"]),
        "",
        "### Latency at c=1 (wrk, request sent to end of reply; added = minus direct)",
        *latency_section(n),
        "",
        "### Latency at c=1, proxy on the load core (no idle-vCPU wake-up per request; added = minus direct)",
        *latency_section(n, shared=True),
        "",
        f"### Streaming at c=1 ({m['sse_requests']} streams per round, frames paced {m['paced_ms']} ms)",
        *sse_section(n),
        "",
        "### Processes",
        *process_section(res),
    ]
    keys = res.get("fake_stats", {}).get("keys")
    if keys:
        seen = ", ".join(f"…{k}: {v}" for k, v in sorted(keys.items()))
        lines += ["", f"Upstream keys seen by the fake (last 6 characters: requests): {seen}."]
    goal_rows = goals(res, n)
    if goal_rows:
        lines += ["", "### Goals", *_table(["goal", "target", "measured", "verdict"], goal_rows)]
    foreign = [r["foreign_cpu_s"] / r["wall_s"] * 100 for r in res["load"] + res["sse"] if r["wall_s"]]
    if foreign and max(foreign) > NOISY_FOREIGN_PCT:
        lines += ["", f"**Noise:** other processes used up to {max(foreign):.0f}% of a core during a point "
                  f"(median {statistics.median(foreign):.0f}%); rerun on a quiet machine before trusting ratios."]  # fmt: skip
    if res["skipped"]:
        lines += ["", "### Skipped", *(f"- {s}" for s in res["skipped"])]
    return "\n".join(lines) + "\n"
