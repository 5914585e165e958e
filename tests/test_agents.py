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
    result = _run(baton, repo, EscapeWatch())
    assert result["decision"] == "go", json.dumps(result)
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


class EscapeWatch:
    """A proxy that only records: agents get it as HTTP(S)_PROXY (NO_PROXY for loopback),
    so anything they try to reach beyond 127.0.0.1 shows up here instead of leaving."""

    def __init__(self) -> None:
        import socket
        import threading

        self.seen: list[bytes] = []
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            conn.settimeout(2)
            try:
                self.seen.append(conn.recv(200))
            except OSError:
                self.seen.append(b"?")
            conn.close()

    def env(self) -> dict[str, str]:
        url = f"http://127.0.0.1:{self.port}"
        return {"HTTPS_PROXY": url, "HTTP_PROXY": url, "https_proxy": url, "http_proxy": url,
                "NO_PROXY": "127.0.0.1,localhost", "no_proxy": "127.0.0.1,localhost"}


def _run(baton, repo: Path, watch: EscapeWatch, *args: str, timeout: float = 300) -> dict:
    proc = baton("run", "Fix add(): it must return the sum.", "--json", *args, cwd=repo,
                 timeout=timeout, **watch.env())
    result = run_json(proc)
    result["_stderr"] = proc.stderr
    assert watch.seen == [], f"an agent tried to leave 127.0.0.1: {watch.seen}"
    return result


def test_codex_implements_and_claude_code_reviews_to_go(baton, tmp_path):
    claude, codex = agent_or_skip("claude"), agent_or_skip("codex")
    repo = make_repo(tmp_path, claude=claude, codex=codex, implementer="codex")
    gw = serve(baton, {"models": {
        "acme/planner": [PLAN],
        "gpt-fake-coder": [{"content": "", "tool_calls": [_tool("exec_command", cmd=FIX)]},
                           "I changed add.py: add() returns a + b."],
        "claude-fake-reviewer": [APPROVE]}})
    result = _run(baton, repo, EscapeWatch())
    assert result["decision"] == "go", result
    calls = {e["role"]: e for e in events(Path(result["run_dir"])) if e["type"] == "model.call"}
    assert calls["implementer"]["source"] == "codex"
    assert calls["reviewer"]["source"] == "claude-code"
    assert calls["implementer"]["agent_calls"] == 1  # one turn, as Codex counts
    assert calls["reviewer"]["agent_claimed_cost_usd"] is not None  # shown, not used
    coder = [r for r in gw.requests() if r["model"] == "gpt-fake-coder"]
    assert len(coder) == 2 and "exec_command" in coder[0]["tools"]


def test_an_agent_editing_outside_the_plan_is_flagged_for_the_reviewer(baton, tmp_path):
    claude, codex = agent_or_skip("claude"), agent_or_skip("codex")
    repo = make_repo(tmp_path, claude=claude, codex=codex)
    serve(baton, {"models": {"acme/planner": [PLAN],
                             "claude-fake": claude_edits(FIX + " && echo note > NOTES.txt"),
                             "gpt-fake-reviewer": [APPROVE]}})
    result = _run(baton, repo, EscapeWatch())
    trace = events(Path(result["run_dir"]))
    applied = [e for e in trace if e["type"] == "edits.applied"][0]
    assert applied["outside_plan"] == ["NOTES.txt"], applied
    assert sorted(applied["files"]) == ["NOTES.txt", "add.py"]


def test_an_agent_that_commits_and_installs_hooks_is_undone_and_reported(baton, tmp_path):
    claude, codex = agent_or_skip("claude"), agent_or_skip("codex")
    repo = make_repo(tmp_path, claude=claude, codex=codex)
    hooks_before = sorted(p.name for p in (repo / ".git" / "hooks").iterdir())
    git_tamper = (FIX + " && git add -A && git -c user.name=a -c user.email=a@b commit -qm "
                  "agent-commit && printf '#!/bin/sh\\nexit 0\\n' > .git/hooks/pre-commit"
                  " && git branch agent-branch")
    serve(baton, {"models": {"acme/planner": [PLAN], "claude-fake": claude_edits(git_tamper),
                             "gpt-fake-reviewer": [APPROVE]}})
    result = _run(baton, repo, EscapeWatch())
    assert result["decision"] == "go", result
    trace = events(Path(result["run_dir"]))
    tampering = [e for e in trace if e["type"] == "agent.git"]
    assert tampering and tampering[0]["undone"] is True
    assert set(tampering[0]["changes"]) >= {"moved HEAD (committed or checked out)",
                                           "created or moved refs", "installed git hooks"}
    # nothing of it reached the user's repository; the branch holds baton's own commit
    assert sorted(p.name for p in (repo / ".git" / "hooks").iterdir()) == hooks_before
    branches = subprocess.run(["git", "branch", "--list"], cwd=repo, capture_output=True,
                              text=True).stdout
    assert "agent-branch" not in branches
    log = subprocess.run(["git", "log", "--format=%s", result["branch"]], cwd=repo,
                         capture_output=True, text=True).stdout.split("\n")
    assert log[0] == "Fix add()" and log[1] == "add subtracts"  # baton's commit on the base
    review = [e for e in trace if e["type"] == "model.start" and e["role"] == "reviewer"]
    packet = (Path(result["run_dir"]) / review[0]["prompt_file"]).read_text()
    assert "in its scratch repository (discarded)" in packet


