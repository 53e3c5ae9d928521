"""How to point each real CLI at a gateway, headless and with no calls to other hosts.

The settings follow /work/shared/clients.md: environment for Claude Code, a CODEX_HOME with a
config.toml for Codex, ~/.gemini/settings.json for Gemini CLI.
"""

from __future__ import annotations

import json
from pathlib import Path

from .conftest import CliHome, CliRun

CLAUDE_QUIET = {
    "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
    "DISABLE_AUTOUPDATER": "1",
    "DISABLE_TELEMETRY": "1",
    "DISABLE_ERROR_REPORTING": "1",
    # A 401 is otherwise retried for minutes.
    "CLAUDE_CODE_MAX_RETRIES": "0",
}


def claude(home: CliHome, base: str, key: str, prompt: str, model: str, timeout: float = 60) -> CliRun:
    env = {**CLAUDE_QUIET, "ANTHROPIC_BASE_URL": base, "ANTHROPIC_API_KEY": key}
    argv = ["claude", "-p", prompt, "--output-format", "json", "--model", model]
    return home.run(argv, env, timeout)


def codex_config(base: str, model: str) -> str:
    return f"""model = "{model}"
model_provider = "lv"
check_for_update_on_startup = false

[model_providers.lv]
name = "levity"
base_url = "{base}/v1"
env_key = "LEVITY_KEY"
wire_api = "responses"
# Codex retries even a 401 five times; on loopback a retry only hides a gateway fault.
request_max_retries = 0
stream_max_retries = 0

[features]
plugins = false
remote_plugin = false
apps = false

[analytics]
enabled = false

[feedback]
enabled = false

[otel]
exporter = "none"
"""


def codex(home: CliHome, base: str, key: str, prompt: str, model: str, timeout: float = 60) -> CliRun:
    codex_home = home.home / ".codex"
    codex_home.mkdir(exist_ok=True)
    (codex_home / "config.toml").write_text(codex_config(base, model))
    env = {"CODEX_HOME": str(codex_home), "LEVITY_KEY": key}
    argv = ["codex", "exec", "--skip-git-repo-check", "--ephemeral", prompt]
    return home.run(argv, env, timeout)


GEMINI_SETTINGS = {
    "security": {"auth": {"selectedType": "gemini-api-key"}},
    "privacy": {"usageStatisticsEnabled": False},
    "telemetry": {"enabled": False},
    "general": {"enableAutoUpdate": False, "enableAutoUpdateNotification": False},
}


def gemini(home: CliHome, base: str, key: str, prompt: str, model: str, timeout: float = 60) -> CliRun:
    settings_dir: Path = home.home / ".gemini"
    settings_dir.mkdir(exist_ok=True)
    (settings_dir / "settings.json").write_text(json.dumps(GEMINI_SETTINGS))
    # Headless runs refuse an untrusted working directory (exit 55) unless told to trust it.
    env = {"GOOGLE_GEMINI_BASE_URL": base, "GEMINI_API_KEY": key, "GEMINI_CLI_TRUST_WORKSPACE": "true"}
    argv = ["gemini", "-p", prompt, "-m", model, "-o", "json"]
    return home.run(argv, env, timeout)
