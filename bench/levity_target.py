"""Everything the runner assumes about Levity's CLI and config, in one place to adjust.

A Levity target is one `levity serve` process with its own data directory, set up before start:
  1. $LEVITY_HOME/config.toml with a [proxy] table (the client key, strict auth, the port);
  2. `levity account add` once per upstream account, pointing at the fake upstream;
  3. `python -m levity serve --port P` with LEVITY_HOME set; ready when GET /healthz answers 200
     (with the key: under auth_mode "strict" /healthz needs it too).
Clients then send `Authorization: Bearer <API_KEY>` (plus x-api-key on the Anthropic wire).
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path

API_KEY = "sk-levity-bench-000000000000000000000000"
MODEL = "bench"
ANTHROPIC_VERSION = "2023-06-01"
CLI_TIMEOUT_S = 30


@dataclass(frozen=True)
class LevitySpec:
    name: str
    client_wire: str  # the wire the benchmark client speaks: "openai" or "anthropic"
    provider: str  # the upstream account kind: "openai", "anthropic" or "gemini"
    accounts: int = 1


SPECS = (
    LevitySpec("levity same-protocol", "openai", "openai", accounts=3),
    LevitySpec("levity openai→anthropic", "openai", "anthropic"),
    LevitySpec("levity anthropic→gemini", "anthropic", "gemini"),
)


def unavailable_reason(python: str, env: dict[str, str]) -> str | None:
    """None when `python -m levity` can run here, else why not (shown to the user)."""
    probe = "import importlib.util as u, sys; sys.exit(0 if u.find_spec('levity.__main__') else 3)"
    try:
        done = subprocess.run([python, "-c", probe], env=env, capture_output=True, timeout=CLI_TIMEOUT_S)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"cannot run {python}: {exc}"
    if done.returncode == 3:
        return "package `levity` has no __main__ yet (no `python -m levity`)"
    if done.returncode:
        return "`levity` is not importable: " + done.stderr.decode(errors="replace").strip().splitlines()[-1]
    return None


def prepare(
    spec: LevitySpec, python: str, home: Path, port: int, fake_url: str, env: dict[str, str]
) -> list[str]:
    """Write the config, add the accounts; return the argv that serves. Raises RuntimeError on failure."""
    home.mkdir(parents=True, exist_ok=True)
    (home / "config.toml").write_text(
        f'[proxy]\napi_key = "{API_KEY}"\nauth_mode = "strict"\nport = {port}\n', encoding="utf-8"
    )
    base_url = f"{fake_url}/v1" if spec.provider == "openai" else fake_url
    for i in range(spec.accounts):
        argv = [python, "-m", "levity", "account", "add", "--provider", spec.provider]
        argv += ["--key", f"sk-upstream-{spec.provider}-{i}", "--base-url", base_url, "--models", MODEL]
        done = subprocess.run(argv, env=env, capture_output=True, timeout=CLI_TIMEOUT_S)
        if done.returncode:
            out = (done.stdout + done.stderr).decode(errors="replace").strip()[-600:]
            raise RuntimeError(f"`{' '.join(argv[1:])}` exited {done.returncode}: {out}")
    return [python, "-m", "levity", "serve", "--port", str(port)]


def health_headers() -> dict[str, str]:
    return {"Authorization": f"Bearer {API_KEY}"}


def client_headers(wire: str) -> list[str]:
    headers = [f"Authorization: Bearer {API_KEY}"]
    if wire == "anthropic":
        headers += [f"x-api-key: {API_KEY}", f"anthropic-version: {ANTHROPIC_VERSION}"]
    return headers
