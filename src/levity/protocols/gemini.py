"""Gemini generateContent / streamGenerateContent / countTokens: client front and `gemini` provider wire."""

from __future__ import annotations

import base64
import binascii
import mimetypes
import uuid
from typing import Any

from levity import canonical as c
from levity.protocols import schema as schemas
from levity.protocols import sse
from levity.protocols.common import (
    add_message,
    as_list,
    bad,
    budget_to_effort,
    effort_to_budget,
    opt_float,
    opt_int,
)

WIRE = "gemini"
# Gemini 3 wants a thoughtSignature on the first functionCall of a turn; for calls that did not
# come from Gemini this documented placeholder tells it to skip the check.
PLACEHOLDER_SIGNATURE = "skip_thought_signature_validator"
_REDACTED = "anthropic_redacted"


def tag_signature(sig: str, origin: str) -> str:
    """Gemini signatures are base64 bytes (the SDK decodes them), so a foreign one is tagged inside."""
    if not sig or not origin or origin == WIRE:
        return sig
    return base64.b64encode(f"lv1:{origin}:{sig}".encode()).decode()


def untag_signature(sig: str) -> tuple[str, str]:
    if not sig:
        return "", ""
    try:
        raw = base64.b64decode(sig, validate=True)
    except (binascii.Error, ValueError):
        return sig, WIRE
    if raw.startswith(b"lv1:"):
        _, origin, inner = raw.decode("utf-8", "replace").split(":", 2)
        return inner, origin
    return sig, WIRE


# ---- front: client request -> canonical ----------------------------------------------------------


def _inline(mime: str, data: str) -> c.Part:
    if mime.startswith("image/"):
        return c.Image(media_type=mime, data=data)
    if mime.startswith(("audio/", "video/")):
        raise bad(f"{mime} input cannot be translated to this provider")
    return c.Document(media_type=mime, data=data)


def _file(fd: dict) -> c.Part:
    uri = fd.get("fileUri") or ""
    mime = fd.get("mimeType") or ""
    if not uri.startswith(("http://", "https://")):
        raise bad(
            "fileData must be an http(s) URL when translating to this provider (Gemini file URIs are Gemini-only)"
        )
    if mime.startswith("image/") or not mime and (mimetypes.guess_type(uri)[0] or "").startswith("image/"):
        return c.Image(media_type=mime, url=uri)
    return c.Document(media_type=mime or "application/pdf", url=uri)


def _response_content(resp: Any) -> tuple[list[c.Text | c.Image | c.Document], bool]:
    if isinstance(resp, dict) and len(resp) == 1:
        key, val = next(iter(resp.items()))
        if isinstance(val, str) and key in ("output", "result", "content", "error"):
            return [c.Text(val)], key == "error"
    return [c.Text(c.dumps(resp))], isinstance(resp, dict) and set(resp) == {"error"}


def _parts(parts: Any, role: str, pending: list[c.ToolCall], turn: int) -> list[c.Part]:
    out: list[c.Part] = []
    for i, p in enumerate(as_list(parts)):
        if not isinstance(p, dict):
            continue
        sig = p.get("thoughtSignature") or ""
        if "functionCall" in p:
            fc = p["functionCall"] or {}
            raw_sig, origin = untag_signature(sig)
            call = c.ToolCall(
                fc.get("id") or c.stable_id("call_", turn, i, fc.get("name")),
                fc.get("name") or "",
                c.dumps(fc.get("args") or {}),
                raw_sig,
                origin,
            )
            pending.append(call)
            out.append(call)
        elif "functionResponse" in p:
            fr = p["functionResponse"] or {}
            name = fr.get("name") or ""
            call_id = fr.get("id") or ""
            if not call_id:  # no ids: answer the oldest open call of that name
                match = next((x for x in pending if x.name == name), None)
                call_id = match.id if match else c.stable_id("call_", "orphan", name, turn, i)
            pending[:] = [x for x in pending if x.id != call_id]
            content, is_error = _response_content(fr.get("response"))
            for extra in as_list(fr.get("parts")):
                if isinstance(extra, dict) and "inlineData" in extra:
                    d = extra["inlineData"]
                    part = _inline(d.get("mimeType") or "", d.get("data") or "")
                    if isinstance(part, c.Image | c.Document):
                        content.append(part)
            out.append(c.ToolResult(call_id, content, is_error, name))
        elif p.get("thought"):
            raw, origin = untag_signature(sig)
            if origin == _REDACTED:
                out.append(c.Thinking(redacted=raw, origin="anthropic"))
            else:
                out.append(c.Thinking(p.get("text") or "", raw, origin))
        elif "text" in p:
            if p["text"]:
                out.append(c.Text(p["text"]))
        elif "inlineData" in p:
            d = p["inlineData"] or {}
            out.append(_inline(d.get("mimeType") or "", d.get("data") or ""))
        elif "fileData" in p:
            out.append(_file(p["fileData"] or {}))
        else:
            raise bad(f"part kind {sorted(p)} in a {role} turn cannot be translated to this provider")
    return out


