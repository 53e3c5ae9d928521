"""OpenAI Responses API as a client front (what Codex CLI speaks).

Upstream it is translated to whatever the account speaks; an `openai` account that also speaks
Responses is passed through by the forwarder without coming here.
"""

from __future__ import annotations

from typing import Any

from levity import canonical as c
from levity.protocols import sse
from levity.protocols.common import add_message, as_list, bad, now, opt_float, opt_int

WIRE = "openai"
NS_SEP = "__"  # namespace tools are flattened to "<namespace>__<name>" for targets without namespaces
_REDACTED = "anthropic_redacted"
# Hosted tools that only OpenAI can run: dropped (the issue asks that clients sending them still work).
HOSTED_TOOLS = {
    "web_search",
    "web_search_preview",
    "file_search",
    "code_interpreter",
    "image_generation",
    "local_shell",
    "mcp",
    "computer_use_preview",
    "computer",
    "shell",
    "apply_patch",
    "tool_search",
}
_CUSTOM_PARAMS = {
    "type": "object",
    "properties": {"input": {"type": "string", "description": "The raw tool input."}},
    "required": ["input"],
}

# ---- front: client request -> canonical ----------------------------------------------------------


def _content(content: Any, role: str) -> list[c.Part]:
    if isinstance(content, str):
        return [c.Text(content)] if content else []
    parts: list[c.Part] = []
    for p in as_list(content):
        kind = p.get("type") if isinstance(p, dict) else None
        if kind in ("input_text", "output_text", "text", "summary_text", "reasoning_text"):
            parts.append(c.Text(p.get("text") or ""))
        elif kind == "refusal":
            parts.append(c.Text(p.get("refusal") or ""))
        elif kind == "input_image":
            url = p.get("image_url")
            if not url:
                raise bad("input_image with file_id cannot be translated to this provider (send image_url)")
            parts.append(c.image_from_url(url))
        elif kind == "input_file":
            parsed = c.parse_data_url(p.get("file_data") or "")
            if parsed:
                parts.append(c.Document(media_type=parsed[0], data=parsed[1], title=p.get("filename") or ""))
            elif (p.get("file_url") or "").startswith(("http://", "https://")):
                parts.append(
                    c.Document(media_type="application/pdf", url=p["file_url"], title=p.get("filename") or "")
                )
            else:
                raise bad(
                    "input_file needs file_data or an http(s) file_url when translating to this provider"
                )
        else:
            raise bad(f"content type {kind!r} in a {role} item cannot be translated to this provider")
    return parts


def _tools(req: c.Request, tools: list, namespace: str = "") -> None:
    for t in tools:
        ttype = t.get("type")
        name = (namespace + NS_SEP if namespace else "") + (t.get("name") or "")
        if ttype == "function":
            req.tools.append(
                c.Tool(
                    name,
                    t.get("description") or "",
                    t.get("parameters") or {"type": "object", "properties": {}},
                    t.get("strict"),
                )
            )
        elif ttype == "custom":
            req.front_state.setdefault("custom", set()).add(name)
            fmt = t.get("format") or {}
            desc = t.get("description") or ""
            if fmt.get("type") == "grammar" and fmt.get("definition"):
                desc += (
                    f"\n\nThe input must follow this {fmt.get('syntax', '')} grammar:\n{fmt['definition']}"
                )
            req.tools.append(c.Tool(name, desc, _CUSTOM_PARAMS))
        elif ttype == "namespace":
            req.front_state.setdefault("namespaces", set()).add(t.get("name") or "")
            _tools(req, as_list(t.get("tools")), t.get("name") or "")
        elif ttype in HOSTED_TOOLS or (
            isinstance(ttype, str) and ttype.startswith(("web_search", "computer"))
        ):
            req.front_state.setdefault("dropped_tools", []).append(ttype)
        else:
            raise bad(f"tool type {ttype!r} cannot be translated to this provider")


