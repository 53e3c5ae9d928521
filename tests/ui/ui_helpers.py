"""Steps shared by the UI tests."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from playwright.sync_api import Page

SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"


def login(page: Page, server: Any, key: str | None = None) -> None:
    page.goto(server.base + "/")
    page.fill("#login-key", key or server.admin_key())
    page.click("#login-form button[type=submit]")
    page.wait_for_selector(".topbar:not([hidden])")


def shot(page: Page, name: str) -> None:
    """The README's screenshots: written only with LEVITY_SCREENSHOTS=1, so test runs leave the tree clean."""
    if os.environ.get("LEVITY_SCREENSHOTS") != "1":
        return
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.evaluate("document.getElementById('toasts').replaceChildren()")
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"))
