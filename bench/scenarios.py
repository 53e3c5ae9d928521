"""The request shapes the benchmark sends: one per client wire, JSON and 20-chunk SSE.

Bodies are fixed and modest (a system prompt and a user turn) so the numbers measure the gateway's
per-request cost, not JSON size. The chunk count lives in the fake upstream (--chunks).
"""

from __future__ import annotations

from dataclasses import dataclass

import orjson

MODEL = "bench"
SYSTEM = "You are a concise assistant for a benchmark. Answer in plain text. " * 4
USER = "Summarise the benefits of connection pooling in two sentences."
# The fake upstream paces its SSE frames when it sees this in the prompt (see fake_upstream.py).
PACED_MARKER = "bench-paced"

PATHS = {"openai": "/v1/chat/completions", "anthropic": "/v1/messages"}
# What a correct reply contains on each wire; checked before load and by the SSE client.
MARKERS = {
    ("openai", False): b"tok",
    ("openai", True): b"[DONE]",
    ("anthropic", False): b"tok",
    ("anthropic", True): b"message_stop",
}


@dataclass(frozen=True)
class Scenario:
    name: str
    wire: str  # the client's wire: "openai" or "anthropic"
    stream: bool

    @property
    def path(self) -> str:
        return PATHS[self.wire]

    @property
    def marker(self) -> bytes:
        return MARKERS[(self.wire, self.stream)]

    def body(self, paced: bool = False) -> bytes:
        user = f"{USER} {PACED_MARKER}" if paced else USER
        if self.wire == "openai":
            obj: dict = {
                "model": MODEL,
                "messages": [{"role": "system", "content": SYSTEM}, {"role": "user", "content": user}],
                "max_tokens": 256,
                "temperature": 0.2,
            }
            if self.stream:
                obj |= {"stream": True, "stream_options": {"include_usage": True}}
        else:
            obj = {
                "model": MODEL,
                "system": SYSTEM,
                "messages": [{"role": "user", "content": user}],
                "max_tokens": 256,
                "temperature": 0.2,
            }
            if self.stream:
                obj["stream"] = True
        return orjson.dumps(obj)


ALL = (
    Scenario("openai-json", "openai", False),
    Scenario("openai-sse20", "openai", True),
    Scenario("anthropic-json", "anthropic", False),
    Scenario("anthropic-sse20", "anthropic", True),
)
