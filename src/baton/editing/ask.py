"""The implementer's change by a model: asked in its edit format, its answer applied.

See docs/edit-format.md. The format is the implementer route's ``edit_format`` (``auto``:
by the model's vendor); ``apply_patch`` and ``editor_tool`` offer their tool with the
request, and a fallback model of another vendor is asked in its own format. The answer is
read in the format it is in, applied all or nothing through ``apply_edits`` (path safety,
protected paths, size caps, tolerant matching, outside-plan flags), and a refusal is said
in the terms of the format the model used.
"""

from __future__ import annotations

from functools import partial
from typing import Any

from baton import prompts
from baton.errors import EditError
from baton.llm.tools import decode_answer, tools_for
from baton.llm.vendors import vendor_of
from baton.run_context import RunContext
from baton.workspace.edits import AppliedEdits, apply_edits
from baton.workspace.formats import EditFormat, choose_format, detect_format, parse_answer, speak


def change(ctx: RunContext, context: dict[str, Any], call_key: str, *, packet: int,
           round_: int, allowed_files: list[str]) -> AppliedEdits:
    """Ask the implementer's model for the change and apply it, or raise ``EditError``.

    ``context`` is the implementer's prompt context (``backends.ChangeRequest.context``)."""
    fmt = edit_format_of(ctx)
    text, calls = decode_answer(ctx.ask(
        "implementer", in_format(fmt, context), call_key, tools=tools_for(fmt),
        variants=partial(_fallback_in, ctx, fmt, context), packet=packet, round=round_))
    pairs = [(c.name, c.arguments) for c in calls]
    used = detect_format(text, pairs)
    try:
        applied = apply_edits(ctx.worktree.path, parse_answer(text, pairs)[1],
                              protected=ctx.config.protected_paths,
                              allowed_files=allowed_files)
    except EditError as exc:
        raise EditError(speak(str(exc), used)) from exc
    applied.edit_format = used
    return applied


def in_format(edit_format: EditFormat, context: dict[str, Any]) -> list[dict[str, str]]:
    """The implementer's messages asking for ``edit_format``."""
    variant = None if edit_format == "search_replace" else edit_format
    return prompts.render("implementer", variant=variant,
                          **{**context, "edit_format": edit_format})


def _fallback_in(ctx: RunContext, primary: EditFormat, context: dict[str, Any], model: str
                 ) -> tuple[list[dict[str, str]], list[dict[str, Any]] | None] | None:
    """A fallback model's own messages and tools when its format is not the primary's."""
    own = edit_format_of(ctx, model)
    return None if own == primary else (in_format(own, context), tools_for(own))


def edit_format_of(ctx: RunContext, model: str | None = None) -> EditFormat:
    """The implementer's edit format for ``model`` (default: its route's model): the
    route's ``edit_format``, ``auto`` by the model's vendor."""
    route = ctx.routes["implementer"]
    vendor = vendor_of(model or route.model, ctx.config.endpoint(route.endpoint).vendor)
    return choose_format(route.edit_format, vendor)
