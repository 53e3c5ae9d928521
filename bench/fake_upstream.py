"""A fast fake LLM upstream: OpenAI, Anthropic and Gemini wires, JSON and SSE, on loopback.

It must never be the bottleneck of a benchmark, so it is a raw asyncio.Protocol HTTP/1.1 server
(keep-alive, pipelining) on uvloop that writes precomputed response bytes; aiohttp.web would cost
several times more CPU per request than the proxies it is meant to measure.

    python bench/fake_upstream.py --port 9100 [--chunks 20] [--paced-ms 1] [--pace-ms 0]

Routes (matched by path suffix, so any base-URL prefix works):
    POST .../chat/completions                 OpenAI; SSE when the body has "stream": true
    POST .../messages                         Anthropic; SSE when the body has "stream": true
    POST .../models/{m}:generateContent       Gemini JSON
    POST .../models/{m}:streamGenerateContent Gemini SSE (alt=sse)
    GET  /healthz                             200 "ok"
    GET  /_stats[?reset=1]                    request counts per route and per upstream key seen
A request whose body (or path) contains "bench-paced" is streamed with --paced-ms between SSE frames;
the marker travels in the prompt text so it survives a gateway's protocol translation.
"""

from __future__ import annotations

import argparse
import asyncio
import re
import socket
from collections import Counter
from dataclasses import dataclass, field

import orjson

import fake_wire

PACED_MARKER = b"bench-paced"
MAX_HEAD = 64 * 1024
_STREAM_RE = re.compile(rb'"stream"\s*:\s*true')
_KEY_HEADERS = (b"\r\nauthorization:", b"\r\nx-api-key:", b"\r\nx-goog-api-key:")
MAX_KEYS_TRACKED = 64


@dataclass(frozen=True)
class Reply:
    """One precomputed reply: the whole response, or its head and chunk-encoded frames for pacing."""

    whole: bytes
    head: bytes = b""
    frames: tuple[bytes, ...] = ()


