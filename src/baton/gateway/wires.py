"""The two other wire protocols coding agents speak, for the fake gateway.

- **Responses** (``POST /v1/responses``, which Codex requires): a whole ``response`` object,
  or its server-sent event stream: ``response.created``, ``response.in_progress``, per
  output item ``response.output_item.added`` / deltas / ``response.output_item.done``, and
  ``response.completed`` carrying the whole response with its ``usage``. Text is a
  ``message`` item of ``output_text``; each scripted tool call a ``function_call`` item
  (``call_id``, ``name``, ``arguments`` as JSON text), or a ``custom_tool_call`` (``input``,
  the exact text) for a tool the request offers as ``custom`` (Codex's freeform
  ``apply_patch``).
- **Anthropic Messages** (``POST /v1/messages``, Claude Code): a whole ``message``, or its
  event stream: ``message_start``, per content block ``content_block_start`` / deltas
  (``text_delta``, ``input_json_delta``) / ``content_block_stop``, ``message_delta`` (the
  ``stop_reason`` and output tokens) and ``message_stop``. Each scripted tool call is a
  ``tool_use`` block whose ``input`` is its arguments. ``POST /v1/messages/count_tokens``
  answers ``{"input_tokens": N}`` (characters / 4), using no script entry.

The same script entries answer all three protocols (``docs/fake-gateway.md``).
"""

from __future__ import annotations

import json
import math
import time
from typing import Any

from baton.gateway.script import Entry
from baton.gateway.tools import call_id

_PIECE = 64


def _pieces(text: str) -> list[str]:
    size = max(16, math.ceil(len(text) / _PIECE))
    return [text[i : i + size] for i in range(0, len(text), size)]


def sse(event: str, data: dict[str, Any]) -> bytes:
    """One server-sent event with a name (both protocols name their events)."""
    return f"event: {event}\ndata: {json.dumps(data)}\n\n".encode()


# -- what a request says -----------------------------------------------------------------


def _text_chars(value: Any) -> int:
    """Characters of the text anywhere in a request's messages / input / system."""
    if isinstance(value, str):
        return len(value)
    if isinstance(value, list):
        return sum(_text_chars(v) for v in value)
    if isinstance(value, dict):
        return sum(_text_chars(v) for k, v in value.items()
                   if k in ("text", "content", "input", "output", "arguments", "instructions"))
    return 0


def prompt_chars(request: dict[str, Any]) -> int:
    """Characters of what a Responses or Messages request sends (tokens are chars / 4)."""
    return (_text_chars(request.get("input")) + _text_chars(request.get("messages"))
            + _text_chars(request.get("system")) + _text_chars(request.get("instructions")))


def offered_tools(request: dict[str, Any]) -> list[str]:
    """The names of the tools a Responses or Messages request offers (for the log)."""
    names = []
    for tool in request.get("tools") or []:
        if isinstance(tool, dict):
            name = tool.get("name") or (tool.get("function") or {}).get("name") or tool.get("type")
            names.append(str(name))
    return names


def _custom_tools(request: dict[str, Any]) -> set[str]:
    return {str(t.get("name")) for t in request.get("tools") or []
            if isinstance(t, dict) and t.get("type") == "custom"}


# -- Responses ---------------------------------------------------------------------------


def _responses_items(entry: Entry, request: dict[str, Any], n: int) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    if entry.content or not entry.tool_calls:
        items.append({"id": f"msg_fake_{n}", "type": "message", "status": "completed",
                      "role": "assistant", "content": [
                          {"type": "output_text", "text": entry.content, "annotations": []}]})
    custom = _custom_tools(request)
    for i, call in enumerate(entry.tool_calls):
        cid = call_id(call, n, i)
        if call.name in custom:
            try:
                text = json.loads(call.arguments)
            except json.JSONDecodeError:
                text = call.arguments
            items.append({"id": f"ctc_fake_{n}_{i}", "type": "custom_tool_call",
                          "status": "completed", "call_id": cid, "name": call.name,
                          "input": text if isinstance(text, str) else call.arguments})
        else:
            items.append({"id": f"fc_fake_{n}_{i}", "type": "function_call",
                          "status": "completed", "call_id": cid, "name": call.name,
                          "arguments": call.arguments})
    return items


def responses_usage(prompt: int, completion: int, cached: int) -> dict[str, Any]:
    return {"input_tokens": prompt, "input_tokens_details": {"cached_tokens": cached},
            "output_tokens": completion, "output_tokens_details": {"reasoning_tokens": 0},
            "total_tokens": prompt + completion}


def response_object(entry: Entry, request: dict[str, Any], n: int,
                    usage: dict[str, Any] | None, status: str = "completed") -> dict[str, Any]:
    """The whole ``response`` object (non-streamed, and inside ``response.completed``)."""
    return {"id": f"resp_fake_{n}", "object": "response", "created_at": int(time.time()),
            "status": status, "model": request.get("model"), "error": None,
            "incomplete_details": None, "output": (_responses_items(entry, request, n)
                                                   if status == "completed" else []),
            "parallel_tool_calls": True, "tool_choice": request.get("tool_choice", "auto"),
            "tools": [], "usage": usage}


