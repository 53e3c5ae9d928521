#!/usr/bin/env bash
# Install the real AI CLIs the client tests drive, pinned, into a cache outside the repo.
# Idempotent: a package whose pinned version is already installed (marker file) is skipped,
# so a warm run takes well under a second. Each package gets its own prefix so a partial or
# failed install of one never poisons another; a failed install is retried a few times and
# then fails this script loudly (the tests need these binaries and must not silently skip).
set -euo pipefail

CACHE="${LEVITY_CLI_CACHE:-/tmp/levity-cli-cache}"
# package@version:binary — the versions clients.md was written against.
PINS=(
  "@anthropic-ai/claude-code@2.1.197:claude"
  "@openai/codex@0.171.0:codex"
  "@google/gemini-cli@0.61.0:gemini"
)

if ! command -v npm >/dev/null; then
  echo "install_clis: npm not found; the client tests need Node.js 20+ and npm" >&2
  exit 1
fi

mkdir -p "$CACHE/bin"
for pin in "${PINS[@]}"; do
  spec="${pin%:*}"
  bin="${pin##*:}"
  # "@scope/name@1.2.3" -> "scope-name-1.2.3": one prefix per pinned version.
  dir="$CACHE/$(echo "${spec#@}" | tr '/@' '--')"
  if [ -f "$dir/.installed" ] && [ -x "$dir/bin/$bin" ]; then
    ln -sfn "$dir/bin/$bin" "$CACHE/bin/$bin"
    continue
  fi
  echo "install_clis: installing $spec into $dir"
  rm -rf "$dir"
  ok=0
  for attempt in 1 2 3; do
    if npm install --global --prefix "$dir" --no-audit --no-fund --loglevel=error "$spec"; then
      ok=1
      break
    fi
    echo "install_clis: npm install $spec failed (attempt $attempt)" >&2
    rm -rf "$dir"
    sleep $((attempt * 2))
  done
  if [ "$ok" != 1 ] || [ ! -x "$dir/bin/$bin" ]; then
    echo "install_clis: could not install $spec; the client tests cannot run" >&2
    exit 1
  fi
  touch "$dir/.installed"
  ln -sfn "$dir/bin/$bin" "$CACHE/bin/$bin"
done
echo "install_clis: CLIs ready in $CACHE/bin"
