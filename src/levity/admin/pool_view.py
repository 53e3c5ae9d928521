"""A defensive read of the account pool's live state for the dashboard and `/metrics`.

The pool layer is built in parallel and its interface is not final, so this reads whatever of
a few likely shapes it finds and never fails: no pool, or an unknown one, yields an empty list.
"""

from __future__ import annotations

import logging
import time
from typing import Any

log = logging.getLogger("levity.admin")

_METHODS = ("account_states", "states", "snapshot", "describe", "list_accounts", "accounts")


def _field(obj: Any, *names: str, default: Any = None) -> Any:
    for n in names:
        if isinstance(obj, dict) and n in obj:
            return obj[n]
        if not isinstance(obj, dict) and hasattr(obj, n):
            return getattr(obj, n)
    return default


def _as_list(value: Any) -> list[Any]:
    if isinstance(value, dict):
        return list(value.values())
    if isinstance(value, list | tuple):
        return list(value)
    return []


def account_states(pool: Any, now: float | None = None) -> list[dict[str, Any]]:
    """[{label, state: ready|cooling|disabled|unusable, cooldown_seconds, reason}] for each account."""
    if pool is None:
        return []
    now = time.time() if now is None else now
    raw: Any = None
    try:
        for name in _METHODS:
            attr = getattr(pool, name, None)
            if attr is None:
                continue
            raw = attr() if callable(attr) else attr
            if raw is not None:
                break
        out = []
        for item in _as_list(raw):
            label = str(_field(item, "label", "name", "id", default=""))
            until = _field(item, "cooldown_until", "until", default=None)
            cooling_for = float(until) - now if isinstance(until, int | float) else 0.0
            cooling_for = max(
                cooling_for, float(_field(item, "cooldown_seconds", "cooldown_left", default=0) or 0)
            )
            enabled = bool(_field(item, "enabled", default=True))
            state = str(_field(item, "state", default="") or "")
            if not state:
                state = "disabled" if not enabled else ("cooling" if cooling_for > 0 else "ready")
            out.append(
                {
                    "label": label,
                    "state": state,
                    "cooldown_seconds": round(max(cooling_for, 0.0), 1),
                    "reason": str(_field(item, "reason", "cooldown_reason", "error", default="") or ""),
                }
            )
        return out
    except Exception:
        log.debug("pool state unreadable", exc_info=True)
        return []


def account_secrets(pool: Any) -> list[str]:
    """Account keys, so that the request log can redact them wherever they appear."""
    if pool is None:
        return []
    try:
        for name in ("secrets", "account_keys"):
            fn = getattr(pool, name, None)
            if callable(fn):
                return [s for s in fn() if isinstance(s, str)]
        src = getattr(pool, "accounts", None)
        items = _as_list(src() if callable(src) else src)
        return [
            k for k in (_field(a, "api_key", "key", default="") for a in items) if isinstance(k, str) and k
        ]
    except Exception:
        return []
