"""Requests shaped like the real coding CLIs, each against providers of the other wires.

Codex CLI speaks Responses (always streamed, store:false, the whole output sent back each turn);
Claude Code speaks Messages through the SDK's beta path (`?beta=true`, cache hints everywhere,
adaptive thinking, system reminders inside `messages`); the Gemini CLI speaks
`streamGenerateContent?alt=sse` with `parametersJsonSchema` tools and a thinking config.
Their model names reach other providers through `proxy.model_mapping` (see conftest.MAPPING).
"""

from __future__ import annotations

import json
from typing import Any

import anthropic
import httpx
import openai
import pytest
from google.genai import types as gtypes

from .conftest import KEYS, LABELS, SCENARIOS, TOOL_IDS, WEATHER_SCHEMA
from .drivers import TOOL_RESULT

TEXT = "".join(SCENARIOS["text"]["text"])


def upstream(up, provider: str) -> list[Any]:
    return [c for c in up.calls(KEYS[provider]) if c.path not in ("/v1/models", "/v1beta/models")]


# -- Codex CLI ------------------------------------------------------------------------------------------
CODEX_TOOLS = [
    {
        "type": "function",
        "name": "shell",
        "description": "Runs a shell command and returns its output.",
        "strict": False,
        "parameters": {
            "type": "object",
            "properties": {"command": {"type": "array", "items": {"type": "string"}}},
            "required": ["command"],
            "additionalProperties": False,
        },
    },
    {
        "type": "function",
        "name": "get_weather",
        "description": "Current weather",
        "strict": False,
        "parameters": WEATHER_SCHEMA,
    },
    {
        "type": "custom",
        "name": "apply_patch",
        "description": "Edit files with a patch.",
        "format": {"type": "grammar", "syntax": "lark", "definition": "start: /.+/"},
    },
    {"type": "web_search"},
]


def codex_body(model: str, items: list[dict]) -> dict[str, Any]:
    return {
        "model": model,
        "instructions": "You are Codex, a coding agent.",
        "input": items,
        "tools": CODEX_TOOLS,
        "tool_choice": "auto",
        "parallel_tool_calls": False,
        "reasoning": {"effort": "medium", "summary": "auto"},
        "store": False,
        "stream": True,
        "include": ["reasoning.encrypted_content"],
        "prompt_cache_key": "0199a1b2-codex-session",
    }


