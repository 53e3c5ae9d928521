"""A deterministic local model: answers every front's wire in-process, with no HTTP and no key.

It echoes the last user message in a fixed template, counts tokens honestly (words and
punctuation of the whole prompt and of the answer) and streams word by word. `levity serve
--demo` and tests use it; `options.word_delay_ms` slows the stream down.
"""

from __future__ import annotations

import asyncio
import re
import time
import uuid
from collections.abc import AsyncIterator, Iterator, Mapping
from typing import TYPE_CHECKING, Any

import orjson

from .anthropic import PROVIDER as ANTHROPIC
from .base import Provider, UpstreamCall, UpstreamReply, Usage
from .gemini import PROVIDER as GEMINI
from .openai import PROVIDER as OPENAI

if TYPE_CHECKING:
    from ..pool.accounts import Account

OPERATIONS = frozenset(
    (
        "openai_chat",
        "openai_completions",
        "openai_responses",
        "anthropic_messages",
        "anthropic_count_tokens",
        "gemini_generate",
        "gemini_stream",
        "gemini_count_tokens",
    )
)
_TOKEN = re.compile(r"\w+|[^\w\s]")
_WORD = re.compile(r"\S+\s*")
ECHO_LIMIT = 2000


def count_tokens(text: str) -> int:
    return len(_TOKEN.findall(text))


def _texts(content: Any) -> Iterator[str]:
    """Every text inside a content value of any of the three wires."""
    if isinstance(content, str):
        yield content
    elif isinstance(content, list):
        for part in content:
            yield from _texts(part)
    elif isinstance(content, dict):
        for key in ("text", "content", "parts", "input", "system", "instructions"):
            if key in content:
                yield from _texts(content[key])


def prompt_of(op: str, body: dict[str, Any]) -> tuple[str, str]:
    """(all prompt text, the last user message) for a request body of `op`."""
    if op.startswith("gemini"):
        turns = body.get("contents") or []
        if isinstance(turns, dict):
            turns = [turns]
        system = " ".join(_texts(body.get("systemInstruction") or body.get("system_instruction")))
    elif op == "openai_completions":
        p = body.get("prompt", "")
        text = " ".join(_texts(p))
        return text, text
    elif op == "openai_responses":
        turns = body.get("input") or []
        if isinstance(turns, str):
            turns = [{"role": "user", "content": turns}]
        system = " ".join(_texts(body.get("instructions")))
    else:
        turns = body.get("messages") or []
        system = " ".join(_texts(body.get("system")))
    everything = [system] if system else []
    last_user = ""
    for turn in turns if isinstance(turns, list) else []:
        if not isinstance(turn, dict):
            continue
        text = " ".join(_texts(turn.get("content", turn.get("parts"))))
        everything.append(text)
        if turn.get("role", "user") == "user":
            last_user = text
    return " ".join(everything), last_user


def answer_for(model: str, last_user: str) -> str:
    echo = last_user if len(last_user) <= ECHO_LIMIT else last_user[:ECHO_LIMIT] + "..."
    return f'[{model}] You said: "{echo}". This is the Levity mock model; add an upstream account for real answers.'


def _sse(data: dict[str, Any], event: str | None = None) -> bytes:
    head = f"event: {event}\n".encode() if event else b""
    return head + b"data: " + orjson.dumps(data) + b"\n\n"


class MockReply(UpstreamReply):
    def __init__(self, content_type: str, frames: Iterator[bytes], delay: float) -> None:
        self.status = 200
        self.headers = {"Content-Type": content_type}
        self._frames = frames
        self._delay = delay

    async def chunks(self) -> AsyncIterator[bytes]:  # type: ignore[override]
        for i, frame in enumerate(self._frames):
            if i and self._delay:
                await asyncio.sleep(self._delay)
            yield frame


class MockProvider(Provider):
    def build(
        self,
        account: Account,
        op: str,
        model: str,
        body: dict[str, Any],
        stream: bool,
        passthru: Mapping[str, str],
    ) -> UpstreamCall:
        delay = float(account.options.get("word_delay_ms", 0) or 0) / 1000.0
        headers = {"x-word-delay": str(delay), "x-model": model}
        if op == "gemini_stream":
            headers["x-alt"] = passthru.get("alt", "")
        return UpstreamCall("MOCK", f"mock:{op}", headers, None, stream, op=op, payload=body)

    def in_process(self) -> bool:
        return True

    async def execute(self, http: Any, call: UpstreamCall, timeout: Any) -> UpstreamReply:
        body = call.payload or {}
        op = call.op
        model = call.headers.get("x-model") or str(body.get("model") or "levity-demo")
        prompt, last_user = prompt_of(op, body)
        n_in = count_tokens(prompt)
        delay = float(call.headers.get("x-word-delay", "0"))
        if op in ("anthropic_count_tokens", "gemini_count_tokens"):
            data = {"input_tokens": n_in} if op.startswith("anthropic") else {"totalTokens": n_in}
            return MockReply("application/json", iter([orjson.dumps(data)]), 0)
        words = _WORD.findall(answer_for(model, last_user))
        n_out = count_tokens("".join(words))
        wire = _WIRES[op]
        if not call.stream:
            return MockReply(
                "application/json", iter([orjson.dumps(wire.whole(model, words, n_in, n_out))]), 0
            )
        if op == "gemini_stream" and call.headers.get("x-alt") != "sse":
            return MockReply("application/json", _gemini_array(model, words, n_in, n_out), delay)
        return MockReply("text/event-stream", wire.stream(model, words, n_in, n_out, body), delay)

    def models_call(self, account: Account) -> UpstreamCall:
        return UpstreamCall("MOCK", "mock:models", {}, op="models")

    def read_usage(self, obj: dict[str, Any], usage: Usage) -> None:
        for p in (OPENAI, ANTHROPIC, GEMINI):
            p.read_usage(obj, usage)

    def test_call(self, model: str) -> tuple[str, dict[str, Any]]:
        return "openai_chat", {"model": model, "messages": [{"role": "user", "content": "ping"}]}


