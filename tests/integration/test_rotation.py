"""Rotation, stickiness, cooldowns from every upstream signal, and the all-cooling 429."""

from __future__ import annotations

import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import anthropic
import openai
import pytest

from .conftest import account_view, add_account, base_for
from .fake_upstream import error, ok, reset, slow

try:
    import httpx
except ImportError:  # some SDK builds ship it renamed
    import httpx2 as httpx  # type: ignore[no-redef]


def chat(server: Any, content: str, model: str = "gpt-fake", **extra: Any) -> httpx.Response:
    body = {"model": model, "messages": [{"role": "user", "content": content}], **extra}
    return httpx.post(
        server.base + "/v1/chat/completions",
        json=body,
        headers={"Authorization": f"Bearer {server.api_key}"},
        timeout=20,
    )


def three_openai(server: Any, fake: Any, models: list[str] | None = None) -> list[dict[str, Any]]:
    return [
        add_account(
            server, "openai", f"sk-up-{name}-000{i}", name, models or ["gpt-fake"], base_for(fake, "openai")
        )
        for i, name in enumerate(("A", "B", "C"))
    ]


def test_new_sessions_rotate_and_a_session_sticks(gateway, fake):
    three_openai(gateway, fake)
    served = [chat(gateway, f"question {i}").headers["x-levity-account"] for i in range(6)]
    assert served == ["A", "B", "C", "A", "B", "C"]
    # The same conversation (same first user message) stays on its account.
    again = {chat(gateway, "question 1").headers["x-levity-account"] for _ in range(4)}
    assert again == {"B"}
    # Explicit session signals win over the message hash.
    first = chat(gateway, "x", user="alice").headers["x-levity-account"]
    assert {chat(gateway, f"y{i}", user="alice").headers["x-levity-account"] for i in range(3)} == {first}


def test_performance_first_has_no_stickiness(make_server, fake):
    server = make_server(proxy={"scheduling": {"mode": "performance_first"}})
    three_openai(server, fake)
    served = [chat(server, "same question").headers["x-levity-account"] for _ in range(3)]
    assert sorted(served) == ["A", "B", "C"]


def test_fixed_account_pins_while_usable(make_server, fake):
    server = make_server(proxy={"fixed_account": "B"})
    three_openai(server, fake)
    assert {chat(server, f"q{i}").headers["x-levity-account"] for i in range(4)} == {"B"}
    fake.plan(
        "sk-up-B-0001",
        error(429, {"error": {"code": "rate_limit_exceeded", "message": "slow"}}, {"retry-after": "30"}),
    )
    moved = chat(server, "q9")
    assert moved.status_code == 200 and moved.headers["x-levity-account"] != "B"


IN_45S = "<45 s from now, as RFC 3339>"  # filled in when the test runs, not when it is collected


def _in_45s_rfc3339() -> str:
    return (datetime.now(UTC) + timedelta(seconds=45)).isoformat().replace("+00:00", "Z")


