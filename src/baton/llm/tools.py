"""Tool calls over chat completions: the edit tools' schemas, and collecting the calls.

The implementer may be offered one edit tool as an OpenAI-style function tool (docs/
edit-format.md): ``apply_patch`` (OpenAI's, one ``input`` string holding a V4A patch, as
codex declares it as a function tool) or ``str_replace_based_edit_tool`` (Anthropic's text
editor, its editing commands only). Its calls come back whole (``message.tool_calls``) or
streamed in pieces (``delta.tool_calls``, joined by ``index``); either way they are part of
the answer: counted against the response's size bound, and recorded with its text, so a
replayed call returns the same calls. ``encode_answer`` puts them after the text, in a
block ``decode_answer`` reads back.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

APPLY_PATCH_TOOL: dict[str, Any] = {
    "type": "function",
    "function": {
        "name": "apply_patch",
        "description": (
            "Apply a patch to the repository's files. The input is one V4A patch: "
            "'*** Begin Patch', then for each file '*** Add File: path' (every line "
            "prefixed with '+'), '*** Delete File: path', or '*** Update File: path' "
            "(optionally followed by '*** Move to: new/path') with '@@' hunks whose lines "
            "start with ' ' (context), '-' (removed) or '+' (added), then '*** End Patch'."
        ),
        "parameters": {
            "type": "object",
            "properties": {"input": {"type": "string",
                                     "description": "The entire V4A patch."}},
            "required": ["input"],
            "additionalProperties": False,
        },
    },
}

EDITOR_TOOL: dict[str, Any] = {
    "type": "function",
    "function": {
        "name": "str_replace_based_edit_tool",
        "description": (
            "Edit a text file of the repository. Commands: 'str_replace' replaces old_str, "
            "which must occur exactly once in the file, with new_str; 'create' writes a new "
            "file with file_text; 'insert' puts insert_text after line insert_line (0: at "
            "the top). The files are already in the prompt, so there is no 'view'."
        ),
        "parameters": {
            "type": "object",
            "properties": {
                "command": {"type": "string", "enum": ["str_replace", "create", "insert"]},
                "path": {"type": "string",
                         "description": "The file's path, relative to the repository root."},
                "old_str": {"type": "string"},
                "new_str": {"type": "string"},
                "file_text": {"type": "string"},
                "insert_line": {"type": "integer", "minimum": 0},
                "insert_text": {"type": "string"},
            },
            "required": ["command", "path"],
        },
    },
}

TOOLS_BY_FORMAT: dict[str, list[dict[str, Any]]] = {
    "apply_patch": [APPLY_PATCH_TOOL],
    "editor_tool": [EDITOR_TOOL],
}


def tools_for(edit_format: str) -> list[dict[str, Any]] | None:
    """The tools to offer for ``edit_format`` (None: a text format, no tools)."""
    return TOOLS_BY_FORMAT.get(edit_format)


@dataclass(frozen=True)
class ToolCall:
    """One function call of an answer: its id, the function's name, its JSON arguments."""

    id: str
    name: str
    arguments: str


@dataclass
class ToolCallCollector:
    """Joins streamed ``delta.tool_calls`` pieces into whole calls, by their ``index``."""

    _calls: dict[int, dict[str, str]] = field(default_factory=dict)

    def add(self, pieces: Any) -> int:
        """Take one delta's ``tool_calls``; returns how many characters they added."""
        added = 0
        for position, piece in enumerate(pieces if isinstance(pieces, list) else ()):
            if not isinstance(piece, dict):
                continue
            index = piece.get("index")
            index = index if isinstance(index, int) and not isinstance(index, bool) else (
                position)
            call = self._calls.setdefault(index, {"id": "", "name": "", "arguments": ""})
            if isinstance(piece.get("id"), str) and not call["id"]:
                call["id"] = piece["id"]
            function = piece.get("function")
            if isinstance(function, dict):
                if isinstance(function.get("name"), str) and not call["name"]:
                    call["name"] = function["name"]
                    added += len(function["name"])
                if isinstance(function.get("arguments"), str):
                    call["arguments"] += function["arguments"]
                    added += len(function["arguments"])
        return added

    def calls(self) -> list[ToolCall]:
        return [ToolCall(c["id"], c["name"], c["arguments"])
                for _, c in sorted(self._calls.items())]


def from_message(message: dict[str, Any]) -> list[ToolCall]:
    """The calls of a whole (not streamed) answer's ``message.tool_calls``."""
    collector = ToolCallCollector()
    pieces = message.get("tool_calls")
    if isinstance(pieces, list):
        collector.add([{**p, "index": i} for i, p in enumerate(pieces) if isinstance(p, dict)])
    return collector.calls()


MARKER = "<!-- baton: tool calls -->"


def encode_answer(text: str, calls: list[ToolCall]) -> str:
    """The answer as one text: ``text``, then the calls in a block ``decode_answer`` reads."""
    if not calls:
        return text
    data = [{"id": c.id, "name": c.name, "arguments": c.arguments} for c in calls]
    sep = "\n\n" if text else ""
    return f"{text}{sep}{MARKER}\n```json\n{json.dumps(data, indent=1)}\n```\n"


def decode_answer(answer: str) -> tuple[str, list[ToolCall]]:
    """The text and the tool calls of an answer made by ``encode_answer``."""
    text, found, block = answer.rpartition(MARKER)
    if not found:
        return answer, []
    body = block.strip().removeprefix("```json").removesuffix("```").strip()
    try:
        data = json.loads(body)
    except json.JSONDecodeError:
        return answer, []
    if not isinstance(data, list) or not all(isinstance(d, dict) for d in data):
        return answer, []
    calls = [ToolCall(str(d.get("id", "")), str(d.get("name", "")), str(d.get("arguments", "")))
             for d in data]
    return text.rstrip("\n"), calls
