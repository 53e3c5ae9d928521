"""The monitor's admin API: the request log, one record, the live tail (SSE), stats, `/metrics`.

All routes sit behind AuthRule's admin rule (`/api/...` and `/metrics`).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable
from typing import Any

import orjson
from aiohttp import web

from ..errors import GatewayError, json_response
from ..state import GATEWAY, Gateway
from ..store import stats
from ..store.metrics import gauge
from ..store.monitor import Monitor
from ..store.monitor_db import STATUS_CLASSES, LogFilter
from . import pool_view

MONITOR = web.AppKey("monitor", Monitor)
TAIL_HEARTBEAT = 15.0
MAX_PAGE = 500


def _monitor(request: web.Request) -> Monitor:
    return request.app[MONITOR]


def _int(request: web.Request, name: str, default: int, lo: int, hi: int) -> int:
    raw = request.query.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise GatewayError(400, f"query parameter {name} must be an integer, got {raw!r}") from None
    if not lo <= value <= hi:
        raise GatewayError(400, f"query parameter {name} must be between {lo} and {hi}, got {value}")
    return value


def _float(request: web.Request, name: str, default: float) -> float:
    raw = request.query.get(name)
    if raw is None or raw == "":
        return default
    try:
        return float(raw)
    except ValueError:
        raise GatewayError(400, f"query parameter {name} must be a number, got {raw!r}") from None


def _filter(request: web.Request) -> LogFilter:
    q = request.query
    status = q.get("status", "")
    if status and status not in STATUS_CLASSES and status != "error":
        raise GatewayError(
            400, f"status must be one of {', '.join([*STATUS_CLASSES, 'error'])}; got {status!r}"
        )
    return LogFilter(
        status=status,
        protocol=q.get("protocol", ""),
        model=q.get("model", ""),
        account=q.get("account", ""),
        q=q.get("q", "")[:200],
    )


async def list_requests(request: web.Request) -> web.Response:
    limit = _int(request, "limit", 50, 1, MAX_PAGE)
    offset = _int(request, "offset", 0, 0, 10_000_000)
    before = request.query.get("before_id")
    before_id = _int(request, "before_id", 0, 0, 2**62) if before else None
    page = await _monitor(request).page(_filter(request), limit, offset, before_id)
    page.update(limit=limit, offset=offset)
    return json_response(page)


async def get_request(request: web.Request) -> web.Response:
    try:
        record_id = int(request.match_info["id"])
    except ValueError:
        raise GatewayError(400, "record id must be an integer") from None
    found = await _monitor(request).get(record_id)
    if found is None:
        raise GatewayError(404, f"no request record {record_id} (it may have been removed by retention)")
    return json_response(found)


async def clear_requests(request: web.Request) -> web.Response:
    with_stats = request.query.get("stats", "").lower() in ("1", "true", "yes")
    await _monitor(request).clear(stats=with_stats)
    return json_response({"cleared": True, "stats_cleared": with_stats})


async def clear_stats(request: web.Request) -> web.Response:
    mon = _monitor(request)
    await mon.flush(timeout=2.0)
    await mon.query(mon.db.clear_stats)
    return json_response({"cleared": True})


def _sse(event: str, data: Any) -> bytes:
    return b"event: " + event.encode() + b"\ndata: " + orjson.dumps(data) + b"\n\n"


async def tail(request: web.Request) -> web.StreamResponse:
    """Server-Sent Events: first the latest `backlog` matching records, then each new one."""
    mon = _monitor(request)
    flt = _filter(request)
    backlog = _int(request, "backlog", 50, 0, 1000)
    queue = mon.subscribe()  # before the backlog, so nothing falls between the two
    resp = web.StreamResponse(
        headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
    )
    try:
        await resp.prepare(request)
        seen = 0
        for rec in mon.recent(flt, backlog) if backlog else []:
            seen = rec.id
            await resp.write(_sse("request", mon.summary(rec)))
        await resp.write(_sse("ready", {"status": mon.status()}))
        while True:
            try:
                rec = await asyncio.wait_for(queue.get(), TAIL_HEARTBEAT)
            except TimeoutError:
                await resp.write(b": keep-alive\n\n")
                continue
            if rec is None:  # the server is shutting down
                break
            if rec.id > seen and flt.matches(rec):
                await resp.write(_sse("request", mon.summary(rec)))
    except (ConnectionResetError, asyncio.CancelledError):
        pass
    finally:
        mon.unsubscribe(queue)
    return resp


def _stats_args(request: web.Request) -> dict[str, Any]:
    bucket = request.query.get("bucket", "hour")
    if bucket not in stats.BUCKETS:
        raise GatewayError(400, f"bucket must be one of {', '.join(stats.BUCKETS)}; got {bucket!r}")
    group = request.query.get("group", "model")
    if group not in stats.GROUPS:
        raise GatewayError(400, f"group must be one of {', '.join(stats.GROUPS)}; got {group!r}")
    now = time.time()
    default_span = {"hour": 86400, "day": 30 * 86400, "week": 26 * 7 * 86400}[bucket]
    return {
        "bucket": bucket,
        "group": group,
        "since": _float(request, "since", now - default_span),
        "until": _float(request, "until", now + 3600),
        # Minutes east of UTC, so that days and weeks start at the viewer's local midnight.
        "tz_offset_s": _int(request, "tz_offset", 0, -14 * 60, 14 * 60) * 60,
        "account": request.query.get("account", ""),
        "model": request.query.get("model", ""),
    }


async def get_stats(request: web.Request) -> web.Response:
    mon = _monitor(request)
    args = _stats_args(request)
    await mon.flush(timeout=2.0)
    result = await mon.query(
        lambda: stats.query(
            mon.db.conn,
            args["bucket"],
            args["group"],
            args["since"],
            args["until"],
            args["tz_offset_s"],
            args["account"],
            args["model"],
        )  # fmt: skip
    )
    return json_response(result)


async def summary(request: web.Request) -> web.Response:
    """The dashboard's numbers: rates, error rate, p50 over a window, tokens since `day_start`."""
    mon = _monitor(request)
    gw: Gateway = request.app[GATEWAY]
    now = time.time()
    window = _float(request, "window", 300.0)
    if not 10 <= window <= 86400:
        raise GatewayError(400, "window must be between 10 and 86400 seconds")
    day_start = _float(request, "day_start", now - now % 86400)
    await mon.flush(timeout=2.0)
    data = await mon.query(mon.db.summary, now, window)
    data["tokens_today"] = await mon.query(lambda: stats.totals_since(mon.db.conn, day_start))
    data["monitor"] = mon.status()
    data["accounts"] = await pool_view.account_states(gw.parts.get("pool"), now)
    data["now"] = now
    return json_response(data)


