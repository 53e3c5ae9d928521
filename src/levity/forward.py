"""The forwarder: the only retry loop between a client request and the upstream accounts.

For each request: map the model, list the accounts that serve it, then up to
`proxy.max_attempts` attempts on different accounts while nothing has reached the client.
Same-wire requests pass through with only the model rewritten and the bytes streamed back as
they arrive; other pairs go through the translation seam (`levity.translate`).
"""

from __future__ import annotations

import asyncio
import functools
import logging
import math
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import orjson
from aiohttp import web

from . import translated
from .errors import GatewayError, json_response
from .passthrough import StreamWatcher, read_json_usage, stream_error
from .pool.accounts import Account
from .pool.pool import Pool
from .pool.probe import scrub
from .pool.scheduler import session_key
from .pool.state import Cooldown
from .providers import FRONT_WIRE, PROVIDERS
from .providers.base import Failure, FailureKind, Provider, UpstreamCall, UpstreamReply, Usage
from .routing import map_model
from .security.client_ip import request_client_ip
from .security.redact import REDACT_MARGIN
from .state import GATEWAY, Gateway
from .store.records import Attempt, BodyTap, RequestRecord
from .translate import plan_translation
from .upstream import UpstreamHttp, timeouts

log = logging.getLogger("levity.forward")

UPSTREAM_ERRORS = (aiohttp.ClientError, TimeoutError, OSError)
MAX_ERROR_BODY = 1024 * 1024
REASON_WORDS = {
    "quota_exhausted": "out of quota",
    "rate_limited": "rate limited",
    "overloaded": "overloaded",
    "server_error": "failing with server errors",
    "timeout": "timing out",
    "auth_failed": "rejecting their keys",
    "model_not_found": "not finding the model",
}


@dataclass(slots=True)
class FrontRequest:
    front: str  # a front name from docs/seams.md, e.g. "openai_chat"
    model: str  # as the client asked
    body: dict[str, Any]
    stream: bool
    # Client headers and query values the upstream wire needs (anthropic-version/-beta, alt).
    passthru: dict[str, str] = field(default_factory=dict)

    @property
    def sse(self) -> bool:
        return self.stream and (self.front != "gemini_stream" or self.passthru.get("alt") == "sse")


@functools.lru_cache(maxsize=1024)  # account labels and model names: a handful, asked on every reply
def header_safe(text: str) -> str:
    return "".join(ch if 32 <= ord(ch) < 127 else "?" for ch in text)[:200]


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def cooling_error(model: str, cooling: list[Cooldown], now: float) -> GatewayError:
    """429 (or 503 when no rest ever ends) saying why every account for `model` is resting."""
    by_account: dict[str, Cooldown] = {}
    for c in cooling:
        cur = by_account.get(c.account_id)
        if cur is None or c.until > cur.until:
            by_account[c.account_id] = c
    rests = list(by_account.values())
    n = len(rests)
    reasons = Counter(c.reason for c in rests)
    if len(reasons) == 1:
        why = REASON_WORDS.get(rests[0].reason, rests[0].reason)
    else:
        why = "resting (" + ", ".join(f"{k} {REASON_WORDS.get(r, r)}" for r, k in reasons.most_common()) + ")"
    all_word = "the only account" if n == 1 else f"all {n} accounts"
    verb = "is" if n == 1 else "are"
    finite = [c for c in rests if not c.permanent]
    if not finite:
        return GatewayError(
            503, f"{all_word} for {model} {verb} {why}; fix the key or re-enable the account in the admin UI"
        )
    soonest = min(c.until for c in finite) - now
    secs = max(1, math.ceil(soonest))
    first = "it frees" if n == 1 else "the first frees"
    return GatewayError(
        429,
        f"{all_word} for {model} {verb} {why}; {first} in {secs} s",
        headers={"Retry-After": str(secs)},
    )


