"""The monitor in-process: batching, overflow, retention, redaction of stored bodies, rollups."""

from __future__ import annotations

import asyncio
import math
import sqlite3
import time
from pathlib import Path
from typing import Any

import pytest
import tomli_w

from levity.config import ConfigStore
from levity.store import stats
from levity.store.monitor import BATCH_MAX, Monitor
from levity.store.monitor_db import LogFilter
from levity.store.records import Attempt, RequestRecord


def make_store(
    home: Path, monitor: dict[str, Any] | None = None, api_key: str = "sk-proxy-key-123456"
) -> ConfigStore:
    home.mkdir(parents=True, exist_ok=True)
    data: dict[str, Any] = {"proxy": {"api_key": api_key}}
    if monitor:
        data["monitor"] = monitor
    (home / "config.toml").write_text(tomli_w.dumps(data))
    store = ConfigStore(home=home, environ={})
    store.load()
    return store


def rec(i: int = 0, **kw: Any) -> RequestRecord:
    base: dict[str, Any] = dict(
        method="POST", path="/v1/chat/completions", protocol="openai_chat", model="gpt-x", mapped_model="up-x",
        account="acct-a", provider="openai", status=200, duration_ms=100.0 + i, input_tokens=10, output_tokens=5,
    )  # fmt: skip
    base.update(kw)
    return RequestRecord(**base)


def rows(path: Path, sql: str) -> list[tuple[Any, ...]]:
    with sqlite3.connect(path) as conn:
        return conn.execute(sql).fetchall()


def run(coro: Any) -> Any:
    return asyncio.run(coro)


def test_burst_is_written_in_few_batches(tmp_path: Path) -> None:
    async def go() -> Monitor:
        mon = Monitor(make_store(tmp_path))
        await mon.start()
        for i in range(1200):
            mon.record(rec(i))
        await mon.flush()
        await mon.stop()
        return mon

    mon = run(go())
    assert rows(mon.path, "SELECT COUNT(*), MIN(id), MAX(id) FROM request_log") == [(1200, 1, 1200)]
    assert mon.written == 1200 and mon.dropped == 0
    # 1200 records in one burst: transactions of BATCH_MAX rows each, not 1200 of them.
    assert mon.batches == math.ceil(1200 / BATCH_MAX) < 1200
    assert rows(mon.path, "PRAGMA journal_mode") == [("wal",)]


def test_record_does_not_wait_for_a_busy_writer(tmp_path: Path) -> None:
    async def go() -> tuple[float, Monitor]:
        mon = Monitor(make_store(tmp_path))
        await mon.start()
        # Occupy the writer thread as a slow disk would.
        busy = asyncio.get_running_loop().run_in_executor(mon._executor, time.sleep, 0.5)
        t0 = time.perf_counter()
        for i in range(2000):
            mon.record(rec(i))
        took = time.perf_counter() - t0
        await busy
        await mon.flush()
        await mon.stop()
        return took, mon

    took, mon = run(go())
    assert took < 0.25, f"record() took {took:.3f}s for 2000 records while the writer was busy"
    assert rows(mon.path, "SELECT COUNT(*) FROM request_log") == [(2000,)]


def test_full_queue_drops_oldest_and_counts(tmp_path: Path) -> None:
    async def go() -> Monitor:
        mon = Monitor(make_store(tmp_path, {"queue_size": 10}))
        for i in range(25):  # not started yet: nothing drains the queue
            mon.record(rec(i, path=f"/p{i}"))
        assert mon.dropped == 15 and mon.status()["queued"] == 10
        await mon.start()
        await mon.flush()
        await mon.stop()
        return mon

    mon = run(go())
    got = rows(mon.path, "SELECT path FROM request_log ORDER BY id")
    assert [p for (p,) in got] == [f"/p{i}" for i in range(15, 25)]


