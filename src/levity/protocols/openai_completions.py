"""OpenAI legacy Completions (`prompt` in, `text` out) as a client front.

A prompt becomes one user message: the only faithful reading of a bare prompt for chat models.
"""

from __future__ import annotations

from typing import Any

from levity import canonical as c
from levity.protocols import sse
from levity.protocols.common import bad, now, opt_float, opt_int, stop_list
from levity.protocols.openai_chat import FINISH

WIRE = "openai"


def parse_request(body: dict) -> c.Request:
    prompt = body.get("prompt")
    if isinstance(prompt, list):
        if len(prompt) != 1 or not isinstance(prompt[0], str):
            raise bad(
                "prompt must be one string when translating to this provider (no batches or token arrays)"
            )
        prompt = prompt[0]
    if not isinstance(prompt, str):
        raise bad("prompt must be a string")
    for key in ("suffix", "echo", "logprobs"):
        if body.get(key):
            raise bad(f"{key} is not supported by this provider")
    if (opt_int(body.get("n")) or 1) > 1 or (opt_int(body.get("best_of")) or 1) > 1:
        raise bad("n or best_of > 1 is not supported by this provider")
    req = c.Request(model=str(body.get("model") or ""), stream=bool(body.get("stream")))
    req.messages.append(c.Message("user", [c.Text(prompt)]))
    req.max_tokens = opt_int(body.get("max_tokens"))
    req.temperature = opt_float(body.get("temperature"))
    req.top_p = opt_float(body.get("top_p"))
    req.seed = opt_int(body.get("seed"))
    req.stop = stop_list(body.get("stop"))
    req.user = str(body.get("user") or "")
    req.front_state["include_usage"] = bool((body.get("stream_options") or {}).get("include_usage"))
    return req


def usage_json(u: c.Usage) -> dict:
    return {"prompt_tokens": u.input, "completion_tokens": u.output, "total_tokens": u.input + u.output}


def cmpl_id(upstream_id: str) -> str:
    return "cmpl-" + c.stable_id("", upstream_id or "levity")


def render_reply(reply: c.Reply, req: c.Request, model: str) -> dict:
    reason = FINISH.get(reply.finish.reason if reply.finish else "end", "stop")
    return {
        "id": cmpl_id(reply.id),
        "object": "text_completion",
        "created": now(),
        "model": model,
        "choices": [{"text": reply.text(), "index": 0, "logprobs": None, "finish_reason": reason}],
        "usage": usage_json(reply.usage),
    }


class StreamEncoder:
    def __init__(self, req: c.Request, model: str) -> None:
        self.model = model
        self.include_usage = bool(req.front_state.get("include_usage"))
        self.id = cmpl_id("")
        self.created = now()
        self.text_parts: set[int] = set()
        self.usage = c.Usage()
        self.fin: c.Finish | None = None
        self.done = False

    def _chunk(self, choices: list[dict], usage: dict | None = None) -> bytes:
        body: dict[str, Any] = {
            "id": self.id,
            "object": "text_completion",
            "created": self.created,
            "model": self.model,
            "choices": choices,
        }
        if usage is not None:
            body["usage"] = usage
        return sse.frame(body)

    def events(self, events: list[c.Event]) -> bytes:
        out = bytearray()
        for ev in events:
            if isinstance(ev, c.Start):
                self.id = cmpl_id(ev.id)
            elif isinstance(ev, c.PartStart) and ev.kind == "text":
                self.text_parts.add(ev.index)
            elif isinstance(ev, c.Delta) and ev.index in self.text_parts and ev.text:
                out += self._chunk([{"text": ev.text, "index": 0, "logprobs": None, "finish_reason": None}])
            elif isinstance(ev, c.Usage):
                self.usage = ev
            elif isinstance(ev, c.Finish) and self.fin is None:
                self.fin = ev
                out += self._chunk(
                    [
                        {
                            "text": "",
                            "index": 0,
                            "logprobs": None,
                            "finish_reason": FINISH.get(ev.reason, "stop"),
                        }
                    ]
                )
            elif isinstance(ev, c.Error):
                out += self.error(ev.message)
        return bytes(out)

    def finish(self) -> bytes:
        if self.done:
            return b""
        if self.fin is None:
            return self.error("upstream stream ended before the reply was complete")
        self.done = True
        out = self._chunk([], usage_json(self.usage)) if self.include_usage else b""
        return out + sse.DONE

    def error(self, message: str) -> bytes:
        if self.done:
            return b""
        self.done = True
        return sse.frame({"error": {"message": message, "type": "server_error", "param": None, "code": None}})
