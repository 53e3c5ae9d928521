"""Behaviour of the translation layer that the golden files do not pin down by themselves."""

from __future__ import annotations

import orjson
import pytest

from levity.errors import GatewayError
from levity.protocols import schema
from levity.protocols.sse import SSEParser
from levity.translate import estimate_tokens, plan_translation

# ---- SSE parsing ---------------------------------------------------------------------------------


@pytest.mark.parametrize("sep", [b"\n", b"\r\n", b"\r"])
def test_sse_parser_handles_every_line_ending_split_anywhere(sep: bytes) -> None:
    stream = sep.join([b"event: a", b'data: {"x":', b"data: 1}", b"", b": comment", b"data: two", b"", b""])
    for size in (1, 2, 3, 7, len(stream)):
        parser = SSEParser()
        events = []
        for i in range(0, len(stream), size):
            events += parser.feed(stream[i : i + size])
        events += parser.finish()
        assert [(e.event, e.data) for e in events] == [("a", '{"x":\n1}'), ("", "two")]


def test_sse_parser_flushes_a_last_event_without_blank_line() -> None:
    parser = SSEParser()
    assert parser.feed(b"data: tail") == []
    assert [e.data for e in parser.finish()] == ["tail"]


def test_sse_parser_bounds_memory() -> None:
    parser = SSEParser(max_event=100)
    with pytest.raises(ValueError):
        parser.feed(b"data: " + b"x" * 200)


# ---- streaming is incremental --------------------------------------------------------------------

GEMINI_FRAMES = [
    {
        "candidates": [{"content": {"role": "model", "parts": [{"text": "first"}]}, "index": 0}],
        "responseId": "r1",
    },
    {
        "candidates": [
            {"content": {"role": "model", "parts": [{"text": " second"}]}, "index": 0, "finishReason": "STOP"}
        ],
        "usageMetadata": {"promptTokenCount": 3, "candidatesTokenCount": 2},
    },
]


@pytest.mark.parametrize(
    "front", ["openai_chat", "openai_responses", "anthropic_messages", "openai_completions"]
)
def test_first_token_leaves_before_the_upstream_finishes(front: str) -> None:
    body = (
        {"model": "m", "input": "hi"}
        if front == "openai_responses"
        else (
            {"model": "m", "prompt": "hi"}
            if front == "openai_completions"
            else {"model": "m", "max_tokens": 10, "messages": [{"role": "user", "content": "hi"}]}
        )
    )
    plan = plan_translation(front, "gemini", body, "gemini-up", True)
    dec = plan.stream_decoder()
    first = dec.feed(b"data: " + orjson.dumps(GEMINI_FRAMES[0]) + b"\r\n\r\n")
    assert b"first" in first and b"second" not in first
    rest = dec.feed(b"data: " + orjson.dumps(GEMINI_FRAMES[1]) + b"\r\n\r\n") + dec.finish()
    assert b"second" in rest
    assert plan.usage == (3, 2, 0, 0)


def test_truncated_upstream_stream_becomes_a_client_stream_error() -> None:
    plan = plan_translation(
        "anthropic_messages",
        "gemini",
        {"model": "m", "max_tokens": 5, "messages": [{"role": "user", "content": "hi"}]},
        "g",
        True,
    )
    dec = plan.stream_decoder()
    out = dec.feed(b"data: " + orjson.dumps(GEMINI_FRAMES[0]) + b"\n\n") + dec.finish()
    assert b"event: error" in out and b"ended before the reply was complete" in out
    assert out.count(b"event: content_block_start") == out.count(b"event: content_block_stop") == 1


# ---- schema clean-up for Gemini ------------------------------------------------------------------


def test_gemini_schema_cleanup_keeps_meaning_and_drops_rejected_keywords() -> None:
    src = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "type": "object",
        "additionalProperties": False,
        "$defs": {"Unit": {"type": "string", "enum": ["c", "f"]}},
        "properties": {
            "n": {"type": "integer", "exclusiveMinimum": 0, "minimum": 1},
            "unit": {"$ref": "#/$defs/Unit"},
            "note": {"type": ["string", "null"], "format": "uri"},
            "kind": {"const": "fixed"},
            "tree": {"$ref": "#"},
        },
        "required": ["n", "missing"],
    }
    out = schema.for_gemini(src)
    assert out == {
        "type": "object",
        "properties": {
            "n": {"type": "integer", "minimum": 1},
            "unit": {"type": "string", "enum": ["c", "f"]},
            "note": {"nullable": True, "type": "string"},
            "kind": {"enum": ["fixed"], "type": "string"},
            "tree": {"type": "object", "description": ""},
        },
        "required": ["n"],
    }


def test_gemini_parameters_become_json_schema_for_other_providers() -> None:
    body = {
        "contents": [{"role": "user", "parts": [{"text": "hi"}]}],
        "tools": [
            {
                "functionDeclarations": [
                    {
                        "name": "f",
                        "parameters": {
                            "type": "OBJECT",
                            "properties": {"nullable": {"type": "STRING", "nullable": True}},
                        },
                    }
                ]
            }
        ],
    }
    plan = plan_translation("gemini_generate", "openai", body, "gpt", False)
    params = plan.upstream_body["tools"][0]["function"]["parameters"]
    assert params == {"type": "object", "properties": {"nullable": {"type": ["string", "null"]}}}


