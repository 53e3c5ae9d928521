"""Fixtures for the pool and forwarder tests: a fake upstream and a gateway wired to it."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from .fake_upstream import FakeUpstream


@pytest.fixture
def fake() -> Iterator[FakeUpstream]:
    up = FakeUpstream().start()
    yield up
    up.stop()


def add_account(
    server: Any,
    provider: str,
    key: str,
    label: str,
    models: list[str] | None = None,
    base_url: str | None = None,
    **extra: Any,
) -> dict[str, Any]:
    body: dict[str, Any] = {"provider": provider, "api_key": key, "label": label, **extra}
    if models is not None:
        body["models"] = models
    if base_url is not None:
        body["base_url"] = base_url
    with server.admin() as c:
        r = c.post("/api/accounts", json=body)
        assert r.status_code == 201, r.text
        return r.json()


def base_for(fake: FakeUpstream, provider: str) -> str:
    return fake.url + "/v1" if provider == "openai" else fake.url


@pytest.fixture
def gateway(make_server: Any, fake: FakeUpstream) -> Any:
    """A gateway with fast cooldown defaults; tests add accounts pointing at `fake`."""
    server = make_server(proxy={"read_timeout": 2.0, "connect_timeout": 2.0})
    return server


def account_view(server: Any, account_id: str) -> dict[str, Any]:
    with server.admin() as c:
        r = c.get(f"/api/accounts/{account_id}")
        assert r.status_code == 200, r.text
        return r.json()
