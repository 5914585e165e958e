"""``baton review``: the gate of ``baton run`` on a change made elsewhere, or on a plan.

    start_review -> freeze the change (tree) -> reviewer -> verify on a disposable checkout
                 -> approval rules on the exact diff -> go / no-go / awaiting approval

There is no implementer step and no branch: go means "this change, as reviewed, may be
committed", and the result names the reviewed tree. The run folder, trace, summary.md,
budgets, exit codes and ``--json`` result are those of ``baton run``; ``resume`` and
``approve`` continue a review like a run, replaying every recorded model answer and
verification result, and change nothing in the repository.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from baton import prompts
from baton.approvals import FileChange, tampering_rules
from baton.config import Config, Route
from baton.errors import (
    PromptTooLarge,
    UserError,
    WorkflowError,
)
from baton.evidence.tampering import diff_flags
from baton.evidence.verify import verify
from baton.gate import (  # the engine and the steps `baton run` shares
    EXIT,
    Continuation,
    NoGo,
    Outcome,
    RunResult,
    begin,
    change_rules,
    check_endpoints,
    continue_run,
    decide,
    end_done,
    endpoint_vendor,
    load_settings,
    new_run_folder,
    open_context,
    run_record,
    sandbox_warning,
    set_paused,
    stop_for_approval,
    totals,
    tree_reader,
    vendor_warnings,
    verify_origins,
)
from baton.llm.budget import check_prices_known
from baton.llm.vendors import (
    Author,
    author_from_model,
    authors_from_trailers,
    check_pairs,
)
from baton.models import CommandEvidence, Finding, Plan, Verdict
from baton.review.planfile import PlanFile, load_plan_file, plan_contract
from baton.review.selection import (
    FrozenChange,
    RepoGit,
    Selection,
    freeze_change,
    protected_match,
)
from baton.roles import ask_verdict, summarize_evidence
from baton.run_context import Progress, RunContext, check_prompt_size
from baton.runs.store import (
    check_run_home,
    find_run,
    read_workflow,
    write_workflow,
)
from baton.runs.trace import read_events
from baton.secrets import secret_file_pattern
from baton.workspace.git import Git, Worktree, repo_at
from baton.workspace.snapshot import Snapshot

REVIEW_ROLES = ("reviewer",)


@dataclass
class ReviewResult(RunResult):
    """How a review ended: a run's result plus the reviewed tree and the findings."""

    tree: str | None = None
    selection: str | None = None
    verdict: str | None = None
    findings: list[dict[str, Any]] = field(default_factory=list)
    round: int = 1
    follows: str | None = None
    sarif: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready result: ``baton run``'s keys (branch is null) plus the review's."""
        data = super().to_dict()
        data.update(branch=None, kind="review", tree=self.tree, selection=self.selection,
                    verdict=self.verdict, findings=self.findings, round=self.round,
                    follows=self.follows, sarif=self.sarif)
        return data


@dataclass
class _Review:
    """Everything a review needs that is fixed before its run starts (kept in
    ``workflow.json`` under ``review`` so ``resume`` rebuilds it exactly)."""

    task: str
    selection: dict[str, Any] | None
    label: str
    base: str | None
    tree: str | None
    commit: str | None
    files: list[dict[str, Any]]
    withheld: list[str]
    round: int
    follows: str | None
    author: str
    author_model: str | None
    plan_source: str | None
    plan_text: str | None
    plan_json: dict[str, Any] | None
    plan_checks: list[str]
    earlier_findings: list[dict[str, Any]]
    sarif: str | None
    tampering: list[dict[str, str]] = field(default_factory=list)
    """Signs of weakened tests in the change (evidence/tampering.py), as trace records."""

    @property
    def plan_only(self) -> bool:
        return self.tree is None

    def changes(self) -> list[FileChange]:
        return [FileChange(path=f["path"], status=f["status"], added=f["added"],
                           removed=f["removed"]) for f in self.files]

    def plan(self) -> Plan | None:
        return Plan.model_validate(self.plan_json) if self.plan_json else None

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def start_review(repo: Path, *, selection: Selection | None, task: str = "",
                 plan_file: Path | None = None, follow: str | None = None,
                 author_model: str | None = None, sarif: Path | None = None,
                 config_file: Path | None = None, overrides: dict[str, Any] | None = None,
                 policy: str | None = None, progress: Progress | None = None,
                 environ: dict[str, str] | None = None) -> ReviewResult:
    """Review a change that already exists (or a plan); nothing of the user's is changed.

    Every bad input is refused with a UserError before any model call or run folder.
    """
    environ, repo_root, config, policy, routes = load_settings(
        repo, config_file=config_file, overrides=overrides, policy=policy, environ=environ)
    previous, earlier = _previous(repo_root, follow, config) if follow else (None, [])
    if previous is not None:
        selection = selection or _reuse_selection(previous)
        task = task or previous.task
        author_model = author_model or previous.author_model
    plan = load_plan_file(plan_file) if plan_file is not None else None
    if plan is None and previous is not None and previous.plan_text and selection is None:
        plan = PlanFile(previous.plan_source or "plan", previous.plan_text, None, [])
    if selection is None and plan is None:
        raise UserError("choose what to review: --uncommitted, --staged, --base REF, "
                        "--commit SHA, --diff FILE (or - for standard input), or --plan FILE")
    change = freeze_change(repo_root, selection,
                           protected=config.protected_paths) if selection else None
    authors = _authors(author_model, change)
    reviewer = routes["reviewer"]
    vendor_checks = check_pairs([reviewer.model, *reviewer.fallbacks], authors,
                         reviewer_endpoint_vendor=endpoint_vendor(config, reviewer.endpoint),
                         require_other_vendor=config.require_other_vendor)
    check_prices_known(config.limits, config.role_limits, review_routes(config, routes),
                       config.prices)
    check_endpoints(config, routes, environ, roles=list(REVIEW_ROLES))
    state = _Review(
        task=task.strip(), selection=change.selection.to_dict() if change else None,
        label=change.selection.label() if change else f"--plan {plan_file}",
        base=change.base if change else None, tree=change.tree if change else None,
        commit=change.commit or None if change else None,
        files=[{"path": c.path, "status": c.status, "added": c.added, "removed": c.removed}
               for c in change.changes] if change else [],
        withheld=change.withheld if change else [],
        round=previous.round + 1 if previous else 1,
        follows=_run_id_of(repo_root, follow) if follow else None,
        author=", ".join(f"{a.model} ({a.source})" for a in authors),
        author_model=author_model,
        plan_source=plan.source if plan else None, plan_text=plan.text if plan else None,
        plan_json=plan.plan.model_dump() if plan and plan.plan else None,
        plan_checks=plan_contract(plan, change.changes) if plan and change else [],
        earlier_findings=earlier, sarif=str(sarif.resolve()) if sarif else None,
        tampering=[f.to_dict() for f in diff_flags(
            change.diff, tree_reader(repo_root, change.base, change.tree))] if change else [],
    )
    try:  # the prompt is checked before anything exists (it is checked again when sent)
        check_prompt_size(review_messages(state, change.diff if change else "", config),
                          config.max_prompt_bytes, "reviewer")
    except PromptTooLarge as exc:
        raise UserError(
            f"the change is too large to review in one prompt ({exc}). Review it in smaller "
            "pieces (e.g. --commit SHA one commit at a time), or raise max_prompt_bytes in "
            "your user config") from None
    check_run_home(repo_root)
    run_id, run_dir = new_run_folder(repo_root)
    title = (task.strip().splitlines()[0][:72] if task.strip()
             else f"Review of {state.label}")
    workflow = run_record(
        run_id, kind="review", task=state.task, title=title, repo_root=repo_root,
        base=state.base, branch=None, worktree=None, policy=policy, routes=routes,
        config_file=config_file, overrides=overrides, config=config, environ=environ,
        packets=1, review=state.to_dict())
    write_workflow(run_dir, workflow)
    ctx = _context(run_id, run_dir, repo_root, config, routes, state, environ, progress)
    if change is not None:
        ctx.write("change.diff", change.diff)

    def checks() -> list[str]:  # traced right after run.start, said before any money goes
        ctx.emit("review.snapshot", key="review.snapshot", selection=state.label,
                 base=state.base, tree=state.tree, commit=state.commit,
                 files=[f["path"] for f in state.files], withheld=state.withheld,
                 plan=state.plan_source)
        return vendor_warnings(ctx, vendor_checks) + \
            (sandbox_warning(ctx) if not state.plan_only else [])

    result = begin(ctx, ReviewDriver(state), [], checks=checks, kind="review",
                   task=state.task, title=title, repo=str(repo_root), base_commit=state.base,
                   branch=None, policy=policy, routes=workflow["routes"],
                   selection=state.label, tree=state.tree, round=state.round,
                   follows=state.follows, verify_commands=verify_origins(config))
    assert isinstance(result, ReviewResult)
    return result


def resume_review(prepared: Continuation, *, progress: Progress | None,
                  environ: dict[str, str]) -> ReviewResult:
    """Continue a paused review from its recorded tree, replaying what was recorded.

    ``prepared`` is ``gate.prepare_continue``'s: the guards come from the user's
    configuration now, never from the run folder.
    """
    run_dir, workflow, config, routes = (prepared.run_dir, prepared.workflow,
                                         prepared.config, prepared.routes)
    state = _Review(**workflow["review"])
    ctx = _context(workflow["run_id"], run_dir, prepared.repo_root, config, routes, state,
                   environ, progress)
    result = continue_run(ctx, ReviewDriver(state),
                          read_events(run_dir / "trace.jsonl", warn=False), prepared, [],
                          sandboxed=not state.plan_only, repaired_trace=ctx.trace.repaired)
    assert isinstance(result, ReviewResult)
    return result


# -- the steps -----------------------------------------------------------------------------


@dataclass
class ReviewDriver:
    """``baton review`` for the engine (gate.drive): the reviewer, verification on a
    disposable checkout and the approval rules; no implementer, no branch, no commit."""

    state: _Review

    def steps(self, ctx: RunContext) -> Outcome:
        decision, reasons, verdict = _review_steps(ctx, self.state)
        return Outcome(decision, reasons, [], verdict)

    def done(self, ctx: RunContext, outcome: Outcome) -> ReviewResult:
        ctx.emit("decision", key="decision", decision=outcome.decision,
                 reasons=outcome.reasons, commit=None, tree=self.state.tree)
        return _close_done(ctx, self.state, outcome.decision, outcome.reasons, outcome.detail)

    def paused(self, ctx: RunContext, state: str, message: str, exit_code: int
               ) -> ReviewResult:
        return _pause(ctx, self.state, state, message, exit_code)

    def decided(self, ctx: RunContext, event: dict[str, Any]) -> ReviewResult:
        return _close_done(ctx, self.state, event["decision"], event.get("reasons") or [],
                           _verdict_of(ctx, self.state))


def _review_steps(ctx: RunContext, state: _Review) -> tuple[str, list[str], Verdict]:
    if not state.plan_only:
        ctx.emit("evidence.flags", key="evidence.flags/verify", stage="verify",
                 tampering=state.tampering, contract={})
    verdict = ask_reviewer(ctx, state)
    findings = verdict.structured_findings()
    if verdict.verdict == "block":
        raise NoGo([f"the reviewer blocked the {'plan' if state.plan_only else 'change'}: "
                    f"{verdict.summary or 'no reason given'}"], verdict)
    if verdict.verdict == "request_changes":
        reasons = [f"the reviewer requested changes ({len(findings)} finding(s)): "
                   + "; ".join(f.message for f in findings)]
        if state.round >= ctx.config.max_review_rounds:
            reasons.append(f"no approval after {state.round} review round(s) "
                           f"(max_review_rounds = {ctx.config.max_review_rounds}); "
                           "a further --follow is refused")
        else:
            reasons.append(f"fix them, then `baton review --follow {ctx.run_id}`")
        raise NoGo(reasons, verdict)
    if state.plan_only:
        return "go", ["the reviewer approved the plan"], verdict
    evidence = _verify_snapshot(ctx, state, verdict)
    decision, reasons = decide(evidence)
    if ctx.config.summarize_evidence and evidence:
        ctx.write("evidence/summary.md", summarize_evidence(ctx, decision, evidence))
    if decision == "go":
        _gate_approval(ctx, state)
        reasons = [r.replace("review approved", "review approved the change") for r in reasons]
    return decision, reasons, verdict


def review_messages(state: _Review, diff: str, config: Config) -> list[dict[str, str]]:
    """The reviewer's prompt for the change (or the plan alone)."""
    context: dict[str, Any] = dict(
        task=state.task, round=state.round, max_rounds=config.max_review_rounds,
        earlier_findings=[Finding.model_validate(f) for f in state.earlier_findings],
        plan_text=state.plan_text or "", plan_source=state.plan_source or "",
    )
    if state.plan_only:
        return prompts.render("review_plan", **context)
    return prompts.render(
        "review_change", **context, selection=state.label, base=state.base or "",
        tree=state.tree or "", file_count=len(state.files), author=state.author,
        flags=[*state.plan_checks, *(f"test tampering: {t['message']}" for t in state.tampering)],
        withheld=state.withheld,
        diff=diff or "(every changed file is withheld)")


