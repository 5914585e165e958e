"""One trial of a comparison: a baton run of one task under one policy, then its scoring.

A trial works in its own clone of the task's repository (so its run folder, worktree and
branch are its own), and is scored by the suite's checks in a disposable checkout: of the
committed result for a go, of the tree the reviewer saw otherwise (false no-go), of the
base when nothing was written. Check files are copied into that checkout only.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from baton import gate
from baton.compare.suite import Task
from baton.errors import BatonError, RunInterrupted
from baton.pipeline import recorded_snapshot, resume_run, start_run
from baton.runs.store import read_workflow, runs_dir
from baton.runs.trace import read_events
from baton.workspace.sandbox import run_command
from baton.workspace.snapshot import disposable_checkout

TRIAL_HEADER = "X-Baton-Trial"
BASE_BRANCH = "baton-compare-base"


@dataclass(frozen=True)
class TrialSpec:
    """Which task, which policy, which repetition."""

    task: str
    policy: str
    trial: int

    @property
    def id(self) -> str:
        return f"{self.task}--{self.policy}--{self.trial}"


@dataclass
class TrialResult:
    """What one trial did and how it scored (one line of results.jsonl)."""

    id: str
    task: str
    policy: str
    trial: int
    state: str
    """``done``, ``paused`` (a budget or approval stop) or ``error``."""
    decision: str | None = None
    exit_code: int | None = None
    run_id: str | None = None
    run_dir: str | None = None
    solved: bool | None = None
    """The scoring checks all passed (``None``: not scored)."""
    scored_on: str | None = None
    """``commit`` (a go), ``reviewed`` (the tree the reviewer saw) or ``base``."""
    checks: list[dict[str, Any]] = field(default_factory=list)
    cost_usd: float = 0.0
    calls: int = 0
    wall_s: float = 0.0
    by_role: dict[str, dict[str, float]] = field(default_factory=dict)
    reasons: list[str] = field(default_factory=list)
    error: str | None = None

    @property
    def success(self) -> bool:
        """A go whose result passes the scoring checks."""
        return self.decision == "go" and bool(self.solved)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrialResult:
        known = {f for f in cls.__dataclass_fields__}
        return cls(**{k: v for k, v in data.items() if k in known})


def prepare_clone(task: Task, dest: Path) -> Path:
    """A private clone of the task's repository at its base (reused when already made)."""
    if (dest / ".git").is_dir():
        return dest
    partial = dest.with_name(dest.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    partial.parent.mkdir(parents=True, exist_ok=True)
    git = ["git", "-c", "protocol.file.allow=always", "-c", "core.hooksPath=/dev/null"]
    subprocess.run([*git, "clone", "-q", "--no-checkout", str(task.repo), str(partial)],
                   check=True, capture_output=True)
    subprocess.run([*git, "checkout", "-q", "-B", BASE_BRANCH, task.base], cwd=partial,
                   check=True, capture_output=True)
    partial.rename(dest)
    return dest


def trial_overrides(base: dict[str, Any], task: Task, spec: TrialSpec,
                    endpoints: list[str]) -> dict[str, Any]:
    """The run's flags: the comparison's own, the task's verify commands, and the trial
    header on every endpoint the policies use (the gateway's log and seeded variants)."""
    overrides = json.loads(json.dumps(base))
    if task.verify_commands is not None:
        overrides["verify_commands"] = list(task.verify_commands)
    for name in endpoints:
        ep = overrides.setdefault("endpoints", {}).setdefault(name, {})
        ep.setdefault("headers", {})[TRIAL_HEADER] = spec.id
    return overrides


def run_trial(spec: TrialSpec, task: Task, clone: Path, *, config_file: Path | None,
              overrides: dict[str, Any], environ: dict[str, str] | None = None
              ) -> TrialResult:
    """Run (or resume) the trial's baton run in ``clone``, then score it."""
    started = time.monotonic()
    result = TrialResult(id=spec.id, task=spec.task, policy=spec.policy, trial=spec.trial,
                         state="error")
    try:
        run = _start_or_resume(spec, task, clone, config_file, overrides, environ)
    except RunInterrupted:  # stopped, not finished: the next resume continues it
        raise
    except BatonError as exc:
        result.error = str(exc)
        run_id = getattr(exc, "run_id", None)
        if run_id and (runs_dir(clone) / run_id / "trace.jsonl").exists():
            result.run_id, result.run_dir = run_id, str(runs_dir(clone) / run_id)
            _spend(result, read_events(runs_dir(clone) / run_id / "trace.jsonl", warn=False))
        result.wall_s = round(time.monotonic() - started, 3)
        return result
    result.state = "done" if run.state == "done" else "paused"
    result.decision, result.exit_code = run.decision, run.exit_code
    result.run_id, result.run_dir = run.run_id, str(run.run_dir)
    result.reasons = list(run.reasons)
    events = read_events(Path(run.run_dir) / "trace.jsonl", warn=False)
    _spend(result, events)
    settings = gate.load_settings(clone, config_file=config_file, overrides=overrides,
                                  policy=spec.policy, environ=environ)
    if run.state == "done":
        score(result, task, clone, run.commit, events, sandbox=settings.config.sandbox)
    result.wall_s = round(time.monotonic() - started, 3)
    return result


def _start_or_resume(spec: TrialSpec, task: Task, clone: Path, config_file: Path | None,
                     overrides: dict[str, Any], environ: dict[str, str] | None
                     ) -> gate.RunResult:
    runs = sorted(p for p in runs_dir(clone).glob("*") if p.is_dir()) \
        if runs_dir(clone).is_dir() else []
    for run_dir in runs:
        try:
            read_workflow(run_dir)
        except BatonError:  # killed before its record was written: nothing to resume
            shutil.rmtree(run_dir, ignore_errors=True)
            continue
        return resume_run(clone, run_dir.name, overrides=overrides, config_file=config_file,
                          environ=environ)
    return start_run(task.task, clone, config_file=config_file, overrides=overrides,
                     policy=spec.policy, title=f"compare {spec.id}", environ=environ)


def _spend(result: TrialResult, events: list[dict[str, Any]]) -> None:
    for event in events:
        if event.get("type") != "model.call":
            continue
        role = str(event.get("role") or "other")
        slot = result.by_role.setdefault(role, {"calls": 0, "cost_usd": 0.0})
        slot["calls"] += 1
        slot["cost_usd"] = round(slot["cost_usd"] + float(event.get("cost_usd") or 0), 6)
    result.calls = int(sum(s["calls"] for s in result.by_role.values()))
    result.cost_usd = round(sum(s["cost_usd"] for s in result.by_role.values()), 6)


def score(result: TrialResult, task: Task, clone: Path, commit: str | None,
          events: list[dict[str, Any]], *, sandbox: str = "auto") -> None:
    """Run the scoring checks on what the trial produced, in a throwaway checkout."""
    snapshot = recorded_snapshot(events)
    reviewed = [e["reviewed_tree"] for e in events
                if e.get("type") == "packet.end" and e.get("reviewed_tree")]
    if result.decision == "go" and commit:
        treeish, result.scored_on = commit, "commit"
    elif reviewed:
        treeish, result.scored_on = reviewed[-1], "reviewed"
    elif snapshot is not None:
        treeish, result.scored_on = snapshot.tree, "reviewed"
    else:
        treeish, result.scored_on = task.base, "base"
    with disposable_checkout(clone, treeish) as checkout:
        for dest, source in task.check_files.items():
            target = checkout / dest
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, target)
        solved = True
        for command in task.checks:
            evidence = run_command(command, checkout, timeout_s=task.check_timeout_s,
                                   source="config", sandbox=sandbox)
            passed = evidence.ran and evidence.exit_code == 0 and not evidence.timed_out
            solved = solved and passed
            result.checks.append({"command": command, "exit_code": evidence.exit_code,
                                  "timed_out": evidence.timed_out,
                                  "duration_s": evidence.duration_s,
                                  "output_tail": evidence.output_tail[-2000:]})
    result.solved = solved


def write_result(path: Path, result: TrialResult) -> None:
    """Write a trial's result file atomically (a killed worker leaves none or a whole one)."""
    partial = path.with_name(path.name + ".partial")
    with open(partial, "w", encoding="utf-8") as fh:
        json.dump(result.to_dict(), fh)
        fh.flush()
        os.fsync(fh.fileno())
    partial.replace(path)
