"""Reading a request body within the configured size limit."""

from __future__ import annotations

from typing import Any

import orjson
from aiohttp import web

from .errors import GatewayError


def too_large(limit: int) -> GatewayError:
    return GatewayError(413, f"request body is larger than the limit of {limit} bytes (proxy.max_body_bytes)")


async def read_body(request: web.Request, limit: int) -> bytes:
    """Read at most `limit` bytes; a declared or actual larger body is refused without reading on."""
    declared = request.content_length
    if declared is not None and declared > limit:
        raise too_large(limit)
    if declared is not None:
        return await request.content.readexactly(declared) if declared else b""
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.content.iter_any():
        size += len(chunk)
        if size > limit:
            raise too_large(limit)
        chunks.append(chunk)
    return b"".join(chunks)


async def read_json(request: web.Request, limit: int) -> Any:
    raw = await read_body(request, limit)
    if not raw:
        raise GatewayError(400, "request body is empty; expected a JSON object")
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as err:
        raise GatewayError(400, f"request body is not valid JSON: {err}") from None


async def read_json_object(request: web.Request, limit: int) -> dict[str, Any]:
    data = await read_json(request, limit)
    if not isinstance(data, dict):
        raise GatewayError(400, "request body must be a JSON object")
    return data
