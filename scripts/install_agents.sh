#!/usr/bin/env bash
# Best effort: install the real coding-agent CLIs (pinned) into .cache/agents, for the tests
# that drive them offline against the fake gateway (tests skip with the reason printed when
# an agent is missing). Safe to run again: an installed, matching version is kept.
#   .cache/agents/node_modules/.bin/codex    @openai/codex
#   .cache/agents/node_modules/.bin/claude   @anthropic-ai/claude-code
#   .cache/agents/aider/bin/aider            aider-chat (its own venv; only with BATON_AIDER=1)
set -uo pipefail
cd "$(dirname "$0")/.."
CODEX_VERSION=0.169.0
CLAUDE_VERSION=2.1.328
AIDER_VERSION=0.86.2
dest=.cache/agents
mkdir -p "$dest"
want="@openai/codex@$CODEX_VERSION @anthropic-ai/claude-code@$CLAUDE_VERSION"
if [ "$(cat "$dest/.installed" 2>/dev/null)" != "$want" ] \
   || ! "$dest/node_modules/.bin/claude" --version >/dev/null 2>&1; then
  if command -v npm >/dev/null 2>&1; then
    # --ignore-scripts: both ship their binary in the package; no postinstall download.
    if timeout 300 npm install --prefix "$dest" --no-audit --no-fund --ignore-scripts \
         --loglevel=error $want >"$dest/npm.log" 2>&1; then
      # Claude Code's postinstall only copies its native binary out of the platform
      # package (nothing is downloaded); run it by hand since scripts are ignored above.
      (cd "$dest/node_modules/@anthropic-ai/claude-code" && node install.cjs) >>"$dest/npm.log" 2>&1 \
        && echo "$want" >"$dest/.installed"
    else
      echo "scripts/install_agents.sh: npm install failed (see $dest/npm.log); agent tests will be skipped" >&2
    fi
  else
    echo "scripts/install_agents.sh: npm not found; agent tests will be skipped" >&2
  fi
fi
if [ "${BATON_AIDER:-0}" = 1 ] && [ ! -x "$dest/aider/bin/aider" ]; then
  (python3 -m venv "$dest/aider" && timeout 600 "$dest/aider/bin/python" -m pip install -q \
     "aider-chat==$AIDER_VERSION") >"$dest/aider.log" 2>&1 \
    || echo "scripts/install_agents.sh: aider not installed (see $dest/aider.log)" >&2
fi
exit 0
