"""The request log in SQLite: schema, batched insert, filtered pages, retention.

Every function here is synchronous and runs on the monitor's single writer thread, which owns
the connection; the event loop never touches the database file.
"""

from __future__ import annotations

import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from . import stats
from .records import Attempt, RequestRecord

SCHEMA = """
CREATE TABLE IF NOT EXISTS request_log (
    id INTEGER PRIMARY KEY,
    ts REAL NOT NULL,
    method TEXT NOT NULL,
    path TEXT NOT NULL,
    protocol TEXT NOT NULL,
    model TEXT NOT NULL,
    mapped_model TEXT NOT NULL,
    account TEXT NOT NULL,
    provider TEXT NOT NULL,
    status INTEGER NOT NULL,
    stream INTEGER NOT NULL,
    duration_ms REAL NOT NULL,
    ttfb_ms REAL,
    input_tokens INTEGER NOT NULL,
    output_tokens INTEGER NOT NULL,
    cached_tokens INTEGER NOT NULL,
    reasoning_tokens INTEGER NOT NULL,
    attempts TEXT NOT NULL,
    error TEXT NOT NULL,
    client_ip TEXT NOT NULL,
    request_body TEXT,
    response_body TEXT
);
CREATE INDEX IF NOT EXISTS request_log_ts ON request_log (ts);
"""

SUMMARY_COLUMNS = (
    "id ts method path protocol model mapped_model account provider status stream duration_ms ttfb_ms "
    "input_tokens output_tokens cached_tokens reasoning_tokens attempts error client_ip"
).split()
DETAIL_COLUMNS = [*SUMMARY_COLUMNS, "request_body", "response_body"]
STATUS_CLASSES = {"2xx": (200, 300), "3xx": (300, 400), "4xx": (400, 500), "5xx": (500, 600)}


@dataclass(slots=True)
class LogFilter:
    status: str = ""  # 2xx, 4xx, 5xx, "error" (any failure)
    protocol: str = ""
    model: str = ""  # matches the requested or the mapped model
    account: str = ""
    q: str = ""  # substring of path, models, account, error, client address

    def where(self) -> tuple[str, list[Any]]:
        clauses: list[str] = []
        args: list[Any] = []
        if self.status in STATUS_CLASSES:
            lo, hi = STATUS_CLASSES[self.status]
            clauses.append("status >= ? AND status < ?")
            args += [lo, hi]
        elif self.status == "error":
            clauses.append("(status >= 400 OR status = 0 OR error != '')")
        if self.protocol:
            clauses.append("protocol = ?")
            args.append(self.protocol)
        if self.model:
            clauses.append("(model = ? OR mapped_model = ?)")
            args += [self.model, self.model]
        if self.account:
            clauses.append("account = ?")
            args.append(self.account)
        if self.q:
            like = "%" + self.q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
            fields = ("path", "model", "mapped_model", "account", "error", "client_ip")
            clauses.append("(" + " OR ".join(f"{f} LIKE ? ESCAPE '\\'" for f in fields) + ")")
            args += [like] * len(fields)
        return (" AND ".join(clauses) or "1"), args

    def matches(self, rec: RequestRecord) -> bool:
        """The same rule in memory, for records still waiting in the queue or on the live tail."""
        if self.status in STATUS_CLASSES:
            lo, hi = STATUS_CLASSES[self.status]
            if not lo <= rec.status < hi:
                return False
        elif self.status == "error" and not stats.is_error(rec):
            return False
        if self.protocol and rec.protocol != self.protocol:
            return False
        if self.model and self.model not in (rec.model, rec.mapped_model):
            return False
        if self.account and rec.account != self.account:
            return False
        if self.q:
            q = self.q.lower()
            hay = (rec.path, rec.model, rec.mapped_model, rec.account, rec.error, rec.client_ip)
            if not any(q in h.lower() for h in hay):
                return False
        return True


def attempts_json(attempts: list[Attempt]) -> str:
    return orjson.dumps(
        [
            {"account": a.account, "status": a.status, "error": a.error, "duration_ms": a.duration_ms}
            for a in attempts
        ]
    ).decode()


def record_row(rec: RequestRecord) -> tuple[Any, ...]:
    return (
        rec.id, rec.ts, rec.method, rec.path, rec.protocol, rec.model, rec.mapped_model, rec.account,
        rec.provider, rec.status, int(rec.stream), rec.duration_ms, rec.ttfb_ms, rec.input_tokens,
        rec.output_tokens, rec.cached_tokens, rec.reasoning_tokens, attempts_json(rec.attempts), rec.error,
        rec.client_ip, rec.request_body, rec.response_body,
    )  # fmt: skip


def record_dict(rec: RequestRecord, detail: bool = False) -> dict[str, Any]:
    """A record as the admin API shows it (the same shape as a row read back)."""
    row = record_row(rec)
    cols = DETAIL_COLUMNS if detail else SUMMARY_COLUMNS
    return _row_dict(cols, row[: len(cols)])


