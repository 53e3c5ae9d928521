"""The UI on the real pool: accounts added through the form, real SDK traffic through the forwarder to a
fake upstream on loopback, seen live in the monitor, with cooldowns on the Accounts page and dashboard."""

from __future__ import annotations

import os
import re
import time
from collections.abc import Iterator
from typing import Any

import anthropic
import httpx
import openai
import pytest
from playwright.sync_api import Page, expect
from seed import seed
from tests.integration.fake_upstream import FakeUpstream, error
from ui_helpers import login, shot

PROMPT = "Say hello to the monitor"


@pytest.fixture
def fake() -> Iterator[FakeUpstream]:
    up = FakeUpstream().start()
    yield up
    up.stop()


def account_key(name: str) -> str:
    return f"sk-acct-{name}-{os.urandom(6).hex()}"


def add_account(srv: Any, **body: Any) -> dict[str, Any]:
    with srv.admin() as c:
        r = c.post("/api/accounts", json=body)
        assert r.status_code == 201, r.text
        return r.json()


def account(srv: Any, ref: str) -> dict[str, Any]:
    with srv.admin() as c:
        r = c.get(f"/api/accounts/{ref}")
        assert r.status_code == 200, r.text
        return r.json()


def oai(srv: Any, key: str | None = None) -> openai.OpenAI:
    return openai.OpenAI(base_url=srv.base + "/v1", api_key=key or srv.api_key, max_retries=0, timeout=10)


def chat(srv: Any, model: str = "gpt-4o-mini", key: str | None = None, stream: bool = False) -> str:
    client = oai(srv, key)
    messages: Any = [{"role": "user", "content": PROMPT}]
    if not stream:
        return client.chat.completions.create(model=model, messages=messages).choices[0].message.content or ""
    out = client.chat.completions.create(
        model=model, messages=messages, stream=True, stream_options={"include_usage": True}
    )
    return "".join(c.choices[0].delta.content or "" for c in out if c.choices)


def assert_no_key_shown(page: Page, *keys: str) -> None:
    html = page.content()
    for key in keys:
        assert key not in html


