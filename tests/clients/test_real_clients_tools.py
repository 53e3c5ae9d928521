"""A whole agent turn through the gateway: the upstream asks for a tool, the real CLI runs it
and sends the result back, the upstream answers.

The tool reads a file holding a marker; the second upstream request must carry that marker in
the upstream wire's own tool-result shape, tied to the call the upstream made. That exercises
the translation of tool calls out and tool results back, which a text-only exchange never does.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.integration.fake_tools import CALL_ID
from tests.integration.fake_upstream import TEXT, FakeUpstream, tool_call

from . import drivers
from .conftest import CliHome, CliRun
from .test_real_clients import UPSTREAM_KEY, gateway_for

MARKER = "levity-tool-marker-4821"
PROMPT = "Read notes.txt and tell me what it says."


def tool_result(provider: str, body: dict[str, Any], tool: str) -> str:
    """The text of the result for CALL_ID in an upstream request body ('' when absent), after
    checking the assistant's call itself is in the history too."""
    if provider == "anthropic":
        blocks = [b for m in body["messages"] if isinstance(m["content"], list) for b in m["content"]]
        assert any(b["type"] == "tool_use" and b["id"] == CALL_ID and b["name"] == tool for b in blocks)
        return str(
            [b["content"] for b in blocks if b["type"] == "tool_result" and b["tool_use_id"] == CALL_ID]
        )
    if provider == "responses":
        items = body["input"]
        assert any(i.get("type") == "function_call" and i.get("call_id") == CALL_ID for i in items)
        return str(
            [
                i["output"]
                for i in items
                if i.get("type") == "function_call_output" and i["call_id"] == CALL_ID
            ]
        )
    if provider == "openai":
        calls = [c for m in body["messages"] if m["role"] == "assistant" for c in m.get("tool_calls") or []]
        assert [c["id"] for c in calls] == [CALL_ID] and calls[0]["function"]["name"] == tool
        return str(
            [m["content"] for m in body["messages"] if m["role"] == "tool" and m["tool_call_id"] == CALL_ID]
        )
    parts = [p for c in body["contents"] for p in c["parts"]]
    assert any(p.get("functionCall", {}).get("name") == tool for p in parts)
    return str([p["functionResponse"] for p in parts if p.get("functionResponse", {}).get("name") == tool])


def run_turn(fake: FakeUpstream, server: Any, provider: str, tool: str, run: CliRun) -> dict[str, Any]:
    calls = [c for c in fake.calls() if "models" not in c.path or ":" in c.path]
    assert len(calls) == 2, run.explain(server, fake)
    assert all(c.key == UPSTREAM_KEY["openai" if provider == "responses" else provider] for c in calls)
    assert all(server.api_key not in str(c.headers) + str(c.body) for c in calls)
    assert MARKER in tool_result(provider, calls[1].body, tool), run.explain(server, fake)
    return calls[1].body


@pytest.fixture
def notes(cli_home: CliHome) -> str:
    path = cli_home.work / "notes.txt"
    path.write_text(MARKER + "\n")
    return str(path)


@pytest.mark.parametrize("provider", ["gemini", "openai"])
def test_claude_code_tool_turn_translated(make_server, fake, cli_home: CliHome, notes: str, provider: str):
    target = {"gemini": "gemini-fake", "openai": "gpt-fake"}[provider]
    server = gateway_for(make_server, fake, provider, {"claude-*": target})
    fake.plan(UPSTREAM_KEY[provider], tool_call("Read", {"file_path": notes}))
    run = drivers.claude(cli_home, server.base, server.api_key, PROMPT, "claude-sonnet-4-5")
    assert run.returncode == 0 and run.json()["result"] == TEXT, run.explain(server, fake)
    run_turn(fake, server, provider, "Read", run)


@pytest.mark.parametrize("provider", ["anthropic", "openai"])
def test_codex_tool_turn_translated(make_server, fake, cli_home: CliHome, provider: str, notes: str):
    target = {"anthropic": "claude-fake", "openai": "gpt-fake"}[provider]
    opts = {}
    if provider == "openai":  # a Chat-only server: Responses -> Chat Completions
        fake.chat_only.add(UPSTREAM_KEY[provider])
        opts = {"options": {"responses_api": False}}
    server = gateway_for(make_server, fake, provider, {"gpt-5*": target}, **opts)
    fake.plan(UPSTREAM_KEY[provider], tool_call("exec_command", {"cmd": "cat notes.txt"}))
    run = drivers.codex(cli_home, server.base, server.api_key, PROMPT, "gpt-5.1-codex")
    assert run.returncode == 0 and run.stdout.strip() == TEXT, run.explain(server, fake)
    run_turn(fake, server, provider, "exec_command", run)


def test_gemini_cli_tool_turn_translated(make_server, fake, cli_home: CliHome, notes: str):
    server = gateway_for(make_server, fake, "anthropic", {"gemini-*": "claude-fake"})
    fake.plan(UPSTREAM_KEY["anthropic"], tool_call("read_file", {"file_path": notes}))
    run = drivers.gemini(cli_home, server.base, server.api_key, PROMPT, "gemini-2.5-pro")
    assert run.returncode == 0 and run.json()["response"] == TEXT, run.explain(server, fake)
    run_turn(fake, server, "anthropic", "read_file", run)


# -- the same turn passed through untranslated ----------------------------------------------------


def test_claude_code_tool_turn_on_anthropic(make_server, fake, cli_home: CliHome, notes: str):
    server = gateway_for(make_server, fake, "anthropic", {"claude-*": "claude-fake"})
    fake.plan(UPSTREAM_KEY["anthropic"], tool_call("Read", {"file_path": notes}))
    run = drivers.claude(cli_home, server.base, server.api_key, PROMPT, "claude-sonnet-4-5")
    assert run.returncode == 0 and run.json()["result"] == TEXT, run.explain(server, fake)
    run_turn(fake, server, "anthropic", "Read", run)


