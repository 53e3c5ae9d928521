"""A first run with no upstream account serves the demo model; a configured pool does not."""

from __future__ import annotations

from typing import Any

import httpx
import openai

from tests.conftest import LevityServer


def test_no_account_means_demo_model(make_server: Any) -> None:
    s: LevityServer = make_server()
    client = openai.OpenAI(base_url=s.base + "/v1", api_key=s.api_key, max_retries=0)
    reply = client.chat.completions.create(
        model="levity-demo", messages=[{"role": "user", "content": "hello there"}]
    )
    assert "hello there" in reply.choices[0].message.content
    assert reply.usage.prompt_tokens > 0
    assert "levity-demo" in [m.id for m in client.models.list().data]
    assert "demo:" in s.log()


def test_configured_account_means_no_demo(make_server: Any, tmp_path: Any) -> None:
    s = LevityServer(tmp_path / "with-account")
    r = s.cli(
        "account",
        "add",
        "--provider",
        "openai",
        "--key",
        "sk-upstream-1234",
        "--base-url",
        "http://127.0.0.1:9/v1",
        "--models",
        "gpt-x",
        "--label",
        "mine",
    )
    assert r.returncode == 0, r.stderr
    s.start()
    try:
        models = httpx.get(s.base + "/v1/models", headers={"x-api-key": s.api_key}).json()
        ids = [m["id"] for m in models["data"]]
        assert ids == ["gpt-x"]
        assert "demo:" not in s.log()
    finally:
        s.stop()