def test_accounts_traffic_monitor_cooldowns_and_auth(
    make_server: Any, page: Page, fake: FakeUpstream
) -> None:
    fake.models = ["gpt-4o", "gpt-4o-mini"]
    # History from the past days under the same account labels, so the charts have a shape;
    # everything from the last hour below is real traffic through the gateway.
    srv = make_server(args=["--no-demo"], prepare=lambda home: seed(home, n=300, recent=0, min_age_s=3600))
    srv.patch({"monitor": {"log_bodies": True}})
    keys = {n: account_key(n) for n in ("main", "backup", "claude", "gemini")}
    add_account(srv, provider="openai", label="openai-backup", api_key=keys["backup"], base_url=fake.url + "/v1",
                models=["gpt-4o-mini"])  # fmt: skip
    add_account(srv, provider="anthropic", label="anthropic-team", api_key=keys["claude"], base_url=fake.url,
                models=["claude-sonnet-4-6"])  # fmt: skip
    add_account(srv, provider="gemini", label="gemini-free", api_key=keys["gemini"], base_url=fake.url,
                models=["gemini-2.5-flash"])  # fmt: skip

    # Add an account through the form; its models come from the fake upstream's model list.
    login(page, srv)
    page.click("#nav a[data-page=accounts]")
    page.click("#account-add")
    form = page.locator("dialog.account-form")
    form.locator("select[name=provider]").select_option("openai")
    form.locator("input[name=label]").fill("openai-main")
    form.locator("input[name=base_url]").fill(fake.url + "/v1")
    form.locator("input[name=api_key]").fill(keys["main"])
    form.get_by_role("button", name="Add account").click()
    expect(page.locator(".toast.ok", has_text="Added openai-main (2 models)")).to_be_visible()
    main_row = page.locator("tr[data-account=openai-main]")
    expect(main_row.locator("td.models .tag")).to_have_text(["gpt-4o", "gpt-4o-mini"])
    expect(main_row.locator("[data-role=key]")).to_have_text("****" + keys["main"][-4:])
    expect(main_row.locator("[data-role=state]")).to_have_text("ready")
    assert account(srv, "openai-main")["models"] == ["gpt-4o", "gpt-4o-mini"]
    assert_no_key_shown(page, *keys.values())

    # The first request goes to openai-main, which answers 429: the forwarder rotates to the backup.
    srv.patch({"proxy": {"fixed_account": "openai-main", "model_mapping": {"gpt-4*": "gpt-4o-mini"}}})
    fake.plan(keys["main"], error(429, {"error": {"message": "Rate limit reached", "type": "requests"}},
                                  {"retry-after": "119"}))  # fmt: skip
    page.click("#nav a[data-page=monitor]")
    expect(page.locator("#live-state")).to_have_text("live")
    fresh = page.locator("table.log tbody tr.fresh")
    expect(fresh).to_have_count(0)

    assert chat(srv) == "Hello from the fake upstream."
    expect(fresh).to_have_count(1)
    expect(fresh.first).to_contain_text("openai-backup (2 tries)")
    rotated_id = fresh.first.get_attribute("data-id")
    sent = 1
    for i in range(6):
        assert chat(srv, model="gpt-4.1" if i == 5 else "gpt-4o-mini", stream=i % 2 == 0)
        sent += 1
    claude = anthropic.Anthropic(base_url=srv.base, api_key=srv.api_key, max_retries=0, timeout=10)
    for _ in range(3):
        msg = claude.messages.create(model="claude-sonnet-4-6", max_tokens=50,
                                     messages=[{"role": "user", "content": PROMPT}])  # fmt: skip
        assert msg.content[0].text == "Hello from the fake upstream."  # type: ignore[union-attr]
        sent += 1
    for _ in range(2):
        r = httpx.post(srv.base + "/v1beta/models/gemini-2.5-flash:generateContent", timeout=10,
                       json={"contents": [{"role": "user", "parts": [{"text": PROMPT}]}]})  # fmt: skip
        assert r.status_code == 200, r.text
        sent += 1
    expect(fresh).to_have_count(sent)
    expect(page.get_by_text(f"{300 + sent} matching")).to_be_visible()  # history + live arrivals
    expect(page.locator("table.log tbody tr.fresh", has_text="anthropic_messages")).to_have_count(3)
    expect(page.locator("table.log tbody tr.fresh", has_text="gemini-free")).to_have_count(2)
    expect(page.locator("table.log tbody tr.fresh", has_text="gpt-4.1 → gpt-4o-mini")).to_have_count(1)
    shot(page, "monitor")

    # The detail drawer: both attempts, the failed one with its account and error; bodies without keys.
    page.locator(f"table.log tbody tr[data-id='{rotated_id}']").click()
    drawer = page.locator("#drawer")
    expect(drawer).to_contain_text(f"Request #{rotated_id}")
    attempts = drawer.locator("table.attempts tbody tr")
    expect(attempts).to_have_count(2)
    expect(attempts.nth(0)).to_contain_text("openai-main")
    expect(attempts.nth(0)).to_contain_text("429")
    expect(attempts.nth(0)).to_contain_text("Rate limit reached")
    expect(attempts.nth(1)).to_contain_text("openai-backup")
    expect(attempts.nth(1)).to_contain_text("200")
    expect(drawer.locator("pre.body").first).to_contain_text(PROMPT)
    expect(drawer.locator("pre.body").nth(1)).to_contain_text("Hello from the fake upstream.")
    assert_no_key_shown(page, srv.api_key, *keys.values())
    shot(page, "monitor-detail")
    page.click("#drawer-close")

    # openai-main rests for the 119 s the upstream asked for: a countdown on Accounts and Dashboard.
    page.click("#nav a[data-page=accounts]")
    expect(main_row.locator("[data-role=state]")).to_have_text("cooling")
    rest = main_row.locator(".rest .countdown")
    expect(rest).to_have_text(re.compile(r"^1m \d\ds$"))
    before = rest.inner_text()
    expect(rest).not_to_have_text(before, timeout=3000)  # it counts down
    expect(main_row.locator(".rest")).to_contain_text("rate_limited")
    expect(page.locator("tr[data-account=openai-backup] [data-role=state]")).to_have_text("ready")
    expect(page.locator("tr[data-account=openai-backup] td.usage")).to_contain_text(f"{sent - 5} req")
    shot(page, "accounts")

    page.click("#nav a[data-page=dashboard]")
    expect(page.locator("[data-stat=rpm] .muted")).to_have_text(f"{sent} in the last 5 min")
    cooling = page.locator("[data-group=cooling] li[data-account=openai-main]")
    expect(cooling).to_contain_text(re.compile(r"1m \d\ds left · rate_limited"))
    expect(page.locator("[data-group=ready] li")).to_have_count(3)
    shot(page, "dashboard")

    # Token stats agree with the stats API, which counts the real traffic on top of the history.
    page.click("#nav a[data-page=stats]")
    with srv.admin() as c:
        since = time.time() - 7 * 86400
        totals = c.get("/api/stats", params={"bucket": "day", "group": "model", "since": since}).json()[
            "totals"
        ]
    claude_total = next(t for t in totals if t["key"] == "claude-sonnet-4-6")
    claude_row = page.locator("table.totals tbody tr", has_text="claude-sonnet-4-6")
    expect(claude_row.locator("td").nth(1)).to_have_text(f"{claude_total['requests']:,}")
    expect(page.locator("#tokens-chart svg rect").first).to_be_visible()
    shot(page, "stats")

    # Auth mode: strict needs the key on the API; the effective mode shows it at once.
    page.click("#nav a[data-page=proxy]")
    effective = page.locator("#effective-auth-mode")
    expect(effective).to_have_text("effective: off")
    assert chat(srv, key="sk-not-the-key")  # off on loopback: any key passes
    page.select_option("select[name=auth_mode]", "strict")
    expect(effective).to_have_text("effective: strict")
    with pytest.raises(openai.AuthenticationError):
        chat(srv, key="sk-not-the-key")
    assert chat(srv)
    shot(page, "proxy")

    # A new key: the old one stops working through the SDK, the new one works.
    old = srv.api_key
    page.click("#api-key-regenerate")
    page.locator("dialog.confirm").get_by_role("button", name="Regenerate").click()
    key_text = page.locator("#api-key-value")
    expect(key_text).not_to_have_text(re.compile(re.escape(old[-4:]) + "$"))
    new = srv.read_config()["proxy"]["api_key"]
    with pytest.raises(openai.AuthenticationError):
        chat(srv, key=old)
    assert chat(srv, key=new)
    assert_no_key_shown(page, *keys.values())


