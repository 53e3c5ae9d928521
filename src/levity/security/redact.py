"""Redaction of keys and Authorization-like values from text bound for the request log.

Works on text rather than parsed JSON so that a body cut at the size cap is still redacted,
and so that header dumps and query strings get the same treatment as JSON bodies.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

REDACTED = "[redacted]"

# A JSON member whose name says it holds a credential: the value (a string) is replaced.
_SECRET_NAME = (
    r"(?:[a-z0-9_-]*(?:api[_-]?key|apikey|authorization|password|passwd|secret|credential)[a-z0-9_-]*"
    r"|(?:access|refresh|id|auth|bearer|session)[_-]?token|token|x-goog-api-key|x-api-key|cookie)"
)
_JSON_MEMBER = re.compile(r'("' + _SECRET_NAME + r'"\s*:\s*)"(?:[^"\\]|\\.)*"?', re.IGNORECASE)
# Header or form style: `Authorization: Bearer abc`, `x-api-key=abc`, `?key=abc`.
_HEADER_LIKE = re.compile(
    r"((?:authorization|proxy-authorization|x-api-key|x-goog-api-key|api[_-]?key|cookie)\s*[:=]\s*)"
    r"(?:(?:bearer|basic)\s+)?[^\s\",;&]+",
    re.IGNORECASE,
)
_QUERY_KEY = re.compile(r"([?&](?:key|api_key|apikey|access_token)=)[^&\s\"']+", re.IGNORECASE)
_BEARER = re.compile(r"\b(Bearer\s+)[A-Za-z0-9._~+/=-]{6,}", re.IGNORECASE)
# Well-known key formats: OpenAI/Anthropic/Levity `sk-...`, Google `AIza...`.
_KEY_SHAPES = re.compile(r"\b(?:sk-[A-Za-z0-9_-]{8,}|AIza[0-9A-Za-z_-]{20,})")


def redact(text: str, secrets: Iterable[str] = ()) -> str:
    """Replace every credential-looking value in `text`, and every exact known secret."""
    for secret in secrets:
        if secret and len(secret) >= 4 and secret in text:
            text = text.replace(secret, REDACTED)
    text = _JSON_MEMBER.sub(lambda m: m.group(1) + '"' + REDACTED + '"', text)
    text = _HEADER_LIKE.sub(lambda m: m.group(1) + REDACTED, text)
    text = _QUERY_KEY.sub(lambda m: m.group(1) + REDACTED, text)
    text = _BEARER.sub(lambda m: m.group(1) + REDACTED, text)
    return _KEY_SHAPES.sub(REDACTED, text)


# Slack kept beyond the cap until redaction has run, so a secret on the cut is still seen whole.
REDACT_MARGIN = 512
_TRUNCATED = re.compile(r"… \[truncated, (\d+) chars\]$")


def truncated(text: str, keep: int, total: int) -> str:
    return text[:keep] + f"… [truncated, {total} chars]"


def clip(body: bytes | str | None, max_chars: int) -> bytes | str | None:
    """A cheap first cut for the request path: memory stays bounded until the writer redacts."""
    if body is None or len(body) <= max_chars + REDACT_MARGIN:
        return body
    if isinstance(body, bytes | bytearray):
        return truncated(
            bytes(body[: max_chars + REDACT_MARGIN]).decode("utf-8", "replace"),
            max_chars + REDACT_MARGIN,
            len(body),
        )
    return truncated(body, max_chars + REDACT_MARGIN, len(body))


def body_for_log(body: bytes | str | None, max_chars: int, secrets: Iterable[str] = ()) -> str | None:
    """Decode, redact and cap a body (idempotent: a body already cut keeps its original size)."""
    if body is None:
        return None
    text = body.decode("utf-8", "replace") if isinstance(body, bytes | bytearray) else str(body)
    total = len(text)
    mark = _TRUNCATED.search(text)
    if mark:
        total = int(mark.group(1))
        text = text[: mark.start()]
    text = redact(text[: max_chars + REDACT_MARGIN], secrets)
    if total > max_chars or len(text) > max_chars:
        return truncated(text, max_chars, total)
    return text
