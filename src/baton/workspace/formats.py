"""Which edit format an implementer is asked for, and reading its answer in any of them.

See docs/edit-format.md. ``edit_format`` on the implementer's route is one of ``auto``,
``search_replace``, ``apply_patch``, ``editor_tool`` or ``whole_file``; ``auto`` picks what
the model's vendor trains its models on (``AUTO_BY_VENDOR``). Whatever was asked, the
answer is read in the format it is in (a tool call names its tool; a ``*** Begin Patch``
line is a V4A patch; anything else is SEARCH/REPLACE or FILE blocks), so a fallback model
answering in another format is still understood; the repair message after a refused
edit then speaks the format the model used.
"""

from __future__ import annotations

import json
import re
from typing import Literal, get_args

from baton.errors import EditError
from baton.workspace import applypatch, editortool
from baton.workspace.editformat import FORMAT_HELP as SEARCH_REPLACE_HELP
from baton.workspace.editformat import Edit, parse_edits

EditFormat = Literal["search_replace", "apply_patch", "editor_tool", "whole_file"]
EDIT_FORMATS: tuple[str, ...] = get_args(EditFormat)
SETTINGS = ("auto", *EDIT_FORMATS)

AUTO_BY_VENDOR: dict[str, EditFormat] = {
    "openai": "apply_patch",
    "azure": "apply_patch",
    "anthropic": "editor_tool",
    "bedrock": "editor_tool",
    "vertex_ai": "editor_tool",
}
"""What ``auto`` picks by vendor; any other vendor (or none known) gets search_replace.

``azure``, ``bedrock`` and ``vertex_ai`` are the LiteLLM prefixes of OpenAI's and
Anthropic's models served by those clouds; a Claude id under ``vertex_ai/`` or a GPT id
under ``azure/`` is what those prefixes almost always carry."""

APPLY_PATCH_TOOL = "apply_patch"
EDITOR_TOOL = editortool.TOOL_NAME

WHOLE_FILE_HELP = """\
Expected format, one block per file, with the file's entire new content:

path/to/file.py
<<<<<<< FILE
entire new content
>>>>>>> FILE"""

_HELP: dict[str, str] = {
    "search_replace": SEARCH_REPLACE_HELP,
    "apply_patch": applypatch.FORMAT_HELP,
    "editor_tool": editortool.FORMAT_HELP,
    "whole_file": WHOLE_FILE_HELP,
}


def choose_format(setting: str, vendor: str | None) -> EditFormat:
    """The format for a model of ``vendor`` under ``setting`` (``auto`` or a format)."""
    if setting == "auto":
        return AUTO_BY_VENDOR.get((vendor or "").lower(), "search_replace")
    if setting not in EDIT_FORMATS:
        raise EditError(f"unknown edit_format {setting!r}; use one of {', '.join(SETTINGS)}")
    return setting  # type: ignore[return-value]


def detect_format(text: str, calls: list[tuple[str, str]]) -> EditFormat:
    """The format an answer is in; ``calls`` are its tool calls as (name, arguments)."""
    if calls:
        return "apply_patch" if {n for n, _ in calls} == {APPLY_PATCH_TOOL} else "editor_tool"
    if applypatch.looks_like_patch(text):
        return "apply_patch"
    try:
        edits = parse_edits(text)
    except EditError:
        return "search_replace"
    return "whole_file" if all(e.kind == "whole" for e in edits) else "search_replace"


def parse_answer(text: str, calls: list[tuple[str, str]]) -> tuple[EditFormat, list[Edit]]:
    """The format the answer is in and its edits; ``calls`` are (tool name, arguments)."""
    if calls:
        names = {name for name, _ in calls}
        if names == {APPLY_PATCH_TOOL}:
            edits: list[Edit] = []
            for number, (_, arguments) in enumerate(calls, 1):
                edits += applypatch.parse_patch(_patch_argument(arguments, number, len(calls)))
            return "apply_patch", edits
        return "editor_tool", editortool.parse_calls(calls)
    if applypatch.looks_like_patch(text):
        return "apply_patch", applypatch.parse_patch(text)
    edits = parse_edits(text)
    whole = all(e.kind == "whole" for e in edits)
    return ("whole_file" if whole else "search_replace"), edits