def test_ids_continue_after_restart(tmp_path: Path) -> None:
    async def go() -> None:
        store = make_store(tmp_path)
        for _ in range(2):
            mon = Monitor(store)
            await mon.start()
            for i in range(3):
                mon.record(rec(i))
            await mon.stop()

    run(go())
    assert rows(tmp_path / "monitor.db", "SELECT id FROM request_log ORDER BY id") == [
        (i,) for i in range(1, 7)
    ]


def test_retention_by_age_and_by_rows(tmp_path: Path) -> None:
    async def go() -> tuple[Monitor, int, int]:
        mon = Monitor(make_store(tmp_path, {"retention_days": 1, "max_rows": 100}))
        await mon.start()
        now = time.time()
        for i in range(20):
            mon.record(rec(i, ts=now - 3 * 86400, path="/old"))
        for i in range(150):
            mon.record(rec(i, ts=now, path=f"/new{i}"))
        await mon.flush()
        removed = await mon.enforce_retention()
        again = await mon.enforce_retention()
        await mon.stop()
        return mon, removed, again

    mon, removed, again = run(go())
    assert removed == 70 and again == 0
    paths = [p for (p,) in rows(mon.path, "SELECT path FROM request_log ORDER BY id")]
    assert paths == [f"/new{i}" for i in range(50, 150)]
    # The hourly rollups keep counting what the log no longer holds.
    assert rows(mon.path, "SELECT SUM(requests) FROM token_stats") == [(170,)]


def test_retention_runs_on_its_own(tmp_path: Path) -> None:
    async def go() -> Monitor:
        mon = Monitor(make_store(tmp_path, {"retention_days": 1}), retention_interval=0.05)
        await mon.start()
        mon.record(rec(ts=time.time() - 2 * 86400))
        mon.record(rec())
        await mon.flush()
        for _ in range(100):
            await asyncio.sleep(0.02)
            if await mon.query(mon.db.count) == 1:
                break
        await mon.stop()
        return mon

    mon = run(go())
    assert rows(mon.path, "SELECT COUNT(*) FROM request_log") == [(1,)]


ACCOUNT_KEY = "acct-secret-value-9f8e7d"


def body_with_secrets() -> str:
    return (
        '{"model":"gpt-x","api_key":"plain-secret-1","messages":[{"role":"user","content":"my key is '
        + ACCOUNT_KEY
        + ' and sk-abcdefghijklmnop"}],"headers":{"Authorization":"Bearer tok-abcdef123"}}'
    )


def test_bodies_redacted_and_capped_when_logging_on(tmp_path: Path) -> None:
    async def go() -> tuple[Monitor, dict[str, Any] | None]:
        mon = Monitor(make_store(tmp_path, {"log_bodies": True, "max_body_chars": 300}),
                      secrets=lambda: [ACCOUNT_KEY])  # fmt: skip
        await mon.start()
        mon.record(rec(request_body=body_with_secrets(), response_body="x" * 5000))
        from_ring = await mon.get(1)  # before the writer ran: served from memory, redacted too
        await mon.flush()
        await mon.stop()
        return mon, from_ring

    mon, from_ring = run(go())
    [(req, resp)] = rows(mon.path, "SELECT request_body, response_body FROM request_log")
    for text in (req, from_ring["request_body"]):
        for secret in ("plain-secret-1", ACCOUNT_KEY, "sk-abcdefghijklmnop", "tok-abcdef123"):
            assert secret not in text
        assert '"model":"gpt-x"' in text and "[redacted]" in text
    assert len(resp) < 400 and "truncated, 5000 chars" in resp


def test_bodies_dropped_when_logging_off(tmp_path: Path) -> None:
    async def go() -> Monitor:
        mon = Monitor(make_store(tmp_path))
        await mon.start()
        mon.record(rec(request_body=body_with_secrets(), response_body="{}"))
        await mon.flush()
        await mon.stop()
        return mon

    mon = run(go())
    assert rows(mon.path, "SELECT request_body, response_body FROM request_log") == [(None, None)]


