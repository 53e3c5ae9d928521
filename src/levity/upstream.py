"""How every upstream call leaves: `UpstreamHttp.send`, with the optional egress proxy.

Direct calls go through the lean keep-alive pool in `transport.h1`; with `proxy.upstream_proxy`
set, they go through an aiohttp ClientSession whose connector speaks the proxy protocol
(aiohttp_socks). `gateway.parts["http"]` holds the live `UpstreamHttp`. When the proxy setting
changes, new clients replace the old ones; the old ones are closed after the requests that use
them had time to finish.
"""

from __future__ import annotations

import asyncio
import functools
import logging

import aiohttp

from .config import Config, ProxyConfig
from .providers.base import HttpReply, UpstreamCall, UpstreamReply
from .security.secrets import mask_url
from .transport.h1 import USER_AGENT, H1Pool

log = logging.getLogger("levity.upstream")


def make_session(proxy_url: str) -> aiohttp.ClientSession:
    connector: aiohttp.BaseConnector
    if proxy_url:
        from aiohttp_socks import ProxyConnector  # http, https and socks5 egress alike

        connector = ProxyConnector.from_url(
            proxy_url, limit=0, keepalive_timeout=60, enable_cleanup_closed=True
        )
    else:
        connector = aiohttp.TCPConnector(limit=0, keepalive_timeout=60, ttl_dns_cache=300)
    return aiohttp.ClientSession(
        connector=connector,
        headers={"User-Agent": USER_AGENT},
        cookie_jar=aiohttp.DummyCookieJar(),  # one account's upstream cookies must not reach another's
        auto_decompress=True,
        trust_env=False,  # egress goes where the config says, not where the environment points
        skip_auto_headers=("Accept-Encoding",),
    )


def timeouts(proxy: ProxyConfig) -> aiohttp.ClientTimeout:
    return _timeouts(proxy.connect_timeout, proxy.read_timeout)


@functools.lru_cache(maxsize=8)
def _timeouts(connect: float, read: float) -> aiohttp.ClientTimeout:
    # ClientTimeout is frozen: one per setting, not one per request.
    return aiohttp.ClientTimeout(total=None, connect=connect, sock_read=read)


class UpstreamHttp:
    def __init__(self, proxy_url: str) -> None:
        self.proxy_url = proxy_url
        self.session = make_session(proxy_url)
        self.h1: H1Pool | None = None if proxy_url else H1Pool()
        self._old: set[asyncio.Task[None]] = set()

    async def send(self, call: UpstreamCall, timeout: aiohttp.ClientTimeout) -> UpstreamReply:
        """Send `call`; the reply comes back once its status and headers are in."""
        if self.h1 is not None:
            reply = await self.h1.request(call, timeout)
            if reply is not None:
                return reply
        resp = await self.session.request(
            call.method,
            call.url,
            data=call.body,
            headers=call.headers,
            timeout=timeout,
            allow_redirects=False,
        )
        return HttpReply(resp)

    def on_config(self, old: Config, new: Config) -> None:
        url = new.proxy.upstream_proxy
        if url == self.proxy_url:
            return
        retired = (self.session, self.h1)
        self.session, self.h1, self.proxy_url = make_session(url), None if url else H1Pool(), url
        log.info("upstream egress proxy now %s", mask_url(url) or "(direct)")
        task = asyncio.get_running_loop().create_task(self._close_later(*retired, new.proxy.read_timeout))
        self._old.add(task)
        task.add_done_callback(self._old.discard)

    @staticmethod
    async def _close_later(session: aiohttp.ClientSession, h1: H1Pool | None, after: float) -> None:
        await asyncio.sleep(min(after, 600))
        if h1 is not None:
            h1.close()
        await session.close()

    async def close(self) -> None:
        for t in self._old:
            t.cancel()
        if self.h1 is not None:
            self.h1.close()
        await self.session.close()