def _item(req: c.Request, item: dict) -> None:
    kind = item.get("type") or "message"
    if kind == "message":
        role = item.get("role")
        if role in ("system", "developer"):
            req.system.extend(p for p in _content(item.get("content"), role) if isinstance(p, c.Text))
        elif role in ("user", "assistant"):
            add_message(req.messages, role, _content(item.get("content"), role))
        else:
            raise bad(f"message role {role!r} is not supported")
    elif kind == "function_call":
        ns = item.get("namespace")
        name = (ns + NS_SEP if ns else "") + (item.get("name") or "")
        add_message(
            req.messages,
            "assistant",
            [c.ToolCall(item.get("call_id") or "", name, item.get("arguments") or "{}")],
        )
    elif kind == "custom_tool_call":
        add_message(
            req.messages,
            "assistant",
            [
                c.ToolCall(
                    item.get("call_id") or "",
                    item.get("name") or "",
                    c.dumps({"input": item.get("input") or ""}),
                )
            ],
        )
    elif kind in ("function_call_output", "custom_tool_call_output"):
        out = item.get("output")
        content = (
            [c.Text(out)]
            if isinstance(out, str)
            else [p for p in _content(out, "tool") if isinstance(p, c.Text | c.Image | c.Document)]
        )
        add_message(req.messages, "user", [c.ToolResult(item.get("call_id") or "", content)])
    elif kind == "reasoning":
        text = "\n\n".join(s.get("text") or "" for s in as_list(item.get("summary")) if isinstance(s, dict))
        if not text:
            text = "".join(s.get("text") or "" for s in as_list(item.get("content")) if isinstance(s, dict))
        sig, origin = c.untag_signature(item.get("encrypted_content") or "", WIRE)
        part = (
            c.Thinking(redacted=sig, origin="anthropic")
            if origin == _REDACTED
            else c.Thinking(text, sig, origin)
        )
        add_message(req.messages, "assistant", [part])
    elif kind == "web_search_call":
        return  # a record of a hosted search; nothing a different provider can replay
    else:
        raise bad(f"input item type {kind!r} cannot be translated to this provider")


def parse_request(body: dict) -> c.Request:
    req = c.Request(model=str(body.get("model") or ""), stream=bool(body.get("stream")))
    if body.get("previous_response_id") or body.get("conversation"):
        raise bad(
            "previous_response_id / conversation need server-side state this provider does not have; "
            "send the full input"
        )
    if isinstance(body.get("instructions"), str) and body["instructions"]:
        req.system.append(c.Text(body["instructions"]))
    inp = body.get("input")
    if isinstance(inp, str):
        add_message(req.messages, "user", [c.Text(inp)])
    else:
        for item in as_list(inp):
            if isinstance(item, dict):
                _item(req, item)
    _tools(req, as_list(body.get("tools")))
    tc = body.get("tool_choice")
    if isinstance(tc, str) and tc in ("auto", "none", "required"):
        req.tool_choice = c.ToolChoice(tc)  # type: ignore[arg-type]
    elif isinstance(tc, dict) and tc.get("type") in ("function", "custom"):
        req.tool_choice = c.ToolChoice("tool", tc.get("name") or "")
    if isinstance(body.get("parallel_tool_calls"), bool):
        req.parallel_tool_calls = body["parallel_tool_calls"]
    req.max_tokens = opt_int(body.get("max_output_tokens"))
    req.temperature = opt_float(body.get("temperature"))
    req.top_p = opt_float(body.get("top_p"))
    r = body.get("reasoning") or {}
    if r.get("effort") or r.get("summary"):
        effort = r.get("effort") or "medium"
        req.reasoning = c.Reasoning(
            effort=effort,
            disabled=effort == "none",
            include_thoughts=bool(r.get("summary")) and r.get("summary") != "none",
        )
    fmt = (body.get("text") or {}).get("format") or {}
    if fmt.get("type") == "json_object":
        req.response_format = c.ResponseFormat("json_object")
    elif fmt.get("type") == "json_schema":
        req.response_format = c.ResponseFormat(
            "json_schema", fmt.get("schema") or {}, fmt.get("name") or "response", fmt.get("strict")
        )
    req.user = str(body.get("safety_identifier") or body.get("user") or "")
    # store, include, prompt_cache_key, metadata, truncation, service_tier: accepted; they tune
    # OpenAI-side storage and caching that other providers do not have.
    req.front_state["echo"] = {
        k: body.get(k)
        for k in (
            "instructions",
            "metadata",
            "temperature",
            "top_p",
            "parallel_tool_calls",
            "tool_choice",
            "store",
        )
    }
    return req


# ---- front: canonical reply -> client JSON / SSE -------------------------------------------------


def usage_json(u: c.Usage) -> dict:
    return {
        "input_tokens": u.input,
        "input_tokens_details": {"cached_tokens": u.cached},
        "output_tokens": u.output,
        "output_tokens_details": {"reasoning_tokens": u.reasoning},
        "total_tokens": u.input + u.output,
    }


def resp_id(upstream_id: str) -> str:
    return "resp_" + c.stable_id("", upstream_id or "levity")


