"""The monitor's admin API over HTTP: an in-process app from `create_app` on a loopback TestServer,
records fed through the Monitor object exactly as the forwarder feeds them."""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import orjson
import tomli_w
from aiohttp.test_utils import TestClient, TestServer

from levity.app import create_app
from levity.config import ConfigStore
from levity.state import Gateway
from levity.store.monitor import Monitor
from levity.store.records import Attempt, RequestRecord

KEY = "sk-admin-test-0123456789"


def run_app(tmp_path: Path, body: Callable[[TestClient, Monitor], Awaitable[None]],
            monitor: dict[str, Any] | None = None) -> None:  # fmt: skip
    home = tmp_path / "home"
    home.mkdir()
    (home / "config.toml").write_text(tomli_w.dumps({"proxy": {"api_key": KEY}, "monitor": monitor or {}}))
    store = ConfigStore(home=home, environ={})
    store.load()
    gw = Gateway(config=store)

    async def go() -> None:
        app = create_app(gw)
        async with TestClient(TestServer(app, host="127.0.0.1")) as client:
            client.session.headers["Authorization"] = f"Bearer {KEY}"
            await body(client, gw.parts["monitor"])

    asyncio.run(go())


def rec(**kw: Any) -> RequestRecord:
    base: dict[str, Any] = dict(method="POST", path="/v1/chat/completions", protocol="openai_chat", model="gpt-x",
                                mapped_model="gpt-x", account="acct-a", provider="openai", status=200,
                                duration_ms=120.0, ttfb_ms=30.0, input_tokens=11, output_tokens=7)  # fmt: skip
    base.update(kw)
    return RequestRecord(**base)


def feed(mon: Monitor) -> None:
    for i in range(30):
        mon.record(rec(path=f"/v1/chat/completions?n={i}"))
    for _ in range(5):
        mon.record(rec(status=429, account="acct-b", error="rate_limit: too many requests",
                       attempts=[Attempt("acct-a", 429, "rate_limit"), Attempt("acct-b", 429, "rate_limit")]))  # fmt: skip
    for _ in range(3):
        mon.record(rec(status=502, protocol="anthropic_messages", path="/v1/messages", model="claude-x",
                       mapped_model="claude-up", account="acct-c", error="upstream_error: bad gateway"))  # fmt: skip


async def get_json(client: TestClient, url: str, status: int = 200) -> Any:
    r = await client.get(url)
    assert r.status == status, await r.text()
    return await r.json()


def test_log_needs_the_admin_key(tmp_path: Path) -> None:
    async def body(client: TestClient, mon: Monitor) -> None:
        for path in ("/api/monitor/requests", "/api/monitor/tail", "/api/stats", "/metrics"):
            r = await client.get(path, headers={"Authorization": "Bearer wrong"})
            assert r.status == 401, path
            r = await client.session.get(client.make_url(path), headers={"Authorization": ""})
            assert r.status == 401, path

    run_app(tmp_path, body)


def test_log_filters_and_pagination(tmp_path: Path) -> None:
    async def body(client: TestClient, mon: Monitor) -> None:
        feed(mon)
        page = await get_json(client, "/api/monitor/requests?limit=10")
        assert page["total"] == 38 and len(page["items"]) == 10
        ids = [it["id"] for it in page["items"]]
        assert ids == sorted(ids, reverse=True)  # newest first
        assert "request_body" not in page["items"][0]
        nxt = await get_json(client, f"/api/monitor/requests?limit=10&before_id={page['next_before_id']}")
        assert [it["id"] for it in nxt["items"]] == list(range(ids[-1] - 1, ids[-1] - 11, -1))
        by_offset = await get_json(client, "/api/monitor/requests?limit=10&offset=10")
        assert by_offset["items"] == nxt["items"]

        assert (await get_json(client, "/api/monitor/requests?status=2xx"))["total"] == 30
        assert (await get_json(client, "/api/monitor/requests?status=4xx"))["total"] == 5
        assert (await get_json(client, "/api/monitor/requests?status=5xx"))["total"] == 3
        assert (await get_json(client, "/api/monitor/requests?protocol=anthropic_messages"))["total"] == 3
        assert (await get_json(client, "/api/monitor/requests?model=claude-up"))["total"] == 3
        assert (await get_json(client, "/api/monitor/requests?account=acct-b"))["total"] == 5
        assert (await get_json(client, "/api/monitor/requests?q=bad%20gateway"))["total"] == 3
        assert (await get_json(client, "/api/monitor/requests?q=n%3D2"))["total"] == 11  # n=2, n=20..29
        err = await get_json(client, "/api/monitor/requests?status=7xx", status=400)
        assert "status must be one of" in err["error"]["message"]
        await get_json(client, "/api/monitor/requests?limit=0", status=400)

    run_app(tmp_path, body)


def test_detail_has_attempts_and_bodies(tmp_path: Path) -> None:
    async def body(client: TestClient, mon: Monitor) -> None:
        mon.record(rec(status=429, attempts=[Attempt("acct-a", 429, "rate_limit: slow", 5.0)],
                       request_body='{"messages":[],"api_key":"leak-me"}', response_body='{"error":"x"}'))  # fmt: skip
        page = await get_json(client, "/api/monitor/requests")
        one = await get_json(client, f"/api/monitor/requests/{page['items'][0]['id']}")
        assert one["attempts"] == [
            {"account": "acct-a", "status": 429, "error": "rate_limit: slow", "duration_ms": 5.0}
        ]
        assert one["request_body"] == '{"messages":[],"api_key":"[redacted]"}'
        assert one["response_body"] == '{"error":"x"}'
        missing = await get_json(client, "/api/monitor/requests/999999", status=404)
        assert "no request record" in missing["error"]["message"]

    run_app(tmp_path, body, {"log_bodies": True})