class Forwarder:
    def __init__(self, gateway: Gateway) -> None:
        self.gw = gateway

    @property
    def pool(self) -> Pool:
        return self.gw.parts["pool"]

    @property
    def http(self) -> UpstreamHttp:
        return self.gw.parts["http"]

    async def handle(self, request: web.Request, fr: FrontRequest) -> web.StreamResponse:
        started = time.monotonic()
        cfg = self.gw.config.current
        rec = RequestRecord(
            method=request.method,
            path=request.path,
            protocol=fr.front,
            model=fr.model,
            stream=fr.stream,
            client_ip=request_client_ip(request, cfg.proxy.trusted_proxies),
        )
        if cfg.monitor.log_bodies:  # serialised now: the attempts rewrite the model in place
            rec.request_body = orjson.dumps(fr.body).decode()
        try:
            resp = await self._forward(request, fr, rec, started)
            rec.status = resp.status
            if cfg.monitor.log_bodies and rec.response_body is None and isinstance(resp, web.Response):
                body = resp.body
                if isinstance(body, bytes | bytearray):
                    rec.response_body = bytes(body).decode("utf-8", "replace")
            return resp
        except GatewayError as err:
            rec.status, rec.error = err.status, err.message
            raise
        except asyncio.CancelledError:
            rec.status, rec.error = 499, "client went away"
            raise
        finally:
            rec.duration_ms = (time.monotonic() - started) * 1000
            monitor = self.gw.parts.get("monitor")
            if monitor is not None:
                try:
                    monitor.record(rec)
                except Exception:  # the monitor must never break a request
                    log.exception("monitor.record failed")

    async def _forward(
        self, request: web.Request, fr: FrontRequest, rec: RequestRecord, started: float
    ) -> web.StreamResponse:
        cfg = self.gw.config.current
        mapped = map_model(cfg.proxy.model_mapping, fr.model)
        rec.mapped_model = mapped
        candidates = self.pool.book.serving(mapped)
        if not candidates:
            named = f"{mapped!r}" + (f" (mapped from {fr.model!r})" if mapped != fr.model else "")
            raise GatewayError(
                503,
                f"no enabled account serves model {named}; add one with `levity account add` "
                "or map the model in proxy.model_mapping",
            )
        session = session_key(request.headers, fr.body)
        tried: set[str] = set()
        last: tuple[Account, Failure] | None = None
        for _ in range(cfg.proxy.max_attempts):
            now = time.time()
            choice = await self.pool.scheduler.choose(candidates, mapped, session, tried, cfg.proxy, now)
            if choice.account is None:
                if not tried:
                    raise cooling_error(mapped, choice.cooling, now)
                break
            if choice.wait:
                await asyncio.sleep(choice.wait)
            account = choice.account
            tried.add(account.id)
            outcome = await self._attempt(request, fr, account, mapped, rec, started)
            if isinstance(outcome, web.StreamResponse):
                return outcome
            last = (account, outcome)
        return await self._exhausted(fr, mapped, candidates, last)

    async def _exhausted(
        self,
        fr: FrontRequest,
        mapped: str,
        candidates: tuple[Account, ...],
        last: tuple[Account, Failure] | None,
    ) -> web.StreamResponse:
        now = time.time()
        cooling = await self.pool.state.active_cooldowns([a.id for a in candidates], mapped, now)
        if len(cooling) == len(candidates):
            raise cooling_error(mapped, list(cooling.values()), now)
        assert last is not None
        account, failure = last
        msg = f"upstream failed on every attempt; last: account {account.label}: {failure.describe()}"
        if failure.kind in (FailureKind.RATE_LIMIT, FailureKind.QUOTA):
            secs = max(1, math.ceil(failure.retry_after or 1))
            raise GatewayError(429, msg, headers={"Retry-After": str(secs)})
        if failure.kind == FailureKind.CAPACITY:
            raise GatewayError(529 if FRONT_WIRE[fr.front] == "anthropic" else 503, msg)
        if failure.kind == FailureKind.MODEL_NOT_FOUND:
            raise GatewayError(404, msg)
        raise GatewayError(504 if failure.kind == FailureKind.TIMEOUT else 502, msg)

    # -- one attempt -------------------------------------------------------------------------
    def _prepare(
        self, fr: FrontRequest, account: Account, provider: Provider, mapped: str
    ) -> tuple[UpstreamCall | None, Any]:
        """The upstream call and, when the wires differ, the translation plan (no call for a
        local token count)."""
        if provider.native(account, fr.front, FRONT_WIRE[fr.front]):
            body = fr.body
            if "model" in body or not fr.front.startswith("gemini"):
                body["model"] = mapped  # the one rewrite a pass-through makes
            inner = body.get("generateContentRequest")
            if isinstance(inner, dict) and "model" in inner:
                inner["model"] = f"models/{mapped}"
            return provider.build(account, fr.front, mapped, body, fr.stream, fr.passthru), None
        plan = plan_translation(fr.front, provider.wire, fr.body, mapped, fr.stream)
        # Replies name the model the client asked for (an earlier pass-through attempt may have
        # rewritten the body's model already; Gemini clients name it in the URL).
        plan.client_model = fr.model
        if plan.local_count:
            return None, plan
        passthru = dict(fr.passthru)
        if plan.upstream_operation == "gemini_stream":
            passthru["alt"] = "sse"
        call = provider.build(
            account, plan.upstream_operation, mapped, plan.upstream_body, plan.upstream_stream, passthru
        )
        return call, plan

    async def _attempt(
        self,
        request: web.Request,
        fr: FrontRequest,
        account: Account,
        mapped: str,
        rec: RequestRecord,
        started: float,
    ) -> web.StreamResponse | Failure:
        provider = PROVIDERS[account.provider]
        call, plan = self._prepare(fr, account, provider, mapped)
        if call is None:
            return translated.local_count(self, account, mapped, plan, rec)
        cfg = self.gw.config.current
        t0 = time.monotonic()
        attempt = Attempt(account=account.label, status=None, error="")
        rec.attempts.append(attempt)
        # The record names the account of the last attempt: the one that answered, or failed last.
        rec.account, rec.provider = account.label, account.provider
        self.pool.started(account, time.time())
        reply: UpstreamReply | None = None
        try:
            try:
                reply = await provider.execute(self.http, call, timeouts(cfg.proxy))
                attempt.status = reply.status
                if not 200 <= reply.status < 300:
                    raw = await self._read_capped(reply)
                    failure = provider.classify(reply.status, reply.headers, raw)
                    failure.message = scrub(failure.message, account)
                    if failure.kind == FailureKind.CLIENT:
                        attempt.error = rec.error = failure.describe()
                        await self.pool.succeeded(account, mapped, reply.status, None)
                        return self._client_error(fr, account, mapped, reply, raw, failure, plan)
                    return await self._failed(account, mapped, failure, attempt)
                if plan is not None and plan.upstream_stream:
                    out = await translated.stream(
                        self, request, fr, account, mapped, reply, plan, rec, started, UPSTREAM_ERRORS
                    )
                    if isinstance(out, Failure):
                        out.message = scrub(out.message, account)
                        return await self._failed(account, mapped, out, attempt)
                    return out
                # An upstream that answers a stream request with plain JSON is passed on whole
                # (Gemini's non-SSE stream is a JSON array that arrives piece by piece).
                streamed = reply.content_type == "text/event-stream" or fr.front == "gemini_stream"
                if fr.stream and plan is None and streamed:
                    return await self._stream(request, fr, account, mapped, reply, rec, started)
                raw = await reply.read()
                if plan is not None:
                    decoded = translated.decode_whole(plan, raw)
                    if decoded is None:  # a broken answer: another account may do better
                        failure = Failure(
                            FailureKind.SERVER, reply.status, "upstream reply is not a JSON object"
                        )
                        return await self._failed(account, mapped, failure, attempt)
                    raw = decoded
            except UPSTREAM_ERRORS as err:
                what = "timed out" if isinstance(err, TimeoutError) else "connection failed"
                failure = Failure(FailureKind.TIMEOUT, None, f"{what} ({type(err).__name__})")
                return await self._failed(account, mapped, failure, attempt)
            return await self._whole(fr, account, mapped, reply, raw, plan, rec, started)
        finally:
            attempt.duration_ms = (time.monotonic() - t0) * 1000
            self.pool.finished(account)
            if reply is not None:
                reply.close()

    async def _failed(self, account: Account, mapped: str, failure: Failure, attempt: Attempt) -> Failure:
        attempt.error = failure.describe()
        await self.pool.failed(account, mapped, failure, self.gw.config.current.cooldown, time.time())
        return failure

    @staticmethod
    async def _read_capped(reply: UpstreamReply) -> bytes:
        parts: list[bytes] = []
        size = 0
        async for chunk in reply.chunks():
            parts.append(chunk)
            size += len(chunk)
            if size >= MAX_ERROR_BODY:
                break
        return b"".join(parts)

    @staticmethod
    def _headers(account: Account, mapped: str) -> dict[str, str]:
        return {"X-Levity-Account": header_safe(account.label), "X-Mapped-Model": header_safe(mapped)}

    def _client_error(
        self,
        fr: FrontRequest,
        account: Account,
        mapped: str,
        reply: UpstreamReply,
        raw: bytes,
        failure: Failure,
        plan: Any,
    ) -> web.StreamResponse:
        """A 4xx caused by the request itself: not retried, returned as the upstream said it."""
        headers = self._headers(account, mapped)
        if plan is None and reply.content_type == "application/json":
            return web.Response(
                body=scrub(raw.decode("utf-8", "replace"), account).encode(),
                status=reply.status,
                content_type="application/json",
                headers=headers,
            )
        raise GatewayError(reply.status, f"upstream refused the request: {failure.message}", headers=headers)

    async def _whole(
        self,
        fr: FrontRequest,
        account: Account,
        mapped: str,
        reply: UpstreamReply,
        raw: bytes,
        plan: Any,
        rec: RequestRecord,
        started: float,
    ) -> web.StreamResponse:
        rec.ttfb_ms = (time.monotonic() - started) * 1000
        # A translated reply (`raw` is already the client's JSON) carries its usage in the plan.
        usage = Usage(*plan.usage) if plan is not None else read_json_usage(fr.front, raw)
        self._note_usage(rec, usage)
        await self.pool.succeeded(account, mapped, reply.status, usage)
        ctype = "application/json" if plan is not None else (reply.content_type or "application/json")
        return web.Response(
            body=raw, status=reply.status, content_type=ctype, headers=self._headers(account, mapped)
        )

    def body_tap(self) -> BodyTap | None:
        """Where a streamed reply's first bytes go for the request log, when body logging is on."""
        cfg = self.gw.config.current.monitor
        return BodyTap(cfg.max_body_chars + REDACT_MARGIN) if cfg.log_bodies else None

    @staticmethod
    def _note_usage(rec: RequestRecord, usage: Usage) -> None:
        rec.input_tokens, rec.output_tokens, rec.cached_tokens, rec.reasoning_tokens = usage.as_tuple()

    async def _stream(
        self,
        request: web.Request,
        fr: FrontRequest,
        account: Account,
        mapped: str,
        reply: UpstreamReply,
        rec: RequestRecord,
        started: float,
    ) -> web.StreamResponse:
        """Same-wire stream: the upstream bytes go to the client as they arrive, untouched.

        When the upstream body is known to be complete (`reply.at_eof()` after a chunk), that
        chunk goes out together with the end of the reply: a stream that arrived whole before
        the headers left is answered with a Content-Length, and the last chunk of a longer one
        shares its write with the chunked terminator. Same bytes, fewer writes and syscalls.
        """
        chunks = reply.chunks().__aiter__()
        # Nothing is sent before the first upstream byte: until then a failure can still rotate.
        try:
            first = await chunks.__anext__()
        except StopAsyncIteration:
            first = b""
        rec.ttfb_ms = (time.monotonic() - started) * 1000
        watcher = StreamWatcher(fr.front, fr.sse)
        ctype = reply.content_type or ("text/event-stream" if fr.sse else "application/json")
        headers = {**self._headers(account, mapped), "Cache-Control": "no-cache"}
        tap = self.body_tap()
        watcher.feed(first)
        if reply.at_eof():  # the whole stream is here already: one reply with a Content-Length
            body = first + await self._stream_end(fr, account, mapped, reply, rec, watcher, None)
            return self.stream_whole(body, ctype, headers, tap, rec)
        resp, started_ok = await self.stream_start(request, ctype, headers, rec)
        if not started_ok:
            return resp

        upstream_error: str | None = None
        last = b""  # a chunk after which the upstream body is complete: sent with the end
        chunk = first
        try:
            while True:
                if chunk:
                    if tap is not None:
                        tap.add(chunk)
                    await resp.write(chunk)
                try:
                    chunk = await chunks.__anext__()
                except StopAsyncIteration:
                    break
                except UPSTREAM_ERRORS as err:
                    upstream_error = f"upstream stream broke ({type(err).__name__})"
                    break
                watcher.feed(chunk)
                if reply.at_eof():
                    last = chunk
                    break
        except ConnectionError:  # the client went away: stop reading so the upstream stops generating
            reply.close()
            rec.error = "client went away during the stream"
            await self.pool.succeeded(account, mapped, 200, None)
            return resp
        tail = last + await self._stream_end(fr, account, mapped, reply, rec, watcher, upstream_error)
        if tap is not None:
            tap.add(tail)
        try:
            await resp.write_eof(tail)
        except ConnectionError:
            if last:
                rec.error = "client went away during the stream"
        if tap is not None:
            rec.response_body = tap.text()
        return resp

    @staticmethod
    def stream_whole(
        body: bytes, ctype: str, headers: dict[str, str], tap: BodyTap | None, rec: RequestRecord
    ) -> web.Response:
        """A stream whose upstream body had all arrived before the client got a byte: one reply."""
        if tap is not None:
            tap.add(body)
            rec.response_body = tap.text()
        return web.Response(body=body, status=200, content_type=ctype, headers=headers)

    @staticmethod
    async def stream_start(
        request: web.Request, ctype: str, headers: dict[str, str], rec: RequestRecord
    ) -> tuple[web.StreamResponse, bool]:
        """The client's streamed reply with its headers sent; False when the client already left."""
        resp = web.StreamResponse(status=200, headers=headers)
        resp.content_type = ctype
        try:
            await resp.prepare(request)
        except ConnectionError:
            rec.error = "client went away before the stream started"
            return resp, False
        return resp, True

    async def _stream_end(
        self,
        fr: FrontRequest,
        account: Account,
        mapped: str,
        reply: UpstreamReply,
        rec: RequestRecord,
        watcher: StreamWatcher,
        upstream_error: str | None,
    ) -> bytes:
        """Usage and the account's outcome once the upstream stream is over; the bytes that end a
        broken stream in the client's wire (empty for a healthy one)."""
        watcher.finish()
        usage = watcher.usage
        if upstream_error is None and not watcher.ended:
            upstream_error = "upstream stream ended before its final event"
        self._note_usage(rec, usage)
        if upstream_error is None:
            await self.pool.succeeded(account, mapped, reply.status, usage)
            return b""
        message = f"account {account.label}: {upstream_error}"
        rec.error = message
        failure = Failure(FailureKind.SERVER, None, upstream_error)
        await self.pool.failed(account, mapped, failure, self.gw.config.current.cooldown, time.time())
        log.warning("stream from %s cut off: %s", account.label, upstream_error)
        return stream_error(fr.front, message, 502, fr.sse)


def forwarder(request: web.Request) -> Forwarder:
    return request.app[GATEWAY].parts["forwarder"]


async def models_payload(gw: Gateway) -> list[tuple[str, str]]:
    """(model id, owner) for every concrete model an enabled account serves, plus mapping keys."""
    seen: dict[str, str] = {}
    for account in gw.parts["pool"].book.accounts:
        if not account.enabled:
            continue
        for m in account.models:
            if "*" not in m:
                seen.setdefault(m, account.provider)
    for key in gw.config.current.proxy.model_mapping:
        if "*" not in key:
            seen.setdefault(key, "levity")
    return sorted(seen.items())


__all__ = ["Forwarder", "FrontRequest", "cooling_error", "json_response", "models_payload"]