def parse_request(body: dict, model: str = "") -> c.Request:
    req = c.Request(model=model or str(body.get("model") or ""))
    if body.get("cachedContent"):
        raise bad("cachedContent is specific to Gemini and cannot be used with this provider")
    si = body.get("systemInstruction") or body.get("system_instruction")
    if isinstance(si, str):
        req.system.append(c.Text(si))
    elif isinstance(si, dict):
        req.system.extend(
            c.Text(p["text"]) for p in as_list(si.get("parts")) if isinstance(p, dict) and p.get("text")
        )
    pending: list[c.ToolCall] = []
    for turn, content in enumerate(as_list(body.get("contents"))):
        if not isinstance(content, dict):
            raise bad("each content must be an object")
        role = "assistant" if content.get("role") == "model" else "user"
        add_message(req.messages, role, _parts(content.get("parts"), role, pending, turn))
    for tool in as_list(body.get("tools")):
        for key in tool:
            if key not in ("functionDeclarations", "function_declarations"):
                raise bad(f"Gemini built-in tool {key!r} cannot run on this provider")
        for fd in as_list(tool.get("functionDeclarations") or tool.get("function_declarations")):
            params = (
                fd.get("parametersJsonSchema")
                or schemas.lower_types(fd.get("parameters"))
                or {"type": "object", "properties": {}}
            )
            req.tools.append(c.Tool(fd.get("name") or "", fd.get("description") or "", params))
    fcc = (body.get("toolConfig") or {}).get("functionCallingConfig") or {}
    mode = str(fcc.get("mode") or "").upper()
    allowed = as_list(fcc.get("allowedFunctionNames"))
    if mode in ("ANY", "VALIDATED") and len(allowed) == 1:
        req.tool_choice = c.ToolChoice("tool", allowed[0])
    elif mode == "ANY":
        req.tool_choice = c.ToolChoice("required")
    elif mode == "NONE":
        req.tool_choice = c.ToolChoice("none")
    elif mode == "AUTO":
        req.tool_choice = c.ToolChoice("auto")
    gc = body.get("generationConfig") or body.get("generation_config") or {}
    if (opt_int(gc.get("candidateCount")) or 1) > 1:
        raise bad("candidateCount > 1 is not supported by this provider")
    if any(str(m).upper() in ("IMAGE", "AUDIO") for m in as_list(gc.get("responseModalities"))):
        raise bad("image or audio output (responseModalities) is not supported by this provider")
    req.temperature = opt_float(gc.get("temperature"))
    req.top_p = opt_float(gc.get("topP"))
    req.top_k = opt_int(gc.get("topK"))
    req.max_tokens = opt_int(gc.get("maxOutputTokens"))
    req.seed = opt_int(gc.get("seed"))
    req.stop = [s for s in as_list(gc.get("stopSequences")) if isinstance(s, str)]
    schema = gc.get("responseJsonSchema") or gc.get("responseSchema")
    if schema:
        req.response_format = c.ResponseFormat("json_schema", schemas.lower_types(schema))
    elif gc.get("responseMimeType") == "application/json":
        req.response_format = c.ResponseFormat("json_object")
    tc = gc.get("thinkingConfig") or {}
    if tc:
        budget = opt_int(tc.get("thinkingBudget"))
        level = tc.get("thinkingLevel")
        include = bool(tc.get("includeThoughts"))
        if budget == 0:
            req.reasoning = c.Reasoning(disabled=True, include_thoughts=False)
        elif isinstance(level, str):
            req.reasoning = c.Reasoning(effort=level.lower(), include_thoughts=include)
        elif budget is not None and budget > 0:
            req.reasoning = c.Reasoning(
                effort=budget_to_effort(budget), budget=budget, include_thoughts=include
            )
        else:
            req.reasoning = c.Reasoning(effort="medium", include_thoughts=include)
    # safetySettings only tune Gemini's own filters: accepted, not applicable elsewhere
    return req


