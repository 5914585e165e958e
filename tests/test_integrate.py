"""``baton integrate``: the plugins written from package data, and the real Claude Code CLI's
own validation where it is installed."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

CLAUDE = Path("/work/main/.cache/agents/node_modules/.bin/claude")


@pytest.mark.parametrize("agent,manifest", [("claude-code", ".claude-plugin/plugin.json"),
                                            ("codex", ".codex-plugin/plugin.json")])
def test_files_written_valid_json_dir_respected_no_overwrite(baton, tmp_path, agent, manifest):
    target = tmp_path / "out" / agent
    proc = baton("integrate", agent, "--dir", str(target))
    assert proc.returncode == 0, proc.stderr
    assert "Enable" in proc.stdout
    for rel in (manifest, ".mcp.json", "skills/baton-review/SKILL.md"):
        assert (target / rel).is_file(), rel
    for path in target.rglob("*.json"):
        json.loads(path.read_text())
    mcp = json.loads((target / ".mcp.json").read_text())
    assert mcp["mcpServers"]["baton"]["args"] == ["mcp"]
    hooks = next(target.rglob("hooks.json"))
    assert f"baton hook stop --agent {agent}" in hooks.read_text()
    assert not (tmp_path / f"baton-{agent}-plugin").exists()

    again = baton("integrate", agent, "--dir", str(target))
    assert again.returncode == 2 and "--force" in again.stderr
    assert baton("integrate", agent, "--dir", str(target), "--force").returncode == 0


def test_no_hooks_leaves_the_hook_out(baton, tmp_path):
    target = tmp_path / "p"
    assert baton("integrate", "claude-code", "--dir", str(target), "--no-hooks").returncode == 0
    assert not list(target.rglob("hooks.json"))


def test_claude_validates_the_plugin(baton, tmp_path):
    claude = shutil.which("claude") or (str(CLAUDE) if CLAUDE.exists() else None)
    if claude is None:
        pytest.skip("the claude CLI is not installed (npm @anthropic-ai/claude-code)")
    try:
        probe = subprocess.run([claude, "--version"], capture_output=True, text=True,
                               timeout=60)
    except OSError as exc:
        pytest.skip(f"the claude CLI cannot run here: {exc}")
    if probe.returncode != 0:
        pytest.skip(f"the claude CLI cannot run here: {(probe.stderr or probe.stdout)[:200]}")
    target = tmp_path / "plugin"
    assert baton("integrate", "claude-code", "--dir", str(target)).returncode == 0
    proc = subprocess.run([claude, "plugin", "validate", str(target)], capture_output=True,
                          text=True, timeout=120, env={**baton.env(), "HOME": str(tmp_path)})
    assert proc.returncode == 0, proc.stdout + proc.stderr
