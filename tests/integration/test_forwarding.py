"""Same-protocol pass-through driven by the real SDKs against fake upstreams on loopback."""

from __future__ import annotations

import anthropic

try:
    import httpx
except ImportError:  # some SDK builds ship it renamed
    import httpx2 as httpx  # type: ignore[no-redef]
import openai
from google import genai
from google.genai import types as gtypes

from .conftest import add_account, base_for
from .fake_upstream import TEXT, Action, wait_until


def test_openai_chat_stream_and_whole_pass_through(gateway, fake):
    add_account(gateway, "openai", "sk-upstream-openai-1111", "oa1", ["gpt-fake"], base_for(fake, "openai"))
    client = openai.OpenAI(base_url=gateway.base + "/v1", api_key=gateway.api_key, max_retries=0)

    raw = client.chat.completions.with_raw_response.create(
        model="gpt-fake",
        messages=[{"role": "user", "content": "hi"}],
        extra_headers={"X-Unknown-Thing": "1"},
        extra_query={"unknown_param": "x"},
    )
    reply = raw.parse()
    assert reply.choices[0].message.content == TEXT
    assert raw.headers["x-levity-account"] == "oa1"
    assert raw.headers["x-mapped-model"] == "gpt-fake"

    chunks = list(
        client.chat.completions.create(
            model="gpt-fake",
            messages=[{"role": "user", "content": "hi"}],
            stream=True,
            stream_options={"include_usage": True},
        )
    )
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == TEXT
    assert chunks[-1].usage.completion_tokens == 6

    calls = fake.calls(path_part="/chat/completions")
    assert len(calls) == 2
    for call in calls:
        # The upstream sees its own key, never the proxy key, and none of the client's extras.
        assert call.headers["authorization"] == "Bearer sk-upstream-openai-1111"
        assert gateway.api_key not in str(call.headers) and gateway.api_key not in str(call.body)
        assert "x-unknown-thing" not in call.headers
        assert call.query == {}


def test_openai_responses_and_completions(gateway, fake):
    # This account declares the Responses API, so Responses clients pass through to it.
    add_account(
        gateway,
        "openai",
        "sk-upstream-openai-2222",
        "oa",
        ["gpt-fake"],
        base_for(fake, "openai"),
        options={"responses_api": True},
    )
    client = openai.OpenAI(base_url=gateway.base + "/v1", api_key=gateway.api_key, max_retries=0)
    events = list(client.responses.create(model="gpt-fake", input="hi", stream=True))
    assert events[-1].type == "response.completed"
    assert "".join(e.delta for e in events if e.type == "response.output_text.delta") == TEXT
    whole = client.responses.create(model="gpt-fake", input="hi")
    assert whole.output_text == TEXT
    comp = client.completions.create(model="gpt-fake", prompt="say hi")
    assert comp.choices[0].text == TEXT
    assert len(fake.calls(path_part="/v1/responses")) == 2  # passed through, not translated


def test_model_mapping_rewrites_only_the_model_and_applies_live(gateway, fake):
    add_account(
        gateway,
        "openai",
        "sk-upstream-openai-3333",
        "oa",
        ["gpt-fake", "gpt-fake-mini"],
        base_for(fake, "openai"),
    )
    gateway.patch({"proxy": {"model_mapping": {"gpt-4*": "gpt-fake", "gpt-4o-mini*": "gpt-fake-mini"}}})
    client = openai.OpenAI(base_url=gateway.base + "/v1", api_key=gateway.api_key, max_retries=0)
    raw = client.chat.completions.with_raw_response.create(
        model="gpt-4o-mini-2024",
        messages=[{"role": "user", "content": "hi"}],
        temperature=0.25,
    )
    assert raw.headers["x-mapped-model"] == "gpt-fake-mini"  # the more specific pattern wins
    sent = fake.calls(path_part="/chat/completions")[-1].body
    assert sent == {
        "model": "gpt-fake-mini",
        "messages": [{"role": "user", "content": "hi"}],
        "temperature": 0.25,
    }
    raw = client.chat.completions.with_raw_response.create(
        model="gpt-4.1", messages=[{"role": "user", "content": "x"}]
    )
    assert raw.headers["x-mapped-model"] == "gpt-fake"
    # Mapping keys show up in the model list next to the accounts' models.
    gateway.patch({"proxy": {"model_mapping": {"my-alias": "gpt-fake"}}})
    ids = {m.id for m in client.models.list()}
    assert {"gpt-fake", "gpt-fake-mini", "my-alias"} <= ids and "gpt-4*" not in ids
    raw = client.chat.completions.with_raw_response.create(
        model="my-alias", messages=[{"role": "user", "content": "x"}]
    )
    assert raw.headers["x-mapped-model"] == "gpt-fake"


