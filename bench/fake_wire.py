"""Provider reply bodies in their real wire formats, built once at start-up.

The fake upstream serves these bytes as they are, so nothing here is on the request path.
Each builder returns either one JSON body or the list of SSE frames of one streamed reply.
"""

from __future__ import annotations

import orjson

MODEL = "bench-model"
CREATED = 1_700_000_000
PROMPT_TOKENS = 25
WORD = "tok "


def _json(obj: object) -> bytes:
    return orjson.dumps(obj)


def _text(chunks: int) -> str:
    return WORD * chunks


def openai_json(chunks: int) -> bytes:
    return _json(
        {
            "id": "chatcmpl-bench",
            "object": "chat.completion",
            "created": CREATED,
            "model": MODEL,
            "system_fingerprint": "fp_bench",
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": _text(chunks), "refusal": None},
                    "logprobs": None,
                    "finish_reason": "stop",
                }
            ],
            "usage": {
                "prompt_tokens": PROMPT_TOKENS,
                "completion_tokens": chunks,
                "total_tokens": PROMPT_TOKENS + chunks,
            },
        }
    )


def openai_sse(chunks: int) -> list[bytes]:
    def frame(delta: dict, finish: str | None) -> bytes:
        choice = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}
        return b"data: " + _json({**head, "choices": [choice]}) + b"\n\n"

    head = {
        "id": "chatcmpl-bench",
        "object": "chat.completion.chunk",
        "created": CREATED,
        "model": MODEL,
        "system_fingerprint": "fp_bench",
    }
    frames = [frame({"role": "assistant", "content": "", "refusal": None}, None)]
    frames += [frame({"content": WORD}, None) for _ in range(chunks)]
    frames.append(frame({}, "stop"))
    # The usage frame OpenAI sends with stream_options.include_usage: empty choices.
    usage = {
        "prompt_tokens": PROMPT_TOKENS,
        "completion_tokens": chunks,
        "total_tokens": PROMPT_TOKENS + chunks,
    }
    frames.append(b"data: " + _json({**head, "choices": [], "usage": usage}) + b"\n\n")
    frames.append(b"data: [DONE]\n\n")
    return frames


def anthropic_json(chunks: int) -> bytes:
    return _json(
        {
            "id": "msg_bench",
            "type": "message",
            "role": "assistant",
            "model": MODEL,
            "content": [{"type": "text", "text": _text(chunks)}],
            "stop_reason": "end_turn",
            "stop_sequence": None,
            "usage": {"input_tokens": PROMPT_TOKENS, "output_tokens": chunks},
        }
    )


def anthropic_sse(chunks: int) -> list[bytes]:
    def event(name: str, data: dict) -> bytes:
        return b"event: " + name.encode() + b"\ndata: " + _json(data) + b"\n\n"

    message = {
        "id": "msg_bench",
        "type": "message",
        "role": "assistant",
        "model": MODEL,
        "content": [],
        "stop_reason": None,
        "stop_sequence": None,
        "usage": {"input_tokens": PROMPT_TOKENS, "output_tokens": 1},
    }
    frames = [
        event("message_start", {"type": "message_start", "message": message}),
        event(
            "content_block_start",
            {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
        ),
        event("ping", {"type": "ping"}),
    ]
    delta = {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": WORD}}
    frames += [event("content_block_delta", delta) for _ in range(chunks)]
    frames.append(event("content_block_stop", {"type": "content_block_stop", "index": 0}))
    frames.append(
        event(
            "message_delta",
            {
                "type": "message_delta",
                "delta": {"stop_reason": "end_turn", "stop_sequence": None},
                "usage": {"output_tokens": chunks},
            },
        )
    )
    frames.append(event("message_stop", {"type": "message_stop"}))
    return frames


def _gemini_obj(text: str, done: bool, out_tokens: int) -> dict:
    candidate: dict = {"content": {"parts": [{"text": text}], "role": "model"}, "index": 0}
    if done:
        candidate["finishReason"] = "STOP"
    return {
        "candidates": [candidate],
        "usageMetadata": {
            "promptTokenCount": PROMPT_TOKENS,
            "candidatesTokenCount": out_tokens,
            "totalTokenCount": PROMPT_TOKENS + out_tokens,
        },
        "modelVersion": MODEL,
        "responseId": "bench",
    }


def gemini_json(chunks: int) -> bytes:
    return _json(_gemini_obj(_text(chunks), True, chunks))


def gemini_sse(chunks: int) -> list[bytes]:
    # Gemini separates its SSE events with CRLF CRLF; gateway parsers must accept that.
    return [b"data: " + _json(_gemini_obj(WORD, i == chunks, i)) + b"\r\n\r\n" for i in range(1, chunks + 1)]