def _now() -> int:
    return int(time.time())


class _Chat:
    @staticmethod
    def whole(model: str, words: list[str], n_in: int, n_out: int) -> dict[str, Any]:
        return {
            "id": "chatcmpl-" + uuid.uuid4().hex[:24],
            "object": "chat.completion",
            "created": _now(),
            "model": model,
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": "".join(words), "refusal": None},
                    "finish_reason": "stop",
                    "logprobs": None,
                }
            ],
            "usage": {"prompt_tokens": n_in, "completion_tokens": n_out, "total_tokens": n_in + n_out},
        }

    @staticmethod
    def stream(model: str, words: list[str], n_in: int, n_out: int, body: dict[str, Any]) -> Iterator[bytes]:
        base = {
            "id": "chatcmpl-" + uuid.uuid4().hex[:24],
            "object": "chat.completion.chunk",
            "created": _now(),
        }
        base["model"] = model

        def chunk(delta: dict[str, Any], finish: str | None = None) -> bytes:
            choice = {"index": 0, "delta": delta, "finish_reason": finish, "logprobs": None}
            return _sse({**base, "choices": [choice]})

        yield chunk({"role": "assistant", "content": ""})
        for w in words:
            yield chunk({"content": w})
        yield chunk({}, "stop")
        opts = body.get("stream_options")
        if isinstance(opts, dict) and opts.get("include_usage"):
            usage = {"prompt_tokens": n_in, "completion_tokens": n_out, "total_tokens": n_in + n_out}
            yield _sse({**base, "choices": [], "usage": usage})
        yield b"data: [DONE]\n\n"


