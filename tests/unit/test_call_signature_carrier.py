"""A Gemini functionCall's thoughtSignature survives a round trip through an Anthropic client.

Anthropic's tool_use has no signature field, so the signature rides in an empty thinking block
just before the tool_use; when the client replays its history the signature goes back onto the
functionCall (Gemini 3 validates it there). Found with Claude Code on a Gemini upstream, which
otherwise got the skip-validator placeholder on every replayed call.
"""

from __future__ import annotations

import orjson

from levity.protocols.gemini import PLACEHOLDER_SIGNATURE
from levity.translate import plan_translation

SIG = "Z2VtLXNpZy10b29s"
REPLY = {
    "candidates": [
        {
            "content": {
                "role": "model",
                "parts": [
                    {"text": "Let me look.", "thought": True},
                    {
                        "functionCall": {"name": "get_weather", "args": {"city": "Lyon"}},
                        "thoughtSignature": SIG,
                    },
                ],
            },
            "finishReason": "STOP",
        }
    ],
    "usageMetadata": {"promptTokenCount": 5, "candidatesTokenCount": 3},
}
ASK = {"role": "user", "content": "Weather in Lyon?"}


def plan(messages: list, stream: bool = False):
    body = {"model": "claude-x", "max_tokens": 100, "messages": messages, "stream": stream}
    return plan_translation("anthropic_messages", "gemini", body, "gemini-up", stream)


def replayed_call_part(content: list) -> dict:
    call_id = next(b["id"] for b in content if b["type"] == "tool_use")
    result = {"type": "tool_result", "tool_use_id": call_id, "content": "18C"}
    body = plan(
        [ASK, {"role": "assistant", "content": content}, {"role": "user", "content": [result]}]
    ).upstream_body
    model_parts = [p for c in body["contents"] if c["role"] == "model" for p in c["parts"]]
    return next(p for p in model_parts if "functionCall" in p)


def test_whole_reply_signature_goes_back_onto_the_call() -> None:
    content = plan([ASK]).decode(REPLY)["content"]
    kinds = [b["type"] for b in content]
    assert kinds == ["thinking", "thinking", "tool_use"]
    assert content[1] == {"type": "thinking", "thinking": "", "signature": "lv1:gemini:" + SIG}
    assert replayed_call_part(content)["thoughtSignature"] == SIG


def test_streamed_reply_signature_goes_back_onto_the_call() -> None:
    dec = plan([ASK], stream=True).stream_decoder()
    raw = dec.feed(b"data: " + orjson.dumps(REPLY) + b"\r\n\r\n") + dec.finish()
    blocks: dict[int, dict] = {}
    for frame in raw.decode().split("\n\n"):
        data = next((line[6:] for line in frame.split("\n") if line.startswith("data: ")), None)
        ev = orjson.loads(data) if data else {}
        if ev.get("type") == "content_block_start":
            blocks[ev["index"]] = dict(ev["content_block"])
        elif ev.get("type") == "content_block_delta":
            d, b = ev["delta"], blocks[ev["index"]]
            if d["type"] == "signature_delta":
                b["signature"] += d["signature"]
            elif d["type"] == "thinking_delta":
                b["thinking"] += d["thinking"]
            elif d["type"] == "input_json_delta":
                b["partial"] = b.get("partial", "") + d["partial_json"]
    assert sorted(blocks) == [0, 1, 2]  # dense indexes with the carrier block in between
    content = []
    for i in sorted(blocks):
        b = blocks[i]
        if b["type"] == "tool_use":
            b["input"] = orjson.loads(b.pop("partial"))
        content.append(b)
    assert [b["type"] for b in content] == ["thinking", "thinking", "tool_use"]
    assert replayed_call_part(content)["thoughtSignature"] == SIG


def test_a_call_from_history_without_carrier_still_gets_the_placeholder() -> None:
    content = [{"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {"city": "Lyon"}}]
    assert replayed_call_part(content)["thoughtSignature"] == PLACEHOLDER_SIGNATURE


def test_real_thinking_with_a_foreign_signature_is_not_taken_for_a_carrier() -> None:
    content = [
        {"type": "thinking", "thinking": "Let me look.", "signature": "lv1:gemini:" + SIG},
        {"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {"city": "Lyon"}},
    ]
    call = replayed_call_part(content)
    assert call["thoughtSignature"] == PLACEHOLDER_SIGNATURE
