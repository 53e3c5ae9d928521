"""A fake upstream: a real aiohttp server on loopback speaking the OpenAI, Anthropic and Gemini wires.

Behaviour is scripted per API key (each test account has its own key): a queue of actions
consumed one per request, then a default. It records every request it receives (path, query,
headers, body) so tests can check what left the gateway.
"""

from __future__ import annotations

import asyncio
import json
import re
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from .fake_tools import anthropic_tool_frames, chat_tool_frames, gemini_tool_frames, responses_tool_frames


@dataclass
class Action:
    kind: str = "ok"  # ok | error | slow | reset | end_early | plain (JSON even when asked to stream) | tool
    status: int = 200
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0  # before answering (slow) or between stream frames
    after: int = 2  # frames sent before reset / end_early


def tool_call(name: str, args: dict[str, Any], thought: str = "", signature: str = "") -> Action:
    """Answer a stream with one call of tool `name` (see fake_tools.py), after a signed thought
    when `thought` is given (Anthropic and Gemini wires)."""
    return Action("tool", body={"name": name, "args": args, "thought": thought, "signature": signature})


def ok(delay: float = 0.0) -> Action:
    return Action("ok", delay=delay)


def error(status: int, body: Any = None, headers: dict[str, str] | None = None) -> Action:
    return Action("error", status=status, body=body, headers=headers or {})


def slow(seconds: float) -> Action:
    return Action("slow", delay=seconds)


def reset(after: int = 2) -> Action:
    return Action("reset", after=after)


def end_early(after: int = 2) -> Action:
    return Action("end_early", after=after)


@dataclass
class Received:
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: Any
    key: str


def key_of(headers: dict[str, str]) -> str:
    auth = headers.get("authorization", "")
    if auth.startswith("Bearer "):
        return auth[7:]
    return headers.get("x-api-key") or headers.get("x-goog-api-key") or ""


def sse(data: Any, event: str | None = None) -> bytes:
    head = f"event: {event}\n" if event else ""
    return (head + "data: " + json.dumps(data) + "\n\n").encode()


# A responder builds the reply to one request from what it received: a dict is sent as JSON, a
# str of SSE frames is streamed frame by frame (with the action's delay between frames), None
# falls back to the built-in reply. Tests use it to script multi-turn exchanges (tool loops).
Responder = Callable[[Received, bool], Any]
_SSE_FRAME = re.compile(r".*?(?:\r\n\r\n|\n\n)", re.S)


def sse_frames(text: str) -> list[bytes]:
    """Split an SSE body into its frames (each ends with its blank line)."""
    return [f.encode() for f in _SSE_FRAME.findall(text)]


WORDS = ["Hello", " from", " the", " fake", " upstream", "."]
TEXT = "".join(WORDS)


def _responses_frames(model: str) -> list[bytes]:
    """A Responses stream in the order OpenAI sends it: every item and part is announced
    (`output_item.added`, `content_part.added`) before its deltas and closed after them;
    Codex logs an error for a delta that arrives without an open item."""
    events: list[dict[str, Any]] = []
    head = {"id": "resp_1", "object": "response", "status": "in_progress", "model": model, "output": []}
    events.append({"type": "response.created", "response": head})
    events.append({"type": "response.in_progress", "response": head})
    pending = {"type": "message", "id": "msg_1", "status": "in_progress", "role": "assistant", "content": []}
    events.append({"type": "response.output_item.added", "output_index": 0, "item": pending})
    where = {"item_id": "msg_1", "output_index": 0, "content_index": 0}
    empty = {"type": "output_text", "text": "", "annotations": []}
    events.append({"type": "response.content_part.added", **where, "part": empty})
    events += [{"type": "response.output_text.delta", **where, "delta": w} for w in WORDS]
    part = {"type": "output_text", "text": TEXT, "annotations": []}
    events.append({"type": "response.output_text.done", **where, "text": TEXT})
    events.append({"type": "response.content_part.done", **where, "part": part})
    item = {**pending, "status": "completed", "content": [part]}
    events.append({"type": "response.output_item.done", "output_index": 0, "item": item})
    usage = {"input_tokens": 11, "output_tokens": 6, "total_tokens": 17}
    done = {**head, "status": "completed", "output": [item], "usage": usage}
    events.append({"type": "response.completed", "response": done})
    return [sse({**e, "sequence_number": i}, e["type"]) for i, e in enumerate(events)]