def responses_events(entry: Entry, request: dict[str, Any], n: int,
                     usage: dict[str, Any] | None) -> list[bytes]:
    """The event stream of one answer in the Responses API."""
    seq = iter(range(10**6))

    def ev(kind: str, **data: Any) -> bytes:
        return sse(kind, {"type": kind, "sequence_number": next(seq), **data})

    started = response_object(entry, request, n, None, status="in_progress")
    out = [ev("response.created", response=started), ev("response.in_progress", response=started)]
    for index, item in enumerate(_responses_items(entry, request, n)):
        if item["type"] == "message":
            text = item["content"][0]["text"]
            out.append(ev("response.output_item.added", output_index=index,
                          item={**item, "status": "in_progress", "content": []}))
            part = {"type": "output_text", "text": "", "annotations": []}
            out.append(ev("response.content_part.added", item_id=item["id"],
                          output_index=index, content_index=0, part=part))
            for piece in _pieces(text):
                out.append(ev("response.output_text.delta", item_id=item["id"],
                              output_index=index, content_index=0, delta=piece))
            out.append(ev("response.output_text.done", item_id=item["id"],
                          output_index=index, content_index=0, text=text))
            out.append(ev("response.content_part.done", item_id=item["id"],
                          output_index=index, content_index=0, part={**part, "text": text}))
        elif item["type"] == "function_call":
            out.append(ev("response.output_item.added", output_index=index,
                          item={**item, "status": "in_progress", "arguments": ""}))
            for piece in _pieces(item["arguments"]):
                out.append(ev("response.function_call_arguments.delta", item_id=item["id"],
                              output_index=index, delta=piece))
            out.append(ev("response.function_call_arguments.done", item_id=item["id"],
                          output_index=index, arguments=item["arguments"]))
        else:
            out.append(ev("response.output_item.added", output_index=index,
                          item={**item, "status": "in_progress", "input": ""}))
            for piece in _pieces(item["input"]):
                out.append(ev("response.custom_tool_call_input.delta", item_id=item["id"],
                              output_index=index, delta=piece))
            out.append(ev("response.custom_tool_call_input.done", item_id=item["id"],
                          output_index=index, input=item["input"]))
        out.append(ev("response.output_item.done", output_index=index, item=item))
    out.append(ev("response.completed", response=response_object(entry, request, n, usage)))
    return out


# -- Anthropic Messages ------------------------------------------------------------------

STOP_REASONS = {"stop": "end_turn", "tool_calls": "tool_use", "length": "max_tokens"}


def messages_usage(prompt: int, completion: int, cached: int) -> dict[str, Any]:
    return {"input_tokens": prompt - cached, "cache_creation_input_tokens": 0,
            "cache_read_input_tokens": cached, "output_tokens": completion}


def _blocks(entry: Entry, n: int) -> list[dict[str, Any]]:
    blocks: list[dict[str, Any]] = []
    if entry.content or not entry.tool_calls:
        blocks.append({"type": "text", "text": entry.content})
    for i, call in enumerate(entry.tool_calls):
        try:
            arguments = json.loads(call.arguments)
        except json.JSONDecodeError:
            arguments = {"_unparsed": call.arguments}
        blocks.append({"type": "tool_use", "id": call.id or f"toolu_fake_{n}_{i}",
                       "name": call.name, "input": arguments})
    return blocks


def message_object(entry: Entry, request: dict[str, Any], n: int,
                   usage: dict[str, Any] | None) -> dict[str, Any]:
    """The whole ``message`` of a non-streamed Messages answer."""
    return {"id": f"msg_fake_{n}", "type": "message", "role": "assistant",
            "model": request.get("model"), "content": _blocks(entry, n),
            "stop_reason": STOP_REASONS.get(entry.finish_reason, entry.finish_reason),
            "stop_sequence": None, "usage": usage or messages_usage(0, 0, 0)}


def messages_events(entry: Entry, request: dict[str, Any], n: int,
                    usage: dict[str, Any] | None) -> list[bytes]:
    """The event stream of one answer in the Anthropic Messages API."""
    whole = message_object(entry, request, n, usage)
    start_usage = dict(whole["usage"], output_tokens=1)
    out = [sse("message_start", {"type": "message_start", "message": {
        **whole, "content": [], "stop_reason": None, "usage": start_usage}})]
    for index, block in enumerate(whole["content"]):
        if block["type"] == "text":
            out.append(sse("content_block_start", {"type": "content_block_start",
                                                   "index": index,
                                                   "content_block": {"type": "text",
                                                                     "text": ""}}))
            for piece in _pieces(block["text"]):
                out.append(sse("content_block_delta", {
                    "type": "content_block_delta", "index": index,
                    "delta": {"type": "text_delta", "text": piece}}))
        else:
            out.append(sse("content_block_start", {"type": "content_block_start",
                                                   "index": index,
                                                   "content_block": {**block, "input": {}}}))
            for piece in _pieces(json.dumps(block["input"])):
                out.append(sse("content_block_delta", {
                    "type": "content_block_delta", "index": index,
                    "delta": {"type": "input_json_delta", "partial_json": piece}}))
        out.append(sse("content_block_stop", {"type": "content_block_stop", "index": index}))
    out.append(sse("message_delta", {"type": "message_delta",
                                     "delta": {"stop_reason": whole["stop_reason"],
                                               "stop_sequence": None},
                                     "usage": {"output_tokens": whole["usage"]["output_tokens"]}}))
    out.append(sse("message_stop", {"type": "message_stop"}))
    return out


def anthropic_error(status: int, message: str) -> dict[str, Any]:
    """An error body the way the Messages API writes it."""
    kind = {400: "invalid_request_error", 401: "authentication_error",
            403: "permission_error", 404: "not_found_error", 413: "request_too_large",
            429: "rate_limit_error", 529: "overloaded_error"}.get(status, "api_error")
    return {"type": "error", "error": {"type": kind, "message": message}}
