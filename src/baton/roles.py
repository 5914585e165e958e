"""The roles' steps: each builds its role's packet, has the role's backend answer it
(``baton.backends``: a model or an agent command line), and gates the answer."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from baton import backends, prompts
from baton.errors import EditError, ModelOutputError
from baton.evidence.beforeafter import prompt_results
from baton.models import Plan, PlanPacket, Verdict
from baton.parsing import OutputInvalid, parse_plan, parse_verdict
from baton.run_context import RunContext
from baton.secrets import secret_file_pattern
from baton.workspace.edits import AppliedEdits
from baton.workspace.repomap import key_files, repo_map
from baton.workspace.safepaths import MAX_PATH_CHARS, UnsafePathError, check_path, safe_parts


def plan_task(ctx: RunContext, task: str) -> Plan:
    """Ask the planner; one repair request with the gate's errors, then a clear error."""
    root = ctx.worktree.path
    files = ctx.worktree.files()
    budget = ctx.config.repo_map_bytes
    context = {
        "task": task, "repo_map": repo_map(root, files, budget),
        "key_files": [f for f in key_files(root, files, budget // 2)
                      if withheld_reason(f["path"], ctx.config.protected_paths) is None],
        "max_packets": ctx.config.max_packets, "repair_errors": [],
        "base_results": prompt_results(ctx.baseline),
    }
    errors: list[str] = []
    for attempt in range(1, ctx.config.max_plan_attempts + 1):
        context["repair_errors"] = errors
        text = backends.for_role(ctx, "planner").answer(
            ctx, "planner", prompts.render("planner", **context), f"planner/a{attempt}",
            packet=None, round=None)
        try:
            plan = parse_plan(text, max_packets=ctx.config.max_packets)
        except OutputInvalid as exc:
            note = ctx.cut_note(f"planner/a{attempt}", "planner")
            errors = exc.errors + ([note.strip()] if note else [])
            ctx.emit("plan.gate", key=f"plan.gate/a{attempt}", attempt=attempt, passed=False,
                     errors=errors)
            continue
        ctx.emit("plan.gate", key=f"plan.gate/a{attempt}", attempt=attempt, passed=True,
                 errors=[])
        ctx.write("plan.json", plan.model_dump_json(indent=2))
        ctx.write("plan.md", plan_text(plan))
        return plan
    raise ModelOutputError(
        f"the planner's output failed the plan gate {ctx.config.max_plan_attempts} times: "
        + "; ".join(errors)
        + f". Its answers are in {ctx.run_dir / 'responses'}; try a stronger planner model "
        "or rephrase the task."
    )


def plan_text(plan: Plan) -> str:
    """The plan as Markdown, for prompts and people."""
    lines = [f"## Summary\n{plan.summary}\n", f"Risk level: **{plan.risk_level}**\n",
             "## Affected files"]
    lines += [f"- `{f.path}`: {f.change}" for f in plan.affected_files]
    lines += ["\n## Risks"] + [f"- {r}" for r in plan.risks]
    lines += ["\n## Acceptance criteria"] + [f"- {c}" for c in plan.acceptance_criteria]
    lines += ["\n## Test commands"] + [f"- `{c}`" for c in plan.test_commands]
    lines += [f"\n## Rollback\n{plan.rollback}"]
    if plan.packets:
        lines.append("\n## Packets")
        for i, p in enumerate(plan.packets, 1):
            lines.append(f"{i}. **{p.title}**: {p.goal} (files: {', '.join(p.files)})")
    return "\n".join(lines) + "\n"


# Share of max_prompt_bytes the implementer's file contents may fill; the rest is the task,
# the plan, the reviewer's fixes and the instructions.
FILES_SHARE = 0.75


def withheld_reason(rel: str, protected: list[str]) -> str | None:
    """Why a file is never sent to a model (a secret-file name, a protected path), or None."""
    pattern = secret_file_pattern(rel)
    if pattern is not None:
        return (f"withheld: the name matches the secret-file pattern {pattern!r}; baton "
                "never sends such files to a model")
    try:
        safe_parts(rel, protected, MAX_PATH_CHARS)
    except UnsafePathError as exc:
        if "protected" in exc.reason:
            return f"withheld: {exc.reason} (protected_paths); baton never sends it to a model"
    return None


def _file_context(root: Path, paths: list[str], *, protected: list[str] | None = None,
                  budget_bytes: int | None = None) -> list[dict]:
    """Current content of the named files, within a byte budget (cut with a visible note).

    A path that leaves the worktree is never read; a secret-looking or protected file is
    withheld, and the prompt says so.
    """
    out = []
    left = budget_bytes
    for rel in paths:
        reason = withheld_reason(rel, protected or [])
        if reason is not None:
            out.append({"path": rel, "exists": True, "content": "", "refused": reason})
            continue
        try:
            path = check_path(root, rel)
        except UnsafePathError as exc:
            out.append({"path": rel, "exists": False, "content": "",
                        "refused": f"refused: {exc.reason}"})
            continue
        try:
            exists = path.is_file()
            content = _read_within(path, left) if exists else ""
        except OSError:
            exists, content = False, ""
        if left is not None and exists:
            left = max(0, left - len(content.encode("utf-8")))
        out.append({"path": rel, "exists": exists, "content": content, "refused": ""})
    return out


def _read_within(path: Path, left: int | None) -> str:
    """The file's text, or as much as fits in ``left`` bytes with a note saying it was cut."""
    size = path.stat().st_size
    if left is None or size <= left:
        return path.read_text(encoding="utf-8", errors="replace")
    with path.open("rb") as fh:
        head = fh.read(left).decode("utf-8", errors="ignore")
    return (f"{head}\n[baton: cut here: the file is {size} bytes and only {left} more bytes "
            "of file content fit in this prompt (max_prompt_bytes); name fewer files or "
            "raise the limit to see the rest]")


@dataclass
class PatchResult:
    """What the implementer's accepted edits did, or why none applied."""

    applied: AppliedEdits | None
    error: str | None = None


def implement(ctx: RunContext, task: str, plan: Plan, packet: PlanPacket, index: int,
              count: int, round_: int, fixes: list[str]) -> PatchResult:
    """Have the implementer make its change; a refused change goes back with the reason."""
    root = ctx.worktree.path
    names = list(dict.fromkeys([*packet.files, *(plan.files() if count == 1 else [])]))
    backend = backends.for_role(ctx, "implementer")
    error = ""
    for attempt in range(1, ctx.config.max_edit_attempts + 1):
        request = backends.ChangeRequest(
            task=task, plan_text=plan_text(plan), packet=packet, index=index, count=count,
            round=round_, allowed_files=names,
            files=_file_context(root, names, protected=ctx.config.protected_paths,
                                budget_bytes=int(ctx.config.max_prompt_bytes * FILES_SHARE)),
            required_fixes=fixes, edit_error=error,
            base_results=prompt_results(ctx.baseline) if round_ == 1 and not fixes else [],
        )
        key = f"p{index}/r{round_}/e{attempt}"
        try:
            applied = backend.change(ctx, request, f"implementer/{key}")
        except EditError as exc:
            error = str(exc) + ctx.cut_note(f"implementer/{key}", "implementer")
            ctx.emit("edits.rejected", key=f"edits.rejected/{key}", packet=index,
                     round=round_, attempt=attempt, reason=error)
            continue
        ctx.emit("edits.applied", key=f"edits.applied/{key}", packet=index, round=round_,
                 files=applied.files, added=applied.added, removed=applied.removed,
                 outside_plan=applied.outside_plan, tolerances=applied.tolerances,
                 edit_format=applied.edit_format, deleted=applied.deleted,
                 renamed=applied.renamed)
        return PatchResult(applied)
    return PatchResult(None, error)


def review(ctx: RunContext, task: str, plan: Plan, packet: PlanPacket, index: int,
           count: int, round_: int, diff: str, flags: list[str],
           previous_fixes: list[str] | None = None) -> Verdict:
    """Ask the reviewer for a verdict on the packet's diff; one repair if unreadable.

    From round 2 on it is shown the fixes it required in the round before.
    """
    context = dict(task=task, plan_text=plan_text(plan), packet=packet, packet_index=index,
                   packet_count=count, round=round_, max_rounds=ctx.config.max_review_rounds,
                   flags=flags, diff=diff or "(empty diff: no changes)",
                   previous_fixes=previous_fixes or [])
    messages = prompts.render("reviewer", **context)
    verdict = ask_verdict(ctx, messages, f"reviewer/p{index}/r{round_}", packet=index,
                          round_=round_)
    ctx.write(f"reviews/p{index}-r{round_}.json", verdict.model_dump_json(indent=2))
    ctx.emit("review.verdict", key=f"review.verdict/p{index}/r{round_}", packet=index,
             round=round_, model=ctx.routes["reviewer"].model, verdict=verdict.verdict,
             required_fixes=verdict.required_fixes)
    return verdict


def ask_verdict(ctx: RunContext, messages: list[dict[str, str]], key: str, *,
                packet: int | None, round_: int) -> Verdict:
    """Ask the reviewer (call ``key``) and read its verdict; one repair request if it is
    unreadable (call ``key/a2``), then a clear error. Shared by ``baton run`` and
    ``baton review``; the caller records the verdict."""
    errors: list[str] = []
    for attempt in (1, 2):
        if errors:
            repair = ("Your previous answer could not be used: " + "; ".join(errors)
                      + ". Return the complete JSON verdict.")
            messages = [*messages, {"role": "user", "content": repair}]
        suffix = "" if attempt == 1 else f"/a{attempt}"
        text = backends.for_role(ctx, "reviewer").answer(
            ctx, "reviewer", messages, f"{key}{suffix}", packet=packet, round=round_)
        try:
            return parse_verdict(text)
        except OutputInvalid as exc:
            errors = exc.errors
    raise ModelOutputError(
        "the reviewer's verdict could not be read twice: " + "; ".join(errors)
        + f". Its answers are in {ctx.run_dir / 'responses'}."
    )


def summarize_evidence(ctx: RunContext, decision: str, evidence: list) -> str:
    """A labeled summary of the recorded evidence by the verifier's model; never decides."""
    messages = prompts.render("verifier", decision=decision,
                              evidence=[e.model_dump() for e in evidence])
    text = backends.for_role(ctx, "verifier").answer(ctx, "verifier", messages,
                                                     "verifier/summary", packet=None, round=None)
    model = ctx.routes["verifier"].model
    return f"_Summary by {model}, from the recorded evidence only; it decides nothing._\n\n{text}"
