"""Where the real coding-agent CLIs are, for the tests that drive them offline.

``scripts/install_agents.sh`` (run by ``scripts/test.sh``) installs pinned versions into
``.cache/agents``; a test that needs one calls :func:`agent_or_skip`, which skips with the
reason printed when it is missing.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
_PLACES = {
    "codex": ROOT / ".cache/agents/node_modules/.bin/codex",
    "claude": ROOT / ".cache/agents/node_modules/.bin/claude",
    "aider": ROOT / ".cache/agents/aider/bin/aider",
}


def agent_bin(name: str) -> Path | None:
    """The installed CLI ``name`` (codex, claude, aider), or None."""
    place = _PLACES[name]
    if place.exists():
        return place
    found = shutil.which(name)
    return Path(found) if found else None


def agent_or_skip(name: str) -> Path:
    """The CLI ``name``, or skip the test saying how to install it."""
    found = agent_bin(name)
    if found is None:
        pytest.skip(f"{name} CLI not installed: run scripts/install_agents.sh "
                    "(BATON_AIDER=1 for aider)")
    return found
