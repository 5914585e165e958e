"""``baton hook stop --agent ...`` as the agents run it: a real subprocess with the hook JSON
on stdin, on a real repository, against the fake gateway."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import REVIEWER, fence

from baton.demo import make_sample_repo


def request_changes() -> str:
    return fence({
        "verdict": "request_changes", "summary": "median is wrong for unsorted input",
        "top_risks": ["wrong answer"],
        "findings": [{"file": "stats.py", "line_start": 11, "line_end": 12,
                      "severity": "high", "message": "sort a copy of the values first"}]})


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    repo = make_sample_repo(tmp_path / "repo")
    (repo / "stats.py").write_text((repo / "stats.py").read_text() + "\n# edited\n")
    return repo


def stop(baton, repo: Path, agent: str = "claude-code", session: str = "s1"):
    payload = {"session_id": session, "cwd": str(repo), "hook_event_name": "Stop",
               "stop_hook_active": False}
    return baton("hook", "stop", "--agent", agent, cwd=repo, input_text=json.dumps(payload))


@pytest.mark.parametrize("agent", ["claude-code", "codex"])
def test_no_go_blocks_with_fixes_then_follows_then_round_limit_lets_it_stop(baton, repo,
                                                                            agent):
    baton.serve({"models": {REVIEWER: [{"content": request_changes()}] * 3}})
    first = stop(baton, repo, agent)
    assert first.returncode == 0, first.stderr
    answer = json.loads(first.stdout)
    assert answer["decision"] == "block"
    assert "sort a copy of the values first" in answer["reason"]
    state = json.loads((repo / ".baton" / "hooks" / f"{agent}-stop-s1.json").read_text())
    assert state["round"] == 1

    (repo / "stats.py").write_text((repo / "stats.py").read_text() + "# again\n")
    second = stop(baton, repo, agent)  # round 2 follows round 1: max_review_rounds = 2
    assert second.returncode == 0, second.stderr
    state2 = json.loads((repo / ".baton" / "hooks" / f"{agent}-stop-s1.json").read_text())
    assert state2["round"] == 2 and state2["run_id"] != state["run_id"]
    assert second.stdout.strip() == "", second.stdout
    assert "max_review_rounds" in second.stderr

    third = stop(baton, repo, agent)
    assert third.returncode == 0 and third.stdout.strip() == ""
    assert "max_review_rounds" in third.stderr


def test_unreachable_endpoint_lets_the_agent_stop(baton, repo, tmp_path):
    baton.serve({"models": {}})
    (tmp_path / "user-config.toml").write_text(
        '[endpoints.default]\nbase_url = "http://127.0.0.1:9/v1"\n'
        'api_key_env = "BATON_TEST_API_KEY"\n[retry]\nmax_attempts = 1\n'
        'backoff_base_s = 0.01\nbackoff_max_s = 0.02\n')
    proc = stop(baton, repo)
    assert proc.returncode == 0
    assert proc.stdout.strip() == "" or json.loads(proc.stdout).get("decision") != "block"
    assert "baton hook" in proc.stderr


def test_bad_payload_never_traps(baton, repo):
    baton.serve({"models": {}})
    proc = baton("hook", "stop", "--agent", "codex", cwd=repo, input_text="not json")
    assert proc.returncode == 0 and proc.stdout.strip() == ""
    assert "could not review" in proc.stderr


def test_plan_hook_denies_exit_plan_mode_on_no_go(baton, repo):
    baton.serve({"models": {REVIEWER: [{"content": request_changes()}]}})
    payload = {"session_id": "p1", "cwd": str(repo), "hook_event_name": "PreToolUse",
               "tool_name": "ExitPlanMode",
               "tool_input": {"plan": "# Plan\n\n1. Make median sort its input.\n"}}
    proc = baton("hook", "plan", "--agent", "claude-code", cwd=repo,
                 input_text=json.dumps(payload))
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)["hookSpecificOutput"]
    assert out["permissionDecision"] == "deny"
    assert "sort a copy of the values first" in out["permissionDecisionReason"]