def test_codex_tool_turn_on_openai_responses(make_server, fake, cli_home: CliHome, notes: str):
    server = gateway_for(make_server, fake, "openai", {"gpt-5*": "gpt-fake"}, options={"responses_api": True})
    fake.plan(UPSTREAM_KEY["openai"], tool_call("exec_command", {"cmd": "cat notes.txt"}))
    run = drivers.codex(cli_home, server.base, server.api_key, PROMPT, "gpt-5.1-codex")
    assert run.returncode == 0 and run.stdout.strip() == TEXT, run.explain(server, fake)
    run_turn(fake, server, "responses", "exec_command", run)


def test_gemini_cli_tool_turn_on_gemini(make_server, fake, cli_home: CliHome, notes: str):
    server = gateway_for(make_server, fake, "gemini", {"gemini-*": "gemini-fake"})
    fake.plan(UPSTREAM_KEY["gemini"], tool_call("read_file", {"file_path": notes}))
    run = drivers.gemini(cli_home, server.base, server.api_key, PROMPT, "gemini-2.5-pro")
    assert run.returncode == 0 and run.json()["response"] == TEXT, run.explain(server, fake)
    run_turn(fake, server, "gemini", "read_file", run)


# -- signed thinking survives the round trip --------------------------------------------------------
# Gemini 3 rejects a history whose first function call lost its thoughtSignature; Anthropic rejects
# a tool turn with thinking on whose thinking block (and its signature) is missing. The signature
# leaves the upstream, crosses the client's wire and must come back byte for byte.

GEMINI_SIG = "Z2VtaW5pLXRob3VnaHQtc2lnbmF0dXJlLTQ4MjE="  # base64, as Gemini sends them
ANTHROPIC_SIG = "EqQBCkYIARgCKkBanthropic-signature-4821"


def gemini_call_signature(body: dict[str, Any], tool: str) -> str:
    parts = [p for c in body["contents"] if c.get("role") == "model" for p in c["parts"]]
    calls = [p for p in parts if p.get("functionCall", {}).get("name") == tool]
    assert calls, body["contents"]
    return calls[0].get("thoughtSignature", "")


def anthropic_thinking_signature(body: dict[str, Any]) -> str:
    for m in body["messages"]:
        if m["role"] == "assistant" and isinstance(m["content"], list):
            kinds = [b["type"] for b in m["content"]]
            if "tool_use" in kinds:
                assert kinds[0] == "thinking", kinds  # thinking must lead the tool turn
                return m["content"][0]["signature"]
    raise AssertionError("no assistant tool turn in the history")


def test_claude_code_keeps_gemini_thought_signature(make_server, fake, cli_home: CliHome, notes: str):
    server = gateway_for(make_server, fake, "gemini", {"claude-*": "gemini-fake"})
    step = tool_call("Read", {"file_path": notes}, thought="I should read the file.", signature=GEMINI_SIG)
    fake.plan(UPSTREAM_KEY["gemini"], step)
    run = drivers.claude(cli_home, server.base, server.api_key, PROMPT, "claude-sonnet-4-5")
    assert run.returncode == 0 and run.json()["result"] == TEXT, run.explain(server, fake)
    body = run_turn(fake, server, "gemini", "Read", run)
    assert gemini_call_signature(body, "Read") == GEMINI_SIG, run.explain(server, fake)


def test_gemini_cli_keeps_anthropic_thinking_signature(make_server, fake, cli_home: CliHome, notes: str):
    server = gateway_for(make_server, fake, "anthropic", {"gemini-*": "claude-fake"})
    step = tool_call(
        "read_file", {"file_path": notes}, thought="I should read the file.", signature=ANTHROPIC_SIG
    )
    fake.plan(UPSTREAM_KEY["anthropic"], step)
    run = drivers.gemini(cli_home, server.base, server.api_key, PROMPT, "gemini-2.5-pro")
    assert run.returncode == 0 and run.json()["response"] == TEXT, run.explain(server, fake)
    body = run_turn(fake, server, "anthropic", "read_file", run)
    # Gemini CLI keeps no thought parts in its history, so the signed thinking cannot be replayed;
    # Anthropic then refuses a thinking request whose tool turn lacks it. The gateway must switch
    # thinking off for such a turn, or replay the signature intact.
    first = fake.calls(path_part="/v1/messages")[0].body
    assert first["thinking"]["type"] == "enabled"
    if "thinking" in body:
        assert anthropic_thinking_signature(body) == ANTHROPIC_SIG, run.explain(server, fake)


def test_codex_keeps_anthropic_thinking_signature(make_server, fake, cli_home: CliHome, notes: str):
    server = gateway_for(make_server, fake, "anthropic", {"gpt-5*": "claude-fake"})
    step = tool_call("exec_command", {"cmd": "cat notes.txt"}, thought="Read it.", signature=ANTHROPIC_SIG)
    fake.plan(UPSTREAM_KEY["anthropic"], step)
    run = drivers.codex(cli_home, server.base, server.api_key, PROMPT, "gpt-5.1-codex")
    assert run.returncode == 0 and run.stdout.strip() == TEXT, run.explain(server, fake)
    body = run_turn(fake, server, "anthropic", "exec_command", run)
    # Codex sends the reasoning item back (encrypted content), so thinking stays on and replayed.
    assert body["thinking"]["type"] == "enabled", run.explain(server, fake)
    assert anthropic_thinking_signature(body) == ANTHROPIC_SIG, run.explain(server, fake)
