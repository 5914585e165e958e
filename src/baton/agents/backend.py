"""A role answered by a coding agent's command line (Claude Code, Codex), behind the same
seam as a model (``baton.backends.RoleBackend``), so every gate stays baton's.

Each agent run works in a **scratch copy** of the run's worktree (its files, and a
throwaway git repository of their own so the agent's ``git diff`` works) under
``.baton/runs/<id>/agents/<n>-<role>/``, with a private home folder (never the user's
agent settings), inside baton's sandbox (the network stays: the agent must reach its
endpoint), the role's wall-clock limit, process clean-up and a scrubbed environment that
gets back only the agent's own key.

- implementer: the files the agent changed become whole-file edits, applied to the real
  worktree through ``apply_edits`` (path safety, protected paths, size caps, outside-plan
  flags), then the workflow's tampering, approval and verification gates as for a model.
  What the agent did to git (commits, refs, hooks, config) stays in the scratch
  repository: it is discarded and reported, never trusted.
- planner, reviewer: the agent's final message is the answer, parsed and gated by the
  workflow (plan gate, verdict repair-once); files it changed are discarded and reported.

Usage comes from the agent's own output, as one ``model.call`` event per agent run with
``source`` the agent's name; cost from baton's price table (an agent's own cost figure is
kept as ``agent_claimed_cost_usd``). The budget left is passed where the agent takes it
(``--max-budget-usd``) and enforced by baton in any case: the agent's session log is read
while it runs, and the agent is stopped when its spend reaches what is left.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from baton.agents.cli import DEFAULT_COMMANDS, Invocation, Usage, agent_cli
from baton.config.prices import unit_price
from baton.errors import BudgetExhausted, EditError, ProviderError
from baton.llm.pricing import call_cost
from baton.secrets import SecretMasker
from baton.workspace.edits import AppliedEdits, Edit, apply_edits
from baton.workspace.sandbox import run_command

if TYPE_CHECKING:
    from baton.config import Route
    from baton.run_context import RunContext

SKIP = {".git", ".baton"}
"""Never copied into the scratch copy, never read back from it."""
MAX_FILE_BYTES = 4 * 1024 * 1024


@dataclass
class AgentRun:
    text: str
    usage: Usage
    git_changes: list[str]
    stray_files: dict[str, bytes | None]


def _files(root: Path) -> dict[str, bytes]:
    """Every regular file under ``root`` (relative posix path -> bytes), .git excluded."""
    found: dict[str, bytes] = {}
    for folder, dirs, names in os.walk(root):
        dirs[:] = [d for d in dirs if d not in SKIP
                   and not os.path.islink(os.path.join(folder, d))]
        for name in names:
            if name in SKIP and folder == str(root):  # a linked worktree's ".git" file
                continue
            path = Path(folder) / name
            if path.is_symlink() or not path.is_file():
                continue
            if path.stat().st_size > MAX_FILE_BYTES:
                found[path.relative_to(root).as_posix()] = b"\0too large"
                continue
            found[path.relative_to(root).as_posix()] = path.read_bytes()
    return found


def _git(cwd: Path, *args: str) -> str:
    proc = subprocess.run(["git", "-c", "user.name=baton", "-c", "user.email=baton@localhost",
                           "-c", "core.hooksPath=/dev/null", "-c", "init.defaultBranch=main",
                           *args], cwd=cwd, capture_output=True, text=True)
    return proc.stdout.strip()


def _git_state(work: Path) -> dict[str, str]:
    """What the agent could change in its scratch repository's metadata."""
    git = work / ".git"
    state = {"HEAD": _git(work, "rev-parse", "HEAD"),
             "refs": _git(work, "for-each-ref", "--format=%(refname) %(objectname)"),
             "config": (git / "config").read_text(errors="replace") if (git / "config").exists()
             else ""}
    hooks = git / "hooks"
    state["hooks"] = "\n".join(sorted(p.name for p in hooks.iterdir()
                                      if not p.name.endswith(".sample"))) if hooks.is_dir() else ""
    return state


