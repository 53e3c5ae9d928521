"""What the forwarder tells the monitor about each proxied request.

The forwarder builds one `RequestRecord` per client request and hands it to
`gateway.parts["monitor"].record(rec)` (never blocking, never raising); the monitor queues it
and writes in batches off the request path.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field


@dataclass(slots=True)
class Attempt:
    account: str  # account label (never a key)
    status: int | None  # upstream HTTP status; None for a connection error or timeout
    error: str  # classified reason and a short message, "" on success
    duration_ms: float = 0.0


@dataclass(slots=True)
class RequestRecord:
    method: str
    path: str
    protocol: str  # client front: openai_chat, openai_responses, anthropic_messages, gemini, ...
    model: str = ""  # as the client asked
    mapped_model: str = ""  # as sent upstream
    account: str = ""  # label of the account that answered
    provider: str = ""
    status: int = 0
    stream: bool = False
    ts: float = field(default_factory=time.time)
    duration_ms: float = 0.0
    ttfb_ms: float | None = None
    input_tokens: int = 0
    output_tokens: int = 0
    cached_tokens: int = 0
    reasoning_tokens: int = 0
    attempts: list[Attempt] = field(default_factory=list)
    error: str = ""
    client_ip: str = ""
    # Only when body logging is on; already capped and redacted by whoever fills them.
    request_body: str | None = None
    response_body: str | None = None
    # Assigned by the monitor when it accepts the record (the key of the log row).
    id: int = 0


class BodyTap:
    """The start of a streamed body for the request log (body logging on): bounded memory.

    Keeps the first `limit` bytes and counts the rest; a cut body carries the same truncation
    mark as `redact.truncated`, so the writer's cap still reports the full size.
    """

    __slots__ = ("limit", "parts", "kept", "total")

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.parts: list[bytes] = []
        self.kept = 0
        self.total = 0

    def add(self, data: bytes) -> None:
        self.total += len(data)
        if self.kept < self.limit:
            piece = data[: self.limit - self.kept]
            self.parts.append(piece)
            self.kept += len(piece)

    def text(self) -> str:
        text = b"".join(self.parts).decode("utf-8", "replace")
        return text if self.total <= self.kept else f"{text}… [truncated, {self.total} chars]"
