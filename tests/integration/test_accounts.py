"""Accounts through the CLI and the admin API: live changes, discovery, tests, masking, the demo."""

from __future__ import annotations

import json
import re
import threading
import time

import anthropic
import openai
from google import genai
from google.genai import types as gtypes

from .conftest import add_account, base_for
from .fake_upstream import error, ok, wait_until

try:
    import httpx
except ImportError:  # some SDK builds ship it renamed
    import httpx2 as httpx  # type: ignore[no-redef]


def chat(server, content: str, model: str = "gpt-fake") -> httpx.Response:
    return httpx.post(
        server.base + "/v1/chat/completions",
        headers={"Authorization": f"Bearer {server.api_key}"},
        json={"model": model, "messages": [{"role": "user", "content": content}]},
        timeout=20,
    )


def test_cli_manages_accounts_and_the_server_follows_live(gateway, fake):
    key = "sk-cli-secret-key-abcd"
    out = gateway.cli(
        "account",
        "add",
        "--provider",
        "openai",
        "--key",
        key,
        "--base-url",
        fake.url + "/v1",
        "--label",
        "cli1",
    )
    assert out.returncode == 0, out.stderr
    assert "****abcd" in out.stdout and key not in out.stdout + out.stderr
    assert "gpt-fake, gpt-fake-mini" in out.stdout  # discovered from the upstream's model list
    listing = fake.calls(path_part="/v1/models")[0]
    assert listing.headers["authorization"] == f"Bearer {key}"

    # The running server picks the new account up without a restart.
    r = wait_until(lambda: (resp := chat(gateway, "hi")).status_code == 200 and resp)
    assert r.headers["x-levity-account"] == "cli1"

    listed = gateway.cli("account", "list")
    assert "cli1" in listed.stdout and "****abcd" in listed.stdout and key not in listed.stdout
    as_json = json.loads(gateway.cli("account", "list", "--json").stdout)
    assert as_json[0]["api_key"] == "****abcd"

    assert gateway.cli("account", "disable", "cli1").returncode == 0
    wait_until(lambda: chat(gateway, "hi").status_code == 503)
    assert gateway.cli("account", "enable", "cli1").returncode == 0
    wait_until(lambda: chat(gateway, "hi").status_code == 200)

    tested = gateway.cli("account", "test", "cli1")
    assert tested.returncode == 0 and tested.stdout.startswith("ok: cli1 answered gpt-fake")
    fake.plan(
        key,
        error(401, {"error": {"code": "invalid_api_key", "message": f"Incorrect API key provided: {key}"}}),
    )
    failed = gateway.cli("account", "test", "cli1")
    assert failed.returncode != 0 and "auth_failed" in failed.stderr and key not in failed.stderr

    assert gateway.cli("account", "remove", "cli1").returncode == 0
    wait_until(lambda: chat(gateway, "hi").status_code == 503)
    assert gateway.cli("account", "remove", "cli1").returncode != 0
    assert key not in gateway.log()


def test_admin_api_accounts(gateway, fake):
    key = "sk-admin-secret-key-wxyz"
    with gateway.admin() as c:
        assert c.post("/api/accounts", json={"api_key": "x"}).status_code == 422
        bad = c.post("/api/accounts", json={"provider": "openai", "api_key": "x", "base_url": "file:///etc"})
        assert bad.status_code == 422 and "base_url" in bad.text
        r = c.post(
            "/api/accounts",
            json={"provider": "openai", "api_key": key, "base_url": fake.url + "/v1", "label": "adm"},
        )
        assert r.status_code == 201
        acc = r.json()
        assert acc["api_key"] == "****wxyz" and acc["models"] == ["gpt-fake", "gpt-fake-mini"]
        assert acc["usable"] is True and acc["stats"]["requests"] == 0
        assert (
            c.post(
                "/api/accounts", json={"provider": "openai", "api_key": key, "label": "adm", "models": ["m"]}
            ).status_code
            == 409
        )

        fake.models = ["gpt-new"]
        r = c.post(f"/api/accounts/{acc['id']}/refresh")
        assert r.status_code == 200 and r.json()["models"] == ["gpt-new"]

        t = c.post(f"/api/accounts/{acc['id']}/test").json()
        assert t["ok"] is True and t["model"] == "gpt-new"
        assert fake.calls(path_part="/chat")[-1].body["max_tokens"] == 1

        r = c.patch(
            f"/api/accounts/{acc['id']}", json={"weight": 3, "label": "renamed", "models": ["gpt-fake"]}
        )
        assert r.status_code == 200 and r.json()["weight"] == 3 and r.json()["label"] == "renamed"
        assert c.post(f"/api/accounts/{acc['id']}/disable").json()["enabled"] is False
        assert c.post(f"/api/accounts/{acc['id']}/enable").json()["enabled"] is True

        assert chat(gateway, "count me").status_code == 200
        view = c.get("/api/accounts/renamed").json()
        assert view["stats"]["requests"] == 1 and view["stats"]["input_tokens"] == 11
        assert view["stats"]["last_used"] is not None

        everything = c.get("/api/accounts").text
        assert key not in everything and "****wxyz" in everything
        assert c.delete(f"/api/accounts/{acc['id']}").status_code == 200
        assert c.get(f"/api/accounts/{acc['id']}").status_code == 404
    # Admin routes need the admin key.
    assert httpx.get(gateway.base + "/api/accounts").status_code == 401
    assert key not in gateway.log()


