"""Redaction of credentials in logged text, and the client address behind trusted proxies."""

from __future__ import annotations

import pytest

from levity.security.client_ip import client_ip
from levity.security.redact import REDACTED, body_for_log, clip, redact


@pytest.mark.parametrize(
    ("text", "secret", "kept"),
    [
        ('{"api_key": "abc123xyz", "model": "m"}', "abc123xyz", '"model": "m"'),
        ('{"x-goog-api-key":"g-secret-value"}', "g-secret-value", "x-goog-api-key"),
        ('{"client_secret": "cs-1", "password": "pw-22"}', "cs-1", '"client_secret"'),
        ('{"refresh_token":"rt-123456"}', "rt-123456", "refresh_token"),
        ("Authorization: Bearer abcdefghijkl\nAccept: */*", "abcdefghijkl", "Accept: */*"),
        ("x-api-key: anthropic-key-value", "anthropic-key-value", "x-api-key"),
        ("GET /v1beta/models/m:generateContent?key=AIzaSyA12345678901234567890&alt=sse", "AIzaSy", "alt=sse"),
        ("here is sk-ant-api03-abcdefghijklmnop in text", "sk-ant-api03", "in text"),
        ('{"content": "token Bearer zyxwvutsrq99"}', "zyxwvutsrq99", '"content"'),
    ],
)
def test_redact_patterns(text: str, secret: str, kept: str) -> None:
    out = redact(text)
    assert secret not in out
    assert REDACTED in out
    assert kept in out


def test_redact_leaves_ordinary_fields() -> None:
    text = '{"max_tokens": 100, "input_tokens": 5, "prompt_cache_key": "session-1", "messages": []}'
    assert redact(text) == text


def test_redact_known_secret_anywhere() -> None:
    assert redact("prefix MyOddSecret42 suffix", ["MyOddSecret42"]) == f"prefix {REDACTED} suffix"


def test_body_for_log_caps_after_redacting_a_secret_on_the_cut() -> None:
    body = "a" * 95 + "sk-" + "k" * 30 + "b" * 100
    out = body_for_log(body.encode(), 100)
    assert out is not None and "kkkk" not in out and "truncated, 228 chars" in out
    assert body_for_log(None, 100) is None


def test_client_ip_ignores_forwarded_header_from_untrusted_peer() -> None:
    assert client_ip("203.0.113.9", {"X-Forwarded-For": "1.2.3.4"}, []) == "203.0.113.9"
    assert client_ip("203.0.113.9", {"X-Forwarded-For": "1.2.3.4"}, ["10.0.0.0/8"]) == "203.0.113.9"


def test_client_ip_walks_past_trusted_hops() -> None:
    trusted = ["10.0.0.0/8", "127.0.0.1"]
    headers = {"X-Forwarded-For": "6.6.6.6, 198.51.100.7, 10.1.2.3"}
    # The leftmost entry is whatever the client claimed; the first untrusted hop from the right is real.
    assert client_ip("127.0.0.1", headers, trusted) == "198.51.100.7"
    assert client_ip("10.9.9.9", {}, trusted) == "10.9.9.9"
    assert client_ip("::1", {"X-Forwarded-For": "2001:db8::1"}, ["::1"]) == "2001:db8::1"
    assert client_ip("127.0.0.1", {"X-Forwarded-For": "10.0.0.1"}, trusted) == "10.0.0.1"


def test_clip_then_body_for_log_keeps_the_original_size() -> None:
    body = '{"api_key": "zzz-secret-zzz", "text": "' + "x" * 100_000 + '"}'
    clipped = clip(body, 1000)
    assert clipped is not None and len(clipped) < 2000
    out = body_for_log(clipped, 1000)
    assert out is not None and "zzz-secret-zzz" not in out
    assert out.endswith(f"… [truncated, {len(body)} chars]") and len(out) < 1100
    assert body_for_log(out, 1000) == out  # idempotent
    assert clip(b"short", 1000) == b"short"
