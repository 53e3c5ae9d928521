"""How long an account rests after a failure, and whether the whole account or one model rests.

Per (account, model): quota exhausted and model not found (another model of the same account
may still work). Per account: rate limits, capacity, server errors, timeouts and a bad key.
A delay stated by the upstream wins over the defaults, uncapped; without one the defaults in
`config.cooldown` apply by the length of the failure streak.
"""

from __future__ import annotations

import math

from ..config import CooldownConfig
from ..providers.base import Failure, FailureKind
from .state import Cooldown, PoolState

PER_MODEL = frozenset((FailureKind.QUOTA, FailureKind.MODEL_NOT_FOUND))


def _step(steps: list[float], streak: int) -> float:
    return steps[min(streak, len(steps)) - 1]


def default_seconds(cfg: CooldownConfig, kind: FailureKind, streak: int) -> float:
    """The rest for the `streak`-th consecutive failure of `kind` (streak >= 1)."""
    if kind == FailureKind.QUOTA:
        return _step(cfg.quota_steps, streak)
    if kind == FailureKind.RATE_LIMIT:
        return min(
            cfg.rate_limit_seconds * 2 ** (streak - 1),
            max(cfg.rate_limit_max_seconds, cfg.rate_limit_seconds),
        )
    if kind == FailureKind.CAPACITY:
        return _step(cfg.capacity_steps, streak)
    if kind == FailureKind.SERVER:
        return cfg.server_error_seconds
    if kind == FailureKind.TIMEOUT:
        return cfg.timeout_seconds
    if kind == FailureKind.MODEL_NOT_FOUND:
        return cfg.model_not_found_seconds
    if kind == FailureKind.AUTH:
        return math.inf
    return 0.0


async def apply_failure(
    state: PoolState, cfg: CooldownConfig, account_id: str, model: str, failure: Failure, now: float
) -> Cooldown | None:
    """Record `failure` and put the account (or its model) to rest; None for a client error."""
    kind = failure.kind
    if kind == FailureKind.CLIENT:
        return None
    per_model = kind in PER_MODEL
    scope = f"{account_id}\x00{model}" if per_model else account_id
    reset = cfg.quota_reset_seconds if kind == FailureKind.QUOTA else None
    streak = await state.note_failure(scope, kind.value, now, reset)
    if kind == FailureKind.AUTH:
        seconds = math.inf
    elif failure.retry_after is not None:
        seconds = failure.retry_after
    else:
        seconds = default_seconds(cfg, kind, streak)
    if seconds <= 0:
        return None
    cd = Cooldown(account_id, model if per_model else None, now + seconds, kind.value, failure.message[:200])
    await state.set_cooldown(cd)
    return cd