class _Items:
    """Builds the output items of a Response from canonical parts (shared by JSON and stream)."""

    def __init__(self, req: c.Request, rid: str) -> None:
        self.custom: set[str] = req.front_state.get("custom") or set()
        self.namespaces: set[str] = req.front_state.get("namespaces") or set()
        self.rid = rid

    def item_id(self, prefix: str, n: int) -> str:
        return f"{prefix}_{self.rid[5:]}{n:03d}"

    def open_item(self, p: c.OutPart, n: int) -> dict:
        if p.kind == "text":
            return {
                "id": self.item_id("msg", n),
                "type": "message",
                "status": "in_progress",
                "role": "assistant",
                "content": [],
            }
        if p.kind in ("thinking", "redacted_thinking"):
            return {"id": self.item_id("rs", n), "type": "reasoning", "summary": []}
        if p.name in self.custom:
            return {
                "id": self.item_id("ctc", n),
                "type": "custom_tool_call",
                "status": "in_progress",
                "call_id": p.id,
                "name": p.name,
                "input": "",
            }
        item = {
            "id": self.item_id("fc", n),
            "type": "function_call",
            "status": "in_progress",
            "call_id": p.id,
            "name": p.name,
            "arguments": "",
        }
        ns, sep, inner = p.name.partition(NS_SEP)
        if sep and ns in self.namespaces:
            item["namespace"], item["name"] = ns, inner
        return item

    def done_item(self, p: c.OutPart, n: int) -> dict:
        item = self.open_item(p, n)
        if p.kind == "text":
            item["content"] = [{"type": "output_text", "text": p.text, "annotations": [], "logprobs": []}]
        elif p.kind == "thinking":
            item["summary"] = [{"type": "summary_text", "text": p.text}] if p.text else []
            item["encrypted_content"] = c.tag_signature(p.signature, p.origin, WIRE) or None
            return item
        elif p.kind == "redacted_thinking":
            item["encrypted_content"] = c.tag_signature(p.data, _REDACTED, WIRE)
            return item
        elif item["type"] == "custom_tool_call":
            item["input"] = str(c.parse_args(p.text).get("input", ""))
        else:
            item["arguments"] = p.text or "{}"
        item["status"] = "completed"
        return item


def _response(
    req: c.Request,
    rid: str,
    model: str,
    created: int,
    status: str,
    output: list[dict],
    usage: c.Usage | None,
    fin: c.Finish | None = None,
    error: dict | None = None,
) -> dict:
    echo = req.front_state.get("echo") or {}
    incomplete = (
        {"reason": "max_output_tokens"}
        if fin and fin.reason == "max_tokens"
        else ({"reason": "content_filter"} if fin and fin.reason in ("content_filter", "refusal") else None)
    )
    if status == "completed" and incomplete:
        status = "incomplete"
    return {
        "id": rid,
        "object": "response",
        "created_at": created,
        "status": status,
        "error": error,
        "incomplete_details": incomplete,
        "instructions": echo.get("instructions"),
        "model": model,
        "output": output,
        "parallel_tool_calls": echo.get("parallel_tool_calls", True),
        "temperature": echo.get("temperature"),
        "top_p": echo.get("top_p"),
        "tool_choice": echo.get("tool_choice") or "auto",
        "tools": [],
        "metadata": echo.get("metadata") or {},
        "store": False,
        "text": {"format": {"type": "text"}},
        "usage": usage_json(usage) if usage is not None else None,
    }


def render_reply(reply: c.Reply, req: c.Request, model: str) -> dict:
    rid = resp_id(reply.id)
    items = _Items(req, rid)
    output = [items.done_item(p, n) for n, p in enumerate(reply.parts)]
    return _response(req, rid, model, now(), "completed", output, reply.usage, reply.finish)


