"""The lean upstream HTTP/1.1 client (transport/h1.py) against real loopback servers.

Each server here is a raw asyncio TCP server that reads real requests and writes scripted reply
bytes, so framing cases a well-behaved server never produces (a body cut short, a reply with no
length, two replies at once) can be sent on purpose.
"""

from __future__ import annotations

import asyncio
import gzip
import ssl
import subprocess
from collections.abc import Awaitable, Callable
from pathlib import Path

import aiohttp
import orjson
import pytest
from aiohttp import web

from levity.providers.base import UpstreamCall
from levity.transport.h1 import H1Pool, UpstreamConnectionError, request_head, split_url

TIMEOUT = aiohttp.ClientTimeout(total=None, connect=5, sock_read=5)

Script = Callable[[asyncio.StreamReader, asyncio.StreamWriter, int], Awaitable[bool]]


class RawServer:
    """Reads each request (head + Content-Length body) and lets `script` answer it."""

    def __init__(self, script: Script) -> None:
        self.script = script
        self.connections = 0
        self.requests: list[bytes] = []
        self.server: asyncio.Server | None = None

    async def __aenter__(self) -> RawServer:
        self.server = await asyncio.start_server(self._conn, "127.0.0.1", 0)
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self.server is not None
        self.server.close()

    @property
    def url(self) -> str:
        assert self.server is not None
        return f"http://127.0.0.1:{self.server.sockets[0].getsockname()[1]}"

    async def _conn(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n"):
                    if line.lower().startswith(b"content-length:"):
                        length = int(line.split(b":")[1])
                body = await reader.readexactly(length)
                self.requests.append(head + body)
                if not await self.script(reader, writer, len(self.requests)):
                    break
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        writer.close()


def post(url: str, body: bytes = b'{"x":1}', headers: dict[str, str] | None = None) -> UpstreamCall:
    return UpstreamCall("POST", url, headers or {"Content-Type": "application/json"}, body, False)


async def fetch(pool: H1Pool, call: UpstreamCall) -> tuple[int, bytes, dict[str, str]]:
    reply = await pool.request(call, TIMEOUT)
    assert reply is not None
    try:
        return reply.status, await reply.read(), dict(reply.headers)
    finally:
        reply.close()


def json_reply(body: bytes, extra: bytes = b"") -> bytes:
    return b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n%s\r\n%s" % (
        len(body),
        extra,
        body,
    )


def test_keep_alive_reuses_one_connection_and_sends_a_clean_request() -> None:
    async def script(r: asyncio.StreamReader, w: asyncio.StreamWriter, n: int) -> bool:
        w.write(json_reply(b'{"n":%d}' % n))
        return True

    async def main() -> None:
        async with RawServer(script) as srv:
            pool = H1Pool()
            for i in range(1, 4):
                status, body, headers = await fetch(pool, post(srv.url + "/v1/chat?alt=sse"))
                assert (status, body) == (200, b'{"n":%d}' % i)
                assert headers["Content-Type"] == "application/json"
            assert srv.connections == 1
            first = srv.requests[0]
            assert first.startswith(b"POST /v1/chat?alt=sse HTTP/1.1\r\n")
            port = srv.url.rsplit(":", 1)[1]
            assert b"\r\nHost: 127.0.0.1:" + port.encode() + b"\r\n" in first
            assert b"\r\nContent-Length: 7\r\n" in first and first.endswith(b'\r\n\r\n{"x":1}')
            assert b"Accept-Encoding: identity" in first
            pool.close()

    asyncio.run(main())


