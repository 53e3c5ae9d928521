"""A stream that breaks after bytes reached the client ends with the client protocol's own error."""

from __future__ import annotations

import anthropic
import openai
import pytest
from google import genai
from google.genai import errors as gerrors
from google.genai import types as gtypes

from .conftest import account_view, add_account, base_for
from .fake_upstream import end_early, ok, reset, slow, wait_until

try:
    import httpx
except ImportError:  # some SDK builds ship it renamed
    import httpx2 as httpx  # type: ignore[no-redef]


def clear_cooldowns(server) -> None:
    with server.admin() as c:
        assert c.post("/api/accounts/cooldowns/clear").json()["cleared"] == 1


@pytest.mark.parametrize("broken", [reset(after=3), end_early(after=3)], ids=["reset", "ended-early"])
def test_openai_chat_stream_break_is_an_error_chunk(gateway, fake, broken):
    a = add_account(gateway, "openai", "sk-up-A-0000", "A", ["gpt-fake"], base_for(fake, "openai"))
    add_account(gateway, "openai", "sk-up-B-0001", "B", ["gpt-fake"], base_for(fake, "openai"))
    fake.plan("sk-up-A-0000", broken)
    client = openai.OpenAI(base_url=gateway.base + "/v1", api_key=gateway.api_key, max_retries=0)
    got: list[str] = []
    with pytest.raises(openai.APIError) as info:
        for chunk in client.chat.completions.create(
            model="gpt-fake", messages=[{"role": "user", "content": "hi"}], stream=True
        ):
            got.append(chunk.choices[0].delta.content or "")
    assert "".join(got) == "Hello from the"  # what was streamed before the break reached the client
    assert "account A" in str(info.value)
    # Bytes had been sent, so no second attempt was made; the broken account rests.
    assert len(fake.calls(path_part="/chat")) == 1
    assert account_view(gateway, a["id"])["cooldowns"][0]["reason"] == "server_error"


def test_openai_responses_stream_break_is_an_error_event(gateway, fake):
    # This account declares the Responses API, so Responses clients pass through to it.
    add_account(
        gateway,
        "openai",
        "sk-up-A-0000",
        "A",
        ["gpt-fake"],
        base_for(fake, "openai"),
        options={"responses_api": True},
    )
    fake.plan("sk-up-A-0000", reset(after=2))
    r = httpx.post(
        gateway.base + "/v1/responses",
        headers={"Authorization": f"Bearer {gateway.api_key}"},
        json={"model": "gpt-fake", "input": "hi", "stream": True},
    )
    assert r.status_code == 200
    assert r.text.rstrip().split("\n\n")[-1].startswith("event: error\ndata: ")
    assert "upstream stream broke" in r.text


def test_anthropic_stream_break_is_an_error_event(gateway, fake):
    add_account(gateway, "anthropic", "sk-ant-up-1111", "ant", ["claude-fake"], base_for(fake, "anthropic"))
    fake.plan("sk-ant-up-1111", reset(after=4))
    client = anthropic.Anthropic(base_url=gateway.base, api_key=gateway.api_key, max_retries=0)
    with pytest.raises(anthropic.APIStatusError) as info:
        with client.messages.stream(
            model="claude-fake", max_tokens=5, messages=[{"role": "user", "content": "hi"}]
        ) as stream:
            for _ in stream.text_stream:
                pass
    assert "upstream stream broke" in str(info.value)
    # Raw wire: the last frame is Anthropic's own `event: error`.
    clear_cooldowns(gateway)
    fake.plan("sk-ant-up-1111", end_early(after=4))
    r = httpx.post(
        gateway.base + "/v1/messages",
        headers={"x-api-key": gateway.api_key},
        json={
            "model": "claude-fake",
            "max_tokens": 5,
            "stream": True,
            "messages": [{"role": "user", "content": "hi"}],
        },
    )
    last = r.text.rstrip().split("\n\n")[-1]
    assert last.startswith('event: error\ndata: {"type":"error"')


def test_gemini_stream_break_is_an_error_object(gateway, fake):
    add_account(gateway, "gemini", "AIza-up-1111", "gem", ["gemini-fake"], base_for(fake, "gemini"))
    fake.plan("AIza-up-1111", reset(after=2))
    client = genai.Client(
        api_key=gateway.api_key, http_options=gtypes.HttpOptions(base_url=gateway.base, api_version="v1beta")
    )
    texts: list[str] = []
    with pytest.raises(gerrors.APIError) as info:
        for piece in client.models.generate_content_stream(model="gemini-fake", contents="hi"):
            texts.append(piece.text)
    assert texts == ["Hello", " from"]
    assert info.value.code == 502
    # Without alt=sse the array is closed with an error object, so it still parses as JSON.
    clear_cooldowns(gateway)
    fake.plan("AIza-up-1111", reset(after=2))
    r = httpx.post(
        gateway.base + "/v1beta/models/gemini-fake:streamGenerateContent",
        headers={"x-goog-api-key": gateway.api_key},
        json={"contents": []},
    )
    items = r.json()
    assert len(items) == 3 and items[-1]["error"]["code"] == 502


def test_client_going_away_stops_the_upstream_read(gateway, fake):
    add_account(gateway, "openai", "sk-up-A-0000", "A", ["gpt-fake"], base_for(fake, "openai"))
    fake.default("sk-up-A-0000", ok(delay=0.3))  # six frames, 0.3 s apart
    body = {"model": "gpt-fake", "stream": True, "messages": [{"role": "user", "content": "hi"}]}
    with httpx.Client(timeout=10) as c:
        with c.stream(
            "POST",
            gateway.base + "/v1/chat/completions",
            json=body,
            headers={"Authorization": f"Bearer {gateway.api_key}"},
        ) as r:
            next(r.iter_bytes())  # read the first frame, then hang up
    wait_until(lambda: fake.aborted, timeout=3)
    assert fake.aborted == ["/v1/chat/completions"]
    # A non-streamed request abandoned while the upstream thinks is dropped upstream too.
    fake.plan("sk-up-A-0000", slow(1.0))
    with pytest.raises(httpx.ReadTimeout):
        httpx.post(
            gateway.base + "/v1/chat/completions",
            timeout=0.3,
            headers={"Authorization": f"Bearer {gateway.api_key}"},
            json={"model": "gpt-fake", "messages": [{"role": "user", "content": "slow"}]},
        )
    wait_until(lambda: len(fake.aborted) == 2, timeout=3)
