"""Before and after: the verify commands on the base commit against the patched tree.

Each command that ran after the change is put in one of: ``fail -> pass`` (the change
fixed it), ``pass -> pass`` (it passed before too: it does not show the change works),
``broke`` (passed before, fails now), ``fail -> fail``, or ``new`` (not run on the base).
"""

from __future__ import annotations

from baton.models import CommandEvidence, TestCounts
from baton.prompts import fenced

PROMPT_TAIL_CHARS = 2000
FIX_TAIL_CHARS = 3000
MAX_FIX_COMMANDS = 3


def status(item: CommandEvidence | None) -> str:
    """``pass``, ``fail`` or ``not run``."""
    if item is None or not item.ran:
        return "not run"
    return "pass" if item.ok else "fail"


def describe(item: CommandEvidence) -> str:
    """How a command ended, in words, with its test counts when known."""
    if not item.ran:
        return f"not run ({item.reason_not_run})"
    how = "timed out" if item.timed_out else f"exited {item.exit_code}"
    return how + (f"; {counts_text(item.tests)}" if item.tests else "")


def counts_text(counts: TestCounts) -> str:
    """``5 collected, 4 run, 1 skipped`` (zero parts left out, collected always shown)."""
    parts = [f"{counts.collected or 0} collected", f"{counts.ran} run"]
    for name in ("failed", "errors", "skipped", "xfailed", "deselected"):
        value = getattr(counts, name)
        if value:
            parts.append(f"{value} {name}")
    return ", ".join(parts)


def prompt_results(evidence: list[CommandEvidence]) -> list[dict[str, str]]:
    """Base-commit results for the planner and implementer; a failure keeps its output."""
    return [{"command": e.command, "status": describe(e),
             "output": "" if e.ok or not e.ran else e.output_tail[-PROMPT_TAIL_CHARS:]}
            for e in evidence]


def transitions(before: list[CommandEvidence],
                after: list[CommandEvidence]) -> list[dict[str, str]]:
    """Each command that ran after the change, with its result before and after."""
    base = {e.command: e for e in before}
    rows = []
    for item in after:
        if not item.ran:
            continue
        old, new = status(base.get(item.command)), status(item)
        if old == "not run":
            change = "new"
        elif old == "pass" and new == "fail":
            change = "broke"
        else:
            change = f"{old} -> {new}"
        rows.append({"command": item.command, "before": old, "after": new, "change": change,
                     "before_detail": describe(base[item.command]) if item.command in base
                     else "", "after_detail": describe(item)})
    return rows


def already_passing(rows: list[dict[str, str]]) -> bool:
    """Every compared command passed on the base commit too (nothing went fail -> pass)."""
    compared = [r for r in rows if r["change"] != "new"]
    return bool(compared) and all(r["change"] == "pass -> pass" for r in compared)


def failure_fixes(evidence: list[CommandEvidence]) -> list[str]:
    """The failed commands as required fixes for the implementer, output bounded and fenced."""
    fixes = []
    failed = [e for e in evidence if e.ran and not e.ok]
    for item in failed[:MAX_FIX_COMMANDS]:
        tail = item.output_tail[-FIX_TAIL_CHARS:].strip() or "(no output)"
        fixes.append(f"the harness ran `{item.command}` on your patch and it {describe(item)}. "
                     "Make it pass by fixing the code, not by deleting, skipping or weakening "
                     f"tests. The end of its output:\n{fenced(tail)}")
    if len(failed) > MAX_FIX_COMMANDS:
        fixes.append(f"{len(failed) - MAX_FIX_COMMANDS} more command(s) failed: "
                     + ", ".join(f"`{e.command}`" for e in failed[MAX_FIX_COMMANDS:]))
    return fixes