# ---- ids and signatures round trip ---------------------------------------------------------------


def test_gemini_calls_without_ids_get_stable_ids_that_match_their_results() -> None:
    body = {
        "contents": [
            {"role": "user", "parts": [{"text": "go"}]},
            {
                "role": "model",
                "parts": [
                    {"functionCall": {"name": "a", "args": {}}},
                    {"functionCall": {"name": "b", "args": {}}},
                ],
            },
            {
                "role": "user",
                "parts": [
                    {"functionResponse": {"name": "b", "response": {"output": "B"}}},
                    {"functionResponse": {"name": "a", "response": {"output": "A"}}},
                ],
            },
        ]
    }
    up = plan_translation("gemini_generate", "anthropic", body, "claude", False).upstream_body
    uses = {b["name"]: b["id"] for b in up["messages"][1]["content"]}
    results = {b["content"][0]["text"]: b["tool_use_id"] for b in up["messages"][2]["content"]}
    assert results == {"A": uses["a"], "B": uses["b"]}
    assert uses["a"] != uses["b"]


def test_foreign_tool_ids_are_cleaned_consistently_for_anthropic() -> None:
    body = {
        "model": "m",
        "messages": [
            {"role": "user", "content": "go"},
            {
                "role": "assistant",
                "tool_calls": [
                    {"id": "fc.1/x", "type": "function", "function": {"name": "f", "arguments": "{}"}}
                ],
            },
            {"role": "tool", "tool_call_id": "fc.1/x", "content": "ok"},
        ],
    }
    msgs = plan_translation("openai_chat", "anthropic", body, "claude", False).upstream_body["messages"]
    assert msgs[1]["content"][0]["id"] == msgs[2]["content"][0]["tool_use_id"] == "fc_1_x"


def test_anthropic_signature_shown_to_gemini_client_comes_back_to_anthropic() -> None:
    reply = {
        "id": "msg_1",
        "model": "c",
        "content": [
            {"type": "thinking", "thinking": "hm", "signature": "EqABsig"},
            {"type": "text", "text": "4"},
        ],
        "stop_reason": "end_turn",
        "usage": {"input_tokens": 1, "output_tokens": 1},
    }
    first = plan_translation(
        "gemini_generate",
        "anthropic",
        {
            "contents": [{"role": "user", "parts": [{"text": "q"}]}],
            "generationConfig": {"thinkingConfig": {"thinkingBudget": 2048}},
        },
        "claude",
        False,
    )
    model_turn = first.decode(reply)["candidates"][0]["content"]
    second = plan_translation(
        "gemini_generate",
        "anthropic",
        {
            "contents": [
                {"role": "user", "parts": [{"text": "q"}]},
                model_turn,
                {"role": "user", "parts": [{"text": "and?"}]},
            ],
            "generationConfig": {"thinkingConfig": {"thinkingBudget": 2048}},
        },
        "claude",
        False,
    )
    assistant = second.upstream_body["messages"][1]["content"]
    assert assistant[0] == {"type": "thinking", "thinking": "hm", "signature": "EqABsig"}
    # and a Gemini upstream never receives that Anthropic signature
    third = plan_translation(
        "anthropic_messages",
        "gemini",
        {
            "model": "m",
            "max_tokens": 5,
            "messages": [
                {"role": "user", "content": "q"},
                {
                    "role": "assistant",
                    "content": [
                        {"type": "thinking", "thinking": "hm", "signature": "EqABsig"},
                        {"type": "text", "text": "4"},
                    ],
                },
                {"role": "user", "content": "and?"},
            ],
        },
        "gemini-up",
        False,
    )
    assert third.upstream_body["contents"][1]["parts"] == [{"text": "4"}]


def test_responses_namespace_tools_round_trip() -> None:
    body = {
        "model": "m",
        "input": "find bob",
        "tools": [
            {
                "type": "namespace",
                "name": "crm",
                "description": "",
                "tools": [
                    {"type": "function", "name": "lookup", "parameters": {"type": "object", "properties": {}}}
                ],
            }
        ],
    }
    plan = plan_translation("openai_responses", "anthropic", body, "claude", False)
    assert plan.upstream_body["tools"][0]["name"] == "crm__lookup"
    out = plan.decode(
        {
            "id": "msg_1",
            "content": [{"type": "tool_use", "id": "toolu_1", "name": "crm__lookup", "input": {"q": "bob"}}],
            "stop_reason": "tool_use",
            "usage": {},
        }
    )
    item = out["output"][0]
    assert (item["type"], item["namespace"], item["name"], item["call_id"]) == (
        "function_call",
        "crm",
        "lookup",
        "toolu_1",
    )
    again = plan_translation(
        "openai_responses",
        "anthropic",
        {
            **body,
            "input": [
                {"role": "user", "content": "find bob"},
                item,
                {"type": "function_call_output", "call_id": "toolu_1", "output": "found"},
            ],
        },
        "claude",
        False,
    )
    assert again.upstream_body["messages"][1]["content"][0]["name"] == "crm__lookup"


