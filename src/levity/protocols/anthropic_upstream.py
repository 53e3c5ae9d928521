"""Anthropic Messages as the `anthropic` provider wire: canonical request -> upstream body, and
upstream replies and streams -> canonical events. The client-front side is `anthropic_messages.py`.
"""

from __future__ import annotations

import re
from typing import Any

from levity import canonical as c
from levity.protocols import sse
from levity.protocols.anthropic_messages import DEFAULT_MAX_TOKENS, WIRE
from levity.protocols.common import (
    bad,
    effort_to_budget,
)

# ---- provider: canonical request -> upstream body ------------------------------------------------

_ID_BAD = re.compile(r"[^A-Za-z0-9_-]")


def tool_id(raw: str) -> str:
    """Anthropic ids must match ^[a-zA-Z0-9_-]+$; foreign ids are cleaned the same way both times."""
    return _ID_BAD.sub("_", raw) or "toolu_missing"


def _cache(block: dict, cache: bool) -> dict:
    if cache:
        block["cache_control"] = {"type": "ephemeral"}
    return block


def _media_out(p: c.Image | c.Document) -> dict:
    if isinstance(p, c.Image):
        src = (
            {"type": "url", "url": p.url}
            if p.url
            else {"type": "base64", "media_type": p.media_type, "data": p.data}
        )
        return {"type": "image", "source": src}
    if p.text:
        src = {"type": "text", "media_type": "text/plain", "data": p.text}
    elif p.url:
        src = {"type": "url", "url": p.url}
    else:
        if p.media_type not in ("application/pdf", "text/plain"):
            raise bad(f"documents of type {p.media_type} are not supported by the Anthropic provider")
        src = {"type": "base64", "media_type": p.media_type, "data": p.data}
    block: dict[str, Any] = {"type": "document", "source": src}
    if p.title:
        block["title"] = p.title
    return block


def _message_blocks(m: c.Message) -> list[dict]:
    results: list[dict] = []
    blocks: list[dict] = []
    for p in m.parts:
        if isinstance(p, c.Text):
            if p.text:
                blocks.append(_cache({"type": "text", "text": p.text}, p.cache))
        elif isinstance(p, c.Image | c.Document):
            blocks.append(_media_out(p))
        elif isinstance(p, c.ToolResult):
            inner = [
                _cache({"type": "text", "text": x.text}, x.cache) if isinstance(x, c.Text) else _media_out(x)
                for x in p.content
                if not isinstance(x, c.Text) or x.text
            ]
            res: dict[str, Any] = {"type": "tool_result", "tool_use_id": tool_id(p.call_id), "content": inner}
            if p.is_error:
                res["is_error"] = True
            results.append(res)  # tool results must open the user turn
        elif isinstance(p, c.ToolCall):
            blocks.append({"type": "tool_use", "id": tool_id(p.id), "name": p.name, "input": p.args()})
        elif isinstance(p, c.Thinking) and p.origin == WIRE:
            if p.redacted:
                blocks.append({"type": "redacted_thinking", "data": p.redacted})
            elif p.signature:
                blocks.append({"type": "thinking", "thinking": p.text, "signature": p.signature})
        # thinking from another provider carries no Anthropic signature: dropped, it cannot be replayed
    return results + blocks


def _thinking_budget(req: c.Request, max_tokens: int) -> int | None:
    r = req.reasoning
    if not r or r.disabled or r.effort == "none":
        return None
    budget = r.budget if r.budget is not None else effort_to_budget(r.effort)
    budget = min(max(budget, 1024), max_tokens - 1)
    if budget < 1024:
        return None
    # A tool loop in progress must replay the signed thinking that preceded the call; a history
    # from another provider has none, so thinking stays off for this turn rather than fail.
    last_assistant = next((m for m in reversed(req.messages) if m.role == "assistant"), None)
    if last_assistant and any(isinstance(p, c.ToolCall) for p in last_assistant.parts):
        if not any(
            isinstance(p, c.Thinking) and p.origin == WIRE and (p.signature or p.redacted)
            for p in last_assistant.parts
        ):
            return None
    if req.tool_choice and req.tool_choice.mode in ("required", "tool"):
        return None  # Anthropic forbids forced tool use with thinking
    return budget


