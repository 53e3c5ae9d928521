"""Every client front against every provider of another wire, through the real gateway and SDKs.

For each pair, streamed and not: a two-turn tool loop (the upstream asks for a tool, the client
answers it, the upstream gets the result under its own call id and name and replies with text),
the gateway's account and model headers, and usage as the client sees it.
"""

from __future__ import annotations

import time
from typing import Any

import httpx
import openai
import pytest

from .conftest import KEYS, LABELS, MODELS, SCENARIOS, TOOL_IDS, stream_request
from .drivers import DRIVERS, TOOL_RESULT, Completions

# The account wire each front would pass through to; every other provider is translated. The
# `openai` provider speaks Chat Completions: Responses clients are translated to it unless the
# account declares the Responses API (the fake upstream's loopback account does not).
NATIVE = {
    "openai_chat": "openai",
    "openai_responses": None,
    "anthropic_messages": "anthropic",
    "gemini": "gemini",
}
PAIRS = [(f, p) for f in NATIVE for p in ("openai", "anthropic", "gemini") if NATIVE[f] != p]
TEXT = "".join(SCENARIOS["text"]["text"])
MODES = pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])


def usage_of(scenario: str) -> tuple[int, int, int, int]:
    return SCENARIOS[scenario]["usage"]


def assert_headers(headers: dict[str, str], provider: str) -> None:
    assert headers.get("x-levity-account") == LABELS[provider], headers
    assert headers.get("x-mapped-model") == MODELS[provider], headers


def upstream_tool_round_trip(provider: str, body: dict[str, Any], front: str = "") -> None:
    """The upstream's own call id and name on both the replayed call and the tool result."""
    call_id = TOOL_IDS[provider]
    if provider == "openai":
        calls = [c for m in body["messages"] if m["role"] == "assistant" for c in m.get("tool_calls") or []]
        assert [(c["id"], c["function"]["name"]) for c in calls] == [(call_id, "get_weather")]
        assert calls[0]["function"]["arguments"].replace(" ", "") == '{"city":"Lyon"}'
        results = [m for m in body["messages"] if m["role"] == "tool"]
        assert [(m["tool_call_id"], m["content"]) for m in results] == [(call_id, TOOL_RESULT)]
    elif provider == "anthropic":
        blocks = [b for m in body["messages"] if isinstance(m["content"], list) for b in m["content"]]
        uses = [b for b in blocks if b["type"] == "tool_use"]
        assert [(b["id"], b["name"], b["input"]) for b in uses] == [
            (call_id, "get_weather", {"city": "Lyon"})
        ]
        results = [b for b in blocks if b["type"] == "tool_result"]
        assert [b["tool_use_id"] for b in results] == [call_id]
        content = results[0]["content"]
        text = content if isinstance(content, str) else "".join(x.get("text", "") for x in content)
        assert text == TOOL_RESULT
        # Anthropic wants the tool result to open the user turn right after the call.
        i = next(i for i, m in enumerate(body["messages"]) if any(b in uses for b in m["content"]))
        assert body["messages"][i + 1]["content"][0]["type"] == "tool_result"
    else:
        parts = [(c["role"], p) for c in body["contents"] for p in c["parts"]]
        calls = [p["functionCall"] for role, p in parts if "functionCall" in p]
        assert [(c["name"], c["args"]) for c in calls] == [("get_weather", {"city": "Lyon"})]
        assert all(c.get("id", call_id) == call_id for c in calls)
        results = [p["functionResponse"] for role, p in parts if "functionResponse" in p]
        assert [r["name"] for r in results] == ["get_weather"]
        assert all(r.get("id", call_id) == call_id for r in results)
        assert TOOL_RESULT in str(results[0]["response"])
        # Anthropic clients carry Gemini's call signature back in a thinking block; the other
        # wires have nowhere to keep it, so their replayed call gets the documented placeholder.
        signed = [p for _, p in parts if "functionCall" in p]
        want = "Z2VtLXNpZy10b29s" if front == "anthropic_messages" else "skip_thought_signature_validator"
        assert signed[0].get("thoughtSignature") == want


@MODES
@pytest.mark.parametrize(("front", "provider"), PAIRS, ids=[f"{f}-{p}" for f, p in PAIRS])
def test_tool_loop(gw, up, front: str, provider: str, stream: bool) -> None:
    client = DRIVERS[front](gw.base, gw.api_key)
    model = MODELS[provider]
    history = client.start("Weather in Lyon?")

    first = client.send(model, history, stream)
    assert_headers(first.headers, provider)
    assert [(name, args) for _, name, args in first.calls] == [("get_weather", {"city": "Lyon"})]
    assert first.calls[0][0], "the client must get a call id to answer"
    assert first.text == ""
    assert first.usage == usage_of("tools")

    second = client.send(model, client.answer(history, first), stream)
    assert_headers(second.headers, provider)
    assert second.text == TEXT
    assert second.calls == []
    assert second.usage == usage_of("text")

    sent = [c for c in up.calls(KEYS[provider]) if "/models" not in c.path or ":" in c.path]
    assert len(sent) == 2, [c.path for c in sent]
    for call in sent:
        assert gw.api_key not in str(call.headers) and gw.api_key not in str(call.body)
        if provider == "gemini":
            assert (
                call.path
                == f"/v1beta/models/gemini-up:{'streamGenerateContent' if stream else 'generateContent'}"
            )
            assert call.query == ({"alt": "sse"} if stream else {})
        else:
            assert call.body["model"] == model
            assert bool(call.body.get("stream")) == stream
    # The first request carried the tool, with its schema cleaned for the target.
    upstream_tool_round_trip(provider, sent[1].body, front)
    if provider == "gemini":
        decl = sent[0].body["tools"][0]["functionDeclarations"][0]
        assert decl["name"] == "get_weather"
        assert "additionalProperties" not in str(decl) and "exclusiveMinimum" not in str(decl)
    if stream:
        if front == "anthropic_messages":
            assert first.events.count("content_block_start") == first.events.count("content_block_stop") >= 1
            assert second.events[-1] == "message_stop"
        elif front == "openai_responses":
            assert "response.output_item.done" in first.events
            assert "response.function_call_arguments.delta" in first.events
        elif front == "openai_chat":
            assert first.events[-2:] == ["tool_calls", "usage"] and second.events[-2:] == ["stop", "usage"]


