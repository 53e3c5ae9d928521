"""The pool as the forwarder and the admin API see it: accounts, live state, scheduler, counters.

Counters (requests, failures, last error, last use, tokens) live in this process's memory:
the request path never writes to disk.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from dataclasses import asdict, dataclass
from typing import Any

from ..config import CooldownConfig
from ..providers.base import Failure, Usage
from .accounts import Account, AccountBook
from .cooldown import apply_failure
from .scheduler import Scheduler
from .state import Cooldown, MemoryState, PoolState

log = logging.getLogger("levity.pool")


@dataclass(slots=True)
class AccountStats:
    requests: int = 0
    successes: int = 0
    failures: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    last_used: float | None = None
    last_status: int | None = None
    last_error: str = ""
    last_error_at: float | None = None


class Pool:
    def __init__(self, book: AccountBook, state: PoolState | None = None) -> None:
        self.book = book
        self.state = state or MemoryState()
        self.scheduler = Scheduler(self.state)
        self.stats: dict[str, AccountStats] = {}
        self._tasks: set[asyncio.Task[Any]] = set()
        book.add_listener(self._on_accounts_changed)

    def _on_accounts_changed(self, old: dict[str, Account], new: dict[str, Account]) -> None:
        for aid, acc in new.items():
            before = old.get(aid)
            # A new key, or switching the account back on, is the user saying "try it again".
            if before is not None and (before.api_key != acc.api_key or (acc.enabled and not before.enabled)):
                self._spawn(self.state.clear_cooldowns(aid))
        for aid in old.keys() - new.keys():
            self.scheduler.forget(aid)
            self.stats.pop(aid, None)
            self._spawn(self.state.clear_cooldowns(aid))

    def _spawn(self, coro: Any) -> None:
        try:
            task = asyncio.get_running_loop().create_task(coro)
        except RuntimeError:  # no loop (CLI process): nothing live to clear
            coro.close()
            return
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _stats(self, account_id: str) -> AccountStats:
        st = self.stats.get(account_id)
        if st is None:
            st = self.stats[account_id] = AccountStats()
        return st

    def started(self, account: Account, now: float) -> None:
        st = self._stats(account.id)
        st.requests += 1
        st.last_used = now
        self.state.acquire(account.id)

    def finished(self, account: Account) -> None:
        self.state.release(account.id)

    async def succeeded(self, account: Account, model: str, status: int, usage: Usage | None) -> None:
        st = self._stats(account.id)
        st.successes += 1
        st.last_status = status
        if usage is not None:
            st.input_tokens += usage.input
            st.output_tokens += usage.output
        await self.state.note_success(account.id, model)

    async def failed(
        self, account: Account, model: str, failure: Failure, cfg: CooldownConfig, now: float
    ) -> Cooldown | None:
        st = self._stats(account.id)
        st.failures += 1
        st.last_status = failure.status
        st.last_error = failure.describe()[:300]
        st.last_error_at = now
        cd = await apply_failure(self.state, cfg, account.id, model, failure, now)
        if cd is not None:
            rest = "until the key changes" if cd.permanent else f"{cd.left(now):.1f} s"
            scope = f" for {cd.model}" if cd.model else ""
            log.warning("account %s%s rests %s: %s", account.label, scope, rest, failure.describe())
        return cd

    async def view(self, account: Account, now: float | None = None) -> dict[str, Any]:
        """The account as the admin API shows it: masked key, live state, counters."""
        now = time.time() if now is None else now
        cds = [c for c in await self.state.all_cooldowns(now) if c.account_id == account.id]
        return self.render(account, cds, now)

    async def views(self) -> list[dict[str, Any]]:
        now = time.time()
        every = await self.state.all_cooldowns(now)
        return [self.render(a, [c for c in every if c.account_id == a.id], now) for a in self.book.accounts]

    def render(self, account: Account, cds: list[Cooldown], now: float) -> dict[str, Any]:
        unusable = next((c for c in cds if c.permanent), None)
        cooldowns = [
            {
                "model": c.model,
                "reason": c.reason,
                "message": c.message,
                "seconds_left": None if c.permanent else round(max(0.0, c.left(now)), 1),
                "until": None if math.isinf(c.until) else c.until,
            }
            for c in cds
        ]
        return {
            **account.public(),
            "usable": account.enabled and unusable is None,
            "unusable_reason": (f"{unusable.reason}: {unusable.message}" if unusable else ""),
            "cooldowns": cooldowns,
            "in_flight": self.state.inflight(account.id),
            "stats": asdict(self._stats(account.id)),
        }
