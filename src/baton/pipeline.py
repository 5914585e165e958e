"""The gated workflow, top to bottom: plan, implement and review each packet, verify, decide.

    start_run / resume_run -> _drive -> workflow -> finish
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from baton import roles
from baton.approvals import fired_rules
from baton.config import REPO_FORBIDDEN, Config, Route, deep_merge, load_config
from baton.config.ownership import GUARD_KEYS
from baton.errors import AwaitingApproval, BatonError, BudgetExhausted, ConfigError, UserError
from baton.llm.budget import Budget, check_prices_known
from baton.llm.provider import resolve_api_key
from baton.models import CommandEvidence, Plan, PlanPacket, Verdict
from baton.run_context import Progress, RunContext, load_replay
from baton.runs.store import (
    check_run_home,
    exclude_from_git,
    find_repo_root,
    find_run,
    new_run_id,
    read_workflow,
    runs_dir,
    write_workflow,
)
from baton.runs.trace import TraceWriter, now_iso, read_events
from baton.secrets import SecretMasker, key_values
from baton.workspace.git import create_worktree, head_commit, open_worktree, repo_git
from baton.workspace.safepaths import MAX_PATH_CHARS, UnsafePathError, safe_parts
from baton.workspace.sandbox import end_orphaned_command, sandbox_notice
from baton.workspace.snapshot import Snapshot, freeze, snapshot_diff, tree_changes
from baton.workspace.verify import remove_stale_checkout, verify

# Settings that only the user's configuration, environment and flags of the moment may
# give: a run folder (which a clone may carry, or anyone may edit) never supplies them.
GUARDS = (*REPO_FORBIDDEN, *GUARD_KEYS, "retry")

EXIT = {"go": 0, "no-go": 1}


@dataclass
class RunResult:
    """How a run ended (or paused), for the CLI and library callers."""

    run_id: str
    run_dir: Path
    state: str
    decision: str | None
    branch: str
    commit: str | None = None
    reasons: list[str] = field(default_factory=list)
    totals: dict[str, Any] = field(default_factory=dict)
    exit_code: int = 0
    warnings: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready result object."""
        return {"run_id": self.run_id, "state": self.state, "decision": self.decision,
                "branch": self.branch, "commit": self.commit, "run_dir": str(self.run_dir),
                "reasons": self.reasons, "totals": self.totals, "exit_code": self.exit_code,
                "warnings": self.warnings}


