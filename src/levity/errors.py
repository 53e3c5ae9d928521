"""Error bodies in each client protocol's own shape, chosen by the request path."""

from __future__ import annotations

from typing import Literal

import orjson
from aiohttp import web

Wire = Literal["openai", "anthropic", "gemini"]

_GEMINI_STATUS = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    405: "INVALID_ARGUMENT",
    408: "DEADLINE_EXCEEDED",
    409: "ABORTED",
    413: "INVALID_ARGUMENT",
    422: "INVALID_ARGUMENT",
    429: "RESOURCE_EXHAUSTED",
    499: "CANCELLED",
    500: "INTERNAL",
    501: "UNIMPLEMENTED",
    502: "UNAVAILABLE",
    503: "UNAVAILABLE",
    504: "DEADLINE_EXCEEDED",
}

_ANTHROPIC_TYPE = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    422: "invalid_request_error",
    429: "rate_limit_error",
    500: "api_error",
    502: "api_error",
    503: "api_error",
    504: "api_error",
    529: "overloaded_error",
}

_OPENAI_TYPE = {
    400: "invalid_request_error",
    401: "invalid_request_error",
    403: "permission_error",
    404: "invalid_request_error",
    413: "invalid_request_error",
    422: "invalid_request_error",
    429: "rate_limit_error",
}

_OPENAI_CODE = {
    401: "invalid_api_key",
    404: "not_found",
    413: "request_too_large",
    429: "rate_limit_exceeded",
}


def wire_for_path(path: str) -> Wire:
    """Which client protocol a path belongs to, for the shape of its errors."""
    if path.startswith("/v1/messages") or path.startswith("/anthropic/"):
        return "anthropic"
    if (
        path.startswith("/v1beta")
        or ":generateContent" in path
        or ":streamGenerateContent" in path
        or (":countTokens" in path)
    ):
        return "gemini"
    return "openai"


def error_body(
    wire: Wire, status: int, message: str, etype: str | None = None, code: str | None = None
) -> dict:
    if wire == "anthropic":
        return {
            "type": "error",
            "error": {"type": etype or _ANTHROPIC_TYPE.get(status, "api_error"), "message": message},
        }
    if wire == "gemini":
        return {
            "error": {
                "code": status,
                "message": message,
                "status": etype or _GEMINI_STATUS.get(status, "UNKNOWN"),
            }
        }
    return {
        "error": {
            "message": message,
            "type": etype
            or _OPENAI_TYPE.get(status, "server_error" if status >= 500 else "invalid_request_error"),
            "param": None,
            "code": code if code is not None else _OPENAI_CODE.get(status),
        }
    }


def json_response(data: object, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(
        body=orjson.dumps(data), status=status, content_type="application/json", headers=headers
    )


def error_response(
    wire: Wire,
    status: int,
    message: str,
    etype: str | None = None,
    code: str | None = None,
    headers: dict[str, str] | None = None,
) -> web.Response:
    return json_response(error_body(wire, status, message, etype, code), status=status, headers=headers)


class GatewayError(Exception):
    """Raised anywhere below a handler; the error middleware renders it in the client's shape."""

    def __init__(
        self,
        status: int,
        message: str,
        etype: str | None = None,
        code: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.etype = etype
        self.code = code
        self.headers = headers
