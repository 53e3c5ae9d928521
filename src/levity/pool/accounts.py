"""Upstream accounts: the stored record, its input validation, and the live in-memory list.

The live list (`AccountBook`) is what the request path reads: a tuple swapped whole on every
change, so a request never sees half an update and never touches the disk.
"""

from __future__ import annotations

import asyncio
import logging
import re
import secrets
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from ..security.secrets import mask
from ..store.sqlite import Database

log = logging.getLogger("levity.accounts")

ProviderName = Literal["openai", "anthropic", "gemini", "mock"]
DEMO_ACCOUNT_ID = "demo"
DEMO_MODEL = "levity-demo"


@lru_cache(maxsize=4096)
def _pattern(p: str) -> re.Pattern[str]:
    return re.compile("".join(".*" if part == "*" else re.escape(part) for part in re.split(r"(\*)", p)))


def model_matches(pattern: str, model: str) -> bool:
    if "*" not in pattern:
        return pattern == model
    return _pattern(pattern).fullmatch(model) is not None


@dataclass(frozen=True, slots=True)
class Account:
    id: str
    label: str
    provider: str
    base_url: str  # "" means the provider's default
    api_key: str = field(repr=False)
    models: tuple[str, ...] = ()
    enabled: bool = True
    weight: float = 1.0
    options: dict[str, Any] = field(default_factory=dict, compare=False)
    # Not stored: the demo account exists only in the process that runs with --demo.
    ephemeral: bool = False

    def serves(self, model: str) -> bool:
        return any(model_matches(p, model) for p in self.models)

    @property
    def key_hint(self) -> str:
        return mask(self.api_key)

    def public(self) -> dict[str, Any]:
        """Everything a person may see: the key only as its last four characters."""
        return {
            "id": self.id,
            "label": self.label,
            "provider": self.provider,
            "base_url": self.base_url,
            "api_key": self.key_hint,
            "models": list(self.models),
            "enabled": self.enabled,
            "weight": self.weight,
            "options": self.options,
            "ephemeral": self.ephemeral,
        }

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> Account:
        return cls(
            id=row["id"],
            label=row["label"],
            provider=row["provider"],
            base_url=row["base_url"],
            api_key=row["api_key"],
            models=tuple(row["models"]),
            enabled=row["enabled"],
            weight=row["weight"],
            options=row["options"],
        )


class AccountInput(BaseModel):
    """What the admin API and the CLI accept for a new account (all fields) or an update (some)."""

    model_config = ConfigDict(extra="forbid")

    label: str | None = Field(None, max_length=100)
    provider: ProviderName | None = None
    base_url: str | None = Field(None, max_length=500)
    api_key: str | None = Field(None, max_length=4096)
    models: list[str] | None = None
    enabled: bool | None = None
    weight: float | None = Field(None, gt=0, le=1000)
    options: dict[str, Any] | None = None

    @field_validator("base_url")
    @classmethod
    def _url(cls, v: str | None) -> str | None:
        if v:
            v = v.strip().rstrip("/")
            if not re.match(r"^https?://[^\s/]+", v):
                raise ValueError("must start with http:// or https:// and name a host")
        return v

    @field_validator("options")
    @classmethod
    def _options(cls, v: dict[str, Any] | None) -> dict[str, Any] | None:
        # Checked here so a typo like "no" can't silently leave an account on the wrong wire.
        if v is not None and "responses_api" in v and not isinstance(v["responses_api"], bool):
            raise ValueError("responses_api must be true or false")
        return v

    @field_validator("models")
    @classmethod
    def _models(cls, v: list[str] | None) -> list[str] | None:
        if v is None:
            return v
        out = [m.strip() for m in v if m.strip()]
        if len(out) > 2000:
            raise ValueError("at most 2000 models")
        return out


def validation_message(err: ValidationError) -> str:
    return "; ".join(f"{'.'.join(str(p) for p in e['loc']) or 'body'}: {e['msg']}" for e in err.errors())


def new_account_id() -> str:
    return "acc_" + secrets.token_hex(4)


SERVING_CACHE = 1024


class AccountBook:
    """The live accounts, loaded from the database and swapped whole on every change."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self.accounts: tuple[Account, ...] = ()
        self._extra: tuple[Account, ...] = ()  # ephemeral (demo) accounts
        self._seen_version: int | None = None
        self._listeners: list[Any] = []
        # model -> the accounts serving it, for this `accounts` tuple (swapped whole, never edited).
        self._serving: dict[str, tuple[Account, ...]] = {}

    def add_listener(self, fn: Any) -> None:
        """fn(old: dict[id, Account], new: dict[id, Account]) after every swap."""
        self._listeners.append(fn)

    def add_ephemeral(self, account: Account) -> None:
        self._extra = self._extra + (account,)
        self._swap(self.accounts + (account,))

    def _swap(self, new: tuple[Account, ...]) -> None:
        old = {a.id: a for a in self.accounts}
        self.accounts = new
        self._serving = {}
        new_map = {a.id: a for a in new}
        for fn in self._listeners:
            try:
                fn(old, new_map)
            except Exception:
                log.exception("account listener failed")

    def load_sync(self) -> tuple[Account, ...]:
        return tuple(Account.from_row(r) for r in self.db.list_accounts())

    async def reload(self) -> None:
        stored = await asyncio.to_thread(self.load_sync)
        self._swap(stored + self._extra)

    async def reload_if_changed(self) -> bool:
        version = await asyncio.to_thread(self.db.data_version)
        if version == self._seen_version:
            return False
        self._seen_version = version
        await self.reload()
        return True

    async def watch(self, interval: float = 0.5) -> None:
        """Picks up changes other processes (the CLI) commit: one cheap PRAGMA per interval."""
        while True:
            await asyncio.sleep(interval)
            try:
                if await self.reload_if_changed():
                    log.info("accounts reloaded: %d", len(self.accounts))
            except Exception:
                log.exception("account watch failed")

    def get(self, account_id: str) -> Account | None:
        for a in self.accounts:
            if a.id == account_id:
                return a
        return None

    def find(self, ref: str) -> Account | None:
        """By id, else by label (fixed_account and the CLI accept either)."""
        return self.get(ref) or next((a for a in self.accounts if a.label == ref), None)

    def serving(self, model: str) -> tuple[Account, ...]:
        hit = self._serving.get(model)
        if hit is None:
            hit = tuple(a for a in self.accounts if a.enabled and a.serves(model))
            if len(self._serving) >= SERVING_CACHE:  # model names come from clients: stay bounded
                self._serving.clear()
            self._serving[model] = hit
        return hit
