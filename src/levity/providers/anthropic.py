"""Anthropic's Messages API (x-api-key, anthropic-version)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import orjson

from .base import (
    Failure,
    FailureKind,
    Provider,
    UpstreamCall,
    Usage,
    as_int,
    classify_by_status,
    error_json,
    error_message,
    retry_after_header,
    seconds_until,
)

if TYPE_CHECKING:
    from ..pool.accounts import Account

DEFAULT_VERSION = "2023-06-01"
PATHS = {"anthropic_messages": "/v1/messages", "anthropic_count_tokens": "/v1/messages/count_tokens"}
# The client's own protocol headers that reach the upstream unchanged.
PASSTHRU_HEADERS = ("anthropic-version", "anthropic-beta")
RESET_KINDS = ("requests", "tokens", "input-tokens", "output-tokens")


def reset_delay(headers: Mapping[str, str]) -> float | None:
    """anthropic-ratelimit-*-reset (RFC 3339): the spent budget's reset, else the latest one."""
    spent: list[float] = []
    every: list[float] = []
    for kind in RESET_KINDS:
        raw = headers.get(f"anthropic-ratelimit-{kind}-reset")
        d = seconds_until(raw) if raw else None
        if d is None:
            continue
        every.append(d)
        if headers.get(f"anthropic-ratelimit-{kind}-remaining") == "0":
            spent.append(d)
    chosen = spent or every
    return max(chosen) if chosen else None


class AnthropicProvider(Provider):
    def _headers(self, account: Account, passthru: Mapping[str, str]) -> dict[str, str]:
        headers = {
            "x-api-key": account.api_key,
            "anthropic-version": passthru.get("anthropic-version") or DEFAULT_VERSION,
            "Content-Type": "application/json",
        }
        beta = passthru.get("anthropic-beta")
        if beta:
            headers["anthropic-beta"] = beta
        return headers

    def build(
        self,
        account: Account,
        op: str,
        model: str,
        body: dict[str, Any],
        stream: bool,
        passthru: Mapping[str, str],
    ) -> UpstreamCall:
        headers = self._headers(account, passthru)
        headers["Accept"] = "text/event-stream" if stream else "application/json"
        return UpstreamCall("POST", self.base(account) + PATHS[op], headers, orjson.dumps(body), stream)

    def models_call(self, account: Account) -> UpstreamCall:
        return UpstreamCall("GET", self.base(account) + "/v1/models?limit=1000", self._headers(account, {}))

    def classify(self, status: int, headers: Mapping[str, str], body: bytes) -> Failure:
        data = error_json(body)
        msg = error_message(data, body)
        err = data.get("error") if isinstance(data.get("error"), dict) else {}
        etype = str(err.get("type") or "")
        kind = classify_by_status(status, msg)
        low = msg.lower()
        if etype == "overloaded_error" or status == 529:
            kind = FailureKind.CAPACITY
        elif etype == "billing_error" or "credit balance" in low or status == 402:
            kind = FailureKind.QUOTA
        elif etype in ("authentication_error", "permission_error"):
            kind = FailureKind.AUTH
        elif etype == "not_found_error" and "model" in low:
            kind = FailureKind.MODEL_NOT_FOUND
        delay = retry_after_header(headers)
        if delay is None and kind == FailureKind.RATE_LIMIT:
            delay = reset_delay(headers)
        return Failure(kind, status, msg, delay)

    def read_usage(self, obj: dict[str, Any], usage: Usage) -> None:
        u = obj.get("usage")
        if not isinstance(u, dict):
            msg = obj.get("message")  # message_start carries the input side
            u = msg.get("usage") if isinstance(msg, dict) else None
        if isinstance(u, dict):
            base = as_int(u.get("input_tokens"))
            cache_read = as_int(u.get("cache_read_input_tokens"))
            cache_write = as_int(u.get("cache_creation_input_tokens"))
            if base or cache_read or cache_write:
                usage.input = base + cache_read + cache_write
                usage.cached = cache_read or usage.cached
            usage.output = as_int(u.get("output_tokens")) or usage.output
        elif "input_tokens" in obj and obj.get("type") is None:  # count_tokens reply
            usage.input = as_int(obj.get("input_tokens"))

    def test_call(self, model: str) -> tuple[str, dict[str, Any]]:
        return "anthropic_messages", {
            "model": model,
            "max_tokens": 1,
            "messages": [{"role": "user", "content": "ping"}],
        }


PROVIDER = AnthropicProvider(
    name="anthropic",
    wire="anthropic",
    default_base_url="https://api.anthropic.com",
    operations=frozenset(PATHS),
    stream_end_markers=(b"message_stop", b"event: error"),
)
