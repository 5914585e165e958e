"""A plan given to ``baton review --plan FILE``: baton's plan JSON or a Markdown plan."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

from baton.approvals import FileChange
from baton.errors import UserError
from baton.models import Plan

MAX_PLAN_BYTES = 200_000
# `path/like.this` in backticks: a file a Markdown plan names.
_TICKED = re.compile(r"`([^`\s()]+)`")
_PATHLIKE = re.compile(r"^(?:[\w.@+-]+/)*[\w@+-][\w.@+-]*\.[A-Za-z0-9]{1,8}$|^(?:[\w.@+-]+/)+"
                       r"[\w.@+-]+$")


@dataclass(frozen=True)
class PlanFile:
    """A plan as the reviewer sees it, and the files it names."""

    source: str
    """``baton plan JSON`` or ``Markdown plan``, with the file name."""
    text: str
    plan: Plan | None
    files: list[str]


def load_plan_file(path: Path) -> PlanFile:
    """Read and check ``path``; a clear UserError when it is not a usable plan."""
    if not path.is_file():
        raise UserError(f"--plan {path}: no such file; pass baton's plan.json or a Markdown "
                        "plan (Claude Code's plan mode writes one)")
    raw = path.read_bytes()
    if len(raw) > MAX_PLAN_BYTES:
        raise UserError(f"--plan {path}: {len(raw)} bytes is over the {MAX_PLAN_BYTES}-byte "
                        "cap for a plan; shorten it")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise UserError(f"--plan {path}: not UTF-8 text") from None
    if not text.strip():
        raise UserError(f"--plan {path}: the file is empty")
    if path.suffix.lower() == ".json" or text.lstrip().startswith("{"):
        return _json_plan(path, text)
    files = [m for m in dict.fromkeys(_TICKED.findall(text)) if _PATHLIKE.match(m)]
    return PlanFile(f"Markdown plan {path.name}", text, None, files)


def _json_plan(path: Path, text: str) -> PlanFile:
    from pydantic import ValidationError

    from baton.roles import plan_text

    try:
        data = json.loads(text)
    except ValueError as exc:
        raise UserError(f"--plan {path}: not valid JSON ({exc}); pass baton's plan.json or a "
                        "Markdown plan") from None
    try:
        plan = Plan.model_validate(data)
    except ValidationError as exc:
        errors = "; ".join(f"{'.'.join(str(p) for p in e['loc']) or '(object)'}: {e['msg']}"
                           for e in exc.errors()[:5])
        raise UserError(f"--plan {path}: not a baton plan ({errors}); fix those fields or "
                        "pass the plan as Markdown") from None
    return PlanFile(f"baton plan JSON {path.name}", plan_text(plan), plan, plan.files())


def plan_contract(plan: PlanFile, changes: list[FileChange]) -> list[str]:
    """The plan's contract against the diff: files touched it does not name, and files it
    names that the change does not touch."""
    named = {f.strip("./") for f in plan.files}
    touched = {c.path for c in changes}
    flags = [f"changed outside the plan: {p}" for p in sorted(touched - named)]
    if plan.plan is not None or named:
        flags += [f"named in the plan but not changed: {p}" for p in sorted(named - touched)]
    return flags