def _git_changes(before: dict[str, str], after: dict[str, str]) -> list[str]:
    said = {"HEAD": "moved HEAD (committed or checked out)", "refs": "created or moved refs",
            "config": "rewrote .git/config", "hooks": "installed git hooks"}
    return [said[k] for k in said if before.get(k) != after.get(k)]


def _prompt(role: str, messages: list[dict[str, str]], *, edits: bool) -> str:
    parts = [f"## {m.get('role', 'user')}\n\n{m.get('content', '')}" for m in messages]
    if edits:
        tail = ("You are the implementer in baton's gated workflow. Make the change described "
                "above by editing the files in the current directory directly. Do not commit, "
                "do not create branches, do not touch .git. Run the tests if you like. When "
                "done, reply with one short paragraph saying what you changed.")
    else:
        tail = (f"You are the {role} in baton's gated workflow. Read the files in the current "
                "directory as you need, change nothing, and reply with exactly the JSON object "
                "the instructions above ask for, and nothing else.")
    return "\n\n".join([*parts, "## baton", tail])


class ChangeRequestLike(Protocol):
    """What ``change`` reads of ``backends.ChangeRequest`` (named structurally: the
    backends module is the layer above, which imports this one)."""

    index: int
    round: int
    allowed_files: list[str]

    def context(self) -> dict[str, Any]: ...


