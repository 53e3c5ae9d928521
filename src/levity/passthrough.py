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
        if block:
            self._scan(block)

    def _scan(self, block: bytes) -> None:
        """Whole lines at once: what `_line` does for each, with the searching done in C.

        No end marker holds a newline, so one found in the block lies within one line; only
        the `data:` lines that mention usage are picked out and parsed.
        """
        if not self.ended and any(m in block for m in self.markers):
            self.ended = True
        at = 0
        while True:  # each line that mentions usage, in order
            hits = [i for i in (block.find(b"usage", at), block.find(b"Token", at)) if i >= 0]
            if not hits:
                return
            hit = min(hits)
            start = block.rfind(b"\n", 0, hit) + 1
            end = block.find(b"\n", hit)
            end = len(block) if end < 0 else end
            line = block[start:end]
            if line.startswith(b"data:"):
                self._read_usage(line)
            at = end + 1

    def _line(self, line: bytes) -> None:
        if not self.ended:
            for m in self.markers:
                if m in line:
                    self.ended = True
                    break
        if line.startswith(b"data:") and (b"usage" in line or b"Token" in line):
            self._read_usage(line)

    def _read_usage(self, line: bytes) -> None:
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