def test_account_actions(make_server: Any, page: Page, fake: FakeUpstream) -> None:
    srv = make_server(args=["--no-demo"])
    key = account_key("spare")
    add_account(
        srv, provider="openai", label="spare", api_key=key, base_url=fake.url + "/v1", models=["gpt-fake"]
    )
    login(page, srv)
    page.click("#nav a[data-page=accounts]")
    row = page.locator("tr[data-account=spare]")
    state = row.locator("[data-role=state]")
    expect(state).to_have_text("ready")

    # Test: a tiny real request, then one the upstream refuses.
    row.locator("[data-action=test]").click()
    expect(page.locator(".toast.ok", has_text="spare: OK, gpt-fake answered")).to_be_visible()
    fake.plan(key, error(401, {"error": {"message": "Incorrect API key provided: " + key}}))
    row.locator("[data-action=test]").click()
    expect(page.locator(".toast.error", has_text="spare: test failed (401)")).to_be_visible()

    # Refresh models from the upstream's list.
    fake.models = ["gpt-fake", "gpt-new"]
    row.locator("[data-action=refresh-models]").click()
    expect(page.locator(".toast.ok", has_text="spare serves 2 models")).to_be_visible()
    expect(row.locator("td.models .tag")).to_have_text(["gpt-fake", "gpt-new"])

    # A rejected key makes the account unusable, with the reason, on Accounts and the Dashboard.
    fake.plan(key, error(401, {"error": {"message": "bad key"}}))
    with pytest.raises(openai.APIStatusError) as refused:
        chat(srv, model="gpt-fake")
    assert refused.value.status_code == 503  # the only account for the model needs a new key
    page.click("#nav a[data-page=dashboard]")
    expect(page.locator("[data-group=unusable] li[data-account=spare]")).to_contain_text("auth_failed")
    page.click("#nav a[data-page=accounts]")
    expect(state).to_have_text("unusable")
    expect(row.locator("td.state")).to_contain_text("auth_failed")

    # Edit: a new label and weight keep the key; a new key makes the account usable again.
    row.locator("[data-action=edit]").click()
    form = page.locator("dialog.account-form")
    expect(form.locator("input[name=api_key]")).to_have_value("")  # the key is never sent to the page
    form.locator("input[name=label]").fill("spare-2")
    form.locator("input[name=weight]").fill("2")
    form.get_by_role("button", name="Save").click()
    expect(page.locator(".toast.ok", has_text="Saved spare-2")).to_be_visible()
    row = page.locator("tr[data-account=spare-2]")
    state = row.locator("[data-role=state]")
    saved = account(srv, "spare-2")
    assert saved["weight"] == 2 and saved["api_key"] == "****" + key[-4:] and not saved["usable"]
    new_key = account_key("spare2")
    row.locator("[data-action=edit]").click()
    form.locator("input[name=api_key]").fill(new_key)
    form.get_by_role("button", name="Save").click()
    expect(state).to_have_text("ready")
    expect(row.locator("[data-role=key]")).to_have_text("****" + new_key[-4:])
    assert chat(srv, model="gpt-fake")
    assert fake.calls(new_key, "/chat/completions")

    # A duplicate label: the API's error is shown in the form, not swallowed.
    add_account(srv, provider="openai", label="other", api_key=account_key("o"), base_url=fake.url + "/v1",
                models=["gpt-other"])  # fmt: skip
    page.click("#account-add")
    form.locator("input[name=label]").fill("other")
    form.locator("input[name=api_key]").fill(account_key("dup"))
    form.locator("input[name=models]").fill("gpt-x")
    form.get_by_role("button", name="Add account").click()
    expect(form.locator(".error")).to_contain_text("already labelled 'other'")
    form.get_by_role("button", name="Cancel").click()

    # Disable and enable: a disabled account serves nothing.
    row.locator("[data-action=disable]").click()
    expect(state).to_have_text("disabled")
    with pytest.raises(openai.APIStatusError) as err:
        chat(srv, model="gpt-fake")
    assert err.value.status_code == 503
    row.locator("[data-action=enable]").click()
    expect(state).to_have_text("ready")

    # Clear cooldowns: a rate-limited account is ready again at once.
    fake.plan(new_key, error(429, {"error": {"message": "slow down"}}, {"retry-after": "120"}))
    with pytest.raises(openai.RateLimitError):
        chat(srv, model="gpt-fake")
    page.click("#nav a[data-page=dashboard]")  # and back: a fresh list instead of the 5 s poll
    page.click("#nav a[data-page=accounts]")
    expect(state).to_have_text("cooling")
    expect(row.locator(".rest .countdown")).to_have_text(re.compile(r"^(2m 00s|1m \d\ds)$"))
    row.locator("[data-action=clear-cooldowns]").click()
    expect(page.locator(".toast.ok", has_text="Cleared 1 cooldown of spare-2")).to_be_visible()
    expect(state).to_have_text("ready")
    assert chat(srv, model="gpt-fake")

    # Delete asks first; cancelling keeps the account.
    row.locator("[data-action=delete]").click()
    page.locator("dialog.confirm").get_by_role("button", name="Cancel").click()
    expect(row).to_have_count(1)
    row.locator("[data-action=delete]").click()
    page.locator("dialog.confirm").get_by_role("button", name="Delete").click()
    expect(page.locator(".toast.ok", has_text="Deleted spare-2")).to_be_visible()
    expect(row).to_have_count(0)
    with srv.admin() as c:
        assert c.get("/api/accounts/spare-2").status_code == 404
    assert_no_key_shown(page, key, new_key)
