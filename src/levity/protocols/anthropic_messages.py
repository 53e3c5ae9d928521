"""Anthropic Messages as a client front: request -> canonical, canonical reply -> JSON or SSE.

The same wire as the `anthropic` provider lives in `anthropic_upstream.py`.
"""

from __future__ import annotations

import re
from typing import Any

import orjson

from levity import canonical as c
from levity.protocols import sse
from levity.protocols.common import (
    add_message,
    as_list,
    bad,
    has_tool_calls,
    opt_float,
    opt_int,
    stop_list,
)

WIRE = "anthropic"
DEFAULT_MAX_TOKENS = 8192  # Anthropic requires max_tokens; every current Claude model allows this much

# ---- front: client request -> canonical ----------------------------------------------------------


def _source(block: dict, what: str) -> dict:
    src = block.get("source") or {}
    if src.get("type") in ("file",) or "file_id" in src:
        raise bad(f"{what} blocks with a Files API file_id cannot be translated to this provider")
    return src


def _media(block: dict) -> c.Part:
    kind = block.get("type")
    src = _source(block, kind or "media")
    if kind == "image":
        if src.get("type") == "url":
            return c.image_from_url(src.get("url") or "")
        return c.Image(media_type=src.get("media_type") or "image/png", data=src.get("data") or "")
    title = block.get("title") or ""
    if src.get("type") == "text":
        return c.Document(media_type="text/plain", text=src.get("data") or "", title=title)
    if src.get("type") == "content":
        text = "".join(b.get("text", "") for b in as_list(src.get("content")) if isinstance(b, dict))
        return c.Document(media_type="text/plain", text=text, title=title)
    if src.get("type") == "url":
        url = src.get("url") or ""
        if not url.startswith(("http://", "https://")):
            raise bad("document URLs must be http(s)")
        return c.Document(media_type="application/pdf", url=url, title=title)
    return c.Document(
        media_type=src.get("media_type") or "application/pdf", data=src.get("data") or "", title=title
    )


def _is_call_signature(p: c.Part | None) -> bool:
    """A textless thinking block holding another wire's signature is the carrier Levity put in
    front of a tool call (see `call_signature_block`), not thinking of its own."""
    return isinstance(p, c.Thinking) and not p.text and bool(p.signature) and p.origin not in ("", WIRE)


def call_signature_block(signature: str, origin: str) -> dict | None:
    """Gemini signs a turn on its first functionCall; Anthropic's tool_use has no field for it, so
    the signature rides in an empty thinking block just before the tool_use and goes back onto the
    call when the client replays its history."""
    if not signature or origin in ("", WIRE):
        return None
    return {"type": "thinking", "thinking": "", "signature": c.tag_signature(signature, origin, WIRE)}


def _blocks(content: Any, role: str) -> list[c.Part]:
    if isinstance(content, str):
        return [c.Text(content)] if content else []
    parts: list[c.Part] = []
    for b in as_list(content):
        if not isinstance(b, dict):
            continue
        kind = b.get("type")
        cache = bool(b.get("cache_control"))
        if kind == "text":
            parts.append(c.Text(b.get("text") or "", cache))
        elif kind in ("image", "document"):
            parts.append(_media(b))
        elif kind == "tool_use":
            call = c.ToolCall(b.get("id") or "", b.get("name") or "", c.dumps(b.get("input") or {}))
            carrier = parts[-1] if parts else None
            if _is_call_signature(carrier):
                assert isinstance(carrier, c.Thinking)
                parts.pop()
                call.signature, call.origin = carrier.signature, carrier.origin
            parts.append(call)
        elif kind == "tool_result":
            inner = b.get("content")
            result = [p for p in _blocks(inner, "tool") if isinstance(p, c.Text | c.Image | c.Document)]
            parts.append(c.ToolResult(b.get("tool_use_id") or "", result, bool(b.get("is_error"))))
        elif kind == "thinking":
            sig, origin = c.untag_signature(b.get("signature") or "", WIRE)
            parts.append(c.Thinking(b.get("thinking") or "", sig, origin))
        elif kind == "redacted_thinking":
            parts.append(c.Thinking(redacted=b.get("data") or "", origin=WIRE))
        else:
            raise bad(
                f"content block type {kind!r} in a {role} message cannot be translated to this provider"
            )
    return parts