def test_chunked_reply_arrives_piece_by_piece_and_decoded() -> None:
    release = asyncio.Event

    async def main() -> None:
        gate = release()

        async def script(r: asyncio.StreamReader, w: asyncio.StreamWriter, n: int) -> bool:
            w.write(
                b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n"
            )
            w.write(b"7\r\ndata: 1\r\n")
            await w.drain()
            await gate.wait()
            w.write(b"8\r\ndata: 22\r\n0\r\n\r\n")
            return True

        async with RawServer(script) as srv:
            pool = H1Pool()
            reply = await pool.request(post(srv.url + "/s"), TIMEOUT)
            assert reply is not None and reply.status == 200
            assert reply.content_type == "text/event-stream"
            it = reply.chunks().__aiter__()
            assert await it.__anext__() == b"data: 1"  # before the rest was even written
            assert not reply.at_eof()
            gate.set()
            assert await it.__anext__() == b"data: 22"
            assert reply.at_eof()
            with pytest.raises(StopAsyncIteration):
                await it.__anext__()
            reply.close()
            # Read to its end and kept alive: the next request reuses the connection.
            gate.set()
            status, body, _ = await fetch(pool, post(srv.url + "/s"))
            assert (status, body) == (200, b"data: 1data: 22")
            assert srv.connections == 1
            pool.close()

    asyncio.run(main())


