"""OpenAI Chat Completions: as a client front and as the `openai` provider wire."""

from __future__ import annotations

from typing import Any

import orjson

from levity import canonical as c
from levity.protocols import sse
from levity.protocols.common import (
    add_message,
    as_list,
    bad,
    budget_to_effort,
    now,
    opt_float,
    opt_int,
    stop_list,
)

WIRE = "openai"

# ---- front: client request -> canonical ----------------------------------------------------------


def _content_parts(content: Any, role: str) -> list[c.Part]:
    if content is None:
        return []
    if isinstance(content, str):
        return [c.Text(content)] if content else []
    parts: list[c.Part] = []
    for p in as_list(content):
        kind = p.get("type") if isinstance(p, dict) else None
        if kind == "text":
            parts.append(c.Text(p.get("text") or ""))
        elif kind == "refusal":
            parts.append(c.Text(p.get("refusal") or ""))
        elif kind == "image_url":
            img = p.get("image_url") or {}
            parts.append(c.image_from_url(img.get("url", "") if isinstance(img, dict) else str(img)))
        elif kind == "file":
            f = p.get("file") or {}
            parsed = c.parse_data_url(f.get("file_data") or "")
            if not parsed:
                raise bad(
                    "file parts need inline file_data when translating to another provider (file_id is OpenAI-only)"
                )
            parts.append(c.Document(media_type=parsed[0], data=parsed[1], title=f.get("filename") or ""))
        else:
            raise bad(f"content part type {kind!r} in a {role} message cannot be translated to this provider")
    return parts


def parse_request(body: dict) -> c.Request:
    req = c.Request(model=str(body.get("model") or ""), stream=bool(body.get("stream")))
    if (opt_int(body.get("n")) or 1) > 1:
        raise bad("n > 1 (several choices) is not supported by this provider")
    if body.get("logprobs") or body.get("top_logprobs"):
        raise bad("logprobs are not supported by this provider")
    if "audio" in as_list(body.get("modalities")) or body.get("audio"):
        raise bad("audio output is not supported by this provider")
    for m in as_list(body.get("messages")):
        if not isinstance(m, dict):
            raise bad("each message must be an object")
        role = m.get("role")
        if role in ("system", "developer"):
            req.system.extend(p for p in _content_parts(m.get("content"), role) if isinstance(p, c.Text))
        elif role == "user":
            add_message(req.messages, "user", _content_parts(m.get("content"), "user"))
        elif role == "assistant":
            parts: list[c.Part] = []
            reasoning = m.get("reasoning_content")
            if isinstance(reasoning, str) and reasoning:
                parts.append(c.Thinking(reasoning))
            parts.extend(_content_parts(m.get("content"), "assistant"))
            for tc in as_list(m.get("tool_calls")):
                fn = tc.get("function") or {}
                parts.append(
                    c.ToolCall(tc.get("id") or "", fn.get("name") or "", fn.get("arguments") or "{}")
                )
            add_message(req.messages, "assistant", parts)
        elif role in ("tool", "function"):
            content = m.get("content")
            parts_ = _content_parts(content, "tool") if not isinstance(content, str) else [c.Text(content)]
            call_id = m.get("tool_call_id") or m.get("name") or ""
            add_message(req.messages, "user", [c.ToolResult(call_id, parts_, name=m.get("name") or "")])
        else:
            raise bad(f"message role {role!r} is not supported")
    for t in as_list(body.get("tools")):
        if t.get("type") != "function":
            raise bad(
                f"tool type {t.get('type')!r} cannot be translated to this provider (only function tools)"
            )
        fn = t.get("function") or {}
        req.tools.append(
            c.Tool(
                fn.get("name") or "",
                fn.get("description") or "",
                fn.get("parameters") or {"type": "object", "properties": {}},
                fn.get("strict"),
            )
        )
    tc = body.get("tool_choice")
    if isinstance(tc, str):
        req.tool_choice = c.ToolChoice(tc if tc in ("auto", "none", "required") else "auto")  # type: ignore[arg-type]
    elif isinstance(tc, dict):
        req.tool_choice = c.ToolChoice("tool", ((tc.get("function") or {}).get("name")) or "")
    if isinstance(body.get("parallel_tool_calls"), bool):
        req.parallel_tool_calls = body["parallel_tool_calls"]
    req.max_tokens = opt_int(body.get("max_completion_tokens")) or opt_int(body.get("max_tokens"))
    req.temperature = opt_float(body.get("temperature"))
    req.top_p = opt_float(body.get("top_p"))
    req.seed = opt_int(body.get("seed"))
    req.stop = stop_list(body.get("stop"))
    rf = body.get("response_format")
    if isinstance(rf, dict):
        if rf.get("type") == "json_object":
            req.response_format = c.ResponseFormat("json_object")
        elif rf.get("type") == "json_schema":
            js = rf.get("json_schema") or {}
            req.response_format = c.ResponseFormat(
                "json_schema", js.get("schema") or {}, js.get("name") or "response", js.get("strict")
            )
    effort = body.get("reasoning_effort")
    if isinstance(effort, str):
        req.reasoning = c.Reasoning(effort=effort, disabled=effort == "none")
    req.user = str(body.get("safety_identifier") or body.get("user") or "")
    req.front_state["include_usage"] = bool((body.get("stream_options") or {}).get("include_usage"))
    return req


