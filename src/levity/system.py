"""Health, HEAD probes, the root redirect and helpful 404s for the usual base-URL mistakes."""

from __future__ import annotations

from aiohttp import web

from . import __version__
from .errors import json_response

_OPENAI_ENDPOINTS = ("chat/completions", "completions", "responses", "models", "embeddings")


def not_found_hint(path: str) -> str:
    base = f"no route for {path}"
    if path.startswith("/v1/v1/") or path == "/v1/v1":
        return f"{base}: your base URL already ends in /v1; remove the extra /v1"
    if path.startswith("/v1beta/v1beta/"):
        return f"{base}: your base URL already ends in /v1beta; remove the extra /v1beta"
    if "/models/models/" in path:
        return f"{base}: the model name already carries the models/ prefix; pass the bare model id"
    for ep in _OPENAI_ENDPOINTS + ("messages",):
        if path.rstrip("/") == f"/{ep}":
            return f"{base}: did you mean /v1/{ep}? add /v1 to your base URL"
        if path.startswith(f"/v1/{ep}/") and ep in ("chat/completions", "completions", "messages"):
            return f"{base}: remove what follows /v1/{ep} (your client appended a suffix)"
    if path.startswith("/v1/models/") and ":" in path:
        return f"{base}: Gemini routes live under /v1beta/models/...; set the base URL without /v1"
    return base


async def healthz(request: web.Request) -> web.Response:
    return json_response({"status": "ok", "version": __version__})


async def root(request: web.Request) -> web.Response:
    raise web.HTTPFound("/ui/")


def setup(app: web.Application) -> None:
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/health", healthz)
    app.router.add_get("/", root)
