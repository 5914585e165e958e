"""One run at a glance (``baton show RUN``): state, reasons, summary, diff, failed commands.

Everything comes from the run folder, so it works for finished, paused and crashed runs
alike, and while another process is still working on the run.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from baton.runs.store import effective_state, read_workflow

TAIL_LINES = 20


@dataclass
class FailedCommand:
    """A verification command that ran and did not exit 0."""

    command: str
    exit_code: int | None
    timed_out: bool
    output_tail: str
    log_file: str | None


@dataclass
class RunView:
    """What ``baton show`` prints; ``to_dict()`` is its ``--json`` form."""

    run_id: str
    run_dir: str
    state: str
    decision: str | None
    task: str
    branch: str | None
    worktree: str | None
    worktree_exists: bool
    commit: str | None
    reasons: list[str]
    error: str | None
    totals: dict[str, Any]
    failed_commands: list[FailedCommand] = field(default_factory=list)
    diff: str | None = None
    summary_file: str | None = None
    next_step: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        return asdict(self)


def failed_commands(run_dir: Path, tail_lines: int = TAIL_LINES) -> list[FailedCommand]:
    """The recorded verification commands that ran and failed, with their output's tail."""
    path = Path(run_dir) / "evidence" / "evidence.json"
    try:
        items = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return []
    out = []
    for number, item in enumerate(items if isinstance(items, list) else [], 1):
        if not isinstance(item, dict) or not item.get("ran") or item.get("exit_code") == 0:
            continue
        tail = "\n".join(str(item.get("output_tail") or "").rstrip().splitlines()[-tail_lines:])
        log = Path(run_dir) / "evidence" / f"{number:02d}.log"
        out.append(FailedCommand(str(item.get("command")), item.get("exit_code"),
                                 bool(item.get("timed_out")), tail,
                                 str(log) if log.is_file() else None))
    return out


def next_step(run_id: str, state: str, decision: str | None, branch: str | None,
              repo: str | None) -> str | None:
    """The command that moves this run on, said for a person."""
    if state == "awaiting_approval":
        return f"`baton approve {run_id}` or `baton reject {run_id} --reason ...`"
    if state in ("budget_exhausted", "failed", "interrupted"):
        return f"`baton resume {run_id}` (see the reason above first)"
    if state == "running":
        return "it is running in another process; `tail -f` its trace.jsonl to follow it"
    if decision == "go" and branch:
        where = f"git -C {repo} " if repo else "git "
        return f"apply it: `{where}merge {branch}`; then `baton clean` removes what is left"
    if state == "done":
        return "`baton clean` removes its worktree, branch and run folder"
    return None


def run_view(run_dir: Path, *, with_diff: bool = True) -> RunView:
    """Read one run folder into a :class:`RunView`."""
    run_dir = Path(run_dir)
    wf = read_workflow(run_dir)
    state = effective_state(run_dir, wf)
    diff_file = run_dir / "patch.diff"
    diff = diff_file.read_text(encoding="utf-8", errors="replace") \
        if with_diff and diff_file.is_file() else None
    summary = run_dir / "summary.md"
    worktree = wf.get("worktree")
    run_id = str(wf.get("run_id") or run_dir.name)
    reasons = list(wf.get("reasons") or [])
    if not reasons and wf.get("detail"):
        reasons = [str(wf["detail"])]
    return RunView(
        run_id=run_id, run_dir=str(run_dir), state=state, decision=wf.get("decision"),
        task=str(wf.get("task") or ""), branch=wf.get("branch"), worktree=worktree,
        worktree_exists=bool(worktree and Path(worktree).is_dir()), commit=wf.get("commit"),
        reasons=reasons, error=wf.get("error"), totals=dict(wf.get("totals") or {}),
        failed_commands=failed_commands(run_dir), diff=diff,
        summary_file=str(summary) if summary.is_file() else None,
        next_step=next_step(run_id, state, wf.get("decision"), wf.get("branch"),
                            wf.get("repo")),
    )
