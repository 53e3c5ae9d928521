"""The access-control rules: which requests pass, and why a denied one was denied.

The rules (DEVELOPERS.md, issue 2) in order:
1. OPTIONS passes.  2. effective mode `off` passes.
3. `all_except_health` lets GET /healthz (and /health) pass.
4. The key comes from the first header present: Authorization (a leading `Bearer ` removed),
   then x-api-key, then x-goog-api-key.
5. An empty configured key denies everything, with an error log line.
6. A constant-time match passes.
"""

from __future__ import annotations

import hmac
import logging
from collections.abc import Mapping
from dataclasses import dataclass

from ..config import Config, effective_auth_mode

log = logging.getLogger("levity.auth")

EMPTY_KEY_LOG = "Proxy auth is enabled but api_key is empty; denying request"
HEALTH_PATHS = frozenset(("/healthz", "/health"))
KEY_HEADERS = ("authorization", "x-api-key", "x-goog-api-key")


@dataclass(frozen=True, slots=True)
class Decision:
    allowed: bool
    message: str = ""


ALLOW = Decision(True)


def presented_key(headers: Mapping[str, str]) -> tuple[str | None, str | None]:
    """(key, header name) from the first key header present; later ones are not consulted."""
    for name in KEY_HEADERS:
        value = headers.get(name)
        if value is not None:
            if name == "authorization" and value.startswith("Bearer "):
                value = value[len("Bearer ") :]
            return value, name
    return None, None


def keys_equal(presented: str, expected: str) -> bool:
    return hmac.compare_digest(presented.encode("utf-8"), expected.encode("utf-8"))


def _mismatch_message(headers: Mapping[str, str], used: str | None) -> str:
    if used is None:
        return "no API key sent"
    if used == "authorization":
        raw = headers.get("authorization", "")
        if raw.startswith("Bearer") and not raw.startswith("Bearer "):
            return "Authorization value starts with 'Bearer' but has no space after it"
        others = [h for h in KEY_HEADERS[1:] if headers.get(h) is not None]
        if others:
            return (
                f"the Authorization header was used and did not match; {others[0]} was also sent "
                "but Authorization takes precedence"
            )
    elif used == "x-api-key" and headers.get("x-goog-api-key") is not None:
        return (
            "the x-api-key header was used and did not match; x-goog-api-key was also sent "
            "but x-api-key takes precedence"
        )
    return "API key does not match"


def check_key(headers: Mapping[str, str], expected: str, empty_message: str) -> Decision:
    key, used = presented_key(headers)
    if not expected:
        return Decision(False, empty_message)
    if key is not None and keys_equal(key, expected):
        return ALLOW
    return Decision(False, _mismatch_message(headers, used))


def check_proxy(config: Config, method: str, path: str, headers: Mapping[str, str]) -> Decision:
    """The proxy rules for every route that is not the admin API."""
    if method == "OPTIONS":
        return ALLOW
    mode = effective_auth_mode(config.proxy)
    if mode == "off":
        return ALLOW
    if mode == "all_except_health" and method in ("GET", "HEAD") and path in HEALTH_PATHS:
        return ALLOW
    if not config.proxy.api_key:
        log.error(EMPTY_KEY_LOG)
    return check_key(
        headers, config.proxy.api_key, "proxy auth is on but the server has no api_key configured"
    )


def check_admin(config: Config, method: str, headers: Mapping[str, str]) -> Decision:
    """The admin API always needs a key, whatever the mode: admin_password, else api_key."""
    if method == "OPTIONS":
        return ALLOW
    expected = config.proxy.admin_password or config.proxy.api_key
    if not expected:
        log.error("Admin auth needs admin_password or api_key and both are empty; denying request")
    return check_key(headers, expected, "the admin API needs a key but the server has none configured")
