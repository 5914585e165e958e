"""The gated workflow, top to bottom: plan, implement and review each packet, verify, decide.

    start_run / resume_run -> gate.begin / gate.continue_run -> gate.drive(RunDriver):
        workflow (the gated steps) -> finish (decision, commit on go) | pause
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from baton import gate, roles
from baton.approvals import contract_rules, tampering_rules
from baton.config import Config
from baton.errors import (
    UserError,
)
from baton.evidence.baseline import run_baseline
from baton.evidence.beforeafter import already_passing, failure_fixes, transitions
from baton.evidence.contract import ContractCheck, check_contract
from baton.evidence.tampering import count_flags, diff_flags, parse_diff
from baton.evidence.verify import verify
from baton.gate import (  # RunResult, check_routes, ...: re-exported for library callers
    EXIT,
    RunResult,
    check_endpoints,
    check_routes,
    decide,
    prepare_continue,
)
from baton.llm.budget import check_prices_known
from baton.models import CommandEvidence, Plan, PlanPacket, Verdict
from baton.run_context import Progress, RunContext, warm_up
from baton.runs.reader import run_trace
from baton.runs.store import (
    check_run_home,
    find_repo_root,
    find_run,
    read_workflow,
    write_workflow,
)
from baton.runs.trace import now_iso, read_events
from baton.secrets import SecretMasker
from baton.workspace.git import create_worktree, head_commit, open_worktree, repo_git
from baton.workspace.leftovers import SESSION_FILE
from baton.workspace.safepaths import MAX_PATH_CHARS, UnsafePathError, safe_parts
from baton.workspace.sandbox import end_orphaned_command
from baton.workspace.snapshot import Snapshot, freeze, snapshot_diff, tree_changes


def start_run(task: str, repo: Path, *, config_file: Path | None = None,
              overrides: dict[str, Any] | None = None, policy: str | None = None,
              title: str | None = None, progress: Progress | None = None,
              environ: dict[str, str] | None = None) -> RunResult:
    """Start a new run of ``task`` on the repository at ``repo``."""
    if not task.strip():
        raise UserError("the task is empty; describe the change you want in plain words")
    warm_up()  # the SDK import and template compiling overlap the checks and git below
    environ, repo_root, config, policy, routes = gate.load_settings(
        repo, config_file=config_file, overrides=overrides, policy=policy, environ=environ)
    vendor_checks = check_routes(routes, config)
    check_prices_known(config.limits, config.role_limits, routes, config.prices)
    key_warnings = check_endpoints(config, routes, environ)
    check_run_home(repo_root)
    base = head_commit(repo_root)
    warnings = _uncommitted_warning(repo_root, base) + key_warnings
    run_id, run_dir = gate.new_run_folder(repo_root)
    worktree = create_worktree(repo_root, run_id, base)
    workflow = gate.run_record(
        run_id, kind=None, task=task, title=title or task.splitlines()[0][:72],
        repo_root=repo_root, base=base, branch=worktree.branch, worktree=str(worktree.path),
        policy=policy, routes=routes, config_file=config_file, overrides=overrides,
        config=config, environ=environ, packets=None)
    write_workflow(run_dir, workflow)
    ctx = gate.open_context(run_id, run_dir, repo_root, config, routes, worktree, environ,
                            progress)
    return gate.begin(ctx, RunDriver(task), warnings,
                      checks=lambda: (gate.sandbox_warning(ctx)
                                      + gate.vendor_warnings(ctx, vendor_checks)),
                      task=task, title=workflow["title"],
                      repo=str(repo_root), base_commit=base, branch=worktree.branch,
                      policy=policy, routes=workflow["routes"],
                      verify_commands=gate.verify_origins(config), **_limits(config))


def _uncommitted_warning(repo_root: Path, base: str) -> list[str]:
    changed = repo_git(repo_root).run("--no-optional-locks", "status", "--porcelain",
                                      "--untracked-files=no", check=False)
    if not changed.strip():
        return []
    return [f"your working tree has uncommitted changes; baton works from HEAD ({base[:12]}) "
            "and does not see them (commit or stash them first if the task needs them)"]


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
    if prepared.workflow.get("kind") == "review":  # no worktree, no branch
        from baton.review.workflow import resume_review

        return resume_review(prepared, progress=progress, environ=environ)
    run_dir, workflow, config, routes = (prepared.run_dir, prepared.workflow,
                                         prepared.config, prepared.routes)
    worktree = open_worktree(repo_root, workflow["run_id"], workflow["base_commit"])
    ctx = gate.open_context(workflow["run_id"], run_dir, repo_root, config, routes, worktree,
                            environ, progress)
    warnings = ["the trace ended in a torn line (a crash mid-write); it was cut off"] \
        if ctx.trace.repaired else []
    problems: list[str] = []
    events = read_events(run_dir / "trace.jsonl", warn=False, problems=problems)
    warnings += problems
    ctx.snapshot_recorded = recorded_snapshot(events)

    def before() -> list[str]:  # what the crashed process left
        stopped = end_orphaned_command(run_dir / SESSION_FILE)
        worktree.reset()
        return ["a verification command left running by the crashed process was stopped"] \
            if stopped else []

    return gate.continue_run(ctx, RunDriver(workflow["task"]), events, prepared, warnings,
                             before=before, **_limits(config))


def recorded_snapshot(events: list[dict[str, Any]]) -> Snapshot | None:
    """The snapshot a run's trace recorded last, if any."""
    for event in reversed(events):
        if event.get("type") == "snapshot" and event.get("commit") and event.get("tree"):
            return Snapshot(commit=str(event["commit"]), tree=str(event["tree"]))
    return None


