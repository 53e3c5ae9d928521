"""Golden-fixture conformance: every file in tests/fixtures/translation is one recorded exchange.

Each fixture holds a client request, the expected upstream request, a recorded upstream reply
(JSON or SSE text) and the expected client reply. The runner drives `plan_translation` exactly as
the forwarder will: upstream streams are fed in small, unaligned chunks.
"""

from __future__ import annotations

import re
from pathlib import Path

import orjson
import pytest

from levity.translate import plan_translation

FIXTURES = Path(__file__).parent / "fixtures" / "translation"
_VOLATILE = re.compile(rb'"(created|created_at)":\d+')


def normalize(data: bytes) -> str:
    """Clock fields are the only thing allowed to differ between runs."""
    return _VOLATILE.sub(rb'"\1":0', data).decode()


def run_case(case: dict) -> dict:
    plan = plan_translation(
        case["front"], case["provider"], case["client_request"], case["upstream_model"], case["stream"]
    )
    if plan.local_count:
        return {"expected_local_count": True, "expected_client_reply": plan.local_result()}
    out: dict = {
        "expected_operation": plan.upstream_operation,
        "expected_upstream_stream": plan.upstream_stream,
        "expected_upstream_request": plan.upstream_body,
    }
    reply = case["upstream_reply"]
    if isinstance(reply, str):
        dec = plan.stream_decoder()
        raw = reply.encode()
        chunks = [dec.feed(raw[i : i + 5]) for i in range(0, len(raw), 5)]
        text = normalize(b"".join(chunks) + dec.finish())
        out["expected_client_reply"] = text
    else:
        out["expected_client_reply"] = orjson.loads(normalize(orjson.dumps(plan.decode(reply))))
    out["expected_usage"] = list(plan.usage)
    return out


def _files() -> list[Path]:
    return sorted(FIXTURES.glob("*.json"))


def test_fixture_set_covers_every_translated_pair() -> None:
    names = {p.stem for p in _files()}
    fronts = ["openai_chat", "openai_responses", "openai_completions", "anthropic_messages", "gemini"]
    same = {"openai_chat": "openai", "anthropic_messages": "anthropic", "gemini": "gemini"}
    for front in fronts:
        for provider in ("openai", "anthropic", "gemini"):
            if same.get(front) == provider:
                continue
            for mode in ("json", "stream"):
                assert f"{front}__{provider}__text__{mode}" in names
                assert f"{front}__{provider}__max_tokens__{mode}" in names
                if front != "openai_completions":
                    for scenario in ("tools", "image", "thinking"):
                        assert f"{front}__{provider}__{scenario}__{mode}" in names


@pytest.mark.parametrize("path", _files(), ids=lambda p: p.stem)
def test_golden(path: Path) -> None:
    case = orjson.loads(path.read_bytes())
    got = run_case(case)
    if case.get("expected_local_count"):
        assert got["expected_client_reply"] == case["expected_client_reply"]
        return
    assert got["expected_operation"] == case["expected_operation"]
    assert got["expected_upstream_stream"] == case["expected_upstream_stream"]
    assert got["expected_upstream_request"] == case["expected_upstream_request"]
    assert got["expected_client_reply"] == case["expected_client_reply"]
    if "expected_usage" in case:
        assert got["expected_usage"] == case["expected_usage"]