# (provider, upstream error action, expected reason, expected seconds, per-model)
SIGNALS = [
    (
        "openai",
        error(429, {"error": {"code": "rate_limit_exceeded", "message": "rpm"}}, {"retry-after": "30"}),
        "rate_limited",
        30,
        False,
    ),
    (
        "openai",
        error(429, {"error": {"code": "rate_limit_exceeded", "message": "rpm"}}, {"retry-after-ms": "12000"}),
        "rate_limited",
        12,
        False,
    ),
    (
        "openai",
        error(
            429,
            {"error": {"code": "rate_limit_exceeded", "message": "tpm"}},
            {
                "x-ratelimit-reset-requests": "1s",
                "x-ratelimit-reset-tokens": "6m0s",
                "x-ratelimit-remaining-tokens": "0",
            },
        ),
        "rate_limited",
        360,
        False,
    ),
    (
        "openai",
        error(429, {"error": {"code": "rate_limit_exceeded", "message": "rpm"}}),
        "rate_limited",
        5,
        False,
    ),
    (
        "openai",
        error(
            429,
            {
                "error": {
                    "code": "insufficient_quota",
                    "type": "insufficient_quota",
                    "message": "You exceeded your current quota",
                }
            },
        ),
        "quota_exhausted",
        60,
        True,
    ),
    ("openai", error(500, {"error": {"message": "boom"}}), "server_error", 10, False),
    (
        "openai",
        error(404, {"error": {"code": "model_not_found", "message": "The model does not exist"}}),
        "model_not_found",
        3600,
        True,
    ),
    (
        "anthropic",
        error(
            429,
            {"type": "error", "error": {"type": "rate_limit_error", "message": "slow down"}},
            {"anthropic-ratelimit-requests-reset": IN_45S, "anthropic-ratelimit-requests-remaining": "0"},
        ),
        "rate_limited",
        45,
        False,
    ),
    (
        "anthropic",
        error(529, {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}),
        "overloaded",
        5,
        False,
    ),
    (
        "gemini",
        error(
            429,
            {
                "error": {
                    "code": 429,
                    "status": "RESOURCE_EXHAUSTED",
                    "message": "quota",
                    "details": [
                        {
                            "@type": "type.googleapis.com/google.rpc.QuotaFailure",
                            "violations": [{"quotaId": "GenerateRequestsPerMinutePerProjectPerModel"}],
                        },
                        {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "17s"},
                    ],
                }
            },
        ),
        "rate_limited",
        17,
        False,
    ),
    (
        "gemini",
        error(
            429,
            {
                "error": {
                    "code": 429,
                    "status": "RESOURCE_EXHAUSTED",
                    "message": "quota",
                    "details": [
                        {
                            "@type": "type.googleapis.com/google.rpc.QuotaFailure",
                            "violations": [{"quotaId": "GenerateRequestsPerDayPerProjectPerModel-FreeTier"}],
                        }
                    ],
                }
            },
        ),
        "quota_exhausted",
        60,
        True,
    ),
]
MODEL = {"openai": "gpt-fake", "anthropic": "claude-fake", "gemini": "gemini-fake"}


def call_wire(server: Any, provider: str, text: str) -> httpx.Response:
    h = {"Authorization": f"Bearer {server.api_key}"}
    if provider == "openai":
        return chat(server, text)
    if provider == "anthropic":
        body = {"model": "claude-fake", "max_tokens": 5, "messages": [{"role": "user", "content": text}]}
        return httpx.post(server.base + "/v1/messages", json=body, headers=h, timeout=20)
    body = {"contents": [{"role": "user", "parts": [{"text": text}]}]}
    return httpx.post(
        server.base + "/v1beta/models/gemini-fake:generateContent", json=body, headers=h, timeout=20
    )


@pytest.mark.parametrize(("provider", "action", "reason", "seconds", "per_model"), SIGNALS)
def test_cooldown_length_follows_the_upstream_signal(
    make_server, fake, provider, action, reason, seconds, per_model
):
    server = make_server()
    a = add_account(server, provider, "key-first-1111", "first", [MODEL[provider]], base_for(fake, provider))
    add_account(server, provider, "key-second-2222", "second", [MODEL[provider]], base_for(fake, provider))
    headers = {k: (_in_45s_rfc3339() if v == IN_45S else v) for k, v in action.headers.items()}
    fake.plan("key-first-1111", replace(action, headers=headers))
    r = call_wire(server, provider, "hello")
    # The failure never reached the client: the second account answered.
    assert r.status_code == 200, r.text
    assert r.headers["x-levity-account"] == "second"
    assert [c.key for c in fake.calls(path_part="/v1")] == ["key-first-1111", "key-second-2222"]
    cds = account_view(server, a["id"])["cooldowns"]
    assert len(cds) == 1
    assert cds[0]["reason"] == reason
    assert cds[0]["model"] == (MODEL[provider] if per_model else None)
    assert seconds - 3 <= cds[0]["seconds_left"] <= seconds
    # While it rests, new sessions skip it.
    assert call_wire(server, provider, "another").headers["x-levity-account"] == "second"