def ask_reviewer(ctx: RunContext, state: _Review) -> Verdict:
    """The reviewer's verdict on the change (or plan); one repair request if unreadable."""
    diff = "" if state.plan_only else \
        (ctx.run_dir / "change.diff").read_text(encoding="utf-8")
    messages = review_messages(state, diff, ctx.config)
    verdict = ask_verdict(ctx, messages, f"reviewer/r{state.round}", packet=None,
                          round_=state.round)
    findings = [f.model_dump() for f in verdict.structured_findings()]
    ctx.write(f"reviews/p1-r{state.round}.json", verdict.model_dump_json(indent=2))
    ctx.write("findings.json", _json(findings))
    ctx.emit("review.verdict", key=f"review.verdict/r{state.round}", packet=1,
             round=state.round, model=ctx.routes["reviewer"].model,
             verdict=verdict.verdict, required_fixes=verdict.required_fixes,
             findings=findings, follows=state.follows,
             earlier_findings=[e.model_dump() for e in verdict.earlier_findings])
    return verdict


def _verify_snapshot(ctx: RunContext, state: _Review, verdict: Verdict
                     ) -> list[CommandEvidence]:
    """Run the verification commands on a disposable checkout of exactly the tree (made
    by ``verify``), detecting test commands from the tree's own files."""
    assert state.tree is not None and state.commit is not None
    snapshot = Snapshot(commit=state.commit, tree=state.tree)
    with _detection_root(ctx.repo_root, state.tree) as root:
        ctx.worktree = _no_worktree(ctx.repo_root, root, state.base or "")
        return verify(ctx, state.plan(), [verdict], snapshot)