def test_live_add_and_remove_under_load(gateway, fake):
    first = add_account(
        gateway, "openai", "sk-load-first-0001", "first", ["gpt-fake"], base_for(fake, "openai")
    )
    fake.default("sk-load-first-0001", ok(delay=0.01))
    fake.default("sk-load-second-0002", ok(delay=0.01))
    stop = threading.Event()
    results: list[tuple[int, str]] = []

    def worker(n: int) -> None:
        with httpx.Client(timeout=20, headers={"Authorization": f"Bearer {gateway.api_key}"}) as c:
            i = 0
            while not stop.is_set():
                i += 1
                r = c.post(
                    gateway.base + "/v1/chat/completions",
                    json={
                        "model": "gpt-fake",
                        "stream": i % 2 == 0,
                        "messages": [{"role": "user", "content": f"w{n}-{i}"}],
                    },
                )
                results.append((r.status_code, r.headers.get("x-levity-account", "")))

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    time.sleep(0.4)
    added = gateway.cli(
        "account",
        "add",
        "--provider",
        "openai",
        "--key",
        "sk-load-second-0002",
        "--base-url",
        fake.url + "/v1",
        "--label",
        "second",
        "--models",
        "gpt-fake",
    )
    assert added.returncode == 0, added.stderr
    wait_until(lambda: any(acc == "second" for _, acc in results[-20:]), timeout=5)
    assert gateway.cli("account", "remove", first["id"]).returncode == 0
    time.sleep(1.0)
    mark = len(results)
    time.sleep(0.5)
    stop.set()
    for t in threads:
        t.join(10)
    assert len(results) > 40
    assert all(status == 200 for status, _ in results), [r for r in results if r[0] != 200][:5]
    assert {acc for _, acc in results} == {"first", "second"}
    assert {acc for _, acc in results[mark:]} == {"second"}


def test_demo_model_answers_every_wire(make_server):
    server = make_server(args=["--demo"])
    oa = openai.OpenAI(base_url=server.base + "/v1", api_key=server.api_key, max_retries=0)
    assert [m.id for m in oa.models.list()] == ["levity-demo"]
    reply = oa.chat.completions.create(
        model="levity-demo", messages=[{"role": "user", "content": "ping pong"}]
    )
    text = reply.choices[0].message.content
    assert '"ping pong"' in text and reply.usage.prompt_tokens == 2
    assert reply.usage.completion_tokens == len(re.findall(r"\w+|[^\w\s]", text))
    pieces = [
        c.choices[0].delta.content
        for c in oa.chat.completions.create(
            model="levity-demo", messages=[{"role": "user", "content": "ping pong"}], stream=True
        )
        if c.choices
    ]
    assert "".join(p for p in pieces if p) == text and len(pieces) > 5  # word by word
    assert oa.responses.create(model="levity-demo", input="ping pong").output_text == text

    an = anthropic.Anthropic(base_url=server.base, api_key=server.api_key, max_retries=0)
    with an.messages.stream(
        model="levity-demo", max_tokens=50, messages=[{"role": "user", "content": "ping pong"}]
    ) as s:
        assert "".join(s.text_stream) == text
    assert (
        an.messages.count_tokens(
            model="levity-demo", messages=[{"role": "user", "content": "ping pong"}]
        ).input_tokens
        == 2
    )

    gm = genai.Client(
        api_key=server.api_key, http_options=gtypes.HttpOptions(base_url=server.base, api_version="v1beta")
    )
    assert (
        "".join(p.text for p in gm.models.generate_content_stream(model="levity-demo", contents="ping pong"))
        == text
    )

    with server.admin() as c:
        accounts = c.get("/api/accounts").json()["accounts"]
        assert accounts[0]["provider"] == "mock" and "demo" in accounts[0]["label"]
        assert c.delete("/api/accounts/demo").status_code == 409
        assert c.post("/api/accounts/demo/test").json()["ok"] is True


def test_cli_account_options(gateway, fake):
    def add(*extra: str):
        return gateway.cli(
            "account",
            "add",
            "--provider",
            "openai",
            "--key",
            "sk-opt-key-9876",
            "--base-url",
            fake.url + "/v1",
            "--models",
            "gpt-fake",
            *extra,
        )

    assert "expected KEY=VALUE" in add("--label", "bad1", "--option", "novalue").stderr
    bad = add("--label", "bad2", "--option", "responses_api=maybe")
    assert bad.returncode != 0 and "responses_api must be true or false" in bad.stderr
    ok_run = add("--label", "resp", "--option", "responses_api=true")
    assert ok_run.returncode == 0, ok_run.stderr
    listed = json.loads(gateway.cli("account", "list", "--json").stdout)
    assert [a["options"] for a in listed if a["label"] == "resp"] == [{"responses_api": True}]
    # The declared option makes a Responses request pass through to the upstream's /v1/responses.
    r = wait_until(
        lambda: (
            (
                resp := httpx.post(
                    gateway.base + "/v1/responses",
                    headers={"Authorization": f"Bearer {gateway.api_key}"},
                    json={"model": "gpt-fake", "input": "hi"},
                    timeout=20,
                )
            ).status_code
            == 200
            and resp
        )
    )
    assert r.headers["x-levity-account"] == "resp"
    assert fake.calls(path_part="/v1/responses")
