"""The one pooled aiohttp client session for every upstream call, with the optional egress proxy.

`gateway.parts["http"]` holds an `UpstreamHttp`; `.session` is the live ClientSession. When
`proxy.upstream_proxy` changes, a new session replaces the old one; the old one is closed
after the requests that use it had time to finish.
"""

from __future__ import annotations

import asyncio
import functools
import logging

import aiohttp

from .config import Config, ProxyConfig
from .security.secrets import mask_url

log = logging.getLogger("levity.upstream")

USER_AGENT = "levity-gateway"


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
        self._old: set[asyncio.Task[None]] = set()

    def on_config(self, old: Config, new: Config) -> None:
        url = new.proxy.upstream_proxy
        if url == self.proxy_url:
            return
        retired, self.session, self.proxy_url = self.session, make_session(url), url
        log.info("upstream egress proxy now %s", mask_url(url) or "(direct)")
        task = asyncio.get_running_loop().create_task(self._close_later(retired, new.proxy.read_timeout))
        self._old.add(task)
        task.add_done_callback(self._old.discard)

    @staticmethod
    async def _close_later(session: aiohttp.ClientSession, after: float) -> None:
        await asyncio.sleep(min(after, 600))
        await session.close()

    async def close(self) -> None:
        for t in self._old:
            t.cancel()
        await self.session.close()
