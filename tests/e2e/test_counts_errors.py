"""Token counting, refusals and failures on translated pairs, through the real gateway.

Counting uses the account provider's own count endpoint (Anthropic, Gemini) or, for OpenAI
accounts, a flagged local estimate with no upstream call. Requests a target cannot express are
refused in the client's own error shape before any upstream call. Upstream failures before the
first byte move to another account; after it they end the stream with the client's error event.
"""

from __future__ import annotations

from typing import Any

import anthropic
import httpx
import openai
import pytest
from google import genai
from google.genai import errors as gerrors
from google.genai import types as gtypes

from tests.integration.conftest import add_account, base_for
from tests.integration.fake_upstream import end_early, error, reset

from .conftest import KEYS, LABELS, SCENARIOS, responder, stream_request
from .drivers import WEATHER_TOOL

TEXT = "".join(SCENARIOS["text"]["text"])
ESTIMATE = "x-levity-token-estimate"


def anthropic_client(gw) -> anthropic.Anthropic:
    return anthropic.Anthropic(base_url=gw.base, api_key=gw.api_key, max_retries=0)


def openai_client(gw) -> openai.OpenAI:
    return openai.OpenAI(base_url=gw.base + "/v1", api_key=gw.api_key, max_retries=0)


def gemini_client(gw) -> genai.Client:
    return genai.Client(
        api_key=gw.api_key, http_options=gtypes.HttpOptions(base_url=gw.base, api_version="v1beta")
    )


def upstream_calls(up, provider: str) -> list[Any]:
    return [c for c in up.calls(KEYS[provider]) if c.path not in ("/v1/models", "/v1beta/models")]


# -- counting ---------------------------------------------------------------------------------------
def test_anthropic_count_tokens_uses_the_gemini_count_endpoint(gw, up):
    raw = anthropic_client(gw).messages.with_raw_response.count_tokens(
        model="gemini-up",
        system="Be brief.",
        messages=[{"role": "user", "content": "Say hello."}],
        tools=[
            {
                "name": "get_weather",
                "description": "Current weather",
                "input_schema": WEATHER_TOOL["parameters"],
            }
        ],
    )
    assert raw.parse().input_tokens == 42
    assert raw.headers["x-levity-account"] == LABELS["gemini"]
    assert ESTIMATE not in raw.headers
    (call,) = upstream_calls(up, "gemini")
    assert call.path == "/v1beta/models/gemini-up:countTokens"
    inner = call.body["generateContentRequest"]
    assert inner["model"] == "models/gemini-up"
    assert inner["contents"] == [{"role": "user", "parts": [{"text": "Say hello."}]}]
    assert inner["tools"][0]["functionDeclarations"][0]["name"] == "get_weather"


def test_gemini_count_tokens_uses_the_anthropic_count_endpoint(gw, up):
    client = gemini_client(gw)
    got = client.models.count_tokens(model="claude-up", contents="Say hello.")
    assert got.total_tokens == 42
    (call,) = upstream_calls(up, "anthropic")
    assert call.path == "/v1/messages/count_tokens"
    assert call.body["model"] == "claude-up"
    assert call.body["messages"] == [{"role": "user", "content": [{"type": "text", "text": "Say hello."}]}]