@dataclass
class RunDriver:
    """``baton run`` for the engine (gate.drive): the gated steps of :func:`workflow`,
    ended by :func:`finish` (the commit on go) or a pause that keeps the diff to show."""

    task: str

    def steps(self, ctx: RunContext) -> gate.Outcome:
        decision, reasons, evidence, plan = workflow(ctx, self.task)
        return gate.Outcome(decision, reasons, evidence, plan)

    def done(self, ctx: RunContext, outcome: gate.Outcome) -> RunResult:
        plan = outcome.detail if outcome.detail is not None else _plan_or_none(ctx)
        return finish(ctx, outcome.decision, outcome.reasons, outcome.evidence, plan)

    def paused(self, ctx: RunContext, state: str, message: str, exit_code: int) -> RunResult:
        return _pause(ctx, state, message, exit_code)

    def decided(self, ctx: RunContext, event: dict[str, Any]) -> RunResult:
        """Replaying would reset the branch and commit again, under another id than the
        trace's: only the bookkeeping after the decision is finished."""
        decision, reasons = event["decision"], event.get("reasons") or []
        if "run.end" not in ctx.emitted:
            ctx.emit("run.resume", previous_state="running", repaired_trace=ctx.trace.repaired,
                     recorded_calls=len(ctx.recorded))
        return _close_done(ctx, decision, reasons, event.get("commit"))


def workflow(ctx: RunContext, task: str
             ) -> tuple[str, list[str], list[CommandEvidence], Plan]:
    """Base results, plan, each packet in turn, the approval gate, verification with fix
    rounds, the evidence gate."""
    ctx.baseline = run_baseline(ctx)
    plan = roles.plan_task(ctx, task)
    packets = plan.scoped_packets()
    ctx.update_workflow(packets=len(packets))
    verdicts: list[Verdict] = []
    for index, packet in enumerate(packets, 1):
        verdicts += run_packet(ctx, task, plan, packet, index, len(packets))
    snapshot = take_snapshot(ctx, plan)
    gate_approval(ctx, plan, snapshot)
    evidence = verify(ctx, plan, verdicts, snapshot)
    evidence, rounds = fix_rounds(ctx, task, plan, verdicts, evidence, len(packets))
    record_before_after(ctx, evidence)
    decision, reasons = decide(evidence)
    if decision == "go":
        gate_evidence(ctx, plan, evidence)
    elif rounds and any(e.ran and not e.ok for e in evidence):
        reasons.append(f"still failing after {rounds} fix round(s) "
                       f"(max_fix_rounds = {ctx.config.max_fix_rounds})")
    return decision, reasons, evidence, plan


def commit_message(ctx: RunContext, plan: Plan) -> str:
    """The go commit's message: the plan's, then the run id."""
    message = plan.commit_message.strip() or plan.summary.splitlines()[0]
    return f"{message}\n\nbaton run {ctx.run_id}"


