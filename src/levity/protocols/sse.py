"""Server-sent events: an incremental parser for upstream streams and a writer for client streams.

The parser follows the WHATWG event-stream rules that matter for the three APIs: lines end in
`\\n`, `\\r\\n` or `\\r`; a blank line dispatches; `event:` names the event; several `data:` lines
join with `\\n`; comments (`:`) and `id:`/`retry:` are ignored. Memory is bounded: a single event
larger than `max_event` raises `SSETooLarge`.
"""

from __future__ import annotations

from dataclasses import dataclass

import orjson


class SSETooLarge(ValueError):
    pass


@dataclass(slots=True)
class SSEEvent:
    event: str
    data: str

    def json(self) -> object:
        return orjson.loads(self.data)


class SSEParser:
    def __init__(self, max_event: int = 64 * 1024 * 1024) -> None:
        self._buf = b""
        self._event = ""
        self._data: list[str] = []
        self._size = 0
        self._max = max_event
        self._pending_cr = False  # a chunk ended in \r: a following \n belongs to it

    def feed(self, chunk: bytes) -> list[SSEEvent]:
        if self._pending_cr and chunk.startswith(b"\n"):
            chunk = chunk[1:]
        self._pending_cr = False
        buf = self._buf + chunk if self._buf else chunk
        if b"\r" in buf:
            # A chunk that ends in \r has ended its line; a \n opening the next one belongs to it.
            self._pending_cr = buf.endswith(b"\r")
            buf = buf.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
        out: list[SSEEvent] = []
        cut = buf.rfind(b"\n")
        if cut >= 0:
            # Split and decode the complete lines in one go (a \n byte is never inside a UTF-8
            # sequence, so this decodes exactly as line by line would).
            self._buf = buf[cut + 1 :]
            self._lines(buf[:cut].decode("utf-8", "replace").split("\n"), out)
        else:
            self._buf = buf
        if len(self._buf) + self._size > self._max:
            raise SSETooLarge("stream event too large")
        return out

    def finish(self) -> list[SSEEvent]:
        """Flush at end of stream: a last event without its blank line still counts."""
        out: list[SSEEvent] = []
        rest = [self._buf.decode("utf-8", "replace")] if self._buf else []
        self._buf = b""
        self._lines([*rest, ""], out)
        return out

    def _lines(self, lines: list[str], out: list[SSEEvent]) -> None:
        """Apply complete lines, state in locals: `data:` and blank lines are nearly all of every
        stream, so they are tested first."""
        data, size, event, limit = self._data, self._size, self._event, self._max
        for line in lines:
            if line.startswith("data:"):
                value = line[6:] if line.startswith("data: ") else line[5:]
                data.append(value)
                size += len(value)
                if size > limit:
                    raise SSETooLarge("stream event too large")
            elif not line:
                if data:
                    out.append(SSEEvent(event, data[0] if len(data) == 1 else "\n".join(data)))
                    data = []
                size, event = 0, ""
            elif not line.startswith(":"):
                name, _, value = line.partition(":")
                if value.startswith(" "):
                    value = value[1:]
                if name == "event":
                    event = value
                elif name == "data":
                    data.append(value)
                    size += len(value)
                    if size > limit:
                        raise SSETooLarge("stream event too large")
        self._data, self._size, self._event = data, size, event


def frame(data: object, event: str | None = None) -> bytes:
    """One SSE frame; `data` is JSON-encoded unless already bytes/str."""
    if isinstance(data, bytes):
        payload = data
    elif isinstance(data, str):
        payload = data.encode()
    else:
        payload = orjson.dumps(data)
    head = b"event: " + event.encode() + b"\n" if event else b""
    return head + b"data: " + payload + b"\n\n"


DONE = b"data: [DONE]\n\n"
