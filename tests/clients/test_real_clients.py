"""The real CLIs (Claude Code, Codex, Gemini CLI) headless against a real gateway and fake upstreams.

Each case starts `levity serve` with auth on, adds one upstream account pointing at a fake upstream
on loopback, runs one CLI with a throwaway HOME and every off-host call switched off, and checks
both ends: the CLI printed the upstream's answer and exited 0, and the upstream received one
request of the expected shape (its own key, the mapped model, never the proxy key).
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.integration.conftest import add_account, base_for
from tests.integration.fake_upstream import TEXT, FakeUpstream, Received

from . import drivers
from .conftest import CliHome, CliRun

PROMPT = "Reply with one short greeting."
UPSTREAM_KEY = {
    "anthropic": "sk-ant-upstream-7777",
    "openai": "sk-upstream-openai-7777",
    "gemini": "AIza-upstream-gemini-7777",
}
UPSTREAM_MODEL = {"anthropic": "claude-fake", "openai": "gpt-fake", "gemini": "gemini-fake"}
UPSTREAM_PATH = {
    "anthropic": "/v1/messages",
    "openai": "/v1/chat/completions",
    "gemini": "/v1beta/models/gemini-fake:streamGenerateContent",
}


def gateway_for(
    make_server: Any, fake: FakeUpstream, provider: str, mapping: dict[str, str], **opts: Any
) -> Any:
    """A gateway that demands the proxy key, with one `provider` account on the fake upstream."""
    server = make_server(proxy={"auth_mode": "all_except_health", "model_mapping": mapping})
    add_account(
        server,
        provider,
        UPSTREAM_KEY[provider],
        f"{provider}-acct",
        [UPSTREAM_MODEL[provider]],
        base_for(fake, provider),
        **opts,
    )
    return server


def only_call(fake: FakeUpstream, run: CliRun, server: Any) -> Received:
    """The single model request the upstream received; a second one would mean the client
    rejected the first answer and fell back (Claude Code retries a bad stream unstreamed)."""
    calls = [c for c in fake.calls() if c.path != "/v1/models" and c.path != "/v1beta/models"]
    assert len(calls) == 1, run.explain(server, fake)
    return calls[0]


def assert_clean_upstream_call(call: Received, provider: str, server: Any) -> None:
    assert call.key == UPSTREAM_KEY[provider]
    # The proxy key never leaves the gateway, in any header or in the body.
    assert server.api_key not in str(call.headers) and server.api_key not in str(call.body)
    if provider == "gemini":
        assert call.path == UPSTREAM_PATH["gemini"] and call.query == {"alt": "sse"}
    else:
        assert call.path == UPSTREAM_PATH[provider]
        assert call.body["model"] == UPSTREAM_MODEL[provider] and call.body["stream"] is True


def claude_result(run: CliRun, server: Any, fake: FakeUpstream) -> dict[str, Any]:
    assert run.returncode == 0, run.explain(server, fake)
    out = run.json()
    assert out["is_error"] is False and out["result"] == TEXT, run.explain(server, fake)
    return out


# -- Claude Code -----------------------------------------------------------------------------------


def test_claude_code_on_anthropic_passes_through(make_server, fake, cli_home: CliHome):
    server = gateway_for(make_server, fake, "anthropic", {"claude-*": "claude-fake"})
    run = drivers.claude(cli_home, server.base, server.api_key, PROMPT, "claude-sonnet-4-5")
    out = claude_result(run, server, fake)
    assert out["usage"]["output_tokens"] == 6  # read from the upstream's own message_delta

    call = only_call(fake, run, server)
    assert_clean_upstream_call(call, "anthropic", server)
    # Pass-through: Claude Code's body arrives as sent, only the model rewritten.
    assert len(call.body["tools"]) >= 10 and "thinking" in call.body
    assert "cache_control" in str(call.body)
    assert "claude-code" in call.headers.get("anthropic-beta", "")


def test_claude_code_on_gemini_is_translated(make_server, fake, cli_home: CliHome):
    server = gateway_for(make_server, fake, "gemini", {"claude-*": "gemini-fake"})
    run = drivers.claude(cli_home, server.base, server.api_key, PROMPT, "claude-sonnet-4-5")
    claude_result(run, server, fake)

    call = only_call(fake, run, server)
    assert_clean_upstream_call(call, "gemini", server)
    body = call.body
    assert "model" not in body and "messages" not in body  # a Gemini body, not Anthropic's
    assert body["contents"][-1]["role"] == "user"
    assert PROMPT in str(body["contents"])
    assert body["systemInstruction"]["parts"][0]["text"]
    declared = [f["name"] for t in body["tools"] for f in t.get("functionDeclarations", [])]
    assert "Bash" in declared and "Read" in declared


def test_claude_code_on_openai_is_translated(make_server, fake, cli_home: CliHome):
    server = gateway_for(make_server, fake, "openai", {"claude-*": "gpt-fake"})
    run = drivers.claude(cli_home, server.base, server.api_key, PROMPT, "claude-sonnet-4-5")
    claude_result(run, server, fake)

    call = only_call(fake, run, server)
    assert_clean_upstream_call(call, "openai", server)
    messages = call.body["messages"]
    assert messages[0]["role"] == "system" and PROMPT in str(messages[-1])
    assert all(t["type"] == "function" for t in call.body["tools"])
    assert call.body.get("stream_options", {}).get("include_usage") is True


# -- Codex ---------------------------------------------------------------------------------------


def codex_answer(run: CliRun, server: Any, fake: FakeUpstream) -> None:
    assert run.returncode == 0, run.explain(server, fake)
    # `codex exec` prints only the final answer on stdout.
    assert run.stdout.strip() == TEXT, run.explain(server, fake)
    # Codex logs protocol violations (a delta outside an announced item, ...) as ERROR lines.
    assert " ERROR " not in run.stderr, run.explain(server, fake)


def test_codex_on_chat_only_openai_is_translated_to_chat(make_server, fake, cli_home: CliHome):
    fake.chat_only.add(UPSTREAM_KEY["openai"])
    server = gateway_for(
        make_server, fake, "openai", {"gpt-5*": "gpt-fake"}, options={"responses_api": False}
    )
    run = drivers.codex(cli_home, server.base, server.api_key, PROMPT, "gpt-5.1-codex")
    codex_answer(run, server, fake)

    call = only_call(fake, run, server)
    assert_clean_upstream_call(call, "openai", server)
    assert not fake.calls(path_part="/responses")
    messages = call.body["messages"]
    # Codex's `developer` instructions arrive as a system/developer message, the prompt as user.
    assert messages[0]["role"] in ("system", "developer") and "Codex" in str(messages[0])
    assert PROMPT in str(messages[-1]) and messages[-1]["role"] == "user"
    assert any(
        t["function"]["name"] == "shell" or "exec" in t["function"]["name"] for t in call.body["tools"]
    )


def test_codex_on_openai_responses_passes_through(make_server, fake, cli_home: CliHome):
    server = gateway_for(make_server, fake, "openai", {}, options={"responses_api": True})
    run = drivers.codex(cli_home, server.base, server.api_key, PROMPT, "gpt-fake")
    codex_answer(run, server, fake)

    calls = fake.calls(path_part="/v1/responses")
    assert len(calls) == 1, run.explain(server, fake)
    call = calls[0]
    assert call.key == UPSTREAM_KEY["openai"] and server.api_key not in str(call.headers)
    assert call.body["model"] == "gpt-fake" and call.body["store"] is False
    assert call.body["input"][0]["role"] == "developer"


def test_codex_on_anthropic_is_translated(make_server, fake, cli_home: CliHome):
    server = gateway_for(make_server, fake, "anthropic", {"gpt-5*": "claude-fake"})
    run = drivers.codex(cli_home, server.base, server.api_key, PROMPT, "gpt-5.1-codex")
    codex_answer(run, server, fake)

    call = only_call(fake, run, server)
    assert_clean_upstream_call(call, "anthropic", server)
    assert "Codex" in str(call.body["system"])
    assert call.body["messages"][-1]["role"] == "user" and PROMPT in str(call.body["messages"][-1])
    assert call.body["max_tokens"] > 0
    assert all(t.get("name") for t in call.body["tools"])


# -- Gemini CLI ----------------------------------------------------------------------------------


def gemini_answer(run: CliRun, server: Any, fake: FakeUpstream) -> None:
    assert run.returncode == 0, run.explain(server, fake)
    assert run.json()["response"] == TEXT, run.explain(server, fake)


def test_gemini_cli_on_gemini_passes_through(make_server, fake, cli_home: CliHome):
    server = gateway_for(make_server, fake, "gemini", {})
    run = drivers.gemini(cli_home, server.base, server.api_key, PROMPT, "gemini-fake")
    gemini_answer(run, server, fake)

    call = only_call(fake, run, server)
    assert_clean_upstream_call(call, "gemini", server)
    assert PROMPT in str(call.body["contents"])
    assert any("parametersJsonSchema" in f for t in call.body["tools"] for f in t["functionDeclarations"])


def test_gemini_cli_on_anthropic_is_translated(make_server, fake, cli_home: CliHome):
    server = gateway_for(make_server, fake, "anthropic", {"gemini-*": "claude-fake"})
    run = drivers.gemini(cli_home, server.base, server.api_key, PROMPT, "gemini-2.5-pro")
    gemini_answer(run, server, fake)

    call = only_call(fake, run, server)
    assert_clean_upstream_call(call, "anthropic", server)
    assert PROMPT in str(call.body["messages"][-1]) and call.body["system"]
    # Gemini's parametersJsonSchema becomes Anthropic's input_schema.
    assert call.body["tools"] and all(t["input_schema"]["type"] == "object" for t in call.body["tools"])


# -- a wrong proxy key -----------------------------------------------------------------------------


@pytest.mark.parametrize("cli", ["codex", "gemini", "claude"])
def test_wrong_proxy_key_fails_with_the_gateway_message(make_server, fake, cli_home: CliHome, cli: str):
    provider = {"codex": "openai", "gemini": "gemini", "claude": "anthropic"}[cli]
    model = {"codex": "gpt-fake", "gemini": "gemini-fake", "claude": "claude-fake"}[cli]
    server = gateway_for(make_server, fake, provider, {})
    run = getattr(drivers, cli)(cli_home, server.base, "sk-wrong-key-0000", PROMPT, model)
    assert run.returncode != 0, run.explain(server, fake)
    assert "API key does not match" in run.stdout + run.stderr, run.explain(server, fake)
    assert "sk-wrong-key-0000" not in server.log()
    assert [c for c in fake.calls() if "models" not in c.path or ":" in c.path] == []