def test_responses_custom_tool_becomes_function_and_comes_back_custom() -> None:
    body = {
        "model": "m",
        "input": "patch",
        "tools": [{"type": "custom", "name": "apply_patch", "description": "Patch"}],
    }
    plan = plan_translation("openai_responses", "openai", body, "gpt", False)
    assert plan.upstream_body["tools"][0]["function"]["parameters"]["required"] == ["input"]
    out = plan.decode(
        {
            "id": "c1",
            "choices": [
                {
                    "message": {
                        "role": "assistant",
                        "tool_calls": [
                            {
                                "id": "call_1",
                                "type": "function",
                                "function": {"name": "apply_patch", "arguments": '{"input":"*** Begin"}'},
                            }
                        ],
                    },
                    "finish_reason": "tool_calls",
                }
            ],
        }
    )
    assert out["output"][0] == {
        "id": out["output"][0]["id"],
        "type": "custom_tool_call",
        "status": "completed",
        "call_id": "call_1",
        "name": "apply_patch",
        "input": "*** Begin",
    }


# ---- what cannot be expressed is a 400 naming the feature ----------------------------------------


@pytest.mark.parametrize(
    ("front", "wire", "body", "feature"),
    [
        (
            "openai_chat",
            "anthropic",
            {"model": "m", "n": 2, "messages": [{"role": "user", "content": "x"}]},
            "n > 1",
        ),
        (
            "openai_chat",
            "gemini",
            {
                "model": "m",
                "messages": [{"role": "user", "content": "x"}],
                "tools": [{"type": "custom", "custom": {"name": "x"}}],
            },
            "tool type 'custom'",
        ),
        (
            "openai_chat",
            "gemini",
            {
                "model": "m",
                "messages": [
                    {"role": "user", "content": [{"type": "image_url", "image_url": {"url": "/etc/passwd"}}]}
                ],
            },
            "image_url must be",
        ),
        (
            "anthropic_messages",
            "openai",
            {
                "model": "m",
                "max_tokens": 5,
                "messages": [{"role": "user", "content": "x"}],
                "tools": [{"type": "web_search_20250305", "name": "web_search"}],
            },
            "web_search_20250305",
        ),
        (
            "gemini_generate",
            "openai",
            {"contents": [{"role": "user", "parts": [{"text": "x"}]}], "tools": [{"googleSearch": {}}]},
            "googleSearch",
        ),
        (
            "openai_responses",
            "gemini",
            {"model": "m", "input": "x", "previous_response_id": "resp_1"},
            "previous_response_id",
        ),
        ("openai_completions", "anthropic", {"model": "m", "prompt": "x", "echo": True}, "echo"),
    ],
)
def test_unexpressible_requests_are_400s_naming_the_feature(
    front: str, wire: str, body: dict, feature: str
) -> None:
    with pytest.raises(GatewayError) as err:
        plan_translation(front, wire, body, "up", False)
    assert err.value.status == 400
    assert feature in err.value.message


def test_hosted_responses_tools_are_dropped_but_function_tools_kept() -> None:
    body = {
        "model": "m",
        "input": "x",
        "tools": [
            {"type": "web_search"},
            {"type": "function", "name": "f", "parameters": {"type": "object"}},
        ],
    }
    up = plan_translation("openai_responses", "anthropic", body, "claude", True).upstream_body
    assert [t["name"] for t in up["tools"]] == ["f"]


# ---- token counting ------------------------------------------------------------------------------


def test_count_tokens_to_openai_is_a_local_chars_over_4_estimate() -> None:
    text = "x" * 400
    plan = plan_translation(
        "anthropic_count_tokens",
        "openai",
        {"model": "m", "messages": [{"role": "user", "content": text}]},
        "gpt",
        False,
    )
    assert plan.local_count and plan.estimate_header == ("X-Levity-Token-Estimate", "chars/4")
    assert plan.local_result() == {"input_tokens": 100}
    bigger = plan_translation(
        "gemini_count_tokens",
        "openai",
        {
            "contents": [
                {
                    "role": "user",
                    "parts": [{"text": text}, {"inlineData": {"mimeType": "image/png", "data": "AAAA"}}],
                }
            ]
        },
        "gpt",
        False,
    )
    assert bigger.local_result() == {"totalTokens": 1100}
    assert estimate_tokens(plan.request) > 0


def test_count_tokens_use_the_providers_own_endpoints() -> None:
    plan = plan_translation(
        "anthropic_count_tokens",
        "gemini",
        {"model": "m", "messages": [{"role": "user", "content": "hi"}]},
        "gemini-up",
        False,
    )
    assert plan.upstream_operation == "gemini_count_tokens"
    assert plan.upstream_body["generateContentRequest"]["model"] == "models/gemini-up"
    assert plan.decode({"totalTokens": 7}) == {"input_tokens": 7}