async def monitor_status(request: web.Request) -> web.Response:
    return json_response(_monitor(request).status())


def _metrics_lines(gw: Gateway, mon: Monitor, accounts: list[dict[str, Any]]) -> Iterable[str]:
    yield from mon.metrics.render()
    st = mon.status()
    yield from gauge("levity_monitor_queue_depth", "Records waiting to be written.", (), {(): st["queued"]})
    yield "# HELP levity_monitor_dropped_records_total Records dropped because the monitor queue was full."
    yield "# TYPE levity_monitor_dropped_records_total counter"
    yield f"levity_monitor_dropped_records_total {st['dropped']}"
    yield from gauge("levity_uptime_seconds", "Seconds since the gateway started.", (),
                     {(): round(time.time() - gw.started_at, 3)})  # fmt: skip
    if not accounts:
        return
    yield from gauge("levity_account_state", "1 for the account's current state (ready, cooling, unusable, disabled).",
                     ("account", "state"), {(a["label"], a["state"]): 1 for a in accounts})  # fmt: skip
    yield from gauge("levity_account_ready", "1 when the account can take requests now.", ("account",),
                     {(a["label"],): 1 if a["state"] == "ready" else 0 for a in accounts})  # fmt: skip
    yield from gauge("levity_account_in_flight", "Requests the account is serving now.", ("account",),
                     {(a["label"],): a["in_flight"] for a in accounts})  # fmt: skip
    rests = {
        (a["label"], c["model"] or "", c["reason"]): c["seconds_left"]
        for a in accounts
        for c in a["cooldowns"]
        if c["seconds_left"] is not None
    }
    yield from gauge("levity_account_cooldown_seconds",
                     "Seconds left on each cooldown (model empty: the whole account rests).",
                     ("account", "model", "reason"), rests)  # fmt: skip


async def metrics(request: web.Request) -> web.Response:
    gw = request.app[GATEWAY]
    accounts = await pool_view.account_states(gw.parts.get("pool"))
    text = "\n".join(_metrics_lines(gw, _monitor(request), accounts)) + "\n"
    return web.Response(text=text, content_type="text/plain", headers={"Cache-Control": "no-store"})


def _known_secrets(gw: Gateway) -> list[str]:
    proxy = gw.config.current.proxy
    return [proxy.api_key, proxy.admin_password, *pool_view.account_secrets(gw.parts.get("pool"))]


def setup(app: web.Application) -> None:
    gw = app[GATEWAY]
    mon = Monitor(gw.config, secrets=lambda: _known_secrets(gw))
    app[MONITOR] = mon
    gw.parts["monitor"] = mon

    async def on_startup(_app: web.Application) -> None:
        await mon.start()

    async def on_shutdown(_app: web.Application) -> None:
        mon.end_tails()

    async def on_cleanup(_app: web.Application) -> None:
        await mon.stop()

    app.on_startup.append(on_startup)
    app.on_shutdown.append(on_shutdown)
    app.on_cleanup.append(on_cleanup)
    r = app.router
    r.add_get("/api/monitor/requests", list_requests)
    r.add_delete("/api/monitor/requests", clear_requests)
    r.add_get("/api/monitor/requests/{id}", get_request)
    r.add_get("/api/monitor/tail", tail)
    r.add_get("/api/monitor/summary", summary)
    r.add_get("/api/monitor/status", monitor_status)
    r.add_get("/api/stats", get_stats)
    r.add_delete("/api/stats", clear_stats)
    r.add_get("/metrics", metrics)