def parse_request(body: dict) -> c.Request:
    req = c.Request(model=str(body.get("model") or ""), stream=bool(body.get("stream")))
    system = body.get("system")
    req.system = [p for p in _blocks(system, "system") if isinstance(p, c.Text)]
    for m in as_list(body.get("messages")):
        if not isinstance(m, dict):
            raise bad("each message must be an object")
        role = m.get("role")
        if role == "system":  # Claude Code puts some system reminders inside messages
            req.system.extend(p for p in _blocks(m.get("content"), "system") if isinstance(p, c.Text))
        elif role in ("user", "assistant"):
            add_message(req.messages, role, _blocks(m.get("content"), role))
        else:
            raise bad(f"message role {role!r} is not supported")
    for t in as_list(body.get("tools")):
        ttype = t.get("type")
        if ttype not in (None, "custom"):
            raise bad(f"Anthropic server tool {ttype!r} ({t.get('name')}) cannot run on this provider")
        req.tools.append(
            c.Tool(
                t.get("name") or "",
                t.get("description") or "",
                t.get("input_schema") or {"type": "object", "properties": {}},
            )
        )
    if body.get("mcp_servers"):
        raise bad("mcp_servers (remote MCP connectors) cannot be translated to this provider")
    tc = body.get("tool_choice")
    if isinstance(tc, dict):
        mode = {"auto": "auto", "any": "required", "tool": "tool", "none": "none"}.get(tc.get("type"), "auto")
        req.tool_choice = c.ToolChoice(mode, tc.get("name") or "")  # type: ignore[arg-type]
        if tc.get("disable_parallel_tool_use"):
            req.parallel_tool_calls = False
    req.max_tokens = opt_int(body.get("max_tokens"))
    req.temperature = opt_float(body.get("temperature"))
    req.top_p = opt_float(body.get("top_p"))
    req.top_k = opt_int(body.get("top_k"))
    req.stop = stop_list(body.get("stop_sequences"))
    req.user = str((body.get("metadata") or {}).get("user_id") or "")
    out_cfg = body.get("output_config") or {}
    effort = out_cfg.get("effort") if isinstance(out_cfg.get("effort"), str) else None
    th = body.get("thinking") or {}
    if th.get("type") == "enabled":
        req.reasoning = c.Reasoning(effort=effort, budget=opt_int(th.get("budget_tokens")))
    elif th.get("type") == "adaptive":
        req.reasoning = c.Reasoning(effort=effort or "medium")
    elif th.get("type") == "disabled":
        req.reasoning = c.Reasoning(disabled=True, include_thoughts=False)
    fmt = out_cfg.get("format") or body.get("output_format")
    if isinstance(fmt, dict) and fmt.get("type") == "json_schema":
        req.response_format = c.ResponseFormat("json_schema", fmt.get("schema") or {}, strict=True)
    # context_management, service_tier, container: accepted and dropped (optimisations other targets lack)
    return req


# ---- front: canonical reply -> client JSON / SSE -------------------------------------------------

STOP_OUT = {
    "end": "end_turn",
    "max_tokens": "max_tokens",
    "tool_use": "tool_use",
    "stop_sequence": "stop_sequence",
    "content_filter": "refusal",
    "refusal": "refusal",
    "pause": "pause_turn",
}


def _stop_reason(fin: c.Finish | None, saw_tool: bool) -> str:
    reason = STOP_OUT.get(fin.reason if fin else "end", "end_turn")
    return "tool_use" if saw_tool and reason == "end_turn" else reason


def usage_json(u: c.Usage) -> dict:
    return {
        "input_tokens": max(u.input - u.cached, 0),
        "output_tokens": u.output,
        "cache_creation_input_tokens": 0,
        "cache_read_input_tokens": u.cached,
    }


def msg_id(upstream_id: str) -> str:
    return (
        upstream_id
        if upstream_id.startswith("msg_")
        else "msg_" + re.sub(r"[^A-Za-z0-9]", "", upstream_id or "levity")
    )


def _block(p: c.OutPart) -> dict:
    if p.kind == "text":
        return {"type": "text", "text": p.text}
    if p.kind == "thinking":
        return {
            "type": "thinking",
            "thinking": p.text,
            "signature": c.tag_signature(p.signature, p.origin, WIRE),
        }
    if p.kind == "redacted_thinking":
        return {"type": "redacted_thinking", "data": p.data}
    return {"type": "tool_use", "id": p.id, "name": p.name, "input": c.parse_args(p.text)}


def _content(parts: list[c.OutPart]) -> list[dict]:
    out: list[dict] = []
    for p in parts:
        carrier = call_signature_block(p.signature, p.origin) if p.kind == "tool_call" else None
        if carrier:
            out.append(carrier)
        out.append(_block(p))
    return out


def render_reply(reply: c.Reply, req: c.Request, model: str) -> dict:
    fin = reply.finish
    return {
        "id": msg_id(reply.id),
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": _content(reply.parts),
        "stop_reason": _stop_reason(fin, has_tool_calls(reply)),
        "stop_sequence": fin.stop_sequence if fin else None,
        "usage": usage_json(reply.usage),
    }


def render_count(n: int) -> dict:
    return {"input_tokens": n}