@pytest.mark.parametrize(("model", "provider"), [("gpt-5-codex", "anthropic"), ("gpt-5-mini", "gemini")])
def test_codex_like_responses_stream(gw, up, model: str, provider: str) -> None:
    client = openai.OpenAI(base_url=gw.base + "/v1", api_key=gw.api_key, max_retries=0)
    items = [
        {
            "type": "message",
            "role": "developer",
            "content": [{"type": "input_text", "text": "Sandbox: read-only."}],
        },
        {
            "type": "message",
            "role": "user",
            "content": [{"type": "input_text", "text": "<environment_context>cwd=/w</environment_context>"}],
        },
        {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "Weather in Lyon?"}]},
    ]

    def turn(items: list[dict]) -> tuple[list[Any], Any]:
        raw = client.responses.with_raw_response.create(**codex_body(model, items))
        assert raw.headers["x-levity-account"] == LABELS[provider]
        assert raw.headers["x-mapped-model"] == {"anthropic": "claude-up", "gemini": "gemini-up"}[provider]
        events = list(raw.parse())
        types = [e.type for e in events]
        assert types[:2] == ["response.created", "response.in_progress"]
        assert types[-1] == "response.completed" and types.count("response.completed") == 1
        assert [e.sequence_number for e in events] == list(
            range(events[0].sequence_number, events[0].sequence_number + len(events))
        )
        done = [e.item for e in events if e.type == "response.output_item.done"]
        added = [e.item for e in events if e.type == "response.output_item.added"]
        assert len(done) == len(added) >= 1
        final = events[-1].response
        assert final.status == "completed" and final.model == model
        # the completed response lists exactly the finished items, in order
        assert [i.id for i in final.output] == [i.id for i in done]
        assert (
            final.usage is not None
            and final.usage.total_tokens == final.usage.input_tokens + final.usage.output_tokens
        )
        return done, final

    done, final = turn(items)
    calls = [i for i in done if i.type == "function_call"]
    assert [(c.name, json.loads(c.arguments), c.status) for c in calls] == [
        ("get_weather", {"city": "Lyon"}, "completed")
    ]
    assert calls[0].call_id
    assert (final.usage.input_tokens, final.usage.output_tokens) == SCENARIOS["tools"]["usage"][:2]

    # Codex (store:false) sends the items back as it got them, then the tool output.
    items += [i.model_dump(exclude_none=True) for i in final.output]
    items.append({"type": "function_call_output", "call_id": calls[0].call_id, "output": TOOL_RESULT})
    done, final = turn(items)
    # Gemini gets includeThoughts (summary:auto) and thinks: its thought is a reasoning summary.
    scenario = SCENARIOS["thinking" if provider == "gemini" else "text"]
    messages = [i for i in done if i.type == "message"]
    assert [c.text for m in messages for c in m.content] == ["".join(scenario["text"])]
    assert final.output_text == "".join(scenario["text"])
    reasoning = [i for i in done if i.type == "reasoning"]
    assert [s.text for r in reasoning for s in r.summary] == (
        ["".join(scenario["thinking"])] if provider == "gemini" else []
    )
    assert (final.usage.input_tokens, final.usage.input_tokens_details.cached_tokens) == (
        scenario["usage"][0],
        scenario["usage"][2],
    )
    assert final.usage.output_tokens_details.reasoning_tokens == scenario["usage"][3]

    if provider == "gemini":
        # Turn 3: the reasoning item goes back with its encrypted content; Gemini gets its own
        # thought signature back on the thought.
        assert reasoning[0].encrypted_content
        items += [i.model_dump(exclude_none=True) for i in final.output]
        items.append(
            {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "Thanks."}]}
        )
        turn(items)
        third = upstream(up, provider)[2]
        thoughts = [p for c in third.body["contents"] for p in c["parts"] if p.get("thought")]
        assert [(t["text"], t["thoughtSignature"]) for t in thoughts] == [
            ("".join(scenario["thinking"]), SCENARIOS["thinking"]["signature"])
        ]

    first, second = upstream(up, provider)[:2]
    if provider == "anthropic":
        assert [t["text"] for t in first.body["system"]] == [
            "You are Codex, a coding agent.",
            "Sandbox: read-only.",
        ]
        assert [t["name"] for t in first.body["tools"]] == [
            "shell",
            "get_weather",
            "apply_patch",
        ]  # web_search dropped
        assert first.body["thinking"]["type"] == "enabled"
        results = [b for m in second.body["messages"] for b in m["content"] if b["type"] == "tool_result"]
        assert [r["tool_use_id"] for r in results] == [TOOL_IDS["anthropic"]]
    else:
        assert "Sandbox: read-only." in first.body["systemInstruction"]["parts"][0]["text"]
        names = [d["name"] for d in first.body["tools"][0]["functionDeclarations"]]
        assert names == ["shell", "get_weather", "apply_patch"]
        assert first.body["generationConfig"]["thinkingConfig"]["thinkingBudget"] > 0
        responses = [
            p["functionResponse"]
            for c in second.body["contents"]
            for p in c["parts"]
            if "functionResponse" in p
        ]
        assert [r["name"] for r in responses] == ["get_weather"]


# -- Claude Code ----------------------------------------------------------------------------------------
CLAUDE_BETAS = ["claude-code-20250219", "interleaved-thinking-2025-05-14", "context-management-2025-06-27"]
CLAUDE_TOOLS = [
    {
        "name": "Bash",
        "description": "Run a command",
        "input_schema": {
            "$schema": "http://json-schema.org/draft-07/schema#",
            "type": "object",
            "properties": {"command": {"type": "string"}},
            "required": ["command"],
            "additionalProperties": False,
        },
    },
    {
        "name": "get_weather",
        "description": "Current weather",
        "input_schema": WEATHER_SCHEMA,
        "cache_control": {"type": "ephemeral"},
    },
]


def claude_args(model: str, messages: list[dict]) -> dict[str, Any]:
    return {
        "model": model,
        "max_tokens": 32000,
        "system": [
            {"type": "text", "text": "You are Claude Code, Anthropic's official CLI for Claude."},
            {"type": "text", "text": "Answer briefly.", "cache_control": {"type": "ephemeral"}},
        ],
        "messages": messages,
        "tools": CLAUDE_TOOLS,
        "metadata": {"user_id": "user_" + "a1" * 32 + "_account__session_0199a1b2-c3d4"},
        "betas": CLAUDE_BETAS,
        "extra_query": {"beta": "true"},  # what Claude Code's SDK adds on its beta path
        "extra_body": {
            "thinking": {"type": "adaptive"},
            "output_config": {"effort": "medium"},
            "context_management": {"edits": [{"type": "clear_thinking_20251015", "keep": "all"}]},
        },
    }