def openai_frames(path: str, model: str, body: dict[str, Any]) -> list[bytes]:
    if path.endswith("/responses"):
        return _responses_frames(model)
    obj = (
        "text_completion" if path.endswith("/completions") and "chat" not in path else "chat.completion.chunk"
    )
    out = []
    for w in WORDS:
        choice = (
            {"index": 0, "text": w, "finish_reason": None}
            if obj == "text_completion"
            else {"index": 0, "delta": {"content": w}, "finish_reason": None}
        )
        out.append(sse({"id": "c1", "object": obj, "created": 1, "model": model, "choices": [choice]}))
    # OpenAI closes the choice in a chunk of its own: an empty delta with the finish reason.
    last = (
        {"index": 0, "text": "", "finish_reason": "stop"}
        if obj == "text_completion"
        else {"index": 0, "delta": {}, "finish_reason": "stop"}
    )
    out.append(sse({"id": "c1", "object": obj, "created": 1, "model": model, "choices": [last]}))
    out.append(
        sse(
            {
                "id": "c1",
                "object": obj,
                "created": 1,
                "model": model,
                "choices": [],
                "usage": {"prompt_tokens": 11, "completion_tokens": 6, "total_tokens": 17},
            }
        )
    )
    out.append(b"data: [DONE]\n\n")
    return out


def openai_whole(path: str, model: str) -> dict[str, Any]:
    usage = {"prompt_tokens": 11, "completion_tokens": 6, "total_tokens": 17}
    if path.endswith("/responses"):
        item = {
            "type": "message",
            "id": "msg_1",
            "status": "completed",
            "role": "assistant",
            "content": [{"type": "output_text", "text": TEXT, "annotations": []}],
        }
        return {
            "id": "resp_1",
            "object": "response",
            "created_at": 1,
            "status": "completed",
            "model": model,
            "output": [item],
            "usage": {"input_tokens": 11, "output_tokens": 6, "total_tokens": 17},
        }
    if path.endswith("/chat/completions"):
        return {
            "id": "c1",
            "object": "chat.completion",
            "created": 1,
            "model": model,
            "usage": usage,
            "choices": [
                {"index": 0, "message": {"role": "assistant", "content": TEXT}, "finish_reason": "stop"}
            ],
        }
    return {
        "id": "c1",
        "object": "text_completion",
        "created": 1,
        "model": model,
        "usage": usage,
        "choices": [{"index": 0, "text": TEXT, "finish_reason": "stop"}],
    }


