"""The gate both ``baton run`` (pipeline.py) and ``baton review`` (review/workflow.py) pass.

The steps around a run's own work that the two share, so both record and say the same:

    checks:   check_routes, check_endpoints (before a run starts), prepare_continue (before
              it continues: the guards come from the user's configuration now)
    result:   RunResult (ReviewResult adds the review's fields)
    start:    load_settings -> new_run_folder -> run_record -> open_context -> verify_origins,
              sandbox_warning, vendor_warnings -> begin
    engine:   begin -> drive(driver): driver.steps -> driver.done | driver.paused | failed
    continue: open_context -> continue_run: replay -> driver.decided | mark_resumed -> drive
    the gate: decide (go only when every verification command that ran exited 0),
              change_rules + stop_for_approval (one approval rule: a tree and its rules)
    ending:   end_done | pause_reason + set_paused | record_failure (totals, summary.md)
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple, Protocol

from baton.approvals import FileChange, fired_rules
from baton.config import REPO_FORBIDDEN, Approval, Config, Route, deep_merge, load_config
from baton.config.ownership import GUARD_KEYS
from baton.errors import (
    AwaitingApproval,
    BatonError,
    BudgetExhausted,
    ConfigError,
    InternalError,
    RunInterrupted,
    UserError,
)
from baton.llm.budget import Budget, check_prices_known
from baton.llm.provider import missing_key_warning, resolve_api_key
from baton.llm.vendors import VendorCheck, author_from_model, check_pairs
from baton.models import CommandEvidence
from baton.run_context import Progress, RunContext, load_replay
from baton.runs.reader import run_trace
from baton.runs.store import (
    exclude_from_git,
    find_repo_root,
    find_run,
    new_run_id,
    read_workflow,
    runs_dir,
)
from baton.runs.trace import now_iso
from baton.secrets import SecretMasker, key_values
from baton.workspace.git import Worktree
from baton.workspace.leftovers import remove_stale_checkout
from baton.workspace.sandbox import sandbox_notice
from baton.workspace.snapshot import file_text

EXIT = {"go": 0, "no-go": 1}

# -- the result, and the checks before a run starts or continues ----------------------

# Settings that only the user's configuration, environment and flags of the moment may
# give: a run folder (which a clone may carry, or anyone may edit) never supplies them.
GUARDS = (*REPO_FORBIDDEN, *GUARD_KEYS, "retry")


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


def check_routes(routes: dict[str, Route], config: Config | None = None) -> list[VendorCheck]:
    """The reviewer must be a different model from the implementer, and is checked to be
    another vendor by the one rule of ``baton.llm.vendors`` (refused when the user's
    ``require_other_vendor`` is set); returns every check (``warns`` says which to tell)."""
    implementer, reviewer = routes["implementer"], routes["reviewer"]
    implementer_vendor = endpoint_vendor(config, implementer.endpoint)
    authors = [author_from_model(m, "implementer route", implementer_vendor)
               for m in _route_models(implementer)]
    checks = check_pairs(_route_models(reviewer), authors,
                         reviewer_endpoint_vendor=endpoint_vendor(config, reviewer.endpoint),
                         require_other_vendor=bool(config and config.require_other_vendor))
    return checks


def _route_models(route: Route) -> list[str]:
    """The models a route may answer with; an agent's are its vendor's (Claude Code is
    anthropic, Codex openai), whatever the model id says."""
    models = [route.model, *route.fallbacks]
    if route.agent is None:
        return models
    from baton.agents.cli import AGENT_VENDORS

    return [f"{AGENT_VENDORS[route.agent]}/{m.rsplit('/', 1)[-1]}" for m in models]


def check_endpoints(config: Config, routes: dict[str, Route], environ: dict[str, str], *,
                    roles: list[str] | None = None) -> list[str]:
    """Every role that will be called (``roles``, default the workflow's) has a defined
    endpoint and a key, before anything starts.

    Returns warnings: a local endpoint whose key variable is unset is said, not silent.
    """
    used = list(roles) if roles is not None else ["planner", "implementer", "reviewer"]
    if config.summarize_evidence:
        used.append("verifier")
    warnings: list[str] = []
    for role in used:
        name = routes[role].endpoint
        resolve_api_key(config.endpoint(name), environ)
        warning = missing_key_warning(name, config.endpoint(name), environ)
        if warning and warning not in warnings:
            warnings.append(warning)
    return warnings


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
class Continuation:
    """What continuing a run needs, checked before anything about the run is changed."""

    repo_root: Path
    run_dir: Path
    workflow: dict[str, Any]
    config: Config
    routes: dict[str, Route]
    remembered: dict[str, Any]


def prepare_continue(repo: Path, run_id: str, *, overrides: dict[str, Any] | None = None,
                     config_file: Path | None = None,
                     environ: dict[str, str] | None = None) -> Continuation:
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
    review = workflow.get("kind") == "review"  # a `baton review` has only a reviewer
    if not review:
        check_routes(routes, config)
    priced = {"reviewer": routes["reviewer"]} if review and "reviewer" in routes else routes
    check_prices_known(config.limits, config.role_limits, priced, config.prices)
    try:
        check_endpoints(config, routes, environ, roles=["reviewer"] if review else None)
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
    return Continuation(repo_root, run_dir, workflow, config, routes,
                         deep_merge(remembered, without_guards(overrides or {})))




# -- the engine: one start, one drive, one continue for every kind of run ---------------------


@dataclass
class Outcome:
    """How a run's gated steps ended: the decision, its reasons, the verification evidence,
    and what the driver needs to record it (the plan of ``baton run``, the verdict of
    ``baton review``)."""

    decision: str
    reasons: list[str]
    evidence: list[CommandEvidence] = field(default_factory=list)
    detail: Any = None


class NoGo(Exception):
    """Raised inside a driver's steps: the run ends no-go for ``reasons`` (a reviewer's
    block, rounds exhausted, edits that never applied, a protected path changed)."""

    def __init__(self, reasons: list[str] | str, detail: Any = None) -> None:
        self.reasons = [reasons] if isinstance(reasons, str) else list(reasons)
        super().__init__("; ".join(self.reasons))
        self.detail = detail


class Driver(Protocol):
    """What one kind of run gives the engine: its gated steps, and how it records an end.

    ``baton run`` (pipeline.py) and ``baton review`` (review/workflow.py) are the two; the
    engine owns the order (steps -> done, or paused, or failed) and every error path.
    """

    def steps(self, ctx: RunContext) -> Outcome:
        """Run the gated steps; raise ``NoGo`` to end no-go, ``AwaitingApproval`` or
        ``BudgetExhausted`` to pause."""
        ...

    def done(self, ctx: RunContext, outcome: Outcome) -> RunResult:
        """Record the decision (commit on go where the kind has a branch) and close."""
        ...

    def paused(self, ctx: RunContext, state: str, message: str, exit_code: int) -> RunResult:
        """Record a pause (approval gate: 3, budget: 4)."""
        ...

    def decided(self, ctx: RunContext, event: dict[str, Any]) -> RunResult:
        """On resume: the decision was recorded before the process stopped; finish only
        the bookkeeping."""
        ...


def begin(ctx: RunContext, driver: Driver, warnings: list[str], *,
          checks: Callable[[], list[str]] | None = None, **start: Any) -> RunResult:
    """The one start: ``run.start`` traced with ``start``, then ``checks()`` (what the start
    traces and warns of: sandbox, reviewer vendor), every warning shown before any money
    is spent, then :func:`drive`."""
    ctx.emit("run.start", key="run.start", **start)
    if checks is not None:
        warnings = warnings + checks()
    return _drive_warned(ctx, driver, warnings)


def drive(ctx: RunContext, driver: Driver) -> RunResult:
    """Run the driver's steps to an end: done (go or no-go), paused, or failed (a clear
    error naming the run; Ctrl-C and bugs included). The context is closed in every case."""
    try:
        try:
            outcome = driver.steps(ctx)
        except NoGo as stop:
            outcome = Outcome("no-go", stop.reasons, [], stop.detail)
        return driver.done(ctx, outcome)
    except (BudgetExhausted, AwaitingApproval) as exc:
        return driver.paused(ctx, *pause_reason(ctx, exc))
    except BatonError as exc:
        record_failure(ctx, str(exc))
        exc.run_id = ctx.run_id
        raise
    except KeyboardInterrupt as exc:  # Ctrl-C, or SIGTERM through the CLI's handler
        raise interrupted(ctx, exc) from exc
    except Exception as exc:  # a bug: keep the traceback, say where it is, name the run
        raise internal_error(ctx, exc) from exc
    finally:
        ctx.close()


def continue_run(ctx: RunContext, driver: Driver, events: list[dict[str, Any]],
                 prepared: Continuation, warnings: list[str], *, sandboxed: bool = True,
                 before: Callable[[], list[str]] | None = None, **resumed: Any) -> RunResult:
    """The one resume: replay what the trace recorded; if the decision was recorded, finish
    its bookkeeping; else ``before()`` (what a crashed process left, cleared; its warnings
    are added), ``run.resume`` traced (``repaired_trace`` defaults to "any warning so
    far"), the sandbox warning added when ``sandboxed``, every warning shown, and the
    steps driven again."""
    decided = replay(ctx, events)
    if decided is not None:
        try:
            result = driver.decided(ctx, decided)
        finally:
            ctx.close()
        result.warnings = warnings + result.warnings
        return result
    if before is not None:
        warnings = warnings + before()
    resumed.setdefault("repaired_trace", bool(warnings))
    mark_resumed(ctx, prepared.workflow, prepared.remembered, **resumed)
    if sandboxed:
        warnings = warnings + sandbox_warning(ctx)
    return _drive_warned(ctx, driver, warnings)


def _drive_warned(ctx: RunContext, driver: Driver, warnings: list[str]) -> RunResult:
    for warning in warnings:  # shown now, before any money is spent
        ctx.emit("warning", message=warning)
    result = drive(ctx, driver)
    result.warnings = warnings + result.warnings
    return result


# -- start -----------------------------------------------------------------------------------


class Settings(NamedTuple):
    """What a new run works with: the environment, repository, configuration and routes."""

    environ: dict[str, str]
    repo_root: Path
    config: Config
    policy: str
    routes: dict[str, Route]


def load_settings(repo: Path, *, config_file: Path | None, overrides: dict[str, Any] | None,
                  policy: str | None, environ: dict[str, str] | None) -> Settings:
    """The repository's root, the layered configuration and the routes of the policy
    (``policy`` or the configured one); ``environ`` defaults to the process's."""
    environ = dict(os.environ if environ is None else environ)
    repo_root = find_repo_root(repo)
    config = load_config(repo_root, config_file=config_file, overrides=overrides,
                         environ=environ)
    policy = policy or config.policy
    return Settings(environ, repo_root, config, policy, config.policy_routes(policy))


def new_run_folder(repo_root: Path) -> tuple[str, Path]:
    """A new run id and its folder under ``.baton/runs`` (kept out of git)."""
    run_id = new_run_id()
    exclude_from_git(repo_root)
    run_dir = runs_dir(repo_root) / run_id
    run_dir.mkdir(parents=True)
    return run_id, run_dir


def run_record(run_id: str, *, kind: str | None, task: str, title: str, repo_root: Path,
               base: str | None, branch: str | None, worktree: str | None, policy: str,
               routes: dict[str, Route], config_file: Path | None,
               overrides: dict[str, Any] | None, config: Config, environ: dict[str, str],
               packets: int | None, **extra: Any) -> dict[str, Any]:
    """A new run's ``workflow.json``: what resume needs, the flags' secrets masked."""
    return {
        "run_id": run_id, **({"kind": kind} if kind else {}), "task": task, "title": title,
        "repo": str(repo_root), "base_commit": base, "branch": branch, "worktree": worktree,
        "policy": policy, "routes": {role: r.model_dump() for role, r in routes.items()},
        "config_file": str(config_file) if config_file else None,
        # flags are remembered for resume, with any secret in them masked
        "overrides": SecretMasker(environ, extra=key_values(config, environ)).mask_obj(
            overrides or {}),
        "state": "running", "decision": None, "created": now_iso(), "updated": now_iso(),
        "packets": packets, "approval": None, **extra,
    }


def open_context(run_id: str, run_dir: Path, repo_root: Path, config: Config,
                 routes: dict[str, Route], worktree: Worktree, environ: dict[str, str],
                 progress: Progress | None) -> RunContext:
    """The run's context (trace open, fresh budget), holding the run's lock."""
    trace = run_trace(run_dir / "trace.jsonl", run_id)
    ctx = RunContext(run_id=run_id, run_dir=run_dir, repo_root=repo_root, config=config,
                     routes=routes, worktree=worktree, trace=trace,
                     budget=Budget(config.limits, config.role_limits),
                     masker=SecretMasker(environ, extra=key_values(config, environ)),
                     environ=environ, progress=progress)
    try:
        ctx.lock()
    except BatonError:
        trace.close()
        raise
    return ctx


def verify_origins(config: Config) -> list[dict[str, str]]:
    """The configured verify commands and where each came from (none replaces another)."""
    origins = config.verify_origins
    return [{"command": c, "from": origins[i] if i < len(origins) else "default"}
            for i, c in enumerate(config.verify_commands)]


def sandbox_warning(ctx: RunContext) -> list[str]:
    """Say at the start of every run, in the trace too, when commands run unsandboxed."""
    notice = sandbox_notice(ctx.config.sandbox)
    if notice is None:
        return []
    ctx.emit("sandbox", requested=ctx.config.sandbox, used="none", warning=notice)
    return [notice]


def vendor_warnings(ctx: RunContext, checks: list[VendorCheck]) -> list[str]:
    """Every reviewer-vendor check goes in the trace; what is not "another vendor" is said
    to the user (each message once)."""
    for check in checks:
        ctx.emit("reviewer.vendor", **check.to_event())
    return list(dict.fromkeys(c.message for c in checks if c.warns))


def endpoint_vendor(config: Config | None, name: str) -> str | None:
    """The vendor the configuration names for endpoint ``name``, if any."""
    endpoint = config.endpoints.get(name) if config is not None else None
    return endpoint.vendor if endpoint is not None else None


# -- continue --------------------------------------------------------------------------------


def replay(ctx: RunContext, events: list[dict[str, Any]]) -> dict[str, Any] | None:
    """Load what the trace recorded (answers to replay, budget spent); returns the last
    decision event when the run was decided before it stopped."""
    ctx.recorded, ctx.emitted, ctx.cut_off = load_replay(events)
    ctx.budget = Budget.from_events(ctx.config.limits, ctx.config.role_limits, events)
    decided = [e for e in events if e.get("type") == "decision"]
    return decided[-1] if decided else None


def mark_resumed(ctx: RunContext, previous: dict[str, Any], remembered: dict[str, Any], *,
                 repaired_trace: bool, **extra: Any) -> dict[str, Any]:
    """The run is running again: a crashed process's disposable checkout removed, the
    remembered flags (masked) and the state in ``workflow.json``, ``run.resume`` traced."""
    remove_stale_checkout(ctx.run_dir, ctx.config.checkout_dir)
    workflow = ctx.update_workflow(overrides=ctx.masker.mask_obj(remembered), state="running")
    ctx.emit("run.resume", previous_state=previous["state"], repaired_trace=repaired_trace,
             recorded_calls=len(ctx.recorded), **extra)
    return workflow


# -- the gate --------------------------------------------------------------------------------


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


# -- the approval gate: one rule for every kind of run -----------------------------------


def change_rules(ctx: RunContext, approval: Approval, *, risk_level: str, base: str,
                 tree: str, changes: list[FileChange]) -> list[str]:
    """The approval rules that fire on the change from ``base`` to ``tree`` (the files
    that configure baton or the checks read on both sides)."""
    return fired_rules(approval, risk_level=risk_level, changes=changes,
                       read=tree_reader(ctx.repo_root, base, tree))


def tree_reader(repo_root: Path, base: str, tree: str) -> Callable[[str, str], str | None]:
    """``read(path, "old" | "new")``: a file's text in ``base`` or ``tree`` (None: absent)."""
    def read(path: str, side: str) -> str | None:
        return file_text(repo_root, base if side == "old" else tree, path)

    return read


def stop_for_approval(ctx: RunContext, rules: list[str], tree: str, *, stage: str = "",
                      when: str, inspect: str) -> None:
    """Pause (exit 3) unless a person approved this very tree *and* every rule in
    ``rules``: an approval is for a tree and the rules that fired on it, in ``baton run``
    and ``baton review`` alike. A rule nobody has seen on this tree stops again, naming
    only the new rules; ``inspect`` says where to look at the change."""
    if not rules:
        return
    approval = read_workflow(ctx.run_dir).get("approval") or {}
    same_tree = approval.get("status") == "approved" and approval.get("tree") == tree
    seen = list(approval.get("rules") or []) if same_tree else []
    new = [r for r in dict.fromkeys(rules) if r not in seen]
    if not new:
        return
    key = "approval.required" + (f"/{stage}" if stage else "")
    if seen:  # asked again on this tree, for rules nobody approved yet: its own record
        key += "/" + hashlib.sha256("\n".join(new).encode()).hexdigest()[:12]
    ctx.emit("approval.required", key=key, rules=new,
             approved_before=[r for r in rules if r in seen], tree=tree, stage=stage or None)
    ctx.update_workflow(approval={"status": "pending",
                                  "rules": list(dict.fromkeys([*seen, *rules])),
                                  "tree": tree})
    raise AwaitingApproval(
        f"run {ctx.run_id} needs a person's approval {when}:\n  - " + "\n  - ".join(new)
        + f"\n{inspect}, then `baton approve {ctx.run_id}` or "
        f"`baton reject {ctx.run_id} --reason ...`")


# -- ending ----------------------------------------------------------------------------------


def totals(ctx: RunContext) -> dict[str, Any]:
    """What the run spent, for the result, ``run.end`` and ``workflow.json``."""
    spent = ctx.budget.spent
    return {"calls": spent.calls, "input_tokens": spent.input_tokens,
            "output_tokens": spent.output_tokens, "cost_usd": round(spent.cost_usd, 6),
            "unknown_cost_calls": spent.unknown_cost_calls, "wall_s": round(spent.wall_s, 3)}


def write_summary(ctx: RunContext) -> None:
    """The run folder's summary.md, from its trace."""
    from baton.runs.summary import write_summary as write

    write(ctx.run_dir)


def end_done(ctx: RunContext, decision: str, reasons: list[str],
             commit: str | None) -> dict[str, Any]:
    """After the decision is recorded: ``run.end``, the done state, summary.md; returns
    the totals."""
    spent = totals(ctx)
    ctx.emit("run.end", key="run.end", state="done", decision=decision, totals=spent)
    ctx.update_workflow(state="done", decision=decision, reasons=reasons, commit=commit,
                        totals=spent)
    write_summary(ctx)
    return spent


def pause_reason(ctx: RunContext, exc: BaseException) -> tuple[str, str, int]:
    """The paused state, message and exit code of a budget stop (4, traced) or an approval
    gate (3)."""
    if isinstance(exc, BudgetExhausted):
        ctx.emit("budget.exhausted", limit=getattr(exc, "limit", None), message=str(exc))
        return "budget_exhausted", str(exc).replace("<run>", ctx.run_id), 4
    return "awaiting_approval", str(exc), 3


def set_paused(ctx: RunContext, state: str, message: str) -> None:
    """Record a pause (state event, ``workflow.json``, summary.md)."""
    ctx.emit("state", state=state, detail=message)
    ctx.update_workflow(state=state, detail=message)
    write_summary(ctx)


def record_failure(ctx: RunContext, message: str) -> None:
    """Record a failed run (state event, ``run.end``, ``workflow.json``, summary.md)."""
    ctx.emit("state", state="failed", detail=message)
    ctx.emit("run.end", state="failed", decision=None, totals=totals(ctx), error=message)
    ctx.update_workflow(state="failed", error=message)
    write_summary(ctx)


def interrupted(ctx: RunContext, exc: KeyboardInterrupt) -> RunInterrupted:
    """Ctrl-C or SIGTERM: the run is recorded as interrupted, resumable, and said so."""
    from baton.errors import Terminated

    signal_name = "SIGTERM" if isinstance(exc, Terminated) else "Ctrl-C"
    detail = f"stopped by {signal_name}"
    ctx.emit("state", state="interrupted", detail=detail)
    ctx.update_workflow(state="interrupted", detail=detail)
    return RunInterrupted(
        f"run {ctx.run_id} {detail}; everything so far is in {ctx.run_dir / 'trace.jsonl'}. "
        f"Continue with `baton resume {ctx.run_id}`.", run_id=ctx.run_id,
        signal_name=signal_name)


def internal_error(ctx: RunContext, exc: Exception) -> InternalError:
    """A bug: the traceback kept in ``error.txt``, the run recorded as failed, named."""
    import traceback

    details = ctx.run_dir / "error.txt"
    ctx.write("error.txt", "".join(traceback.format_exception(exc)))
    message = f"unexpected {type(exc).__name__}: {exc}"
    record_failure(ctx, message)
    error = InternalError(
        f"run {ctx.run_id} failed on an {message} (a bug in baton; the traceback is in "
        f"{details}). The trace is intact: `baton resume {ctx.run_id}` may continue it.",
        details=str(details))
    error.run_id = ctx.run_id
    return error
