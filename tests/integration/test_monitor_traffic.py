"""Real proxied traffic (SDK -> gateway -> forwarder -> fake upstream) as the monitor records it:
the request log's fields, `/metrics`, and no key anywhere in what is stored, even with body logging on."""

from __future__ import annotations

import re
import sqlite3
from typing import Any

import anthropic
import openai

from .conftest import add_account, base_for
from .fake_upstream import TEXT, error

# Not shaped like `sk-...`: only the exact account keys the monitor learns from the pool can catch them.
KEY_FIRST = "upstream.first.7c1d9e2a44b0"
KEY_SECOND = "upstream.second.55e0f19a3c7d"


def metric(text: str, name: str, **labels: str) -> float:
    want = ",".join(f'{k}="{v}"' for k, v in labels.items())
    pattern = re.escape(name + ("{" + want + "}" if want else "")) + r" (\S+)$"
    found = re.search(pattern, text, re.MULTILINE)
    assert found, f"no {name}{{{want}}} in /metrics"
    return float(found.group(1))


def records(srv: Any, limit: int = 50) -> list[dict[str, Any]]:
    with srv.admin() as c:
        r = c.get("/api/monitor/requests", params={"limit": limit})
        assert r.status_code == 200, r.text
        return r.json()["items"]  # newest first


def detail(srv: Any, record_id: int) -> dict[str, Any]:
    with srv.admin() as c:
        r = c.get(f"/api/monitor/requests/{record_id}")
        assert r.status_code == 200, r.text
        return r.json()