def anthropic_frames(model: str) -> list[bytes]:
    msg = {
        "id": "msg_1",
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": [],
        "stop_reason": None,
        "stop_sequence": None,
        "usage": {"input_tokens": 11, "output_tokens": 1},
    }
    out = [
        sse({"type": "message_start", "message": msg}, "message_start"),
        sse(
            {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
            "content_block_start",
        ),
    ]
    for w in WORDS:
        out.append(
            sse(
                {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": w}},
                "content_block_delta",
            )
        )
    out.append(sse({"type": "content_block_stop", "index": 0}, "content_block_stop"))
    out.append(
        sse(
            {
                "type": "message_delta",
                "delta": {"stop_reason": "end_turn", "stop_sequence": None},
                "usage": {"output_tokens": 6},
            },
            "message_delta",
        )
    )
    out.append(sse({"type": "message_stop"}, "message_stop"))
    return out


def anthropic_whole(model: str) -> dict[str, Any]:
    return {
        "id": "msg_1",
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": [{"type": "text", "text": TEXT}],
        "stop_reason": "end_turn",
        "stop_sequence": None,
        "usage": {"input_tokens": 11, "output_tokens": 6},
    }


def gemini_piece(text: str, last: bool, n_out: int) -> dict[str, Any]:
    cand: dict[str, Any] = {"content": {"role": "model", "parts": [{"text": text}]}, "index": 0}
    if last:
        cand["finishReason"] = "STOP"
    return {
        "candidates": [cand],
        "usageMetadata": {
            "promptTokenCount": 11,
            "candidatesTokenCount": n_out,
            "totalTokenCount": 11 + n_out,
        },
    }


class FakeUpstream:
    def __init__(self) -> None:
        self.received: list[Received] = []
        self.scripts: dict[str, deque[Action]] = {}
        self.defaults: dict[str, Action] = {}
        self.responders: dict[str, Responder] = {}
        self.models: list[str] = ["gpt-fake", "gpt-fake-mini"]
        # Keys of accounts on an OpenAI-compatible server without /v1/responses (404 there).
        self.chat_only: set[str] = set()
        # Paths of requests whose caller hung up before the answer was complete.
        self.aborted: list[str] = []
        self.port = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._lock = threading.Lock()

    # -- control -----------------------------------------------------------------------------
    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def plan(self, key: str, *actions: Action) -> None:
        with self._lock:
            self.scripts.setdefault(key, deque()).extend(actions)

    def default(self, key: str, action: Action) -> None:
        with self._lock:
            self.defaults[key] = action

    def respond(self, key: str, responder: Responder) -> None:
        """Answer successful requests made with `key` by `responder` (see `Responder`)."""
        with self._lock:
            self.responders[key] = responder

    def calls(self, key: str | None = None, path_part: str = "") -> list[Received]:
        with self._lock:
            return [r for r in self.received if (key is None or r.key == key) and path_part in r.path]

    def clear(self) -> None:
        with self._lock:
            self.received.clear()

    def _next(self, key: str) -> Action:
        with self._lock:
            q = self.scripts.get(key)
            if q:
                return q.popleft()
            return self.defaults.get(key, ok())

    # -- lifecycle -----------------------------------------------------------------------------
    def start(self) -> FakeUpstream:
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        self._ready.wait(10)
        return self

    def _run(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        app = web.Application()
        app.router.add_post("/v1/chat/completions", self.openai)
        app.router.add_post("/v1/completions", self.openai)
        app.router.add_post("/v1/responses", self.openai)
        app.router.add_post("/v1/messages", self.anthropic)
        app.router.add_post("/v1/messages/count_tokens", self.anthropic_count)
        app.router.add_get("/v1/models", self.list_models)
        app.router.add_get("/v1beta/models", self.gemini_models)
        app.router.add_post("/v1beta/models/{tail:.+}", self.gemini)
        runner = web.AppRunner(app)
        loop.run_until_complete(runner.setup())
        site = web.TCPSite(runner, "127.0.0.1", 0)
        loop.run_until_complete(site.start())
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self._runner = runner
        self._ready.set()
        loop.run_forever()
        loop.run_until_complete(runner.cleanup())
        loop.close()

    def stop(self) -> None:
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._loop.stop)
        if self._thread is not None:
            self._thread.join(5)

    # -- handlers ------------------------------------------------------------------------------
    async def _record(self, request: web.Request) -> tuple[Received, Action]:
        raw = await request.read()
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = raw.decode("utf-8", "replace")
        headers = {k.lower(): v for k, v in request.headers.items()}
        rec = Received(request.path, dict(request.query), headers, body, key_of(headers))
        with self._lock:
            self.received.append(rec)
        action = self._next(rec.key)
        if action.kind == "slow":
            await asyncio.sleep(action.delay)
            if request.transport is None or request.transport.is_closing():
                self.aborted.append(request.path)
        return rec, action

    async def _frames(
        self,
        request: web.Request,
        frames: list[bytes],
        action: Action,
        content_type: str = "text/event-stream",
    ) -> web.StreamResponse:
        resp = web.StreamResponse(headers={"Content-Type": content_type})
        await resp.prepare(request)
        for i, frame in enumerate(frames):
            if action.kind in ("reset", "end_early") and i == action.after:
                if action.kind == "reset":
                    assert request.transport is not None
                    request.transport.close()  # chunked body never finished: the reader sees a broken payload
                    return resp
                break
            try:
                await resp.write(frame)
            except ConnectionError:
                self.aborted.append(request.path)
                return resp
            if action.delay:
                await asyncio.sleep(action.delay)
        await resp.write_eof()
        return resp

    async def _scripted(
        self, request: web.Request, rec: Received, action: Action, stream: bool
    ) -> web.StreamResponse | None:
        responder = self.responders.get(rec.key)
        if action.kind == "plain":  # one JSON reply even when asked to stream
            stream = False
        out = responder(rec, stream) if responder is not None else None
        if out is None:
            return None
        if isinstance(out, dict | list):
            return web.json_response(out)
        return await self._frames(request, sse_frames(out), action)

    @staticmethod
    def _error(action: Action) -> web.Response:
        return web.Response(
            status=action.status,
            body=json.dumps(action.body or {}).encode(),
            headers={"Content-Type": "application/json", **action.headers},
        )

    async def openai(self, request: web.Request) -> web.StreamResponse:
        rec, action = await self._record(request)
        if request.path.endswith("/responses") and rec.key in self.chat_only:
            return web.json_response({"detail": "Not Found"}, status=404)
        if action.kind == "error":
            return self._error(action)
        model = rec.body.get("model", "")
        scripted = await self._scripted(request, rec, action, bool(rec.body.get("stream")))
        if scripted is not None:
            return scripted
        if action.kind == "tool":
            build = responses_tool_frames if request.path.endswith("/responses") else chat_tool_frames
            return await self._frames(request, build(model, **action.body), action)
        if rec.body.get("stream") and action.kind != "plain":
            return await self._frames(request, openai_frames(request.path, model, rec.body), action)
        return web.json_response(openai_whole(request.path, model))

    async def anthropic(self, request: web.Request) -> web.StreamResponse:
        rec, action = await self._record(request)
        if action.kind == "error":
            return self._error(action)
        scripted = await self._scripted(request, rec, action, bool(rec.body.get("stream")))
        if scripted is not None:
            return scripted
        if action.kind == "tool":
            return await self._frames(
                request, anthropic_tool_frames(rec.body.get("model", ""), **action.body), action
            )
        if rec.body.get("stream"):
            return await self._frames(request, anthropic_frames(rec.body.get("model", "")), action)
        return web.json_response(anthropic_whole(rec.body.get("model", "")))

    async def anthropic_count(self, request: web.Request) -> web.StreamResponse:
        rec, action = await self._record(request)
        if action.kind == "error":
            return self._error(action)
        return web.json_response({"input_tokens": 42})

    async def list_models(self, request: web.Request) -> web.Response:
        await self._record(request)
        return web.json_response(
            {"object": "list", "data": [{"id": m, "object": "model"} for m in self.models]}
        )

    async def gemini_models(self, request: web.Request) -> web.Response:
        await self._record(request)
        return web.json_response({"models": [{"name": f"models/{m}"} for m in self.models]})

    async def gemini(self, request: web.Request) -> web.StreamResponse:
        rec, action = await self._record(request)
        if action.kind == "error":
            return self._error(action)
        action_name = request.match_info["tail"].rpartition(":")[2]
        if action_name == "countTokens":
            return web.json_response({"totalTokens": 42})
        scripted = await self._scripted(request, rec, action, action_name == "streamGenerateContent")
        if scripted is not None:
            return scripted
        if action_name == "generateContent":
            return web.json_response(gemini_piece(TEXT, True, 6))
        if action.kind == "tool":
            return await self._frames(request, gemini_tool_frames(**action.body), action)
        pieces = [gemini_piece(w, i == len(WORDS) - 1, i + 1) for i, w in enumerate(WORDS)]
        if request.query.get("alt") == "sse":
            frames = [b"data: " + json.dumps(p).encode() + b"\r\n\r\n" for p in pieces]
            return await self._frames(request, frames, action)
        frames = [(b"[" if i == 0 else b",\r\n") + json.dumps(p).encode() for i, p in enumerate(pieces)]
        frames[-1] += b"]"
        return await self._frames(request, frames, action, "application/json")


def wait_until(pred: Any, timeout: float = 5.0, interval: float = 0.05) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = pred()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError("condition not met in time")
