"""The dashboard's and /metrics' reading of the real pool: one state per account, and its keys."""

from __future__ import annotations

import asyncio
import math
from pathlib import Path

from levity.admin.pool_view import account_secrets, account_states
from levity.pool.accounts import AccountBook
from levity.pool.pool import Pool
from levity.pool.state import Cooldown
from levity.store.sqlite import Database

NOW = 1_000_000.0


def row(aid: str, key: str, enabled: bool = True) -> dict[str, object]:
    return {"id": aid, "label": f"label-{aid}", "provider": "openai", "base_url": "", "api_key": key,
            "models": ["m1", "m2"], "enabled": enabled, "weight": 1.0, "options": {}}  # fmt: skip


def test_each_account_gets_one_state_with_reason_and_time_left(tmp_path: Path) -> None:
    async def go() -> None:
        db = Database.in_home(tmp_path)
        try:
            for r in (row("ready", "key-ready-1"), row("whole", "key-whole-2"), row("model", "key-model-3"),
                      row("bad", "key-bad-4"), row("off", "key-off-5", enabled=False), row("nokey", "")):  # fmt: skip
                db.insert_account(r)
            book = AccountBook(db)
            await book.reload()
            pool = Pool(book)
            cds = [
                Cooldown("whole", None, NOW + 40, "rate_limited", "slow down"),
                Cooldown(
                    "whole", "m1", NOW + 90, "quota_exhausted"
                ),  # the account-wide rest is reported first
                Cooldown("model", "m2", NOW + 25, "quota_exhausted"),
                Cooldown("bad", None, math.inf, "auth_failed", "invalid key"),
                Cooldown("off", None, NOW + 10, "server_error"),
                Cooldown("ready", None, NOW - 1, "rate_limited"),  # over
            ]
            for cd in cds:
                await pool.state.set_cooldown(cd)
            pool.state.acquire("ready")
            states = {s["id"]: s for s in await account_states(pool, NOW)}
            assert {k: (v["state"], v["cooldown_seconds"]) for k, v in states.items()} == {
                "ready": ("ready", 0.0), "whole": ("cooling", 40.0), "model": ("cooling", 25.0),
                "bad": ("unusable", 0.0), "off": ("disabled", 0.0), "nokey": ("ready", 0.0),
            }  # fmt: skip
            assert states["whole"]["reason"] == "rate_limited (slow down)"
            assert states["model"]["reason"] == "m2: quota_exhausted"
            assert states["bad"]["reason"] == "auth_failed (invalid key)"
            assert states["bad"]["cooldowns"] == [
                {"model": None, "reason": "auth_failed", "seconds_left": None}
            ]
            assert sorted(c["seconds_left"] for c in states["whole"]["cooldowns"]) == [40.0, 90.0]
            assert states["ready"]["in_flight"] == 1 and states["ready"]["label"] == "label-ready"
            assert sorted(account_secrets(pool)) == ["key-bad-4", "key-model-3", "key-off-5", "key-ready-1",
                                                     "key-whole-2"]  # fmt: skip
            assert await account_states(None) == [] and account_secrets(None) == []
        finally:
            db.close()

    asyncio.run(go())