def test_body_cut_short_raises_a_client_error_and_drops_the_connection() -> None:
    async def script(r: asyncio.StreamReader, w: asyncio.StreamWriter, n: int) -> bool:
        w.write(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\npartial")
        return False  # close the connection mid-body

    async def main() -> None:
        async with RawServer(script) as srv:
            pool = H1Pool()
            reply = await pool.request(post(srv.url), TIMEOUT)
            assert reply is not None
            with pytest.raises(aiohttp.ClientError, match="before its reply was complete"):
                await reply.read()
            reply.close()
            assert not pool._idle.get(split_url(srv.url)[0])  # type: ignore[index]
            pool.close()

    asyncio.run(main())


def test_reply_without_length_ends_with_the_connection() -> None:
    async def script(r: asyncio.StreamReader, w: asyncio.StreamWriter, n: int) -> bool:
        w.write(b'HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n{"a":')
        await w.drain()
        w.write(b"1}")
        return False

    async def main() -> None:
        async with RawServer(script) as srv:
            pool = H1Pool()
            assert (await fetch(pool, post(srv.url)))[:2] == (200, b'{"a":1}')
            await fetch(pool, post(srv.url))
            assert srv.connections == 2  # not kept alive
            pool.close()

    asyncio.run(main())


def test_stale_kept_alive_connection_is_retried_once_on_a_new_one() -> None:
    async def script(r: asyncio.StreamReader, w: asyncio.StreamWriter, n: int) -> bool:
        if n == 2:  # the kept-alive connection is dropped as the second request arrives
            return False
        w.write(json_reply(b'{"n":%d}' % n))
        return True

    async def main() -> None:
        async with RawServer(script) as srv:
            pool = H1Pool()
            await fetch(pool, post(srv.url))
            assert (await fetch(pool, post(srv.url)))[:2] == (200, b'{"n":3}')
            assert srv.connections == 2 and len(srv.requests) == 3
            # A fresh connection that fails is not retried: the error reaches the caller.
            srv.script = lambda r, w, n: asyncio.sleep(0, False)
            pool.close()
            with pytest.raises(UpstreamConnectionError, match="before replying"):
                await pool.request(post(srv.url), TIMEOUT)
            assert srv.connections == 3
            pool.close()

    asyncio.run(main())


def test_refused_connection_and_read_timeout() -> None:
    async def silent(r: asyncio.StreamReader, w: asyncio.StreamWriter, n: int) -> bool:
        await asyncio.sleep(10)
        return False

    async def main() -> None:
        pool = H1Pool()
        listener = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
        port = listener.sockets[0].getsockname()[1]
        listener.close()
        await listener.wait_closed()
        with pytest.raises(UpstreamConnectionError, match=f"cannot connect to 127.0.0.1:{port}"):
            await pool.request(post(f"http://127.0.0.1:{port}/"), TIMEOUT)
        async with RawServer(silent) as srv:
            quick = aiohttp.ClientTimeout(total=None, connect=5, sock_read=0.2)
            with pytest.raises(TimeoutError):
                await pool.request(post(srv.url), quick)
        pool.close()

    asyncio.run(main())


def test_malformed_reply_and_second_reply_are_errors() -> None:
    async def garbage(r: asyncio.StreamReader, w: asyncio.StreamWriter, n: int) -> bool:
        w.write(b"HTTP/1.1 abc nonsense\r\n\r\n")
        return True

    async def doubled(r: asyncio.StreamReader, w: asyncio.StreamWriter, n: int) -> bool:
        w.write(json_reply(b"{}") + json_reply(b"{}"))
        return True

    async def main() -> None:
        pool = H1Pool()
        async with RawServer(garbage) as srv:
            with pytest.raises(aiohttp.ClientError, match="malformed HTTP"):
                await pool.request(post(srv.url), TIMEOUT)
        async with RawServer(doubled) as srv:
            await fetch(pool, post(srv.url))
            await fetch(pool, post(srv.url))
            assert srv.connections == 2  # the connection that sent two replies was not reused
        pool.close()

    asyncio.run(main())


def test_gzip_reply_is_decoded_and_large_bodies_flow_with_backpressure() -> None:
    big = b"x" * (3 * 1024 * 1024)

    async def script(r: asyncio.StreamReader, w: asyncio.StreamWriter, n: int) -> bool:
        if n == 1:
            w.write(json_reply(gzip.compress(b'{"zipped":true}'), b"Content-Encoding: gzip\r\n"))
        else:
            w.write(json_reply(big))
        return True

    async def main() -> None:
        async with RawServer(script) as srv:
            pool = H1Pool()
            assert (await fetch(pool, post(srv.url)))[1] == b'{"zipped":true}'
            reply = await pool.request(post(srv.url), TIMEOUT)
            assert reply is not None
            got = 0
            async for chunk in reply.chunks():
                got += len(chunk)
                await asyncio.sleep(0)  # a slow reader: the transport pauses and resumes
            reply.close()
            assert got == len(big)
            pool.close()

    asyncio.run(main())


def test_header_injection_is_refused() -> None:
    with pytest.raises(ValueError, match="newline"):
        request_head("POST", "/", "h", {"x-api-key": "k\r\nX-Evil: 1"}, 0)
    with pytest.raises(ValueError, match="newline"):
        request_head("POST", "/", "h", {"a\nb": "v"}, 0)
    assert split_url("http://user:pw@127.0.0.1/x") is None  # left to aiohttp
    assert split_url("https://[::1]:8443/v1?x=1")[0].host_header == "[::1]:8443"  # type: ignore[index]
    assert split_url("https://api.example.com/v1")[0].port == 443  # type: ignore[index]


def test_tls_upstream_with_a_trusted_certificate(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=localhost",
            "-addext",
            "subjectAltName=DNS:localhost",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
    )
    monkeypatch.setenv("SSL_CERT_FILE", str(cert))  # what the default context trusts

    async def hello(request: web.Request) -> web.Response:
        return web.json_response({"path": request.path, "body": (await request.read()).decode()})

    async def main() -> None:
        app = web.Application()
        app.router.add_post("/{tail:.*}", hello)
        runner = web.AppRunner(app)
        await runner.setup()
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ctx.load_cert_chain(cert, key)
        site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=ctx)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        url = f"https://localhost:{port}/v1/messages"
        pool = H1Pool()
        try:
            status, body, _ = await fetch(pool, post(url))
            assert status == 200 and orjson.loads(body) == {"path": "/v1/messages", "body": '{"x":1}'}
            # A certificate the system does not trust is a connection error, never a silent success.
            monkeypatch.setenv("SSL_CERT_FILE", str(tmp_path / "none.pem"))
            untrusting = H1Pool()
            with pytest.raises(UpstreamConnectionError, match="cannot connect"):
                await untrusting.request(post(url), TIMEOUT)
            untrusting.close()
        finally:
            pool.close()
            await runner.cleanup()

    asyncio.run(main())