@pytest.mark.parametrize(
    ("model", "provider"), [("claude-sonnet-4-6", "gemini"), ("claude-haiku-4-5-20251001", "openai")]
)
def test_claude_code_like_messages_stream(gw, up, model: str, provider: str) -> None:
    client = anthropic.Anthropic(base_url=gw.base, api_key=gw.api_key, max_retries=0)
    messages: list[dict] = [
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "<system-reminder>Today is Monday.</system-reminder>"},
                {"type": "text", "text": "Weather in Lyon?", "cache_control": {"type": "ephemeral"}},
            ],
        },
        {"role": "system", "content": "Reminder: use the tools."},
    ]

    def turn(messages: list[dict]) -> tuple[list[Any], Any]:
        with client.beta.messages.stream(**claude_args(model, messages)) as s:
            events = list(s)
            final = s.get_final_message()
            assert s.response.url.params.get("beta") == "true"
            assert s.response.headers["x-levity-account"] == LABELS[provider]
        types = [e.type for e in events]
        assert types[0] == "message_start" and types[-1] == "message_stop"
        starts = [e.index for e in events if e.type == "content_block_start"]
        stops = [e.index for e in events if e.type == "content_block_stop"]
        assert starts == stops == list(range(len(final.content)))  # every block closed, in order
        assert types.count("message_delta") == 1
        assert final.model == model
        return events, final

    _, final = turn(messages)
    assert final.stop_reason == "tool_use"
    (use,) = [b for b in final.content if b.type == "tool_use"]
    assert (use.name, use.input) == ("get_weather", {"city": "Lyon"})
    assert final.usage.output_tokens == SCENARIOS["tools"]["usage"][1]

    messages += [
        {"role": "assistant", "content": [b.model_dump(exclude_none=True) for b in final.content]},
        {
            "role": "user",
            "content": [
                {
                    "type": "tool_result",
                    "tool_use_id": use.id,
                    "content": [{"type": "text", "text": TOOL_RESULT}],
                }
            ],
        },
    ]
    _, final = turn(messages)
    assert final.stop_reason == "end_turn"
    first, second = upstream(up, provider)[:2]
    if provider == "gemini":
        # Gemini thinks (adaptive -> a budget) and its thought comes back as a signed thinking block.
        thinking = [b for b in final.content if b.type == "thinking"]
        assert [b.thinking for b in thinking] == ["".join(SCENARIOS["thinking"]["thinking"])]
        assert thinking[0].signature.startswith("lv1:gemini:")
        assert "".join(b.text for b in final.content if b.type == "text") == "".join(
            SCENARIOS["thinking"]["text"]
        )
        system = first.body["systemInstruction"]["parts"][0]["text"]
        assert "Claude Code" in system and "Reminder: use the tools." in system
        decls = first.body["tools"][0]["functionDeclarations"]
        assert [d["name"] for d in decls] == ["Bash", "get_weather"]
        assert "$schema" not in json.dumps(decls) and "additionalProperties" not in json.dumps(decls)
        assert first.body["generationConfig"]["thinkingConfig"]["includeThoughts"] is True
        responses = [
            p["functionResponse"]
            for c in second.body["contents"]
            for p in c["parts"]
            if "functionResponse" in p
        ]
        assert [(r["name"], r["response"]) for r in responses] == [("get_weather", {"output": TOOL_RESULT})]
        # Turn 3: Claude Code replays the thinking block; Gemini gets its own signature back.
        messages += [
            {"role": "assistant", "content": [b.model_dump(exclude_none=True) for b in final.content]},
            {"role": "user", "content": "Thanks."},
        ]
        turn(messages)
        third = upstream(up, provider)[2]
        thoughts = [p for c in third.body["contents"] for p in c["parts"] if p.get("thought")]
        assert [t["thoughtSignature"] for t in thoughts] == [SCENARIOS["thinking"]["signature"]]
    else:
        assert "".join(b.text for b in final.content if b.type == "text") == TEXT
        assert first.body["messages"][0]["role"] == "system"
        assert "Reminder: use the tools." in first.body["messages"][0]["content"]
        assert len(first.body["user"]) <= 64  # OpenAI's limit; Claude Code's id is longer
        assert first.body["reasoning_effort"] == "medium"
        assert [m["tool_call_id"] for m in second.body["messages"] if m["role"] == "tool"] == [
            TOOL_IDS["openai"]
        ]
    for call in (first, second):
        assert "anthropic-beta" not in call.headers and gw.api_key not in json.dumps(call.body)


# -- Gemini CLI -----------------------------------------------------------------------------------------
def sse_data(text: str) -> list[dict]:
    return [json.loads(line[6:]) for line in text.splitlines() if line.startswith("data: ")]


