"""The middleware stack, outermost first: errors, preflight, auth, body limit, HEAD probes.

Each `Rule` is one check; `GatewayMiddleware` runs them all in one coroutine frame. CORS headers
are added in `app.on_response_prepare` instead, because a streamed response's headers are sent
before its handler returns.
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


class Rule:
    """One check before the handler: a response ends the request here, None passes it on."""

    def check(self, request: web.Request) -> web.StreamResponse | None:
        raise NotImplementedError


class GatewayMiddleware(Middleware):
    """The whole stack in one coroutine frame: the error rule around the checks, in order.

    aiohttp runs each middleware as its own coroutine; on a ~0.5 ms request five of them cost
    a measurable share, so the rules are plain checks run one after another here.
    """

    def __init__(self, *rules: Rule) -> None:
        self.checks = tuple(rule.check for rule in rules)

    async def __call__(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        try:
            for check in self.checks:
                early = check(request)
                if early is not None:
                    return early
            return await handler(request)
        except Exception as err:
            resp = error_reply(request, err)
            if resp is None:
                raise
            return resp


def error_reply(request: web.Request, err: Exception) -> web.StreamResponse | None:
    """Every error leaves in the client's own protocol shape; nothing raw, nothing secret.

    None: a non-error HTTPException (a redirect) that aiohttp itself should send. Called inside
    the `except` block, so the unhandled case logs the traceback.
    """
    wire = wire_for_path(request.path)
    if isinstance(err, GatewayError):
        resp = error_response(wire, err.status, err.message, err.etype, err.code, err.headers)
        if err.status == 413:
            resp.force_close()  # the rest of the body is never read
        return resp
    if isinstance(err, web.HTTPNotFound):
        return error_response(wire, 404, not_found_hint(request.path))
    if isinstance(err, web.HTTPMethodNotAllowed):
        allowed = ", ".join(sorted(err.allowed_methods))
        return error_response(
            wire,
            405,
            f"method {request.method} is not allowed on {request.path}; allowed: {allowed}",
            headers={"Allow": allowed},
        )
    if isinstance(err, web.HTTPException):
        if err.status >= 400 and not err.body:
            return error_response(wire, err.status, err.reason)
        return None
    log.exception("unhandled error on %s %s", request.method, request.path)
    return error_response(wire, 500, "internal gateway error; see the gateway log")


class AuthRule(Rule):
    """Applies the access-control rules to every route; `/api` and `/metrics` use the admin key."""

    # The UI shell (HTML/JS/CSS, no data) must load in a browser, which cannot send a key on
    # navigation; everything it shows comes from /api, which always needs the admin key.
    UI_PREFIX = "/ui"

    def check(self, request: web.Request) -> web.StreamResponse | None:
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
            return None
        return error_response(
            wire_for_path(path), 401, decision.message, headers={"WWW-Authenticate": "Bearer"}
        )


class BodyLimitRule(Rule):
    """A declared body over the limit is refused before a byte of it is read."""

    def check(self, request: web.Request) -> web.StreamResponse | None:
        limit = request.app[GATEWAY].config.current.proxy.max_body_bytes
        length = request.content_length
        if length is not None and length > limit:
            raise too_large(limit)
        return None


class PreflightRule(Rule):
    """OPTIONS on any path is a CORS preflight: answered here, before auth (rule 1)."""

    def check(self, request: web.Request) -> web.StreamResponse | None:
        return preflight(request) if request.method == "OPTIONS" else None


class HeadProbeRule(Rule):
    """HEAD on a path with no GET route (Claude Code probes `HEAD /`) answers 200 at once."""

    def check(self, request: web.Request) -> web.StreamResponse | None:
        if request.method == "HEAD" and request.match_info.http_exception is not None:
            return web.Response(status=200)
        return None


def gateway_middleware() -> GatewayMiddleware:
    """The stack, outermost first: errors (around everything), preflight, auth, body limit, HEAD."""
    return GatewayMiddleware(PreflightRule(), AuthRule(), BodyLimitRule(), HeadProbeRule())


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
