"""The provider registry: adding a provider is one module and one line here."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .anthropic import PROVIDER as ANTHROPIC
from .base import Provider
from .gemini import PROVIDER as GEMINI
from .mock import PROVIDER as MOCK
from .openai import PROVIDER as OPENAI

if TYPE_CHECKING:
    from ..pool.accounts import Account

PROVIDERS: dict[str, Provider] = {p.name: p for p in (OPENAI, ANTHROPIC, GEMINI, MOCK)}

# Which provider wire each client front speaks natively.
FRONT_WIRE: dict[str, str] = {
    "openai_chat": "openai",
    "openai_completions": "openai",
    "openai_responses": "openai",
    "anthropic_messages": "anthropic",
    "anthropic_count_tokens": "anthropic",
    "gemini_generate": "gemini",
    "gemini_stream": "gemini",
    "gemini_count_tokens": "gemini",
}


# An `openai` account with `options.responses_api = false` is an OpenAI-compatible service that
# has Chat Completions but no /v1/responses (most local and third-party servers): Responses
# clients such as Codex are then translated onto Chat Completions instead of passed through.
RESPONSES_API_OPTION = "responses_api"


def passes_through(front: str, account: Account) -> bool:
    """True when `account` speaks `front`'s wire itself, so the body goes through untranslated."""
    wire = PROVIDERS[account.provider].wire
    if wire == "mock":
        return True
    if wire != FRONT_WIRE[front]:
        return False
    return not (front == "openai_responses" and account.options.get(RESPONSES_API_OPTION) is False)


def get_provider(name: str) -> Provider:
    return PROVIDERS[name]
