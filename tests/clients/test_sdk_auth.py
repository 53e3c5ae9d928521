"""The real SDKs raise their own authentication errors on a wrong key."""

from __future__ import annotations

from typing import Any

import anthropic
import openai
import pytest
from google import genai
from google.genai import errors as genai_errors
from google.genai import types as genai_types

from tests.conftest import LevityServer


@pytest.fixture
def strict_server(make_server: Any) -> LevityServer:
    return make_server(proxy={"auth_mode": "strict"})


def test_openai_sdk_wrong_key(strict_server: LevityServer) -> None:
    client = openai.OpenAI(base_url=strict_server.base + "/v1", api_key="sk-wrong", max_retries=0)
    with pytest.raises(openai.AuthenticationError) as info:
        client.chat.completions.create(model="gpt-x", messages=[{"role": "user", "content": "hi"}])
    assert info.value.status_code == 401
    assert "API key does not match" in str(info.value)


def test_anthropic_sdk_wrong_key(strict_server: LevityServer) -> None:
    client = anthropic.Anthropic(base_url=strict_server.base, api_key="sk-wrong", max_retries=0)
    with pytest.raises(anthropic.AuthenticationError) as info:
        client.messages.create(model="claude-x", max_tokens=10, messages=[{"role": "user", "content": "hi"}])
    assert info.value.status_code == 401
    assert info.value.body["error"]["type"] == "authentication_error"


def test_google_genai_sdk_wrong_key(strict_server: LevityServer) -> None:
    client = genai.Client(
        api_key="sk-wrong",
        http_options=genai_types.HttpOptions(base_url=strict_server.base, api_version="v1beta"),
    )
    with pytest.raises(genai_errors.ClientError) as info:
        client.models.generate_content(model="gemini-2.5-flash", contents="hi")
    assert info.value.code == 401
    assert info.value.status == "UNAUTHENTICATED"
