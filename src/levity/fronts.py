"""The client-facing model routes: each endpoint reads the request into a `FrontRequest`.

Also owns the pool layer's start-up: the accounts database, the live account book, the pool,
the pooled upstream session and the forwarder, hung on `gateway.parts`.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import Any

from aiohttp import web

from .body import read_json_object
from .errors import GatewayError, json_response
from .forward import Forwarder, FrontRequest, forwarder, models_payload
from .pool.accounts import DEMO_ACCOUNT_ID, DEMO_MODEL, Account, AccountBook
from .pool.pool import Pool
from .state import GATEWAY, Gateway
from .store.sqlite import Database
from .system import not_found_hint
from .upstream import UpstreamHttp

ANTHROPIC_HEADERS = ("anthropic-version", "anthropic-beta")
GEMINI_ACTIONS = {
    "generateContent": "gemini_generate",
    "streamGenerateContent": "gemini_stream",
    "countTokens": "gemini_count_tokens",
}


def _model_of(body: dict[str, Any]) -> str:
    model = body.get("model")
    if not isinstance(model, str) or not model.strip():
        raise GatewayError(400, "the request body needs a `model` string")
    return model


async def _json_front(request: web.Request, front: str, can_stream: bool = True) -> web.StreamResponse:
    gw = request.app[GATEWAY]
    body = await read_json_object(request, gw.config.current.proxy.max_body_bytes)
    passthru: dict[str, str] = {}
    if front.startswith("anthropic"):
        for h in ANTHROPIC_HEADERS:
            v = request.headers.get(h)
            if v:
                passthru[h] = v
    stream = can_stream and body.get("stream") is True
    return await forwarder(request).handle(
        request, FrontRequest(front, _model_of(body), body, stream, passthru)
    )


async def openai_chat(request: web.Request) -> web.StreamResponse:
    return await _json_front(request, "openai_chat")


async def openai_completions(request: web.Request) -> web.StreamResponse:
    return await _json_front(request, "openai_completions")


async def openai_responses(request: web.Request) -> web.StreamResponse:
    return await _json_front(request, "openai_responses")


async def anthropic_messages(request: web.Request) -> web.StreamResponse:
    return await _json_front(request, "anthropic_messages")


async def anthropic_count_tokens(request: web.Request) -> web.StreamResponse:
    return await _json_front(request, "anthropic_count_tokens", can_stream=False)


async def gemini_action(request: web.Request) -> web.StreamResponse:
    """POST /v1beta/models/{model}:{action}"""
    tail = request.match_info["tail"]
    model, _, action = tail.rpartition(":")
    front = GEMINI_ACTIONS.get(action)
    if not model or front is None:
        raise GatewayError(404, f"unknown Gemini method {action!r}; use one of {', '.join(GEMINI_ACTIONS)}")
    if model.startswith("models/"):  # /v1beta/models/models/...: the prefix was doubled
        raise GatewayError(404, not_found_hint(request.path))
    gw = request.app[GATEWAY]
    body = await read_json_object(request, gw.config.current.proxy.max_body_bytes)
    passthru = {"alt": "sse"} if request.query.get("alt") == "sse" else {}
    fr = FrontRequest(front, model, body, front == "gemini_stream", passthru)
    return await forwarder(request).handle(request, fr)


# -- model lists -------------------------------------------------------------------------------
def _openai_model(mid: str, owner: str) -> dict[str, Any]:
    return {"id": mid, "object": "model", "created": 0, "owned_by": owner}


def _anthropic_model(mid: str) -> dict[str, Any]:
    return {"type": "model", "id": mid, "display_name": mid, "created_at": "1970-01-01T00:00:00Z"}


def _gemini_model(mid: str) -> dict[str, Any]:
    return {
        "name": f"models/{mid}",
        "baseModelId": mid,
        "version": "levity",
        "displayName": mid,
        "supportedGenerationMethods": list(GEMINI_ACTIONS),
    }


async def list_models(request: web.Request) -> web.Response:
    models = await models_payload(request.app[GATEWAY])
    if "anthropic-version" in request.headers:  # Anthropic clients list models on the same path
        data = [_anthropic_model(m) for m, _ in models]
        return json_response(
            {
                "data": data,
                "has_more": False,
                "first_id": data[0]["id"] if data else None,
                "last_id": data[-1]["id"] if data else None,
            }
        )
    return json_response({"object": "list", "data": [_openai_model(m, o) for m, o in models]})


async def get_model(request: web.Request) -> web.Response:
    wanted = request.match_info["model"]
    for m, owner in await models_payload(request.app[GATEWAY]):
        if m == wanted:
            return json_response(
                _anthropic_model(m) if "anthropic-version" in request.headers else _openai_model(m, owner)
            )
    raise GatewayError(404, f"model {wanted!r} is not served by any account or mapping")


async def gemini_list_models(request: web.Request) -> web.Response:
    models = await models_payload(request.app[GATEWAY])
    return json_response({"models": [_gemini_model(m) for m, _ in models]})


async def gemini_get_model(request: web.Request) -> web.Response:
    wanted = request.match_info["tail"].removeprefix("models/")
    for m, _ in await models_payload(request.app[GATEWAY]):
        if m == wanted:
            return json_response(_gemini_model(m))
    raise GatewayError(404, f"model {wanted!r} is not served by any account or mapping")


# -- start-up ----------------------------------------------------------------------------------
DEMO_ACCOUNT = Account(
    id=DEMO_ACCOUNT_ID,
    label="demo (mock model, not a real upstream)",
    provider="mock",
    base_url="",
    api_key="",
    models=(DEMO_MODEL,),
    ephemeral=True,
)


async def start_pool(app: web.Application) -> None:
    gw: Gateway = app[GATEWAY]
    db = await asyncio.to_thread(Database.in_home, gw.config.home)
    book = AccountBook(db)
    pool = Pool(book)
    await book.reload_if_changed()
    # A first run with no upstream account gets the demo model, so the gateway answers at once.
    if gw.demo is None:
        gw.demo = not book.accounts
    if gw.demo:
        book.add_ephemeral(DEMO_ACCOUNT)
    http = UpstreamHttp(gw.config.current.proxy.upstream_proxy)
    gw.config.add_listener(http.on_config)
    gw.parts.update(db=db, accounts=book, pool=pool, http=http, forwarder=Forwarder(gw))
    gw.parts["pool_watch"] = asyncio.get_running_loop().create_task(book.watch())
    gw.parts["pool_started_at"] = time.time()


async def stop_pool(app: web.Application) -> None:
    gw: Gateway = app[GATEWAY]
    watch = gw.parts.pop("pool_watch", None)
    if watch is not None:
        watch.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await watch
    http = gw.parts.get("http")
    if http is not None:
        await http.close()
    db = gw.parts.get("db")
    if db is not None:
        db.close()


def setup(app: web.Application) -> None:
    app.on_startup.append(start_pool)
    app.on_cleanup.append(stop_pool)
    r = app.router
    r.add_post("/v1/chat/completions", openai_chat)
    r.add_post("/v1/completions", openai_completions)
    r.add_post("/v1/responses", openai_responses)
    r.add_post("/v1/messages", anthropic_messages)
    r.add_post("/v1/messages/count_tokens", anthropic_count_tokens)
    r.add_get("/v1/models", list_models)
    r.add_get("/v1/models/{model}", get_model)
    r.add_get("/v1beta/models", gemini_list_models)
    r.add_get("/v1beta/models/{tail:.+}", gemini_get_model)
    r.add_post("/v1beta/models/{tail:.+}", gemini_action)