# ---- front: canonical reply -> client JSON / SSE -------------------------------------------------

FINISH_OUT = {
    "end": "STOP",
    "stop_sequence": "STOP",
    "tool_use": "STOP",
    "max_tokens": "MAX_TOKENS",
    "content_filter": "SAFETY",
    "refusal": "SAFETY",
    "pause": "STOP",
}


def usage_json(u: c.Usage) -> dict:
    out = {
        "promptTokenCount": u.input,
        "candidatesTokenCount": max(u.output - u.reasoning, 0),
        "totalTokenCount": u.input + u.output,
    }
    if u.cached:
        out["cachedContentTokenCount"] = u.cached
    if u.reasoning:
        out["thoughtsTokenCount"] = u.reasoning
    return out


def _thought_part(text: str, signature: str, origin: str) -> dict:
    part: dict[str, Any] = {"text": text, "thought": True}
    if signature:
        part["thoughtSignature"] = tag_signature(signature, origin)
    return part


def _call_part(call_id: str, name: str, args_json: str, signature: str, origin: str) -> dict:
    part: dict[str, Any] = {"functionCall": {"id": call_id, "name": name, "args": c.parse_args(args_json)}}
    if signature:
        part["thoughtSignature"] = tag_signature(signature, origin)
    return part


def _out_part(p: c.OutPart) -> dict:
    if p.kind == "text":
        return {"text": p.text}
    if p.kind == "thinking":
        return _thought_part(p.text, p.signature, p.origin)
    if p.kind == "redacted_thinking":
        return {"text": "", "thought": True, "thoughtSignature": tag_signature(p.data, _REDACTED)}
    return _call_part(p.id, p.name, p.text, p.signature, p.origin)


def _response(
    parts: list[dict], model: str, rid: str, finish: str | None = None, usage: dict | None = None
) -> dict:
    cand: dict[str, Any] = {"content": {"role": "model", "parts": parts}, "index": 0}
    if finish:
        cand["finishReason"] = finish
    out: dict[str, Any] = {"candidates": [cand]}
    if usage is not None:
        out["usageMetadata"] = usage
    out["modelVersion"] = model
    out["responseId"] = rid
    return out


def render_reply(reply: c.Reply, req: c.Request, model: str) -> dict:
    finish = FINISH_OUT.get(reply.finish.reason if reply.finish else "end", "STOP")
    parts = [_out_part(p) for p in reply.parts] or [{"text": ""}]
    return _response(parts, model, reply.id, finish, usage_json(reply.usage))


def render_count(n: int) -> dict:
    return {"totalTokens": n}


class StreamEncoder:
    """Text and thoughts go out as they come; a function call goes out whole when its arguments end."""

    def __init__(self, req: c.Request, model: str) -> None:
        self.model = model
        self.rid = ""
        self.open: dict[int, c.OutPart] = {}
        self.usage = c.Usage()
        self.fin: c.Finish | None = None
        self.done = False

    def _frame(self, parts: list[dict], finish: str | None = None, usage: dict | None = None) -> bytes:
        return sse.frame(_response(parts, self.model, self.rid, finish, usage))

    def events(self, events: list[c.Event]) -> bytes:
        out = bytearray()
        for ev in events:
            if isinstance(ev, c.Start):
                self.rid = ev.id
            elif isinstance(ev, c.PartStart):
                self.open[ev.index] = c.OutPart(
                    ev.kind, id=ev.id, name=ev.name, data=ev.data, signature=ev.signature, origin=ev.origin
                )
            elif isinstance(ev, c.Delta):
                p = self.open.get(ev.index)
                if p is None:
                    continue
                p.signature += ev.signature
                if p.kind == "tool_call":
                    p.text += ev.text
                elif ev.text and p.kind == "text":
                    out += self._frame([{"text": ev.text}])
                elif ev.text and p.kind == "thinking":
                    out += self._frame([{"text": ev.text, "thought": True}])
            elif isinstance(ev, c.PartStop):
                p = self.open.pop(ev.index, None)
                if p is None:
                    continue
                if p.kind == "tool_call" or p.kind == "redacted_thinking":
                    out += self._frame([_out_part(p)])
                elif p.kind == "thinking" and p.signature:
                    out += self._frame([_thought_part("", p.signature, p.origin)])
            elif isinstance(ev, c.Usage):
                self.usage = ev
            elif isinstance(ev, c.Finish):
                self.fin = ev
            elif isinstance(ev, c.Error):
                out += self.error(ev.message)
        return bytes(out)

    def finish(self) -> bytes:
        if self.done:
            return b""
        if self.fin is None:
            return self.error("upstream stream ended before the reply was complete")
        self.done = True
        return self._frame([{"text": ""}], FINISH_OUT.get(self.fin.reason, "STOP"), usage_json(self.usage))

    def error(self, message: str) -> bytes:
        if self.done:
            return b""
        self.done = True
        return sse.frame({"error": {"code": 500, "message": message, "status": "INTERNAL"}})


