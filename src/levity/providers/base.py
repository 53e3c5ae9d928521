"""What every provider module offers the forwarder, and the parts they share.

A provider knows one upstream wire: its default base URL, how to build the URL and auth headers
for an operation (named like the client fronts in docs/seams.md), how to list models, how to
read token usage from reply bytes, and how to classify a failure with the retry delay the
upstream itself asks for.
"""

from __future__ import annotations

import email.utils
import functools
import re
import time
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any

import aiohttp
import orjson

from ..canonical import Usage  # one usage type for pass-through and translation

if TYPE_CHECKING:
    from ..pool.accounts import Account
    from ..upstream import UpstreamHttp


class FailureKind(StrEnum):
    QUOTA = "quota_exhausted"
    RATE_LIMIT = "rate_limited"
    CAPACITY = "overloaded"
    SERVER = "server_error"
    TIMEOUT = "timeout"
    AUTH = "auth_failed"
    MODEL_NOT_FOUND = "model_not_found"
    CLIENT = "client_error"


# Failures that move the request to another account; a client error is the request's own fault.
RETRYABLE = frozenset(FailureKind) - {FailureKind.CLIENT}


@dataclass(slots=True)
class Failure:
    kind: FailureKind
    status: int | None
    message: str
    retry_after: float | None = None  # seconds the upstream asked us to wait, when it said

    def describe(self) -> str:
        return f"{self.kind.value}: {self.message}" if self.message else self.kind.value


@dataclass(slots=True)
class UpstreamCall:
    method: str
    url: str
    headers: dict[str, str]
    body: bytes | None = None
    stream: bool = False
    # For in-process providers (mock): the operation and the parsed body, no bytes needed.
    op: str = ""
    payload: dict[str, Any] | None = None


class UpstreamReply:
    """An upstream answer: status, headers, then the body as chunks or whole."""

    status: int
    headers: Mapping[str, str]

    @functools.cached_property
    def content_type(self) -> str:
        return self.headers.get("Content-Type", "").split(";")[0].strip().lower()

    def chunks(self) -> AsyncIterator[bytes]:
        raise NotImplementedError

    async def read(self) -> bytes:
        return b"".join([c async for c in self.chunks()])

    def at_eof(self) -> bool:
        """True when every body byte has been handed out: the chunk just read was the last."""
        return False

    def close(self) -> None:
        pass


class HttpReply(UpstreamReply):
    def __init__(self, resp: aiohttp.ClientResponse) -> None:
        self._resp = resp
        self.status = resp.status
        self.headers = resp.headers

    def chunks(self) -> AsyncIterator[bytes]:
        # aiohttp's own iterator: no async-generator frame to resume per chunk.
        return self._resp.content.iter_any()

    async def read(self) -> bytes:
        return await self._resp.read()

    def at_eof(self) -> bool:
        return self._resp.content.at_eof()

    def close(self) -> None:
        self._resp.close()


# -- retry delay signals ---------------------------------------------------------------------
_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|h|m|s)")


def parse_duration(text: str) -> float | None:
    """Go-style durations as OpenAI sends them: `6m0s`, `1.5s`, `120ms`, `1h2m`; or bare seconds."""
    text = text.strip()
    if not text:
        return None
    try:
        return float(text)
    except ValueError:
        pass
    parts = _DURATION_PART.findall(text)
    if not parts or "".join(n + u for n, u in parts) != text:
        return None
    scale = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}
    return sum(float(n) * scale[u] for n, u in parts)


def seconds_until(moment: str, now: float | None = None) -> float | None:
    """An RFC 3339 or HTTP date -> seconds from now (0 when already past)."""
    now = time.time() if now is None else now
    ts: float | None = None
    try:
        ts = datetime.fromisoformat(moment.strip().replace("Z", "+00:00")).timestamp()
    except ValueError:
        try:
            ts = email.utils.parsedate_to_datetime(moment).timestamp()
        except (TypeError, ValueError, IndexError):
            return None
    return max(0.0, ts - now)


