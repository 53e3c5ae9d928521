"""One gateway per test module, wired to a fake upstream of every provider wire.

Each provider has one account serving its own model names, so the model a client asks for picks
the upstream wire. The fake upstream answers with the recorded provider replies of the golden
fixtures (`tests/fixtures/translation/generate.py`): a tool call while the conversation has no tool
result yet, the final text once it has one.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import LevityServer
from tests.integration.conftest import add_account, base_for
from tests.integration.fake_upstream import FakeUpstream, Received

_GEN = Path(__file__).resolve().parent.parent / "fixtures" / "translation" / "generate.py"
_spec = importlib.util.spec_from_file_location("translation_generate", _GEN)
assert _spec and _spec.loader
generate = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(generate)

REPLIES = generate.REPLIES
SCENARIOS = generate.SCENARIOS
TOOL_IDS = generate.TOOL_IDS
WEATHER_SCHEMA = generate.WEATHER_SCHEMA

KEYS = {"openai": "sk-e2e-openai-0001", "anthropic": "sk-ant-e2e-0002", "gemini": "AIza-e2e-0003"}
LABELS = {"openai": "oa-e2e", "anthropic": "an-e2e", "gemini": "gm-e2e"}
# The model each account serves; a client asking for it reaches that provider's wire.
MODELS = {"openai": "gpt-up", "anthropic": "claude-up", "gemini": "gemini-up"}
# What real clients ask for, mapped onto the accounts (a user with one provider's keys).
MAPPING = {
    "claude-sonnet-4*": "gemini-up",
    "claude-haiku-4-5*": "gpt-up",
    "gpt-5-codex": "claude-up",
    "gpt-5-mini": "gemini-up",
    "gemini-2.5-pro": "claude-up",
    "gemini-2.5-flash": "gpt-up",
}


def wire_of(rec: Received) -> str:
    if rec.path.startswith("/v1beta/"):
        return "gemini"
    return "anthropic" if rec.path.startswith("/v1/messages") else "openai"


def has_tool_result(wire: str, body: dict[str, Any]) -> bool:
    if wire == "openai":
        return any(m.get("role") == "tool" for m in body.get("messages", []))
    if wire == "anthropic":
        return any(
            isinstance(b, dict) and b.get("type") == "tool_result"
            for m in body.get("messages", [])
            if isinstance(m.get("content"), list)
            for b in m["content"]
        )
    return any("functionResponse" in p for c in body.get("contents", []) for p in c.get("parts", []))


def has_tools(wire: str, body: dict[str, Any]) -> bool:
    return bool(body.get("tools"))


def scenario_for(rec: Received) -> str:
    """The tool loop: a tool call first, the final text once a tool result came back."""
    wire = wire_of(rec)
    body = rec.body if isinstance(rec.body, dict) else {}
    if has_tools(wire, body) and not has_tool_result(wire, body):
        return "tools"
    if wire == "gemini" and body.get("generationConfig", {}).get("thinkingConfig", {}).get("includeThoughts"):
        return "thinking"
    if wire == "anthropic" and body.get("thinking"):
        return "thinking"
    return "text"


def responder(rec: Received, stream: bool) -> Any:
    return REPLIES[wire_of(rec)](SCENARIOS[scenario_for(rec)], stream)


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeUpstream]:
    up = FakeUpstream().start()
    for key in KEYS.values():
        up.respond(key, responder)
    yield up
    up.stop()


@pytest.fixture(scope="module")
def gw(tmp_path_factory: pytest.TempPathFactory, fake: FakeUpstream) -> Iterator[LevityServer]:
    home = tmp_path_factory.mktemp("e2e-home")
    server = LevityServer(
        home, proxy={"read_timeout": 5.0, "connect_timeout": 2.0, "model_mapping": MAPPING}
    ).start()
    try:
        for provider, key in KEYS.items():
            add_account(server, provider, key, LABELS[provider], [MODELS[provider]], base_for(fake, provider))
        yield server
    finally:
        server.stop()


@pytest.fixture
def up(gw: LevityServer, fake: FakeUpstream) -> Iterator[FakeUpstream]:
    """The fake upstream with an empty request log for this test; no account rests after it."""
    fake.clear()
    yield fake
    with gw.admin() as admin:
        assert admin.post("/api/accounts/cooldowns/clear").status_code == 200


# One small streamed request per client front, used by the stream timing and breakage tests.
def stream_request(gw, front: str, provider: str) -> tuple[str, dict[str, str], dict[str, Any]]:
    model = MODELS[provider]
    if front == "gemini":
        return (
            f"/v1beta/models/{model}:streamGenerateContent?alt=sse",
            {"x-goog-api-key": gw.api_key},
            {"contents": [{"role": "user", "parts": [{"text": "Say hello."}]}]},
        )
    if front == "anthropic_messages":
        body = {
            "model": model,
            "max_tokens": 100,
            "stream": True,
            "messages": [{"role": "user", "content": "Say hello."}],
        }
        return "/v1/messages", {"x-api-key": gw.api_key, "anthropic-version": "2023-06-01"}, body
    path = "/v1/responses" if front == "openai_responses" else "/v1/chat/completions"
    body = {"model": model, "stream": True}
    body.update(
        {"input": "Say hello."}
        if front == "openai_responses"
        else {"messages": [{"role": "user", "content": "Say hello."}]}
    )
    return path, {"Authorization": f"Bearer {gw.api_key}"}, body
