"""Admin API for upstream accounts: /api/accounts/...

Every answer shows keys masked to their last four characters, with the live state: cooldowns
with seconds left, why an account is unusable, its last error, last use and counters.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web
from pydantic import ValidationError

from ..body import read_json_object
from ..errors import GatewayError, json_response
from ..pool.accounts import Account, AccountInput, validation_message
from ..pool.manage import AccountError, add_account, refresh_models, remove_account, update_account
from ..pool.pool import Pool
from ..pool.probe import ProbeError, test_account
from ..state import GATEWAY, Gateway


def _gw(request: web.Request) -> Gateway:
    return request.app[GATEWAY]


def _pool(request: web.Request) -> Pool:
    return _gw(request).parts["pool"]


async def _input(request: web.Request) -> AccountInput:
    raw = await read_json_object(request, 1024 * 1024)
    try:
        return AccountInput.model_validate(raw)
    except ValidationError as err:
        raise GatewayError(422, validation_message(err)) from None


def _account(request: web.Request) -> Account:
    ref = request.match_info["id"]
    account = _pool(request).book.find(ref)
    if account is None:
        raise GatewayError(404, f"no account with id or label {ref!r}")
    return account


def _stored(account: Account) -> None:
    if account.ephemeral:
        raise GatewayError(
            409, f"account {account.label!r} exists only for this run (--demo) and cannot be changed"
        )


async def _after_change(
    request: web.Request, account_id: str, status: int = 200, **extra: Any
) -> web.Response:
    pool = _pool(request)
    await pool.book.reload()
    account = pool.book.get(account_id)
    assert account is not None
    return json_response({**(await pool.view(account)), **extra}, status=status)


async def _run(coro: Any) -> Any:
    try:
        return await coro
    except AccountError as err:
        raise GatewayError(err.status, err.message) from None


async def list_accounts(request: web.Request) -> web.Response:
    return json_response({"accounts": await _pool(request).views()})


async def get_account(request: web.Request) -> web.Response:
    return json_response(await _pool(request).view(_account(request)))


async def create_account(request: web.Request) -> web.Response:
    gw = _gw(request)
    data = await _input(request)
    account, warning = await _run(add_account(gw.parts["db"], data, gw.parts["http"]))
    extra = {"warning": warning} if warning else {}
    return await _after_change(request, account.id, status=201, **extra)


async def patch_account(request: web.Request) -> web.Response:
    account = _account(request)
    _stored(account)
    data = await _input(request)
    if data.provider is not None and data.provider != account.provider:
        raise GatewayError(422, "provider cannot change; add a new account instead")
    updated = await _run(update_account(_gw(request).parts["db"], account.id, data))
    return await _after_change(request, updated.id)


async def _set_enabled(request: web.Request, enabled: bool) -> web.Response:
    account = _account(request)
    _stored(account)
    await _run(update_account(_gw(request).parts["db"], account.id, AccountInput(enabled=enabled)))
    return await _after_change(request, account.id)


async def enable_account(request: web.Request) -> web.Response:
    return await _set_enabled(request, True)


async def disable_account(request: web.Request) -> web.Response:
    return await _set_enabled(request, False)


async def delete_account(request: web.Request) -> web.Response:
    account = _account(request)
    _stored(account)
    await _run(remove_account(_gw(request).parts["db"], account.id))
    await _pool(request).book.reload()
    return json_response({"deleted": account.id, "label": account.label})


async def test(request: web.Request) -> web.Response:
    account = _account(request)
    model = request.query.get("model") or None
    try:
        result = await test_account(_gw(request).parts["http"], account, model)
    except ProbeError as err:
        raise GatewayError(422, str(err)) from None
    return json_response({"id": account.id, "label": account.label, **result})


async def refresh(request: web.Request) -> web.Response:
    account = _account(request)
    _stored(account)
    gw = _gw(request)
    await _run(refresh_models(gw.parts["db"], account.id, gw.parts["http"]))
    return await _after_change(request, account.id)


async def clear_cooldowns(request: web.Request) -> web.Response:
    account = _account(request)
    cleared = await _pool(request).state.clear_cooldowns(account.id)
    return json_response({**(await _pool(request).view(account)), "cleared": cleared})


async def clear_all_cooldowns(request: web.Request) -> web.Response:
    cleared = await _pool(request).state.clear_cooldowns(None)
    return json_response({"cleared": cleared, "accounts": await _pool(request).views()})


def setup(app: web.Application) -> None:
    r = app.router
    r.add_get("/api/accounts", list_accounts)
    r.add_post("/api/accounts", create_account)
    r.add_post("/api/accounts/cooldowns/clear", clear_all_cooldowns)
    r.add_get("/api/accounts/{id}", get_account)
    r.add_patch("/api/accounts/{id}", patch_account)
    r.add_delete("/api/accounts/{id}", delete_account)
    r.add_post("/api/accounts/{id}/enable", enable_account)
    r.add_post("/api/accounts/{id}/disable", disable_account)
    r.add_post("/api/accounts/{id}/test", test)
    r.add_post("/api/accounts/{id}/refresh", refresh)
    r.add_post("/api/accounts/{id}/cooldowns/clear", clear_cooldowns)
