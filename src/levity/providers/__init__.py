"""The provider registry: adding a provider is one module and one line here."""

from __future__ import annotations

from .anthropic import PROVIDER as ANTHROPIC
from .base import Provider
from .gemini import PROVIDER as GEMINI
from .mock import PROVIDER as MOCK
from .openai import PROVIDER as OPENAI

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


def get_provider(name: str) -> Provider:
    return PROVIDERS[name]
