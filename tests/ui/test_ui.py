"""The web UI in a real browser against a real gateway process."""

from __future__ import annotations

import datetime as dt
import time
from typing import Any

import httpx
from playwright.sync_api import Page, expect
from seed import seed
from ui_helpers import login, shot

seeded: dict[str, Any] = {}


def seed_home(home: Any) -> None:
    seeded["records"] = seed(home)


def test_pages_show_the_traffic(make_server: Any, page: Page) -> None:
    srv = make_server(prepare=seed_home)
    records = seeded["records"]
    page.goto(srv.base + "/")
    assert page.url == srv.base + "/ui/"
    expect(page.locator("#login")).to_be_visible()
    shot(page, "login")
    page.fill("#login-key", "sk-wrong")
    page.click("#login-form button[type=submit]")
    expect(page.locator("#login-error")).to_contain_text("Not accepted")

    login(page, srv)
    # Dashboard: the last five minutes and today, as the seeded log says.
    recent = sum(1 for r in records if r.ts >= time.time() - 300)
    expect(page.locator("[data-stat=rpm] .muted")).to_have_text(f"{recent} in the last 5 min")
    midnight = dt.datetime.now().replace(hour=0, minute=0, second=0, microsecond=0).timestamp()
    today = sum(1 for r in records if r.ts >= midnight)
    expect(page.locator("[data-stat=tokens] .muted")).to_contain_text(f"· {today:,} requests")
    expect(page.locator(".chart svg rect").first).to_be_visible()

    # No account configured: the run's demo account, which can be tested but not edited or deleted.
    expect(page.locator("[data-group=ready] li")).to_have_count(1)
    expect(page.locator("[data-group=ready] li")).to_contain_text("demo (mock model")
    page.click("#nav a[data-page=accounts]")
    demo = page.locator("table.accounts tbody tr")
    expect(demo).to_have_count(1)
    expect(demo.locator("[data-role=state]")).to_have_text("ready")
    expect(demo.locator("td.models .tag")).to_have_text(["levity-demo"])
    expect(demo.locator("button")).to_have_text(["Test", "Clear cooldowns"])
    demo.locator("[data-action=test]").click()
    expect(page.locator(".toast.ok", has_text="OK, levity-demo answered")).to_be_visible()

    page.click("#nav a[data-page=monitor]")
    expect(page.locator("table.log tbody tr")).to_have_count(100)
    expect(page.locator("#live-state")).to_have_text("live")
    expect(page.get_by_text(f"{len(records)} matching")).to_be_visible()
    page.select_option("select[name=status]", "5xx")
    failed = sum(1 for r in records if r.status >= 500)
    expect(page.get_by_text(f"{failed} matching")).to_be_visible()
    expect(page.locator("table.log tbody tr")).to_have_count(failed)
    page.select_option("select[name=status]", "")
    expect(page.locator("table.log tbody tr")).to_have_count(100)
    newest = max(records, key=lambda r: r.id)
    page.locator(f"table.log tbody tr[data-id='{newest.id}']").click()
    drawer = page.locator("#drawer")
    expect(drawer).to_contain_text(f"Request #{newest.id}")
    expect(drawer.locator("table.attempts tbody tr")).to_have_count(len(newest.attempts))
    expect(drawer).to_contain_text(newest.account)
    page.click("#drawer-close")
    expect(drawer).to_be_hidden()

    page.click("#nav a[data-page=stats]")
    expect(page.locator("table.totals tbody tr")).to_have_count(3)
    expect(page.locator("#tokens-chart svg rect").first).to_be_visible()
    expect(page.locator("#requests-chart svg polyline")).to_have_count(3)
    total_in = sum(r.input_tokens for r in records if r.ts >= time.time() - 7 * 86400)
    gpt_requests = sum(1 for r in records if r.model == "gpt-4o-mini")
    expect(page.locator("table.totals tbody tr", has_text="gpt-4o-mini").locator("td").nth(1)).to_have_text(
        str(gpt_requests)
    )
    assert total_in > 0
    page.select_option("select[name=group]", "account")
    expect(page.locator("table.totals tbody tr", has_text="openai-main")).to_have_count(1)


def healthz(srv: Any, key: str | None = None) -> int:
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    return httpx.get(srv.base + "/healthz", headers=headers, timeout=5).status_code


