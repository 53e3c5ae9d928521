"""The request monitor: accepts one record per proxied request without ever slowing it down.

`record()` is called on the request path. It only touches memory: it gives the record an id,
updates the in-memory metrics, appends it to a bounded queue (a full queue drops its oldest
pending record and counts the drop) and to a ring of the latest records for the live tail.
A background task takes the queue in batches to a single writer thread that owns the SQLite
connection, so the event loop never waits on the disk. Another task enforces retention.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from ..config import ConfigStore, MonitorConfig
from ..security.client_ip import client_ip, request_client_ip
from ..security.redact import body_for_log, clip, redact
from .metrics import Metrics
from .monitor_db import LogFilter, MonitorDB, record_dict
from .records import RequestRecord

__all__ = ["Monitor", "client_ip", "request_client_ip", "redact", "body_for_log"]

log = logging.getLogger("levity.monitor")

# Rows per transaction. The writer thread shares the gateway's core; one long transaction kept a
# request waiting for the CPU (c=1 p99 +2 ms in bench/), 32 rows take ~0.5 ms and the loop runs
# between them. Under load that is still ~3 µs of transaction overhead per row.
BATCH_MAX = 32
# A pause after the first record of a burst lets the rest join the same transaction (under load
# a pass carries BATCH_DELAY × req/s records; a transaction costs ~90 µs whatever its size).
BATCH_DELAY = 0.2
RETENTION_INTERVAL = 60.0
SUBSCRIBER_QUEUE = 1000


class Monitor:
    def __init__(
        self,
        config: ConfigStore,
        path: Path | None = None,
        secrets: Callable[[], Iterable[str]] = lambda: (),
        retention_interval: float = RETENTION_INTERVAL,
    ) -> None:
        self.config = config
        self.path = path or config.home / "monitor.db"
        self.secrets = secrets
        self.retention_interval = retention_interval
        cfg = self._cfg()
        self._pending: deque[RequestRecord] = deque()
        self._ring: deque[RequestRecord] = deque(maxlen=cfg.ring_size)
        self._subscribers: set[asyncio.Queue[RequestRecord | None]] = set()
        self._next_id = 0
        self._written_id = 0  # every record with an id up to this one is on disk (or was dropped)
        self.dropped = 0
        self.written = 0
        self.batches = 0
        self.write_errors = 0
        self.metrics = Metrics()
        self._wake: asyncio.Event | None = None
        self._written_event: asyncio.Event | None = None
        self._executor = ThreadPoolExecutor(1, thread_name_prefix="levity-monitor")
        self._db: MonitorDB | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._record_failures = 0

    def _cfg(self) -> MonitorConfig:
        return self.config.current.monitor

    # -- the request path ------------------------------------------------------------------
    def record(self, rec: RequestRecord) -> None:
        """Accept a record: memory only, constant time, never raises."""
        try:
            cfg = self._cfg()
            self._next_id += 1
            rec.id = self._next_id
            if not cfg.log_bodies:
                rec.request_body = rec.response_body = None
            else:  # bounded memory while queued; redaction and the exact cap happen on the writer thread
                rec.request_body = clip(rec.request_body, cfg.max_body_chars)  # type: ignore[assignment]
                rec.response_body = clip(rec.response_body, cfg.max_body_chars)  # type: ignore[assignment]
            self.metrics.observe(rec)
            while len(self._pending) >= cfg.queue_size:
                self._pending.popleft()
                self.dropped += 1
            self._pending.append(rec)
            if self._ring.maxlen != cfg.ring_size:
                self._ring = deque(self._ring, maxlen=cfg.ring_size)
            self._ring.append(rec)
            for q in self._subscribers:
                if q.full():  # a slow viewer loses its oldest lines, never slows the request
                    q.get_nowait()
                q.put_nowait(rec)
            if self._wake is not None:
                self._wake.set()
        except Exception:
            self._record_failures += 1
            if self._record_failures <= 3:
                log.exception("monitor could not take a record")

    # -- lifecycle -------------------------------------------------------------------------
    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        self._wake = asyncio.Event()
        self._written_event = asyncio.Event()
        self._db = await loop.run_in_executor(self._executor, MonitorDB, self.path)
        base = await self._run(self._db.max_id)
        # Records taken before start were numbered from 0; move them past what is on disk.
        for rec in self._pending:
            rec.id += base
        self._next_id += base
        self._written_id = base
        self._tasks = [loop.create_task(self._write_loop()), loop.create_task(self._retention_loop())]
        if self._pending:
            self._wake.set()

    async def stop(self) -> None:
        for t in self._tasks:
            t.cancel()
        for t in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await t
        self._tasks = []
        if self._db is not None:
            await self._drain()
            await self._run(self._db.close)
            self._db = None
        self._executor.shutdown(wait=True)

    async def _run(self, fn: Callable[..., Any], *args: Any) -> Any:
        return await asyncio.get_running_loop().run_in_executor(self._executor, fn, *args)

    # -- writing ---------------------------------------------------------------------------
    async def _write_loop(self) -> None:
        assert self._wake is not None
        while True:
            await self._wake.wait()
            await asyncio.sleep(BATCH_DELAY)
            self._wake.clear()
            # Only what was queued before this pass: records that arrive while a batch is being
            # written wait for the next pass, so under load every transaction carries a whole
            # BATCH_DELAY of records instead of the one or two that came in during the write
            # (a transaction costs ~90 µs of CPU on its own, a row ~14 µs).
            await self._drain(len(self._pending))

    async def _drain(self, limit: int | None = None) -> None:
        """Write the queue in batches: all of it, or its first `limit` records."""
        left = len(self._pending) if limit is None else limit
        while self._pending and left > 0:
            batch = [self._pending.popleft() for _ in range(min(BATCH_MAX, len(self._pending), left))]
            left -= len(batch)
            try:
                await self._run(self._write_batch, batch)
                self.written += len(batch)
                self.batches += 1
            except Exception:
                self.write_errors += 1
                log.exception("monitor could not write %d records", len(batch))
            self._mark_written(batch[-1].id)
        if not self._pending:  # the ids in between were dropped, or never queued
            self._mark_written(self._next_id)

    def _mark_written(self, upto: int) -> None:
        self._written_id = max(self._written_id, upto)
        if self._written_event is not None:
            self._written_event.set()

    def _write_batch(self, batch: list[RequestRecord]) -> None:
        """On the writer thread: redact and cap bodies (idempotent), then one transaction."""
        assert self._db is not None
        cfg = self._cfg()
        known = list(self.secrets())
        for rec in batch:
            # Upstream errors are scrubbed by the forwarder; this catches anything that slipped by.
            rec.error = redact(rec.error, known) if rec.error else rec.error
            for a in rec.attempts:
                a.error = redact(a.error, known) if a.error else a.error
            if rec.request_body is not None:
                rec.request_body = body_for_log(rec.request_body, cfg.max_body_chars, known)
            if rec.response_body is not None:
                rec.response_body = body_for_log(rec.response_body, cfg.max_body_chars, known)
        self._db.insert(batch)

    async def flush(self, timeout: float = 5.0) -> None:
        """Wait until every record taken so far is written (or given up on)."""
        target = self._next_id
        deadline = time.monotonic() + timeout
        while self._written_id < target and self._written_event is not None:
            self._written_event.clear()
            if self._wake is not None:
                self._wake.set()
            left = deadline - time.monotonic()
            if left <= 0:
                return
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._written_event.wait(), left)

    # -- retention -------------------------------------------------------------------------
    async def _retention_loop(self) -> None:
        while True:
            try:
                await self.enforce_retention()
            except Exception:
                log.exception("monitor retention failed")
            await asyncio.sleep(self.retention_interval)

    async def enforce_retention(self) -> int:
        cfg = self._cfg()
        assert self._db is not None
        removed = await self._run(self._db.prune, cfg.retention_days, cfg.max_rows, cfg.stats_retention_days)
        if removed:
            log.info("monitor retention removed %d records", removed)
        return removed

    # -- reading (admin API) ---------------------------------------------------------------
    @property
    def db(self) -> MonitorDB:
        if self._db is None:
            raise RuntimeError("monitor not started")
        return self._db

    async def query(self, fn: Callable[..., Any], *args: Any) -> Any:
        """Run a read on the writer thread: the connection stays on one thread, reads queue behind writes."""
        return await self._run(fn, *args)

    async def page(self, flt: LogFilter, limit: int, offset: int, before_id: int | None) -> dict[str, Any]:
        await self.flush(timeout=2.0)
        return await self._run(self.db.page, flt, limit, offset, before_id)

    async def get(self, record_id: int) -> dict[str, Any] | None:
        found = await self._run(self.db.get, record_id)
        if found is not None:
            return found
        for rec in reversed(self._ring):  # not written yet: serve from memory, redacted the same way
            if rec.id == record_id:
                cfg, known = self._cfg(), list(self.secrets())
                out = record_dict(rec, detail=True)
                for k in ("request_body", "response_body"):
                    out[k] = body_for_log(out[k], cfg.max_body_chars, known)
                out["error"] = redact(out["error"], known)
                for a in out["attempts"]:
                    a["error"] = redact(a["error"] or "", known)
                return out
        return None

    def summary(self, rec: RequestRecord) -> dict[str, Any]:
        """A record for the live tail, which may see it before the writer has redacted it."""
        known = list(self.secrets())
        out = record_dict(rec)
        out["error"] = redact(out["error"], known)
        for a in out["attempts"]:
            a["error"] = redact(a["error"] or "", known)
        return out

    def recent(self, flt: LogFilter, limit: int) -> list[RequestRecord]:
        return [r for r in self._ring if flt.matches(r)][-limit:]

    def subscribe(self) -> asyncio.Queue[RequestRecord | None]:
        q: asyncio.Queue[RequestRecord | None] = asyncio.Queue(SUBSCRIBER_QUEUE)
        self._subscribers.add(q)
        return q

    def unsubscribe(self, q: asyncio.Queue[RequestRecord | None]) -> None:
        self._subscribers.discard(q)

    def end_tails(self) -> None:
        """Tell every live tail to finish (server shutdown), so none holds the shutdown up."""
        for q in self._subscribers:
            if q.full():
                q.get_nowait()
            q.put_nowait(None)

    async def clear(self, stats: bool = False) -> None:
        await self.flush(timeout=2.0)
        self._ring.clear()
        await self._run(self.db.clear_log)
        if stats:
            await self._run(self.db.clear_stats)

    def status(self) -> dict[str, Any]:
        cfg = self._cfg()
        return {
            "queued": len(self._pending),
            "queue_size": cfg.queue_size,
            "dropped": self.dropped,
            "written": self.written,
            "batches": self.batches,
            "write_errors": self.write_errors,
            "log_bodies": cfg.log_bodies,
            "retention_days": cfg.retention_days,
            "max_rows": cfg.max_rows,
            "path": str(self.path),
        }