def test_bad_key_is_unusable_until_the_key_changes(gateway, fake):
    a, _, _ = three_openai(gateway, fake)
    fake.plan(
        "sk-up-A-0000",
        error(
            401, {"error": {"code": "invalid_api_key", "message": "Incorrect API key provided: sk-up-A-0000"}}
        ),
    )
    assert chat(gateway, "hi").headers["x-levity-account"] == "B"
    view = account_view(gateway, a["id"])
    assert view["usable"] is False and view["unusable_reason"].startswith("auth_failed")
    assert "sk-up-A-0000" not in str(view)  # the key an upstream quoted back is masked
    assert view["cooldowns"][0]["seconds_left"] is None
    with gateway.admin() as c:
        r = c.patch(f"/api/accounts/{a['id']}", json={"api_key": "sk-up-A-new-9999"})
        assert r.status_code == 200 and r.json()["api_key"] == "****9999"
    view = account_view(gateway, a["id"])
    assert view["usable"] is True and view["cooldowns"] == []


def test_quota_rests_only_that_model(gateway, fake):
    a = add_account(
        gateway, "openai", "sk-up-only-1234", "only", ["gpt-fake", "gpt-fake-mini"], base_for(fake, "openai")
    )
    fake.plan("sk-up-only-1234", error(429, {"error": {"code": "insufficient_quota", "message": "quota"}}))
    r = chat(gateway, "hi")
    assert r.status_code == 429 and "out of quota" in r.json()["error"]["message"]
    assert chat(gateway, "hi", model="gpt-fake-mini").status_code == 200
    assert account_view(gateway, a["id"])["cooldowns"][0]["model"] == "gpt-fake"


def test_all_cooling_answers_429_at_once_with_retry_after(gateway, fake):
    add_account(gateway, "openai", "sk-up-one-1111", "one", ["gpt-fake"], base_for(fake, "openai"))
    add_account(gateway, "openai", "sk-up-two-2222", "two", ["gpt-fake"], base_for(fake, "openai"))
    limited = {"error": {"code": "rate_limit_exceeded", "message": "rpm"}}
    fake.plan("sk-up-one-1111", error(429, limited, {"retry-after": "20"}))
    fake.plan("sk-up-two-2222", error(429, limited, {"retry-after": "40"}))
    client = openai.OpenAI(base_url=gateway.base + "/v1", api_key=gateway.api_key, max_retries=0)
    with pytest.raises(openai.RateLimitError) as info:
        client.chat.completions.create(model="gpt-fake", messages=[{"role": "user", "content": "hi"}])
    assert 19 <= int(info.value.response.headers["retry-after"]) <= 20
    assert "all 2 accounts for gpt-fake are rate limited; the first frees in" in str(info.value)
    before = len(fake.received)
    started = time.monotonic()
    r = chat(gateway, "a new conversation")
    # Told at once, without touching the upstream.
    assert time.monotonic() - started < 1.0
    assert r.status_code == 429 and r.json()["error"]["type"] == "rate_limit_error"
    assert int(r.headers["retry-after"]) >= 18
    assert len(fake.received) == before
    # Clearing the cooldowns from the admin API makes them eligible again.
    with gateway.admin() as c:
        assert c.post("/api/accounts/cooldowns/clear").json()["cleared"] == 2
    assert chat(gateway, "hi").status_code == 200


def test_no_account_for_the_model_is_503_naming_it(gateway, fake):
    add_account(gateway, "openai", "sk-up-one-1111", "one", ["gpt-fake"], base_for(fake, "openai"))
    r = chat(gateway, "hi", model="nobody-serves-this")
    assert r.status_code == 503 and "nobody-serves-this" in r.json()["error"]["message"]
    r = httpx.post(
        gateway.base + "/v1beta/models/nope-model:generateContent",
        headers={"x-goog-api-key": gateway.api_key},
        json={"contents": []},
    )
    assert r.status_code == 503 and r.json()["error"]["status"] == "UNAVAILABLE"
    assert "nope-model" in r.json()["error"]["message"]


