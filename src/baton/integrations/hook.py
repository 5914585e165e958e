"""The agents' finish hooks: ``baton hook stop|plan --agent claude-code|codex``.

Stop (Claude Code's ``Stop`` hook, Codex's ``Stop`` hook: both read ``{"decision": "block",
"reason": ...}`` on stdout with exit 0): review the uncommitted change in-process, as
``baton review --uncommitted --json`` does, and block with the required fixes on no-go.
Each round's run id is kept in ``.baton/hooks/<agent>-stop-<session>.json`` and the next
round follows it, so ``max_review_rounds`` ends a loop that does not converge. A hook that
cannot reach baton or the endpoint never traps the agent: it says so on stderr and lets it
stop.

Plan (Claude Code's ``PreToolUse`` hook on ``ExitPlanMode``): review the plan in
``tool_input.plan``; on no-go deny the tool call with the findings.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Any

AGENTS = ("claude-code", "codex")


def _say(message: str) -> None:
    print(f"baton hook: {message}", file=sys.stderr)


def _state_path(root: Path, agent: str, kind: str, session: str) -> Path:
    safe = re.sub(r"[^A-Za-z0-9_.-]", "_", session or "default")[:100]
    return root / ".baton" / "hooks" / f"{agent}-{kind}-{safe}.json"


def _fixes(result: Any) -> str:
    lines = [f"baton review {result.run_id}: no-go. Fix these before you stop:"]
    for number, f in enumerate(getattr(result, "findings", []) or [], 1):
        where = f.get("file") or "-"
        if f.get("line_start"):
            where += f":{f['line_start']}"
        lines.append(f"{number}. [{f.get('severity')}] {where}: {f.get('message')}")
    lines += [f"- {r}" for r in result.reasons]
    return "\n".join(lines)


def stop_hook(agent: str, payload: dict[str, Any]) -> dict[str, Any] | None:
    """The answer to a Stop hook (None: let the agent stop)."""
    from baton.config.settings import load_config
    from baton.review.selection import Selection
    from baton.review.workflow import start_review
    from baton.runs.store import find_repo_root

    root = find_repo_root(Path(payload.get("cwd") or "."))
    state_file = _state_path(root, agent, "stop", str(payload.get("session_id") or ""))
    previous = json.loads(state_file.read_text()) if state_file.is_file() else {}
    limit = load_config(root).max_review_rounds
    if previous.get("decision") == "no-go" and previous.get("round", 0) >= limit:
        _say(f"no approval after {previous['round']} round(s) (max_review_rounds = {limit}); "
             f"letting the agent stop: see `baton show {previous['run_id']}`")
        return None
    result = start_review(root, selection=Selection("uncommitted"),
                          follow=previous.get("run_id") if previous else None)
    state_file.parent.mkdir(parents=True, exist_ok=True)
    state_file.write_text(json.dumps({"run_id": result.run_id, "round": result.round,
                                      "decision": result.decision}))
    if result.decision == "go":
        _say(f"review {result.run_id}: go")
        return None
    if result.decision == "no-go" and result.round >= limit:
        _say(f"review {result.run_id}: still no-go after {result.round} round(s) "
             f"(max_review_rounds = {limit}); letting the agent stop, a person decides")
        return None
    if result.decision != "no-go":
        _say(f"review {result.run_id}: {result.state}; a person decides on the command line")
        return None
    return {"decision": "block", "reason": _fixes(result)}


def plan_hook(agent: str, payload: dict[str, Any]) -> dict[str, Any] | None:
    """The answer to Claude Code's PreToolUse hook on ExitPlanMode (None: allow)."""
    from baton.review.workflow import start_review
    from baton.runs.store import find_repo_root

    plan = (payload.get("tool_input") or {}).get("plan")
    if not plan:
        return None
    root = find_repo_root(Path(payload.get("cwd") or "."))
    plan_file = _state_path(root, agent, "plan", str(payload.get("session_id") or ""))
    plan_file = plan_file.with_suffix(".md")
    plan_file.parent.mkdir(parents=True, exist_ok=True)
    plan_file.write_text(plan, encoding="utf-8")
    result = start_review(root, selection=None, plan_file=plan_file)
    if result.decision != "no-go":
        return None
    return {"hookSpecificOutput": {"hookEventName": "PreToolUse",
                                   "permissionDecision": "deny",
                                   "permissionDecisionReason": _fixes(result)}}


def run_hook(kind: str, agent: str, stdin_text: str) -> tuple[str, int]:
    """stdout and exit code of a hook; never traps the agent on an error (exit 0)."""
    try:
        payload = json.loads(stdin_text or "{}")
        answer = (stop_hook if kind == "stop" else plan_hook)(agent, payload)
    except Exception as exc:  # noqa: BLE001 - an unreachable baton never traps the agent
        _say(f"could not review ({type(exc).__name__}: {exc}); letting the agent go on")
        return "", 0
    return (json.dumps(answer) if answer else ""), 0
