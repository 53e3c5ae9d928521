"""A Chat Completions stream that ends with `[DONE]` but no `finish_reason` is complete.

Several OpenAI-compatible servers never send a `finish_reason`; Claude Code, translated onto such
an upstream, fell back to a second non-streamed request because the gateway called the reply
truncated. A stream cut off before `[DONE]` must still become the client's stream error.
"""

from __future__ import annotations

import orjson

from levity.translate import plan_translation

BODY = {"model": "m", "max_tokens": 5, "messages": [{"role": "user", "content": "hi"}]}


def chunk(delta: dict, finish: str | None = None) -> bytes:
    data = {
        "id": "c1",
        "object": "chat.completion.chunk",
        "model": "g",
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
    }
    return b"data: " + orjson.dumps(data) + b"\n\n"


def run(frames: list[bytes]) -> bytes:
    dec = plan_translation("anthropic_messages", "openai", dict(BODY), "g", True).stream_decoder()
    return b"".join(dec.feed(f) for f in frames) + dec.finish()


def test_done_without_finish_reason_ends_the_message_normally() -> None:
    out = run([chunk({"content": "hi"}), b"data: [DONE]\n\n"])
    assert b"event: error" not in out
    assert b'"stop_reason":"end_turn"' in out and out.endswith(
        b'event: message_stop\ndata: {"type":"message_stop"}\n\n'
    )


def test_done_after_a_tool_call_without_finish_reason_is_tool_use() -> None:
    call = {"tool_calls": [{"index": 0, "id": "call_1", "function": {"name": "f", "arguments": "{}"}}]}
    out = run([chunk(call), b"data: [DONE]\n\n"])
    assert b"event: error" not in out and b'"stop_reason":"tool_use"' in out


def test_stream_cut_before_done_is_still_an_error() -> None:
    out = run([chunk({"content": "hi"})])
    assert b"event: error" in out and b"ended before the reply was complete" in out
