"""The admin API, first part: config read/patch and key regeneration.

Every route here sits behind AuthRule's admin rule (admin_password, else api_key).
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from ..body import read_json_object
from ..config import (
    SECRET_FIELDS,
    ConfigError,
    bind_host,
    effective_auth_mode,
    get_dotted,
    new_api_key,
    set_dotted,
)
from ..errors import GatewayError, json_response
from ..security.secrets import mask, mask_url
from ..state import GATEWAY, Gateway


def masked_config(gw: Gateway) -> dict[str, Any]:
    cfg = gw.config.current
    data = cfg.model_dump(mode="json")
    for key in SECRET_FIELDS:
        set_dotted(data, key, mask(get_dotted(data, key)))
    data["proxy"]["upstream_proxy"] = mask_url(data["proxy"]["upstream_proxy"])
    data["effective_auth_mode"] = effective_auth_mode(cfg.proxy)
    data["bind_address"] = bind_host(cfg.proxy)
    data["listener"] = {"host": gw.listener.host, "port": gw.listener.port, "error": gw.listener.error}
    data["env_overrides"] = gw.config.env_overridden()
    data["config_path"] = str(gw.config.path)
    return data


async def get_config(request: web.Request) -> web.Response:
    return json_response(masked_config(request.app[GATEWAY]))


async def patch_config(request: web.Request) -> web.Response:
    gw = request.app[GATEWAY]
    patch = await read_json_object(request, gw.config.current.proxy.max_body_bytes)
    try:
        gw.config.update(patch)
    except ConfigError as err:
        raise GatewayError(422, str(err)) from None
    return json_response(masked_config(gw))


async def regenerate_key(request: web.Request) -> web.Response:
    gw = request.app[GATEWAY]
    key = new_api_key()
    try:
        gw.config.set_key("proxy.api_key", key)
    except ConfigError as err:
        raise GatewayError(409, str(err)) from None
    # The only answer that ever carries the key in full: the caller asked for a new one.
    return json_response({"api_key": key})


async def show_key(request: web.Request) -> web.Response:
    # The admin asked to see the proxy key (the UI's "show"): behind the admin rule like all of /api.
    return json_response({"api_key": request.app[GATEWAY].config.current.proxy.api_key})


def setup(app: web.Application) -> None:
    app.router.add_get("/api/config", get_config)
    app.router.add_patch("/api/config", patch_config)
    app.router.add_post("/api/proxy/api-key/regenerate", regenerate_key)
    app.router.add_get("/api/proxy/api-key", show_key)
