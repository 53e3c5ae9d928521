"""`levity account ...`: manage upstream accounts in the data directory's database.

The CLI writes the SQLite file directly; a running server picks the change up within a second.
Keys are shown masked to their last four characters, never in full.
"""

from __future__ import annotations

import asyncio
import json
import sys
from typing import Any

import click
from pydantic import ValidationError

from .config import data_dir
from .pool.accounts import Account, AccountInput, validation_message
from .pool.manage import AccountError, add_account, remove_account, resolve, update_account
from .pool.probe import ProbeError, test_account
from .providers import PROVIDERS
from .store.sqlite import Database
from .upstream import UpstreamHttp


def _db() -> Database:
    home = data_dir()
    home.mkdir(mode=0o700, parents=True, exist_ok=True)
    return Database.in_home(home)


def _upstream_proxy() -> str:
    from .config import ConfigError, ConfigStore

    try:
        return ConfigStore().load(create=False).proxy.upstream_proxy
    except ConfigError:
        return ""


def _run(coro_fn: Any) -> Any:
    """Run an async operation with an upstream client (for discovery and tests) in this process."""

    async def main() -> Any:
        http = UpstreamHttp(_upstream_proxy())
        try:
            return await coro_fn(http)
        finally:
            await http.close()

    try:
        return asyncio.run(main())
    except AccountError as err:
        raise click.ClickException(err.message) from None


def _line(a: Account) -> str:
    models = ", ".join(a.models[:4]) + (f" (+{len(a.models) - 4})" if len(a.models) > 4 else "")
    state = "enabled" if a.enabled else "disabled"
    base = a.base_url or "(default URL)"
    return f"{a.id}  {a.label}  [{a.provider}, {state}, weight {a.weight:g}]  key {a.key_hint or '-'}  {base}  models: {models or '-'}"


def _parse_options(items: tuple[str, ...]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for item in items:
        key, sep, raw = item.partition("=")
        if not sep or not key.strip():
            raise click.ClickException(f"--option {item!r}: expected KEY=VALUE")
        try:
            out[key.strip()] = json.loads(raw)
        except ValueError:
            out[key.strip()] = raw
    return out


@click.group("account")
def account() -> None:
    """Add, list, test, enable, disable or remove upstream accounts."""


@account.command("add")
@click.option("--provider", required=True, type=click.Choice(sorted(PROVIDERS)))
@click.option("--key", "api_key", default="", help="The upstream API key; `-` reads it from stdin.")
@click.option("--base-url", default=None, help="Upstream base URL (default: the provider's).")
@click.option("--label", default=None, help="A name to recognise the account by.")
@click.option("--models", default=None, help="Comma-separated model ids or * patterns (default: discovered).")
@click.option("--weight", type=float, default=None, help="Share of new sessions relative to other accounts.")
@click.option(
    "--option",
    "options",
    multiple=True,
    metavar="KEY=VALUE",
    help="An account option, e.g. responses_api=true (VALUE is read as JSON when it parses).",
)
def account_add(
    provider: str,
    api_key: str,
    base_url: str | None,
    label: str | None,
    models: str | None,
    weight: float | None,
    options: tuple[str, ...],
) -> None:
    """Add an account; its models are discovered from the upstream when --models is not given."""
    if api_key == "-":
        api_key = sys.stdin.readline().strip()
    try:
        data = AccountInput(
            provider=provider,  # type: ignore[arg-type]
            api_key=api_key or None,
            base_url=base_url,
            label=label,
            models=[m for m in models.split(",")] if models else None,
            weight=weight,
            options=_parse_options(options) or None,
        )
    except ValidationError as err:
        raise click.ClickException(validation_message(err)) from None
    db = _db()
    acc, warning = _run(lambda s: add_account(db, data, s))
    click.echo(f"added {_line(acc)}")
    if warning:
        click.echo(f"warning: {warning}", err=True)


@account.command("list")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def account_list(as_json: bool) -> None:
    accounts = [Account.from_row(r) for r in _db().list_accounts()]
    if as_json:
        click.echo(json.dumps([a.public() for a in accounts], indent=2))
        return
    if not accounts:
        click.echo("no accounts; add one with `levity account add --provider P --key K`")
    for a in accounts:
        click.echo(_line(a))


@account.command("remove")
@click.argument("ref")
def account_remove(ref: str) -> None:
    """Remove the account with id or label REF."""
    db = _db()
    acc = _run(lambda s: remove_account(db, ref))
    click.echo(f"removed {acc.id} ({acc.label})")


def _set_enabled(ref: str, enabled: bool) -> None:
    db = _db()
    acc = _run(lambda s: update_account(db, ref, AccountInput(enabled=enabled)))
    click.echo(f"{'enabled' if enabled else 'disabled'} {acc.id} ({acc.label})")


@account.command("enable")
@click.argument("ref")
def account_enable(ref: str) -> None:
    _set_enabled(ref, True)


@account.command("disable")
@click.argument("ref")
def account_disable(ref: str) -> None:
    _set_enabled(ref, False)


@account.command("test")
@click.argument("ref")
@click.option("--model", default=None, help="Model to try (default: the account's first).")
def account_test(ref: str, model: str | None) -> None:
    """Send one tiny real request through the account and report the result."""
    db = _db()
    try:
        acc = Account.from_row(resolve(db, ref))
    except AccountError as err:
        raise click.ClickException(err.message) from None

    async def go(http: UpstreamHttp) -> dict[str, Any]:
        try:
            return await test_account(http, acc, model)
        except ProbeError as err:
            raise click.ClickException(str(err)) from None

    result = _run(go)
    if result["ok"]:
        click.echo(f"ok: {acc.label} answered {result['model']} in {result['latency_ms']} ms")
    else:
        raise click.ClickException(
            f"{acc.label} failed on {result['model']}: {result.get('error')} (HTTP {result['status']})"
        )
