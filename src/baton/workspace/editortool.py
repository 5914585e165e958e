"""Anthropic's text editor tool (``str_replace_based_edit_tool``), its calls as baton's edits.

See docs/edit-format.md. The implementer has every file it needs in its prompt and gets
one turn, so only the editing commands are offered, with the arguments of Anthropic's
``text_editor_20250728`` tool:

- ``str_replace``: ``path``, ``old_str`` (must match exactly one place), ``new_str``: an
  exact substring first, as Anthropic's tool does; when it is in the file nowhere, its
  lines are matched with the tolerances of a SEARCH block;
- ``create``: ``path``, ``file_text``; refused when the file exists and is not empty, as
  Anthropic's reference tool refuses to overwrite;
- ``insert``: ``path``, ``insert_line`` (0 puts the text at the top), ``insert_text``
  (``new_str`` in the tool's older versions).

``view`` (and the older ``undo_edit``) are refused with a clear reason. Parsing only;
applying is ``baton.workspace.edits.apply_edits``, all or nothing, with the same tolerant
matching for ``old_str`` as for a SEARCH block.
"""

from __future__ import annotations

import json
from typing import Any

from baton.errors import EditError
from baton.workspace.editformat import Edit

TOOL_NAME = "str_replace_based_edit_tool"
COMMANDS = ("str_replace", "create", "insert")

FORMAT_HELP = f"""\
Expected: one {TOOL_NAME} call per change, with one of these commands:

- {{"command": "str_replace", "path": "src/app.py", "old_str": "exact existing lines",
   "new_str": "the lines that replace them"}}
- {{"command": "create", "path": "src/new.py", "file_text": "the whole new file"}}
- {{"command": "insert", "path": "src/app.py", "insert_line": 12,
   "insert_text": "lines to put after line 12 (0: at the top)"}}

old_str must match exactly one place of the current file; paths are relative to the
repository root. "view" is not offered: the files are in the prompt."""


def parse_calls(calls: list[tuple[str, str]]) -> list[Edit]:
    """The edits of the editor tool's calls, given as (tool name, JSON arguments)."""
    edits: list[Edit] = []
    for number, (name, arguments) in enumerate(calls, 1):
        where = f"tool call {number} of {len(calls)}"
        if name != TOOL_NAME:
            raise EditError(f"{where} is to {name!r}; only {TOOL_NAME!r} is offered.\n\n"
                            + FORMAT_HELP)
        edits.append(parse_arguments(_load(arguments, where), where))
    if not edits:
        raise EditError(f"no {TOOL_NAME} call in the answer.\n\n{FORMAT_HELP}")
    return edits


def _load(arguments: str, where: str) -> dict[str, Any]:
    try:
        data = json.loads(arguments or "{}")
    except json.JSONDecodeError as exc:
        raise EditError(f"{where}: the arguments are not valid JSON ({exc.msg} at character "
                        f"{exc.pos}; was the answer cut off?).\n\n{FORMAT_HELP}") from None
    if not isinstance(data, dict):
        raise EditError(f"{where}: the arguments must be a JSON object.\n\n{FORMAT_HELP}")
    return data


def parse_arguments(args: dict[str, Any], where: str = "the tool call") -> Edit:
    """One editor command as an edit; EditError names what is missing or wrong."""
    command = args.get("command")
    if command in ("view", "undo_edit"):
        raise EditError(f"{where}: {command!r} is not offered: the files you need are in the "
                        "prompt and you have one turn; send the edits themselves.\n\n"
                        + FORMAT_HELP)
    if command not in COMMANDS:
        raise EditError(f"{where}: unknown command {command!r}; use one of "
                        f"{', '.join(COMMANDS)}.\n\n{FORMAT_HELP}")
    path = _text(args, "path", where)
    if command == "str_replace":
        old = _text(args, "old_str", where)
        new = args.get("new_str", "")
        if not isinstance(new, str):
            raise EditError(f"{where}: new_str must be a string.\n\n{FORMAT_HELP}")
        if not old.strip():
            raise EditError(f"{where}: old_str is empty; to create a file use the create "
                            "command, to add lines use insert.\n\n" + FORMAT_HELP)
        return Edit(path=path, kind="substring", search=old, replace=new)
    if command == "create":
        return Edit(path=path, kind="create", search="",
                    replace=_lines(_text(args, "file_text", where, empty=True)))
    line = args.get("insert_line")
    if isinstance(line, str) and line.strip().isdigit():
        line = int(line)
    if not isinstance(line, int) or isinstance(line, bool) or line < 0:
        raise EditError(f"{where}: insert_line must be a line number (0 or more), not "
                        f"{line!r}.\n\n{FORMAT_HELP}")
    key = "insert_text" if "insert_text" in args else "new_str"
    return Edit(path=path, kind="insert", search="", replace=_lines(_text(args, key, where)),
                line=line)


def _text(args: dict[str, Any], key: str, where: str, *, empty: bool = False) -> str:
    value = args.get(key)
    if not isinstance(value, str) or (not empty and not value):
        raise EditError(f"{where}: {key} is missing or not a string.\n\n{FORMAT_HELP}")
    return value


def _lines(text: str) -> str:
    """Tool text as whole lines: a last line without its newline gets one."""
    return text if not text or text.endswith("\n") else text + "\n"
