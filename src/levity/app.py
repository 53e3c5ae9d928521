"""Builds the aiohttp application: middleware, then each layer's routes."""

from __future__ import annotations

from aiohttp import web

from . import fronts, system
from .admin import accounts as admin_accounts
from .admin import api as admin_api
from .admin import monitor_api, ui
from .middleware import add_cors_headers, gateway_middleware
from .state import GATEWAY, Gateway


def create_app(gateway: Gateway) -> web.Application:
    app = web.Application(
        middlewares=[gateway_middleware()],
        client_max_size=gateway.config.current.proxy.max_body_bytes,
        handler_args={"max_field_size": 65536},
    )
    app[GATEWAY] = gateway
    app.on_response_prepare.append(add_cors_headers)
    system.setup(app)
    admin_api.setup(app)
    monitor_api.setup(app)
    ui.setup(app)
    admin_accounts.setup(app)
    fronts.setup(app)
    return app