# Top-level files and folders test-command detection looks at (workspace/detect.py).
_DETECT_FILES = {"pyproject.toml", "package.json", "Cargo.toml", "go.mod", "Makefile"}
_DETECT_DIRS = {"tests", "test"}


@contextmanager
def _detection_root(repo_root: Path, tree: str) -> Iterator[Path]:
    """A small folder with the tree's top-level entries test detection reads, so a
    detected command is the reviewed tree's, not the working tree's."""
    git = RepoGit(repo_root)
    with tempfile.TemporaryDirectory(prefix="baton-detect-") as tmp:
        root = Path(tmp)
        for record in git.run("ls-tree", "-z", tree).split("\0"):
            if not record:
                continue
            meta, _, name = record.partition("\t")
            _mode, kind, oid = meta.split(" ")
            if kind == "tree" and name in _DETECT_DIRS:
                (root / name).mkdir()
            elif kind == "blob" and name in _DETECT_FILES:
                (root / name).write_text(git.run("cat-file", "blob", oid))
            elif kind == "blob" and name.startswith("test_") and name.endswith(".py"):
                (root / name).touch()
        yield root


class _NoWorktree(Worktree):
    """A review has no git worktree: this stands where ``RunContext`` expects one, with
    the path test detection reads, and refuses every git operation."""

    @property
    def git(self) -> Git:  # type: ignore[override]
        raise WorkflowError("a review has no worktree; nothing may be committed or reset")