def _json_reply(body: bytes, status: str = "200 OK") -> Reply:
    head = (
        f"HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    ).encode()
    return Reply(head + body)


def _sse_reply(frames: list[bytes]) -> Reply:
    # Real providers stream SSE with chunked transfer encoding; one HTTP chunk per SSE frame.
    head = (
        b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream; charset=utf-8\r\n"
        b"Cache-Control: no-cache\r\nTransfer-Encoding: chunked\r\n\r\n"
    )
    chunks = tuple(b"%x\r\n%s\r\n" % (len(f), f) for f in frames) + (b"0\r\n\r\n",)
    return Reply(head + b"".join(chunks), head, chunks)


def build_replies(chunks: int) -> dict[str, Reply]:
    return {
        "openai": _json_reply(fake_wire.openai_json(chunks)),
        "openai-sse": _sse_reply(fake_wire.openai_sse(chunks)),
        "anthropic": _json_reply(fake_wire.anthropic_json(chunks)),
        "anthropic-sse": _sse_reply(fake_wire.anthropic_sse(chunks)),
        "gemini": _json_reply(fake_wire.gemini_json(chunks)),
        "gemini-sse": _sse_reply(fake_wire.gemini_sse(chunks)),
        "health": Reply(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\nok"),
        "not-found": _json_reply(
            b'{"error":{"message":"no such route","type":"not_found"}}', "404 Not Found"
        ),
    }


@dataclass
class State:
    replies: dict[str, Reply]
    pace_s: float
    paced_s: float
    routes: Counter = field(default_factory=Counter)
    keys: Counter = field(default_factory=Counter)


def route(path: bytes, body: bytes) -> str:
    path = path.partition(b"?")[0]
    if path.endswith(b"/chat/completions"):
        return "openai-sse" if _STREAM_RE.search(body) else "openai"
    if path.endswith(b"/messages"):
        return "anthropic-sse" if _STREAM_RE.search(body) else "anthropic"
    if path.endswith(b":streamGenerateContent"):
        return "gemini-sse"
    if path.endswith(b":generateContent"):
        return "gemini"
    if path == b"/healthz":
        return "health"
    return "not-found"


def _key_seen(head_lower: bytes, target: bytes) -> bytes | None:
    """The tail of whatever upstream key the request carried, to show how a gateway spreads accounts."""
    for name in _KEY_HEADERS:
        i = head_lower.find(name)
        if i >= 0:
            j = head_lower.find(b"\r\n", i + 2)
            return head_lower[i + len(name) : j if j >= 0 else None].strip()[-6:]
    i = target.find(b"key=")
    return target[i + 4 :].partition(b"&")[0][-6:] if i >= 0 else None


def _chunked_body(buf: bytearray, start: int) -> tuple[bytes, int] | None:
    """Decode a chunked request body starting at buf[start]; None while incomplete."""
    parts, pos = [], start
    while True:
        eol = buf.find(b"\r\n", pos)
        if eol < 0:
            return None
        size = int(bytes(buf[pos:eol]).partition(b";")[0], 16)
        if size == 0:
            end = buf.find(b"\r\n\r\n", eol)  # skips any trailers
            return (b"".join(parts), end + 4) if end >= 0 else None
        if len(buf) < eol + 2 + size + 2:
            return None
        parts.append(bytes(buf[eol + 2 : eol + 2 + size]))
        pos = eol + 2 + size + 2


class FakeHTTP(asyncio.Protocol):
    def __init__(self, state: State) -> None:
        self.state = state
        self.buf = bytearray()
        self.busy = False  # a paced stream is being written; later pipelined requests wait
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        sock = transport.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None

    def data_received(self, data: bytes) -> None:
        self.buf += data
        if not self.busy:
            self.process()

    def process(self) -> None:
        buf, transport = self.buf, self.transport
        while transport is not None and not self.busy:
            end = buf.find(b"\r\n\r\n")
            if end < 0:
                if len(buf) > MAX_HEAD:
                    transport.close()
                return
            head = bytes(buf[:end])
            hl = head.lower()
            i = hl.find(b"\r\ncontent-length:")
            if i >= 0:
                j = hl.find(b"\r\n", i + 2)
                stop = end + 4 + int(hl[i + 17 : j if j >= 0 else None])
                if len(buf) < stop:
                    return
                body = bytes(buf[end + 4 : stop])
            elif b"\r\ntransfer-encoding: chunked" in hl:
                decoded = _chunked_body(buf, end + 4)
                if decoded is None:
                    return
                body, stop = decoded
            else:
                body, stop = b"", end + 4
            del buf[:stop]
            line = head.partition(b"\r\n")[0].split(b" ")
            target = line[1] if len(line) > 1 else b"/"
            self.respond(target, hl, body)
            if b"\r\nconnection: close" in hl:
                transport.close()
                return

    def respond(self, target: bytes, head_lower: bytes, body: bytes) -> None:
        state, transport = self.state, self.transport
        assert transport is not None
        if target.startswith(b"/_stats"):
            stats = {"routes": dict(state.routes), "keys": {k.decode(): v for k, v in state.keys.items()}}
            if b"reset=1" in target:
                state.routes.clear()
                state.keys.clear()
            transport.write(_json_reply(orjson.dumps(stats)).whole)
            return
        name = route(target, body)
        state.routes[name] += 1
        key = _key_seen(head_lower, target)
        if key is not None and (key in state.keys or len(state.keys) < MAX_KEYS_TRACKED):
            state.keys[key] += 1
        reply = state.replies[name]
        pace = state.paced_s if (PACED_MARKER in body or PACED_MARKER in target) else state.pace_s
        if pace > 0 and reply.frames:
            self.busy = True
            asyncio.get_running_loop().create_task(self.paced(reply, pace))
        else:
            transport.write(reply.whole)

    async def paced(self, reply: Reply, pace: float) -> None:
        try:
            if self.transport is None:
                return
            self.transport.write(reply.head + reply.frames[0])
            for frame in reply.frames[1:]:
                await asyncio.sleep(pace)
                if self.transport is None or self.transport.is_closing():
                    return
                self.transport.write(frame)
        finally:
            self.busy = False
        self.process()


async def serve(host: str, port: int, state: State) -> None:
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: FakeHTTP(state), host, port, backlog=4096, reuse_address=True)
    print(f"fake upstream on http://{host}:{port}", flush=True)
    async with server:
        await server.serve_forever()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=9100)
    ap.add_argument("--chunks", type=int, default=20, help="content deltas per streamed reply (>= 1)")
    ap.add_argument("--pace-ms", type=float, default=0.0, help="pause between SSE frames for every stream")
    ap.add_argument(
        "--paced-ms", type=float, default=1.0, help="pause between frames for 'bench-paced' requests"
    )
    args = ap.parse_args()
    state = State(build_replies(max(1, args.chunks)), args.pace_ms / 1000, args.paced_ms / 1000)
    try:
        import uvloop

        runner = uvloop.run
    except ImportError:  # Linux/macOS only; the stdlib loop still works, only slower
        runner = asyncio.run
    try:
        runner(serve(args.host, args.port, state))
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
