"""Coding agents in baton's roles, for real: the pinned Claude Code and Codex CLIs
(scripts/install_agents.sh) driven offline against the fake gateway's Messages and
Responses wires, with scripted tool calls so the agents really edit files and run commands.
Each test skips, with the reason printed, when its agent is not installed."""

from __future__ import annotations

import json
import shlex
import subprocess
import sys
from pathlib import Path

from agentbins import agent_or_skip
from conftest import CANARY_KEY, events, fence, run_json

PY = shlex.quote(sys.executable)
VERIFY = f"{PY} -m unittest discover -s tests"
PLAN = fence({
    "summary": "add() subtracts; make it add.",
    "affected_files": [{"path": "add.py", "change": "return a + b"}],
    "risks": ["a wrong sign"], "acceptance_criteria": ["add(2, 3) == 5"],
    "test_commands": [VERIFY], "rollback": "Revert.", "risk_level": "low",
    "commit_message": "Fix add()", "packets": []})
APPROVE = fence({"verdict": "approve", "summary": "add() now adds; the tests pass.",
                 "top_risks": [], "required_fixes": [], "verification_commands": [],
                 "questions_for_owner": []})
FIX = "sed -i 's/return a - b/return a + b/' add.py"


def _git(repo: Path, *args: str) -> None:
    subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@localhost",
                    "-c", "init.defaultBranch=main", *args], cwd=repo, check=True,
                   capture_output=True)


def make_repo(tmp: Path, *, claude: Path | None = None, codex: Path | None = None,
              implementer: str = "claude", limits: str = "") -> Path:
    repo = tmp / "calc"
    (repo / "tests").mkdir(parents=True)
    (repo / "add.py").write_text("def add(a, b):\n    return a - b\n")
    (repo / "tests" / "test_add.py").write_text(
        "import unittest\n\nfrom add import add\n\n\nclass T(unittest.TestCase):\n"
        "    def test_add(self):\n        self.assertEqual(add(2, 3), 5)\n")
    (repo / ".gitignore").write_text("__pycache__/\n")
    impl = (f'{{ agent = "claude-code", model = "claude-fake", agent_command = "{claude}" }}'
            if implementer == "claude" else
            f'{{ agent = "codex", model = "gpt-fake-coder", agent_command = "{codex}" }}')
    review = (f'{{ agent = "codex", model = "gpt-fake-reviewer", agent_command = "{codex}" }}'
              if implementer == "claude" else
              f'{{ agent = "claude-code", model = "claude-fake-reviewer", '
              f'agent_command = "{claude}" }}')
    (repo / "baton.toml").write_text(
        f"verify_commands = [{json.dumps(VERIFY)}]\n{limits}\n"
        f'[routes.planner]\nmodel = "acme/planner"\n'
        f"[routes.implementer]\n{impl[2:-2].replace(', ', chr(10))}\n"
        f"[routes.reviewer]\n{review[2:-2].replace(', ', chr(10))}\n")
    _git(repo, "init", "-q")
    _git(repo, "add", "-A")
    _git(repo, "commit", "-q", "-m", "add subtracts")
    return repo


def serve(baton, script: dict):
    """The fake gateway, and the models' prices in the user's own configuration."""
    gw = baton.serve(script)
    with open(baton.tmp / "user-config.toml", "a") as fh:
        fh.write("".join(f'[prices."{m}"]\ninput_per_mtok = 1.0\noutput_per_mtok = 5.0\n'
                         for m in ("acme/planner", "claude-fake", "gpt-fake-coder",
                                   "gpt-fake-reviewer", "claude-fake-reviewer")))
    return gw


def _tool(name: str, **arguments: object) -> dict:
    return {"name": name, "arguments": arguments}


def claude_edits(command: str = FIX, usage: dict | None = None) -> list[dict]:
    """Claude Code's model: a Bash tool call that edits, then the closing message."""
    first = {"content": "Fixing add().", "tool_calls": [_tool("Bash", command=command,
                                                               description="fix add")]}
    if usage:
        first["usage"] = usage
    return [first, "I changed add.py so add() returns a + b."]


def test_claude_code_implements_and_codex_reviews_to_go(baton, tmp_path):
    claude, codex = agent_or_skip("claude"), agent_or_skip("codex")
    repo = make_repo(tmp_path, claude=claude, codex=codex)
    gw = serve(baton, {"models": {"acme/planner": [PLAN], "claude-fake": claude_edits(),
                                 "gpt-fake-reviewer": [APPROVE]}})
    proc = baton("run", "Fix add(): it must return the sum.", "--json", cwd=repo, timeout=300)
    result = run_json(proc)
    assert result["decision"] == "go", proc.stderr + json.dumps(result)
    run_dir = Path(result["run_dir"])
    trace = events(run_dir)
    calls = [e for e in trace if e["type"] == "model.call"]
    by_role = {e["role"]: e for e in calls}
    assert by_role["implementer"]["source"] == "claude-code"
    assert by_role["reviewer"]["source"] == "codex"
    assert by_role["implementer"]["gen_ai.usage.input_tokens"] > 0
    assert by_role["implementer"]["cost_usd"] > 0
    served = gw.requests()
    assert {r["wire"] for r in served if r["model"] == "claude-fake"} == {"messages"}
    assert {r["wire"] for r in served if r["model"] == "gpt-fake-reviewer"} == {"responses"}
    assert all(r["run"] == result["run_id"] for r in served)
    # the change reached the branch through baton's gate, not the agent's git
    show = subprocess.run(["git", "show", f"{result['branch']}:add.py"], cwd=repo,
                          capture_output=True, text=True).stdout
    assert "return a + b" in show
    # the key was given to the agents, and never written anywhere baton keeps
    assert not any(CANARY_KEY in p.read_text(errors="replace")
                   for p in run_dir.rglob("*") if p.is_file())