# ---- front: canonical reply -> client JSON / SSE -------------------------------------------------

FINISH = {
    "end": "stop",
    "stop_sequence": "stop",
    "max_tokens": "length",
    "tool_use": "tool_calls",
    "content_filter": "content_filter",
    "refusal": "content_filter",
    "pause": "stop",
}


def finish_reason(reply_finish: c.Finish | None, saw_tool: bool) -> str:
    reason = FINISH.get(reply_finish.reason if reply_finish else "end", "stop")
    return "tool_calls" if saw_tool and reason == "stop" else reason


def usage_json(u: c.Usage) -> dict:
    return {
        "prompt_tokens": u.input,
        "completion_tokens": u.output,
        "total_tokens": u.input + u.output,
        "prompt_tokens_details": {"cached_tokens": u.cached},
        "completion_tokens_details": {"reasoning_tokens": u.reasoning},
    }


def chat_id(upstream_id: str) -> str:
    return upstream_id if upstream_id.startswith("chatcmpl") else "chatcmpl-" + (upstream_id or "levity")


def render_reply(reply: c.Reply, req: c.Request, model: str) -> dict:
    text = reply.text()
    thinking = "".join(p.text for p in reply.parts if p.kind == "thinking")
    message: dict[str, Any] = {"role": "assistant", "content": text or None, "refusal": None}
    if thinking:
        message["reasoning_content"] = thinking
    calls = [
        {"id": p.id, "type": "function", "function": {"name": p.name, "arguments": p.text or "{}"}}
        for p in reply.parts
        if p.kind == "tool_call"
    ]
    if calls:
        message["tool_calls"] = calls
    return {
        "id": chat_id(reply.id),
        "object": "chat.completion",
        "created": now(),
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": message,
                "logprobs": None,
                "finish_reason": finish_reason(reply.finish, bool(calls)),
            }
        ],
        "usage": usage_json(reply.usage),
    }


class StreamEncoder:
    def __init__(self, req: c.Request, model: str) -> None:
        self.model = model
        self.include_usage = bool(req.front_state.get("include_usage"))
        self.id = "chatcmpl-levity"
        self.created = now()
        self.started = False
        self.kinds: dict[int, str] = {}
        self.tool_index: dict[int, int] = {}
        self.usage = c.Usage()
        self.finished = False
        self.failed = False
        self._prefix = b""  # a delta chunk's bytes before the delta's key; set per stream id

    def _delta(self, key: bytes, text: str) -> bytes:
        """A text delta chunk: the same bytes as `_chunk({key: text})`, without building it.

        Nearly every chunk of a stream is one of these, so the fixed part is serialised once.
        """
        if not self._prefix:
            head = orjson.dumps(
                {
                    "id": self.id,
                    "object": "chat.completion.chunk",
                    "created": self.created,
                    "model": self.model,
                }
            )
            self._prefix = b"data: " + head[:-1] + b',"choices":[{"index":0,"delta":{'
        return self._prefix + key + orjson.dumps(text) + b'},"logprobs":null,"finish_reason":null}]}\n\n'

    def _chunk(self, delta: dict | None, finish: str | None = None, usage: dict | None = None) -> bytes:
        body: dict[str, Any] = {
            "id": self.id,
            "object": "chat.completion.chunk",
            "created": self.created,
            "model": self.model,
        }
        body["choices"] = (
            [] if delta is None else [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}]
        )
        if usage is not None:
            body["usage"] = usage
        return sse.frame(body)

    def _ensure_started(self) -> bytes:
        if self.started:
            return b""
        self.started = True
        return self._chunk({"role": "assistant", "content": ""})

    def events(self, events: list[c.Event]) -> bytes:
        out = bytearray()
        for ev in events:
            if isinstance(ev, c.Start):
                self.id = chat_id(ev.id)
                self._prefix = b""
                out += self._ensure_started()
            elif isinstance(ev, c.PartStart):
                out += self._ensure_started()
                self.kinds[ev.index] = ev.kind
                if ev.kind == "tool_call":
                    n = self.tool_index[ev.index] = len(self.tool_index)
                    out += self._chunk(
                        {
                            "tool_calls": [
                                {
                                    "index": n,
                                    "id": ev.id,
                                    "type": "function",
                                    "function": {"name": ev.name, "arguments": ""},
                                }
                            ]
                        }
                    )
            elif isinstance(ev, c.Delta) and ev.text:
                kind = self.kinds.get(ev.index)
                if kind == "text":
                    out += self._delta(b'"content":', ev.text)
                elif kind == "thinking":
                    out += self._delta(b'"reasoning_content":', ev.text)
                elif kind == "tool_call":
                    out += self._chunk(
                        {
                            "tool_calls": [
                                {"index": self.tool_index[ev.index], "function": {"arguments": ev.text}}
                            ]
                        }
                    )
            elif isinstance(ev, c.Usage):
                self.usage = ev
            elif isinstance(ev, c.Finish) and not self.finished:
                out += self._ensure_started()
                self.finished = True
                out += self._chunk({}, finish_reason(ev, bool(self.tool_index)))
            elif isinstance(ev, c.Error):
                out += self.error(ev.message)
        return bytes(out)

    def finish(self) -> bytes:
        if self.failed:
            return b""
        if not self.finished:
            return self.error("upstream stream ended before the reply was complete")
        out = self._chunk(None, usage=usage_json(self.usage)) if self.include_usage else b""
        return out + sse.DONE

    def error(self, message: str) -> bytes:
        if self.failed:
            return b""
        self.failed = True
        return sse.frame({"error": {"message": message, "type": "server_error", "param": None, "code": None}})


