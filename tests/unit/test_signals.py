"""Parsing of the providers' own failure signals, and the default cooldown ladder."""

from __future__ import annotations

import email.utils
import json
import math
import time

import pytest

from levity.config import CooldownConfig
from levity.pool.cooldown import default_seconds
from levity.providers import PROVIDERS
from levity.providers.base import FailureKind, parse_duration, retry_after_header
from levity.routing import map_model


def body(data) -> bytes:
    return json.dumps(data).encode()


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("6m0s", 360.0),
        ("1.5s", 1.5),
        ("120ms", 0.12),
        ("1h2m3s", 3723.0),
        ("7", 7.0),
        ("soon", None),
        ("", None),
    ],
)
def test_go_durations(text, seconds):
    assert parse_duration(text) == seconds


def test_retry_after_forms():
    assert retry_after_header({"retry-after": "12"}) == 12
    assert retry_after_header({"retry-after-ms": "2500", "retry-after": "9"}) == 2.5
    now = time.time()
    date = email.utils.formatdate(now + 30, usegmt=True)
    assert 28 <= retry_after_header({"retry-after": date}, now) <= 30
    assert retry_after_header({}) is None


def test_openai_classification():
    p = PROVIDERS["openai"]
    quota = p.classify(429, {}, body({"error": {"code": "insufficient_quota", "message": "You exceeded"}}))
    assert quota.kind == FailureKind.QUOTA and quota.retry_after is None
    rl = p.classify(
        429,
        {
            "x-ratelimit-reset-requests": "20s",
            "x-ratelimit-reset-tokens": "1.5s",
            "x-ratelimit-remaining-requests": "0",
        },
        body({"error": {"code": "rate_limit_exceeded", "message": "rpm"}}),
    )
    assert rl.kind == FailureKind.RATE_LIMIT and rl.retry_after == 20
    both = p.classify(429, {"x-ratelimit-reset-requests": "2s", "x-ratelimit-reset-tokens": "6m0s"}, b"{}")
    assert both.retry_after == 360
    assert p.classify(401, {}, body({"error": {"code": "invalid_api_key"}})).kind == FailureKind.AUTH
    assert (
        p.classify(404, {}, body({"error": {"code": "model_not_found", "message": "x"}})).kind
        == FailureKind.MODEL_NOT_FOUND
    )
    assert p.classify(400, {}, body({"error": {"message": "bad"}})).kind == FailureKind.CLIENT
    assert (
        p.classify(503, {}, body({"error": {"message": "The engine is currently overloaded"}})).kind
        == FailureKind.CAPACITY
    )
    assert p.classify(502, {}, b"<html>bad gateway</html>").kind == FailureKind.SERVER


def test_anthropic_classification():
    p = PROVIDERS["anthropic"]
    over = p.classify(
        529, {}, body({"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}})
    )
    assert over.kind == FailureKind.CAPACITY
    reset = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 40))
    rl = p.classify(
        429,
        {
            "anthropic-ratelimit-tokens-reset": reset,
            "anthropic-ratelimit-tokens-remaining": "0",
            "anthropic-ratelimit-requests-reset": time.strftime(
                "%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 5)
            ),
        },
        body({"type": "error", "error": {"type": "rate_limit_error", "message": "x"}}),
    )
    assert rl.kind == FailureKind.RATE_LIMIT and 38 <= rl.retry_after <= 40
    billing = p.classify(
        400,
        {},
        body(
            {
                "type": "error",
                "error": {"type": "invalid_request_error", "message": "Your credit balance is too low"},
            }
        ),
    )
    assert billing.kind == FailureKind.QUOTA
    assert p.classify(401, {}, body({"error": {"type": "authentication_error"}})).kind == FailureKind.AUTH
    assert (
        p.classify(404, {}, body({"error": {"type": "not_found_error", "message": "model: x"}})).kind
        == FailureKind.MODEL_NOT_FOUND
    )


def test_gemini_classification():
    p = PROVIDERS["gemini"]

    def exhausted(quota_id: str, delay: str | None):
        details = [
            {"@type": "type.googleapis.com/google.rpc.QuotaFailure", "violations": [{"quotaId": quota_id}]}
        ]
        if delay:
            details.append({"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": delay})
        return body(
            {"error": {"code": 429, "status": "RESOURCE_EXHAUSTED", "message": "q", "details": details}}
        )

    per_min = p.classify(429, {}, exhausted("GenerateRequestsPerMinutePerProjectPerModel", "31s"))
    assert per_min.kind == FailureKind.RATE_LIMIT and per_min.retry_after == 31
    per_day = p.classify(429, {}, exhausted("GenerateRequestsPerDayPerProjectPerModel-FreeTier", None))
    assert per_day.kind == FailureKind.QUOTA and per_day.retry_after is None
    bad_key = body(
        {
            "error": {
                "code": 400,
                "status": "INVALID_ARGUMENT",
                "message": "API key not valid",
                "details": [
                    {"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "API_KEY_INVALID"}
                ],
            }
        }
    )
    assert p.classify(400, {}, bad_key).kind == FailureKind.AUTH
    assert (
        p.classify(
            503,
            {},
            body({"error": {"code": 503, "status": "UNAVAILABLE", "message": "The model is overloaded."}}),
        ).kind
        == FailureKind.CAPACITY
    )
    streamed = body([{"error": {"code": 404, "status": "NOT_FOUND", "message": "models/x is not found"}}])
    assert p.classify(404, {}, streamed).kind == FailureKind.MODEL_NOT_FOUND


def test_default_cooldown_ladders():
    cfg = CooldownConfig()
    assert [default_seconds(cfg, FailureKind.QUOTA, n) for n in range(1, 6)] == [60, 300, 1800, 7200, 7200]
    assert [default_seconds(cfg, FailureKind.RATE_LIMIT, n) for n in range(1, 6)] == [5, 10, 20, 40, 60]
    assert [default_seconds(cfg, FailureKind.CAPACITY, n) for n in range(1, 5)] == [5, 10, 15, 15]
    assert default_seconds(cfg, FailureKind.SERVER, 1) == 10
    assert default_seconds(cfg, FailureKind.TIMEOUT, 3) == 10
    assert default_seconds(cfg, FailureKind.MODEL_NOT_FOUND, 1) == 3600
    assert math.isinf(default_seconds(cfg, FailureKind.AUTH, 1))


def test_model_mapping_specificity():
    mapping = {
        "claude-*": "a",
        "claude-3-*": "b",
        "claude-3-5-*": "c",
        "*-haiku": "d",
        "claude-3-opus": "e",
        "*": "f",
    }
    assert map_model(mapping, "claude-3-opus") == "e"  # exact wins
    assert map_model(mapping, "claude-3-5-sonnet") == "c"  # longest literal among one-star patterns
    assert map_model(mapping, "claude-2") == "a"
    assert map_model(mapping, "gpt-4") == "f"
    assert map_model({}, "gpt-4") == "gpt-4"
    # Same specificity: the earlier entry in the file wins.
    assert map_model({"a*z": "first", "ab*": "second"}, "abz") == "first"
    assert map_model({"ab*": "second", "a*z": "first"}, "abz") == "second"
