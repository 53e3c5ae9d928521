"""Calls that check an account: list its models, and a tiny real request (`test`)."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

import aiohttp
import orjson

from ..providers import get_provider
from ..providers.base import Usage
from .accounts import DEMO_MODEL, Account

if TYPE_CHECKING:
    from ..upstream import UpstreamHttp

PROBE_TIMEOUT = aiohttp.ClientTimeout(total=30, connect=10)


class ProbeError(Exception):
    pass


async def discover_models(http: UpstreamHttp | None, account: Account) -> list[str]:
    provider = get_provider(account.provider)
    if provider.in_process():
        return [DEMO_MODEL]
    assert http is not None
    call = provider.models_call(account)
    try:
        reply = await provider.execute(http, call, PROBE_TIMEOUT)
        try:
            body = await reply.read()
        finally:
            reply.close()
    except (aiohttp.ClientError, TimeoutError) as err:
        raise ProbeError(f"cannot reach {provider.base(account)}: {type(err).__name__}") from None
    if reply.status != 200:
        failure = provider.classify(reply.status, reply.headers, body)
        raise ProbeError(f"model list failed with HTTP {reply.status}: {scrub(failure.describe(), account)}")
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError:
        raise ProbeError("model list is not JSON") from None
    return sorted(set(provider.parse_models(data if isinstance(data, dict) else {})))


def scrub(text: str, account: Account) -> str:
    """Upstream error messages sometimes quote the key back; never pass it on."""
    if account.api_key and len(account.api_key) >= 4:
        text = text.replace(account.api_key, "****" + account.api_key[-4:])
    return text


def pick_test_model(account: Account) -> str:
    for m in account.models:
        if "*" not in m:
            return m
    raise ProbeError("the account lists no concrete model to test; add one or run refresh")


async def test_account(
    http: UpstreamHttp | None, account: Account, model: str | None = None
) -> dict[str, Any]:
    """One minimal real request; the answer says whether the key and model work, never the key."""
    provider = get_provider(account.provider)
    model = model or pick_test_model(account)
    op, body = provider.test_call(model)
    call = provider.build(account, op, model, body, False, {})
    started = time.monotonic()
    try:
        reply = await provider.execute(http, call, PROBE_TIMEOUT)  # type: ignore[arg-type]
        try:
            raw = await reply.read()
        finally:
            reply.close()
    except (aiohttp.ClientError, TimeoutError) as err:
        return {
            "ok": False,
            "model": model,
            "status": None,
            "error": f"timeout: {type(err).__name__}",
            "latency_ms": round((time.monotonic() - started) * 1000, 1),
        }
    latency = round((time.monotonic() - started) * 1000, 1)
    if 200 <= reply.status < 300:
        usage = Usage()
        try:
            data = orjson.loads(raw)
            if isinstance(data, dict):
                provider.read_usage(data, usage)
        except orjson.JSONDecodeError:
            pass
        return {
            "ok": True,
            "model": model,
            "status": reply.status,
            "latency_ms": latency,
            "usage": {"input": usage.input, "output": usage.output},
        }
    failure = provider.classify(reply.status, reply.headers, raw)
    return {
        "ok": False,
        "model": model,
        "status": reply.status,
        "latency_ms": latency,
        "error": scrub(failure.describe(), account),
        "reason": failure.kind.value,
    }
