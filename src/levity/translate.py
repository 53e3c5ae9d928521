"""The seam the forwarder calls when a client's wire and the account's provider differ.

    plan = plan_translation(front, provider_wire, body, upstream_model, stream)

`front` is the client protocol (`openai_chat`, `openai_responses`, `openai_completions`,
`anthropic_messages`, `anthropic_count_tokens`, `gemini_generate`, `gemini_stream`,
`gemini_count_tokens`); `provider_wire` is what the account speaks (`openai` = Chat Completions,
`anthropic` = Messages, `gemini` = generateContent). The client body is parsed into the canonical
request (`levity.canonical`) and re-encoded for the provider; replies come back as canonical
events and are encoded in the client's wire. Anything the target cannot express raises
`GatewayError(400, <message naming the feature>)` before any upstream call.

Using a plan (forwarder side):
- call `plan.upstream_operation` (a front name on the provider's wire: `openai_chat`,
  `anthropic_messages`, `anthropic_count_tokens`, `gemini_generate`, `gemini_stream`,
  `gemini_count_tokens`) with `plan.upstream_body`; for `gemini_stream` use `?alt=sse`;
  the Gemini model goes in the URL (`upstream_model`), the others carry it in the body;
- non-streamed: `client_json = plan.decode(upstream_json)`;
- streamed (`plan.upstream_stream`): `dec = plan.stream_decoder()`, then for every upstream chunk
  write `dec.feed(chunk)` (may be b""), at upstream EOF write `dec.finish()`, and on a failure after
  the first byte write `dec.error(message)` (the client wire's own in-stream error event). Client
  streams are SSE (`text/event-stream`); Gemini clients are answered as `alt=sse` frames;
- `plan.usage` is `(input, output, cached, reasoning)`, filled as the reply is decoded.

Token counting without a provider endpoint: OpenAI has no count endpoint, so a count-tokens front
to an `openai` account gives a plan with `local_count=True`. Make no upstream call: answer
`plan.local_result()` (the client's count shape) with the header `plan.estimate_header`
(`X-Levity-Token-Estimate: chars/4`). The estimate is ceil(chars/4) over the canonical text (system,
messages, tool arguments and results, tool names, descriptions and schemas) plus a flat 1000 per
image or binary document; never a constant.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

from levity import canonical as c
from levity.errors import GatewayError
from levity.protocols import (
    anthropic_messages,
    anthropic_upstream,
    gemini,
    openai_chat,
    openai_completions,
    openai_responses,
    sse,
)

FRONTS: dict[str, ModuleType] = {
    "openai_chat": openai_chat,
    "openai_responses": openai_responses,
    "openai_completions": openai_completions,
    "anthropic_messages": anthropic_messages,
    "anthropic_count_tokens": anthropic_messages,
    "gemini_generate": gemini,
    "gemini_stream": gemini,
    "gemini_count_tokens": gemini,
}
COUNT_FRONTS = {"anthropic_count_tokens", "gemini_count_tokens"}
PROVIDERS: dict[str, ModuleType] = {"openai": openai_chat, "anthropic": anthropic_upstream, "gemini": gemini}
COUNT_OPERATION = {"anthropic": "anthropic_count_tokens", "gemini": "gemini_count_tokens"}
ESTIMATE_HEADER = ("X-Levity-Token-Estimate", "chars/4")


def _operation(wire: str, stream: bool) -> str:
    if wire == "openai":
        return "openai_chat"
    if wire == "anthropic":
        return "anthropic_messages"
    return "gemini_stream" if stream else "gemini_generate"


def estimate_tokens(req: c.Request) -> int:
    """ceil(chars/4) over all canonical text, plus 1000 per image or binary document."""
    chars = sum(len(t.text) for t in req.system)
    flat = 0

    def media(p: c.Part) -> None:
        nonlocal chars, flat
        if isinstance(p, c.Text):
            chars += len(p.text)
        elif isinstance(p, c.Document) and p.text:
            chars += len(p.text)
        elif isinstance(p, c.Image | c.Document):
            flat += 1000

    for m in req.messages:
        for p in m.parts:
            if isinstance(p, c.ToolCall):
                chars += len(p.name) + len(p.arguments)
            elif isinstance(p, c.ToolResult):
                for x in p.content:
                    media(x)
            elif isinstance(p, c.Thinking):
                chars += len(p.text)
            else:
                media(p)
    for t in req.tools:
        chars += len(t.name) + len(t.description) + len(c.dumps(t.parameters))
    return math.ceil(chars / 4) + flat


class StreamDecoder:
    """Upstream SSE bytes in, client wire bytes out, one chunk at a time.

    `complete` tells, once `finish()` ran, whether the upstream reached its own end: a stream
    cut short or ended by an upstream error event was answered with the client's error event
    and counts as a failure of the account.
    """

    def __init__(self, provider: ModuleType, encoder: Any, on_usage: Callable[[c.Usage], None]) -> None:
        self._sse = sse.SSEParser()
        self._provider_module = provider
        self._provider = provider.StreamDecoder()
        self._encoder = encoder
        self._on_usage = on_usage
        self.finished = False  # the upstream said how the reply ended
        self.error_message = ""  # the upstream's own in-stream error, or a malformed stream
        self.sent = False  # some client bytes came out of this decoder

    @property
    def complete(self) -> bool:
        return self.finished and not self.error_message

    def _emit(self, events: list[c.Event]) -> bytes:
        for ev in events:
            if isinstance(ev, c.Usage):
                self._on_usage(ev)
            elif isinstance(ev, c.Finish):
                self.finished = True
            elif isinstance(ev, c.Error):
                self.error_message = self.error_message or ev.message
        return self._out(self._encoder.events(events))

    def _out(self, data: bytes) -> bytes:
        self.sent = self.sent or bool(data)
        return data

    def _malformed(self, exc: Exception) -> bytes:
        self.error_message = self.error_message or f"malformed upstream stream: {exc}"
        return self._out(self._encoder.error(self.error_message))

    def feed(self, chunk: bytes) -> bytes:
        out = bytearray()
        try:
            for ev in self._sse.feed(chunk):
                out += self._emit(self._provider.feed(ev))
        except (ValueError, sse.SSETooLarge) as exc:  # orjson errors are ValueErrors
            out += self._malformed(exc)
        return bytes(out)

    def finish(self) -> bytes:
        out = bytearray()
        try:
            for ev in self._sse.finish():
                out += self._emit(self._provider.feed(ev))
            out += self._emit(self._provider.close())
        except ValueError as exc:
            out += self._malformed(exc)
        return bytes(out + self._out(self._encoder.finish()))

    def whole(self, upstream_json: dict) -> bytes:
        """The client stream for an upstream that answered a stream request with one JSON reply."""
        return self._emit(self._provider_module.decode_reply(upstream_json)) + self.finish()

    def error(self, message: str) -> bytes:
        return self._out(self._encoder.error(message))


class JsonArrayStream:
    """A Gemini stream without `alt=sse` is one JSON array sent piece by piece: re-frame the
    SSE the Gemini encoder writes (`data: {...}` frames, one line each) as array elements."""

    def __init__(self, inner: StreamDecoder) -> None:
        self.inner = inner
        self._opened = False
        self._buf = b""

    def __getattr__(self, name: str) -> Any:  # complete, finished, error_message, sent
        return getattr(self.inner, name)

    def _elements(self, data: bytes, last: bool = False) -> bytes:
        self._buf += data
        frames = self._buf.split(b"\n\n")
        self._buf = frames.pop()
        out = bytearray()
        for f in frames:
            if not f.startswith(b"data: "):
                continue
            out += (b",\r\n" if self._opened else b"[") + f[6:]
            self._opened = True
        if last:
            out += b"]" if self._opened else b"[]"
        return bytes(out)

    def feed(self, chunk: bytes) -> bytes:
        return self._elements(self.inner.feed(chunk))

    def finish(self) -> bytes:
        return self._elements(self.inner.finish(), last=True)

    def whole(self, upstream_json: dict) -> bytes:
        return self._elements(self.inner.whole(upstream_json), last=True)

    def error(self, message: str) -> bytes:
        return self._elements(self.inner.error(message), last=True)


@dataclass
class TranslationPlan:
    front: str
    provider_wire: str
    request: c.Request
    client_model: str
    upstream_operation: str = ""
    upstream_body: dict = field(default_factory=dict)
    upstream_stream: bool = False
    local_count: bool = False
    estimate_header: tuple[str, str] = ESTIMATE_HEADER
    _usage: c.Usage = field(default_factory=c.Usage)

    @property
    def usage(self) -> tuple[int, int, int, int]:
        return self._usage.as_tuple()

    def _set_usage(self, u: c.Usage) -> None:
        self._usage = c.Usage(*u.as_tuple())

    def decode(self, upstream_json: dict) -> dict:
        front = FRONTS[self.front]
        provider = PROVIDERS[self.provider_wire]
        if self.front in COUNT_FRONTS:
            return front.render_count(provider.decode_count(upstream_json))
        collector = c.Collector()
        for ev in provider.decode_reply(upstream_json):
            collector.add(ev)
        self._set_usage(collector.reply.usage)
        return front.render_reply(collector.reply, self.request, self.client_model)

    def stream_decoder(self, sse_frames: bool = True) -> StreamDecoder | JsonArrayStream:
        """`sse_frames=False`: a Gemini client that asked for the JSON-array stream (no alt=sse)."""
        encoder = FRONTS[self.front].StreamEncoder(self.request, self.client_model)
        dec = StreamDecoder(PROVIDERS[self.provider_wire], encoder, self._set_usage)
        if not sse_frames and FRONTS[self.front] is gemini:
            return JsonArrayStream(dec)
        return dec

    def local_result(self) -> dict:
        """The client's count reply from the chars/4 estimate (only for `local_count` plans)."""
        return FRONTS[self.front].render_count(estimate_tokens(self.request))