def _no_worktree(repo_root: Path, path: Path, base: str) -> Worktree:
    repo = repo_at(repo_root)
    return _NoWorktree(repo_root, path, "", base, repo.git_dir, repo.common_dir)


def _gate_approval(ctx: RunContext, state: _Review) -> None:
    """Approval rules and protected paths on the exact diff; stop for a person if any fire
    (the gate's one rule: an approval is for this tree and the rules that fired on it)."""
    approval = ctx.config.approval
    plan = state.plan()
    if plan is None:  # no plan: no risk level to judge
        approval = approval.model_copy(update={"risk_level": "never"})
    assert state.tree is not None
    rules = change_rules(ctx, approval, risk_level=plan.risk_level if plan else "low",
                         base=state.base or "", tree=state.tree, changes=state.changes())
    rules += tampering_rules(approval, [t["message"] for t in state.tampering])
    for path in state.withheld:
        glob = protected_match(path, ctx.config.protected_paths)
        why = f"protected_paths {glob!r}" if glob else \
            f"the secret-file pattern {secret_file_pattern(path)!r}"
        rules.append(f"changed file {path!r} was withheld from the reviewer ({why}); "
                     "a person must look at it")
    stop_for_approval(ctx, rules, state.tree, when="after the reviewer and the checks",
                      inspect=f"Inspect the change (tree {state.tree}; approving records "
                              "the decision and changes nothing)")