def retry_after_header(headers: Mapping[str, str], now: float | None = None) -> float | None:
    """`retry-after-ms`, else `retry-after` as seconds or an HTTP date."""
    ms = headers.get("retry-after-ms")
    if ms:
        try:
            return max(0.0, float(ms) / 1000.0)
        except ValueError:
            pass
    ra = headers.get("retry-after")
    if ra:
        try:
            return max(0.0, float(ra))
        except ValueError:
            return seconds_until(ra, now)
    return None


def error_json(body: bytes) -> dict[str, Any]:
    try:
        data = orjson.loads(body) if body else None
    except orjson.JSONDecodeError:
        return {}
    if isinstance(data, list) and data and isinstance(data[0], dict):
        data = data[0]  # Gemini's streaming endpoint wraps errors in an array
    return data if isinstance(data, dict) else {}


def error_message(data: dict[str, Any], body: bytes) -> str:
    err = data.get("error")
    if isinstance(err, dict) and isinstance(err.get("message"), str):
        msg = err["message"]
    elif isinstance(err, str):
        msg = err
    elif isinstance(data.get("message"), str):
        msg = data["message"]
    else:
        msg = body[:200].decode("utf-8", "replace")
    return " ".join(msg.split())[:300]


def classify_by_status(status: int, message: str) -> FailureKind:
    low = message.lower()
    if status in (401, 403):
        return FailureKind.AUTH
    if status == 404:
        return FailureKind.MODEL_NOT_FOUND if "model" in low else FailureKind.CLIENT
    if status == 408:
        return FailureKind.TIMEOUT
    if status == 429:
        return FailureKind.RATE_LIMIT
    if status == 529 or (status == 503 and ("overload" in low or "capacity" in low)):
        return FailureKind.CAPACITY
    if status >= 500:
        return FailureKind.SERVER
    return FailureKind.CLIENT


# -- the provider interface ------------------------------------------------------------------
@dataclass
class Provider:
    name: str
    wire: str  # which client fronts it serves without translation
    default_base_url: str
    operations: frozenset[str] = field(default_factory=frozenset)
    # Events that end a healthy stream; a stream that ends without one was cut off.
    stream_end_markers: tuple[bytes, ...] = ()

    def native(self, account: Account, front: str, front_wire: str) -> bool:
        """True when `account` answers the client front `front` (of wire `front_wire`) as it is,
        so the body passes through; otherwise the forwarder translates."""
        return self.wire in (front_wire, "mock")

    def base(self, account: Account) -> str:
        return (account.base_url or self.default_base_url).rstrip("/")

    def build(
        self,
        account: Account,
        op: str,
        model: str,
        body: dict[str, Any],
        stream: bool,
        passthru: Mapping[str, str],
    ) -> UpstreamCall:
        """The upstream request for `op`; `body` already carries the upstream model."""
        raise NotImplementedError

    def models_call(self, account: Account) -> UpstreamCall:
        raise NotImplementedError

    def parse_models(self, data: dict[str, Any]) -> list[str]:
        return [m["id"] for m in data.get("data", []) if isinstance(m, dict) and isinstance(m.get("id"), str)]

    def classify(self, status: int, headers: Mapping[str, str], body: bytes) -> Failure:
        data = error_json(body)
        msg = error_message(data, body)
        return Failure(classify_by_status(status, msg), status, msg, retry_after_header(headers))

    def read_usage(self, obj: dict[str, Any], usage: Usage) -> None:
        """Update `usage` from one reply object or stream event of this wire."""

    def test_call(self, model: str) -> tuple[str, dict[str, Any]]:
        """The smallest real request for `levity account test`: (operation, body)."""
        raise NotImplementedError

    def in_process(self) -> bool:
        """True when the provider answers without HTTP (mock)."""
        return False

    async def execute(
        self, http: UpstreamHttp, call: UpstreamCall, timeout: aiohttp.ClientTimeout
    ) -> UpstreamReply:
        return await http.send(call, timeout)


def as_int(v: Any) -> int:
    return v if isinstance(v, int) and not isinstance(v, bool) else 0
