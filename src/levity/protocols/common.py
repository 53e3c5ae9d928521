"""Small helpers shared by the wire codecs."""

from __future__ import annotations

import time
from typing import Any

from levity import canonical as c
from levity.errors import GatewayError


def bad(message: str) -> GatewayError:
    """A 400 that names what the client asked for and why it cannot go through."""
    return GatewayError(400, message)


def add_message(messages: list[c.Message], role: str, parts: list[c.Part]) -> None:
    """Append parts, merging into the previous message when it has the same role.

    Every target wants alternating roles (Anthropic requires it; Gemini and OpenAI tolerate it), and
    tool results followed by user text belong to one user turn.
    """
    if not parts:
        return
    if messages and messages[-1].role == role:
        messages[-1].parts.extend(parts)
    else:
        messages.append(c.Message(role, list(parts)))  # type: ignore[arg-type]


def as_list(value: Any) -> list:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def stop_list(value: Any) -> list[str]:
    return [s for s in as_list(value) if isinstance(s, str)]


def now() -> int:
    return int(time.time())


def opt_int(value: Any) -> int | None:
    return int(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def opt_float(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


EFFORT_BUDGET = {"none": 0, "minimal": 512, "low": 2048, "medium": 8192, "high": 24576, "xhigh": 32768}


def effort_to_budget(effort: str | None, default: int = 8192) -> int:
    return EFFORT_BUDGET.get(effort or "", default)


def budget_to_effort(budget: int | None) -> str:
    if budget is None:
        return "medium"
    if budget <= 0:
        return "none"
    if budget <= 1024:
        return "minimal"
    if budget <= 4096:
        return "low"
    if budget <= 16384:
        return "medium"
    return "high"


def tool_result_text(parts: list) -> str:
    return "".join(p.text for p in parts if isinstance(p, c.Text))


def has_tool_calls(reply: c.Reply) -> bool:
    return any(p.kind == "tool_call" for p in reply.parts)