# ---- provider: canonical request -> upstream body ------------------------------------------------


def _media_part(p: c.Image | c.Document) -> dict:
    if isinstance(p, c.Document) and p.text:
        return {"text": (p.title + "\n\n" if p.title else "") + p.text}
    if p.url:
        mime = (
            p.media_type
            or mimetypes.guess_type(p.url)[0]
            or ("image/jpeg" if isinstance(p, c.Image) else "application/pdf")
        )
        return {"fileData": {"mimeType": mime, "fileUri": p.url}}
    return {"inlineData": {"mimeType": p.media_type or "image/png", "data": p.data}}


def _function_response(p: c.ToolResult, names: dict[str, str]) -> list[dict]:
    name = p.name or names.get(p.call_id)
    if not name:
        raise bad(f"tool result {p.call_id!r} does not answer any tool call in the conversation")
    text = p.text()
    resp = {"error": text} if p.is_error else {"output": text}
    media = [_media_part(x) for x in p.content if isinstance(x, c.Image | c.Document)]
    return [{"functionResponse": {"name": name, "response": resp}}, *media]


def build_contents(req: c.Request) -> list[dict]:
    names = {p.id: p.name for m in req.messages for p in m.parts if isinstance(p, c.ToolCall)}
    contents: list[dict] = []
    for m in req.messages:
        parts: list[dict] = []
        signed = False
        for p in m.parts:
            if isinstance(p, c.Text):
                if p.text:
                    parts.append({"text": p.text})
            elif isinstance(p, c.Image | c.Document):
                parts.append(_media_part(p))
            elif isinstance(p, c.ToolResult):
                parts.extend(_function_response(p, names))
            elif isinstance(p, c.ToolCall):
                part: dict[str, Any] = {"functionCall": {"name": p.name, "args": p.args()}}
                if p.signature and p.origin == WIRE:
                    part["thoughtSignature"] = p.signature
                elif not signed:
                    part["thoughtSignature"] = PLACEHOLDER_SIGNATURE
                signed = True
                parts.append(part)
            elif isinstance(p, c.Thinking) and p.origin == WIRE and p.signature:
                parts.append({"text": p.text, "thought": True, "thoughtSignature": p.signature})
            # thinking from other providers cannot be replayed to Gemini: dropped
        if parts:
            role = "model" if m.role == "assistant" else "user"
            if contents and contents[-1]["role"] == role:
                contents[-1]["parts"].extend(parts)
            else:
                contents.append({"role": role, "parts": parts})
    return contents


def _thinking_config(req: c.Request, model: str) -> dict | None:
    r = req.reasoning
    if r is None:
        return None
    if r.disabled or r.effort == "none":
        return {"thinkingBudget": 0} if "gemini-3" not in model else {"thinkingLevel": "low"}
    cfg: dict[str, Any] = {"includeThoughts": r.include_thoughts}
    if "gemini-3" in model and r.effort:
        cfg["thinkingLevel"] = "low" if r.effort in ("minimal", "low") else "high"
    else:
        cfg["thinkingBudget"] = r.budget if r.budget is not None else effort_to_budget(r.effort)
    return cfg