def _patch_argument(arguments: str, number: int, count: int) -> str:
    """The patch text of an apply_patch call: ``{"input": ...}`` as codex sends it."""
    where = f"apply_patch call {number} of {count}"
    try:
        data = json.loads(arguments or "{}")
    except json.JSONDecodeError as exc:
        raise EditError(f"{where}: the arguments are not valid JSON ({exc.msg}; was the "
                        f"answer cut off?).\n\n{applypatch.FORMAT_HELP}") from None
    patch = data.get("input", data.get("patch")) if isinstance(data, dict) else None
    if not isinstance(patch, str):
        raise EditError(f"{where}: the arguments need an \"input\" string holding the "
                        f"patch.\n\n{applypatch.FORMAT_HELP}")
    return patch


_CREATE_EXISTING = re.escape(
    "the SEARCH section is empty, which creates a file, but this file already exists and "
    "is not empty; put the lines to change in SEARCH, or use a FILE block to replace the "
    "whole file")
# Words of baton's refusals (written for SEARCH/REPLACE blocks), in each format's terms.
_WORDS: dict[str, list[tuple[str, str]]] = {
    "apply_patch": [
        (_CREATE_EXISTING, "'*** Add File' is for a new file, but this file already exists "
         "and is not empty; change it with '*** Update File' and its hunks"),
        (r"\bleave the SEARCH section empty\b", "use '*** Add File: path'"),
        (r"\bSEARCH/REPLACE blocks\b", "hunks"),
        (r"\bthe SEARCH text was not found\b", "the hunk's context and '-' lines were not found"),
        (r"\bthe SEARCH text occurs\b", "the hunk's context and '-' lines occur"),
        (r"\bthe SEARCH text matches\b", "the hunk's context and '-' lines match"),
        (r"\bSEARCH text\b", "hunk's context and '-' lines"),
        (r"\bSEARCH lines\b", "context and '-' lines"),
        (r"\bto SEARCH\b", "to the hunk (as context lines)"),
        (r"\bin SEARCH\b", "in the hunk's '-' lines"),
        (r"\bof REPLACE\b", "of the hunk's '+' lines"),
        (r"\bSEARCH\b", "the hunk's context and '-' lines"),
        (r"\bREPLACE\b", "'+' lines"),
        (r"\bFILE block\b", "'*** Delete File' and '*** Add File'"),
        (r"^edit (\d+) of (\d+)", r"change \1 of \2"),
    ],
    "editor_tool": [
        (_CREATE_EXISTING, "the create command is for a new file (it never overwrites one), "
         "but this file already exists and is not empty; change it with str_replace"),
        (r"\bleave the SEARCH section empty\b", "use the create command"),
        (r"\bSEARCH/REPLACE blocks\b", "str_replace calls"),
        (r"\bSEARCH text\b", "old_str"),
        (r"\bSEARCH lines\b", "old_str lines"),
        (r"\bSEARCH\b", "old_str"),
        (r"\bof REPLACE\b", "of new_str"),
        (r"\bREPLACE\b", "new_str"),
        (r"\bFILE block\b", "create command on a new path"),
        (r"^edit (\d+) of (\d+)", r"tool call \1 of \2"),
    ],
}


def speak(message: str, used: str) -> str:
    """A refusal in the terms of the format the model ``used``, with that format's help.

    SEARCH/REPLACE refusals are already in their own terms, and keep their own help."""
    if used == "search_replace":
        return message
    for pattern, words in _WORDS.get(used, []):
        message = re.sub(pattern, words, message, flags=re.MULTILINE)
    help_text = _HELP.get(used, SEARCH_REPLACE_HELP)
    if help_text not in message:
        message += "\n\n" + help_text
    return message