def _row_dict(cols: list[str], row: tuple[Any, ...]) -> dict[str, Any]:
    out = dict(zip(cols, row, strict=True))
    out["stream"] = bool(out["stream"])
    out["attempts"] = orjson.loads(out["attempts"])
    return out


class MonitorDB:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self.conn.execute("PRAGMA journal_mode=WAL")
        self.conn.execute(
            "PRAGMA synchronous=NORMAL"
        )  # WAL keeps it consistent; a crash may lose the last batch
        self.conn.executescript(SCHEMA + stats.SCHEMA)

    def close(self) -> None:
        self.conn.close()

    def max_id(self) -> int:
        return self.conn.execute("SELECT COALESCE(MAX(id), 0) FROM request_log").fetchone()[0]

    def count(self) -> int:
        return self.conn.execute("SELECT COUNT(*) FROM request_log").fetchone()[0]

    def insert(self, records: list[RequestRecord]) -> None:
        """One transaction per batch: the log rows and the hourly rollups land together."""
        placeholders = ", ".join("?" * len(DETAIL_COLUMNS))
        with self.conn:
            self.conn.execute("BEGIN")
            self.conn.executemany(
                f"INSERT OR REPLACE INTO request_log ({', '.join(DETAIL_COLUMNS)}) VALUES ({placeholders})",
                [record_row(r) for r in records],
            )
            stats.add_records(self.conn, records)

    def page(
        self, flt: LogFilter, limit: int, offset: int = 0, before_id: int | None = None
    ) -> dict[str, Any]:
        where, args = flt.where()
        total = self.conn.execute(f"SELECT COUNT(*) FROM request_log WHERE {where}", args).fetchone()[0]
        if before_id is not None:
            where += " AND id < ?"
            args = [*args, before_id]
        rows = self.conn.execute(
            f"SELECT {', '.join(SUMMARY_COLUMNS)} FROM request_log WHERE {where} ORDER BY id DESC LIMIT ? OFFSET ?",
            [*args, limit, offset],
        ).fetchall()
        items = [_row_dict(SUMMARY_COLUMNS, r) for r in rows]
        return {
            "items": items,
            "total": total,
            "next_before_id": items[-1]["id"] if len(items) == limit else None,
        }

    def get(self, record_id: int) -> dict[str, Any] | None:
        row = self.conn.execute(
            f"SELECT {', '.join(DETAIL_COLUMNS)} FROM request_log WHERE id = ?", (record_id,)
        ).fetchone()
        return _row_dict(DETAIL_COLUMNS, row) if row else None

    def prune(self, retention_days: float, max_rows: int, stats_retention_days: float) -> int:
        now = time.time()
        with self.conn:
            self.conn.execute("BEGIN")
            removed = self.conn.execute(
                "DELETE FROM request_log WHERE ts < ?", (now - retention_days * 86400,)
            ).rowcount
            cut = self.conn.execute(
                "SELECT id FROM request_log ORDER BY id DESC LIMIT 1 OFFSET ?", (max_rows,)
            ).fetchone()
            if cut is not None:
                removed += self.conn.execute("DELETE FROM request_log WHERE id <= ?", (cut[0],)).rowcount
            stats.prune(self.conn, now - stats_retention_days * 86400)
        return removed

    def clear_log(self) -> None:
        self.conn.execute("DELETE FROM request_log")

    def clear_stats(self) -> None:
        stats.clear(self.conn)

    def summary(self, now: float, window_s: float) -> dict[str, Any]:
        """Rates and the median latency over the last `window_s`, and requests per minute for an hour."""
        since = now - window_s
        n, errors = self.conn.execute(
            "SELECT COUNT(*), COALESCE(SUM(status >= 400 OR status = 0 OR error != ''), 0) FROM request_log WHERE ts >= ?",
            (since,),
        ).fetchone()
        p50 = None
        if n:
            p50 = self.conn.execute(
                "SELECT duration_ms FROM request_log WHERE ts >= ? ORDER BY duration_ms LIMIT 1 OFFSET ?",
                (since, (n - 1) // 2),
            ).fetchone()[0]
        start = int(now // 60) * 60 - 59 * 60
        per_min = {
            int(t): (c, e)
            for t, c, e in self.conn.execute(
                "SELECT CAST(ts / 60 AS INTEGER) * 60 AS m, COUNT(*), SUM(status >= 400 OR status = 0 OR error != '') "
                "FROM request_log WHERE ts >= ? GROUP BY m",
                (start,),
            )
        }
        minutes = [
            {"t": t, "requests": per_min.get(t, (0, 0))[0], "errors": per_min.get(t, (0, 0))[1]}
            for t in range(start, start + 60 * 60, 60)
        ]
        return {
            "window_seconds": window_s,
            "requests": n,
            "errors": errors,
            "requests_per_minute": round(n / (window_s / 60), 2),
            "error_rate": round(errors / n, 4) if n else 0.0,
            "p50_latency_ms": p50,
            "per_minute": minutes,
        }