def test_attempts_round_trip_and_filters(tmp_path: Path) -> None:
    async def go() -> tuple[dict[str, Any], dict[str, Any] | None]:
        mon = Monitor(make_store(tmp_path))
        await mon.start()
        mon.record(rec(status=200))
        mon.record(rec(status=429, account="acct-b", error="rate limited",
                       attempts=[Attempt("acct-a", 429, "rate_limit: slow down", 12.5), Attempt("acct-b", 429, "x")]))  # fmt: skip
        mon.record(rec(status=502, protocol="anthropic_messages", model="claude-x", mapped_model="claude-up"))
        page = await mon.page(LogFilter(status="4xx"), 10, 0, None)
        detail = await mon.get(page["items"][0]["id"])
        assert (await mon.page(LogFilter(status="error"), 10, 0, None))["total"] == 2
        assert (await mon.page(LogFilter(model="claude-up"), 10, 0, None))["total"] == 1
        assert (await mon.page(LogFilter(q="RATE LIM"), 10, 0, None))["total"] == 1
        assert (await mon.page(LogFilter(q="%"), 10, 0, None))["total"] == 0
        await mon.stop()
        return page, detail

    page, detail = run(go())
    assert page["total"] == 1 and page["items"][0]["account"] == "acct-b"
    assert detail is not None
    assert detail["attempts"][0] == {"account": "acct-a", "status": 429, "error": "rate_limit: slow down",
                                     "duration_ms": 12.5}  # fmt: skip


def test_hourly_rollups_and_bucketing(tmp_path: Path) -> None:
    hour = 1_700_000_000 // 3600 * 3600  # 2023-11-14 22:00 UTC

    async def go() -> Monitor:
        mon = Monitor(make_store(tmp_path))
        await mon.start()
        for i in range(10):
            mon.record(rec(i, ts=hour + 60 * i, input_tokens=100, output_tokens=10, cached_tokens=1))
        mon.record(rec(ts=hour + 3600 + 5, account="acct-b", input_tokens=7, output_tokens=3, status=500))
        mon.record(rec(ts=hour + 3 * 3600, mapped_model="up-y", input_tokens=1, output_tokens=1))
        await mon.flush()
        await mon.stop()
        return mon

    mon = run(go())
    got = rows(mon.path, "SELECT hour, account, model, requests, errors, input_tokens, output_tokens, cached_tokens "
                         "FROM token_stats ORDER BY hour, account, model")  # fmt: skip
    assert got == [
        (hour, "acct-a", "up-x", 10, 0, 1000, 100, 10),
        (hour + 3600, "acct-b", "up-x", 1, 1, 7, 3, 0),
        (hour + 3 * 3600, "acct-a", "up-y", 1, 0, 1, 1, 0),
    ]
    with sqlite3.connect(mon.path) as conn:
        by_day = stats.query(conn, "day", "account", hour - 86400, hour + 86400)
        # In UTC the records span two days (22:00, 23:00, 01:00); at UTC+3 all fall on one local day.
        local = stats.query(conn, "day", "none", hour - 86400, hour + 86400, tz_offset_s=3 * 3600)
        weekly = stats.query(conn, "week", "model", hour - 86400, hour + 86400)
    day = hour - hour % 86400
    assert [(p["t"], p["key"], p["requests"]) for p in by_day["series"]] == [
        (day, "acct-a", 10), (day, "acct-b", 1), (day + 86400, "acct-a", 1)
    ]  # fmt: skip
    assert by_day["totals"][0] == {"key": "acct-a", "requests": 11, "errors": 0, "input_tokens": 1001,
                                   "output_tokens": 101, "cached_tokens": 10, "reasoning_tokens": 0,
                                   "avg_duration_ms": pytest.approx(1145 / 11, abs=0.06)}  # fmt: skip
    assert [(p["t"], p["requests"]) for p in local["series"]] == [(day + 86400 - 3 * 3600, 12)]
    monday = weekly["series"][0]["t"]
    assert time.gmtime(monday).tm_wday == 0 and time.gmtime(monday)[3:6] == (0, 0, 0)
