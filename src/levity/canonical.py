"""The canonical form every translation passes through.

A request is a list of messages made of typed parts plus the settings around them (system text,
tools, sampling, output format, reasoning). A reply is a sequence of events; a non-streamed reply
is the same events collected by `Collector`, so streaming and non-streaming share one path.

Conventions that every codec keeps:
- Roles are only "user" and "assistant". Tool results are `ToolResult` parts inside a user
  message (how Anthropic and Gemini model them); system/developer messages found in the middle of
  a conversation are hoisted into `Request.system` in order.
- Tool-call arguments are JSON text (`ToolCall.arguments`), streamed as JSON text fragments.
- Usage follows OpenAI's accounting: `input` includes cached tokens, `output` includes reasoning.
- A signature carries its origin wire ("anthropic", "gemini", "openai") so a provider only gets
  back signatures it issued; fronts tag foreign signatures with `tag_signature`.
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass, field
from typing import Literal

import orjson

# ---- request parts -----------------------------------------------------------------------------


@dataclass(slots=True)
class Text:
    text: str
    cache: bool = False  # a prompt-cache hint (Anthropic cache_control); droppable


@dataclass(slots=True)
class Image:
    media_type: str = ""
    data: str = ""  # base64, when inline
    url: str = ""  # http(s) URL, when remote (never a local path)


@dataclass(slots=True)
class Document:
    media_type: str = ""  # application/pdf, text/plain, ...
    data: str = ""  # base64 when inline
    url: str = ""
    text: str = ""  # plain-text source
    title: str = ""


@dataclass(slots=True)
class ToolCall:
    id: str
    name: str
    arguments: str = "{}"  # JSON text
    signature: str = ""  # Gemini thoughtSignature riding on a functionCall
    origin: str = ""

    def args(self) -> dict:
        return parse_args(self.arguments)


@dataclass(slots=True)
class ToolResult:
    call_id: str
    content: list[Text | Image | Document] = field(default_factory=list)
    is_error: bool = False
    name: str = ""  # function name, when known (Gemini needs it)

    def text(self) -> str:
        return "".join(p.text for p in self.content if isinstance(p, Text))


@dataclass(slots=True)
class Thinking:
    text: str = ""
    signature: str = ""
    origin: str = ""  # wire that issued the signature
    redacted: str = ""  # opaque data of an Anthropic redacted_thinking block


Part = Text | Image | Document | ToolCall | ToolResult | Thinking


@dataclass(slots=True)
class Message:
    role: Literal["user", "assistant"]
    parts: list[Part] = field(default_factory=list)


@dataclass(slots=True)
class Tool:
    name: str
    description: str = ""
    parameters: dict = field(default_factory=lambda: {"type": "object", "properties": {}})
    strict: bool | None = None


@dataclass(slots=True)
class ToolChoice:
    mode: Literal["auto", "none", "required", "tool"] = "auto"
    name: str = ""


@dataclass(slots=True)
class ResponseFormat:
    type: Literal["text", "json_object", "json_schema"] = "text"
    schema: dict | None = None
    name: str = "response"
    strict: bool | None = None


@dataclass(slots=True)
class Reasoning:
    effort: str | None = None  # none/minimal/low/medium/high/xhigh
    budget: int | None = None  # token budget
    include_thoughts: bool = True  # whether the client wants the thinking text back
    disabled: bool = False  # explicitly off


@dataclass(slots=True)
class Request:
    model: str = ""
    messages: list[Message] = field(default_factory=list)
    system: list[Text] = field(default_factory=list)
    tools: list[Tool] = field(default_factory=list)
    tool_choice: ToolChoice | None = None
    parallel_tool_calls: bool | None = None
    max_tokens: int | None = None
    temperature: float | None = None
    top_p: float | None = None
    top_k: int | None = None
    seed: int | None = None
    stop: list[str] = field(default_factory=list)
    response_format: ResponseFormat | None = None
    reasoning: Reasoning | None = None
    user: str = ""  # end-user id (metadata.user_id / user / safety_identifier)
    stream: bool = False
    # Front-specific memory the front's encoder needs on the way back (e.g. Responses namespaces).
    front_state: dict = field(default_factory=dict)

    def system_text(self) -> str:
        return "\n\n".join(t.text for t in self.system if t.text)


# ---- reply events ------------------------------------------------------------------------------

PartKind = Literal["text", "thinking", "redacted_thinking", "tool_call"]
StopReason = Literal["end", "max_tokens", "tool_use", "stop_sequence", "content_filter", "refusal", "pause"]


@dataclass(slots=True)
class Start:
    id: str
    model: str = ""


@dataclass(slots=True)
class PartStart:
    index: int
    kind: PartKind
    id: str = ""  # tool call id
    name: str = ""  # tool name
    data: str = ""  # redacted thinking data
    signature: str = ""  # Gemini signature known at start (functionCall)
    origin: str = ""


@dataclass(slots=True)
class Delta:
    index: int
    text: str = ""  # text, thinking text or a JSON fragment of tool arguments, by part kind
    signature: str = ""


@dataclass(slots=True)
class PartStop:
    index: int


@dataclass(slots=True)
class Usage:
    input: int = 0
    output: int = 0
    cached: int = 0
    reasoning: int = 0

    def as_tuple(self) -> tuple[int, int, int, int]:
        return (self.input, self.output, self.cached, self.reasoning)


@dataclass(slots=True)
class Finish:
    reason: StopReason = "end"
    stop_sequence: str | None = None


@dataclass(slots=True)
class Error:
    message: str


Event = Start | PartStart | Delta | PartStop | Usage | Finish | Error


@dataclass(slots=True)
class OutPart:
    """A finished part of a collected reply."""

    kind: PartKind
    text: str = ""  # text, thinking text or tool arguments JSON
    id: str = ""
    name: str = ""
    signature: str = ""
    origin: str = ""
    data: str = ""


@dataclass(slots=True)
class Reply:
    id: str = ""
    model: str = ""
    parts: list[OutPart] = field(default_factory=list)
    finish: Finish | None = None
    usage: Usage = field(default_factory=Usage)
    error: str = ""

    def text(self) -> str:
        return "".join(p.text for p in self.parts if p.kind == "text")


class Collector:
    """Folds events into a `Reply` (how non-streamed replies are built)."""

    def __init__(self) -> None:
        self.reply = Reply()
        self._open: dict[int, OutPart] = {}

    def add(self, ev: Event) -> None:
        r = self.reply
        if isinstance(ev, Start):
            r.id, r.model = ev.id, ev.model or r.model
        elif isinstance(ev, PartStart):
            part = OutPart(
                ev.kind, id=ev.id, name=ev.name, data=ev.data, signature=ev.signature, origin=ev.origin
            )
            self._open[ev.index] = part
            r.parts.append(part)
        elif isinstance(ev, Delta):
            part = self._open.get(ev.index)
            if part is not None:
                part.text += ev.text
                part.signature += ev.signature
        elif isinstance(ev, PartStop):
            self._open.pop(ev.index, None)
        elif isinstance(ev, Usage):
            r.usage = ev
        elif isinstance(ev, Finish):
            r.finish = ev
        elif isinstance(ev, Error):
            r.error = ev.message


def collect(events: list[Event]) -> Reply:
    c = Collector()
    for ev in events:
        c.add(ev)
    return c.reply


class Emitter:
    """Turns a provider's loosely ordered pieces into well-formed events.

    Keeps one part open at a time and closes it when a part of another kind (or another tool
    call) begins, so every PartStart has its PartStop and indexes are dense from 0.
    """

    def __init__(self) -> None:
        self.events: list[Event] = []
        self.started = False
        self.index = -1
        self.kind: str | None = None
        self.key: object = None  # identifies the open tool call (upstream index or id)
        self.finished = False

    def start(self, msg_id: str, model: str = "") -> None:
        if not self.started:
            self.started = True
            self.events.append(Start(msg_id, model))

    def _open(self, kind: PartKind, key: object = None, **kw: str) -> None:
        self.close()
        self.index += 1
        self.kind, self.key = kind, key
        self.events.append(PartStart(self.index, kind, **kw))

    def close(self) -> None:
        if self.kind is not None:
            self.events.append(PartStop(self.index))
            self.kind = self.key = None

    def text(self, s: str) -> None:
        if self.kind != "text":
            self._open("text")
        if s:
            self.events.append(Delta(self.index, s))

    def thinking(self, s: str, signature: str = "", origin: str = "") -> None:
        if self.kind != "thinking":
            self._open("thinking", origin=origin)
        if s or signature:
            self.events.append(Delta(self.index, s, signature))

    def redacted(self, data: str) -> None:
        self._open("redacted_thinking", data=data, origin="anthropic")
        self.close()

    def tool_start(self, key: object, call_id: str, name: str, signature: str = "", origin: str = "") -> None:
        self._open("tool_call", key, id=call_id, name=name, signature=signature, origin=origin)

    def tool_args(self, key: object, fragment: str) -> bool:
        """Append to the open tool call `key`; False when that call is not the open one."""
        if self.kind != "tool_call" or self.key != key:
            return False
        if fragment:
            self.events.append(Delta(self.index, fragment))
        return True

    def usage(self, u: Usage) -> None:
        self.events.append(u)

    def finish(self, reason: StopReason, stop_sequence: str | None = None) -> None:
        self.close()
        self.finished = True
        self.events.append(Finish(reason, stop_sequence))

    def error(self, message: str) -> None:
        self.close()
        self.events.append(Error(message))

    def take(self) -> list[Event]:
        out, self.events = self.events, []
        return out


# ---- helpers shared by codecs ------------------------------------------------------------------


def parse_args(text: str) -> dict:
    """Tool arguments JSON text -> object; malformed or non-object text becomes {} (never raises)."""
    if not text:
        return {}
    try:
        val = orjson.loads(text)
    except orjson.JSONDecodeError:
        return {}
    return val if isinstance(val, dict) else {}


def dumps(obj: object) -> str:
    return orjson.dumps(obj).decode()


def stable_id(prefix: str, *seed: object) -> str:
    """A deterministic id (same input, same id) so replies and fixtures are reproducible."""
    h = hashlib.sha256("|".join(str(s) for s in seed).encode()).hexdigest()[:24]
    return prefix + h


def parse_data_url(url: str) -> tuple[str, str] | None:
    """`data:image/png;base64,AAA` -> ("image/png", "AAA"); None when not a base64 data URL."""
    if not url.startswith("data:"):
        return None
    head, _, data = url[5:].partition(",")
    if not head.endswith(";base64"):
        # a percent-encoded data URL: re-encode as base64 so every target can carry it
        from urllib.parse import unquote

        mt = head.split(";")[0] or "text/plain"
        return mt, base64.b64encode(unquote(data).encode()).decode()
    return head[: -len(";base64")] or "application/octet-stream", data


def image_from_url(url: str) -> Image:
    """An image part from a client URL: data URLs are inlined, http(s) kept as URLs, others refused."""
    from levity.errors import GatewayError

    parsed = parse_data_url(url)
    if parsed:
        return Image(media_type=parsed[0], data=parsed[1])
    if url.startswith(("http://", "https://")):
        return Image(url=url)
    raise GatewayError(400, "image_url must be an http(s) URL or a base64 data URL")


def tag_signature(sig: str, origin: str, front_wire: str) -> str:
    """A signature as shown to a client of `front_wire`; foreign ones carry their origin."""
    if not sig or not origin or origin == front_wire:
        return sig
    return f"lv1:{origin}:{sig}"


def untag_signature(sig: str, front_wire: str) -> tuple[str, str]:
    """(signature, origin) from a signature a client of `front_wire` sent back."""
    if sig.startswith("lv1:"):
        _, origin, raw = sig.split(":", 2)
        return raw, origin
    return sig, front_wire if sig else ""
