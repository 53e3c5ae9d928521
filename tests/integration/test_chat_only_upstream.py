"""An OpenAI-compatible account without /v1/responses (`options.responses_api = false`).

Responses clients (Codex, the OpenAI SDK's `responses`) are translated onto Chat Completions for
such an account instead of being passed through to a path the server does not have.
"""

from __future__ import annotations

import openai

from .conftest import add_account, base_for
from .fake_upstream import TEXT

KEY = "sk-upstream-chat-only-5555"


def test_responses_requests_go_to_chat_completions(gateway, fake):
    fake.chat_only.add(KEY)
    add_account(
        gateway,
        "openai",
        KEY,
        "local",
        ["gpt-fake"],
        base_for(fake, "openai"),
        options={"responses_api": False},
    )
    client = openai.OpenAI(base_url=gateway.base + "/v1", api_key=gateway.api_key, max_retries=0)
    whole = client.responses.create(model="gpt-fake", instructions="be brief", input="hi")
    assert whole.output_text == TEXT and whole.usage.output_tokens == 6
    events = list(client.responses.create(model="gpt-fake", input="hi", stream=True))
    assert "".join(e.delta for e in events if e.type == "response.output_text.delta") == TEXT
    assert events[-1].type == "response.completed"

    assert not fake.calls(path_part="/responses")
    calls = fake.calls(path_part="/chat/completions")
    assert len(calls) == 2 and all(c.key == KEY for c in calls)
    assert calls[0].body["messages"][0]["role"] in ("system", "developer")
    assert "be brief" in str(calls[0].body["messages"][0])
    assert calls[1].body["stream"] is True
    # Chat Completions itself still passes through untouched.
    chat = client.chat.completions.create(model="gpt-fake", messages=[{"role": "user", "content": "x"}])
    assert chat.choices[0].message.content == TEXT
    assert fake.calls(path_part="/chat/completions")[-1].body == {
        "model": "gpt-fake",
        "messages": [{"role": "user", "content": "x"}],
    }


def test_a_non_boolean_responses_api_option_is_refused(gateway, fake):
    with gateway.admin() as c:
        r = c.post(
            "/api/accounts",
            json={
                "provider": "openai",
                "api_key": KEY,
                "base_url": base_for(fake, "openai"),
                "models": ["gpt-fake"],
                "options": {"responses_api": "no"},
            },
        )
    assert r.status_code == 422 and "responses_api must be true or false" in r.text