class StreamEncoder:
    def __init__(self, req: c.Request, model: str) -> None:
        self.model = model
        self.started = False
        self.kinds: dict[int, str] = {}
        self.sigs: dict[int, str] = {}
        self.origins: dict[int, str] = {}
        self.usage = c.Usage()
        self.fin: c.Finish | None = None
        self.saw_tool = False
        self.done = False
        # Client block index = canonical index + shift; a call-signature carrier block adds one.
        self.shift = 0

    def _start(self, msg: str = "") -> bytes:
        if self.started:
            return b""
        self.started = True
        message = {
            "id": msg_id(msg),
            "type": "message",
            "role": "assistant",
            "model": self.model,
            "content": [],
            "stop_reason": None,
            "stop_sequence": None,
            "usage": usage_json(self.usage),
        }
        return sse.frame({"type": "message_start", "message": message}, "message_start") + sse.frame(
            {"type": "ping"}, "ping"
        )

    def events(self, events: list[c.Event]) -> bytes:
        out = bytearray()
        for ev in events:
            if isinstance(ev, c.Start):
                out += self._start(ev.id)
            elif isinstance(ev, c.Usage):
                self.usage = ev
            elif isinstance(ev, c.PartStart):
                out += self._start()
                carrier = call_signature_block(ev.signature, ev.origin) if ev.kind == "tool_call" else None
                if carrier:
                    out += self._carrier(ev.index + self.shift, carrier)
                    self.shift += 1
                self.kinds[ev.index] = ev.kind
                self.origins[ev.index] = ev.origin
                if ev.kind == "text":
                    block: dict = {"type": "text", "text": ""}
                elif ev.kind == "thinking":
                    block = {"type": "thinking", "thinking": "", "signature": ""}
                elif ev.kind == "redacted_thinking":
                    block = {"type": "redacted_thinking", "data": ev.data}
                else:
                    self.saw_tool = True
                    block = {"type": "tool_use", "id": ev.id, "name": ev.name, "input": {}}
                out += sse.frame(
                    {"type": "content_block_start", "index": ev.index + self.shift, "content_block": block},
                    "content_block_start",
                )
            elif isinstance(ev, c.Delta):
                kind = self.kinds.get(ev.index)
                if ev.signature:
                    self.sigs[ev.index] = self.sigs.get(ev.index, "") + ev.signature
                if not ev.text:
                    continue
                if kind == "text":  # nearly every frame of a stream: built from bytes, same output
                    out += (
                        b'event: content_block_delta\ndata: {"type":"content_block_delta","index":%d,'
                        % (ev.index + self.shift)
                        + b'"delta":{"type":"text_delta","text":'
                        + orjson.dumps(ev.text)
                        + b"}}\n\n"
                    )
                    continue
                if kind == "thinking":
                    delta = {"type": "thinking_delta", "thinking": ev.text}
                elif kind == "tool_call":
                    delta = {"type": "input_json_delta", "partial_json": ev.text}
                else:
                    continue
                out += sse.frame(
                    {"type": "content_block_delta", "index": ev.index + self.shift, "delta": delta},
                    "content_block_delta",
                )
            elif isinstance(ev, c.PartStop):
                sig = self.sigs.pop(ev.index, "")
                if self.kinds.get(ev.index) == "thinking" and sig:
                    sig = c.tag_signature(sig, self.origins.get(ev.index, ""), WIRE)
                    out += sse.frame(
                        {
                            "type": "content_block_delta",
                            "index": ev.index + self.shift,
                            "delta": {"type": "signature_delta", "signature": sig},
                        },
                        "content_block_delta",
                    )
                out += sse.frame(
                    {"type": "content_block_stop", "index": ev.index + self.shift}, "content_block_stop"
                )
            elif isinstance(ev, c.Finish):
                self.fin = ev
            elif isinstance(ev, c.Error):
                out += self.error(ev.message)
        return bytes(out)

    @staticmethod
    def _carrier(index: int, block: dict) -> bytes:
        start = {**block, "signature": ""}
        delta = {"type": "signature_delta", "signature": block["signature"]}
        return (
            sse.frame(
                {"type": "content_block_start", "index": index, "content_block": start}, "content_block_start"
            )
            + sse.frame(
                {"type": "content_block_delta", "index": index, "delta": delta}, "content_block_delta"
            )
            + sse.frame({"type": "content_block_stop", "index": index}, "content_block_stop")
        )

    def finish(self) -> bytes:
        if self.done:
            return b""
        if self.fin is None:
            return self.error("upstream stream ended before the reply was complete")
        self.done = True
        out = self._start()
        delta = {
            "stop_reason": _stop_reason(self.fin, self.saw_tool),
            "stop_sequence": self.fin.stop_sequence,
        }
        out += sse.frame(
            {"type": "message_delta", "delta": delta, "usage": usage_json(self.usage)}, "message_delta"
        )
        return out + sse.frame({"type": "message_stop"}, "message_stop")

    def error(self, message: str) -> bytes:
        if self.done:
            return b""
        self.done = True
        return sse.frame({"type": "error", "error": {"type": "api_error", "message": message}}, "error")
