"""Token statistics rolled up per hour, per account, per model: one small row per combination.

A year of traffic over 10 accounts and 20 models is at most ~1.7M rows and in practice far
fewer, independent of how many requests were made. Queries bucket the hours into days or weeks.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from typing import Any

from .records import RequestRecord

SCHEMA = """
CREATE TABLE IF NOT EXISTS token_stats (
    hour INTEGER NOT NULL,           -- unix time of the hour's start (UTC)
    account TEXT NOT NULL,
    model TEXT NOT NULL,
    requests INTEGER NOT NULL DEFAULT 0,
    errors INTEGER NOT NULL DEFAULT 0,
    input_tokens INTEGER NOT NULL DEFAULT 0,
    output_tokens INTEGER NOT NULL DEFAULT 0,
    cached_tokens INTEGER NOT NULL DEFAULT 0,
    reasoning_tokens INTEGER NOT NULL DEFAULT 0,
    duration_ms REAL NOT NULL DEFAULT 0,
    PRIMARY KEY (hour, account, model)
) WITHOUT ROWID;
"""

_UPSERT = """
INSERT INTO token_stats (hour, account, model, requests, errors, input_tokens, output_tokens,
                         cached_tokens, reasoning_tokens, duration_ms)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (hour, account, model) DO UPDATE SET
    requests = requests + excluded.requests,
    errors = errors + excluded.errors,
    input_tokens = input_tokens + excluded.input_tokens,
    output_tokens = output_tokens + excluded.output_tokens,
    cached_tokens = cached_tokens + excluded.cached_tokens,
    reasoning_tokens = reasoning_tokens + excluded.reasoning_tokens,
    duration_ms = duration_ms + excluded.duration_ms
"""

BUCKETS = {"hour": 3600, "day": 86400, "week": 7 * 86400}
# 1970-01-01 was a Thursday; weeks start on Monday, four days later.
_WEEK_ORIGIN = 4 * 86400
GROUPS = {"model": "model", "account": "account", "none": "''"}
_METRICS = ("requests", "errors", "input_tokens", "output_tokens", "cached_tokens", "reasoning_tokens")


def is_error(rec: RequestRecord) -> bool:
    return rec.status >= 400 or rec.status == 0 or bool(rec.error)


def rollup_key(rec: RequestRecord) -> tuple[int, str, str]:
    return (int(rec.ts // 3600) * 3600, rec.account, rec.mapped_model or rec.model)


def add_records(conn: sqlite3.Connection, records: Iterable[RequestRecord]) -> None:
    """Fold a batch in memory first, so a burst of requests costs one upsert per hour/account/model."""
    folded: dict[tuple[int, str, str], list[float]] = {}
    for rec in records:
        row = folded.setdefault(rollup_key(rec), [0, 0, 0, 0, 0, 0, 0.0])
        row[0] += 1
        row[1] += 1 if is_error(rec) else 0
        row[2] += rec.input_tokens
        row[3] += rec.output_tokens
        row[4] += rec.cached_tokens
        row[5] += rec.reasoning_tokens
        row[6] += rec.duration_ms
    conn.executemany(_UPSERT, [(*key, *vals) for key, vals in folded.items()])


def prune(conn: sqlite3.Connection, before_ts: float) -> int:
    return conn.execute("DELETE FROM token_stats WHERE hour < ?", (int(before_ts),)).rowcount


def clear(conn: sqlite3.Connection) -> None:
    conn.execute("DELETE FROM token_stats")


def bucket_expr(bucket: str, tz_offset_s: int) -> str:
    size = BUCKETS[bucket]
    if bucket == "hour":
        tz_offset_s = 0  # rows are whole UTC hours; only day and week starts move with the time zone
    origin = (_WEEK_ORIGIN if bucket == "week" else 0) - tz_offset_s
    # Integer arithmetic on trusted constants only; user input never reaches this string.
    return f"((hour - ({origin})) / {size}) * {size} + ({origin})"


def query(
    conn: sqlite3.Connection,
    bucket: str,
    group: str,
    since: float,
    until: float,
    tz_offset_s: int = 0,
    account: str = "",
    model: str = "",
) -> dict[str, Any]:
    """Series of (bucket start, group key, sums) plus totals per group key, oldest first."""
    start = bucket_expr(bucket, tz_offset_s)
    key = GROUPS[group]
    where = ["hour >= ?", "hour < ?"]
    args: list[Any] = [int(since // 3600) * 3600, until]
    if account:
        where.append("account = ?")
        args.append(account)
    if model:
        where.append("model = ?")
        args.append(model)
    sums = ", ".join(f"SUM({m})" for m in _METRICS)
    sql = (
        f"SELECT {start} AS t, {key} AS k, {sums}, SUM(duration_ms) FROM token_stats "
        f"WHERE {' AND '.join(where)} GROUP BY t, k ORDER BY t, k"
    )
    series = []
    totals: dict[str, dict[str, float]] = {}
    for row in conn.execute(sql, args):
        point = {"t": row[0], "key": row[1], **dict(zip(_METRICS, row[2:8], strict=True))}
        series.append(point)
        tot = totals.setdefault(row[1], {m: 0 for m in _METRICS} | {"duration_ms": 0.0})
        for m in _METRICS:
            tot[m] += point[m]
        tot["duration_ms"] += row[8]
    for tot in totals.values():
        tot["avg_duration_ms"] = round(tot.pop("duration_ms") / tot["requests"], 1) if tot["requests"] else 0
    return {
        "bucket": bucket,
        "bucket_seconds": BUCKETS[bucket],
        "group": group,
        "since": since,
        "until": until,
        "series": series,
        "totals": [{"key": k, **v} for k, v in sorted(totals.items(), key=lambda kv: -kv[1]["requests"])],
    }


def totals_since(conn: sqlite3.Connection, since: float) -> dict[str, int]:
    """Sums since the start of the hour that holds `since` (the dashboard's "tokens today")."""
    sums = ", ".join(f"COALESCE(SUM({m}), 0)" for m in _METRICS)
    row = conn.execute(
        f"SELECT {sums} FROM token_stats WHERE hour >= ?", (int(since // 3600) * 3600,)
    ).fetchone()
    return dict(zip(_METRICS, row, strict=True))