def take_snapshot(ctx: RunContext, plan: Plan, stage: str = "") -> Snapshot:
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
    ctx.emit("snapshot", key="snapshot" + (f"/{stage}" if stage else ""),
             commit=snapshot.commit, tree=snapshot.tree,
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
            raise gate.NoGo(f"the reviewed tree changes {change.path!r}, which may not be "
                        f"changed: {exc.reason}") from None


def run_packet(ctx: RunContext, task: str, plan: Plan, packet: PlanPacket, index: int,
               count: int) -> list[Verdict]:
    """Implement and review one packet in bounded rounds; raise gate.NoGo unless approved.

    The reviewer of a later packet sees the changes since the packet before; the first
    packet's reviewer, everything since the base commit."""
    if index > 1:
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
            raise gate.NoGo(f"{label}: the implementer's edits did not apply after "
                        f"{ctx.config.max_edit_attempts} attempts: {patch.error}")
        outside = sorted({*outside, *patch.applied.outside_plan})
        flags = [f"changed outside the plan: {path}" for path in outside]
        flags += patch.applied.flags()  # deletions and renames, said plainly
        diff = ctx.worktree.pending_diff()
        flags += review_flags(ctx, plan, last_packet=index == count)
        verdict = roles.review(ctx, task, plan, packet, index, count, round_, diff, flags,
                               previous_fixes=fixes)
        verdicts.append(verdict)
        if verdict.verdict == "approve":
            _end_packet(ctx, index, packet, "approved")
            return verdicts
        if verdict.verdict == "block":
            _end_packet(ctx, index, packet, "blocked")
            raise gate.NoGo(f"{label} was blocked by the reviewer: "
                            f"{verdict.summary or 'no reason'}")
        fixes = verdict.required_fixes
    _end_packet(ctx, index, packet, "rounds_exhausted")
    raise gate.NoGo(f"{label}: no approval after {ctx.config.max_review_rounds} review rounds; "
                "last required fixes: " + "; ".join(fixes))


def _end_packet(ctx: RunContext, index: int, packet: PlanPacket, outcome: str) -> None:
    ctx.emit("packet.end", key=f"packet.end/p{index}", packet=index, title=packet.title,
             outcome=outcome, reviewed_tree=ctx.worktree.reviewed_tree)


def gate_approval(ctx: RunContext, plan: Plan, snapshot: Snapshot, stage: str = "") -> None:
    """Stop for a person when an approval rule fires on the snapshot's exact changes
    (tampering and contract rules included), unless a person already approved this very
    tree with these rules."""
    base = ctx.worktree.base_commit
    rules = gate.change_rules(ctx, ctx.config.approval, risk_level=plan.risk_level,
                              base=base, tree=snapshot.tree,
                              changes=tree_changes(ctx.repo_root, base, snapshot.tree))
    tampered, contract = diff_findings(ctx, plan, snapshot, stage or "verify")
    rules += tampering_rules(ctx.config.approval, [str(f) for f in tampered])
    rules += contract_rules(ctx.config.approval, contract)
    stop_for_approval(ctx, rules, snapshot, stage, "before verification")


def stop_for_approval(ctx: RunContext, rules: list[str], snapshot: Snapshot, stage: str,
                      when: str) -> None:
    """The gate's one approval rule (gate.stop_for_approval), with where to see the patch."""
    path = ctx.worktree.path
    gate.stop_for_approval(
        ctx, rules, snapshot.tree, stage=stage, when=when,
        inspect=f"See the patch with `baton show {ctx.run_id}` (it is staged in the "
                f"worktree {path}: `git -C {path} diff --cached`)")


# -- evidence beyond exit codes: tampering, the plan as a contract, before/after ------------


def diff_findings(ctx: RunContext, plan: Plan, snapshot: Snapshot, stage: str
                  ) -> tuple[list[Any], ContractCheck]:
    """Tampering flags and the plan contract of the snapshot, recorded in the trace."""
    base = ctx.worktree.base_commit
    diff = snapshot_diff(ctx.repo_root, base, snapshot.tree)
    tampered = diff_flags(diff, gate.tree_reader(ctx.repo_root, base, snapshot.tree))
    contract = check_contract(plan, [f.path for f in parse_diff(diff)])
    ctx.emit("evidence.flags", key=f"evidence.flags/{stage}", stage=stage,
             tampering=[f.to_dict() for f in tampered], contract=contract.to_dict())
    return tampered, contract


def review_flags(ctx: RunContext, plan: Plan, *, last_packet: bool) -> list[str]:
    """What the reviewer is told beyond the diff: tampering signs and the plan contract."""
    diff = ctx.worktree.full_diff(ctx.worktree.reviewed_tree)  # pending_diff just made it
    contract = check_contract(plan, [f.path for f in parse_diff(diff)])
    if not last_packet:
        contract.untouched_files = []  # later packets have not run yet
    reviewed = ctx.worktree.reviewed_tree
    read = gate.tree_reader(ctx.repo_root, ctx.worktree.base_commit, reviewed) \
        if reviewed else None
    return [f"test tampering: {f}" for f in diff_flags(diff, read)] + contract.messages()


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
        stage = f"fix{number}"
        snapshot = take_snapshot(ctx, plan, stage)
        gate_approval(ctx, plan, snapshot, stage)
        evidence = verify(ctx, plan, verdicts, snapshot, stage=stage)
        still = [e.command for e in evidence if e.ran and not e.ok]
        ctx.emit("fix.end", key=f"fix.end/{number}", fix_round=number,
                 outcome="failed" if still else "passed", failed=still)
    return evidence, rounds


def run_fix_round(ctx: RunContext, task: str, plan: Plan, number: int, count: int,
                  fixes: list[str]) -> list[Verdict]:
    """One fix round: implement the failures away and get the fix reviewed (bounded)."""
    ctx.worktree.checkpoint()
    index = count + number
    changed = [f.path for f in parse_diff(ctx.worktree.full_diff(ctx.worktree.checkpoint_tree))]
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
            raise gate.NoGo(f"{label}: the implementer's edits did not apply after "
                        f"{ctx.config.max_edit_attempts} attempts: {patch.error}")
        flags = [f"changed outside the plan: {p}" for p in patch.applied.outside_plan]
        flags += patch.applied.flags()  # deletions and renames, said plainly
        diff = ctx.worktree.pending_diff()
        flags = summary + flags + review_flags(ctx, plan, last_packet=True)
        verdict = roles.review(ctx, task, plan, packet, index, index, round_, diff, flags)
        verdicts.append(verdict)
        if verdict.verdict == "approve":
            return verdicts
        if verdict.verdict == "block":
            raise gate.NoGo(f"{label} was blocked by the reviewer: "
                            f"{verdict.summary or 'no reason'}")
        fixes = verdict.required_fixes
    raise gate.NoGo(f"{label}: no approval after {ctx.config.max_review_rounds} review rounds; "
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
               for f in count_flags(e.command, base[e.command].tests, e.tests,
                                    (_names(ctx, base[e.command]), _names(ctx, e)))]
    snapshot = ctx.snapshot
    if snapshot is None:
        raise UserError("internal: evidence gate without a snapshot")
    contract = check_contract(plan, [c.path for c in tree_changes(
        ctx.repo_root, ctx.worktree.base_commit, snapshot.tree)], evidence)
    ctx.emit("evidence.flags", key="evidence.flags/after", stage="after",
             tampering=[f.to_dict() for f in counted], contract=contract.to_dict())
    rules = tampering_rules(ctx.config.approval, [str(f) for f in counted])
    rules += contract_rules(ctx.config.approval, contract)
    stop_for_approval(ctx, rules, snapshot, "evidence", "before the commit")


def _names(ctx: RunContext, evidence: CommandEvidence) -> list[str] | None:
    """The names of the tests a command ran, when they were recorded."""
    if not evidence.tests_file:
        return None
    path = ctx.run_dir / evidence.tests_file
    return path.read_text(encoding="utf-8").splitlines() if path.is_file() else None


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
    totals = gate.end_done(ctx, decision, reasons, commit)
    if decision == "go":
        ctx.worktree.remove()
    return RunResult(ctx.run_id, ctx.run_dir, "done", decision, ctx.worktree.branch, commit,
                     reasons, totals, EXIT[decision])


def _pause(ctx: RunContext, state: str, message: str, exit_code: int) -> RunResult:
    ctx.write("patch.diff", ctx.worktree.full_diff())  # for `baton show` while it waits
    gate.set_paused(ctx, state, message)
    return RunResult(ctx.run_id, ctx.run_dir, state, None, ctx.worktree.branch, None,
                     [message], gate.totals(ctx), exit_code)


def _limits(config: Config) -> dict[str, Any]:
    """The hard limits in force, recorded in the trace for reports."""
    return {"limits": config.limits.model_dump(),
            "role_limits": {r: lim.model_dump() for r, lim in config.role_limits.items()}}


def _plan_or_none(ctx: RunContext) -> Plan | None:
    path = ctx.run_dir / "plan.json"
    return Plan.model_validate_json(path.read_text()) if path.is_file() else None


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
    trace = run_trace(run_dir / "trace.jsonl", wf["run_id"])
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