def gemini_cli_body(contents: list[dict]) -> dict[str, Any]:
    return {
        "contents": contents,
        "systemInstruction": {
            "role": "user",
            "parts": [{"text": "You are Gemini CLI, an interactive agent."}],
        },
        "tools": [
            {
                "functionDeclarations": [
                    {
                        "name": "read_file",
                        "description": "Read a file",
                        "parametersJsonSchema": {
                            "type": "object",
                            "properties": {"path": {"type": "string"}},
                            "required": ["path"],
                        },
                    },
                    {
                        "name": "get_weather",
                        "description": "Current weather",
                        "parametersJsonSchema": WEATHER_SCHEMA,
                    },
                ]
            }
        ],
        "generationConfig": {
            "temperature": 0,
            "topP": 1,
            "thinkingConfig": {"includeThoughts": True, "thinkingBudget": 8192},
        },
    }


@pytest.mark.parametrize(
    ("model", "provider"), [("gemini-2.5-pro", "anthropic"), ("gemini-2.5-flash", "openai")]
)
def test_gemini_cli_like_stream(gw, up, model: str, provider: str) -> None:
    url = f"{gw.base}/v1beta/models/{model}:streamGenerateContent?alt=sse"
    headers = {"x-goog-api-key": gw.api_key, "x-goog-api-client": "gl-node/22 gemini-cli/0.9"}
    contents: list[dict] = [{"role": "user", "parts": [{"text": "Weather in Lyon?"}]}]

    def turn(contents: list[dict]) -> list[dict]:
        r = httpx.post(url, json=gemini_cli_body(contents), headers=headers, timeout=10)
        assert r.status_code == 200, r.text
        assert r.headers["content-type"].startswith("text/event-stream")
        assert r.headers["x-levity-account"] == LABELS[provider]
        frames = sse_data(r.text)
        for f in frames:  # every frame is a valid GenerateContentResponse for the SDK
            gtypes.GenerateContentResponse.model_validate(f)
        assert all("finishReason" not in f["candidates"][0] for f in frames[:-1])
        assert frames[-1]["candidates"][0]["finishReason"] == "STOP"
        assert frames[-1]["usageMetadata"]["totalTokenCount"] > 0
        assert {f["modelVersion"] for f in frames} == {model}  # the model the CLI asked for
        return frames

    frames = turn(contents)
    parts = [p for f in frames for p in f["candidates"][0]["content"]["parts"]]
    calls = [p["functionCall"] for p in parts if "functionCall" in p]
    assert [(c["name"], c["args"]) for c in calls] == [("get_weather", {"city": "Lyon"})]
    assert calls[0]["id"] == TOOL_IDS[provider]
    assert frames[-1]["usageMetadata"]["promptTokenCount"] == SCENARIOS["tools"]["usage"][0]

    # The CLI sends the model turn back as it got it, then the response with the call's id and name.
    model_parts = [p for p in parts if p.get("text") or "functionCall" in p or p.get("thoughtSignature")]
    contents += [
        {"role": "model", "parts": model_parts},
        {
            "role": "user",
            "parts": [
                {
                    "functionResponse": {
                        "id": calls[0]["id"],
                        "name": "get_weather",
                        "response": {"output": TOOL_RESULT},
                    }
                }
            ],
        },
    ]
    frames = turn(contents)
    text = "".join(
        p.get("text", "")
        for f in frames
        for p in f["candidates"][0]["content"]["parts"]
        if not p.get("thought")
    )
    assert text == TEXT
    first, second = upstream(up, provider)
    if provider == "anthropic":
        assert first.body["system"][0]["text"] == "You are Gemini CLI, an interactive agent."
        assert [t["name"] for t in first.body["tools"]] == ["read_file", "get_weather"]
        assert first.body["thinking"] == {"type": "enabled", "budget_tokens": 8192}
        assert "temperature" not in first.body  # Anthropic refuses temperature with thinking
        uses = [b for m in second.body["messages"] for b in m["content"] if b["type"] == "tool_use"]
        results = [b for m in second.body["messages"] for b in m["content"] if b["type"] == "tool_result"]
        assert [u["id"] for u in uses] == [r["tool_use_id"] for r in results] == [TOOL_IDS["anthropic"]]
    else:
        assert first.body["messages"][0] == {
            "role": "system",
            "content": "You are Gemini CLI, an interactive agent.",
        }
        assert first.body["reasoning_effort"] == "medium"
        assert first.body["stream"] is True and first.body["stream_options"] == {"include_usage": True}
        assert [m["tool_call_id"] for m in second.body["messages"] if m["role"] == "tool"] == [
            TOOL_IDS["openai"]
        ]