# -- ending ---------------------------------------------------------------------------------


def _close_done(ctx: RunContext, state: _Review, decision: str, reasons: list[str],
                verdict: Verdict | None) -> ReviewResult:
    if (ctx.run_dir / "change.diff").is_file() and not (ctx.run_dir / "patch.diff").is_file():
        ctx.write("patch.diff", (ctx.run_dir / "change.diff").read_text(encoding="utf-8"))
    spent = end_done(ctx, decision, reasons, None)
    result = _result(ctx, state, "done", decision, reasons, spent, EXIT[decision], verdict)
    _write_sarif(ctx, state, result)
    return result


def _pause(ctx: RunContext, state: _Review, kind: str, message: str,
           exit_code: int) -> ReviewResult:
    set_paused(ctx, kind, message)
    result = _result(ctx, state, kind, None, [message], totals(ctx), exit_code,
                     _verdict_of(ctx, state))
    _write_sarif(ctx, state, result)
    return result


def _result(ctx: RunContext, state: _Review, run_state: str, decision: str | None,
            reasons: list[str], totals: dict[str, Any], exit_code: int,
            verdict: Verdict | None) -> ReviewResult:
    findings = [f.model_dump() for f in verdict.structured_findings()] if verdict else []
    return ReviewResult(
        ctx.run_id, ctx.run_dir, run_state, decision, "", None, reasons, totals, exit_code,
        tree=state.tree, selection=state.label, verdict=verdict.verdict if verdict else None,
        findings=findings if verdict and verdict.verdict != "approve" else [],
        round=state.round, follows=state.follows, sarif=state.sarif)


