"""Which eligible account serves a request: sticky sessions, weighted balance, fixed account.

Modes (`proxy.scheduling.mode`):
- balance: a session stays on its account while that account is usable; new sessions go to
  the least-loaded account, ties by smooth weighted round robin.
- cache_first: like balance, but when the session's account rests for at most
  `max_wait_seconds`, wait for it instead of moving (keeps the upstream prompt cache warm).
- performance_first: no stickiness; the fewest requests in flight per unit of weight.
`proxy.fixed_account` (id or label) pins every request to one account while it is usable.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson

from ..config import ProxyConfig
from .accounts import Account
from .state import Cooldown, PoolState


@dataclass(slots=True)
class Choice:
    account: Account | None = None
    wait: float = 0.0  # cache_first: sleep this long, then use `account`
    # When nothing is ready: the rest of every account that could have served.
    cooling: list[Cooldown] = field(default_factory=list)


def _first_user_text(body: Mapping[str, Any]) -> Any:
    for key in ("messages", "input", "contents"):
        turns = body.get(key)
        if isinstance(turns, str):
            return turns
        if isinstance(turns, list):
            for t in turns:
                if isinstance(t, dict) and t.get("role", "user") == "user":
                    return t.get("content", t.get("parts"))
    prompt = body.get("prompt")
    return prompt if prompt is not None else None


def session_key(headers: Mapping[str, str], body: Mapping[str, Any]) -> str | None:
    """Who is talking, so their requests stay on one account (and its prompt cache)."""
    meta = body.get("metadata")
    if isinstance(meta, dict) and isinstance(meta.get("user_id"), str) and meta["user_id"]:
        return "u:" + meta["user_id"]
    for header in ("x-claude-code-session-id", "session-id", "session_id"):
        value = headers.get(header)
        if value:
            return "h:" + value
    for field_name in ("prompt_cache_key", "user"):
        value = body.get(field_name)
        if isinstance(value, str) and value:
            return "o:" + value
    first = _first_user_text(body)
    if first is None:
        return None
    return "m:" + hashlib.blake2b(orjson.dumps(first), digest_size=12).hexdigest()


class Scheduler:
    def __init__(self, state: PoolState) -> None:
        self.state = state
        # Smooth weighted round robin: each account's virtual finish time, and the system's.
        self._vtime: dict[str, float] = {}
        self._vnow = 0.0

    def _vkey(self, account: Account) -> float:
        return max(self._vtime.get(account.id, self._vnow), self._vnow)

    def _charge(self, account: Account) -> None:
        start = self._vkey(account)
        self._vnow = start
        self._vtime[account.id] = start + 1.0 / account.weight

    def forget(self, account_id: str) -> None:
        self._vtime.pop(account_id, None)

    def _least_loaded(self, ready: list[Account]) -> Account:
        def key(a: Account) -> tuple[float, float]:
            return (self.state.inflight(a.id) / a.weight, self._vkey(a))

        return min(ready, key=key)

    async def choose(
        self,
        candidates: Sequence[Account],
        model: str,
        session: str | None,
        tried: set[str],
        proxy: ProxyConfig,
        now: float,
    ) -> Choice:
        left = [a for a in candidates if a.id not in tried]
        cooling = await self.state.active_cooldowns([a.id for a in left], model, now)
        ready = [a for a in left if a.id not in cooling]
        sched = proxy.scheduling
        sticky = sched.mode != "performance_first" and session is not None
        bind_key = f"{model}\x00{session}" if sticky else ""
        bound = await self.state.get_binding(bind_key, now, sched.sticky_idle_seconds) if sticky else None

        if proxy.fixed_account:
            fixed = next((a for a in ready if proxy.fixed_account in (a.id, a.label)), None)
            if fixed is not None:
                return self._take(fixed)

        if sticky and bound is not None:
            hit = next((a for a in ready if a.id == bound), None)
            if hit is not None:
                await self.state.set_binding(bind_key, hit.id, now)
                return self._take(hit)
            rest = cooling.get(bound)
            if (
                sched.mode == "cache_first"
                and not tried
                and rest is not None
                and not rest.permanent
                and rest.left(now) <= sched.max_wait_seconds
            ):
                account = next(a for a in left if a.id == bound)
                return Choice(account=account, wait=max(0.0, rest.left(now)))

        if not ready:
            return Choice(cooling=list(cooling.values()))
        chosen = self._least_loaded(ready)
        if sticky:
            await self.state.set_binding(bind_key, chosen.id, now)
        return self._take(chosen)

    def _take(self, account: Account) -> Choice:
        self._charge(account)
        return Choice(account=account)
