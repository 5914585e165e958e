"""The fake gateway's tool-call answers: a scripted entry's ``tool_calls``, on the wire.

An entry (docs/fake-gateway.md) may answer with tool calls, as OpenAI's chat completions
do: whole in ``message.tool_calls`` (with ``content`` null when there is no text), or
streamed as ``delta.tool_calls`` pieces after the text, the first piece of each call with
its ``id``, ``type`` and name, the rest carrying its ``arguments`` a few characters at a
time. The finish reason defaults to ``tool_calls``.
"""

from __future__ import annotations

import json
import math
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator


class ScriptedToolCall(BaseModel):
    """One tool call to answer with; ``arguments`` as a JSON object or its exact text."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1)
    arguments: str = "{}"
    id: str | None = None

    @field_validator("arguments", mode="before")
    @classmethod
    def _as_text(cls, value: Any) -> Any:
        return json.dumps(value) if isinstance(value, dict) else value


def call_id(call: ScriptedToolCall, request_number: int, index: int) -> str:
    return call.id or f"call_fake_{request_number}_{index}"


def message_tool_calls(calls: list[ScriptedToolCall], request_number: int) -> list[dict]:
    """``message.tool_calls`` of a whole answer."""
    return [{"id": call_id(c, request_number, i), "type": "function",
             "function": {"name": c.name, "arguments": c.arguments}}
            for i, c in enumerate(calls)]


def arguments_chars(calls: list[ScriptedToolCall]) -> int:
    """Characters of the calls' names and arguments (counted as output tokens)."""
    return sum(len(c.name) + len(c.arguments) for c in calls)


def stream_deltas(calls: list[ScriptedToolCall], request_number: int,
                  piece_chars: int | None = None) -> list[dict[str, Any]]:
    """The ``delta`` objects that stream the calls: a head per call, then its arguments."""
    deltas: list[dict[str, Any]] = []
    for index, call in enumerate(calls):
        deltas.append({"tool_calls": [{
            "index": index, "id": call_id(call, request_number, index), "type": "function",
            "function": {"name": call.name, "arguments": ""}}]})
        size = piece_chars or max(8, math.ceil(len(call.arguments) / 32))
        for start in range(0, len(call.arguments), size):
            piece = call.arguments[start : start + size]
            deltas.append({"tool_calls": [{"index": index, "function": {"arguments": piece}}]})
    return deltas


def offered_names(offered: Any) -> list[str]:
    """The names of the function tools a request offers, for the request log."""
    names = []
    for tool in offered if isinstance(offered, list) else ():
        function = tool.get("function") if isinstance(tool, dict) else None
        name = function.get("name") if isinstance(function, dict) else None
        names.append(name if isinstance(name, str) else "?")
    return names