def test_an_agent_over_its_budget_is_stopped_and_the_run_pauses(baton, tmp_path):
    claude, codex = agent_or_skip("claude"), agent_or_skip("codex")
    repo = make_repo(tmp_path, claude=claude, codex=codex,
                     limits="[limits]\nmax_cost_usd = 0.05\n")
    huge = {"prompt_tokens": 200_000, "completion_tokens": 1000}  # $0.205 at $1/$5
    gw = serve(baton, {"models": {"acme/planner": [PLAN],
                                  "claude-fake": claude_edits(usage=huge),
                                  "gpt-fake-reviewer": [APPROVE]}})
    result = _run(baton, repo, EscapeWatch())
    assert result["exit_code"] == 4 and result["state"] == "budget_exhausted", result
    assert "budget" in " ".join(result["reasons"]) + result.get("error", "")
    trace = events(Path(result["run_dir"]))
    stopped = [e for e in trace if e["type"] == "model.call" and e["role"] == "implementer"]
    assert stopped[-1]["outcome"] == "error" and stopped[-1]["cost_usd"] > 0.05
    assert not [r for r in gw.requests() if r["model"] == "gpt-fake-reviewer"]


def test_an_agent_whose_server_hangs_is_stopped_at_its_time_limit(baton, tmp_path):
    claude, codex = agent_or_skip("claude"), agent_or_skip("codex")
    repo = make_repo(tmp_path, claude=claude, codex=codex, implementer="codex")
    toml = repo / "baton.toml"
    toml.write_text(toml.read_text().replace('model = "gpt-fake-coder"',
                                             'model = "gpt-fake-coder"\nagent_timeout_s = 8'))
    _git(repo, "commit", "-qam", "a time limit")
    serve(baton, {"models": {"acme/planner": [PLAN],
                             "gpt-fake-coder": [{"content": "x", "faults": ["hang:120"]}],
                             "claude-fake-reviewer": [APPROVE]}})
    import time

    started = time.monotonic()
    result = _run(baton, repo, EscapeWatch(), timeout=120)
    assert time.monotonic() - started < 60
    assert result["exit_code"] == 2 and result["state"] == "failed", result
    assert "did not finish within 8 s" in result["error"]
    run_dir = repo / ".baton" / "runs" / result["run_id"]
    assert (run_dir / "trace.jsonl").exists()
    assert not list(run_dir.glob("agents/*/work"))  # nothing left behind


def test_the_preset_claude_plans_and_implements_codex_reviews(baton, tmp_path):
    claude, codex = agent_or_skip("claude"), agent_or_skip("codex")
    repo = make_repo(tmp_path, claude=claude, codex=codex)
    toml = repo / "baton.toml"
    toml.write_text(toml.read_text().replace(
        '[routes.planner]\nmodel = "acme/planner"',
        f'[routes.planner]\nagent = "claude-code"\nmodel = "claude-fake-planner"\n'
        f'agent_command = "{claude}"'))
    _git(repo, "commit", "-qam", "the preset")
    gw = serve(baton, {"models": {"claude-fake-planner": [PLAN], "claude-fake": claude_edits(),
                                  "gpt-fake-reviewer": [APPROVE]}})
    with open(baton.tmp / "user-config.toml", "a") as fh:
        fh.write('[prices."claude-fake-planner"]\ninput_per_mtok = 1.0\noutput_per_mtok = 5.0\n')
    result = _run(baton, repo, EscapeWatch())
    assert result["decision"] == "go", result
    calls = {e["role"]: e for e in events(Path(result["run_dir"])) if e["type"] == "model.call"}
    assert [calls[r]["source"] for r in ("planner", "implementer", "reviewer")] == \
        ["claude-code", "claude-code", "codex"]
    assert {r["wire"] for r in gw.requests()} == {"messages", "responses"}


def test_codex_over_its_budget_is_stopped_by_baton_while_it_runs(baton, tmp_path):
    """Codex has no budget flag: baton reads its session log live and stops it."""
    claude, codex = agent_or_skip("claude"), agent_or_skip("codex")
    repo = make_repo(tmp_path, claude=claude, codex=codex, implementer="codex",
                     limits="[limits]\nmax_cost_usd = 0.05\n")
    huge = {"prompt_tokens": 200_000, "completion_tokens": 1000}  # $0.205 at $1/$5
    gw = serve(baton, {"models": {
        "acme/planner": [PLAN],
        "gpt-fake-coder": [{"content": "", "usage": huge,
                            "tool_calls": [_tool("exec_command", cmd=FIX)]},
                           {"content": "done", "latency_s": 20}],
        "claude-fake-reviewer": [APPROVE]}})
    import time

    started = time.monotonic()
    result = _run(baton, repo, EscapeWatch(), timeout=120)
    assert time.monotonic() - started < 18  # stopped, not waited out
    assert result["exit_code"] == 4 and result["state"] == "budget_exhausted", result
    trace = events(repo / ".baton" / "runs" / result["run_id"])
    stopped = [e for e in trace if e["type"] == "model.call" and e["role"] == "implementer"]
    assert stopped[-1]["outcome"] == "error" and stopped[-1]["cost_usd"] > 0.05
    assert not [r for r in gw.requests() if r["model"] == "claude-fake-reviewer"]
