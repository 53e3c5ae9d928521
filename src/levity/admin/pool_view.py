"""The account pool as the dashboard, `/metrics` and the request log's redaction see it.

Reads the real pool (`levity.pool.pool.Pool`): the live account book and the cooldowns in
`PoolState`. Each account gets one state:
- `disabled`: switched off by the user;
- `unusable`: a rest that never ends by itself (a rejected key) until the key changes or the
  account is re-enabled; `reason` says why;
- `cooling`: resting, the whole account or some of its models; `cooldown_seconds` is the time
  left on the account-wide rest, else on the longest model rest;
- `ready`: none of the above.
"""

from __future__ import annotations

import time
from typing import Any

from ..pool.pool import Pool
from ..pool.state import Cooldown


def _describe(c: Cooldown) -> str:
    scope = f"{c.model}: " if c.model else ""
    return f"{scope}{c.reason}" + (f" ({c.message})" if c.message else "")


async def account_states(pool: Pool | None, now: float | None = None) -> list[dict[str, Any]]:
    """[{id, label, provider, state, cooldown_seconds, reason, cooldowns, in_flight}] per account."""
    if pool is None:
        return []
    now = time.time() if now is None else now
    every = await pool.state.all_cooldowns(now)
    out = []
    for account in pool.book.accounts:
        mine = [c for c in every if c.account_id == account.id]
        permanent = next((c for c in mine if c.permanent), None)
        resting = sorted((c for c in mine if not c.permanent), key=lambda c: (c.model is not None, -c.until))
        if not account.enabled:
            state, reason, left = "disabled", "disabled by the user", 0.0
        elif permanent is not None:
            state, reason, left = "unusable", _describe(permanent), 0.0
        elif resting:
            state, reason, left = "cooling", _describe(resting[0]), resting[0].left(now)
        else:
            state, reason, left = "ready", "", 0.0
        out.append(
            {
                "id": account.id,
                "label": account.label,
                "provider": account.provider,
                "state": state,
                "cooldown_seconds": round(max(left, 0.0), 1),
                "reason": reason,
                "cooldowns": [
                    {
                        "model": c.model,
                        "reason": c.reason,
                        "seconds_left": None if c.permanent else round(max(0.0, c.left(now)), 1),
                    }
                    for c in mine
                ],
                "in_flight": pool.state.inflight(account.id),
            }
        )
    return out


def account_secrets(pool: Pool | None) -> list[str]:
    """Every account key, so the request log can redact them wherever they appear.

    Called from the monitor's writer thread: it only reads the book's current tuple, which is
    swapped whole, never changed in place.
    """
    if pool is None:
        return []
    return [a.api_key for a in pool.book.accounts if a.api_key]
