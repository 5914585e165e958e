"""The verifier: allowlisted model commands, the labeled evidence summary."""

from __future__ import annotations

import json
import shlex
import sys
from pathlib import Path

from conftest import PLANNER, REVIEWER, demo_script, events, run_json

TASK = "Add a median() function to stats.py, with tests."
PY = shlex.quote(sys.executable)


def _script_with_commands() -> dict:
    script = demo_script()
    plan = script["models"][PLANNER][0]
    plan["content"] = plan["content"].replace(
        '"python -m unittest discover -s tests"',
        json.dumps(f"{PY} -m unittest discover -s tests -q"))
    review = script["models"][REVIEWER][1]
    review["content"] = review["content"].replace(
        '"python -m unittest discover -s tests -v"',
        json.dumps(f"{PY} -m unittest discover -s tests -v; echo pwned"))
    return script


def test_allowlisted_plan_command_runs_and_shell_operators_never_do(baton, sample_repo):
    baton.serve(_script_with_commands())
    user = baton.tmp / "user-config.toml"
    user.write_text(user.read_text().replace(
        "[endpoints.default]", f"command_allowlist = [{json.dumps(PY + ' -m unittest')}]\n"
        "[endpoints.default]"))
    proc = baton("run", TASK, "--repo", str(sample_repo), "--json")
    assert proc.returncode == 0, proc.stderr
    commands = [e for e in events(Path(run_json(proc)["run_dir"])) if e["type"] == "command"]
    by_source = {c["source"]: c for c in commands}
    assert by_source["plan"]["ran"] and by_source["plan"]["exit_code"] == 0
    assert not by_source["reviewer"]["ran"]
    assert "shell operators" in by_source["reviewer"]["reason_not_run"]


def test_allow_model_commands_flag_runs_them_all(baton, sample_repo):
    baton.serve(_script_with_commands())
    proc = baton("run", TASK, "--repo", str(sample_repo), "--json", "--allow-model-commands")
    assert proc.returncode == 0, proc.stderr
    commands = [e for e in events(Path(run_json(proc)["run_dir"])) if e["type"] == "command"]
    assert all(c["ran"] for c in commands) and len(commands) == 3


def test_repo_file_cannot_allow_model_commands(baton, sample_repo):
    baton.serve(demo_script())
    toml = sample_repo / "baton.toml"
    toml.write_text('allow_model_commands = true\n' + toml.read_text())
    proc = baton("run", TASK, "--repo", str(sample_repo))
    assert proc.returncode == 2 and "may not choose running model-proposed commands" in proc.stderr


def test_evidence_summary_is_labeled_and_sees_only_evidence(baton, sample_repo, tmp_path):
    script = demo_script()
    script["models"]["google/gemini-2.5-flash"] = [
        {"content": "The unit tests ran and passed (exit 0).", "cost": 0.0001}]
    gateway = baton.serve(script)
    cfg = tmp_path / "s.toml"
    cfg.write_text("summarize_evidence = true\n")
    proc = baton("run", TASK, "--repo", str(sample_repo), "--config", str(cfg), "--json")
    assert proc.returncode == 0, proc.stderr
    run_dir = Path(run_json(proc)["run_dir"])
    summary = (run_dir / "evidence" / "summary.md").read_text()
    assert summary.startswith("_Summary by google/gemini-2.5-flash")
    assert "decides nothing" in summary and "ran and passed" in summary
    prompt = sorted((run_dir / "packets").glob("*-verifier.md"))[0].read_text()
    assert "exit code 0" in prompt and "def median" not in prompt  # evidence, not the diff
    decision = [e for e in events(run_dir) if e["type"] == "decision"][0]
    verifier_call = [e for e in events(run_dir) if e.get("role") == "verifier"][0]
    assert verifier_call["seq"] < decision["seq"]
    assert [r["model"] for r in gateway.requests()][-1] == "google/gemini-2.5-flash"
