"""Every translated reply must parse in the client's official SDK.

A loopback aiohttp server plays the gateway: for each golden fixture it runs `plan_translation`
live on the fixture's client request and recorded upstream reply and answers with the translated
bytes (streams are written chunk by chunk as the decoder produces them). The real `openai`,
`anthropic` and `google-genai` clients then parse the answer with their own stream accumulators.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Iterator
from pathlib import Path

import anthropic
import openai
import orjson
import pytest
from aiohttp import web
from google import genai
from google.genai import types as gtypes

from levity.translate import plan_translation

FIXTURES = Path(__file__).parent / "fixtures" / "translation"
EXPECTED_TEXT = {"text": "Hello there!", "image": "A red pixel.", "thinking": "4", "max_tokens": "Hello the"}


class Loopback:
    """A tiny HTTP server in a thread; `case` is the fixture the next request is answered from."""

    def __init__(self) -> None:
        self.case: dict = {}
        self.loop = asyncio.new_event_loop()
        self.port = 0
        ready = threading.Event()
        self.thread = threading.Thread(target=self._run, args=(ready,), daemon=True)
        self.thread.start()
        ready.wait(5)

    def _run(self, ready: threading.Event) -> None:
        asyncio.set_event_loop(self.loop)
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self.handle)
        self.runner = web.AppRunner(app)
        self.loop.run_until_complete(self.runner.setup())
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        self.loop.run_until_complete(site.start())
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        ready.set()
        self.loop.run_forever()

    async def handle(self, request: web.Request) -> web.StreamResponse:
        case = self.case
        plan = plan_translation(
            case["front"], case["provider"], case["client_request"], case["upstream_model"], case["stream"]
        )
        reply = case["upstream_reply"]
        if not isinstance(reply, str):
            return web.json_response(plan.decode(reply))
        resp = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await resp.prepare(request)
        dec = plan.stream_decoder()
        raw = reply.encode()
        for i in range(0, len(raw), 11):
            out = dec.feed(raw[i : i + 11])
            if out:
                await resp.write(out)
        tail = case.get("inject_error")
        await resp.write(dec.error(tail) if tail else dec.finish())
        await resp.write_eof()
        return resp

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def close(self) -> None:
        asyncio.run_coroutine_threadsafe(self.runner.cleanup(), self.loop).result(5)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)


@pytest.fixture(scope="module")
def loopback() -> Iterator[Loopback]:
    lb = Loopback()
    yield lb
    lb.close()


def _cases() -> list[Path]:
    return sorted(p for p in FIXTURES.glob("*.json") if "__count__" not in p.stem)


def _scenario(path: Path) -> str:
    return path.stem.split("__")[2]


# ---- per-SDK drivers: return (text, thinking, tool_calls[(name, args)], finish, (input, output)) ----


def run_openai_chat(base: str, stream: bool):
    client = openai.OpenAI(base_url=base + "/v1", api_key="k", max_retries=0)
    msgs = [{"role": "user", "content": "hi"}]
    if stream:
        try:
            with client.chat.completions.stream(
                model="m", messages=msgs, stream_options={"include_usage": True}
            ) as s:
                for _ in s:
                    pass
                final = s.get_final_completion()
        except openai.LengthFinishReasonError as exc:  # the helper's way of reporting finish_reason=length
            final = exc.completion
    else:
        final = client.chat.completions.create(model="m", messages=msgs)
    msg = final.choices[0].message
    calls = [(t.function.name, json.loads(t.function.arguments)) for t in msg.tool_calls or []]
    thinking = (msg.model_extra or {}).get("reasoning_content") or ""
    return (
        msg.content or "",
        thinking,
        calls,
        final.choices[0].finish_reason,
        (final.usage.prompt_tokens, final.usage.completion_tokens),
    )


def run_openai_responses(base: str, stream: bool):
    client = openai.OpenAI(base_url=base + "/v1", api_key="k", max_retries=0)
    if stream:
        with client.responses.stream(model="m", input="hi") as s:
            for _ in s:
                pass
            final = s.get_final_response()
    else:
        final = client.responses.create(model="m", input="hi")
    calls = [(o.name, json.loads(o.arguments)) for o in final.output if o.type == "function_call"]
    thinking = "".join(sm.text for o in final.output if o.type == "reasoning" for sm in o.summary)
    finish = "length" if final.status == "incomplete" else ("tool_calls" if calls else "stop")
    return final.output_text, thinking, calls, finish, (final.usage.input_tokens, final.usage.output_tokens)


def run_openai_completions(base: str, stream: bool):
    client = openai.OpenAI(base_url=base + "/v1", api_key="k", max_retries=0)
    if stream:
        text, finish, usage = "", None, None
        for chunk in client.completions.create(
            model="m", prompt="hi", stream=True, stream_options={"include_usage": True}
        ):
            for ch in chunk.choices:
                text += ch.text
                finish = ch.finish_reason or finish
            usage = chunk.usage or usage
        return text, "", [], finish, (usage.prompt_tokens, usage.completion_tokens)
    final = client.completions.create(model="m", prompt="hi")
    return (
        final.choices[0].text,
        "",
        [],
        final.choices[0].finish_reason,
        (final.usage.prompt_tokens, final.usage.completion_tokens),
    )


def run_anthropic(base: str, stream: bool):
    client = anthropic.Anthropic(base_url=base, api_key="k", max_retries=0)
    args = {"model": "m", "max_tokens": 100, "messages": [{"role": "user", "content": "hi"}]}
    if stream:
        with client.messages.stream(**args) as s:
            for _ in s:
                pass
            final = s.get_final_message()
    else:
        final = client.messages.create(**args)
    text = "".join(b.text for b in final.content if b.type == "text")
    thinking = "".join(b.thinking for b in final.content if b.type == "thinking")
    calls = [(b.name, b.input) for b in final.content if b.type == "tool_use"]
    finish = {"end_turn": "stop", "tool_use": "tool_calls", "max_tokens": "length"}[final.stop_reason]
    u = final.usage
    return text, thinking, calls, finish, (u.input_tokens + (u.cache_read_input_tokens or 0), u.output_tokens)


def run_gemini(base: str, stream: bool):
    client = genai.Client(api_key="k", http_options=gtypes.HttpOptions(base_url=base, api_version="v1beta"))
    chunks = (
        list(client.models.generate_content_stream(model="gemini-up", contents="hi"))
        if stream
        else [client.models.generate_content(model="gemini-up", contents="hi")]
    )
    text = thinking = ""
    calls: list = []
    finish = usage = None
    for ch in chunks:
        cand = ch.candidates[0]
        for p in cand.content.parts if cand.content and cand.content.parts else []:
            if p.function_call:
                calls.append((p.function_call.name, p.function_call.args))
            elif p.thought:
                thinking += p.text or ""
            elif p.text:
                text += p.text
        finish = cand.finish_reason or finish
        usage = ch.usage_metadata or usage
    fin = {"STOP": "tool_calls" if calls else "stop", "MAX_TOKENS": "length"}[finish.value]
    return (
        text,
        thinking,
        calls,
        fin,
        (usage.prompt_token_count, (usage.candidates_token_count or 0) + (usage.thoughts_token_count or 0)),
    )


DRIVERS = {
    "openai_chat": run_openai_chat,
    "openai_responses": run_openai_responses,
    "openai_completions": run_openai_completions,
    "anthropic_messages": run_anthropic,
    "gemini_generate": run_gemini,
    "gemini_stream": run_gemini,
}


@pytest.mark.parametrize("path", _cases(), ids=lambda p: p.stem)
def test_sdk_parses_translated_reply(loopback: Loopback, path: Path) -> None:
    case = orjson.loads(path.read_bytes())
    loopback.case = case
    text, thinking, calls, finish, usage = DRIVERS[case["front"]](loopback.base, case["stream"])
    scenario = _scenario(path)
    if scenario == "tools":
        assert calls == [("get_weather", {"city": "Lyon"})]
        assert finish == "tool_calls"
    else:
        assert text == EXPECTED_TEXT[scenario]
        assert calls == []
        assert finish == ("length" if scenario == "max_tokens" else "stop")
    if scenario == "thinking" and case["front"] != "openai_completions":
        assert thinking == "Two plus two is four."
    assert usage == tuple(case["expected_usage"][:2])


ERROR_FRONTS = {
    "openai_chat": (run_openai_chat, openai.APIError),
    "openai_completions": (run_openai_completions, openai.APIError),
    "anthropic_messages": (run_anthropic, anthropic.APIError),
}


@pytest.mark.parametrize("front", sorted(ERROR_FRONTS))
def test_sdk_raises_on_translated_stream_error(loopback: Loopback, front: str) -> None:
    case = orjson.loads((FIXTURES / f"{front}__gemini__text__stream.json").read_bytes())
    loopback.case = {**case, "inject_error": "upstream went away"}
    driver, exc = ERROR_FRONTS[front]
    with pytest.raises(exc, match="upstream went away"):
        driver(loopback.base, True)


def test_responses_stream_error_is_response_failed(loopback: Loopback) -> None:
    case = orjson.loads((FIXTURES / "openai_responses__anthropic__text__stream.json").read_bytes())
    loopback.case = {**case, "inject_error": "upstream went away"}
    client = openai.OpenAI(base_url=loopback.base + "/v1", api_key="k", max_retries=0)
    events = list(client.responses.create(model="m", input="hi", stream=True))
    assert events[-1].type == "response.failed"
    assert events[-1].response.error.message == "upstream went away"
    assert [e.sequence_number for e in events] == list(range(len(events)))