@MODES
@pytest.mark.parametrize("provider", ["anthropic", "gemini"])
def test_legacy_completions(gw, up, provider: str, stream: bool) -> None:
    turn = Completions(gw.base, gw.api_key).send(MODELS[provider], "Say hello.", stream)
    assert_headers(turn.headers, provider)
    assert turn.text == TEXT
    assert turn.usage[:2] == usage_of("text")[:2]
    assert turn.events == (["stop", "usage"] if stream else ["stop"])
    (call,) = up.calls(KEYS[provider])
    text = str(call.body)
    assert "Say hello." in text


# -- streams go out as they come in ----------------------------------------------------------------
SLOW = [
    ("openai_chat", "anthropic"),
    ("anthropic_messages", "gemini"),
    ("gemini", "openai"),
    ("openai_responses", "gemini"),
]


@pytest.mark.parametrize(("front", "provider"), SLOW, ids=[f"{f}-{p}" for f, p in SLOW])
def test_first_token_leaves_before_the_upstream_finishes(gw, up, front: str, provider: str) -> None:
    from tests.integration.fake_upstream import ok

    up.plan(KEYS[provider], ok(delay=0.2))
    path, headers, body = stream_request(gw, front, provider)
    t0 = time.monotonic()
    first_text = None
    received = b""
    with httpx.stream("POST", gw.base + path, json=body, headers=headers, timeout=10) as r:
        assert r.status_code == 200
        assert r.headers["content-type"].startswith("text/event-stream")
        for chunk in r.iter_raw():
            received += chunk
            if first_text is None and b"Hello" in received:
                first_text = time.monotonic() - t0
    total = time.monotonic() - t0
    assert first_text is not None, received
    assert total >= 0.35  # the upstream took its time...
    assert first_text < total - 0.15, (first_text, total)  # ...and the first words did not wait for it


def test_gemini_stream_without_alt_sse_is_one_json_array(gw, up) -> None:
    """A Gemini client that did not ask for SSE gets the JSON array its wire streams by default."""
    r = httpx.post(
        f"{gw.base}/v1beta/models/claude-up:streamGenerateContent",
        headers={"x-goog-api-key": gw.api_key},
        json={"contents": [{"role": "user", "parts": [{"text": "Say hello."}]}]},
        timeout=10,
    )
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/json")
    pieces = r.json()
    assert isinstance(pieces, list) and len(pieces) >= 2
    text = "".join(p.get("text", "") for piece in pieces for p in piece["candidates"][0]["content"]["parts"])
    assert text == TEXT
    assert pieces[-1]["candidates"][0]["finishReason"] == "STOP"
    assert pieces[-1]["usageMetadata"]["promptTokenCount"] == usage_of("text")[0]
    assert all(piece["modelVersion"] == "claude-up" for piece in pieces)
    (call,) = up.calls(KEYS["anthropic"])
    assert call.body["stream"] is True  # the upstream still streams; only the framing differs


@pytest.mark.parametrize(("front", "provider"), [("anthropic_messages", "openai"), ("openai_chat", "gemini")])
def test_an_upstream_answering_a_stream_request_with_json_still_streams_to_the_client(
    gw, up, front: str, provider: str
) -> None:
    from tests.integration.fake_upstream import Action

    up.plan(KEYS[provider], Action("plain"))
    turn = DRIVERS[front](gw.base, gw.api_key).send(
        MODELS[provider], [{"role": "user", "content": "hi"}], True, tools=False
    )
    assert turn.text == TEXT
    assert turn.usage == usage_of("text")
    assert_headers(turn.headers, provider)


def test_an_openai_account_that_declares_responses_gets_them_passed_through(gw, up) -> None:
    from tests.integration.conftest import add_account, base_for

    add_account(
        gw,
        "openai",
        "sk-e2e-responses-0009",
        "oa-responses",
        ["gpt-resp"],
        base_for(up, "openai"),
        options={"responses_api": True},
    )
    client = openai.OpenAI(base_url=gw.base + "/v1", api_key=gw.api_key, max_retries=0)
    raw = client.responses.with_raw_response.create(model="gpt-resp", input="hi", stream=True)
    assert raw.headers["x-levity-account"] == "oa-responses"
    deltas = [e.delta for e in raw.parse() if e.type == "response.output_text.delta"]
    assert "".join(deltas) == "Hello from the fake upstream."  # the fake's own Responses stream
    assert [c.path for c in up.calls("sk-e2e-responses-0009")] == ["/v1/responses"]