class StreamEncoder:
    def __init__(self, req: c.Request, model: str) -> None:
        self.req = req
        self.model = model
        self.seq = 0
        self.created = now()
        self.rid = ""
        self.items: _Items | None = None
        self.open: dict[int, c.OutPart] = {}
        self.output: list[dict] = []
        self.usage = c.Usage()
        self.fin: c.Finish | None = None
        self.done = False

    def _ev(self, kind: str, **fields: Any) -> bytes:
        data = {"type": kind, "sequence_number": self.seq, **fields}
        self.seq += 1
        return sse.frame(data, kind)

    def _start(self, upstream_id: str = "") -> bytes:
        if self.items is not None:
            return b""
        self.rid = resp_id(upstream_id)
        self.items = _Items(self.req, self.rid)
        resp = _response(self.req, self.rid, self.model, self.created, "in_progress", [], None)
        return self._ev("response.created", response=resp) + self._ev("response.in_progress", response=resp)

    def events(self, events: list[c.Event]) -> bytes:
        out = bytearray()
        for ev in events:
            if isinstance(ev, c.Start):
                out += self._start(ev.id)
            elif isinstance(ev, c.PartStart):
                out += self._start()
                out += self._part_start(ev)
            elif isinstance(ev, c.Delta):
                out += self._delta(ev)
            elif isinstance(ev, c.PartStop):
                out += self._part_stop(ev.index)
            elif isinstance(ev, c.Usage):
                self.usage = ev
            elif isinstance(ev, c.Finish):
                self.fin = ev
            elif isinstance(ev, c.Error):
                out += self.error(ev.message)
        return bytes(out)

    def _part_start(self, ev: c.PartStart) -> bytes:
        assert self.items is not None
        p = c.OutPart(ev.kind, id=ev.id, name=ev.name, data=ev.data, signature=ev.signature, origin=ev.origin)
        self.open[ev.index] = p
        n = len(self.output) + len(self.open) - 1
        item = self.items.open_item(p, n)
        if item["type"] == "custom_tool_call":
            return b""  # its input is inside the JSON arguments: announced whole at the end
        out = self._ev("response.output_item.added", output_index=n, item=item)
        if p.kind == "text":
            out += self._ev(
                "response.content_part.added",
                item_id=item["id"],
                output_index=n,
                content_index=0,
                part={"type": "output_text", "text": "", "annotations": [], "logprobs": []},
            )
        elif p.kind == "thinking":
            out += self._ev(
                "response.reasoning_summary_part.added",
                item_id=item["id"],
                output_index=n,
                summary_index=0,
                part={"type": "summary_text", "text": ""},
            )
        return out

    def _where(self, index: int) -> tuple[c.OutPart, int, str] | None:
        p = self.open.get(index)
        if p is None or self.items is None:
            return None
        n = len(self.output) + list(self.open).index(index)
        return p, n, self.items.open_item(p, n)["id"]

    def _delta(self, ev: c.Delta) -> bytes:
        found = self._where(ev.index)
        if found is None:
            return b""
        p, n, item_id = found
        p.text += ev.text
        p.signature += ev.signature
        if not ev.text:
            return b""
        if p.kind == "text":
            return self._ev(
                "response.output_text.delta",
                item_id=item_id,
                output_index=n,
                content_index=0,
                delta=ev.text,
                logprobs=[],
            )
        if p.kind == "thinking":
            return self._ev(
                "response.reasoning_summary_text.delta",
                item_id=item_id,
                output_index=n,
                summary_index=0,
                delta=ev.text,
            )
        if p.kind == "tool_call" and p.name not in self.items.custom:  # type: ignore[union-attr]
            return self._ev(
                "response.function_call_arguments.delta", item_id=item_id, output_index=n, delta=ev.text
            )
        return b""

    def _part_stop(self, index: int) -> bytes:
        found = self._where(index)
        if found is None:
            return b""
        p, n, item_id = found
        assert self.items is not None
        item = self.items.done_item(p, n)
        out = bytearray()
        if p.kind == "text":
            part = item["content"][0]
            out += self._ev(
                "response.output_text.done",
                item_id=item_id,
                output_index=n,
                content_index=0,
                text=p.text,
                logprobs=[],
            )
            out += self._ev(
                "response.content_part.done", item_id=item_id, output_index=n, content_index=0, part=part
            )
        elif p.kind == "thinking":
            out += self._ev(
                "response.reasoning_summary_text.done",
                item_id=item_id,
                output_index=n,
                summary_index=0,
                text=p.text,
            )
            out += self._ev(
                "response.reasoning_summary_part.done",
                item_id=item_id,
                output_index=n,
                summary_index=0,
                part={"type": "summary_text", "text": p.text},
            )
        elif item["type"] == "custom_tool_call":
            out += self._ev(
                "response.output_item.added",
                output_index=n,
                item={**item, "input": "", "status": "in_progress"},
            )
            out += self._ev(
                "response.custom_tool_call_input.delta", item_id=item_id, output_index=n, delta=item["input"]
            )
            out += self._ev(
                "response.custom_tool_call_input.done", item_id=item_id, output_index=n, input=item["input"]
            )
        elif p.kind == "tool_call":
            out += self._ev(
                "response.function_call_arguments.done",
                item_id=item_id,
                output_index=n,
                name=item["name"],
                arguments=item["arguments"],
            )
        out += self._ev("response.output_item.done", output_index=n, item=item)
        del self.open[index]
        self.output.append(item)
        return bytes(out)

    def finish(self) -> bytes:
        if self.done:
            return b""
        if self.fin is None:
            return self.error("upstream stream ended before the reply was complete")
        out = self._start()
        for index in list(self.open):
            out += self._part_stop(index)
        self.done = True
        resp = _response(
            self.req, self.rid, self.model, self.created, "completed", self.output, self.usage, self.fin
        )
        return out + self._ev("response.completed", response=resp)

    def error(self, message: str) -> bytes:
        if self.done:
            return b""
        out = self._start()
        self.done = True
        resp = _response(
            self.req,
            self.rid,
            self.model,
            self.created,
            "failed",
            self.output,
            self.usage,
            error={"code": "server_error", "message": message},
        )
        return out + self._ev("response.failed", response=resp)
