"""A lean HTTP/1.1 client for upstream calls: pooled keep-alive connections, llhttp parsing.

Why not aiohttp's ClientSession here: profiled at concurrency 16, its request machinery
(ClientRequest, trace hooks, cookie jar, payload registry, StreamReader) was about a third of
the gateway's CPU per request, more than all of Levity's own code. An upstream call needs far
less: one POST (or GET) to a fixed origin, the reply's status and headers, then its body as the
bytes arrive. Parsing (status line, headers, chunked framing) is httptools, the llhttp parser
that Node.js uses; TLS is the stdlib's. An egress proxy goes through aiohttp (see upstream.py).

Errors are aiohttp's own classes (`ClientConnectionError`) or `TimeoutError`, so every caller
handles them as before.
"""

from __future__ import annotations

import asyncio
import functools
import math
import socket
import ssl
import time
import zlib
from dataclasses import dataclass
from urllib.parse import urlsplit

import aiohttp
import httptools
from multidict import CIMultiDict, CIMultiDictProxy

from ..providers.base import UpstreamCall, UpstreamReply

MAX_BUFFER = 256 * 1024  # unread reply bytes per connection before the socket stops being read
MAX_IDLE_PER_ORIGIN = 64  # kept-alive connections per upstream origin; more are closed
KEEPALIVE_S = 50.0  # an idle connection older than this is not reused (servers drop them ~60 s)
USER_AGENT = "levity-gateway"  # both upstream clients send it
_NO_HEADERS: CIMultiDictProxy[str] = CIMultiDictProxy(CIMultiDict())


class UpstreamConnectionError(aiohttp.ClientConnectionError):
    """The upstream could not be reached, or the connection broke before the reply was whole."""


@dataclass(frozen=True, slots=True)
class Origin:
    scheme: str
    host: str
    port: int
    host_header: str


