"""The gateway's shared state, reachable from any handler as `request.app[GATEWAY]`."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from .config import ConfigStore


@dataclass
class ListenerState:
    host: str = ""
    port: int = 0
    error: str = ""


@dataclass
class Gateway:
    config: ConfigStore
    started_at: float = field(default_factory=time.time)
    listener: ListenerState = field(default_factory=ListenerState)
    # True: add the mock demo account; None: add it only when no account is configured.
    demo: bool | None = False
    # Parts added by later layers (pool, forwarder, monitor) hang here by name.
    parts: dict[str, Any] = field(default_factory=dict)


GATEWAY = web.AppKey("gateway", Gateway)