def build_request(req: c.Request, model: str, stream: bool) -> dict:
    messages: list[dict] = []
    for m in req.messages:
        blocks = _message_blocks(m)
        if not blocks:
            continue
        if messages and messages[-1]["role"] == m.role:
            messages[-1]["content"].extend(blocks)
        else:
            messages.append({"role": m.role, "content": blocks})
    wanted = req.max_tokens
    if wanted is None and req.reasoning and not req.reasoning.disabled:
        wanted = max(DEFAULT_MAX_TOKENS, effort_to_budget(req.reasoning.effort, 0) + 4096)
    max_tokens = wanted or DEFAULT_MAX_TOKENS
    body: dict[str, Any] = {"model": model, "max_tokens": max_tokens, "messages": messages}
    system = [_cache({"type": "text", "text": t.text}, t.cache) for t in req.system if t.text]
    rf = req.response_format
    if rf and rf.type == "json_object":
        system.append({"type": "text", "text": "Respond with a single valid JSON object and nothing else."})
    if system:
        body["system"] = system
    if req.tools:
        body["tools"] = [
            {
                "name": t.name,
                "description": t.description,
                "input_schema": t.parameters
                if t.parameters.get("type") == "object"
                else {"type": "object", "properties": {}},
            }
            for t in req.tools
        ]
    tc = req.tool_choice
    choice: dict[str, Any] | None = None
    if tc:
        choice = {"auto": {"type": "auto"}, "required": {"type": "any"}, "none": {"type": "none"}}.get(
            tc.mode, {"type": "tool", "name": tc.name}
        )
    if req.parallel_tool_calls is False and req.tools:
        choice = choice or {"type": "auto"}
        if choice["type"] != "none":
            choice["disable_parallel_tool_use"] = True
    if choice and req.tools:
        body["tool_choice"] = choice
    stops = [s for s in req.stop if s.strip()]
    if stops:
        body["stop_sequences"] = stops
    budget = _thinking_budget(req, max_tokens)
    if budget:
        body["thinking"] = {"type": "enabled", "budget_tokens": budget}
        if req.top_p is not None and req.top_p >= 0.95:
            body["top_p"] = req.top_p
    else:
        for key, val in (("temperature", req.temperature), ("top_p", req.top_p), ("top_k", req.top_k)):
            if val is not None:
                body[key] = val
    if rf and rf.type == "json_schema":
        body["output_config"] = {"format": {"type": "json_schema", "schema": rf.schema or {}}}
    if req.user:
        body["metadata"] = {"user_id": req.user}
    if stream:
        body["stream"] = True
    return body


def build_count_request(req: c.Request, model: str) -> dict:
    full = build_request(req, model, False)
    return {
        k: v
        for k, v in full.items()
        if k in ("model", "messages", "system", "tools", "tool_choice", "thinking")
    }


def decode_count(data: dict) -> int:
    return int(data.get("input_tokens") or 0)


# ---- provider: upstream reply -> canonical events ------------------------------------------------

STOP_IN = {
    "end_turn": "end",
    "max_tokens": "max_tokens",
    "stop_sequence": "stop_sequence",
    "tool_use": "tool_use",
    "pause_turn": "pause",
    "refusal": "refusal",
    "model_context_window_exceeded": "max_tokens",
}


def usage_from(u: dict, into: c.Usage | None = None) -> c.Usage:
    """Anthropic counts cached input apart; canonical input includes it."""
    out = into or c.Usage()
    if "input_tokens" in u or "cache_read_input_tokens" in u:
        read = u.get("cache_read_input_tokens") or 0
        out.input = (u.get("input_tokens") or 0) + read + (u.get("cache_creation_input_tokens") or 0)
        out.cached = read
    if u.get("output_tokens") is not None:
        out.output = u["output_tokens"]
    return out


def decode_reply(data: dict) -> list[c.Event]:
    em = c.Emitter()
    em.start(data.get("id") or "", data.get("model") or "")
    for i, b in enumerate(data.get("content") or []):
        kind = b.get("type")
        if kind == "text":
            em.text(b.get("text") or "")
        elif kind == "thinking":
            em.thinking(b.get("thinking") or "", b.get("signature") or "", origin=WIRE)
        elif kind == "redacted_thinking":
            em.redacted(b.get("data") or "")
        elif kind == "tool_use":
            em.tool_start(i, b.get("id") or "", b.get("name") or "")
            em.tool_args(i, c.dumps(b.get("input") or {}))
        em.close()
    em.usage(usage_from(data.get("usage") or {}))
    em.finish(STOP_IN.get(data.get("stop_reason") or "end_turn", "end"), data.get("stop_sequence"))  # type: ignore[arg-type]
    return em.take()


class StreamDecoder:
    def __init__(self) -> None:
        self.em = c.Emitter()
        self.usage = c.Usage()

    def feed(self, ev: sse.SSEEvent) -> list[c.Event]:
        data = ev.json()
        if not isinstance(data, dict):
            return []
        em = self.em
        kind = data.get("type") or ev.event
        if kind == "message_start":
            msg = data.get("message") or {}
            em.start(msg.get("id") or "", msg.get("model") or "")
            usage_from(msg.get("usage") or {}, self.usage)
        elif kind == "content_block_start":
            b = data.get("content_block") or {}
            idx = data.get("index", 0)
            btype = b.get("type")
            if btype == "text":
                em.close()
                em.text(b.get("text") or "")
            elif btype == "thinking":
                em.close()
                em.thinking(b.get("thinking") or "", origin=WIRE)
            elif btype == "redacted_thinking":
                em.redacted(b.get("data") or "")
            elif btype == "tool_use":
                em.tool_start(idx, b.get("id") or "", b.get("name") or "")
        elif kind == "content_block_delta":
            d = data.get("delta") or {}
            dtype = d.get("type")
            if dtype == "text_delta":
                em.text(d.get("text") or "")
            elif dtype == "thinking_delta":
                em.thinking(d.get("thinking") or "")
            elif dtype == "signature_delta":
                em.thinking("", d.get("signature") or "")
            elif dtype == "input_json_delta":
                em.tool_args(data.get("index", 0), d.get("partial_json") or "")
        elif kind == "content_block_stop":
            em.close()
        elif kind == "message_delta":
            usage_from(data.get("usage") or {}, self.usage)
            em.usage(c.Usage(*self.usage.as_tuple()))
            d = data.get("delta") or {}
            if d.get("stop_reason"):
                em.finish(STOP_IN.get(d["stop_reason"], "end"), d.get("stop_sequence"))  # type: ignore[arg-type]
        elif kind == "error":
            err = data.get("error") or {}
            em.error(err.get("message") or "upstream error")
        return em.take()

    def close(self) -> list[c.Event]:
        return self.em.take()
