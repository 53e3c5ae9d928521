"""The `levity` command: serve, key, config (accounts are added by the pool layer)."""

from __future__ import annotations

import json
import logging
import sys
from typing import Any

import click

from . import __version__
from .config import ConfigError, ConfigStore, get_dotted, new_api_key


def load_store(create: bool = False) -> ConfigStore:
    store = ConfigStore()
    try:
        store.load(create=create)
    except ConfigError as err:
        raise click.ClickException(str(err)) from None
    return store


def parse_value(raw: str) -> Any:
    """`9000` -> 9000, `true` -> True, JSON arrays/objects as such; anything else stays a string."""
    try:
        return json.loads(raw)
    except ValueError:
        return raw


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "--version", "-V", prog_name="levity")
def main() -> None:
    """Levity: one local endpoint for every AI client, over a pool of upstream accounts."""


@main.command()
@click.option("--host", default=None, help="Bind address for this run (default: from allow_lan_access).")
@click.option("--port", type=click.IntRange(1, 65535), default=None, help="Port for this run.")
@click.option(
    "--demo/--no-demo",
    default=None,
    help="Add a mock account serving model `levity-demo` (default: only when no account is configured).",
)
@click.option("--log-level", default="info", type=click.Choice(["debug", "info", "warning", "error"]))
def serve(host: str | None, port: int | None, demo: bool | None, log_level: str) -> None:
    """Start the gateway."""
    logging.basicConfig(level=log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    store = load_store(create=True)
    from .server import run

    try:
        run(store, host, port, demo)
    except OSError as err:
        raise click.ClickException(f"cannot start: {err.strerror or err}") from None
    except KeyboardInterrupt:
        pass


@main.group()
def key() -> None:
    """Show or regenerate the proxy API key."""


@key.command("show")
def key_show() -> None:
    """Print the proxy API key."""
    store = load_store(create=True)
    k = store.current.proxy.api_key
    if not k:
        raise click.ClickException("no api_key is set; run `levity key regenerate`")
    click.echo(k)


@key.command("regenerate")
def key_regenerate() -> None:
    """Make a new key; a running server uses it for the next request."""
    store = load_store(create=True)
    k = new_api_key()
    try:
        store.set_key("proxy.api_key", k)
    except ConfigError as err:
        raise click.ClickException(str(err)) from None
    click.echo(k)


@main.group()
def config() -> None:
    """Read or change config values by dotted key, e.g. proxy.auth_mode."""


@config.command("get")
@click.argument("name")
def config_get(name: str) -> None:
    store = load_store(create=True)
    try:
        value = get_dotted(store.current.model_dump(mode="json"), name)
    except KeyError:
        raise click.ClickException(f"unknown config key: {name}") from None
    click.echo(json.dumps(value) if not isinstance(value, str) else value)


@config.command("set")
@click.argument("name")
@click.argument("value")
def config_set(name: str, value: str) -> None:
    """Set NAME to VALUE (JSON literals are parsed); a running server reloads it."""
    store = load_store(create=True)
    try:
        get_dotted(store.current.model_dump(mode="json"), name)
    except KeyError:
        raise click.ClickException(f"unknown config key: {name}") from None
    try:
        store.set_key(name, parse_value(value))
    except ConfigError as err:
        raise click.ClickException(str(err)) from None
    click.echo(f"{name} updated")


from .account_cli import account as _account_group  # noqa: E402  (the pool layer's subcommands)

main.add_command(_account_group)


def run() -> None:
    try:
        main(standalone_mode=True)
    except KeyboardInterrupt:
        sys.exit(130)