class _Completions:
    @staticmethod
    def whole(model: str, words: list[str], n_in: int, n_out: int) -> dict[str, Any]:
        return {
            "id": "cmpl-" + uuid.uuid4().hex[:24],
            "object": "text_completion",
            "created": _now(),
            "model": model,
            "choices": [{"text": "".join(words), "index": 0, "logprobs": None, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": n_in, "completion_tokens": n_out, "total_tokens": n_in + n_out},
        }

    @staticmethod
    def stream(model: str, words: list[str], n_in: int, n_out: int, body: dict[str, Any]) -> Iterator[bytes]:
        base = {
            "id": "cmpl-" + uuid.uuid4().hex[:24],
            "object": "text_completion",
            "created": _now(),
            "model": model,
        }
        for i, w in enumerate(words):
            finish = "stop" if i == len(words) - 1 else None
            yield _sse(
                {**base, "choices": [{"text": w, "index": 0, "logprobs": None, "finish_reason": finish}]}
            )
        usage = {"prompt_tokens": n_in, "completion_tokens": n_out, "total_tokens": n_in + n_out}
        yield _sse({**base, "choices": [], "usage": usage})
        yield b"data: [DONE]\n\n"


class _Responses:
    @staticmethod
    def _item(item_id: str, text: str, status: str) -> dict[str, Any]:
        content = [{"type": "output_text", "text": text, "annotations": [], "logprobs": []}]
        return {"type": "message", "id": item_id, "status": status, "role": "assistant", "content": content}

    @classmethod
    def _response(cls, rid: str, model: str, status: str, output: list[Any], usage: Any) -> dict[str, Any]:
        return {
            "id": rid,
            "object": "response",
            "created_at": _now(),
            "status": status,
            "model": model,
            "output": output,
            "parallel_tool_calls": True,
            "tool_choice": "auto",
            "tools": [],
            "error": None,
            "incomplete_details": None,
            "instructions": None,
            "metadata": {},
            "temperature": 1.0,
            "top_p": 1.0,
            "usage": usage,
        }

    @staticmethod
    def _usage(n_in: int, n_out: int) -> dict[str, Any]:
        return {
            "input_tokens": n_in,
            "output_tokens": n_out,
            "total_tokens": n_in + n_out,
            "input_tokens_details": {"cached_tokens": 0},
            "output_tokens_details": {"reasoning_tokens": 0},
        }

    @classmethod
    def whole(cls, model: str, words: list[str], n_in: int, n_out: int) -> dict[str, Any]:
        item = cls._item("msg_" + uuid.uuid4().hex[:24], "".join(words), "completed")
        return cls._response(
            "resp_" + uuid.uuid4().hex[:24], model, "completed", [item], cls._usage(n_in, n_out)
        )

    @classmethod
    def stream(
        cls, model: str, words: list[str], n_in: int, n_out: int, body: dict[str, Any]
    ) -> Iterator[bytes]:
        rid, mid = "resp_" + uuid.uuid4().hex[:24], "msg_" + uuid.uuid4().hex[:24]
        seq = iter(range(1_000_000))

        def ev(kind: str, **fields: Any) -> bytes:
            return _sse({"type": kind, "sequence_number": next(seq), **fields}, kind)

        yield ev("response.created", response=cls._response(rid, model, "in_progress", [], None))
        yield ev("response.in_progress", response=cls._response(rid, model, "in_progress", [], None))
        empty = cls._item(mid, "", "in_progress")
        empty["content"] = []
        yield ev("response.output_item.added", output_index=0, item=empty)
        part = {"type": "output_text", "text": "", "annotations": [], "logprobs": []}
        yield ev("response.content_part.added", item_id=mid, output_index=0, content_index=0, part=part)
        for w in words:
            yield ev(
                "response.output_text.delta",
                item_id=mid,
                output_index=0,
                content_index=0,
                delta=w,
                logprobs=[],
            )
        text = "".join(words)
        yield ev(
            "response.output_text.done", item_id=mid, output_index=0, content_index=0, text=text, logprobs=[]
        )
        done_part = {**part, "text": text}
        yield ev("response.content_part.done", item_id=mid, output_index=0, content_index=0, part=done_part)
        item = cls._item(mid, text, "completed")
        yield ev("response.output_item.done", output_index=0, item=item)
        final = cls._response(rid, model, "completed", [item], cls._usage(n_in, n_out))
        yield ev("response.completed", response=final)


class _Messages:
    @staticmethod
    def whole(model: str, words: list[str], n_in: int, n_out: int) -> dict[str, Any]:
        return {
            "id": "msg_" + uuid.uuid4().hex[:24],
            "type": "message",
            "role": "assistant",
            "model": model,
            "content": [{"type": "text", "text": "".join(words)}],
            "stop_reason": "end_turn",
            "stop_sequence": None,
            "usage": {"input_tokens": n_in, "output_tokens": n_out},
        }

    @staticmethod
    def stream(model: str, words: list[str], n_in: int, n_out: int, body: dict[str, Any]) -> Iterator[bytes]:
        message = _Messages.whole(model, [], n_in, 0)
        message.update(content=[], stop_reason=None)
        message["usage"] = {"input_tokens": n_in, "output_tokens": 0}
        yield _sse({"type": "message_start", "message": message}, "message_start")
        block = {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}}
        yield _sse(block, "content_block_start")
        for w in words:
            delta = {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": w}}
            yield _sse(delta, "content_block_delta")
        yield _sse({"type": "content_block_stop", "index": 0}, "content_block_stop")
        end = {"stop_reason": "end_turn", "stop_sequence": None}
        yield _sse(
            {"type": "message_delta", "delta": end, "usage": {"output_tokens": n_out}}, "message_delta"
        )
        yield _sse({"type": "message_stop"}, "message_stop")


class _Gemini:
    @staticmethod
    def piece(model: str, text: str, finish: bool, n_in: int, n_out: int) -> dict[str, Any]:
        cand: dict[str, Any] = {"content": {"role": "model", "parts": [{"text": text}]}, "index": 0}
        if finish:
            cand["finishReason"] = "STOP"
        usage = {"promptTokenCount": n_in, "candidatesTokenCount": n_out, "totalTokenCount": n_in + n_out}
        return {"candidates": [cand], "usageMetadata": usage, "modelVersion": model}

    @classmethod
    def whole(cls, model: str, words: list[str], n_in: int, n_out: int) -> dict[str, Any]:
        return cls.piece(model, "".join(words), True, n_in, n_out)

    @classmethod
    def stream(
        cls, model: str, words: list[str], n_in: int, n_out: int, body: dict[str, Any]
    ) -> Iterator[bytes]:
        for i, w in enumerate(words):
            last = i == len(words) - 1
            data = cls.piece(model, w, last, n_in, count_tokens("".join(words[: i + 1])))
            yield b"data: " + orjson.dumps(data) + b"\r\n\r\n"


def _gemini_array(model: str, words: list[str], n_in: int, n_out: int) -> Iterator[bytes]:
    for i, w in enumerate(words):
        last = i == len(words) - 1
        data = _Gemini.piece(model, w, last, n_in, count_tokens("".join(words[: i + 1])))
        yield (b"[" if i == 0 else b"\r\n,") + orjson.dumps(data) + (b"]" if last else b"")


_WIRES: dict[str, Any] = {
    "openai_chat": _Chat,
    "openai_completions": _Completions,
    "openai_responses": _Responses,
    "anthropic_messages": _Messages,
    "gemini_generate": _Gemini,
    "gemini_stream": _Gemini,
}

PROVIDER = MockProvider(name="mock", wire="mock", default_base_url="", operations=OPERATIONS)
