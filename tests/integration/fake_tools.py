"""Streamed tool calls in each provider's wire, for the fake upstream's `tool_call` action.

An agent CLI answers a tool call by running the tool and sending its result back in the next
request; scripting one lets a test follow a whole agent turn through the gateway.
"""

from __future__ import annotations

import json
from typing import Any

CALL_ID = "call_fake_1"


def _sse(data: Any, event: str | None = None) -> bytes:
    head = f"event: {event}\n" if event else ""
    return (head + "data: " + json.dumps(data) + "\n\n").encode()


def anthropic_tool_frames(
    model: str, name: str, args: dict[str, Any], thought: str = "", signature: str = ""
) -> list[bytes]:
    msg = {
        "id": "msg_tool_1",
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": [],
        "stop_reason": None,
        "stop_sequence": None,
        "usage": {"input_tokens": 11, "output_tokens": 1},
    }

    def block(index: int, start: dict[str, Any], deltas: list[dict[str, Any]]) -> list[bytes]:
        frames = [
            _sse(
                {"type": "content_block_start", "index": index, "content_block": start}, "content_block_start"
            )
        ]
        for d in deltas:
            frames.append(
                _sse({"type": "content_block_delta", "index": index, "delta": d}, "content_block_delta")
            )
        frames.append(_sse({"type": "content_block_stop", "index": index}, "content_block_stop"))
        return frames

    out = [_sse({"type": "message_start", "message": msg}, "message_start")]
    if thought:  # extended thinking: a signed thinking block before the call
        out += block(
            0,
            {"type": "thinking", "thinking": ""},
            [
                {"type": "thinking_delta", "thinking": thought},
                {"type": "signature_delta", "signature": signature},
            ],
        )
    out += block(
        1 if thought else 0,
        {"type": "tool_use", "id": CALL_ID, "name": name, "input": {}},
        [
            {"type": "input_json_delta", "partial_json": ""},
            {"type": "input_json_delta", "partial_json": json.dumps(args)},
        ],
    )
    out += [
        _sse(
            {
                "type": "message_delta",
                "delta": {"stop_reason": "tool_use", "stop_sequence": None},
                "usage": {"output_tokens": 9},
            },
            "message_delta",
        ),
        _sse({"type": "message_stop"}, "message_stop"),
    ]
    return out


def chat_tool_frames(model: str, name: str, args: dict[str, Any], **_: str) -> list[bytes]:
    def chunk(delta: dict[str, Any], finish: str | None = None) -> bytes:
        choice = {"index": 0, "delta": delta, "finish_reason": finish}
        return _sse(
            {"id": "c2", "object": "chat.completion.chunk", "created": 1, "model": model, "choices": [choice]}
        )

    head = {"index": 0, "id": CALL_ID, "type": "function", "function": {"name": name, "arguments": ""}}
    return [
        chunk({"role": "assistant", "content": None, "tool_calls": [head]}),
        chunk({"tool_calls": [{"index": 0, "function": {"arguments": json.dumps(args)}}]}),
        chunk({}, "tool_calls"),
        _sse(
            {
                "id": "c2",
                "object": "chat.completion.chunk",
                "created": 1,
                "model": model,
                "choices": [],
                "usage": {"prompt_tokens": 11, "completion_tokens": 9, "total_tokens": 20},
            }
        ),
        b"data: [DONE]\n\n",
    ]


def responses_tool_frames(model: str, name: str, args: dict[str, Any], **_: str) -> list[bytes]:
    head = {"id": "resp_tool_1", "object": "response", "status": "in_progress", "model": model, "output": []}
    pending = {
        "type": "function_call",
        "id": "fc_1",
        "call_id": CALL_ID,
        "name": name,
        "arguments": "",
        "status": "in_progress",
    }
    text = json.dumps(args)
    item = {**pending, "arguments": text, "status": "completed"}
    usage = {"input_tokens": 11, "output_tokens": 9, "total_tokens": 20}
    events: list[dict[str, Any]] = [
        {"type": "response.created", "response": head},
        {"type": "response.output_item.added", "output_index": 0, "item": pending},
        {
            "type": "response.function_call_arguments.delta",
            "item_id": "fc_1",
            "output_index": 0,
            "delta": text,
        },
        {
            "type": "response.function_call_arguments.done",
            "item_id": "fc_1",
            "output_index": 0,
            "arguments": text,
        },
        {"type": "response.output_item.done", "output_index": 0, "item": item},
        {
            "type": "response.completed",
            "response": {**head, "status": "completed", "output": [item], "usage": usage},
        },
    ]
    return [_sse({**e, "sequence_number": i}, e["type"]) for i, e in enumerate(events)]


def gemini_tool_frames(
    name: str, args: dict[str, Any], thought: str = "", signature: str = ""
) -> list[bytes]:
    call: dict[str, Any] = {"functionCall": {"name": name, "args": args}}
    parts = [call]
    if thought:  # Gemini 3: a thought summary, and the turn's signature on its first call
        parts = [{"text": thought, "thought": True}, call]
        call["thoughtSignature"] = signature
    piece = {
        "candidates": [{"content": {"role": "model", "parts": parts}, "finishReason": "STOP", "index": 0}],
        "usageMetadata": {"promptTokenCount": 11, "candidatesTokenCount": 9, "totalTokenCount": 20},
    }
    return [b"data: " + json.dumps(piece).encode() + b"\r\n\r\n"]