def _parse(front: str, body: dict, upstream_model: str) -> c.Request:
    module = FRONTS[front]
    if front == "gemini_count_tokens":
        inner = body.get("generateContentRequest")
        return module.parse_request(inner if isinstance(inner, dict) else body, upstream_model)
    if module is gemini:
        return module.parse_request(body, upstream_model)
    return module.parse_request(body)


def plan_translation(
    front: str, provider_wire: str, body: dict, upstream_model: str, stream: bool
) -> TranslationPlan:
    """Plan one request's translation; raises GatewayError(400) when the target cannot express it."""
    if front not in FRONTS:
        raise ValueError(f"unknown front {front!r}")
    if provider_wire not in PROVIDERS:
        raise ValueError(f"no translation to provider wire {provider_wire!r}")
    if not isinstance(body, dict):
        raise GatewayError(400, "request body must be a JSON object")
    req = _parse(front, body, upstream_model)
    client_model = req.model or upstream_model
    plan = TranslationPlan(front, provider_wire, req, client_model)
    provider = PROVIDERS[provider_wire]
    if front in COUNT_FRONTS:
        if provider_wire not in COUNT_OPERATION:
            plan.local_count = True
            return plan
        plan.upstream_operation = COUNT_OPERATION[provider_wire]
        plan.upstream_body = provider.build_count_request(req, upstream_model)
        return plan
    if not req.messages:
        raise GatewayError(400, "the request has no messages to send")
    plan.upstream_stream = bool(stream)
    plan.upstream_operation = _operation(provider_wire, plan.upstream_stream)
    plan.upstream_body = provider.build_request(req, upstream_model, plan.upstream_stream)
    return plan
