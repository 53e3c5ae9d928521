"""One command for the whole benchmark: fake upstream, bare pass-through and Levity, side by side.

    python bench/run.py            # full: 3 rounds x 5 s per point, memory soak (~10-20 min)
    python bench/run.py --quick    # smoke: 1 round, 2 s at c=16 and 1 s otherwise, no soak (~1-2 min)

Core 0 runs the fake upstream, the load generators and this runner; core 1 runs the proxy under
test. Every target runs in every round (interleaved), and each number is the median of the rounds.
The Markdown report is printed and saved with the raw numbers under bench/results/<timestamp>/.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import levity_target
import loadgen
import procs
import report
import scenarios
import targets
from scenarios import Scenario
from targets import Target

BENCH_DIR = Path(__file__).resolve().parent
GEMINI_BODY = b'{"contents":[{"role":"user","parts":[{"text":"hello"}]}]}'


def parse_args() -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="1 round, 2 s points, fewer streams, no soak")
    ap.add_argument("--rounds", type=int, help="rounds per point; the median is reported (default 3)")
    ap.add_argument("--duration", type=int, help="seconds per wrk point (default 5, quick 2)")
    ap.add_argument("--levels", default="1,16,64", help="wrk concurrency levels")
    ap.add_argument("--sse-requests", type=int, help="measured streams per SSE point (default 200)")
    ap.add_argument("--soak", action=argparse.BooleanOptionalAction, help="memory soak (default: full only)")
    ap.add_argument("--soak-requests", type=int, default=100_000, help="requests per soak phase (2 phases)")
    ap.add_argument("--soak-all", action="store_true", help="soak every Levity target, not only the first")
    ap.add_argument(
        "--levity",
        choices=("auto", "on", "off"),
        default="auto",
        help="auto: run Levity targets when `python -m levity` works; on: fail if it does not",
    )
    ap.add_argument(
        "--levity-src",
        type=Path,
        default=BENCH_DIR.parent / "src",
        help="put this on PYTHONPATH for Levity (default: the repo's src/)",
    )
    ap.add_argument("--levity-python", default=sys.executable, help="interpreter that runs Levity")
    ap.add_argument(
        "--port-base", type=int, default=19100, help="fake, bare = base, base+1; Levity base+10.."
    )
    ap.add_argument("--chunks", type=int, default=20, help="content chunks per SSE reply")
    ap.add_argument("--paced-ms", type=float, default=1.0, help="gap between SSE frames in the TTFB test")
    ap.add_argument(
        "--quiet-pct", type=float, default=20.0, help="wait for other load under this %% of a core"
    )
    ap.add_argument("--quiet-wait", type=float, help="max seconds to wait for quiet per point (0: never)")
    ap.add_argument("--quiet-budget", type=float, help="max seconds of quiet-waiting in the whole run")
    ap.add_argument("--nice", type=int, default=0, help="priority of all benchmark processes (-10: root)")
    ap.add_argument("--out", type=Path, help="results folder (default bench/results/<timestamp>)")
    args = ap.parse_args()  # fmt: skip
    args.rounds = args.rounds or (1 if args.quick else 3)
    args.duration = args.duration or (2 if args.quick else 5)
    args.sse_requests = args.sse_requests or (40 if args.quick else 200)
    args.quiet_wait = args.quiet_wait if args.quiet_wait is not None else (5.0 if args.quick else 20.0)
    args.quiet_budget = (
        args.quiet_budget if args.quiet_budget is not None else (15.0 if args.quick else 180.0)
    )
    args.soak = (not args.quick) if args.soak is None else args.soak
    args.levels = [int(x) for x in args.levels.split(",")]
    return args


def port_free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def say(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


class Bench:
    def __init__(self, args: argparse.Namespace, out: Path) -> None:
        self.args, self.out = args, out
        self.cores = procs.Cores.detect()
        self.fake_port = args.port_base
        self.fake_url = f"http://127.0.0.1:{self.fake_port}"
        self.fake: subprocess.Popen | None = None
        self.targets: list[Target] = []
        self.pairs: list[tuple[Target, Scenario]] = []
        self.bodies: dict[tuple[str, bool], Path] = {}
        self.res: dict = {
            "load": [],
            "shared": [],
            "sse": [],
            "capacity": [],
            "procs": {},
            "skipped": [],
            "soak": {},
        }

    # -- set-up ---------------------------------------------------------------------------------
    def write_bodies(self) -> None:
        for sc in scenarios.ALL:
            for paced in (False, True):
                path = self.out / f"{sc.name}{'-paced' if paced else ''}.json"
                path.write_bytes(sc.body(paced))
                self.bodies[(sc.name, paced)] = path
        (self.out / "gemini.json").write_bytes(GEMINI_BODY)

    def start(self) -> None:
        a = self.args
        self.fake = targets.start_fake(self.fake_port, self.cores.load, self.out, a.chunks, a.paced_ms)
        self.targets.append(
            Target("direct (fake upstream)", "direct", self.fake_port, ("openai", "anthropic"))
        )
        self.targets.append(targets.start_bare(a.port_base + 1, self.fake_url, self.cores.proxy, self.out))
        self.start_levity()

    def skip(self, what: str, why: object) -> None:
        line = f"{what}: {' '.join(str(why).split())}"[:400]  # one Markdown list line
        self.res["skipped"].append(line)
        say(f"skipping {line}")

    def start_levity(self) -> None:
        a = self.args
        if a.levity == "off":
            self.skip("Levity targets", "turned off (--levity off)")
            return
        src = a.levity_src if a.levity_src and a.levity_src.is_dir() else None
        reason = levity_target.unavailable_reason(a.levity_python, targets.levity_env(src, self.out))
        if reason:
            if a.levity == "on":
                raise SystemExit(f"Levity targets requested but unavailable: {reason}")
            self.skip("Levity targets", reason)
            return
        for i, spec in enumerate(levity_target.SPECS):
            port = a.port_base + 10 + i
            say(f"starting {spec.name} on :{port}")
            try:
                t = targets.start_levity(
                    spec, a.levity_python, src, port, self.fake_url, self.cores.proxy, self.out
                )
            except (RuntimeError, OSError) as exc:
                self.skip(spec.name, exc)
                continue
            self.targets.append(t)

    def select_pairs(self) -> None:
        """Check one reply per (target, scenario) before load; keep the pairs that work."""
        wires = {w for t in self.targets if t.kind == "levity" for w in t.wires} | {"openai"}
        if not self.args.quick:
            wires |= {"anthropic"}
        for sc in scenarios.ALL:
            for t in self.targets:
                if sc.wire not in t.wires or sc.wire not in wires:
                    continue
                err = targets.check(t, sc, self.bodies[(sc.name, False)].read_bytes())
                if err:
                    self.skip(f"{t.name} / {sc.name}", err)
                else:
                    self.pairs.append((t, sc))

    # -- measurements ---------------------------------------------------------------------------
    def watch(self, t: Target | None) -> loadgen.Watch:
        assert self.fake is not None
        return loadgen.Watch(proxy=t.pid if t else None, fake=self.fake.pid)

    def wrk(self, t: Target, sc: Scenario, conc: int, seconds: int) -> dict:
        body = self.bodies[(sc.name, False)]
        return loadgen.wrk(
            t.url(sc.path), body, t.headers(sc.wire), conc, seconds, self.cores.load, self.watch(t)
        )

    def capacity(self) -> None:
        """The fake upstream alone, with wrk on the other core: the ceiling of every other number."""
        direct = self.targets[0]
        say("fake upstream capacity (wrk on the proxy core, c=64)")
        gem = Scenario("gemini-sse20", "openai", True)  # only for its name; the URL and body are Gemini's
        cases = [(sc, direct.url(sc.path), self.bodies[(sc.name, False)]) for sc in scenarios.ALL]
        cases.append(
            (gem, direct.url("/v1beta/models/bench:streamGenerateContent?alt=sse"), self.out / "gemini.json")
        )
        for sc, url, body in cases:
            w = self.watch(None)
            seconds = 1 if self.args.quick else self.args.duration
            r = loadgen.wrk(url, body, direct.headers(sc.wire), 64, seconds, self.cores.proxy, w)
            self.res["capacity"].append({"scenario": sc.name} | r)

    def warmup(self) -> None:
        seen: set[str] = set()
        for t, sc in self.pairs:
            if self.args.quick and t.name in seen:
                continue
            seen.add(t.name)
            self.wrk(t, sc, 16, 1)

    def rounds(self) -> None:
        a = self.args
        for rnd in range(a.rounds):
            for t, sc in self.pairs:
                for conc in a.levels:
                    say(f"round {rnd + 1}/{a.rounds}: {t.name} / {sc.name} / c={conc}")
                    # Quick mode spends its seconds on c=16, the level the ratio goals are judged at.
                    seconds = 1 if a.quick and conc != 16 else a.duration
                    r = self.wrk(t, sc, conc, seconds)
                    self.res["load"].append(
                        {"target": t.name, "scenario": sc.name, "conc": conc, "round": rnd} | r
                    )
                if 1 in a.levels and t.kind != "direct" and t.pid is not None and self.cores.load is not None:
                    # c=1 once more with the proxy on the load core: no wake-up of an idle vCPU
                    # per request, which on a VM is most of the p99 of the pinned set-up.
                    say(f"round {rnd + 1}/{a.rounds}: {t.name} / {sc.name} / c=1, proxy on the load core")
                    procs.move(t.pid, self.cores.load)
                    try:
                        r = self.wrk(t, sc, 1, 1 if a.quick else a.duration)
                    finally:
                        procs.move(t.pid, self.cores.proxy)
                    self.res["shared"].append(
                        {"target": t.name, "scenario": sc.name, "conc": 1, "round": rnd} | r
                    )
            for t, sc in self.pairs:
                if not sc.stream:
                    continue
                say(f"round {rnd + 1}/{a.rounds}: {t.name} / {sc.name} / SSE latency c=1 paced")
                r = loadgen.sse(
                    t.url(sc.path), self.bodies[(sc.name, True)], t.headers(sc.wire), sc.marker, 1,
                    a.sse_requests, self.cores.load, self.watch(t),
                )  # fmt: skip
                self.res["sse"].append({"target": t.name, "scenario": sc.name, "round": rnd} | r)

    def soak(self) -> None:
        """RSS after N requests and after N more, JSON and SSE alternating, time-bounded."""
        levity = [t for t in self.targets if t.kind == "levity"]
        chosen = [t for t in self.targets if t.kind == "bare"] + (
            levity if self.args.soak_all else levity[:1]
        )
        for t in chosen:
            mix = [sc for tt, sc in self.pairs if tt is t and sc.wire == t.wires[0]]
            if not mix or t.pid is None:
                continue
            rec = {"rss_mb": [procs.memory_mb(procs.tree(t.pid))[0]], "requests": [0], "errors": 0}
            done, rate, deadline = 0, 1000.0, time.monotonic() + 600
            for phase in (1, 2):
                while done < phase * self.args.soak_requests and time.monotonic() < deadline:
                    # Segments sized from the last rate so each phase ends near its request count.
                    seconds = int(min(10, max(1, (phase * self.args.soak_requests - done) / rate)))
                    say(f"soak {t.name}: {done} requests, next {seconds} s")
                    r = self.wrk(t, mix[(done // 10_000) % len(mix)], 16, seconds)
                    done, rate = done + r["requests"], max(1.0, r["rps"])
                    rec["errors"] += r["errors"]
                rec["rss_mb"].append(procs.memory_mb(procs.tree(t.pid))[0])
                rec["requests"].append(done)
            self.res["soak"][t.name] = rec

    def finish(self) -> None:
        try:  # which upstream keys the fake saw: shows how Levity spread load over its accounts
            with urllib.request.urlopen(f"{self.fake_url}/_stats", timeout=5) as reply:
                self.res["fake_stats"] = json.loads(reply.read())
        except OSError as exc:
            self.res["fake_stats"] = {"error": str(exc)}
        for t in self.targets:
            if t.pid is None:
                continue
            rss, peak = procs.memory_mb(procs.tree(t.pid))
            self.res["procs"][t.name] = {"cold_start_s": t.cold_start_s, "rss_mb": rss, "peak_rss_mb": peak}

    def stop(self) -> None:
        for t in self.targets:
            if t.proc is not None:
                procs.stop(t.proc)
        if self.fake is not None:
            procs.stop(self.fake)


def main() -> None:
    args = parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed (apt-get install wrk)")
    ports = [args.port_base, args.port_base + 1] + [
        args.port_base + 10 + i for i in range(len(levity_target.SPECS))
    ]
    busy = [p for p in ports if not port_free(p)]
    if busy:
        raise SystemExit(f"ports in use: {busy}; pick another --port-base")
    now = dt.datetime.now()
    out = args.out or BENCH_DIR / "results" / now.strftime("%Y%m%d-%H%M%S")
    out.mkdir(parents=True, exist_ok=True)
    loadgen.QUIET_PCT, loadgen.QUIET_WAIT_S = args.quiet_pct, args.quiet_wait
    loadgen.QUIET_BUDGET_S = args.quiet_budget
    procs.NICE = args.nice
    bench = Bench(args, out)
    procs.pin_self(bench.cores.load)
    t0 = time.monotonic()
    bench.res["meta"] = report.machine_meta(args, bench.cores, now)
    try:
        bench.write_bodies()
        bench.start()
        bench.capacity()
        bench.select_pairs()
        bench.warmup()
        bench.rounds()
        if args.soak:
            bench.soak()
        bench.finish()
    finally:
        bench.stop()
    bench.res["meta"]["elapsed_s"] = round(time.monotonic() - t0, 1)
    (out / "raw.json").write_text(json.dumps(bench.res, indent=1, default=str))
    text = report.render(bench.res)
    (out / "report.md").write_text(text)
    print(text)
    say(f"raw numbers and logs: {out}")


if __name__ == "__main__":
    main()
