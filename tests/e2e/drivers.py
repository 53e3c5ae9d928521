"""Client drivers: one conversation turn through the gateway with each official SDK.

A driver keeps the conversation in its own wire's shape, sends it (streamed or not), and reads
back what the client sees: text, tool calls, usage, the gateway's headers and, for streams, the
event types in order. Streams are folded by the SDKs' own accumulators, so a stream they cannot
fold fails the test.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import anthropic
import openai
from google import genai
from google.genai import types as gtypes
from openai.lib.streaming.chat import ChatCompletionStreamState

WEATHER_TOOL = {
    "name": "get_weather",
    "description": "Current weather",
    "parameters": {
        "type": "object",
        "properties": {"city": {"type": "string"}, "days": {"type": "integer", "exclusiveMinimum": 0}},
        "required": ["city"],
        "additionalProperties": False,
    },
}
TOOL_RESULT = "14C light rain"


@dataclass
class Turn:
    headers: dict[str, str]
    text: str = ""
    calls: list[tuple[str, str, dict]] = field(default_factory=list)  # (id, name, arguments)
    usage: tuple[int, int, int, int] = (0, 0, 0, 0)  # input (incl. cached), output, cached, reasoning
    events: list[str] = field(default_factory=list)  # stream event types, in order
    raw: Any = None  # the SDK's final object, for front-specific checks


def _lower(headers: Any) -> dict[str, str]:
    return {k.lower(): v for k, v in dict(headers).items()}


# -- OpenAI Chat Completions ----------------------------------------------------------------------
class Chat:
    def __init__(self, base: str, key: str) -> None:
        self.client = openai.OpenAI(base_url=base + "/v1", api_key=key, max_retries=0)

    def start(self, prompt: str) -> list[dict]:
        return [{"role": "system", "content": "Be brief."}, {"role": "user", "content": prompt}]

    def send(self, model: str, history: list[dict], stream: bool, tools: bool = True, **kw: Any) -> Turn:
        extra: dict[str, Any] = {"tools": [{"type": "function", "function": WEATHER_TOOL}]} if tools else {}
        if stream:
            extra["stream_options"] = {"include_usage": True}
        raw = self.client.chat.completions.with_raw_response.create(
            model=model, messages=history, stream=stream, **extra, **kw
        )
        events: list[str] = []
        if stream:
            state = ChatCompletionStreamState()
            for chunk in raw.parse():
                events.append("usage" if not chunk.choices else chunk.choices[0].finish_reason or "delta")
                state.handle_chunk(chunk)
            done = state.get_final_completion()
        else:
            done = raw.parse()
        msg = done.choices[0].message
        u = done.usage
        assert u is not None, "no usage reported to the client"
        return Turn(
            _lower(raw.headers),
            msg.content or "",
            [(c.id, c.function.name, json.loads(c.function.arguments)) for c in msg.tool_calls or []],
            (
                u.prompt_tokens,
                u.completion_tokens,
                (u.prompt_tokens_details.cached_tokens or 0) if u.prompt_tokens_details else 0,
                (u.completion_tokens_details.reasoning_tokens or 0) if u.completion_tokens_details else 0,
            ),
            events,
            done,
        )

    def answer(self, history: list[dict], turn: Turn) -> list[dict]:
        msg = turn.raw.choices[0].message
        assistant = {
            "role": "assistant",
            "content": msg.content,
            "tool_calls": [
                {
                    "id": c.id,
                    "type": "function",
                    "function": {"name": c.function.name, "arguments": c.function.arguments},
                }
                for c in msg.tool_calls
            ],
        }
        results = [{"role": "tool", "tool_call_id": cid, "content": TOOL_RESULT} for cid, _, _ in turn.calls]
        return [*history, assistant, *results]


# -- OpenAI Responses -----------------------------------------------------------------------------
class Responses:
    def __init__(self, base: str, key: str) -> None:
        self.client = openai.OpenAI(base_url=base + "/v1", api_key=key, max_retries=0)

    def start(self, prompt: str) -> list[dict]:
        return [{"type": "message", "role": "user", "content": [{"type": "input_text", "text": prompt}]}]

    def send(self, model: str, history: list[dict], stream: bool, tools: bool = True, **kw: Any) -> Turn:
        extra: dict[str, Any] = {"tools": [{"type": "function", **WEATHER_TOOL}]} if tools else {}
        raw = self.client.responses.with_raw_response.create(
            model=model, input=history, instructions="Be brief.", store=False, stream=stream, **extra, **kw
        )
        events: list[str] = []
        if stream:
            stream_events = list(raw.parse())
            events = [e.type for e in stream_events]
            assert events[-1] == "response.completed", events
            seqs = [e.sequence_number for e in stream_events]
            assert seqs == list(range(seqs[0], seqs[0] + len(seqs))), "sequence numbers must count up"
            done = stream_events[-1].response
        else:
            done = raw.parse()
        u = done.usage
        assert u is not None, "no usage reported to the client"
        calls = [
            (i.call_id, i.name, json.loads(i.arguments)) for i in done.output if i.type == "function_call"
        ]
        return Turn(
            _lower(raw.headers),
            done.output_text,
            calls,
            (
                u.input_tokens,
                u.output_tokens,
                u.input_tokens_details.cached_tokens,
                u.output_tokens_details.reasoning_tokens,
            ),
            events,
            done,
        )

    def answer(self, history: list[dict], turn: Turn) -> list[dict]:
        # Codex with store:false sends the whole output back, then the tool outputs.
        items = [i.model_dump(exclude_none=True) for i in turn.raw.output]
        outputs = [
            {"type": "function_call_output", "call_id": cid, "output": TOOL_RESULT}
            for cid, _, _ in turn.calls
        ]
        return [*history, *items, *outputs]


# -- OpenAI legacy Completions ----------------------------------------------------------------------
class Completions:
    def __init__(self, base: str, key: str) -> None:
        self.client = openai.OpenAI(base_url=base + "/v1", api_key=key, max_retries=0)

    def send(self, model: str, prompt: str, stream: bool) -> Turn:
        extra: dict[str, Any] = {"stream_options": {"include_usage": True}} if stream else {}
        raw = self.client.completions.with_raw_response.create(
            model=model, prompt=prompt, max_tokens=50, stream=stream, **extra
        )
        if stream:
            chunks = list(raw.parse())
            text = "".join(c.choices[0].text for c in chunks if c.choices)
            finishes = [
                c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason
            ]
            u = chunks[-1].usage
            events = [*finishes, "usage" if u else "no-usage"]
        else:
            done = raw.parse()
            text, u, events = done.choices[0].text, done.usage, [done.choices[0].finish_reason]
        assert u is not None, "no usage reported to the client"
        return Turn(_lower(raw.headers), text, [], (u.prompt_tokens, u.completion_tokens, 0, 0), events)


# -- Anthropic Messages -------------------------------------------------------------------------------
class Messages:
    def __init__(self, base: str, key: str) -> None:
        self.client = anthropic.Anthropic(base_url=base, api_key=key, max_retries=0)

    def start(self, prompt: str) -> list[dict]:
        return [{"role": "user", "content": prompt}]

    def send(self, model: str, history: list[dict], stream: bool, tools: bool = True, **kw: Any) -> Turn:
        extra: dict[str, Any] = {}
        if tools:
            extra["tools"] = [
                {
                    "name": WEATHER_TOOL["name"],
                    "description": WEATHER_TOOL["description"],
                    "input_schema": WEATHER_TOOL["parameters"],
                }
            ]
        args = {"model": model, "max_tokens": 1024, "system": "Be brief.", "messages": history, **extra, **kw}
        events: list[str] = []
        if stream:
            with self.client.messages.stream(**args) as s:
                for ev in s:
                    events.append(ev.type)
                done = s.get_final_message()
                headers = _lower(s.response.headers)
        else:
            raw = self.client.messages.with_raw_response.create(**args)
            done, headers = raw.parse(), _lower(raw.headers)
        u = done.usage
        cached = u.cache_read_input_tokens or 0
        return Turn(
            headers,
            "".join(b.text for b in done.content if b.type == "text"),
            [(b.id, b.name, b.input) for b in done.content if b.type == "tool_use"],
            (u.input_tokens + cached + (u.cache_creation_input_tokens or 0), u.output_tokens, cached, 0),
            events,
            done,
        )

    def answer(self, history: list[dict], turn: Turn) -> list[dict]:
        blocks = [b.model_dump(exclude_none=True) for b in turn.raw.content]
        results = [
            {"type": "tool_result", "tool_use_id": cid, "content": TOOL_RESULT} for cid, _, _ in turn.calls
        ]
        return [*history, {"role": "assistant", "content": blocks}, {"role": "user", "content": results}]


# -- Gemini ---------------------------------------------------------------------------------------------
class Gemini:
    def __init__(self, base: str, key: str) -> None:
        self.client = genai.Client(
            api_key=key, http_options=gtypes.HttpOptions(base_url=base, api_version="v1beta")
        )

    def start(self, prompt: str) -> list[gtypes.Content]:
        return [gtypes.Content(role="user", parts=[gtypes.Part(text=prompt)])]

    def send(
        self, model: str, history: list[gtypes.Content], stream: bool, tools: bool = True, **kw: Any
    ) -> Turn:
        config = gtypes.GenerateContentConfig(
            system_instruction="Be brief.",
            tools=[
                gtypes.Tool(
                    function_declarations=[
                        gtypes.FunctionDeclaration(
                            name=WEATHER_TOOL["name"],
                            description=WEATHER_TOOL["description"],
                            parameters_json_schema=WEATHER_TOOL["parameters"],
                        )
                    ]
                )
            ]
            if tools
            else None,
            automatic_function_calling=gtypes.AutomaticFunctionCallingConfig(disable=True),
            **kw,
        )
        if stream:
            pieces = list(
                self.client.models.generate_content_stream(model=model, contents=history, config=config)
            )
        else:
            pieces = [self.client.models.generate_content(model=model, contents=history, config=config)]
        parts = [p for r in pieces if r.candidates for p in (r.candidates[0].content.parts or [])]
        last = pieces[-1]
        u = last.usage_metadata
        assert u is not None, "no usage reported to the client"
        headers = _lower(last.sdk_http_response.headers if last.sdk_http_response else {})
        return Turn(
            headers,
            "".join(p.text or "" for p in parts if not p.thought),
            [
                (p.function_call.id, p.function_call.name, dict(p.function_call.args or {}))
                for p in parts
                if p.function_call
            ],
            (
                u.prompt_token_count or 0,
                (u.candidates_token_count or 0) + (u.thoughts_token_count or 0),
                u.cached_content_token_count or 0,
                u.thoughts_token_count or 0,
            ),
            [
                str(r.candidates[0].finish_reason)
                if r.candidates and r.candidates[0].finish_reason
                else "piece"
                for r in pieces
            ],
            parts,
        )

    def answer(self, history: list[gtypes.Content], turn: Turn) -> list[gtypes.Content]:
        model_turn = gtypes.Content(role="model", parts=turn.raw)
        responses = gtypes.Content(
            role="user",
            parts=[
                gtypes.Part(
                    function_response=gtypes.FunctionResponse(
                        id=cid, name=name, response={"output": TOOL_RESULT}
                    )
                )
                for cid, name, _ in turn.calls
            ],
        )
        return [*history, model_turn, responses]


DRIVERS = {
    "openai_chat": Chat,
    "openai_responses": Responses,
    "anthropic_messages": Messages,
    "gemini": Gemini,
}