def test_anthropic_messages_stream_whole_and_count_tokens(gateway, fake):
    add_account(
        gateway, "anthropic", "sk-ant-upstream-4444", "ant", ["claude-fake"], base_for(fake, "anthropic")
    )
    client = anthropic.Anthropic(base_url=gateway.base, api_key=gateway.api_key, max_retries=0)
    msg = client.messages.create(
        model="claude-fake",
        max_tokens=50,
        messages=[{"role": "user", "content": "hi"}],
        extra_headers={"anthropic-beta": "prompt-caching-2024-07-31"},
    )
    assert msg.content[0].text == TEXT and msg.usage.output_tokens == 6
    with client.messages.stream(
        model="claude-fake", max_tokens=50, messages=[{"role": "user", "content": "hi"}]
    ) as stream:
        text = "".join(stream.text_stream)
        final = stream.get_final_message()
    assert text == TEXT and final.stop_reason == "end_turn"
    count = client.messages.count_tokens(model="claude-fake", messages=[{"role": "user", "content": "hi"}])
    assert count.input_tokens == 42
    calls = fake.calls(path_part="/v1/messages")
    assert len(calls) == 3
    first = calls[0]
    assert first.headers["x-api-key"] == "sk-ant-upstream-4444"
    assert "authorization" not in first.headers  # the SDK's Bearer proxy key is stripped
    assert first.headers["anthropic-version"] == client.default_headers["anthropic-version"]
    assert first.headers["anthropic-beta"] == "prompt-caching-2024-07-31"
    assert all(gateway.api_key not in str(c.headers) for c in calls)


def test_gemini_generate_stream_and_count(gateway, fake):
    add_account(gateway, "gemini", "AIza-upstream-5555", "gem", ["gemini-fake"], base_for(fake, "gemini"))
    client = genai.Client(
        api_key=gateway.api_key, http_options=gtypes.HttpOptions(base_url=gateway.base, api_version="v1beta")
    )
    r = client.models.generate_content(model="gemini-fake", contents="hi")
    assert r.text == TEXT
    pieces = list(client.models.generate_content_stream(model="gemini-fake", contents="hi"))
    assert "".join(p.text for p in pieces) == TEXT
    assert client.models.count_tokens(model="gemini-fake", contents="hi").total_tokens == 42
    calls = fake.calls(path_part="/v1beta/models/gemini-fake")
    assert [c.path.rpartition(":")[2] for c in calls] == [
        "generateContent",
        "streamGenerateContent",
        "countTokens",
    ]
    assert calls[1].query == {"alt": "sse"}
    assert all(c.headers["x-goog-api-key"] == "AIza-upstream-5555" for c in calls)
    assert all(gateway.api_key not in str(c.headers) for c in calls)


def test_gemini_stream_without_sse_passes_the_json_array(gateway, fake):
    add_account(gateway, "gemini", "AIza-upstream-6666", "gem", ["gemini-fake"], base_for(fake, "gemini"))
    r = httpx.post(
        gateway.base + "/v1beta/models/gemini-fake:streamGenerateContent",
        headers={"x-goog-api-key": gateway.api_key},
        json={"contents": [{"role": "user", "parts": [{"text": "hi"}]}]},
    )
    assert r.status_code == 200
    data = r.json()
    assert "".join(p["candidates"][0]["content"]["parts"][0]["text"] for p in data) == TEXT
    assert fake.calls(path_part="streamGenerateContent")[-1].query == {}
    # Usage was read on the side: it shows in the account's counters.
    with gateway.admin() as c:
        stats = wait_until(lambda: c.get("/api/accounts/gem").json()["stats"])
    assert stats["input_tokens"] == 11 and stats["output_tokens"] == 6


def test_a_stream_request_answered_with_plain_json_is_passed_on_whole(gateway, fake):
    add_account(gateway, "openai", "sk-upstream-openai-7777", "oa", ["gpt-fake"], base_for(fake, "openai"))
    fake.plan("sk-upstream-openai-7777", Action("plain"))
    r = httpx.post(
        gateway.base + "/v1/chat/completions",
        headers={"Authorization": f"Bearer {gateway.api_key}"},
        json={"model": "gpt-fake", "stream": True, "messages": [{"role": "user", "content": "hi"}]},
    )
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/json")
    assert r.json()["choices"][0]["message"]["content"] == TEXT  # no error event glued onto the JSON
