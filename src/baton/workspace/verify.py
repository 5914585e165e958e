"""The verifier: the harness runs the commands itself and decides from exit codes."""

from __future__ import annotations

import re

from baton.models import CommandEvidence, Plan, Verdict
from baton.run_context import RunContext
from baton.workspace.detect import detect_test_commands
from baton.workspace.sandbox import run_command

_SHELL_META = re.compile(r"[;&|`$<>(){}\n\\]")


def model_command_allowed(command: str, allowlist: list[str], allow_all: bool) -> str | None:
    """None if a model-proposed command may run, else the reason it may not."""
    if allow_all:
        return None
    if _SHELL_META.search(command):
        return "proposed by a model and contains shell operators; not on any allowlist"
    for entry in allowlist:
        if command == entry or command.startswith(entry.rstrip() + " "):
            return None
    return ("proposed by a model and not on command_allowlist; add it to your user config "
            "or pass --allow-model-commands")


def planned_commands(ctx: RunContext, plan: Plan | None, verdicts: list[Verdict]
                     ) -> list[tuple]:
    """(command, source, reason-not-run) in order, without duplicates."""
    config = ctx.config
    seen: set[str] = set()
    out: list[tuple[str, str, str | None]] = []

    def add(command: str, source: str, reason: str | None) -> None:
        command = command.strip()
        if command and command not in seen:
            seen.add(command)
            out.append((command, source, reason))

    configured = config.verify_commands
    for command in configured or detect_test_commands(ctx.worktree.path):
        add(command, "config" if configured else "detected", None)
    proposed = [(c, "plan") for c in (plan.test_commands if plan is not None else [])]
    proposed += [(c, "reviewer") for v in verdicts for c in v.verification_commands]
    for command, source in proposed:
        if not config.run_plan_commands and source == "plan":
            add(command, source, "run_plan_commands is off")
            continue
        add(command, source, model_command_allowed(
            command, config.command_allowlist, config.allow_model_commands))
    return out


def verify(ctx: RunContext, plan: Plan | None, verdicts: list[Verdict]
           ) -> list[CommandEvidence]:
    """Run every allowed command in the worktree; list the others as not run (``plan`` is
    None for a reviewed change that came with no plan)."""
    evidence: list[CommandEvidence] = []
    for number, (command, source, reason) in enumerate(planned_commands(ctx, plan, verdicts), 1):
        key = f"command/{number}"
        stored = ctx.run_dir / "evidence" / f"{number:02d}.json"
        if key in ctx.emitted and stored.is_file():
            evidence.append(CommandEvidence.model_validate_json(stored.read_text()))
            continue
        if reason is not None:
            item = CommandEvidence(command=command, source=source, ran=False,
                                   reason_not_run=reason)
        else:
            item = run_command(
                command, ctx.worktree.path, timeout_s=ctx.config.command_timeout_s,
                source=source, max_output_bytes=ctx.config.max_output_bytes,
                sandbox=ctx.config.sandbox, log_path=ctx.run_dir / "evidence" / f"{number:02d}.log",
                secrets=ctx.masker, session_file=ctx.run_dir / "command.session",
            )
            ctx.budget.add_wall(item.duration_s or 0.0)
        ctx.write(f"evidence/{number:02d}.json", item.model_dump_json(indent=2))
        ctx.emit("command", key=key, **item.model_dump(exclude={"output_tail"}),
                 evidence_file=f"evidence/{number:02d}.log" if item.ran else None)
        evidence.append(item)
    ctx.write("evidence/evidence.json",
              "[" + ",\n".join(e.model_dump_json() for e in evidence) + "]")
    return evidence
