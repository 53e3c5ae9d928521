"""The Gemini API with an API key (generativelanguage, v1beta)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

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

ACTIONS = {
    "gemini_generate": ":generateContent",
    "gemini_stream": ":streamGenerateContent",
    "gemini_count_tokens": ":countTokens",
}


def _details(data: dict[str, Any]) -> list[dict[str, Any]]:
    err = data.get("error")
    details = err.get("details") if isinstance(err, dict) else None
    return [d for d in details if isinstance(d, dict)] if isinstance(details, list) else []


def quota_signals(data: dict[str, Any]) -> tuple[float | None, bool, bool]:
    """(RetryInfo delay, a per-day quota is spent, a per-minute quota is spent)."""
    delay: float | None = None
    per_day = per_minute = False
    for d in _details(data):
        kind = str(d.get("@type", ""))
        if kind.endswith("RetryInfo") and isinstance(d.get("retryDelay"), str):
            delay = parse_duration(d["retryDelay"])
        elif kind.endswith("QuotaFailure"):
            for v in d.get("violations") or []:
                if not isinstance(v, dict):
                    continue
                qid = f"{v.get('quotaId', '')} {v.get('quotaMetric', '')}".lower()
                if "perday" in qid or "per_day" in qid or "daily" in qid:
                    per_day = True
                elif "perminute" in qid or "per_minute" in qid:
                    per_minute = True
    return delay, per_day, per_minute


def _reasons(data: dict[str, Any]) -> set[str]:
    return {str(d.get("reason")) for d in _details(data) if d.get("reason")}


class GeminiProvider(Provider):
    def _headers(self, account: Account) -> dict[str, str]:
        return {"x-goog-api-key": account.api_key, "Content-Type": "application/json"}

    def build(
        self,
        account: Account,
        op: str,
        model: str,
        body: dict[str, Any],
        stream: bool,
        passthru: Mapping[str, str],
    ) -> UpstreamCall:
        url = f"{self.base(account)}/v1beta/models/{quote(model, safe='.-_')}{ACTIONS[op]}"
        if op == "gemini_stream" and passthru.get("alt") == "sse":
            url += "?alt=sse"
        return UpstreamCall("POST", url, self._headers(account), orjson.dumps(body), op == "gemini_stream")

    def models_call(self, account: Account) -> UpstreamCall:
        return UpstreamCall(
            "GET", self.base(account) + "/v1beta/models?pageSize=1000", self._headers(account)
        )

    def parse_models(self, data: dict[str, Any]) -> list[str]:
        out = []
        for m in data.get("models", []):
            name = m.get("name") if isinstance(m, dict) else None
            if isinstance(name, str):
                out.append(name.removeprefix("models/"))
        return out

    def classify(self, status: int, headers: Mapping[str, str], body: bytes) -> Failure:
        data = error_json(body)
        msg = error_message(data, body)
        err = data.get("error") if isinstance(data.get("error"), dict) else {}
        gstatus = str(err.get("status") or "")
        kind = classify_by_status(status, msg)
        delay = retry_after_header(headers)
        if "API_KEY_INVALID" in _reasons(data) or gstatus in ("UNAUTHENTICATED", "PERMISSION_DENIED"):
            kind = FailureKind.AUTH
        elif status == 429 or gstatus == "RESOURCE_EXHAUSTED":
            retry, per_day, per_minute = quota_signals(data)
            delay = retry if retry is not None else delay
            kind = FailureKind.QUOTA if per_day and not per_minute else FailureKind.RATE_LIMIT
        elif status == 404 or gstatus == "NOT_FOUND":
            kind = FailureKind.MODEL_NOT_FOUND if "model" in msg.lower() else FailureKind.CLIENT
        elif gstatus == "UNAVAILABLE" and ("overload" in msg.lower() or status == 503):
            kind = FailureKind.CAPACITY
        return Failure(kind, status, msg, delay)

    def read_usage(self, obj: dict[str, Any], usage: Usage) -> None:
        u = obj.get("usageMetadata")
        if isinstance(u, dict):
            usage.input = as_int(u.get("promptTokenCount")) or usage.input
            usage.output = as_int(u.get("candidatesTokenCount")) or usage.output
            usage.cached = as_int(u.get("cachedContentTokenCount")) or usage.cached
            usage.reasoning = as_int(u.get("thoughtsTokenCount")) or usage.reasoning
        elif "totalTokens" in obj:  # countTokens reply
            usage.input = as_int(obj.get("totalTokens"))

    def test_call(self, model: str) -> tuple[str, dict[str, Any]]:
        return "gemini_generate", {
            "contents": [{"role": "user", "parts": [{"text": "ping"}]}],
            "generationConfig": {"maxOutputTokens": 1},
        }


PROVIDER = GeminiProvider(
    name="gemini",
    wire="gemini",
    default_base_url="https://generativelanguage.googleapis.com",
    operations=frozenset(ACTIONS),
    stream_end_markers=(b'"finishReason"', b'"error"'),
)