def build_request(req: c.Request, model: str, stream: bool) -> dict:
    body: dict[str, Any] = {"contents": build_contents(req)}
    if req.system:
        body["systemInstruction"] = {"parts": [{"text": req.system_text()}]}
    if req.tools:
        body["tools"] = [
            {
                "functionDeclarations": [
                    {
                        "name": t.name,
                        "description": t.description,
                        "parameters": schemas.for_gemini(t.parameters),
                    }
                    for t in req.tools
                ]
            }
        ]
    tc = req.tool_choice
    if tc and req.tools:
        fcc: dict[str, Any] = {"mode": {"auto": "AUTO", "none": "NONE"}.get(tc.mode, "ANY")}
        if tc.mode == "tool":
            fcc["allowedFunctionNames"] = [tc.name]
        body["toolConfig"] = {"functionCallingConfig": fcc}
    gc: dict[str, Any] = {}
    for key, val in (
        ("temperature", req.temperature),
        ("topP", req.top_p),
        ("topK", req.top_k),
        ("maxOutputTokens", req.max_tokens),
        ("seed", req.seed),
    ):
        if val is not None:
            gc[key] = val
    if req.stop:
        gc["stopSequences"] = req.stop[:5]
    rf = req.response_format
    if rf and rf.type in ("json_object", "json_schema"):
        gc["responseMimeType"] = "application/json"
        if rf.type == "json_schema" and rf.schema:
            gc["responseSchema"] = schemas.for_gemini(rf.schema)
    thinking = _thinking_config(req, model)
    if thinking:
        gc["thinkingConfig"] = thinking
    if gc:
        body["generationConfig"] = gc
    return body


def build_count_request(req: c.Request, model: str) -> dict:
    full = build_request(req, model, False)
    inner = {k: v for k, v in full.items() if k in ("contents", "systemInstruction", "tools")}
    return {"generateContentRequest": {"model": f"models/{model}", **inner}}


def decode_count(data: dict) -> int:
    return int(data.get("totalTokens") or 0)


# ---- provider: upstream reply -> canonical events ------------------------------------------------

STOP_IN = {
    "STOP": "end",
    "MAX_TOKENS": "max_tokens",
    "SAFETY": "content_filter",
    "RECITATION": "content_filter",
    "BLOCKLIST": "content_filter",
    "PROHIBITED_CONTENT": "content_filter",
    "SPII": "content_filter",
    "IMAGE_SAFETY": "content_filter",
}


def usage_from(u: dict) -> c.Usage:
    thoughts = u.get("thoughtsTokenCount") or 0
    return c.Usage(
        input=u.get("promptTokenCount") or 0,
        output=(u.get("candidatesTokenCount") or 0) + thoughts,
        cached=u.get("cachedContentTokenCount") or 0,
        reasoning=thoughts,
    )


class StreamDecoder:
    """Also decodes a whole reply: a generateContent reply is one chunk of the stream."""

    def __init__(self) -> None:
        self.em = c.Emitter()
        self.calls = 0
        self.saw_call = False
        self.usage: c.Usage | None = None
        self.rid = ""

    def feed(self, ev: sse.SSEEvent) -> list[c.Event]:
        data = ev.json()
        return self.chunk(data) if isinstance(data, dict) else []

    def chunk(self, data: dict) -> list[c.Event]:
        em = self.em
        if data.get("error"):
            err = data["error"]
            em.error(err.get("message") if isinstance(err, dict) else str(err))
            return em.take()
        self.rid = self.rid or data.get("responseId") or "gen-" + uuid.uuid4().hex[:24]
        em.start(self.rid, data.get("modelVersion") or "")
        if isinstance(data.get("usageMetadata"), dict):
            self.usage = usage_from(data["usageMetadata"])
        cands = data.get("candidates") or []
        if not cands and (data.get("promptFeedback") or {}).get("blockReason"):
            self._finish("content_filter")
            return em.take()
        cand = cands[0] if cands else {}
        for p in (cand.get("content") or {}).get("parts") or []:
            sig = p.get("thoughtSignature") or ""
            if "functionCall" in p:
                fc = p["functionCall"] or {}
                call_id = fc.get("id") or c.stable_id("call_", self.rid, self.calls)
                em.tool_start(("fc", self.calls), call_id, fc.get("name") or "", sig, WIRE if sig else "")
                em.tool_args(("fc", self.calls), c.dumps(fc.get("args") or {}))
                em.close()
                self.calls += 1
                self.saw_call = True
            elif p.get("thought"):
                em.thinking(p.get("text") or "", sig, WIRE)
            elif p.get("text"):
                em.text(p["text"])
        if cand.get("finishReason"):
            reason = STOP_IN.get(cand["finishReason"], "end")
            self._finish("tool_use" if reason == "end" and self.saw_call else reason)
        return em.take()

    def _finish(self, reason: str) -> None:
        if self.usage:
            self.em.usage(self.usage)
        self.usage = None
        self.em.finish(reason)  # type: ignore[arg-type]

    def close(self) -> list[c.Event]:
        if self.usage:
            self.em.usage(self.usage)
        self.em.close()
        return self.em.take()


def decode_reply(data: dict) -> list[c.Event]:
    dec = StreamDecoder()
    return dec.chunk(data) + dec.close()
