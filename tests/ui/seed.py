"""Seed a gateway's monitor database before it starts, so the UI has traffic to show.

The records go through the same storage layer the monitor uses (`MonitorDB.insert`), into the
`monitor.db` the gateway process then opens.
"""

from __future__ import annotations

import random
import time
from pathlib import Path

from levity.store.monitor_db import MonitorDB
from levity.store.records import Attempt, RequestRecord

MODELS = [("gpt-4o-mini", "openai_chat", "/v1/chat/completions"), ("claude-sonnet-4-6", "anthropic_messages", "/v1/messages"),
          ("gemini-2.5-flash", "gemini_stream", "/v1beta/models/gemini-2.5-flash:streamGenerateContent")]  # fmt: skip
ACCOUNTS = ["openai-main", "anthropic-team", "gemini-free"]


def seed(
    home: Path, n: int = 400, span_s: float = 6 * 86400, recent: int = 40, min_age_s: float = 0.0
) -> list[RequestRecord]:
    """`n` records over the last `span_s` seconds (`recent` of them in the last 4 minutes), none
    newer than `min_age_s`."""
    rnd = random.Random(5)
    now = time.time() - min_age_s
    records: list[RequestRecord] = []
    times = sorted(
        [now - rnd.random() * span_s for _ in range(n - recent)]
        + [now - rnd.random() * 240 for _ in range(recent)]
    )
    for i, ts in enumerate(times, start=1):
        mi = rnd.randrange(3)
        model, protocol, path = MODELS[mi]
        status = rnd.choices([200, 429, 502], weights=[90, 7, 3])[0]
        attempts = [Attempt(ACCOUNTS[mi], 200 if status == 200 else status, "" if status == 200 else "rate_limit: slow down",
                            rnd.uniform(200, 2000))]  # fmt: skip
        if status == 200 and rnd.random() < 0.1:
            attempts.insert(0, Attempt("backup-" + ACCOUNTS[mi], 429, "rate_limit: too many requests", 40.0))
        records.append(RequestRecord(
            id=i, ts=ts, method="POST", path=path, protocol=protocol, model=model, mapped_model=model,
            account=ACCOUNTS[mi], provider=protocol.split("_")[0], status=status, stream=rnd.random() < 0.6,
            duration_ms=rnd.uniform(250, 4000), ttfb_ms=rnd.uniform(80, 600),
            input_tokens=rnd.randrange(50, 6000) if status == 200 else 0,
            output_tokens=rnd.randrange(20, 1500) if status == 200 else 0,
            cached_tokens=rnd.randrange(0, 2000) if status == 200 else 0, attempts=attempts,
            error="" if status == 200 else attempts[-1].error, client_ip="127.0.0.1",
            request_body='{"model": "' + model + '", "messages": [{"role": "user", "content": "Hello"}]}',
            response_body='{"choices": [{"message": {"role": "assistant", "content": "Hi there"}}]}' if status == 200 else None,
        ))  # fmt: skip
    db = MonitorDB(home / "monitor.db")
    try:
        db.insert(records)
    finally:
        db.close()
    return records
