"""The middleware stack, outermost first: errors, preflight, auth, body limit, HEAD probes.

Each class is one rule. CORS headers are added in `app.on_response_prepare` instead, because a
streamed response's headers are sent before its handler returns.
"""

from __future__ import annotations

import logging

from aiohttp import web
from aiohttp.typedefs import Handler

from .body import too_large
from .errors import GatewayError, error_response, wire_for_path
from .security import auth
from .state import GATEWAY
from .system import not_found_hint

log = logging.getLogger("levity.server")

CORS_ALLOW_METHODS = "GET, POST, PUT, PATCH, DELETE, OPTIONS, HEAD"
CORS_EXPOSE = "X-Levity-Account, X-Mapped-Model, X-Levity-Token-Estimate, Retry-After, Content-Type"


class Middleware:
    """Marks a class as a new-style aiohttp middleware."""

    __middleware_version__ = 1

    async def __call__(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        raise NotImplementedError


class ErrorMiddleware(Middleware):
    """Every error leaves in the client's own protocol shape; nothing raw, nothing secret."""

    async def __call__(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        try:
            return await handler(request)
        except GatewayError as err:
            resp = error_response(
                wire_for_path(request.path), err.status, err.message, err.etype, err.code, err.headers
            )
            if err.status == 413:
                resp.force_close()  # the rest of the body is never read
            return resp
        except web.HTTPNotFound:
            return error_response(wire_for_path(request.path), 404, not_found_hint(request.path))
        except web.HTTPMethodNotAllowed as err:
            return error_response(
                wire_for_path(request.path),
                405,
                f"method {request.method} is not allowed on {request.path}; allowed: {', '.join(sorted(err.allowed_methods))}",
                headers={"Allow": ", ".join(sorted(err.allowed_methods))},
            )
        except web.HTTPException as err:
            if err.status >= 400 and not err.body:
                return error_response(wire_for_path(request.path), err.status, err.reason)
            raise
        except Exception:
            log.exception("unhandled error on %s %s", request.method, request.path)
            return error_response(
                wire_for_path(request.path), 500, "internal gateway error; see the gateway log"
            )


class AuthMiddleware(Middleware):
    """Applies the access-control rules to every route; `/api` and `/metrics` use the admin key."""

    # The UI shell (HTML/JS/CSS, no data) must load in a browser, which cannot send a key on
    # navigation; everything it shows comes from /api, which always needs the admin key.
    UI_PREFIX = "/ui"

    async def __call__(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        config = request.app[GATEWAY].config.current
        path = request.path
        method = request.method
        if path.startswith("/api/") or path == "/api" or path == "/metrics":
            decision = auth.check_admin(config, method, request.headers)
        elif method in ("GET", "HEAD") and (path == "/" or path == self.UI_PREFIX or path.startswith("/ui/")):
            decision = auth.ALLOW
        else:
            decision = auth.check_proxy(config, method, path, request.headers)
        if decision.allowed:
            return await handler(request)
        return error_response(
            wire_for_path(path), 401, decision.message, headers={"WWW-Authenticate": "Bearer"}
        )


class BodyLimitMiddleware(Middleware):
    """A declared body over the limit is refused before a byte of it is read."""

    async def __call__(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        limit = request.app[GATEWAY].config.current.proxy.max_body_bytes
        length = request.content_length
        if length is not None and length > limit:
            raise too_large(limit)
        return await handler(request)


class PreflightMiddleware(Middleware):
    """OPTIONS on any path is a CORS preflight: answered here, before auth (rule 1)."""

    async def __call__(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.method == "OPTIONS":
            return preflight(request)
        return await handler(request)


class HeadProbeMiddleware(Middleware):
    """HEAD on a path with no GET route (Claude Code probes `HEAD /`) answers 200 at once."""

    async def __call__(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.method == "HEAD" and request.match_info.http_exception is not None:
            return web.Response(status=200)
        return await handler(request)


async def add_cors_headers(request: web.Request, response: web.StreamResponse) -> None:
    origin = request.headers.get("Origin")
    if origin is None:
        return
    h = response.headers
    h["Access-Control-Allow-Origin"] = origin
    h["Vary"] = "Origin"
    h["Access-Control-Expose-Headers"] = CORS_EXPOSE


def preflight(request: web.Request) -> web.Response:
    headers = {
        "Access-Control-Allow-Origin": request.headers.get("Origin", "*"),
        "Access-Control-Allow-Methods": CORS_ALLOW_METHODS,
        "Access-Control-Allow-Headers": request.headers.get("Access-Control-Request-Headers", "*"),
        "Access-Control-Max-Age": "86400",
    }
    return web.Response(status=204, headers=headers)
