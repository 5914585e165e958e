"""``baton packets``: the workflow folder for people or other agents, with no model calls.

The packets are rendered from the same templates ``baton run`` sends, with the parts
that only exist later (the plan, the diff, the evidence) left as marked placeholders.
"""

from __future__ import annotations

import json
import os
import shlex
import stat
from pathlib import Path
from typing import Any

from baton import prompts
from baton.config import ROLES, load_config
from baton.errors import UserError
from baton.runs.reader import run_trace
from baton.runs.store import find_repo_root
from baton.runs.trace import now_iso
from baton.secrets import SecretMasker, key_values
from baton.workspace.detect import detect_test_commands
from baton.workspace.git import tracked_files
from baton.workspace.repomap import key_files, repo_map

GATES = {
    "planner": "the plan is one JSON object with summary, affected_files, risks, "
               "acceptance_criteria, test_commands, rollback and risk_level; affected_files, "
               "risks, test_commands and rollback non-empty (else one repair, then stop)",
    "implementer": "every edit block applies cleanly to the current files; files outside the "
                   "plan are flagged for the reviewer",
    "reviewer": "a verdict (approve / request_changes / block) from a different model than "
                "the implementer; request_changes loops back at most max_review_rounds times",
    "verifier": "verify.sh exits 0 (every command exited 0) and the reviewer approved; "
                "decided by exit codes, never by a model",
}
PLACEHOLDER = "<<fill in: {}>>"


def _packet_messages(role: str, task: str, root: Path, files: list[str], budget: int,
                     max_packets: int, max_rounds: int) -> list[dict[str, str]]:
    plan = PLACEHOLDER.format("the approved plan (plan.md) from step 1")
    if role == "planner":
        return prompts.render("planner", task=task, repo_map=repo_map(root, files, budget),
                              key_files=key_files(root, files, budget // 2),
                              max_packets=max_packets, repair_errors=[])
    if role == "implementer":
        file_slot = {"path": PLACEHOLDER.format("each file the plan names"), "exists": True,
                     "content": PLACEHOLDER.format("that file's current content"),
                     "refused": ""}
        return prompts.render("implementer", task=task, plan_text=plan, packet=None,
                              packet_index=1, packet_count=1, files=[file_slot],
                              required_fixes=[], round=1, edit_error="")
    if role == "reviewer":
        return prompts.render("reviewer", task=task, plan_text=plan, packet=None,
                              packet_index=1, packet_count=1, round=1, max_rounds=max_rounds,
                              flags=[], diff=PLACEHOLDER.format("the output of `git diff`"),
                              previous_fixes=[])
    return prompts.render("verifier", decision=PLACEHOLDER.format("verify.sh's exit code"),
                          evidence=[])


def verify_script(repo_root: Path, commands: list[str], source: str) -> str:
    """A bash script running each command in the repo, stopping at the first failure."""
    lines = [
        "#!/usr/bin/env bash",
        f"# Verification commands ({source}). Stops at the first failure with its exit code.",
        "# Usage: ./verify.sh [REPO]   (default: the repository this folder was made for)",
        "set -u",
        f"DEFAULT_REPO={shlex.quote(str(repo_root))}",
        'REPO="${1:-$DEFAULT_REPO}"',
        'cd "$REPO" || { echo "verify.sh: cannot enter $REPO" >&2; exit 2; }',
    ]
    if not commands:
        lines += ['echo "verify.sh: no verification command is configured or detected;'
                  ' set verify_commands in baton.toml" >&2', "exit 2"]
    for command in commands:
        quoted = shlex.quote(command)
        lines += [f"echo \"\\$ \"{quoted}", f"bash -c {quoted}", "rc=$?",
                  f'if [ "$rc" -ne 0 ]; then echo "verify.sh: FAILED (exit $rc): "{quoted} >&2;'
                  ' exit "$rc"; fi']
    lines.append('echo "verify.sh: all commands passed"')
    return "\n".join(lines) + "\n"


def write_packets(task: str, title: str, repo: Path, out: Path, *, force: bool = False,
                  environ: dict[str, str] | None = None) -> dict[str, Any]:
    """Write the whole workflow folder; returns workflow.json's content."""
    if not task.strip():
        raise UserError("the task is empty; describe the change you want in plain words")
    if out.exists() and (not out.is_dir() or any(out.iterdir())) and not force:
        raise UserError(f"{out} exists and is not empty; choose another --out or pass --force")
    root = find_repo_root(repo)
    env = dict(os.environ if environ is None else environ)
    config = load_config(root, environ=env)
    masker = SecretMasker(env, extra=key_values(config, env))
    routes = config.policy_routes()
    commands, source = config.verify_commands, "from configuration"
    if not commands:
        commands, source = detect_test_commands(root), "detected from the project files"
    files = tracked_files(root)
    out.mkdir(parents=True, exist_ok=True)
    (out / "packets").mkdir(exist_ok=True)
    workflow = {
        "task": task, "title": title, "repo": str(root), "created": now_iso(),
        "roles": list(ROLES), "routes": {r: routes[r].model_dump() for r in ROLES},
        "gates": GATES, "max_review_rounds": config.max_review_rounds,
        "verify_commands": commands, "verify_commands_source": source,
    }
    for number, role in enumerate(ROLES, 1):
        messages = masker.mask_obj(_packet_messages(role, task, root, files,
                                                    config.repo_map_bytes, config.max_packets,
                                                    config.max_review_rounds))
        header = (f"Role: **{role}** (step {number} of {len(ROLES)})  \n"
                  f"Model this role would use: `{routes[role].model}`  \n"
                  f"Completion gate: {GATES[role]}\n\n"
                  f"Record the step: `baton record --trace {out / 'trace.jsonl'} --role {role} "
                  "--model MODEL --latency-s S --input-tokens N --output-tokens N "
                  "--result RESULT`\n")
        (out / "packets" / f"{number:02d}-{role}.md").write_text(
            prompts.as_markdown(role, messages, header=header), encoding="utf-8")
    (out / "workflow.json").write_text(json.dumps(workflow, indent=2), encoding="utf-8")
    script = out / "verify.sh"
    script.write_text(verify_script(root, commands, source), encoding="utf-8")
    script.chmod(script.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    render = prompts.render_template
    (out / "plan.md").write_text(render("plan.md.j2", task=task, title=title))
    (out / "review_checklist.md").write_text(render("review_checklist.md.j2", task=task))
    (out / "README.md").write_text(render("packets_readme.md.j2", workflow=workflow, out=out,
                                          roles=ROLES))
    trace_path = out / "trace.jsonl"
    if trace_path.exists():
        trace_path.unlink()
    trace = run_trace(trace_path, f"packets-{out.name}")
    trace.emit("workflow.created", task=task, title=title, roles=list(ROLES),
               routes=workflow["routes"], repo=str(root))
    trace.close()
    return workflow