def test_proxied_traffic_lands_in_the_log_and_metrics_without_keys(make_server, fake):
    srv = make_server(proxy={"trusted_proxies": ["127.0.0.1"]}, args=["--no-demo"])
    srv.patch(
        {
            "monitor": {"log_bodies": True},
            "proxy": {"fixed_account": "first", "model_mapping": {"alias-*": "gpt-fake"}},
        }
    )
    add_account(srv, "openai", KEY_FIRST, "first", ["gpt-fake"], base_for(fake, "openai"))
    add_account(srv, "openai", KEY_SECOND, "second", ["gpt-fake"], base_for(fake, "openai"))
    # The first account is rate limited, and its upstream quotes its key back in the error.
    fake.plan(
        KEY_FIRST,
        error(429, {"error": {"message": f"Rate limit for key {KEY_FIRST}"}}, {"retry-after": "120"}),
    )
    client = openai.OpenAI(base_url=srv.base + "/v1", api_key=srv.api_key, max_retries=0)
    # A user pastes keys into a prompt: with body logging on they must still not be stored.
    leaky = f"my keys: {srv.api_key} and {KEY_SECOND}"

    whole = client.chat.completions.create(
        model="alias-1",
        messages=[{"role": "user", "content": leaky}],
        extra_headers={"X-Forwarded-For": "203.0.113.7"},  # the peer (127.0.0.1) is a trusted proxy
    )
    assert whole.choices[0].message.content == TEXT
    chunks = list(
        client.chat.completions.create(
            model="gpt-fake",
            messages=[{"role": "user", "content": "stream please"}],
            stream=True,
            stream_options={"include_usage": True},
        )
    )
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == TEXT
    # A request the upstream refuses (400, quoting the key): not retried, passed back, logged.
    fake.plan(
        KEY_SECOND, error(400, {"error": {"message": f"bad request for {KEY_SECOND}", "type": "invalid"}})
    )
    try:
        client.chat.completions.create(model="gpt-fake", messages=[{"role": "user", "content": "x"}])
        raise AssertionError("expected a 400")
    except openai.BadRequestError as err:
        assert KEY_SECOND not in str(err.body)
    # Nobody serves this model: the gateway's own error, no upstream attempt.
    claude = anthropic.Anthropic(base_url=srv.base, api_key=srv.api_key, max_retries=0)
    try:
        claude.messages.create(
            model="claude-none", max_tokens=5, messages=[{"role": "user", "content": "hi"}]
        )
        raise AssertionError("expected a 503")
    except anthropic.APIStatusError as err:
        assert err.status_code == 503
    # Without trusted proxies (a live config change) a forwarded header is the client's word: ignored.
    srv.patch({"proxy": {"trusted_proxies": []}})
    client.chat.completions.create(
        model="gpt-fake",
        messages=[{"role": "user", "content": "hi"}],
        extra_headers={"X-Forwarded-For": "198.51.100.9"},
    )

    spoofed, missing, refused, streamed, rotated = records(srv)[:5]
    assert len(records(srv)) == 5

    assert rotated["method"] == "POST" and rotated["path"] == "/v1/chat/completions"
    assert rotated["protocol"] == "openai_chat" and rotated["stream"] is False
    assert (rotated["model"], rotated["mapped_model"]) == ("alias-1", "gpt-fake")
    assert (rotated["account"], rotated["provider"], rotated["status"]) == ("second", "openai", 200)
    assert (rotated["input_tokens"], rotated["output_tokens"], rotated["cached_tokens"]) == (11, 6, 0)
    assert 0 < rotated["ttfb_ms"] <= rotated["duration_ms"]
    assert rotated["client_ip"] == "203.0.113.7" and rotated["error"] == ""
    first, second = rotated["attempts"]
    assert (first["account"], first["status"]) == ("first", 429)
    assert first["error"].startswith("rate_limited") and "Rate limit for key" in first["error"]
    assert (second["account"], second["status"], second["error"]) == ("second", 200, "")

    assert streamed["stream"] is True and streamed["status"] == 200 and streamed["account"] == "second"
    assert (streamed["input_tokens"], streamed["output_tokens"]) == (11, 6)
    assert streamed["client_ip"] == "127.0.0.1" and streamed["ttfb_ms"] is not None
    assert [a["account"] for a in streamed["attempts"]] == ["second"]  # first rests: not tried again

    assert refused["status"] == 400 and refused["account"] == "second"
    assert refused["error"].startswith("client_error") and refused["attempts"][0]["status"] == 400

    assert missing["status"] == 503 and missing["protocol"] == "anthropic_messages"
    assert "no enabled account serves model 'claude-none'" in missing["error"]
    assert missing["attempts"] == [] and missing["account"] == "" and missing["ttfb_ms"] is None

    assert spoofed["client_ip"] == "127.0.0.1"

    # Bodies: kept (body logging is on), what the client sent and got, keys redacted.
    body = detail(srv, rotated["id"])
    assert (
        '"model":"alias-1"' in body["request_body"]
        and "my keys: [redacted] and [redacted]" in body["request_body"]
    )
    assert TEXT in body["response_body"]
    stream_body = detail(srv, streamed["id"])
    assert "stream please" in stream_body["request_body"]
    assert (
        "data: [DONE]" in stream_body["response_body"]
        and '"completion_tokens": 6' in stream_body["response_body"]
    )
    # The upstream's 400 quoted the key: the forwarder masked it before the client (and the log) saw it.
    assert f"bad request for ****{KEY_SECOND[-4:]}" in detail(srv, refused["id"])["response_body"]

    # /metrics: the same traffic, and the first account's cooldown.
    with srv.admin() as c:
        text = c.get("/metrics").text
    ok = dict(protocol="openai_chat", account="second", status_class="2xx")
    assert metric(text, "levity_requests_total", **ok) == 3
    assert (
        metric(text, "levity_requests_total", protocol="openai_chat", account="second", status_class="4xx")
        == 1
    )
    assert (
        metric(text, "levity_requests_total", protocol="anthropic_messages", account="", status_class="5xx")
        == 1
    )
    assert metric(text, "levity_upstream_attempt_failures_total", account="first") == 1
    assert metric(text, "levity_tokens_total", account="second", model="gpt-fake", kind="input") == 33
    assert metric(text, "levity_request_duration_seconds_count", protocol="openai_chat") == 4
    assert metric(text, "levity_account_ready", account="first") == 0
    assert metric(text, "levity_account_ready", account="second") == 1
    assert metric(text, "levity_account_state", account="first", state="cooling") == 1
    assert (
        60
        < metric(text, "levity_account_cooldown_seconds", account="first", model="", reason="rate_limited")
        <= 120
    )

    # No key anywhere in what the monitor stored or serves: the database files byte for byte,
    # every row, and the log as the API answers it.
    keys = [srv.api_key, KEY_FIRST, KEY_SECOND]
    stored = b"".join(p.read_bytes() for p in srv.home.glob("monitor.db*"))
    db = sqlite3.connect(srv.home / "monitor.db")
    try:
        rows = repr(db.execute("SELECT * FROM request_log").fetchall())
    finally:
        db.close()
    with srv.admin() as c:
        served = c.get("/api/monitor/requests").text + c.get(f"/api/monitor/requests/{rotated['id']}").text
    for key in keys:
        assert key.encode() not in stored
        assert key not in rows and key not in served and key not in text
    assert rows.count("[redacted]") == 2  # the two keys pasted into the prompt


def test_translated_stream_is_logged_with_the_body_the_client_got(make_server, fake):
    srv = make_server(args=["--no-demo"])
    srv.patch({"monitor": {"log_bodies": True}})
    add_account(srv, "openai", KEY_FIRST, "oa", ["gpt-fake"], base_for(fake, "openai"))
    claude = anthropic.Anthropic(base_url=srv.base, api_key=srv.api_key, max_retries=0)
    with claude.messages.stream(
        model="gpt-fake", max_tokens=50, messages=[{"role": "user", "content": "translate me"}]
    ) as stream:
        assert stream.get_final_text() == TEXT

    (rec,) = records(srv)
    assert (rec["protocol"], rec["provider"], rec["account"], rec["status"]) == (
        "anthropic_messages",
        "openai",
        "oa",
        200,
    )
    assert rec["stream"] is True and (rec["input_tokens"], rec["output_tokens"]) == (11, 6)
    body = detail(srv, rec["id"])
    assert "translate me" in body["request_body"]
    assert "event: message_start" in body["response_body"] and "event: message_stop" in body["response_body"]
