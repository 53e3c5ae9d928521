"""Serves the web UI's static shell from the package: `/ui/` is the app, `/ui/<file>` its assets.

The shell holds no data (everything comes from /api with the admin key), so it loads without a
key; a strict Content-Security-Policy keeps any injected markup from running script.
"""

from __future__ import annotations

import mimetypes
from pathlib import Path

from aiohttp import web

UI_DIR = Path(__file__).resolve().parent / "ui"
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
)
HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    # The shell changes with upgrades; revalidating costs one small request.
    "Cache-Control": "no-cache",
}
mimetypes.add_type("text/javascript", ".js")
mimetypes.add_type("image/svg+xml", ".svg")


def _file(rel: str) -> Path:
    path = (UI_DIR / rel).resolve()
    if not path.is_relative_to(UI_DIR) or not path.is_file():
        raise web.HTTPNotFound()
    return path


async def index(request: web.Request) -> web.FileResponse:
    return web.FileResponse(_file("index.html"), headers=HEADERS)


async def asset(request: web.Request) -> web.FileResponse:
    path = _file(request.match_info["path"])
    ctype = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    return web.FileResponse(path, headers={**HEADERS, "Content-Type": ctype})


async def redirect(request: web.Request) -> web.Response:
    raise web.HTTPFound("/ui/")


def setup(app: web.Application) -> None:
    app.router.add_get("/ui", redirect)
    app.router.add_get("/ui/", index)
    app.router.add_get("/ui/{path:.+}", asset)