# ---- provider: canonical request -> upstream body ------------------------------------------------


def _image_url(p: c.Image) -> str:
    return p.url or f"data:{p.media_type or 'image/png'};base64,{p.data}"


def _user_parts(parts: list[c.Part]) -> list[dict]:
    out: list[dict] = []
    for p in parts:
        if isinstance(p, c.Text):
            out.append({"type": "text", "text": p.text})
        elif isinstance(p, c.Image):
            out.append({"type": "image_url", "image_url": {"url": _image_url(p)}})
        elif isinstance(p, c.Document):
            if p.text:
                out.append({"type": "text", "text": p.text})
            elif p.data:
                out.append(
                    {
                        "type": "file",
                        "file": {
                            "filename": p.title or "document",
                            "file_data": f"data:{p.media_type};base64,{p.data}",
                        },
                    }
                )
            else:
                raise bad("documents by URL are not supported by the OpenAI Chat Completions provider")
    return out


def _simplify(parts: list[dict]) -> str | list[dict]:
    if all(p["type"] == "text" for p in parts):
        return "".join(p["text"] for p in parts)
    return parts


def build_request(req: c.Request, model: str, stream: bool) -> dict:
    msgs: list[dict] = []
    if req.system:
        msgs.append({"role": "system", "content": req.system_text()})
    for m in req.messages:
        if m.role == "user":
            rest: list[c.Part] = []
            media: list[c.Part] = []
            for p in m.parts:
                if isinstance(p, c.ToolResult):
                    # tool messages carry text only; images from a tool go in the user turn after them
                    media.extend(x for x in p.content if not isinstance(x, c.Text))
                    text = p.text()
                    msgs.append(
                        {
                            "role": "tool",
                            "tool_call_id": p.call_id,
                            "content": ("Error: " + text) if p.is_error and text else text,
                        }
                    )
                else:
                    rest.append(p)
            user = _user_parts(media + rest)
            if user:
                msgs.append({"role": "user", "content": _simplify(user)})
        else:
            text = "".join(p.text for p in m.parts if isinstance(p, c.Text))
            msg: dict[str, Any] = {"role": "assistant", "content": text or None}
            calls = [
                {
                    "id": p.id,
                    "type": "function",
                    "function": {"name": p.name, "arguments": p.arguments or "{}"},
                }
                for p in m.parts
                if isinstance(p, c.ToolCall)
            ]
            if calls:
                msg["tool_calls"] = calls
            msgs.append(msg)
    body: dict[str, Any] = {"model": model, "messages": msgs}
    if req.tools:
        tools = []
        for t in req.tools:
            fn: dict[str, Any] = {"name": t.name, "description": t.description, "parameters": t.parameters}
            if t.strict is not None:
                fn["strict"] = t.strict
            tools.append({"type": "function", "function": fn})
        body["tools"] = tools
    if req.tool_choice:
        tc = req.tool_choice
        body["tool_choice"] = (
            {"type": "function", "function": {"name": tc.name}} if tc.mode == "tool" else tc.mode
        )
    if req.parallel_tool_calls is not None and req.tools:
        body["parallel_tool_calls"] = req.parallel_tool_calls
    if req.max_tokens is not None:
        body["max_completion_tokens"] = req.max_tokens
    for key, val in (("temperature", req.temperature), ("top_p", req.top_p), ("seed", req.seed)):
        if val is not None:
            body[key] = val
    if req.stop:
        body["stop"] = req.stop[:4]
    rf = req.response_format
    if rf and rf.type == "json_object":
        body["response_format"] = {"type": "json_object"}
    elif rf and rf.type == "json_schema":
        js: dict[str, Any] = {"name": rf.name, "schema": rf.schema or {}}
        if rf.strict is not None:
            js["strict"] = rf.strict
        body["response_format"] = {"type": "json_schema", "json_schema": js}
    r = req.reasoning
    if r and (r.effort or r.budget is not None):
        body["reasoning_effort"] = "none" if r.disabled else (r.effort or budget_to_effort(r.budget))
    if req.user:
        # OpenAI caps `user` at 64 chars; longer ids (Claude Code's metadata) are hashed, stably
        body["user"] = req.user if len(req.user) <= 64 else c.stable_id("u_", req.user)
    if stream:
        body["stream"] = True
        body["stream_options"] = {"include_usage": True}
    return body


