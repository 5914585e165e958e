"""The verifier: the harness runs the commands itself and decides from exit codes."""

from __future__ import annotations

import re
from pathlib import Path

from baton.evidence.testcounts import count_tests
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


def base_commands(ctx: RunContext) -> list[tuple[str, str]]:
    """The configured verify commands, else the detected ones, with their source."""
    configured = ctx.config.verify_commands
    if configured:
        return [(c, "config") for c in configured]
    return [(c, "detected") for c in detect_test_commands(ctx.worktree.path)]


def planned_commands(ctx: RunContext, plan: Plan, verdicts: list[Verdict]) -> list[tuple]:
    """(command, source, reason-not-run) in order, without duplicates."""
    config = ctx.config
    seen: set[str] = set()
    out: list[tuple[str, str, str | None]] = []

    def add(command: str, source: str, reason: str | None) -> None:
        command = command.strip()
        if command and command not in seen:
            seen.add(command)
            out.append((command, source, reason))

    for command, source in base_commands(ctx):
        add(command, source, None)
    proposed = [(c, "plan") for c in plan.test_commands]
    proposed += [(c, "reviewer") for v in verdicts for c in v.verification_commands]
    for command, source in proposed:
        if not config.run_plan_commands and source == "plan":
            add(command, source, "run_plan_commands is off")
            continue
        add(command, source, model_command_allowed(
            command, config.command_allowlist, config.allow_model_commands))
    return out


def verify(ctx: RunContext, plan: Plan | None, verdicts: list[Verdict], *, stage: str = "",
           commands: list[tuple] | None = None, cwd: Path | None = None,
           event: str = "command") -> list[CommandEvidence]:
    """Run every allowed command in the worktree; list the others as not run.

    ``stage`` names a later pass (``fix1``, ``base``): its trace keys and evidence files
    carry it, so every pass is recorded and replayed on its own. ``commands`` replaces the
    planned list, ``cwd`` the worktree (the base commit's checkout), ``event`` the trace
    event type (``base.command`` for the base commit).
    """
    evidence: list[CommandEvidence] = []
    where = cwd or ctx.worktree.path
    if commands is None:
        if plan is None:
            raise ValueError("verify() needs a plan or an explicit list of commands")
        commands = planned_commands(ctx, plan, verdicts)
    todo = commands
    prefix = f"{stage}-" if stage else ""
    for number, (command, source, reason) in enumerate(todo, 1):
        key = f"command/{stage}/{number}" if stage else f"command/{number}"
        name = f"{prefix}{number:02d}"
        stored = ctx.run_dir / "evidence" / f"{name}.json"
        if key in ctx.emitted and stored.is_file():
            evidence.append(CommandEvidence.model_validate_json(stored.read_text()))
            continue
        if reason is not None:
            item = CommandEvidence(command=command, source=source, ran=False,
                                   reason_not_run=reason)
        else:
            item = run_command(
                command, where, timeout_s=ctx.config.command_timeout_s,
                source=source, max_output_bytes=ctx.config.max_output_bytes,
                sandbox=ctx.config.sandbox, log_path=ctx.run_dir / "evidence" / f"{name}.log",
                secrets=ctx.masker, session_file=ctx.run_dir / "command.session",
            )
            ctx.budget.add_wall(item.duration_s or 0.0)
            if item.ran:
                item.tests = count_tests(item.output_tail, command, where)
        ctx.write(f"evidence/{name}.json", item.model_dump_json(indent=2))
        ctx.emit(event, key=key, **item.model_dump(exclude={"output_tail"}),
                 stage=stage or None,
                 evidence_file=f"evidence/{name}.log" if item.ran else None)
        evidence.append(item)
    ctx.write(f"evidence/{prefix}evidence.json",
              "[" + ",\n".join(e.model_dump_json() for e in evidence) + "]")
    return evidence