@pytest.mark.parametrize("front", ["anthropic", "gemini"])
def test_count_tokens_on_an_openai_account_is_a_flagged_local_estimate(gw, up, front: str):
    def count(text: str) -> tuple[int, httpx.Headers]:
        if front == "anthropic":
            r = anthropic_client(gw).messages.with_raw_response.count_tokens(
                model="gpt-up", messages=[{"role": "user", "content": text}]
            )
            return r.parse().input_tokens, r.headers
        r = httpx.post(
            f"{gw.base}/v1beta/models/gpt-up:countTokens",
            headers={"x-goog-api-key": gw.api_key},
            json={"contents": [{"role": "user", "parts": [{"text": text}]}]},
        )
        assert r.status_code == 200, r.text
        return r.json()["totalTokens"], r.headers

    short, headers = count("Say hello.")
    long, _ = count("Say hello. " * 200)
    assert headers[ESTIMATE] == "chars/4"
    assert headers["x-levity-account"] == LABELS["openai"]
    assert 0 < short < long  # an estimate that follows the prompt, never a constant
    assert long == -(-len("Say hello. " * 200) // 4)
    assert upstream_calls(up, "openai") == []  # OpenAI has no count endpoint: nothing was sent
    if front == "gemini":  # the SDK reads the estimate too
        client = gemini_client(gw)
        assert client.models.count_tokens(model="gpt-up", contents="Say hello.").total_tokens == short


# -- refusals -----------------------------------------------------------------------------------------
def test_requests_a_target_cannot_express_are_refused_in_the_clients_shape(gw, up):
    with pytest.raises(openai.BadRequestError) as chat_err:
        openai_client(gw).chat.completions.create(
            model="claude-up", messages=[{"role": "user", "content": "hi"}], n=2
        )
    assert chat_err.value.body["message"].startswith("n > 1")  # the OpenAI error object

    with pytest.raises(anthropic.BadRequestError) as msg_err:
        anthropic_client(gw).messages.create(
            model="gemini-up",
            max_tokens=100,
            messages=[{"role": "user", "content": "news?"}],
            tools=[{"type": "web_search_20250305", "name": "web_search", "max_uses": 1}],
        )
    assert msg_err.value.body["type"] == "error"
    assert msg_err.value.body["error"]["type"] == "invalid_request_error"
    assert "web_search" in msg_err.value.body["error"]["message"]

    gem = gemini_client(gw)
    with pytest.raises(gerrors.ClientError) as gem_err:
        gem.models.generate_content(
            model="gpt-up", contents="hi", config=gtypes.GenerateContentConfig(candidate_count=2)
        )
    assert gem_err.value.code == 400
    assert "candidateCount" in gem_err.value.message

    with pytest.raises(openai.BadRequestError) as resp_err:
        openai_client(gw).responses.create(
            model="gemini-up",
            input=[{"role": "user", "content": [{"type": "input_file", "file_id": "file-abc"}]}],
        )
    assert "file" in resp_err.value.message.lower()
    for provider in KEYS:
        assert upstream_calls(up, provider) == []


# -- failures -----------------------------------------------------------------------------------------
ROTATION_KEYS = {"anthropic": "sk-ant-rot-0004", "gemini": "AIza-rot-0005"}


@pytest.fixture(scope="module")
def rotation(gw, fake) -> dict[str, str]:
    """Two accounts of different wires serving `rot-up`: label by key."""
    labels = {}
    for provider, key in ROTATION_KEYS.items():
        fake.respond(key, responder)
        labels[key] = f"rot-{provider}"
        add_account(gw, provider, key, labels[key], ["rot-up"], base_for(fake, provider))
    return labels


ERROR_EVENTS = {  # a 200 stream whose first event is the provider's own error
    "anthropic": 'event: error\ndata: {"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}\n\n',
    "gemini": 'data: {"error":{"code":503,"message":"The model is overloaded.","status":"UNAVAILABLE"}}\r\n\r\n',
}


@pytest.mark.parametrize(
    ("how", "stream"),
    [("status", False), ("status", True), ("error_event", True)],
    ids=["status-json", "status-stream", "event-stream"],
)
def test_upstream_failure_before_the_first_byte_moves_to_another_account(
    gw, up, rotation, how: str, stream: bool
):
    client = openai_client(gw)
    prompt = [{"role": "user", "content": f"rotate me ({how}, {stream})"}]
    first = client.chat.completions.with_raw_response.create(model="rot-up", messages=prompt)
    bound = first.headers["x-levity-account"]  # the session now sticks to this account
    bound_key = next(k for k, label in rotation.items() if label == bound)
    other = next(label for label in rotation.values() if label != bound)
    if how == "status":
        body = {"error": {"code": 503, "message": "The model is overloaded.", "type": "overloaded_error"}}
        up.plan(bound_key, error(503, body))
    else:
        left = [1]

        def error_first(rec: Any, streamed: bool) -> Any:
            if left and streamed:
                left.pop()
                return ERROR_EVENTS[bound.removeprefix("rot-")]
            return responder(rec, streamed)

        up.respond(bound_key, error_first)
    try:
        raw = client.chat.completions.with_raw_response.create(model="rot-up", messages=prompt, stream=stream)
    finally:
        up.respond(bound_key, responder)
    assert raw.headers["x-levity-account"] == other
    reply = raw.parse()
    chunks = list(reply) if stream else []
    text = (
        "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
        if stream
        else reply.choices[0].message.content
    )
    assert text == TEXT
    assert (
        "overloaded" not in str([c.model_dump() for c in chunks]).lower()
    )  # the client never saw the failure
    assert len([c for c in up.calls(bound_key) if ":" in c.path or "messages" in c.path]) == 2


def test_an_upstream_client_error_is_returned_in_the_clients_shape_without_rotating(gw, up):
    up.plan(
        KEYS["anthropic"],
        error(
            400,
            {
                "type": "error",
                "error": {"type": "invalid_request_error", "message": "prompt is too long: 300000 tokens"},
            },
        ),
    )
    client = gemini_client(gw)
    with pytest.raises(gerrors.ClientError) as err:
        client.models.generate_content(model="claude-up", contents="hi")
    assert err.value.code == 400
    assert "prompt is too long" in err.value.message
    assert len(upstream_calls(up, "anthropic")) == 1


STREAM_CASES = [
    ("openai_chat", "anthropic"),
    ("openai_responses", "gemini"),
    ("anthropic_messages", "openai"),
    ("gemini", "anthropic"),
]


def last_event(text: str) -> str:
    return [f for f in text.replace("\r\n", "\n").split("\n\n") if f.strip()][-1]


@pytest.mark.parametrize("how", ["reset", "end_early"])
@pytest.mark.parametrize(("front", "provider"), STREAM_CASES, ids=[f"{f}-{p}" for f, p in STREAM_CASES])
def test_a_stream_broken_after_the_first_byte_ends_with_the_clients_error_event(gw, up, front, provider, how):
    # frames before the break: the first text delta gets through (see the REPLIES streams)
    after = {"openai": 3, "anthropic": 4, "gemini": 1}[provider]
    up.plan(KEYS[provider], reset(after) if how == "reset" else end_early(after))
    path, headers, body = stream_request(gw, front, provider)
    r = httpx.post(gw.base + path, json=body, headers=headers, timeout=10)
    assert r.status_code == 200  # the stream had started: the error travels inside it
    tail = last_event(r.text)
    if front == "anthropic_messages":
        assert tail.startswith("event: error") and '"api_error"' in tail
        assert "message_stop" not in r.text
    elif front == "openai_responses":
        assert tail.startswith("event: response.failed") and '"status":"failed"' in tail
        assert "response.completed" not in r.text
    elif front == "openai_chat":
        assert tail.startswith('data: {"error"') and "[DONE]" not in r.text
    else:
        assert tail.startswith('data: {"error"') and '"finishReason"' not in r.text
    assert "Hello" in r.text  # what came before the break reached the client
    assert len(upstream_calls(up, provider)) == 1  # never retried once the client saw bytes


def test_usage_of_translated_requests_reaches_the_request_log(gw, up):
    client = gemini_client(gw)
    client.models.generate_content(model="claude-up", contents="log me")
    list(client.models.generate_content_stream(model="gpt-up", contents="log me too"))
    with gw.admin() as admin:
        rows = admin.get("/api/monitor/requests", params={"limit": 2}).json()
    items = rows.get("items") or rows.get("requests") or rows.get("data")
    by_model = {r["mapped_model"]: r for r in items}
    usage = SCENARIOS["text"]["usage"]
    for model, label in (("claude-up", LABELS["anthropic"]), ("gpt-up", LABELS["openai"])):
        rec = by_model[model]
        assert rec["account"] == label and rec["status"] == 200
        assert (rec["input_tokens"], rec["output_tokens"], rec["cached_tokens"]) == usage[:3]
