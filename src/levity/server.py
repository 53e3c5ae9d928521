"""Runs the app: the listener (with live re-bind), the config watch, start-up banner, shutdown."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import signal
import sys

from aiohttp import web

from .app import create_app
from .config import Config, ConfigStore, bind_host, effective_auth_mode
from .state import Gateway

log = logging.getLogger("levity.server")


class Listener:
    """One TCPSite at a time; a config change of host or port moves it without a restart."""

    def __init__(self, runner: web.AppRunner, gateway: Gateway, host: str | None, port: int | None) -> None:
        self.runner = runner
        self.gateway = gateway
        self.host_override = host
        self.port_override = port
        self.site: web.TCPSite | None = None
        self._lock = asyncio.Lock()

    def wanted(self, cfg: Config) -> tuple[str, int]:
        return (self.host_override or bind_host(cfg.proxy), self.port_override or cfg.proxy.port)

    async def _open(self, host: str, port: int) -> web.TCPSite:
        site = web.TCPSite(self.runner, host, port, reuse_address=True, backlog=1024)
        await site.start()
        return site

    async def start(self, cfg: Config) -> None:
        host, port = self.wanted(cfg)
        self.site = await self._open(host, port)
        self._record(host, port, "")

    def _record(self, host: str, port: int, error: str) -> None:
        st = self.gateway.listener
        st.host, st.port, st.error = host, port, error

    async def rebind(self, cfg: Config) -> None:
        async with self._lock:
            host, port = self.wanted(cfg)
            st = self.gateway.listener
            if (host, port) == (st.host, st.port) or self.site is None:
                return
            old, old_host, old_port = self.site, st.host, st.port
            try:
                new = await self._open(host, port)
            except OSError as err:
                if port != old_port:
                    return self._fail(host, port, err)
                # Same port on another address (127.0.0.1 <-> 0.0.0.0): the old socket holds it,
                # so free it first and put it back if the new bind still fails.
                await old.stop()
                try:
                    new = await self._open(host, port)
                except OSError as err2:
                    self.site = await self._open(old_host, old_port)
                    return self._fail(host, port, err2)
                self.site = new
                self._record(host, port, "")
                log.info("listener moved to http://%s:%d", host, port)
                return
            self.site = new
            self._record(host, port, "")
            # Closing a listening socket leaves accepted connections to finish their requests.
            await old.stop()
            log.info("listener moved to http://%s:%d", host, port)

    def _fail(self, host: str, port: int, err: OSError) -> None:
        msg = f"cannot bind {host}:{port}: {err.strerror or err}; still listening on {self.gateway.listener.host}:{self.gateway.listener.port}"
        self.gateway.listener.error = msg
        log.error(msg)


def banner(store: ConfigStore, host: str, port: int, demo: bool | None) -> str:
    cfg = store.current
    shown = "127.0.0.1" if host == "0.0.0.0" else host
    lines = [
        f"Levity listening on http://{shown}:{port}"
        + (" (all interfaces: LAN access on)" if host == "0.0.0.0" else ""),
        f"  auth mode: {cfg.proxy.auth_mode} (effective: {effective_auth_mode(cfg.proxy)})",
        f"  config:    {store.path}" + (" (created with a new API key)" if store.created else ""),
        "  API key:   in the config file; print it with `levity key show`",
        f"  admin UI:  http://{shown}:{port}/ui/",
    ]
    if demo:
        lines.append(
            "  demo:      a mock account serves model `levity-demo` (add yours: `levity account add`)"
        )
    return "\n".join(lines)


def steady_latency() -> None:
    """Fewer multi-millisecond stalls on the event loop (they showed at p99 in bench/).

    Everything built at start-up (modules, config, routes) lives as long as the process: freezing
    it keeps the cyclic GC from walking those objects again on every full collection. The monitor
    writes SQLite on its own thread; a shorter switch interval lets the loop take the GIL back
    within a millisecond instead of five.
    """
    gc.collect()
    gc.freeze()
    sys.setswitchinterval(0.001)


async def serve(
    store: ConfigStore, host: str | None = None, port: int | None = None, demo: bool | None = False
) -> None:
    gateway = Gateway(config=store, demo=demo)
    app = create_app(gateway)
    # handler_cancellation: a client that goes away cancels its handler, so the forwarder stops
    # reading (and paying for) the upstream reply at once, streamed or not.
    runner = web.AppRunner(
        app, handle_signals=False, access_log=None, shutdown_timeout=10.0, handler_cancellation=True
    )
    await runner.setup()
    listener = Listener(runner, gateway, host, port)
    await listener.start(store.current)
    print(banner(store, gateway.listener.host, gateway.listener.port, gateway.demo), flush=True)

    loop = asyncio.get_running_loop()
    loop.call_later(1.0, steady_latency)  # after the first requests: not on the cold-start path
    tasks: set[asyncio.Task[None]] = set()

    def on_change(old: Config, new: Config) -> None:
        if listener.wanted(old) != listener.wanted(new):
            t = loop.create_task(listener.rebind(new))
            tasks.add(t)
            t.add_done_callback(tasks.discard)

    store.add_listener(on_change)
    watch = loop.create_task(store.watch())
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        watch.cancel()
        await runner.cleanup()


def run(
    store: ConfigStore, host: str | None = None, port: int | None = None, demo: bool | None = False
) -> None:
    loop_factory = None
    if sys.platform != "win32":
        try:
            import uvloop

            loop_factory = uvloop.new_event_loop
        except ImportError:
            pass
    with asyncio.Runner(loop_factory=loop_factory) as runner:
        runner.run(serve(store, host, port, demo))