@functools.lru_cache(maxsize=1024)  # account base URLs times a few paths: a handful
def split_url(url: str) -> tuple[Origin, str] | None:
    """(origin, request target) for a plain http(s) URL; None for anything this client leaves
    to aiohttp (credentials in the URL, other schemes)."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return None
    host = parts.hostname
    if parts.scheme not in ("http", "https") or not host or parts.username or parts.password:
        return None
    default = 443 if parts.scheme == "https" else 80
    host_header = f"[{host}]" if ":" in host else host
    if port is not None and port != default:
        host_header += f":{port}"
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return Origin(parts.scheme, host, port or default, host_header), target


def request_head(method: str, target: str, host: str, headers: dict[str, str], length: int | None) -> bytes:
    lines = [f"{method} {target} HTTP/1.1", f"Host: {host}"]
    given = {k.lower() for k in headers}
    if "user-agent" not in given:
        lines.append(f"User-Agent: {USER_AGENT}")
    if "accept" not in given:
        lines.append("Accept: */*")
    # The reply bytes go to the client as they are: ask for them uncompressed.
    lines.append("Accept-Encoding: identity")
    if length is not None:
        lines.append(f"Content-Length: {length}")
    lines.extend(f"{k}: {v}" for k, v in headers.items())
    text = "\r\n".join(lines)
    # A CR or LF inside a name or value would smuggle a header or a second request.
    breaks = len(lines) - 1
    if text.count("\n") != breaks or text.count("\r") != breaks:
        raise ValueError("newline or carriage return in an upstream request header")
    return (text + "\r\n\r\n").encode()


class H1Reply(UpstreamReply):
    """One upstream reply on one connection; the body is handed out as it arrives."""

    def __init__(self, conn: H1Connection, timeout: aiohttp.ClientTimeout) -> None:
        self._conn = conn
        self._loop = conn.loop
        self.status = 0
        self.headers: CIMultiDictProxy[str] = _NO_HEADERS
        self._raw_headers: list[tuple[str, str]] = []
        self._chunks: list[bytes] = []
        self._size = 0
        self._waiter: asyncio.Future[None] | None = None
        self._error: BaseException | None = None
        self._decoder: zlib._Decompress | None = None
        self._read_timeout = timeout.sock_read
        self._deadline = self._loop.time() + timeout.total if timeout.total else None
        self.headers_done = False
        self.complete = False
        self.keep_alive = False
        self.got_bytes = False
        self._released = False

    # -- what the forwarder uses ----------------------------------------------------------
    def chunks(self) -> H1Reply:
        return self

    def __aiter__(self) -> H1Reply:
        return self

    async def __anext__(self) -> bytes:
        while True:
            if self._chunks:
                chunks = self._chunks
                data = chunks[0] if len(chunks) == 1 else b"".join(chunks)
                self._chunks = []
                self._size = 0
                self._conn.resume()
                return data
            if self._error is not None:
                raise self._error
            if self.complete:
                raise StopAsyncIteration
            await self._wait()

    async def read(self) -> bytes:
        parts = [chunk async for chunk in self]
        return parts[0] if len(parts) == 1 else b"".join(parts)

    def at_eof(self) -> bool:
        return self.complete and not self._chunks

    def close(self) -> None:
        """Back to the pool when the reply was read to its end, else the connection is closed."""
        if self._released:
            return
        self._released = True
        self._conn.release(self.complete and self._error is None and self.keep_alive)

    # -- waiting ----------------------------------------------------------------------------
    async def wait_headers(self) -> None:
        while not self.headers_done:
            if self._error is not None:
                raise self._error
            await self._wait()

    async def _wait(self) -> None:
        timeout = self._read_timeout
        if self._deadline is not None:
            left = self._deadline - self._loop.time()
            if left <= 0:
                raise TimeoutError("upstream reply took longer than the total timeout")
            timeout = min(timeout or math.inf, left)
        fut = self._waiter = self._loop.create_future()
        timer = self._loop.call_later(timeout, self._timed_out, fut) if timeout else None
        try:
            await fut
        finally:
            self._waiter = None
            if timer is not None:
                timer.cancel()

    @staticmethod
    def _timed_out(fut: asyncio.Future[None]) -> None:
        if not fut.done():
            fut.set_exception(TimeoutError("upstream sent nothing within the read timeout"))

    def _wake(self) -> None:
        fut = self._waiter
        if fut is not None and not fut.done():
            fut.set_result(None)

    def fail(self, err: BaseException) -> None:
        if self._error is None and not self.complete:
            self._error = err
            self._wake()

    # -- llhttp callbacks -------------------------------------------------------------------
    def on_message_begin(self) -> None:
        if self.headers_done:  # a second message on one request: stop the parser, drop the connection
            raise UpstreamConnectionError("upstream sent more than one reply")

    def on_header(self, name: bytes, value: bytes) -> None:
        self._raw_headers.append((name.decode("latin-1"), value.decode("latin-1")))

    def on_headers_complete(self) -> None:
        self.got_bytes = True
        self.status = self._conn.parser.get_status_code()
        headers = CIMultiDict(self._raw_headers)
        self.headers = CIMultiDictProxy(headers)
        encoding = headers.get("Content-Encoding", "identity").strip().lower()
        if encoding in ("gzip", "deflate"):  # asked for identity; decoded anyway if sent
            self._decoder = zlib.decompressobj(47)  # zlib or gzip header, detected
        elif encoding not in ("identity", ""):
            self._error = UpstreamConnectionError(f"upstream replied with content-encoding {encoding!r}")
        self.headers_done = True
        self._wake()

    def on_body(self, body: bytes) -> None:
        if self._decoder is not None:
            try:
                body = self._decoder.decompress(body)
            except zlib.error:
                self.fail(UpstreamConnectionError("upstream sent a corrupt compressed body"))
                return
            if not body:
                return
        self._chunks.append(body)
        self._size += len(body)
        if self._size > MAX_BUFFER:
            self._conn.pause()
        self._wake()

    def on_message_complete(self) -> None:
        if self._decoder is not None:
            rest = self._decoder.flush()
            if rest:
                self._chunks.append(rest)
        self.keep_alive = self._conn.parser.should_keep_alive()
        self.complete = True
        self._wake()


class H1Connection(asyncio.Protocol):
    """One kept-alive TCP (or TLS) connection to an upstream origin; one request at a time."""

    def __init__(self, loop: asyncio.AbstractEventLoop, pool: H1Pool, origin: Origin) -> None:
        self.loop = loop
        self.pool = pool
        self.origin = origin
        self.transport: asyncio.Transport | None = None
        self.parser: httptools.HttpResponseParser | None = None
        self.reply: H1Reply | None = None
        self.closed = False
        self.idle_since = 0.0
        self._paused = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]  # uvloop's is not asyncio's class
        sock = transport.get_extra_info("socket")
        if sock is not None:
            try:  # requests are written whole; do not hold the last segment back
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            except (OSError, AttributeError):
                pass

    def send(self, reply: H1Reply, head: bytes, body: bytes | None) -> None:
        assert self.transport is not None
        self.reply = reply
        self.parser = httptools.HttpResponseParser(reply)
        if body:
            self.transport.writelines((head, body))
        else:
            self.transport.write(head)

    def data_received(self, data: bytes) -> None:
        reply, parser = self.reply, self.parser
        if reply is None or parser is None or reply.complete:
            self._abort()  # bytes nobody asked for: the connection cannot be trusted
            return
        try:
            parser.feed_data(data)
        except httptools.HttpParserError as err:
            reply.fail(UpstreamConnectionError(f"upstream sent malformed HTTP ({type(err).__name__})"))
            self._abort()

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        reply = self.reply
        if reply is None or reply.complete:
            return
        if reply.headers_done and self._reads_until_close(reply):
            reply.on_message_complete()
            reply.keep_alive = False
            return
        what = "before its reply was complete" if reply.headers_done else "before replying"
        reply.fail(UpstreamConnectionError(f"upstream closed the connection {what}"))

    @staticmethod
    def _reads_until_close(reply: H1Reply) -> bool:
        # A reply with neither length nor chunked framing ends when the connection does.
        h = reply.headers
        return "Content-Length" not in h and "chunked" not in h.get("Transfer-Encoding", "").lower()

    def pause(self) -> None:
        if not self._paused and self.transport is not None:
            self._paused = True
            self.transport.pause_reading()

    def resume(self) -> None:
        if self._paused and self.transport is not None:
            self._paused = False
            self.transport.resume_reading()

    def release(self, reusable: bool) -> None:
        self.reply = None
        self.parser = None
        self.resume()
        if reusable and not self.closed:
            self.pool.put(self)
        else:
            self._abort()

    def _abort(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.close()


class H1Pool:
    """Idle kept-alive connections per origin; a request takes one or opens a new one."""

    def __init__(self) -> None:
        self._idle: dict[Origin, list[H1Connection]] = {}
        self._tls: ssl.SSLContext | None = None

    async def request(self, call: UpstreamCall, timeout: aiohttp.ClientTimeout) -> H1Reply | None:
        """Send `call`; return once the reply's headers are in. None: not a URL for this client."""
        split = split_url(call.url)
        if split is None:
            return None
        origin, target = split
        body = call.body
        length = len(body) if body is not None else (0 if call.method == "POST" else None)
        head = request_head(call.method, target, origin.host_header, call.headers, length)
        conn = self._take(origin)
        reused = conn is not None
        for _ in range(2):
            if conn is None:
                conn = await self._connect(origin, timeout)
            reply = H1Reply(conn, timeout)
            conn.send(reply, head, body)
            try:
                await reply.wait_headers()
                return reply
            except UpstreamConnectionError:
                reply.close()
                # A kept-alive connection the server closed as we wrote: once more on a new one.
                if not reused or reply.got_bytes:
                    raise
                conn, reused = None, False
            except BaseException:
                reply.close()
                raise
        raise AssertionError("unreachable")

    def _take(self, origin: Origin) -> H1Connection | None:
        idle = self._idle.get(origin)
        if not idle:
            return None
        too_old = time.monotonic() - KEEPALIVE_S
        while idle:
            conn = idle.pop()  # the most recently used: the least likely to have been dropped
            if not conn.closed and conn.idle_since > too_old:
                return conn
            conn.release(False)
        return None

    def put(self, conn: H1Connection) -> None:
        idle = self._idle.setdefault(conn.origin, [])
        if len(idle) >= MAX_IDLE_PER_ORIGIN:
            conn.release(False)
            return
        conn.idle_since = time.monotonic()
        idle.append(conn)

    async def _connect(self, origin: Origin, timeout: aiohttp.ClientTimeout) -> H1Connection:
        loop = asyncio.get_running_loop()
        tls = self._tls_context() if origin.scheme == "https" else None
        try:
            async with asyncio.timeout(timeout.connect or timeout.total):
                _, conn = await loop.create_connection(
                    lambda: H1Connection(loop, self, origin),
                    origin.host,
                    origin.port,
                    ssl=tls,
                    server_hostname=origin.host if tls else None,
                )
        except OSError as err:
            reason = err.strerror or type(err).__name__
            raise UpstreamConnectionError(
                f"cannot connect to {origin.host}:{origin.port}: {reason}"
            ) from None
        return conn

    def _tls_context(self) -> ssl.SSLContext:
        if self._tls is None:  # loading the system CA store takes milliseconds: once per pool
            self._tls = ssl.create_default_context()
            self._tls.set_alpn_protocols(["http/1.1"])
        return self._tls

    def close(self) -> None:
        for idle in self._idle.values():
            for conn in idle:
                conn.release(False)
        self._idle.clear()