# ---- provider: upstream reply -> canonical events ------------------------------------------------

STOP = {
    "stop": "end",
    "length": "max_tokens",
    "tool_calls": "tool_use",
    "function_call": "tool_use",
    "content_filter": "content_filter",
}


def usage_from(u: dict | None) -> c.Usage | None:
    if not isinstance(u, dict):
        return None
    return c.Usage(
        input=u.get("prompt_tokens") or 0,
        output=u.get("completion_tokens") or 0,
        cached=(u.get("prompt_tokens_details") or {}).get("cached_tokens") or 0,
        reasoning=(u.get("completion_tokens_details") or {}).get("reasoning_tokens") or 0,
    )


def decode_reply(data: dict) -> list[c.Event]:
    em = c.Emitter()
    em.start(data.get("id") or "", data.get("model") or "")
    choice = (data.get("choices") or [{}])[0]
    msg = choice.get("message") or {}
    reasoning = msg.get("reasoning_content") or msg.get("reasoning")
    if isinstance(reasoning, str) and reasoning:
        em.thinking(reasoning)
    if msg.get("content"):
        em.text(msg["content"])
    elif msg.get("refusal"):
        em.text(msg["refusal"])
    for i, tc in enumerate(msg.get("tool_calls") or []):
        fn = tc.get("function") or {}
        em.tool_start(
            ("call", i), tc.get("id") or c.stable_id("call_", data.get("id"), i), fn.get("name") or ""
        )
        em.tool_args(("call", i), fn.get("arguments") or "")
    em.close()
    u = usage_from(data.get("usage"))
    if u:
        em.usage(u)
    em.finish(STOP.get(choice.get("finish_reason") or "stop", "end"))  # type: ignore[arg-type]
    return em.take()


class StreamDecoder:
    def __init__(self) -> None:
        self.em = c.Emitter()
        self.saw_call = False

    def feed(self, ev: sse.SSEEvent) -> list[c.Event]:
        if ev.data.startswith("[DONE]"):
            # [DONE] is the stream's own clean end: a server that sent no finish_reason finished too
            if not self.em.finished:
                self.em.finish("tool_use" if self.saw_call else "end")
            return self.em.take()
        data = ev.json()
        em = self.em
        if not isinstance(data, dict):
            return []
        if data.get("error"):
            err = data["error"]
            em.error(err.get("message") if isinstance(err, dict) else str(err))
            return em.take()
        em.start(data.get("id") or "", data.get("model") or "")
        for choice in data.get("choices") or []:
            delta = choice.get("delta") or {}
            reasoning = delta.get("reasoning_content") or delta.get("reasoning")
            if isinstance(reasoning, str) and reasoning:
                em.thinking(reasoning)
            if delta.get("content"):
                em.text(delta["content"])
            for tc in delta.get("tool_calls") or []:
                self.saw_call = True
                key = ("call", tc.get("index", 0))
                fn = tc.get("function") or {}
                if tc.get("id") or not em.tool_args(key, fn.get("arguments") or ""):
                    call_id = tc.get("id") or c.stable_id("call_", data.get("id"), key)
                    em.tool_start(key, call_id, fn.get("name") or "")
                    em.tool_args(key, fn.get("arguments") or "")
                    self.saw_call = True
            if choice.get("finish_reason"):
                em.finish(STOP.get(choice["finish_reason"], "end"))  # type: ignore[arg-type]
        u = usage_from(data.get("usage"))
        if u:
            em.usage(u)
        return em.take()

    def close(self) -> list[c.Event]:
        return self.em.take()
