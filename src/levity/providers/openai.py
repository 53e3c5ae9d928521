"""OpenAI and any OpenAI-compatible upstream (base URL ends in /v1)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

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
    parse_duration,
    retry_after_header,
)

if TYPE_CHECKING:
    from ..pool.accounts import Account

PATHS = {
    "openai_chat": "/chat/completions",
    "openai_completions": "/completions",
    "openai_responses": "/responses",
}
OFFICIAL_HOST = "api.openai.com"
QUOTA_CODES = frozenset(("insufficient_quota", "billing_hard_limit_reached", "billing_not_active"))


def reset_delay(headers: Mapping[str, str]) -> float | None:
    """x-ratelimit-reset-{requests,tokens}: the one whose budget is spent, else the longer."""
    spent: list[float] = []
    every: list[float] = []
    for kind in ("requests", "tokens"):
        raw = headers.get(f"x-ratelimit-reset-{kind}")
        d = parse_duration(raw) if raw else None
        if d is None:
            continue
        every.append(d)
        if headers.get(f"x-ratelimit-remaining-{kind}") == "0":
            spent.append(d)
    chosen = spent or every
    return max(chosen) if chosen else None


def speaks_responses(account: Account) -> bool:
    """The Responses API is OpenAI's own; compatible servers mostly speak Chat Completions only.

    `options.responses_api` (true/false) on the account says so explicitly; unset, only the official
    endpoint is assumed to have it. Without it, Responses clients are translated to Chat.
    """
    declared = account.options.get("responses_api")
    if isinstance(declared, bool):
        return declared
    host = urlsplit(account.base_url).hostname if account.base_url else OFFICIAL_HOST
    return host == OFFICIAL_HOST


class OpenAIProvider(Provider):
    def native(self, account: Account, front: str, front_wire: str) -> bool:
        if front == "openai_responses":
            return speaks_responses(account)
        return front_wire == self.wire

    def build(
        self,
        account: Account,
        op: str,
        model: str,
        body: dict[str, Any],
        stream: bool,
        passthru: Mapping[str, str],
    ) -> UpstreamCall:
        headers = {
            "Authorization": f"Bearer {account.api_key}",
            "Content-Type": "application/json",
            "Accept": "text/event-stream" if stream else "application/json",
        }
        return UpstreamCall("POST", self.base(account) + PATHS[op], headers, orjson.dumps(body), stream)

    def models_call(self, account: Account) -> UpstreamCall:
        return UpstreamCall(
            "GET", self.base(account) + "/models", {"Authorization": f"Bearer {account.api_key}"}
        )

    def classify(self, status: int, headers: Mapping[str, str], body: bytes) -> Failure:
        data = error_json(body)
        msg = error_message(data, body)
        err = data.get("error") if isinstance(data.get("error"), dict) else {}
        code = str(err.get("code") or err.get("type") or "")
        kind = classify_by_status(status, msg)
        if code in QUOTA_CODES or (status == 429 and "quota" in msg.lower()):
            kind = FailureKind.QUOTA
        elif code == "model_not_found":
            kind = FailureKind.MODEL_NOT_FOUND
        elif code == "invalid_api_key":
            kind = FailureKind.AUTH
        delay = retry_after_header(headers)
        if delay is None and kind in (FailureKind.RATE_LIMIT, FailureKind.QUOTA):
            delay = reset_delay(headers) if kind == FailureKind.RATE_LIMIT else None
        return Failure(kind, status, msg, delay)

    def read_usage(self, obj: dict[str, Any], usage: Usage) -> None:
        u = obj.get("usage")
        if not isinstance(u, dict):
            resp = obj.get("response")  # Responses API stream events carry it in `response`
            u = resp.get("usage") if isinstance(resp, dict) else None
            if not isinstance(u, dict):
                return
        usage.input = as_int(u.get("prompt_tokens", u.get("input_tokens"))) or usage.input
        usage.output = as_int(u.get("completion_tokens", u.get("output_tokens"))) or usage.output
        in_details = u.get("prompt_tokens_details") or u.get("input_tokens_details") or {}
        out_details = u.get("completion_tokens_details") or u.get("output_tokens_details") or {}
        if isinstance(in_details, dict):
            usage.cached = as_int(in_details.get("cached_tokens")) or usage.cached
        if isinstance(out_details, dict):
            usage.reasoning = as_int(out_details.get("reasoning_tokens")) or usage.reasoning

    def test_call(self, model: str) -> tuple[str, dict[str, Any]]:
        return "openai_chat", {
            "model": model,
            "messages": [{"role": "user", "content": "ping"}],
            "max_tokens": 1,
        }


PROVIDER = OpenAIProvider(
    name="openai",
    wire="openai",
    default_base_url="https://api.openai.com/v1",
    operations=frozenset(PATHS),
    stream_end_markers=(b"[DONE]", b'"response.completed"', b'"response.incomplete"', b'"response.failed"'),
)
