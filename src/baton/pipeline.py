"""The gated workflow, top to bottom: plan, implement and review each packet, verify, decide.

    start_run / resume_run -> _drive -> workflow -> finish
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from baton import roles
from baton.approvals import contract_rules, fired_rules, tampering_rules
from baton.config import Config, Route, deep_merge, load_config
from baton.errors import AwaitingApproval, BatonError, BudgetExhausted, ConfigError, UserError
from baton.evidence.baseline import run_baseline
from baton.evidence.beforeafter import already_passing, failure_fixes, transitions
from baton.evidence.contract import ContractCheck, check_contract
from baton.evidence.tampering import count_flags, diff_flags, parse_diff
from baton.llm.budget import Budget, check_prices_known
from baton.llm.provider import resolve_api_key
from baton.models import CommandEvidence, Plan, PlanPacket, Verdict
from baton.run_context import Progress, RunContext, load_replay
from baton.runs.store import (
    exclude_from_git,
    find_repo_root,
    find_run,
    new_run_id,
    read_workflow,
    runs_dir,
    write_workflow,
)
from baton.runs.trace import TraceWriter, now_iso, read_events
from baton.secrets import SecretMasker
from baton.workspace.git import Git, create_worktree, head_commit, open_worktree
from baton.workspace.sandbox import end_orphaned_command
from baton.workspace.verify import verify

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
        "overrides": SecretMasker(environ).mask_obj(overrides or {}),
        "state": "running", "decision": None,
        "created": now_iso(), "updated": now_iso(), "packets": None, "approval": None,
    }
    write_workflow(run_dir, workflow)
    ctx = _context(run_id, run_dir, repo_root, config, routes, worktree, environ, progress,
                   Budget(config.limits, config.role_limits))
    ctx.emit("run.start", key="run.start", task=task, title=workflow["title"],
             repo=str(repo_root), base_commit=base, branch=worktree.branch, policy=policy,
             routes=workflow["routes"])
    result = _drive(ctx, task)
    result.warnings = warnings + result.warnings
    return result


def _uncommitted_warning(repo_root: Path, base: str) -> list[str]:
    changed = Git(repo_root).run("--no-optional-locks", "status", "--porcelain",
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
                     masker=SecretMasker(environ), environ=environ, progress=progress)
    try:
        ctx.lock()
    except BatonError:
        trace.close()
        raise
    return ctx


def resume_run(repo: Path, run_id: str, *, overrides: dict[str, Any] | None = None,
               progress: Progress | None = None,
               environ: dict[str, str] | None = None) -> RunResult:
    """Continue a paused or crashed run, replaying every recorded model answer."""
    environ = dict(os.environ if environ is None else environ)
    repo_root = find_repo_root(repo)
    run_dir = find_run(repo_root, run_id)
    workflow = read_workflow(run_dir)
    if workflow["state"] == "done":
        return _result_from_workflow(run_dir, workflow)
    merged = deep_merge(workflow.get("overrides") or {}, overrides or {})
    config_file = Path(workflow["config_file"]) if workflow.get("config_file") else None
    config = load_config(repo_root, config_file=config_file, overrides=merged, environ=environ)
    routes = {role: Route.model_validate(r) for role, r in workflow["routes"].items()}
    check_prices_known(config.limits, config.role_limits, routes, config.prices)
    check_endpoints(config, routes, environ)
    worktree = open_worktree(repo_root, workflow["run_id"], workflow["base_commit"])
    ctx = _context(workflow["run_id"], run_dir, repo_root, config, routes, worktree, environ,
                   progress, Budget(config.limits, config.role_limits))
    warnings = ["the trace ended in a torn line (a crash mid-write); it was cut off"] \
        if ctx.trace.repaired else []
    events = read_events(run_dir / "trace.jsonl", warn=False)
    ctx.recorded, ctx.emitted, ctx.cut_off = load_replay(events)
    ctx.budget = Budget.from_events(config.limits, config.role_limits, events)
    decided = [e for e in events if e.get("type") == "decision"]
    if decided:
        result = _finish_decided(ctx, decided[-1])
        result.warnings = warnings
        return result
    if end_orphaned_command(run_dir / "command.session"):
        warnings.append("a verification command left running by the crashed process was "
                        "stopped")
    worktree.reset()
    previous = workflow["state"]
    workflow = ctx.update_workflow(overrides=ctx.masker.mask_obj(merged), state="running")
    ctx.emit("run.resume", previous_state=previous, repaired_trace=bool(warnings),
             recorded_calls=len(ctx.recorded))
    result = _drive(ctx, workflow["task"])
    result.warnings = warnings + result.warnings
    return result


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
    """Base results, plan, each packet in turn, the approval gate, verification with fix
    rounds, the evidence gate."""
    ctx.baseline = run_baseline(ctx, ctx.worktree.base_commit)
    plan = roles.plan_task(ctx, task)
    packets = plan.scoped_packets()
    ctx.update_workflow(packets=len(packets))
    verdicts: list[Verdict] = []
    for index, packet in enumerate(packets, 1):
        verdicts += run_packet(ctx, task, plan, packet, index, len(packets))
    gate_approval(ctx, plan)
    evidence = verify(ctx, plan, verdicts)
    evidence, rounds = fix_rounds(ctx, task, plan, verdicts, evidence, len(packets))
    record_before_after(ctx, evidence)
    decision, reasons = decide(evidence)
    if decision == "go":
        gate_evidence(ctx, plan, evidence)
    elif rounds and any(e.ran and not e.ok for e in evidence):
        reasons.append(f"still failing after {rounds} fix round(s) "
                       f"(max_fix_rounds = {ctx.config.max_fix_rounds})")
    return decision, reasons, evidence, plan


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
        flags += review_flags(ctx, plan, last_packet=index == count)
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
             outcome=outcome)


def gate_approval(ctx: RunContext, plan: Plan, stage: str = "") -> None:
    """Stop for a person when an approval rule fires, unless one already approved it."""
    rules = fired_rules(ctx.config.approval, risk_level=plan.risk_level,
                        changes=ctx.worktree.changes())
    tampered, contract = diff_findings(ctx, plan, stage or "verify")
    rules += tampering_rules(ctx.config.approval, [str(f) for f in tampered])
    rules += contract_rules(ctx.config.approval, contract)
    stop_for_approval(ctx, rules, stage, "before verification")


def stop_for_approval(ctx: RunContext, rules: list[str], stage: str, when: str) -> None:
    """Pause (exit 3) unless every rule in ``rules`` was already approved by a person.

    A later gate of the same run (a fix round, the evidence after verification) stops
    again only for rules nobody has seen yet.
    """
    if not rules:
        return
    approval = read_workflow(ctx.run_dir).get("approval") or {}
    seen = list(approval.get("rules") or [])
    if approval.get("status") == "approved" and set(rules) <= set(seen):
        return
    new = [r for r in rules if r not in seen] if approval.get("status") == "approved" \
        else rules
    ctx.emit("approval.required", key="approval.required" + (f"/{stage}" if stage else ""),
             rules=new, stage=stage or None)
    ctx.update_workflow(approval={"status": "pending",
                                  "rules": list(dict.fromkeys([*seen, *rules]))})
    raise AwaitingApproval(
        f"run {ctx.run_id} needs a person's approval {when}:\n  - "
        + "\n  - ".join(new)
        + f"\nInspect the patch in {ctx.worktree.path}, then `baton approve {ctx.run_id}` "
        f"or `baton reject {ctx.run_id} --reason ...`"
    )


# -- evidence beyond exit codes: tampering, the plan as a contract, before/after ------------


def diff_since_base(ctx: RunContext) -> str:
    """Every change since the base commit, without touching what is staged."""
    git = ctx.worktree.git
    git.run("add", "-A", "-N")
    return git.run("diff", "--no-ext-diff", "--no-textconv", "--no-color", "--no-renames",
                   ctx.worktree.base_commit)


def diff_findings(ctx: RunContext, plan: Plan, stage: str
                  ) -> tuple[list[Any], ContractCheck]:
    """Tampering flags and the plan contract of the diff so far, recorded in the trace."""
    diff = diff_since_base(ctx)
    tampered = diff_flags(diff)
    contract = check_contract(plan, [f.path for f in parse_diff(diff)])
    ctx.emit("evidence.flags", key=f"evidence.flags/{stage}", stage=stage,
             tampering=[f.to_dict() for f in tampered], contract=contract.to_dict())
    return tampered, contract


def review_flags(ctx: RunContext, plan: Plan, *, last_packet: bool) -> list[str]:
    """What the reviewer is told beyond the diff: tampering signs and the plan contract."""
    diff = diff_since_base(ctx)
    contract = check_contract(plan, [f.path for f in parse_diff(diff)])
    if not last_packet:
        contract.untouched_files = []  # later packets have not run yet
    return [f"test tampering: {f}" for f in diff_flags(diff)] + contract.messages()


def fix_rounds(ctx: RunContext, task: str, plan: Plan, verdicts: list[Verdict],
               evidence: list[CommandEvidence], count: int
               ) -> tuple[list[CommandEvidence], int]:
    """Failed checks go back to the implementer, then review and verification again."""
    rounds = 0
    for number in range(1, ctx.config.max_fix_rounds + 1):
        failed = [e for e in evidence if e.ran and not e.ok]
        if not failed:
            break
        rounds = number
        ctx.emit("fix.start", key=f"fix.start/{number}", fix_round=number,
                 packet=count + number, failed=[e.command for e in failed])
        verdicts += run_fix_round(ctx, task, plan, number, count, failure_fixes(evidence))
        gate_approval(ctx, plan, stage=f"fix{number}")
        evidence = verify(ctx, plan, verdicts, stage=f"fix{number}")
        still = [e.command for e in evidence if e.ran and not e.ok]
        ctx.emit("fix.end", key=f"fix.end/{number}", fix_round=number,
                 outcome="failed" if still else "passed", failed=still)
    return evidence, rounds


def run_fix_round(ctx: RunContext, task: str, plan: Plan, number: int, count: int,
                  fixes: list[str]) -> list[Verdict]:
    """One fix round: implement the failures away and get the fix reviewed (bounded)."""
    ctx.worktree.checkpoint()
    index = count + number
    changed = [f.path for f in parse_diff(diff_since_base(ctx))]
    packet = PlanPacket(
        title=f"fix round {number}",
        goal="Make the failing verification commands pass by fixing the code; never delete, "
             "skip or weaken a test.",
        files=list(dict.fromkeys([*plan.files(), *changed])),
        acceptance_criteria=["every verification command exits 0",
                             "no test deleted, skipped, xfailed or weakened"])
    label = f"fix round {number}"
    summary = [f"verification failed before this fix: {fix.splitlines()[0]}" for fix in fixes]
    verdicts: list[Verdict] = []
    for round_ in range(1, ctx.config.max_review_rounds + 1):
        patch = roles.implement(ctx, task, plan, packet, index, index, round_, fixes)
        if patch.applied is None:
            raise _NoGo(f"{label}: the implementer's edits did not apply after "
                        f"{ctx.config.max_edit_attempts} attempts: {patch.error}")
        flags = [f"changed outside the plan: {p}" for p in patch.applied.outside_plan]
        diff = ctx.worktree.pending_diff()
        flags = summary + flags + review_flags(ctx, plan, last_packet=True)
        verdict = roles.review(ctx, task, plan, packet, index, index, round_, diff, flags)
        verdicts.append(verdict)
        if verdict.verdict == "approve":
            return verdicts
        if verdict.verdict == "block":
            raise _NoGo(f"{label} was blocked by the reviewer: {verdict.summary or 'no reason'}")
        fixes = verdict.required_fixes
    raise _NoGo(f"{label}: no approval after {ctx.config.max_review_rounds} review rounds; "
                "last required fixes: " + "; ".join(fixes))


def record_before_after(ctx: RunContext, evidence: list[CommandEvidence]) -> None:
    """Which commands went fail -> pass, stayed passing, or broke, against the base commit."""
    if not ctx.baseline:
        return
    rows = transitions(ctx.baseline, evidence)
    ctx.write("evidence/before-after.json", json.dumps(rows, indent=2))
    ctx.emit("evidence.before_after", key="evidence.before_after", commands=rows,
             already_passing=already_passing(rows))


def gate_evidence(ctx: RunContext, plan: Plan, evidence: list[CommandEvidence]) -> None:
    """After verification: fewer tests run than on the base commit, plan commands not run."""
    base = {e.command: e for e in ctx.baseline}
    counted = [f for e in evidence if e.command in base
               for f in count_flags(e.command, base[e.command].tests, e.tests)]
    contract = check_contract(plan, [f.path for f in parse_diff(diff_since_base(ctx))],
                              evidence)
    ctx.emit("evidence.flags", key="evidence.flags/after", stage="after",
             tampering=[f.to_dict() for f in counted], contract=contract.to_dict())
    rules = tampering_rules(ctx.config.approval, [str(f) for f in counted])
    rules += contract_rules(ctx.config.approval, contract)
    stop_for_approval(ctx, rules, "evidence", "before the commit")


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
    ctx.write("patch.diff", ctx.worktree.full_diff())
    commit = None
    if ctx.config.summarize_evidence and evidence:
        ctx.write("evidence/summary.md", roles.summarize_evidence(ctx, decision, evidence))
    if decision == "go" and plan is not None:
        message = plan.commit_message.strip() or plan.summary.splitlines()[0]
        commit = ctx.worktree.commit(f"{message}\n\nbaton run {ctx.run_id}")
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
                    environ: dict[str, str] | None = None) -> dict[str, Any]:
    """Record a person's answer at an approval gate; a rejection ends the run as no-go."""
    repo_root = find_repo_root(repo)
    run_dir = find_run(repo_root, run_id)
    wf = read_workflow(run_dir)
    if wf["state"] != "awaiting_approval":
        raise UserError(f"run {wf['run_id']} is not waiting for approval (state: {wf['state']})")
    trace = TraceWriter(run_dir / "trace.jsonl", wf["run_id"])
    try:
        masker = SecretMasker(dict(os.environ if environ is None else environ))
        trace.emit("approval.decision", approved=approved, reason=masker.mask(reason))
        wf["approval"] = {**(wf.get("approval") or {}),
                          "status": "approved" if approved else "rejected", "reason": reason}
        if not approved:
            reasons = [f"rejected at the approval gate: {reason or 'no reason given'}"]
            trace.emit("decision", decision="no-go", reasons=reasons, commit=None)
            trace.emit("run.end", state="done", decision="no-go", totals=wf.get("totals") or {})
            wf.update(state="done", decision="no-go", reasons=reasons)
        wf["updated"] = now_iso()
        write_workflow(run_dir, wf)
    finally:
        trace.close()
    if not approved:
        from baton.runs.summary import write_summary

        write_summary(run_dir)
    return wf