def test_clear(tmp_path: Path) -> None:
    async def body(client: TestClient, mon: Monitor) -> None:
        feed(mon)
        r = await client.delete("/api/monitor/requests")
        assert r.status == 200
        assert (await get_json(client, "/api/monitor/requests"))["total"] == 0
        stats = await get_json(client, "/api/stats?group=none")
        assert stats["totals"][0]["requests"] == 38  # clearing the log keeps the statistics
        r = await client.delete("/api/stats")
        assert r.status == 200
        assert (await get_json(client, "/api/stats?group=none"))["totals"] == []

    run_app(tmp_path, body)


async def read_events(resp: Any, want: int, timeout: float = 5.0) -> list[tuple[str, Any]]:
    events: list[tuple[str, Any]] = []
    buf = b""
    deadline = time.monotonic() + timeout
    while len(events) < want:
        chunk = await asyncio.wait_for(resp.content.readany(), deadline - time.monotonic())
        assert chunk, "stream ended early"
        buf += chunk
        while b"\n\n" in buf:
            frame, buf = buf.split(b"\n\n", 1)
            fields = dict(line.split(b": ", 1) for line in frame.split(b"\n") if not line.startswith(b":"))
            if fields:
                events.append((fields[b"event"].decode(), orjson.loads(fields[b"data"])))
    return events


def test_live_tail_streams_backlog_then_new_records(tmp_path: Path) -> None:
    async def body(client: TestClient, mon: Monitor) -> None:
        mon.record(rec(path="/before-1"))
        mon.record(rec(path="/before-2", status=500))
        async with client.get("/api/monitor/tail?backlog=10&status=2xx") as resp:
            assert resp.status == 200 and resp.headers["Content-Type"].startswith("text/event-stream")
            first = await read_events(resp, 2)
            assert [e[0] for e in first] == ["request", "ready"]
            assert first[0][1]["path"] == "/before-1"  # the 500 is filtered out
            mon.record(rec(path="/live-bad", status=503))
            mon.record(rec(path="/live-ok"))
            [(kind, data)] = await read_events(resp, 1)
            assert kind == "request" and data["path"] == "/live-ok" and data["id"] == 4

    run_app(tmp_path, body)


def test_stats_by_bucket_and_group(tmp_path: Path) -> None:
    async def body(client: TestClient, mon: Monitor) -> None:
        now = time.time()
        mon.record(rec(ts=now - 2 * 86400, input_tokens=100, output_tokens=1))
        mon.record(rec(ts=now, input_tokens=5, output_tokens=2, account="acct-b", mapped_model="m2"))
        mon.record(rec(ts=now, input_tokens=5, output_tokens=2))
        hourly = await get_json(client, "/api/stats?bucket=hour&group=account")
        assert {(t["key"], t["requests"], t["input_tokens"]) for t in hourly["totals"]} == {
            ("acct-a", 1, 5), ("acct-b", 1, 5)
        }  # fmt: skip
        daily = await get_json(client, f"/api/stats?bucket=day&group=model&since={now - 7 * 86400}")
        assert {(t["key"], t["requests"]) for t in daily["totals"]} == {("gpt-x", 2), ("m2", 1)}
        assert len({p["t"] for p in daily["series"]}) == 2 and all(
            p["t"] % 86400 == 0 for p in daily["series"]
        )
        weekly = await get_json(client, "/api/stats?bucket=week&group=none&tz_offset=120")
        assert weekly["totals"][0]["requests"] == 3
        assert (await get_json(client, "/api/stats?bucket=month", status=400))["error"]["message"].startswith(
            "bucket"
        )
        summary = await get_json(client, f"/api/monitor/summary?day_start={now - 3600}")
        assert summary["requests"] == 2 and summary["tokens_today"]["input_tokens"] == 10
        assert summary["p50_latency_ms"] == 120.0 and len(summary["per_minute"]) == 60

    run_app(tmp_path, body)


METRIC_LINE = re.compile(r'^[a-z_]+(\{([a-z_]+="(?:[^"\\\n]|\\.)*",?)*\})? -?[0-9.e+]+$')


def test_metrics_prometheus_format(tmp_path: Path) -> None:
    async def body(client: TestClient, mon: Monitor) -> None:
        feed(mon)
        mon.record(rec(model='we"ird\nmodel', mapped_model="", status=200))
        r = await client.get("/metrics")
        assert r.status == 200 and r.headers["Content-Type"].startswith("text/plain")
        text = await r.text()
        lines = text.strip().split("\n")
        for line in lines:
            assert line.startswith("# HELP ") or line.startswith("# TYPE ") or METRIC_LINE.match(line), line
        assert 'levity_requests_total{protocol="openai_chat",account="acct-a",status_class="2xx"} 31' in lines
        assert 'levity_requests_total{protocol="openai_chat",account="acct-b",status_class="4xx"} 5' in lines
        assert 'levity_request_errors_total{protocol="anthropic_messages",account="acct-c"} 3' in lines
        assert 'levity_upstream_attempt_failures_total{account="acct-a"} 5' in lines
        assert 'levity_tokens_total{account="acct-a",model="gpt-x",kind="input"} 330' in lines
        assert 'levity_tokens_total{account="acct-a",model="we\\"ird\\nmodel",kind="output"} 7' in lines
        assert 'levity_request_duration_seconds_bucket{protocol="openai_chat",le="0.1"} 0' in lines
        assert 'levity_request_duration_seconds_bucket{protocol="openai_chat",le="0.25"} 36' in lines
        assert 'levity_request_duration_seconds_count{protocol="openai_chat"} 36' in lines
        assert "levity_monitor_dropped_records_total 0" in lines

    run_app(tmp_path, body)
