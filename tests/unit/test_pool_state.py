"""Cooldown bookkeeping and the scheduler's choices over the in-memory state."""

from __future__ import annotations

import asyncio

from levity.config import CooldownConfig, ProxyConfig
from levity.pool.accounts import Account
from levity.pool.cooldown import apply_failure
from levity.pool.scheduler import Scheduler, session_key
from levity.pool.state import Cooldown, MemoryState
from levity.providers.base import Failure, FailureKind


def acc(name: str, weight: float = 1.0) -> Account:
    return Account(
        id=name, label=name, provider="mock", base_url="", api_key="", models=("m",), weight=weight
    )


def test_streaks_grow_reset_on_success_and_after_quiet_hour():
    async def go() -> None:
        st, cfg = MemoryState(), CooldownConfig()
        quota = Failure(FailureKind.QUOTA, 429, "q")
        lengths = []
        for t in (0, 10, 20):
            cd = await apply_failure(st, cfg, "a", "m", quota, 1000.0 + t)
            lengths.append(round(cd.until - (1000.0 + t)))
        assert lengths == [60, 300, 1800]
        cd = await apply_failure(st, cfg, "a", "m", quota, 1020.0 + 3601)  # an hour without failure
        assert round(cd.until - (1020.0 + 3601)) == 60
        await st.note_success("a", "m")
        cd = await apply_failure(st, cfg, "a", "m", quota, 9000.0)
        assert round(cd.until - 9000.0) == 60
        rl = Failure(FailureKind.RATE_LIMIT, 429, "r", retry_after=2.5)
        cd = await apply_failure(st, cfg, "a", "m", rl, 10000.0)
        assert cd.model is None and cd.until == 10002.5
        assert await apply_failure(st, cfg, "a", "m", Failure(FailureKind.CLIENT, 400, "x"), 1.0) is None

    asyncio.run(go())


def test_weighted_rotation_and_session_binding():
    async def go() -> None:
        st = MemoryState()
        sched = Scheduler(st)
        proxy = ProxyConfig()
        accounts = [acc("a", 2.0), acc("b")]
        picks = [(await sched.choose(accounts, "m", None, set(), proxy, 1.0)).account.id for _ in range(6)]
        assert picks.count("a") == 4 and picks.count("b") == 2
        first = (await sched.choose(accounts, "m", "s1", set(), proxy, 1.0)).account.id
        again = [(await sched.choose(accounts, "m", "s1", set(), proxy, 2.0)).account.id for _ in range(5)]
        assert set(again) == {first}
        # An idle binding expires.
        later = 2.0 + proxy.scheduling.sticky_idle_seconds + 1
        await st.set_cooldown(Cooldown(first, None, later + 50, "rate_limited"))
        moved = (await sched.choose(accounts, "m", "s1", set(), proxy, later)).account.id
        assert moved != first
        nothing = await sched.choose(accounts, "m", "s2", {moved}, proxy, later)
        assert nothing.account is None and [c.account_id for c in nothing.cooling] == [first]

    asyncio.run(go())


def test_session_keys():
    assert session_key({}, {"metadata": {"user_id": "u1"}}) == "u:u1"
    assert session_key({"x-claude-code-session-id": "cc"}, {}) == "h:cc"
    assert session_key({"session-id": "codex"}, {"prompt_cache_key": "p"}) == "h:codex"
    assert session_key({}, {"prompt_cache_key": "p", "user": "u"}) == "o:p"
    one = session_key(
        {}, {"messages": [{"role": "user", "content": "hello"}, {"role": "assistant", "content": "x"}]}
    )
    two = session_key(
        {}, {"messages": [{"role": "system", "content": "s"}, {"role": "user", "content": "hello"}]}
    )
    assert one == two and one.startswith("m:")
    assert session_key({}, {"contents": [{"role": "user", "parts": [{"text": "hi"}]}]}).startswith("m:")
