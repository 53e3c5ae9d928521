"""Adding, changing and removing accounts: shared by the admin API and the CLI.

Both write the same SQLite file; a running server notices the CLI's commits within half a
second (`AccountBook.watch`) and its own at once (`AccountBook.reload`).
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from ..providers import PROVIDERS
from ..store.sqlite import Database
from .accounts import Account, AccountInput, new_account_id
from .probe import ProbeError, discover_models

if TYPE_CHECKING:
    from ..upstream import UpstreamHttp


class AccountError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


async def add_account(db: Database, data: AccountInput, http: UpstreamHttp | None) -> tuple[Account, str]:
    """Store a new account; discover its models when none are given. Returns (account, warning)."""
    if data.provider is None:
        raise AccountError(422, f"provider is required: one of {', '.join(PROVIDERS)}")
    if data.provider != "mock" and not data.api_key:
        raise AccountError(422, "api_key is required")
    aid = new_account_id()
    row: dict[str, Any] = {
        "id": aid,
        "label": data.label or f"{data.provider}-{aid[-4:]}",
        "provider": data.provider,
        "base_url": data.base_url or "",
        "api_key": data.api_key or "",
        "models": data.models or [],
        "enabled": True if data.enabled is None else data.enabled,
        "weight": data.weight or 1.0,
        "options": data.options or {},
    }
    if await asyncio.to_thread(_label_taken, db, row["label"], None):
        raise AccountError(409, f"an account is already labelled {row['label']!r}")
    warning = ""
    if not row["models"]:
        try:
            row["models"] = await discover_models(http, Account.from_row(row))
        except ProbeError as err:
            warning = f"model discovery failed ({err}); the account serves no model until you set --models or refresh"
    await asyncio.to_thread(db.insert_account, row)
    stored = await asyncio.to_thread(db.get_account, aid)
    assert stored is not None
    return Account.from_row(stored), warning


def _label_taken(db: Database, label: str, except_id: str | None) -> bool:
    return any(r["label"] == label and r["id"] != except_id for r in db.list_accounts())


def resolve(db: Database, ref: str) -> dict[str, Any]:
    """An account row by id, else by label."""
    row = db.get_account(ref)
    if row is None:
        row = next((r for r in db.list_accounts() if r["label"] == ref), None)
    if row is None:
        raise AccountError(404, f"no account with id or label {ref!r}")
    return row


async def update_account(db: Database, ref: str, data: AccountInput) -> Account:
    row = await asyncio.to_thread(resolve, db, ref)
    changes = data.model_dump(exclude_none=True)
    if "label" in changes and await asyncio.to_thread(_label_taken, db, changes["label"], row["id"]):
        raise AccountError(409, f"an account is already labelled {changes['label']!r}")
    if changes:
        await asyncio.to_thread(db.update_account, row["id"], changes)
    stored = await asyncio.to_thread(db.get_account, row["id"])
    assert stored is not None
    return Account.from_row(stored)


async def remove_account(db: Database, ref: str) -> Account:
    row = await asyncio.to_thread(resolve, db, ref)
    await asyncio.to_thread(db.delete_account, row["id"])
    return Account.from_row(row)


async def refresh_models(db: Database, ref: str, http: UpstreamHttp | None) -> Account:
    row = await asyncio.to_thread(resolve, db, ref)
    try:
        models = await discover_models(http, Account.from_row(row))
    except ProbeError as err:
        raise AccountError(502, str(err)) from None
    await asyncio.to_thread(db.update_account, row["id"], {"models": models})
    stored = await asyncio.to_thread(db.get_account, row["id"])
    assert stored is not None
    return Account.from_row(stored)
