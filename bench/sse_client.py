"""Streaming latency client: time to first body byte and to last byte of each SSE reply.

    python bench/sse_client.py --url http://127.0.0.1:9100/v1/chat/completions --body-file b.json \\
        --header "Authorization: Bearer k" --concurrency 1 --requests 200 --marker "[DONE]" [--json]

A small raw HTTP/1.1 keep-alive client on uvloop (one connection per worker) so the client costs
little CPU next to the fake upstream on the load-generator core. The request count and the total
time are both bounded. TTFB is measured to the first byte of the body (the first SSE frame), not
to the response head, because that is what a user waits for.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import orjson


@dataclass
class Results:
    ttfb: list[float] = field(default_factory=list)
    ttlb: list[float] = field(default_factory=list)
    errors: int = 0
    last_error: str = ""


def percentile(values: list[float], p: float) -> float:
    """Nearest-rank percentile; 0.0 for no values."""
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]


def build_request(url: str, body: bytes, headers: list[str]) -> tuple[str, int, bytes]:
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    path = parts.path + (f"?{parts.query}" if parts.query else "")
    lines = [f"POST {path} HTTP/1.1", f"Host: {host}:{port}", "Content-Type: application/json"]
    lines += ["Accept: text/event-stream", f"Content-Length: {len(body)}", *headers]
    return host, port, ("\r\n".join(lines) + "\r\n\r\n").encode() + body


async def one_stream(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, request: bytes):
    """Send one request, read the whole reply; returns (status, ttfb, ttlb, body, keep_alive)."""
    t0 = time.perf_counter()
    writer.write(request)
    status = int((await reader.readline()).split(b" ", 2)[1])
    chunked, length, keep_alive = False, None, True
    while (line := await reader.readline()) not in (b"\r\n", b""):
        name, _, value = line.partition(b":")
        name, value = name.strip().lower(), value.strip().lower()
        if name == b"transfer-encoding" and b"chunked" in value:
            chunked = True
        elif name == b"content-length":
            length = int(value)
        elif name == b"connection" and value == b"close":
            keep_alive = False
    parts: list[bytes] = []
    ttfb = 0.0
    if chunked:
        while size := int((await reader.readline()).split(b";")[0], 16):
            parts.append((await reader.readexactly(size + 2))[:-2])
            if len(parts) == 1:
                ttfb = time.perf_counter() - t0
        while (await reader.readline()) not in (b"\r\n", b""):  # trailers
            pass
    elif length is not None:
        if length:
            parts.append(await reader.read(length))
            ttfb = time.perf_counter() - t0
            if len(parts[0]) < length:
                parts.append(await reader.readexactly(length - len(parts[0])))
    else:  # body delimited by the connection closing
        keep_alive = False
        while chunk := await reader.read(65536):
            if not parts:
                ttfb = time.perf_counter() - t0
            parts.append(chunk)
    return status, ttfb, time.perf_counter() - t0, b"".join(parts), keep_alive


async def worker(target: tuple[str, int, bytes], jobs: list[int], warmup: int, args, res: Results) -> None:
    host, port, request = target
    conn: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None
    marker = args.marker.encode()
    done_warmup = 0
    deadline = time.monotonic() + args.max_seconds
    while time.monotonic() < deadline and (done_warmup < warmup or jobs):
        measured = done_warmup >= warmup
        if measured:
            jobs.pop()
        try:
            if conn is None:
                conn = await asyncio.wait_for(asyncio.open_connection(host, port), args.timeout)
            status, ttfb, ttlb, body, keep = await asyncio.wait_for(one_stream(*conn, request), args.timeout)
            if status != 200 or marker not in body:
                raise ValueError(f"status {status}, body starts {body[:200]!r}")
        except (TimeoutError, OSError, ValueError, IndexError, asyncio.IncompleteReadError) as exc:
            res.errors += measured
            res.last_error = f"{type(exc).__name__}: {exc}"
            keep = False
        else:
            if measured:
                res.ttfb.append(ttfb)
                res.ttlb.append(ttlb)
        if not measured:
            done_warmup += 1
        if not keep and conn is not None:
            conn[1].close()
            conn = None
    if conn is not None:
        conn[1].close()


async def run(args: argparse.Namespace) -> dict:
    headers = args.header or []
    target = build_request(args.url, Path(args.body_file).read_bytes(), headers)
    res = Results()
    jobs = list(range(args.requests))
    t0 = time.perf_counter()
    await asyncio.gather(*(worker(target, jobs, args.warmup, args, res) for _ in range(args.concurrency)))
    wall = time.perf_counter() - t0
    ms = 1000.0
    return {
        "concurrency": args.concurrency,
        "requests": len(res.ttfb),
        "errors": res.errors,
        "last_error": res.last_error,
        "wall_s": round(wall, 3),
        "ttfb_p50_ms": percentile(res.ttfb, 50) * ms,
        "ttfb_p99_ms": percentile(res.ttfb, 99) * ms,
        "ttlb_p50_ms": percentile(res.ttlb, 50) * ms,
        "ttlb_p99_ms": percentile(res.ttlb, 99) * ms,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--url", required=True)
    ap.add_argument("--body-file", required=True)
    ap.add_argument("--header", action="append", help="extra request header 'Name: value' (repeatable)")
    ap.add_argument("--concurrency", type=int, default=1)
    ap.add_argument("--requests", type=int, default=200, help="measured streams in total")
    ap.add_argument("--warmup", type=int, default=2, help="unmeasured streams per connection first")
    ap.add_argument("--marker", default="", help="bytes the body must contain to count as a success")
    ap.add_argument("--timeout", type=float, default=30.0, help="seconds per stream")
    ap.add_argument("--max-seconds", type=float, default=120.0, help="bound on the whole run")
    ap.add_argument("--json", action="store_true", help="print one JSON object instead of text")
    args = ap.parse_args()
    try:
        import uvloop

        runner = uvloop.run
    except ImportError:  # Linux/macOS only; the stdlib loop still works, only slower
        runner = asyncio.run
    out = runner(run(args))
    if args.json:
        sys.stdout.write(orjson.dumps(out).decode() + "\n")
        return
    print(f"{out['requests']} streams at c={out['concurrency']} in {out['wall_s']} s, errors {out['errors']}")
    for key in ("ttfb", "ttlb"):
        print(f"  {key.upper()} p50 {out[f'{key}_p50_ms']:.3f} ms  p99 {out[f'{key}_p99_ms']:.3f} ms")
    if out["errors"]:
        print(f"  last error: {out['last_error']}")


if __name__ == "__main__":
    main()