def test_auth_mode_changes_live(make_server: Any, page: Page) -> None:
    srv = make_server()
    login(page, srv)
    page.click("#nav a[data-page=proxy]")
    effective = page.locator("#effective-auth-mode")
    expect(effective).to_have_text("effective: off")  # auto on loopback
    expect(page.locator("#bind-address")).to_have_text("binds 127.0.0.1")
    assert healthz(srv) == 200

    page.select_option("select[name=auth_mode]", "strict")
    expect(effective).to_have_text("effective: strict")
    assert srv.read_config()["proxy"]["auth_mode"] == "strict"
    assert healthz(srv) == 401
    assert healthz(srv, srv.api_key) == 200

    page.select_option("select[name=auth_mode]", "all_except_health")
    expect(effective).to_have_text("effective: all_except_health")
    assert healthz(srv) == 200
    assert httpx.get(srv.base + "/v1/models", timeout=5).status_code == 401

    page.select_option("select[name=auth_mode]", "off")
    expect(effective).to_have_text("effective: off")
    assert httpx.get(srv.base + "/v1/models", timeout=5).status_code != 401


def test_key_show_copy_regenerate(make_server: Any, page: Page) -> None:
    srv = make_server(proxy={"auth_mode": "strict"})
    old = srv.api_key
    login(page, srv)
    page.click("#nav a[data-page=proxy]")
    key_text = page.locator("#api-key-value")
    expect(key_text).to_have_text("****" + old[-4:])
    page.click("#api-key-show")
    expect(key_text).to_have_text(old)
    expect(page.locator("#snippet")).to_contain_text(f"{srv.base}/v1/chat/completions")
    expect(page.locator("#snippet")).to_contain_text(old)
    page.get_by_role("button", name="Codex CLI").click()
    expect(page.locator("#snippet")).to_contain_text(f'base_url = "{srv.base}/v1"')

    page.click("#api-key-regenerate")
    page.locator("dialog.confirm").get_by_role("button", name="Regenerate").click()
    expect(key_text).not_to_have_text(old)
    new = key_text.inner_text()
    assert new.startswith("sk-") and new == srv.read_config()["proxy"]["api_key"]
    assert healthz(srv, old) == 401 and healthz(srv, new) == 200
    # Without an admin password the key is the admin login: the session moved to the new key.
    page.click("#nav a[data-page=dashboard]")
    expect(page.locator("[data-stat=rpm]")).to_be_visible()
    expect(page.locator("#login")).to_be_hidden()


def test_admin_password_and_model_mapping(make_server: Any, page: Page) -> None:
    srv = make_server()
    login(page, srv)
    page.click("#nav a[data-page=proxy]")

    page.get_by_role("button", name="Add row").click()
    page.locator("tr.mapping-row .map-from").last.fill("gpt-4*")
    page.locator("tr.mapping-row .map-to").last.fill("gpt-4o-mini")
    page.click("#mapping-save")
    expect(page.locator(".toast.ok", has_text="Model mapping saved")).to_be_visible()
    assert srv.read_config()["proxy"]["model_mapping"] == {"gpt-4*": "gpt-4o-mini"}

    page.get_by_role("button", name="Add row").click()
    page.locator("tr.mapping-row .map-from").last.fill("only-one-side")
    page.click("#mapping-save")
    expect(page.locator(".toast.error", has_text="needs both")).to_be_visible()

    page.fill("input[name=admin_password]", "short")
    page.get_by_role("button", name="Set password").click()
    expect(page.locator(".toast.error", has_text="at least 8")).to_be_visible()
    page.fill("input[name=admin_password]", "correct horse battery")
    page.get_by_role("button", name="Set password").click()
    expect(page.locator(".toast.ok", has_text="Admin password set")).to_be_visible()
    admin_headers = {"Authorization": f"Bearer {srv.api_key}"}
    assert httpx.get(srv.base + "/api/config", headers=admin_headers, timeout=5).status_code == 401
    page.click("#nav a[data-page=monitor]")  # the session carries the new password
    expect(page.locator("#live-state")).to_have_text("live")

    page.click("#nav a[data-page=proxy]")
    page.click("#admin-password-remove")
    page.locator("dialog.confirm").get_by_role("button", name="Remove").click()
    expect(page.locator(".toast.ok", has_text="Admin password removed")).to_be_visible()
    assert httpx.get(srv.base + "/api/config", headers=admin_headers, timeout=5).status_code == 200
    page.click("#nav a[data-page=dashboard]")
    expect(page.locator("[data-stat=rpm]")).to_be_visible()


def test_a_rejected_session_returns_to_login(make_server: Any, page: Page) -> None:
    srv = make_server()
    login(page, srv)
    srv.patch({"proxy": {"admin_password": "changed-elsewhere-1"}})
    page.click("#nav a[data-page=monitor]")
    expect(page.locator("#login-error")).to_contain_text("Signed out")