def test_client_errors_are_returned_as_is_and_not_retried(gateway, fake):
    three_openai(gateway, fake)
    bad = {"error": {"message": "messages must be non-empty", "type": "invalid_request_error", "code": None}}
    fake.plan("sk-up-A-0000", error(400, bad))
    r = chat(gateway, "hi")
    assert r.status_code == 400 and r.json() == bad
    assert len(fake.calls(path_part="/chat")) == 1


def test_timeouts_and_resets_before_the_first_byte_rotate(make_server, fake):
    server = make_server(proxy={"read_timeout": 0.7})
    a, b, _ = three_openai(server, fake)
    fake.plan("sk-up-A-0000", slow(3))
    r = chat(server, "slow one")
    assert r.status_code == 200 and r.headers["x-levity-account"] == "B"
    assert account_view(server, a["id"])["cooldowns"][0]["reason"] == "timeout"
    fake.plan("sk-up-C-0002", reset(after=0))
    r = chat(server, "reset one", stream=True)
    assert r.status_code == 200 and r.headers["x-levity-account"] == "B"
    assert "[DONE]" in r.text


@pytest.mark.parametrize("mode", ["balance", "cache_first"])
def test_cache_first_waits_for_a_short_rest_balance_moves(make_server, fake, mode):
    server = make_server(proxy={"scheduling": {"mode": mode, "max_wait_seconds": 5}})
    add_account(server, "openai", "sk-up-A-0000", "A", ["gpt-fake"], base_for(fake, "openai"))
    add_account(server, "openai", "sk-up-B-0001", "B", ["gpt-fake"], base_for(fake, "openai"))
    assert chat(server, "session one").headers["x-levity-account"] == "A"
    assert chat(server, "session two").headers["x-levity-account"] == "B"
    fake.plan(
        "sk-up-A-0000",
        error(429, {"error": {"code": "rate_limit_exceeded", "message": "x"}}, {"retry-after": "1"}),
    )
    assert chat(server, "session three").headers["x-levity-account"] == "B"  # A failed, so it rests 1 s
    started = time.monotonic()
    served = chat(server, "session one").headers["x-levity-account"]
    waited = time.monotonic() - started
    if mode == "cache_first":
        assert served == "A" and waited >= 0.5
    else:
        assert served == "B" and waited < 0.5


def test_anthropic_sdk_sees_the_429_and_honours_retry_after(gateway, fake):
    add_account(gateway, "anthropic", "sk-ant-up-1111", "ant", ["claude-fake"], base_for(fake, "anthropic"))
    fake.plan(
        "sk-ant-up-1111",
        error(
            429,
            {"type": "error", "error": {"type": "rate_limit_error", "message": "slow"}},
            {"retry-after": "1"},
        ),
    )
    fake.default("sk-ant-up-1111", ok())
    r = httpx.post(
        gateway.base + "/v1/messages",
        headers={"x-api-key": gateway.api_key},
        json={"model": "claude-fake", "max_tokens": 5, "messages": [{"role": "user", "content": "x"}]},
    )
    # In Anthropic's own shape, with the wait the upstream asked for.
    assert r.status_code == 429 and r.json()["error"]["type"] == "rate_limit_error"
    assert r.headers["retry-after"] == "1" and "the only account for claude-fake is rate limited" in r.text
    fake.plan(
        "sk-ant-up-1111",
        error(
            429,
            {"type": "error", "error": {"type": "rate_limit_error", "message": "slow"}},
            {"retry-after": "1"},
        ),
    )
    time.sleep(1.05)
    client = anthropic.Anthropic(base_url=gateway.base, api_key=gateway.api_key, max_retries=2)
    started = time.monotonic()
    msg = client.messages.create(
        model="claude-fake", max_tokens=5, messages=[{"role": "user", "content": "hi"}]
    )
    # The SDK retried after the gateway's Retry-After, and the rested account then answered.
    assert msg.content[0].text and time.monotonic() - started >= 0.9