class _NoGo(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _same_model(a: str, b: str) -> bool:
    return a.strip().lower().rsplit("/", 1)[-1] == b.strip().lower().rsplit("/", 1)[-1]


def check_routes(routes: dict[str, Route]) -> None:
    """The reviewer must be a different model from the implementer."""
    implementer = routes["implementer"]
    for model in [routes["reviewer"].model, *routes["reviewer"].fallbacks]:
        for other in [implementer.model, *implementer.fallbacks]:
            if _same_model(model, other):
                raise ConfigError(
                    f"the reviewer model {model!r} is the same model as the implementer "
                    f"({other!r}); an adversarial review needs a different model, ideally "
                    "from another vendor. Change routes.reviewer.model."
                )


def check_endpoints(config: Config, routes: dict[str, Route], environ: dict[str, str]) -> None:
    """Every role that will be called has a defined endpoint and a key, before anything starts."""
    used = ["planner", "implementer", "reviewer"]
    if config.summarize_evidence:
        used.append("verifier")
    for role in used:
        resolve_api_key(config.endpoint(routes[role].endpoint), environ)


def start_run(task: str, repo: Path, *, config_file: Path | None = None,
              overrides: dict[str, Any] | None = None, policy: str | None = None,
              title: str | None = None, progress: Progress | None = None,
              environ: dict[str, str] | None = None) -> RunResult:
    """Start a new run of ``task`` on the repository at ``repo``."""
    if not task.strip():
        raise UserError("the task is empty; describe the change you want in plain words")
    environ = dict(os.environ if environ is None else environ)
    repo_root = find_repo_root(repo)
    config = load_config(repo_root, config_file=config_file, overrides=overrides,
                         environ=environ)
    policy = policy or config.policy
    routes = config.policy_routes(policy)
    check_routes(routes)
    check_prices_known(config.limits, config.role_limits, routes, config.prices)
    check_endpoints(config, routes, environ)
    check_run_home(repo_root)
    base = head_commit(repo_root)
    warnings = _uncommitted_warning(repo_root, base)
    run_id = new_run_id()
    exclude_from_git(repo_root)
    run_dir = runs_dir(repo_root) / run_id
    run_dir.mkdir(parents=True)
    worktree = create_worktree(repo_root, run_id, base)
    workflow = {
        "run_id": run_id, "task": task, "title": title or task.splitlines()[0][:72],
        "repo": str(repo_root), "base_commit": base, "branch": worktree.branch,
        "worktree": str(worktree.path), "policy": policy,
        "routes": {role: r.model_dump() for role, r in routes.items()},
        "config_file": str(config_file) if config_file else None,
        # flags are remembered for resume, with any secret in them masked
        "overrides": SecretMasker(environ, extra=key_values(config, environ)).mask_obj(
            overrides or {}),
        "state": "running", "decision": None,
        "created": now_iso(), "updated": now_iso(), "packets": None, "approval": None,
    }
    write_workflow(run_dir, workflow)
    ctx = _context(run_id, run_dir, repo_root, config, routes, worktree, environ, progress,
                   Budget(config.limits, config.role_limits))
    ctx.emit("run.start", key="run.start", task=task, title=workflow["title"],
             repo=str(repo_root), base_commit=base, branch=worktree.branch, policy=policy,
             routes=workflow["routes"], verify_commands=_verify_origins(config),
             **_limits(config))
    warnings += _sandbox_warning(ctx)
    result = _drive(ctx, task)
    result.warnings = warnings + result.warnings
    return result


def _verify_origins(config: Config) -> list[dict[str, str]]:
    """The configured verify commands and where each came from (none replaces another)."""
    origins = config.verify_origins
    return [{"command": c, "from": origins[i] if i < len(origins) else "default"}
            for i, c in enumerate(config.verify_commands)]


def _sandbox_warning(ctx: RunContext) -> list[str]:
    """Say at the start of every run, in the trace too, when commands run unsandboxed."""
    notice = sandbox_notice(ctx.config.sandbox)
    if notice is None:
        return []
    ctx.emit("sandbox", requested=ctx.config.sandbox, used="none", warning=notice)
    return [notice]


def _uncommitted_warning(repo_root: Path, base: str) -> list[str]:
    changed = repo_git(repo_root).run("--no-optional-locks", "status", "--porcelain",
                                      "--untracked-files=no", check=False)
    if not changed.strip():
        return []
    return [f"your working tree has uncommitted changes; baton works from HEAD ({base[:12]}) "
            "and does not see them (commit or stash them first if the task needs them)"]


def _context(run_id, run_dir, repo_root, config, routes, worktree, environ, progress,
             budget) -> RunContext:
    trace = TraceWriter(run_dir / "trace.jsonl", run_id)
    ctx = RunContext(run_id=run_id, run_dir=run_dir, repo_root=repo_root, config=config,
                     routes=routes, worktree=worktree, trace=trace, budget=budget,
                     masker=SecretMasker(environ, extra=key_values(config, environ)),
                     environ=environ, progress=progress)
    try:
        ctx.lock()
    except BatonError:
        trace.close()
        raise
    return ctx


def without_guards(settings: dict[str, Any]) -> dict[str, Any]:
    """``settings`` without any guard (see GUARDS)."""
    return {k: v for k, v in settings.items() if k not in GUARDS}


def _remembered(workflow: dict[str, Any]) -> dict[str, Any]:
    """The project settings a run folder remembers from the flags of its start.

    Guards are dropped: they come only from the user's configuration, environment and
    flags now. A remembered ``--config`` file is read the same way (its guards ignored).
    """
    remembered: dict[str, Any] = {}
    named = workflow.get("config_file")
    if isinstance(named, str) and named:
        path = Path(named)
        if path.is_file():
            from baton.config import _read_toml

            remembered = without_guards(_read_toml(path))
    overrides = workflow.get("overrides")
    if isinstance(overrides, dict):
        remembered = deep_merge(remembered, without_guards(overrides))
    return remembered


@dataclass
class _Continuation:
    """What continuing a run needs, checked before anything about the run is changed."""

    repo_root: Path
    run_dir: Path
    workflow: dict[str, Any]
    config: Config
    routes: dict[str, Route]
    remembered: dict[str, Any]


def prepare_continue(repo: Path, run_id: str, *, overrides: dict[str, Any] | None = None,
                     config_file: Path | None = None,
                     environ: dict[str, str] | None = None) -> _Continuation:
    """Load a run and the configuration to continue it with, and check every guard.

    Raises (changing nothing) when the run cannot continue: no endpoint or key, unknown
    prices under a cost limit, a required sandbox that does not work here.
    """
    environ = dict(os.environ if environ is None else environ)
    repo_root = find_repo_root(repo)
    run_dir = find_run(repo_root, run_id)
    workflow = read_workflow(run_dir)
    remembered = _remembered(workflow)
    merged = deep_merge(remembered, overrides or {})
    config = load_config(repo_root, config_file=config_file, overrides=merged, environ=environ)
    try:
        routes = {role: Route.model_validate(r) for role, r in workflow["routes"].items()}
    except (KeyError, AttributeError, ValueError) as exc:
        raise UserError(f"{run_dir}/workflow.json has no valid routes ({exc}); start a new "
                        "run") from exc
    check_routes(routes)
    check_prices_known(config.limits, config.role_limits, routes, config.prices)
    try:
        check_endpoints(config, routes, environ)
    except ConfigError as exc:
        started = workflow.get("config_file")
        if config_file is None and isinstance(started, str) and started:
            raise ConfigError(f"{exc}\nThe run was started with --config {started}; a run "
                              "folder never supplies endpoints, so pass it again: "
                              f"--config {started}") from exc
        raise
    if config.sandbox == "bwrap":
        from baton.workspace.sandbox import _resolve_sandbox

        _resolve_sandbox("bwrap")
    return _Continuation(repo_root, run_dir, workflow, config, routes,
                         deep_merge(remembered, without_guards(overrides or {})))


def resume_run(repo: Path, run_id: str, *, overrides: dict[str, Any] | None = None,
               config_file: Path | None = None, progress: Progress | None = None,
               environ: dict[str, str] | None = None) -> RunResult:
    """Continue a paused or crashed run, replaying every recorded model answer.

    Guards (endpoints, keys, sandbox, allowlists, prices, limits) come from the user's
    configuration, environment and ``overrides`` now, never from the run folder.
    """
    environ = dict(os.environ if environ is None else environ)
    repo_root = find_repo_root(repo)
    workflow = read_workflow(find_run(repo_root, run_id))
    if workflow["state"] == "done":
        return _result_from_workflow(find_run(repo_root, run_id), workflow)
    prepared = prepare_continue(repo, run_id, overrides=overrides, config_file=config_file,
                                environ=environ)
    run_dir, workflow, config, routes = (prepared.run_dir, prepared.workflow,
                                         prepared.config, prepared.routes)
    worktree = open_worktree(repo_root, workflow["run_id"], workflow["base_commit"])
    ctx = _context(workflow["run_id"], run_dir, repo_root, config, routes, worktree, environ,
                   progress, Budget(config.limits, config.role_limits))
    warnings = ["the trace ended in a torn line (a crash mid-write); it was cut off"] \
        if ctx.trace.repaired else []
    problems: list[str] = []
    events = read_events(run_dir / "trace.jsonl", warn=False, problems=problems)
    warnings += problems
    ctx.recorded, ctx.emitted, ctx.cut_off = load_replay(events)
    ctx.snapshot_recorded = recorded_snapshot(events)
    ctx.budget = Budget.from_events(config.limits, config.role_limits, events)
    decided = [e for e in events if e.get("type") == "decision"]
    if decided:
        result = _finish_decided(ctx, decided[-1])
        result.warnings = warnings
        return result
    if end_orphaned_command(run_dir / "command.session"):
        warnings.append("a verification command left running by the crashed process was "
                        "stopped")
    remove_stale_checkout(run_dir)
    worktree.reset()
    previous = workflow["state"]
    workflow = ctx.update_workflow(overrides=ctx.masker.mask_obj(prepared.remembered),
                                   state="running")
    ctx.emit("run.resume", previous_state=previous, repaired_trace=bool(warnings),
             recorded_calls=len(ctx.recorded), **_limits(config))
    warnings += _sandbox_warning(ctx)
    result = _drive(ctx, workflow["task"])
    result.warnings = warnings + result.warnings
    return result


def recorded_snapshot(events: list[dict[str, Any]]) -> Snapshot | None:
    """The snapshot a run's trace recorded last, if any."""
    for event in reversed(events):
        if event.get("type") == "snapshot" and event.get("commit") and event.get("tree"):
            return Snapshot(commit=str(event["commit"]), tree=str(event["tree"]))
    return None


def _finish_decided(ctx: RunContext, event: dict[str, Any]) -> RunResult:
    """The process stopped after the decision was recorded: finish its bookkeeping only.

    Replaying would reset the branch and commit again, under another id than the trace's.
    """
    decision, reasons, commit = event["decision"], event.get("reasons") or [], event.get("commit")
    try:
        if "run.end" not in ctx.emitted:
            ctx.emit("run.resume", previous_state="running", repaired_trace=ctx.trace.repaired,
                     recorded_calls=len(ctx.recorded))
        return _close_done(ctx, decision, reasons, commit)
    finally:
        ctx.close()


def _drive(ctx: RunContext, task: str) -> RunResult:
    plan: Plan | None
    try:
        try:
            decision, reasons, evidence, plan = workflow(ctx, task)
        except _NoGo as stop:
            decision, reasons, evidence, plan = "no-go", [stop.reason], [], _plan_or_none(ctx)
        return finish(ctx, decision, reasons, evidence, plan)
    except BudgetExhausted as exc:
        ctx.emit("budget.exhausted", limit=getattr(exc, "limit", None), message=str(exc))
        return _pause(ctx, "budget_exhausted", str(exc).replace("<run>", ctx.run_id), 4)
    except AwaitingApproval as exc:
        return _pause(ctx, "awaiting_approval", str(exc), 3)
    except BatonError as exc:
        ctx.emit("state", state="failed", detail=str(exc))
        ctx.emit("run.end", state="failed", decision=None, totals=_totals(ctx),
                 error=str(exc))
        ctx.update_workflow(state="failed", error=str(exc))
        _write_summary(ctx)
        raise
    finally:
        ctx.close()


def workflow(ctx: RunContext, task: str
             ) -> tuple[str, list[str], list[CommandEvidence], Plan]:
    """Plan, then each packet in turn, then the approval gate, then verification."""
    plan = roles.plan_task(ctx, task)
    packets = plan.scoped_packets()
    ctx.update_workflow(packets=len(packets))
    verdicts: list[Verdict] = []
    for index, packet in enumerate(packets, 1):
        verdicts += run_packet(ctx, task, plan, packet, index, len(packets))
    snapshot = take_snapshot(ctx, plan)
    gate_approval(ctx, plan, snapshot)
    evidence = verify(ctx, plan, verdicts, snapshot)
    decision, reasons = decide(evidence)
    return decision, reasons, evidence, plan


def commit_message(ctx: RunContext, plan: Plan) -> str:
    """The go commit's message: the plan's, then the run id."""
    message = plan.commit_message.strip() or plan.summary.splitlines()[0]
    return f"{message}\n\nbaton run {ctx.run_id}"


def take_snapshot(ctx: RunContext, plan: Plan) -> Snapshot:
    """Fix the approved tree as a commit object before anything runs on it.

    A replayed run gets the commit its trace recorded (same tree, same commit id). The
    tree must be the one the last review saw.
    """
    recorded = ctx.snapshot_recorded
    snapshot = freeze(ctx.worktree, commit_message(ctx, plan), reuse=recorded)
    reviewed = ctx.worktree.reviewed_tree
    if reviewed is not None and reviewed != snapshot.tree:
        raise UserError(f"the worktree changed after the last review ({reviewed[:12]} was "
                        f"reviewed, {snapshot.tree[:12]} is there now); run again")
    changes = tree_changes(ctx.repo_root, ctx.worktree.base_commit, snapshot.tree)
    ctx.snapshot = snapshot
    ctx.emit("snapshot", key="snapshot", commit=snapshot.commit, tree=snapshot.tree,
             base_commit=ctx.worktree.base_commit,
             files=[{"path": c.path, "status": c.status, "added": c.added,
                     "removed": c.removed} for c in changes])
    _check_protected(ctx, changes)
    return snapshot


def _check_protected(ctx: RunContext, changes: list) -> None:
    """No changed file of the snapshot may be a protected or forbidden path."""
    for change in changes:
        try:
            safe_parts(change.path, ctx.config.protected_paths, MAX_PATH_CHARS)
        except UnsafePathError as exc:
            raise _NoGo(f"the reviewed tree changes {change.path!r}, which may not be "
                        f"changed: {exc.reason}") from None


def run_packet(ctx: RunContext, task: str, plan: Plan, packet: PlanPacket, index: int,
               count: int) -> list[Verdict]:
    """Implement and review one packet in bounded rounds; raise _NoGo unless approved."""
    ctx.worktree.checkpoint()
    label = f"packet {index}/{count} ({packet.title})"
    ctx.emit("packet.start", key=f"packet.start/p{index}", packet=index, title=packet.title)
    fixes: list[str] = []
    outside: list[str] = []
    verdicts: list[Verdict] = []
    for round_ in range(1, ctx.config.max_review_rounds + 1):
        patch = roles.implement(ctx, task, plan, packet, index, count, round_, fixes)
        if patch.applied is None:
            _end_packet(ctx, index, packet, "edits_failed")
            raise _NoGo(f"{label}: the implementer's edits did not apply after "
                        f"{ctx.config.max_edit_attempts} attempts: {patch.error}")
        outside = sorted({*outside, *patch.applied.outside_plan})
        flags = [f"changed outside the plan: {path}" for path in outside]
        diff = ctx.worktree.pending_diff()
        verdict = roles.review(ctx, task, plan, packet, index, count, round_, diff, flags)
        verdicts.append(verdict)
        if verdict.verdict == "approve":
            _end_packet(ctx, index, packet, "approved")
            return verdicts
        if verdict.verdict == "block":
            _end_packet(ctx, index, packet, "blocked")
            raise _NoGo(f"{label} was blocked by the reviewer: {verdict.summary or 'no reason'}")
        fixes = verdict.required_fixes
    _end_packet(ctx, index, packet, "rounds_exhausted")
    raise _NoGo(f"{label}: no approval after {ctx.config.max_review_rounds} review rounds; "
                "last required fixes: " + "; ".join(fixes))


def _end_packet(ctx: RunContext, index: int, packet: PlanPacket, outcome: str) -> None:
    ctx.emit("packet.end", key=f"packet.end/p{index}", packet=index, title=packet.title,
             outcome=outcome, reviewed_tree=ctx.worktree.reviewed_tree)


def gate_approval(ctx: RunContext, plan: Plan, snapshot: Snapshot) -> None:
    """Stop for a person when an approval rule fires on the snapshot's exact changes,
    unless a person already approved this very tree."""
    rules = fired_rules(ctx.config.approval, risk_level=plan.risk_level,
                        changes=tree_changes(ctx.repo_root, ctx.worktree.base_commit,
                                             snapshot.tree))
    if not rules:
        return
    approval = read_workflow(ctx.run_dir).get("approval") or {}
    if approval.get("status") == "approved" and approval.get("tree") == snapshot.tree:
        return
    ctx.emit("approval.required", key="approval.required", rules=rules, tree=snapshot.tree)
    ctx.update_workflow(approval={"status": "pending", "rules": rules,
                                  "tree": snapshot.tree})
    raise AwaitingApproval(
        f"run {ctx.run_id} needs a person's approval before verification:\n  - "
        + "\n  - ".join(rules)
        + f"\nInspect the patch in {ctx.worktree.path}, then `baton approve {ctx.run_id}` "
        f"or `baton reject {ctx.run_id} --reason ...`"
    )


def decide(evidence: list[CommandEvidence]) -> tuple[str, list[str]]:
    """Go only if at least one command ran and every command that ran exited 0."""
    ran = [e for e in evidence if e.ran]
    if not ran:
        return "no-go", ["no verification command ran: set verify_commands in baton.toml"]
    failed = [e for e in ran if e.exit_code != 0]
    if failed:
        return "no-go", [
            f"`{e.command}` " + ("timed out" if e.timed_out else f"exited {e.exit_code}")
            for e in failed
        ]
    return "go", [f"review approved and {len(ran)} verification command(s) exited 0"]


def finish(ctx: RunContext, decision: str, reasons: list[str],
           evidence: list[CommandEvidence], plan: Plan | None) -> RunResult:
    """Record the decision; on go, commit on the run's branch."""
    snapshot = ctx.snapshot
    if snapshot is not None:
        ctx.write("patch.diff", snapshot_diff(ctx.repo_root, ctx.worktree.base_commit,
                                              snapshot.tree))
    else:
        ctx.write("patch.diff", ctx.worktree.full_diff())
    commit = None
    if ctx.config.summarize_evidence and evidence:
        ctx.write("evidence/summary.md", roles.summarize_evidence(ctx, decision, evidence))
    if decision != "go":
        ctx.worktree.repair_gitfile()  # left for a person to inspect: make it usable
    if decision == "go" and plan is not None:
        if snapshot is None:
            raise UserError("internal: go without a snapshot")
        ctx.worktree.land(snapshot.commit)  # exactly the snapshot, nothing verification wrote
        commit = snapshot.commit
    ctx.emit("decision", key="decision", decision=decision, reasons=reasons, commit=commit)
    return _close_done(ctx, decision, reasons, commit)


def _close_done(ctx: RunContext, decision: str, reasons: list[str],
                commit: str | None) -> RunResult:
    """After the decision is recorded: end event, workflow state, summary, cleanup."""
    totals = _totals(ctx)
    ctx.emit("run.end", key="run.end", state="done", decision=decision, totals=totals)
    ctx.update_workflow(state="done", decision=decision, reasons=reasons, commit=commit,
                        totals=totals)
    _write_summary(ctx)
    if decision == "go":
        ctx.worktree.remove()
    return RunResult(ctx.run_id, ctx.run_dir, "done", decision, ctx.worktree.branch, commit,
                     reasons, totals, EXIT[decision])


def _pause(ctx: RunContext, state: str, message: str, exit_code: int) -> RunResult:
    ctx.emit("state", state=state, detail=message)
    ctx.update_workflow(state=state, detail=message)
    _write_summary(ctx)
    return RunResult(ctx.run_id, ctx.run_dir, state, None, ctx.worktree.branch, None,
                     [message], _totals(ctx), exit_code)


def _limits(config: Config) -> dict[str, Any]:
    """The hard limits in force, recorded in the trace for reports."""
    return {"limits": config.limits.model_dump(),
            "role_limits": {r: lim.model_dump() for r, lim in config.role_limits.items()}}


def _totals(ctx: RunContext) -> dict[str, Any]:
    spent = ctx.budget.spent
    return {"calls": spent.calls, "input_tokens": spent.input_tokens,
            "output_tokens": spent.output_tokens, "cost_usd": round(spent.cost_usd, 6),
            "unknown_cost_calls": spent.unknown_cost_calls, "wall_s": round(spent.wall_s, 3)}


def _plan_or_none(ctx: RunContext) -> Plan | None:
    path = ctx.run_dir / "plan.json"
    return Plan.model_validate_json(path.read_text()) if path.is_file() else None


def _write_summary(ctx: RunContext) -> None:
    from baton.runs.summary import write_summary

    write_summary(ctx.run_dir)


def _result_from_workflow(run_dir: Path, wf: dict[str, Any]) -> RunResult:
    decision = wf.get("decision")
    return RunResult(wf["run_id"], run_dir, wf["state"], decision, wf["branch"],
                     wf.get("commit"), wf.get("reasons") or [], wf.get("totals") or {},
                     EXIT.get(decision or "", 2))


def answer_approval(repo: Path, run_id: str, *, approved: bool, reason: str = "",
                    overrides: dict[str, Any] | None = None, config_file: Path | None = None,
                    environ: dict[str, str] | None = None) -> dict[str, Any]:
    """Record a person's answer at an approval gate; a rejection ends the run as no-go.

    All or nothing: an approval is recorded only once the run is known to be able to
    continue (endpoints, keys, prices, sandbox from the user's configuration now), and a
    run that has an answer cannot be answered again.
    """
    repo_root = find_repo_root(repo)
    run_dir = find_run(repo_root, run_id)
    wf = read_workflow(run_dir)
    answered = (wf.get("approval") or {}).get("status")
    if answered in ("approved", "rejected"):
        hint = (f"`baton resume {wf['run_id']}` continues it"
                if answered == "approved" and wf["state"] != "done" else "it cannot change")
        raise UserError(f"run {wf['run_id']} is not waiting for approval: it was already "
                        f"{answered}; {hint}")
    if wf["state"] != "awaiting_approval":
        raise UserError(f"run {wf['run_id']} is not waiting for approval (state: {wf['state']})")
    if approved:  # can it continue? check before recording anything
        prepare_continue(repo, run_id, overrides=overrides, config_file=config_file,
                         environ=environ)
    trace = TraceWriter(run_dir / "trace.jsonl", wf["run_id"])
    try:
        masker = SecretMasker(dict(os.environ if environ is None else environ))
        lock = _lock_run(run_dir, wf["run_id"])
        try:
            wf = read_workflow(run_dir)  # under the lock: nobody answered meanwhile
            if (wf.get("approval") or {}).get("status") in ("approved", "rejected") \
                    or wf["state"] != "awaiting_approval":
                raise UserError(f"run {wf['run_id']} was answered meanwhile; "
                                "`baton runs` shows its state")
            trace.emit("approval.decision", approved=approved, reason=masker.mask(reason),
                       tree=(wf.get("approval") or {}).get("tree"))
            wf["approval"] = {**(wf.get("approval") or {}),
                              "status": "approved" if approved else "rejected",
                              "reason": reason}
            if not approved:
                reasons = [f"rejected at the approval gate: {reason or 'no reason given'}"]
                trace.emit("decision", decision="no-go", reasons=reasons, commit=None)
                trace.emit("run.end", state="done", decision="no-go",
                           totals=wf.get("totals") or {})
                wf.update(state="done", decision="no-go", reasons=reasons)
            wf["updated"] = now_iso()
            write_workflow(run_dir, wf)
        finally:
            os.close(lock)
    finally:
        trace.close()
    if not approved:
        from baton.export.live import live_export
        from baton.runs.summary import write_summary

        write_summary(run_dir)
        live = live_export(os.environ if environ is None else environ, run_dir)
        if live is not None:  # the run ended here: send its final structure spans
            live.close()
    return wf


def _lock_run(run_dir: Path, run_id: str) -> int:
    """Hold the run's lock (as a run in progress does) while answering it."""
    import fcntl

    from baton.errors import RunLocked

    fd = os.open(run_dir / ".lock", os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        raise RunLocked(f"run {run_id} is being worked on by another baton process; wait "
                        "for it to finish, then try again") from None
    return fd
