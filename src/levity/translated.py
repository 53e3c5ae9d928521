"""The forwarder's side of a translated exchange (client wire != account wire).

`levity.translate.plan_translation` says what to send upstream and decodes what comes back;
this module runs the parts that touch the client connection and the pool: a local token count
(no upstream call), and a translated stream written to the client as each upstream chunk is
decoded. Same-wire pass-through never comes here.
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING, Any

import orjson
from aiohttp import web

from .providers.base import Failure, FailureKind, UpstreamReply, Usage

if TYPE_CHECKING:
    from .forward import Forwarder, FrontRequest
    from .pool.accounts import Account
    from .store.records import RequestRecord

log = logging.getLogger("levity.forward")


def local_count(fw: Forwarder, account: Account, mapped: str, plan: Any, rec: RequestRecord) -> web.Response:
    """A count-tokens request on an account whose provider cannot count: the flagged estimate."""
    rec.account, rec.provider = account.label, account.provider
    rec.ttfb_ms = 0.0
    name, value = plan.estimate_header
    headers = {**fw._headers(account, mapped), name: value}
    return web.Response(
        body=orjson.dumps(plan.local_result()), content_type="application/json", headers=headers
    )


def decode_whole(plan: Any, raw: bytes) -> bytes | None:
    """A whole upstream reply as the client's JSON bytes; None when it is not a JSON object."""
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return None
    return orjson.dumps(plan.decode(data)) if isinstance(data, dict) else None


def in_stream_failure(message: str) -> Failure:
    low = message.lower()
    kind = FailureKind.CAPACITY if "overload" in low or "capacity" in low else FailureKind.SERVER
    return Failure(kind, 200, f"error event before any output: {message}"[:300])


async def stream(
    fw: Forwarder,
    request: web.Request,
    fr: FrontRequest,
    account: Account,
    mapped: str,
    reply: UpstreamReply,
    plan: Any,
    rec: RequestRecord,
    started: float,
    upstream_errors: tuple[type[BaseException], ...],
) -> web.StreamResponse | Failure:
    """Decode the upstream stream chunk by chunk into the client's wire.

    Until the client has a byte, failures are returned (the caller rotates to another account):
    a broken connection, or an upstream whose first chunk is already an error event. After that
    a failure ends the client's stream with its own error event.
    """
    decoder = plan.stream_decoder(fr.sse)
    chunks = reply.chunks().__aiter__()
    if reply.content_type == "application/json":  # the upstream ignored `stream`: one JSON reply
        raw = await reply.read()
        try:
            data = orjson.loads(raw)
        except orjson.JSONDecodeError:
            return Failure(
                FailureKind.SERVER, reply.status, "upstream answered a stream request with bad JSON"
            )
        first_out = (
            decoder.whole(data) if isinstance(data, dict) else decoder.error("unexpected upstream reply")
        )
        chunks = _nothing()
    else:
        try:
            first = await chunks.__anext__()
        except StopAsyncIteration:
            first = b""
        first_out = decoder.feed(first)
        if decoder.error_message:
            return in_stream_failure(decoder.error_message)
    rec.ttfb_ms = (time.monotonic() - started) * 1000
    headers = {**fw._headers(account, mapped), "Cache-Control": "no-cache"}
    ctype = "text/event-stream" if fr.sse else "application/json"
    tap = fw.body_tap()
    if reply.at_eof():  # the whole upstream stream is here already: one reply with a Content-Length
        body = first_out + await _end(fw, account, mapped, reply, decoder, plan, rec, None, False)
        return fw.stream_whole(body, ctype, headers, tap, rec)
    resp, started_ok = await fw.stream_start(request, ctype, headers, rec)
    if not started_ok:
        return resp

    async def send(data: bytes) -> bool:
        if not data:
            return True
        if tap is not None:
            tap.add(data)
        try:
            await resp.write(data)
            return True
        except ConnectionError:
            return False

    broke: str | None = None
    ours = False  # the gateway failed, not the account
    last = b""  # what the chunk that completed the upstream body decoded to: sent with the end
    alive = await send(first_out)
    while alive:
        try:
            chunk = await chunks.__anext__()
        except StopAsyncIteration:
            break
        except upstream_errors as err:
            broke = f"upstream stream broke ({type(err).__name__})"
            break
        try:
            out = decoder.feed(chunk)
        except Exception:  # a translation bug must end the stream in the client's wire, not cut it
            log.exception("translating the stream from %s failed", account.label)
            broke, ours = "the gateway could not translate the upstream stream", True
            break
        if reply.at_eof():  # fewer writes: this chunk's output shares one with the stream's end
            last = out
            break
        alive = await send(out)
    if not alive:  # the client went away: stop reading so the upstream stops generating
        reply.close()
        rec.error = "client went away during the stream"
        await fw.pool.succeeded(account, mapped, 200, None)
        return resp
    tail = last + await _end(fw, account, mapped, reply, decoder, plan, rec, broke, ours)
    if tap is not None:
        tap.add(tail)
    try:
        await resp.write_eof(tail)
    except ConnectionError:
        pass
    if tap is not None:
        rec.response_body = tap.text()
    return resp


async def _end(
    fw: Forwarder,
    account: Account,
    mapped: str,
    reply: UpstreamReply,
    decoder: Any,
    plan: Any,
    rec: RequestRecord,
    broke: str | None,
    ours: bool,
) -> bytes:
    """The bytes that end the client's stream, once the upstream one is over; usage and the
    account's outcome recorded. A stream cut short ends with the client wire's error event."""
    if broke is None:
        tail = decoder.finish()
        if not decoder.complete:
            broke = decoder.error_message or "upstream stream ended before its final event"
    else:
        tail = decoder.error(f"account {account.label}: {broke}")
    usage = Usage(*plan.usage)
    fw._note_usage(rec, usage)
    if broke is not None:
        rec.error = f"account {account.label}: {broke}"
        if not ours:
            failure = Failure(FailureKind.SERVER, None, broke)
            await fw.pool.failed(account, mapped, failure, fw.gw.config.current.cooldown, time.time())
        log.warning("translated stream from %s cut off: %s", account.label, broke)
    else:
        await fw.pool.succeeded(account, mapped, reply.status, usage)
    return tail


async def _nothing() -> Any:
    return
    yield b""  # pragma: no cover - makes this an empty async generator
