#!/usr/bin/env bash
# Set up a virtual environment and run lint plus the whole test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
# Best effort: bubblewrap lets the sandbox tests run for real (they are skipped without it).
if ! command -v bwrap >/dev/null 2>&1 && command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
  (timeout 180 apt-get update -qq && timeout 180 apt-get install -y -qq bubblewrap) >/dev/null 2>&1 \
    || echo "scripts/test.sh: bubblewrap not installed; sandbox tests will be skipped" >&2
fi
# Best effort: Debian's chromium lets the HTML report tests run in a real browser (driven by
# Playwright through executable_path; Playwright's own browser download needs the internet).
if ! command -v chromium >/dev/null 2>&1 && command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
  (timeout 180 apt-get update -qq && timeout 600 apt-get install -y -qq chromium) >/dev/null 2>&1 \
    || echo "scripts/test.sh: chromium not installed; browser tests of the HTML report will be skipped" >&2
fi
# Best effort: the real coding-agent CLIs (pinned) for the agent tests (skipped without them).
bash scripts/install_agents.sh
python3 -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip >/dev/null
.venv/bin/python -m pip install -q -e '.[dev]'
.venv/bin/ruff check src tests benchmarks
.venv/bin/mypy
# The tests wait on model latency, subprocesses and git far more than on the CPU: four
# workers on two cores (BATON_TEST_WORKERS=0 runs them in this process, one at a time).
.venv/bin/python -m pytest -n "${BATON_TEST_WORKERS:-4}" --dist worksteal "$@"
