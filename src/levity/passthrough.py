"""Reading pass-through bytes on the side, and ending a broken stream in the client's own wire.

The bytes go to the client untouched; `StreamWatcher` only looks at them to read token usage
and to notice whether the stream reached its natural end (a cut-off stream must end with an
error event, never as a silent truncated 200).
"""

from __future__ import annotations

import re

import orjson

from .errors import error_body
from .providers import FRONT_WIRE, PROVIDERS
from .providers.base import Usage

MAX_LINE = 4 * 1024 * 1024  # a longer SSE line is passed on but not inspected (bounded memory)
_TAIL = 64 * 1024
_GEMINI_COUNTS = {
    "input": re.compile(rb'"promptTokenCount"\s*:\s*(\d+)'),
    "output": re.compile(rb'"candidatesTokenCount"\s*:\s*(\d+)'),
    "cached": re.compile(rb'"cachedContentTokenCount"\s*:\s*(\d+)'),
    "reasoning": re.compile(rb'"thoughtsTokenCount"\s*:\s*(\d+)'),
}


class StreamWatcher:
    """Follows a stream of `front`'s wire: usage, and whether the end marker was seen."""

    def __init__(self, front: str, sse: bool) -> None:
        self.wire = PROVIDERS[FRONT_WIRE[front]]
        self.sse = sse
        self.usage = Usage()
        self.markers = self.wire.stream_end_markers
        self.ended = not self.markers
        self._buf = b""
        self._skipping = False

    def feed(self, chunk: bytes) -> None:
        if not self.sse:
            self._feed_array(chunk)
            return
        data = self._buf + chunk if self._buf else chunk
        if self._skipping:  # the rest of an over-long line that was dropped: skip to its end
            nl = data.find(b"\n")
            if nl < 0:
                self._buf = b""
                return
            self._skipping = False
            data = data[nl + 1 :]
        cut = data.rfind(b"\n")
        block, rest = (data[:cut], data[cut + 1 :]) if cut >= 0 else (b"", data)
        if len(rest) > MAX_LINE:
            rest, self._skipping = b"", True
        self._buf = rest
        # Most frames carry neither usage nor an end marker: one scan of the whole block
        # instead of splitting it into lines and testing each one.
        if block and self._worth_reading(block):
            for line in block.split(b"\n"):
                self._line(line)

    def _worth_reading(self, block: bytes) -> bool:
        if b"usage" in block or b"Token" in block:
            return True
        return not self.ended and any(m in block for m in self.markers)

    def _line(self, line: bytes) -> None:
        if not self.ended:
            for m in self.markers:
                if m in line:
                    self.ended = True
                    break
        if line.startswith(b"data:") and (b"usage" in line or b"Token" in line):
            # OpenAI sends `"usage":null` in every chunk when usage is asked for: nothing to read.
            if b"Token" not in line and line.count(b"usage") == line.count(b'"usage":null'):
                return
            try:
                obj = orjson.loads(line[5:])
            except orjson.JSONDecodeError:
                return
            if isinstance(obj, dict):
                self.wire.read_usage(obj, self.usage)

    def _feed_array(self, chunk: bytes) -> None:
        """Gemini's streaming JSON array (no alt=sse): keep a tail, read counts at the end."""
        window = self._buf[-256:] + chunk
        if not self.ended and any(m in window for m in self.markers):
            self.ended = True
        self._buf = (self._buf + chunk)[-_TAIL:]

    def finish(self) -> None:
        if self.sse:
            if self._buf and not self._skipping:
                self._line(self._buf)
            return
        for name, rx in _GEMINI_COUNTS.items():
            hits = rx.findall(self._buf)
            if hits:
                setattr(self.usage, name, int(hits[-1]))


def read_json_usage(front: str, body: bytes) -> Usage:
    usage = Usage()
    try:
        obj = orjson.loads(body)
    except orjson.JSONDecodeError:
        return usage
    wire = PROVIDERS[FRONT_WIRE[front]]
    if isinstance(obj, dict):
        wire.read_usage(obj, usage)
    elif isinstance(obj, list):  # Gemini streaming answered as one JSON array
        for item in obj:
            if isinstance(item, dict):
                wire.read_usage(item, usage)
    return usage


def stream_error(front: str, message: str, status: int = 502, sse: bool = True) -> bytes:
    """The event that ends a broken stream in the client's own protocol."""
    wire = FRONT_WIRE[front]
    if wire == "anthropic":
        body = error_body("anthropic", 529 if status == 529 else 500, message)
        if status != 529:
            body["error"]["type"] = "api_error"
        return b"event: error\ndata: " + orjson.dumps(body) + b"\n\n"
    if wire == "gemini":
        obj = orjson.dumps(error_body("gemini", status, message))
        return b"data: " + obj + b"\n\n" if sse else b",\r\n" + obj + b"]"
    err = {"message": message, "type": "server_error", "param": None, "code": "upstream_error"}
    if front == "openai_responses":
        # The Responses stream's own `error` event; the `error` object makes SDKs raise too.
        event = {"type": "error", "code": "upstream_error", "message": message, "param": None, "error": err}
        return b"event: error\ndata: " + orjson.dumps(event) + b"\n\n"
    return b"data: " + orjson.dumps({"error": err}) + b"\n\n"
