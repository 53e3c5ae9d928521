"""The pool's live state: cooldowns, failure streaks, sticky bindings and in-flight counts.

The scheduler and forwarder only talk to `PoolState`; `MemoryState` keeps it in this process.
The methods are async so a shared backend (Redis, for several gateway processes) can implement
the same interface without touching the callers. Times are wall-clock seconds (`time.time()`)
so they mean the same thing in every process.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections import OrderedDict
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Cooldown:
    account_id: str
    model: str | None  # None: the whole account rests
    until: float  # math.inf: unusable until the key changes or the account is re-enabled
    reason: str  # a FailureKind value
    message: str = ""

    def left(self, now: float) -> float:
        return self.until - now

    @property
    def permanent(self) -> bool:
        return math.isinf(self.until)


class PoolState(ABC):
    @abstractmethod
    async def active_cooldowns(self, account_ids: list[str], model: str, now: float) -> dict[str, Cooldown]:
        """For each account that may not serve `model` now, the cooldown that ends last."""

    @abstractmethod
    async def all_cooldowns(self, now: float) -> list[Cooldown]: ...

    @abstractmethod
    async def set_cooldown(self, cooldown: Cooldown) -> None: ...

    @abstractmethod
    async def clear_cooldowns(self, account_id: str | None = None) -> int:
        """Remove the cooldowns (and failure streaks) of one account, or of all; returns how many."""

    @abstractmethod
    async def note_failure(self, scope: str, kind: str, now: float, reset_after: float | None) -> int:
        """Count one more consecutive failure of `kind` in `scope`; returns the streak length.

        With `reset_after`, a streak whose last failure is older than that starts again at 1.
        """

    @abstractmethod
    async def note_success(self, account_id: str, model: str) -> None:
        """Success ends every failure streak of the account and of the account's model."""

    @abstractmethod
    async def get_binding(self, session: str, now: float, idle: float) -> str | None: ...

    @abstractmethod
    async def set_binding(self, session: str, account_id: str, now: float) -> None: ...

    @abstractmethod
    def inflight(self, account_id: str) -> int: ...

    @abstractmethod
    def acquire(self, account_id: str) -> None: ...

    @abstractmethod
    def release(self, account_id: str) -> None: ...


class MemoryState(PoolState):
    MAX_BINDINGS = 50_000  # bounded memory: the least recently used sessions are forgotten first

    def __init__(self) -> None:
        self._cooldowns: dict[tuple[str, str | None], Cooldown] = {}
        self._streaks: dict[tuple[str, str], tuple[int, float]] = {}
        self._bindings: OrderedDict[str, tuple[str, float]] = OrderedDict()
        self._inflight: dict[str, int] = {}

    async def active_cooldowns(self, account_ids: list[str], model: str, now: float) -> dict[str, Cooldown]:
        out: dict[str, Cooldown] = {}
        if not self._cooldowns:
            return out
        for aid in account_ids:
            for key in ((aid, None), (aid, model)):
                cd = self._cooldowns.get(key)
                if cd is None:
                    continue
                if cd.until <= now:
                    del self._cooldowns[key]
                    continue
                cur = out.get(aid)
                if cur is None or cd.until > cur.until:
                    out[aid] = cd
        return out

    async def all_cooldowns(self, now: float) -> list[Cooldown]:
        for key in [k for k, cd in self._cooldowns.items() if cd.until <= now]:
            del self._cooldowns[key]
        return list(self._cooldowns.values())

    async def set_cooldown(self, cooldown: Cooldown) -> None:
        key = (cooldown.account_id, cooldown.model)
        cur = self._cooldowns.get(key)
        # A shorter signal never cuts short a longer rest already decided (e.g. an auth failure).
        if cur is None or cooldown.until >= cur.until:
            self._cooldowns[key] = cooldown

    async def clear_cooldowns(self, account_id: str | None = None) -> int:
        if account_id is None:
            n = len(self._cooldowns)
            self._cooldowns.clear()
            self._streaks.clear()
            return n
        keys = [k for k in self._cooldowns if k[0] == account_id]
        for k in keys:
            del self._cooldowns[k]
        for k in [k for k in self._streaks if k[0].split("\x00", 1)[0] == account_id]:
            del self._streaks[k]
        return len(keys)

    async def note_failure(self, scope: str, kind: str, now: float, reset_after: float | None) -> int:
        count, last = self._streaks.get((scope, kind), (0, now))
        if reset_after is not None and now - last > reset_after:
            count = 0
        count += 1
        self._streaks[(scope, kind)] = (count, now)
        return count

    async def note_success(self, account_id: str, model: str) -> None:
        if not self._streaks:
            return
        scopes = (account_id, f"{account_id}\x00{model}")
        for k in [k for k in self._streaks if k[0] in scopes]:
            del self._streaks[k]

    async def get_binding(self, session: str, now: float, idle: float) -> str | None:
        hit = self._bindings.get(session)
        if hit is None:
            return None
        if now - hit[1] > idle:
            del self._bindings[session]
            return None
        return hit[0]

    async def set_binding(self, session: str, account_id: str, now: float) -> None:
        self._bindings[session] = (account_id, now)
        self._bindings.move_to_end(session)
        while len(self._bindings) > self.MAX_BINDINGS:
            self._bindings.popitem(last=False)

    def inflight(self, account_id: str) -> int:
        return self._inflight.get(account_id, 0)

    def acquire(self, account_id: str) -> None:
        self._inflight[account_id] = self._inflight.get(account_id, 0) + 1

    def release(self, account_id: str) -> None:
        n = self._inflight.get(account_id, 0) - 1
        if n > 0:
            self._inflight[account_id] = n
        else:
            self._inflight.pop(account_id, None)
