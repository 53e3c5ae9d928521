"""The typed configuration, its file, environment overrides and the live snapshot.

The running server reads `ConfigStore.current` on every request; changes build a new
validated `Config` and swap the reference in one assignment, so a request sees either the
old snapshot or the new one, never a mix.
"""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

import tomli_w
from pydantic import BaseModel, ConfigDict, Field, ValidationError

log = logging.getLogger("levity.config")

AuthMode = Literal["off", "strict", "all_except_health", "auto"]

# Environment variable -> dotted config key. Values from the environment win over the file.
ENV_OVERRIDES: dict[str, str] = {
    "LEVITY_API_KEY": "proxy.api_key",
    "LEVITY_AUTH_MODE": "proxy.auth_mode",
    "LEVITY_ALLOW_LAN_ACCESS": "proxy.allow_lan_access",
    "LEVITY_PORT": "proxy.port",
    "LEVITY_ADMIN_PASSWORD": "proxy.admin_password",
}

SECRET_FIELDS = ("proxy.api_key", "proxy.admin_password")


class Strict(BaseModel):
    """Unknown keys are an error; values are checked on assignment too."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True, frozen=True)


class SchedulingConfig(Strict):
    mode: Literal["balance", "cache_first", "performance_first"] = "balance"
    # cache_first: wait this long for a cooling sticky account instead of moving the session.
    max_wait_seconds: float = Field(60.0, ge=0)
    # A sticky session binding is forgotten after this much idle time.
    sticky_idle_seconds: float = Field(1800.0, gt=0)


class ProxyConfig(Strict):
    port: int = Field(8045, ge=1, le=65535)
    allow_lan_access: bool = False
    auth_mode: AuthMode = "auto"
    api_key: str = ""
    admin_password: str = ""
    max_body_bytes: int = Field(32 * 1024 * 1024, ge=1024)
    upstream_proxy: str = ""
    max_attempts: int = Field(3, ge=1, le=20)
    connect_timeout: float = Field(10.0, gt=0)
    # Longest silence allowed while reading an upstream reply (a stream may run longer in total).
    read_timeout: float = Field(300.0, gt=0)
    trusted_proxies: list[str] = []
    fixed_account: str = ""
    scheduling: SchedulingConfig = SchedulingConfig()
    # Client model name or pattern (with `*`) -> upstream model. Order matters for ties.
    model_mapping: dict[str, str] = {}


class MonitorConfig(Strict):
    """The request log: what is kept, for how long, and how much may wait in memory."""

    # Request and response bodies are stored only when this is on (capped, keys redacted).
    log_bodies: bool = False
    max_body_chars: int = Field(16384, ge=256, le=1_048_576)
    retention_days: float = Field(30.0, gt=0)
    max_rows: int = Field(1_000_000, ge=100)
    # Records waiting for the writer; when full the oldest pending ones are dropped (and counted).
    queue_size: int = Field(10_000, ge=10)
    # Latest records kept in memory for the live tail.
    ring_size: int = Field(500, ge=10, le=100_000)
    # Hourly token statistics are small; keep them much longer than the log.
    stats_retention_days: float = Field(400.0, gt=0)


class CooldownConfig(Strict):
    """How long an account (or an account's model) rests after each kind of upstream failure.

    A delay the provider states itself (retry-after, reset headers, RetryInfo) wins over these.
    """

    # Quota exhausted, by consecutive failures; the count restarts after `quota_reset_seconds` quiet.
    quota_steps: list[float] = Field(default_factory=lambda: [60.0, 300.0, 1800.0, 7200.0], min_length=1)
    quota_reset_seconds: float = Field(3600.0, gt=0)
    # Rate limited: starts here and doubles on each consecutive failure up to the max.
    rate_limit_seconds: float = Field(5.0, gt=0)
    rate_limit_max_seconds: float = Field(60.0, gt=0)
    # Capacity / overloaded (Anthropic 529 and the like), by consecutive failures.
    capacity_steps: list[float] = Field(default_factory=lambda: [5.0, 10.0, 15.0], min_length=1)
    server_error_seconds: float = Field(10.0, ge=0)
    timeout_seconds: float = Field(10.0, ge=0)
    model_not_found_seconds: float = Field(3600.0, ge=0)


class Config(Strict):
    proxy: ProxyConfig = ProxyConfig()
    monitor: MonitorConfig = MonitorConfig()
    cooldown: CooldownConfig = CooldownConfig()


def effective_auth_mode(proxy: ProxyConfig) -> str:
    """`auto` resolves by LAN access; every other mode is itself."""
    if proxy.auth_mode == "auto":
        return "all_except_health" if proxy.allow_lan_access else "off"
    return proxy.auth_mode


def bind_host(proxy: ProxyConfig) -> str:
    return "0.0.0.0" if proxy.allow_lan_access else "127.0.0.1"


def new_api_key() -> str:
    return "sk-" + secrets.token_hex(16)


def data_dir() -> Path:
    return Path(os.environ.get("LEVITY_HOME") or Path.home() / ".levity")


class ConfigError(Exception):
    """A config problem with a message fit to show a user as one line."""


def format_validation_error(err: ValidationError) -> str:
    parts = []
    for e in err.errors():
        field = ".".join(str(p) for p in e["loc"]) or "(root)"
        if e["type"] == "extra_forbidden":
            parts.append(f"{field}: unknown key")
        else:
            parts.append(f"{field}: {e['msg']} (got {e.get('input')!r})")
    return "; ".join(parts)


def get_dotted(data: dict[str, Any], key: str) -> Any:
    cur: Any = data
    for part in key.split("."):
        if not isinstance(cur, dict) or part not in cur:
            raise KeyError(key)
        cur = cur[part]
    return cur


def set_dotted(data: dict[str, Any], key: str, value: Any) -> None:
    parts = key.split(".")
    cur = data
    for part in parts[:-1]:
        cur = cur.setdefault(part, {})
        if not isinstance(cur, dict):
            raise ConfigError(f"{key}: {part} is not a table")
    cur[parts[-1]] = value


def deep_merge(base: dict[str, Any], patch: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for k, v in patch.items():
        if isinstance(v, dict) and isinstance(out.get(k), dict) and not k.endswith("mapping"):
            out[k] = deep_merge(out[k], v)
        else:
            out[k] = v
    return out


def _parse_env_value(raw: str) -> Any:
    low = raw.strip().lower()
    if low in ("true", "1", "yes", "on"):
        return True
    if low in ("false", "0", "no", "off", ""):
        return False
    return raw


def env_overrides(environ: dict[str, str] | None = None) -> dict[str, Any]:
    env = os.environ if environ is None else environ
    out: dict[str, Any] = {}
    for var, key in ENV_OVERRIDES.items():
        if var in env:
            raw = env[var]
            value: Any = _parse_env_value(raw) if key.endswith("allow_lan_access") else raw
            set_dotted(out, key, value)
    return out


def validate(data: dict[str, Any]) -> Config:
    try:
        return Config.model_validate(data)
    except ValidationError as err:
        raise ConfigError(format_validation_error(err)) from None


def write_atomic(path: Path, text: str, mode: int = 0o600) -> None:
    """Write to a temp file beside `path` and rename over it: readers never see half a file."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


class ConfigStore:
    """Owns the config file and the live snapshot; notifies listeners after each swap."""

    def __init__(self, home: Path | None = None, environ: dict[str, str] | None = None) -> None:
        self.home = home or data_dir()
        self.path = self.home / "config.toml"
        self._environ = environ
        self._file_data: dict[str, Any] = {}
        self._stamp: tuple[int, int] | None = None
        self._listeners: list[Callable[[Config, Config], None]] = []
        self.current: Config = Config()
        self.created = False

    # -- loading -----------------------------------------------------------------------------
    def ensure_home(self) -> None:
        self.home.mkdir(mode=0o700, parents=True, exist_ok=True)
        try:
            os.chmod(self.home, 0o700)
        except OSError:
            pass

    def load(self, create: bool = True) -> Config:
        self.ensure_home()
        if not self.path.exists():
            if not create:
                raise ConfigError(f"no config file at {self.path}; run `levity serve` once to create it")
            self._file_data = {"proxy": {"api_key": new_api_key()}}
            self._write(self._file_data)
            self.created = True
        self._file_data = self._read_file()
        self.current = self._build(self._file_data)
        return self.current

    def _read_file(self) -> dict[str, Any]:
        try:
            raw = self.path.read_bytes()
            self._stamp = self._stat()
            return tomllib.loads(raw.decode("utf-8"))
        except tomllib.TOMLDecodeError as err:
            raise ConfigError(f"{self.path}: not valid TOML: {err}") from None
        except OSError as err:
            raise ConfigError(f"{self.path}: cannot read: {err.strerror}") from None

    def _build(self, file_data: dict[str, Any]) -> Config:
        return validate(deep_merge(file_data, env_overrides(self._environ)))

    def _stat(self) -> tuple[int, int] | None:
        try:
            st = self.path.stat()
        except OSError:
            return None
        return (st.st_mtime_ns, st.st_size)

    def _write(self, data: dict[str, Any]) -> None:
        write_atomic(self.path, tomli_w.dumps(data))
        self._stamp = self._stat()

    # -- reading -----------------------------------------------------------------------------
    @property
    def file_data(self) -> dict[str, Any]:
        return self._file_data

    def env_overridden(self) -> dict[str, str]:
        """Dotted keys fixed by the environment -> the variable that fixes them."""
        env = os.environ if self._environ is None else self._environ
        return {key: var for var, key in ENV_OVERRIDES.items() if var in env}

    # -- changing ----------------------------------------------------------------------------
    def add_listener(self, fn: Callable[[Config, Config], None]) -> None:
        self._listeners.append(fn)

    def _swap(self, new: Config) -> None:
        old, self.current = self.current, new
        for fn in self._listeners:
            try:
                fn(old, new)
            except Exception:  # a listener's failure must not undo a valid change
                log.exception("config listener failed")

    def update(self, patch: dict[str, Any]) -> Config:
        """Deep-merge `patch` into the file's data, validate, persist atomically, then swap."""
        locked = self.env_overridden()
        for key in locked:
            try:
                get_dotted(patch, key)
            except KeyError:
                continue
            raise ConfigError(f"{key}: set by the environment variable {locked[key]}; change it there")
        merged = deep_merge(self._file_data, patch)
        new = self._build(merged)
        self._write(merged)
        self._file_data = merged
        self._swap(new)
        return new

    def set_key(self, dotted: str, value: Any) -> Config:
        patch: dict[str, Any] = {}
        set_dotted(patch, dotted, value)
        return self.update(patch)

    def reload_if_changed(self) -> bool:
        """Re-read the file when its stamp changed; a bad file keeps the old snapshot."""
        stamp = self._stat()
        if stamp is None or stamp == self._stamp:
            return False
        try:
            data = self._read_file()
            new = self._build(data)
        except ConfigError as err:
            log.error("config file change ignored: %s", err)
            return False
        self._file_data = data
        self._swap(new)
        log.info("config reloaded from %s", self.path)
        return True

    async def watch(self, interval: float = 0.25) -> None:
        """Poll the file's stamp: one stat() per interval costs nothing and needs no extra dependency."""
        while True:
            await asyncio.sleep(interval)
            try:
                self.reload_if_changed()
            except Exception:
                log.exception("config watch failed")