class AgentBackend:
    """A role answered by a coding agent's command line (see the module docstring)."""

    def __init__(self, route: Route) -> None:
        self.route = route
        self.cli = agent_cli(route.agent or "")

    # -- the seam ------------------------------------------------------------------------

    def answer(self, ctx: RunContext, role: str, messages: list[dict[str, str]],
               call_key: str, *, packet: int | None, round: int | None) -> str:
        if call_key in ctx.recorded:
            return (ctx.run_dir / ctx.recorded[call_key]).read_text(encoding="utf-8")
        run = self._run(ctx, role, call_key, _prompt(role, messages, edits=False),
                        edits=False, context={"packet": packet, "round": round})
        if run.stray_files:
            ctx.emit("agent.discarded", role=role, call_key=call_key,
                     files=sorted(run.stray_files),
                     reason=f"the {role} agent changed files; its changes were discarded")
        return run.text

    def change(self, ctx: RunContext, request: ChangeRequestLike, call_key: str) -> AppliedEdits:
        from baton import prompts

        if call_key in ctx.recorded:  # resumed: apply the recorded change again
            recorded = json.loads((ctx.run_dir / ctx.recorded[call_key]).read_text())
            files = {p: (None if c is None else c.encode("utf-8"))
                     for p, c in recorded["files"].items()}
            git_changes = list(recorded.get("git_changes", []))
        else:
            messages = prompts.render("implementer", **{**request.context(),
                                                        "edit_format": "search_replace"})
            run = self._run(ctx, "implementer", call_key,
                            _prompt("implementer", messages, edits=True), edits=True,
                            context={"packet": request.index, "round": request.round},
                            record=lambda r: json.dumps({
                                "summary": r.text, "git_changes": r.git_changes,
                                "files": {p: None if c is None else c.decode("utf-8", "replace")
                                          for p, c in r.stray_files.items()}}, indent=1))
            files, git_changes = run.stray_files, run.git_changes
        if git_changes:
            ctx.emit("agent.git", role="implementer", call_key=call_key, changes=git_changes,
                     undone=True, reason="the agent changed git metadata in its scratch "
                     "repository; that was discarded, only its file changes are used")
        edits: list[Edit] = []
        for path, content in sorted(files.items()):
            if content is None:
                edits.append(Edit(path=path, kind="delete", search="", replace=""))
                continue
            if b"\0" in content:
                raise EditError(f"the agent wrote {path}, which is binary or too large; "
                                "baton takes text changes only")
            text = content.decode("utf-8", "replace")
            edits.append(Edit(path=path, kind="whole", search="", replace=text)
                         if (ctx.worktree.path / path).exists()
                         else Edit(path=path, kind="create", search="", replace=text))
        if not edits:
            raise EditError("the agent changed no file; make the change in the files")
        applied = apply_edits(ctx.worktree.path, edits, protected=ctx.config.protected_paths,
                              allowed_files=request.allowed_files)
        applied.edit_format = f"agent:{self.cli.name}"
        applied.notes = [f"the agent {c} in its scratch repository (discarded)"
                         for c in git_changes]
        return applied

    # -- one agent run -------------------------------------------------------------------

    def _run(self, ctx: RunContext, role: str, call_key: str, prompt: str, *, edits: bool,
             context: dict[str, Any], record: Any = None) -> AgentRun:
        route = self.route
        endpoint = ctx.config.endpoint(route.endpoint)
        from baton.llm.provider import resolve_api_key

        key = resolve_api_key(endpoint, ctx.environ)
        price = unit_price(route.model, ctx.config.prices)
        left = _budget_left(ctx, role)
        if left is not None and left <= 0:
            raise BudgetExhausted(f"the {role} role's budget is spent; the agent was not "
                                  "started (raise the limit and resume)")
        number = ctx._next_number()
        holder = ctx.run_dir / "agents" / f"{number:02d}-{role}"
        work, home, tmp = holder / "work", holder / "home", holder / "tmp"
        shutil.rmtree(holder, ignore_errors=True)
        for folder in (home, tmp):
            folder.mkdir(parents=True)
        before = _copy_tree(ctx.worktree.path, work)
        if (work / ".git").exists():
            raise ProviderError(f"internal: the scratch copy {work} holds a .git")
        _git(work, "init", "-q")
        _git(work, "add", "-A")
        _git(work, "commit", "-q", "--no-verify", "-m", "baton: the worktree as given")
        git_before = _git_state(work)
        executable = route.agent_command or shutil.which(DEFAULT_COMMANDS[self.cli.name]) \
            or DEFAULT_COMMANDS[self.cli.name]
        # No call key: an agent makes many calls, and the gateway would replay one answer.
        headers = {**endpoint.headers, "X-Baton-Run": ctx.run_id}
        invocation: Invocation = self.cli.invocation(
            executable=str(executable), model=route.model, prompt=prompt,
            base_url=endpoint.base_url, api_key=key, home=home, tmp=tmp,
            extra_args=list(route.agent_args), headers=headers,
            budget_usd=left, json_schema=None, edits=edits)
        prompt_file = f"packets/{number:02d}-{role}.md"
        ctx.write(prompt_file, f"# {role} ({self.cli.name} agent)\n\ncall: `{call_key}`\n\n"
                  f"```\n{ctx.masker.mask(invocation.command)}\n```\n\n{prompt}\n")
        ctx.emit("model.start", role=role, call_key=call_key, attempt=1,
                 endpoint=route.endpoint, prompt_file=prompt_file, source=self.cli.name,
                 **{"gen_ai.request.model": route.model}, **context)
        over = [False]

        def stop() -> bool:
            if left is None:
                return False
            cost = _cost(route.model, self.cli.live_usage_from_home(home), price, ctx)
            over[0] = cost is not None and cost >= left
            return over[0]

        started = time.monotonic()
        evidence = run_command(
            invocation.command, work, timeout_s=route.agent_timeout_s, source="config",
            env=ctx.environ, sandbox=ctx.config.sandbox,
            secrets=SecretMasker(ctx.environ, extra=[key]), max_output_bytes=4_000_000,
            network=True, writable=[home, tmp],
            pass_env={**invocation.env, **invocation.secret_env}, stop=stop,
            log_path=ctx.run_dir / "agents" / f"{number:02d}-{role}.log")
        wall = time.monotonic() - started
        outcome = self.cli.outcome(evidence.output_tail, invocation)
        usage = outcome.usage
        if usage.input_tokens is None:
            usage = self.cli.live_usage_from_home(home)
        cost = call_cost(route.model, input_tokens=usage.input_tokens,
                         output_tokens=usage.output_tokens, cached_tokens=usage.cached_tokens,
                         prices=ctx.config.prices)
        ctx.budget.record(role, input_tokens=usage.input_tokens,
                          output_tokens=usage.output_tokens, cost_usd=cost.usd, wall_s=wall)
        after = _files(work)
        changed: dict[str, bytes | None] = {p: c for p, c in after.items()
                                            if before.get(p) != c}
        changed.update({p: None for p in before if p not in after})
        git_changes = _git_changes(git_before, _git_state(work))
        shutil.rmtree(work, ignore_errors=True)
        tail = evidence.output_tail[-1500:]
        fields: dict[str, Any] = {
            "role": role, "call_key": call_key, "attempt": 1, "endpoint": route.endpoint,
            "source": self.cli.name, "gen_ai.operation.name": "agent",
            "gen_ai.request.model": route.model, "latency_s": round(wall, 3),
            "prompt_file": prompt_file, "agent_calls": usage.calls,
            "agent_exit_code": evidence.exit_code,
            "agent_claimed_cost_usd": usage.claimed_cost_usd,
            "gen_ai.usage.input_tokens": usage.input_tokens,
            "gen_ai.usage.output_tokens": usage.output_tokens,
            "cost_usd": cost.usd, "cost_source": cost.source, **context}
        failure = None
        if over[0] or (left is not None and cost.usd is not None and cost.usd >= left):
            failure = "budget"  # stopped by baton, or by the agent's own budget flag
        elif evidence.timed_out:
            failure = (f"the {self.cli.name} agent did not finish within "
                       f"{route.agent_timeout_s:g} s (agent_timeout_s) and was stopped")
        elif not evidence.ran:
            failure = f"the {self.cli.name} agent could not start: {evidence.reason_not_run}"
        elif evidence.exit_code != 0 or outcome.problem or outcome.text is None:
            failure = (f"the {self.cli.name} agent failed (exit {evidence.exit_code}): "
                       f"{outcome.problem or 'no answer'}")
        if failure is not None:
            ctx.emit("model.call", outcome="error", error=failure if failure != "budget"
                     else "stopped at the budget", **fields)
            if failure == "budget":
                raise BudgetExhausted(
                    f"the {role} agent was stopped: its spend reached the ${left:.4f} left "
                    f"in the budget (baton's prices for {route.model}); raise the limit and "
                    "resume")
            raise ProviderError(f"{failure}\n  its output ended with:\n    "
                                + tail.replace("\n", "\n    "))
        run = AgentRun(outcome.text or "", usage, git_changes, changed)
        response_file = f"responses/{number:02d}-{role}.md"
        ctx.write(response_file, record(run) if record else run.text)
        ctx.recorded[call_key] = response_file
        ctx.emit("model.call", outcome="ok", response_file=response_file, **fields)
        return run


def _copy_tree(src: Path, dest: Path) -> dict[str, bytes]:
    files = _files(src)
    for rel, content in files.items():
        target = dest / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(content)
        mode = (src / rel).stat().st_mode
        os.chmod(target, mode & 0o777)
    dest.mkdir(parents=True, exist_ok=True)
    return files


def _cost(model: str, usage: Usage, price: Any, ctx: RunContext) -> float | None:
    if usage.input_tokens is None:
        return None
    return call_cost(model, input_tokens=usage.input_tokens,
                     output_tokens=usage.output_tokens, cached_tokens=usage.cached_tokens,
                     prices=ctx.config.prices).usd


def _budget_left(ctx: RunContext, role: str) -> float | None:
    """Dollars left for ``role``: the run's and the role's limits, whichever is nearer."""
    left = []
    budget = ctx.budget
    if budget.limits.max_cost_usd is not None:
        left.append(budget.limits.max_cost_usd - budget.spent.cost_usd)
    role_limits = budget.role_limits.get(role)
    if role_limits is not None and role_limits.max_cost_usd is not None:
        spent = budget.spent_by_role().get(role)
        left.append(role_limits.max_cost_usd - (spent.cost_usd if spent else 0.0))
    return min(left) if left else None