def _write_sarif(ctx: RunContext, state: _Review, result: ReviewResult) -> None:
    if not state.sarif:
        return
    from baton.review.sarif import to_sarif, write_sarif

    findings = [Finding.model_validate(f) for f in result.findings]
    kept = [f["path"] for f in state.files if f.get("status") != "D"]
    write_sarif(Path(state.sarif), to_sarif(
        findings, run_id=ctx.run_id, verdict=result.verdict, decision=result.decision,
        tree=state.tree, reviewer_model=ctx.routes["reviewer"].model,
        anchor=kept[0] if kept else None))


def _verdict_of(ctx: RunContext, state: _Review) -> Verdict | None:
    path = ctx.run_dir / "reviews" / f"p1-r{state.round}.json"
    return Verdict.model_validate_json(path.read_text()) if path.is_file() else None


# -- set-up ---------------------------------------------------------------------------------


def _context(run_id: str, run_dir: Path, repo_root: Path, config: Config,
             routes: dict[str, Route], state: _Review, environ: dict[str, str],
             progress: Progress | None) -> RunContext:
    # A review has no git worktree: the context's worktree is the disposable checkout of
    # the reviewed tree while verification runs, and an empty placeholder before.
    placeholder = _no_worktree(repo_root, run_dir / "checkout", state.base or "")
    return open_context(run_id, run_dir, repo_root, config, routes, placeholder, environ,
                        progress)


def review_routes(config: Config, routes: dict[str, Route]) -> dict[str, Route]:
    """The routes a review calls: the reviewer (and the verifier when it summarizes)."""
    used = [*REVIEW_ROLES, *(["verifier"] if config.summarize_evidence else [])]
    return {role: routes[role] for role in used}


def _authors(author_model: str | None, change: FrozenChange | None) -> list[Author]:
    if author_model:
        return [author_from_model(author_model, "--author-model")]
    return authors_from_trailers(change.messages) if change is not None else []


def _run_id_of(repo_root: Path, run: str) -> str:
    return read_workflow(find_run(repo_root, run))["run_id"]


def _previous(repo_root: Path, follow: str, config: Config
              ) -> tuple[_Review, list[dict[str, Any]]]:
    """The review a ``--follow`` round continues and its findings; refused when it cannot
    be followed."""
    run_dir = find_run(repo_root, follow)
    workflow = read_workflow(run_dir)
    if workflow.get("kind") != "review" or not isinstance(workflow.get("review"), dict):
        raise UserError(f"--follow {follow}: run {workflow['run_id']} is a `baton run`, not a "
                        "review; follow a run made by `baton review`")
    previous = _Review(**workflow["review"])
    if workflow.get("state") != "done":
        raise UserError(f"--follow {follow}: that review is {workflow.get('state')}; finish "
                        f"it first (`baton resume {workflow['run_id']}`)")
    if workflow.get("decision") == "go":
        raise UserError(f"--follow {follow}: that review already ended in go; start a new "
                        "review for further changes")
    if previous.round >= config.max_review_rounds:
        raise UserError(
            f"--follow {follow}: review rounds exhausted ({previous.round} of "
            f"max_review_rounds = {config.max_review_rounds}); the loop did not converge. "
            "Start a new review once the change is reworked, or raise max_review_rounds")
    verdict_file = run_dir / "reviews" / f"p1-r{previous.round}.json"
    if not verdict_file.is_file():
        raise UserError(f"--follow {follow}: that review recorded no verdict to follow up")
    verdict = Verdict.model_validate_json(verdict_file.read_text(encoding="utf-8"))
    return previous, [f.model_dump() for f in verdict.structured_findings()]


def _reuse_selection(previous: _Review) -> Selection | None:
    """A ``--follow`` round without a selection reviews the same kind of change again."""
    sel = previous.selection
    if not sel:
        return None
    if sel["kind"] in ("diff", "commit"):
        raise UserError(f"--follow: the earlier round reviewed {previous.label}; pass the "
                        f"new {'--diff FILE' if sel['kind'] == 'diff' else '--commit SHA'}")
    return Selection(kind=sel["kind"], ref=sel.get("ref"))


def _json(data: Any) -> str:
    import json

    return json.dumps(data, indent=2, ensure_ascii=False)
