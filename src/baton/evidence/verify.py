"""The verifier: the harness runs the commands itself and decides from exit codes.

The commands run on a disposable checkout of the run's snapshot, outside the repository
and (with bubblewrap) in the sandbox with the repository's git metadata and baton's run
folders hidden. Whatever they write stays there: the drift is recorded as evidence and
the checkout is removed.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
from collections.abc import Callable, Iterator
from pathlib import Path

from baton.evidence.testcounts import count_tests, test_names
from baton.models import CommandEvidence, Plan, Verdict
from baton.run_context import RunContext
from baton.workspace.detect import detect_test_commands
from baton.workspace.git import command_env, repo_at
from baton.workspace.leftovers import CHECKOUT_FILE, SESSION_FILE
from baton.workspace.sandbox import run_command
from baton.workspace.snapshot import (
    Drifted,
    Snapshot,
    TreeEntry,
    disposable_checkout,
    drift_changes,
)

MAX_DRIFT_LISTED = 1000

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

    for command, source in base_commands(ctx):
        add(command, source, None)
    proposed = [(c, "plan") for c in (plan.test_commands if plan is not None else [])]
    proposed += [(c, "reviewer") for v in verdicts for c in v.verification_commands]
    for command, source in proposed:
        if not config.run_plan_commands and source == "plan":
            add(command, source, "run_plan_commands is off")
            continue
        add(command, source, model_command_allowed(
            command, config.command_allowlist, config.allow_model_commands))
    return out


def _show_output(ctx: RunContext, command: str) -> Callable[[str], None] | None:
    if ctx.progress is None:
        return None
    return lambda line: ctx.show("command.output", command=command, line=line)


def verify(ctx: RunContext, plan: Plan | None, verdicts: list[Verdict],
           snapshot: Snapshot, *, stage: str = "", commands: list[tuple] | None = None,
           event: str = "command") -> list[CommandEvidence]:
    """Run every allowed command on a disposable checkout of ``snapshot``; list the others
    as not run; record what the commands changed there (the drift).

    ``stage`` names a later pass (``fix1``, ``base``): its trace keys and evidence files
    carry it, so every pass is recorded and replayed on its own. ``commands`` replaces the
    planned list, ``event`` the trace event type (``base.command`` for the base commit).
    """
    evidence: list[CommandEvidence] = []
    if commands is None:  # plan is None for a reviewed change that came with no plan
        commands = planned_commands(ctx, plan, verdicts)
    prefix = f"{stage}-" if stage else ""
    with _Checkout(ctx, snapshot, stage) as checkout:
        for number, (command, source, reason) in enumerate(commands, 1):
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
                folder = checkout.path()
                ctx.emit("command.start", number=number, command=command, source=source,
                         stage=stage or None, log_file=f"evidence/{name}.log")
                junit = folder / JUNIT_NAME
                item = run_command(
                    command, folder, timeout_s=ctx.config.command_timeout_s,
                    source=source, max_output_bytes=ctx.config.max_output_bytes,
                    env=_ask_for_names(command_env(os.environ, folder.parent), junit),
                    sandbox=ctx.config.sandbox,
                    log_path=ctx.run_dir / "evidence" / f"{name}.log",
                    secrets=ctx.masker, session_file=ctx.run_dir / SESSION_FILE,
                    hide=_hidden(ctx), on_output=_show_output(ctx, command),
                )
                ctx.budget.add_wall(item.duration_s or 0.0)
                if item.ran:  # read before the checkout (and any JUnit report) is gone
                    item.tests = count_tests(item.output_tail, command, folder)
                    item.tests_file = _record_names(ctx, name, junit)
                junit.unlink(missing_ok=True)  # baton's own file: not the command's drift
            ctx.write(f"evidence/{name}.json", item.model_dump_json(indent=2))
            ctx.emit(event, key=key, **item.model_dump(exclude={"output_tail"}),
                     stage=stage or None,
                     evidence_file=f"evidence/{name}.log" if item.ran else None)
            evidence.append(item)
        checkout.record_drift()
    ctx.write(f"evidence/{prefix}evidence.json",
              "[" + ",\n".join(e.model_dump_json() for e in evidence) + "]")
    return evidence


# The JUnit report baton asks every pytest inside a command for (through PYTEST_ADDOPTS, so
# `make test` or tox count too), read for the names of the tests that ran, then removed.
JUNIT_NAME = ".baton-tests.xml"


def _ask_for_names(env: dict[str, str], junit: Path) -> dict[str, str]:
    mine = f"--junitxml={junit} -o junit_family=xunit1"
    env["PYTEST_ADDOPTS"] = f"{env['PYTEST_ADDOPTS']} {mine}" if env.get("PYTEST_ADDOPTS") \
        else mine
    return env


def _record_names(ctx: RunContext, name: str, junit: Path) -> str | None:
    """The names of the tests that ran, in ``evidence/NAME.tests.txt``; None if unknown."""
    log = ctx.run_dir / "evidence" / f"{name}.log"
    output = log.read_text(encoding="utf-8", errors="replace") if log.is_file() else ""
    names = test_names(output, junit)
    if names is None:
        return None
    ctx.write(f"evidence/{name}.tests.txt", "".join(n + "\n" for n in names))
    return f"evidence/{name}.tests.txt"


def _hidden(ctx: RunContext) -> list[Path]:
    """What a sandboxed command must not see: git's metadata and baton's run folders."""
    repo = repo_at(ctx.repo_root)
    return [repo.common_dir, repo.git_dir, ctx.repo_root / ".baton"]


class _Checkout:
    """The disposable checkout of one verification, made only if a command runs."""

    def __init__(self, ctx: RunContext, snapshot: Snapshot, stage: str = "") -> None:
        self.ctx = ctx
        self.snapshot = snapshot
        self.stage = stage
        self._stack = contextlib.ExitStack()
        self._path: Path | None = None
        self._entries: dict[str, TreeEntry] = {}

    def __enter__(self) -> _Checkout:
        return self

    def __exit__(self, *exc: object) -> None:
        try:
            self._stack.close()
        finally:
            (self.ctx.run_dir / CHECKOUT_FILE).unlink(missing_ok=True)

    def path(self) -> Path:
        if self._path is None:
            self._path = self._stack.enter_context(
                _checkout_of(self.ctx, self.snapshot, self._entries))
        return self._path

    def record_drift(self) -> None:
        """What the commands added, changed or deleted: evidence, never committed."""
        if self._path is None:
            return
        drifted = drift_changes(self._path, self.ctx.repo_root, self.snapshot.tree,
                                entries=self._entries)
        record_drift(self.ctx, drifted, self.stage)


@contextlib.contextmanager
def _checkout_of(ctx: RunContext, snapshot: Snapshot,
                 entries: dict[str, TreeEntry]) -> Iterator[Path]:
    with disposable_checkout(ctx.repo_root, snapshot.tree, place=ctx.config.checkout_dir,
                             entries_out=entries) as folder:
        ctx.write(CHECKOUT_FILE, str(folder.parent) + "\n")
        ctx.emit("verify.checkout", tree=snapshot.tree, commit=snapshot.commit)
        yield folder


def record_drift(ctx: RunContext, drifted: list[Drifted], stage: str = "") -> None:
    """Write ``evidence/drift.json`` and a ``verify.drift`` event (per stage)."""
    rows = [{"status": d.status, "path": d.path} for d in drifted]
    prefix = f"{stage}-" if stage else ""
    ctx.write(f"evidence/{prefix}drift.json", json.dumps(rows, indent=2, ensure_ascii=False))
    counts = {s: sum(1 for d in drifted if d.status == s) for s in ("A", "M", "D")}
    ctx.emit("verify.drift", key="verify.drift" + (f"/{stage}" if stage else ""),
             stage=stage or None, files=rows[:MAX_DRIFT_LISTED],
             listed=min(len(rows), MAX_DRIFT_LISTED), total=len(rows),
             added=counts["A"], changed=counts["M"], deleted=counts["D"],
             committed=False)
