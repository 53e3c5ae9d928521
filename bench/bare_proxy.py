"""The bare pass-through reference: the least any aiohttp gateway must do to forward a request.

    python bench/bare_proxy.py --port 9200 --upstream http://127.0.0.1:9100

aiohttp.web server, one pooled ClientSession, POST body forwarded to a fixed upstream with the same
path, reply bytes streamed back as they arrive. Levity's overhead is measured against this.
"""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import AsyncIterator

from aiohttp import ClientSession, TCPConnector, web

# Hop-by-hop or recomputed headers; everything else (auth, content type) passes through.
DROP = {"host", "content-length", "transfer-encoding", "connection", "keep-alive"}
SESSION = web.AppKey("session", ClientSession)
UPSTREAM = web.AppKey("upstream", str)


async def forward(request: web.Request) -> web.StreamResponse:
    body = await request.read()
    headers = {k: v for k, v in request.headers.items() if k.lower() not in DROP}
    url = request.app[UPSTREAM] + request.path_qs
    async with request.app[SESSION].post(url, data=body, headers=headers) as up:
        resp = web.StreamResponse(status=up.status)
        resp.content_type = up.content_type
        if up.content_length is not None:
            resp.content_length = up.content_length
        await resp.prepare(request)
        async for chunk in up.content.iter_any():  # whatever has arrived, no re-framing
            await resp.write(chunk)
        await resp.write_eof()
        return resp


async def healthz(request: web.Request) -> web.Response:
    return web.Response(text="ok")


def make_app(upstream: str) -> web.Application:
    app = web.Application(client_max_size=8 * 1024 * 1024)
    app[UPSTREAM] = upstream.rstrip("/")

    async def session_ctx(app: web.Application) -> AsyncIterator[None]:
        # auto_decompress off: bytes go through untouched, as a pass-through should.
        connector = TCPConnector(limit=512, keepalive_timeout=60)
        async with ClientSession(connector=connector, auto_decompress=False) as session:
            app[SESSION] = session
            yield

    app.cleanup_ctx.append(session_ctx)
    app.router.add_get("/healthz", healthz)
    app.router.add_post("/{tail:.*}", forward)
    return app


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=9200)
    ap.add_argument("--upstream", required=True, help="base URL, e.g. http://127.0.0.1:9100")
    args = ap.parse_args()
    try:
        import uvloop

        loop = uvloop.new_event_loop()
    except ImportError:  # Linux/macOS only; the stdlib loop still works, only slower
        loop = asyncio.new_event_loop()
    app = make_app(args.upstream)
    web.run_app(app, host=args.host, port=args.port, access_log=None, print=None, loop=loop)


if __name__ == "__main__":
    main()
