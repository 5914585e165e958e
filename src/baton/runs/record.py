"""``baton record``: append a step someone ran by hand to a trace, validated."""

from __future__ import annotations

import math
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from baton.errors import UserError
from baton.runs import trace as T
from baton.runs.reader import run_trace
from baton.runs.stats import parse_line, trace_run_id

RESULTS: tuple[str, ...] = (
    "approve", "request_changes", "block", "go", "no-go", "ok", "error", "pass", "fail")
# The words of the articles baton grew out of (and an implementer's "applied"), each
# recorded as baton's own word so every report counts them together.
RESULT_ALIASES: dict[str, str] = {
    "changes": "request_changes", "blocked": "block", "verified": "pass", "applied": "ok"}
RESULT_WORDS: tuple[str, ...] = RESULTS + tuple(RESULT_ALIASES)


def canonical_result(word: str) -> str:
    """baton's word for a result typed in baton's or the articles' words."""
    if word in RESULTS:
        return word
    if word in RESULT_ALIASES:
        return RESULT_ALIASES[word]
    raise UserError(f"unknown result {word!r}; use one of {', '.join(RESULT_WORDS)}")


def record_call(
    trace_path: Path,
    *,
    role: str,
    model: str,
    latency_s: float,
    input_tokens: int,
    output_tokens: int,
    result: str,
    evidence: Iterable[str] = (),
    cost_usd: float | None = None,
    cached_tokens: int | None = None,
    endpoint: str | None = None,
    run_id: str | None = None,
    packet: int | None = None,
    round_: int | None = None,
    task_id: str | None = None,
) -> dict[str, Any]:
    """Append a ``model.call`` event with ``source: manual`` to a trace; the event written.

    ``result`` may be baton's word or one of :data:`RESULT_ALIASES`; the event's ``result``
    is baton's word and ``result_as_given`` the word given. ``task_id`` is the caller's own
    key for the task (kept apart from the run id; ``trace summary --by task`` groups by it).
    """
    from baton.config import ROLES

    if role not in ROLES:
        raise UserError(f"unknown role {role!r}; use one of {', '.join(ROLES)}")
    result_as_given, result = result, canonical_result(result)
    if not model.strip():
        raise UserError("the model name is empty; give the model that did the step")
    if task_id is not None and not task_id.strip():
        raise UserError("the task id is empty; give your key for the task "
                        "(e.g. billing-export-2026-06-03) or leave --task-id out")
    _check_amounts(latency_s=latency_s, input_tokens=input_tokens, output_tokens=output_tokens,
                   cost_usd=cost_usd, cached_tokens=cached_tokens, packet=packet, round=round_)
    if trace_path.is_dir():
        trace_path = trace_path / "trace.jsonl"
    if not trace_path.parent.is_dir():
        raise UserError(f"folder {trace_path.parent} does not exist; give the trace of a run "
                        "(or a file in an existing folder to start a new trace)")
    _check_is_trace(trace_path)
    usd, source = _manual_cost(model, input_tokens, output_tokens, cached_tokens, cost_usd)
    fields: dict[str, Any] = {
        "role": role, "packet": packet, "round": round_, "attempt": 1,
        "call_key": f"manual/{role}" + (f"/p{packet}" if packet else "")
        + (f"/r{round_}" if round_ else ""),
        "endpoint": endpoint, "source": "manual", T.OPERATION: "chat",
        T.MODEL: model, T.RESPONSE_MODEL: model, T.RESPONSE_ID: None, T.FINISH_REASONS: [],
        T.INPUT_TOKENS: input_tokens, T.OUTPUT_TOKENS: output_tokens,
        T.CACHED_TOKENS: cached_tokens, "latency_s": latency_s,
        "cost_usd": usd, "cost_source": source,
        "outcome": "error" if result == "error" else "ok", "error": None,
        "status_code": None, "prompt_file": None, "response_file": None,
        "result": result, "result_as_given": result_as_given, "evidence": list(evidence),
    }
    if task_id is not None:
        fields["task_id"] = task_id.strip()
    writer = run_trace(trace_path, run_id or _trace_run_id(trace_path))
    try:
        return writer.emit("model.call", **fields)
    finally:
        writer.close()


def _check_is_trace(path: Path) -> None:
    """Refuse to append to (and so repair the tail of) a file that is not a baton trace."""
    if not path.is_file():
        return
    with path.open("rb") as fh:
        for raw in fh:
            if raw.strip():
                event = parse_line(raw)
                if event is not None and "type" in event:
                    return
                break
        else:
            return  # empty
    raise UserError(f"{path} does not look like a baton trace (its first line is not an "
                    "event); give a run's trace.jsonl or a new file")


def _check_amounts(**amounts: float | None) -> None:
    for name, value in amounts.items():
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise UserError(f"{name} must be a number, not {value!r}")
        if not math.isfinite(value) or value < 0:
            raise UserError(f"{name} must be a finite number of at least 0, not {value!r}")


def _manual_cost(model: str, input_tokens: int, output_tokens: int, cached: int | None,
                 given: float | None) -> tuple[float | None, str]:
    """The cost given by hand, else the priced cost if baton knows the model, else unknown."""
    if given is not None:
        return float(given), "manual"
    try:
        from baton.llm.pricing import call_cost
    except ImportError:
        return None, "unknown"
    cost = call_cost(model, input_tokens=input_tokens, output_tokens=output_tokens,
                     cached_tokens=cached or 0)
    return cost.usd, cost.source


def _trace_run_id(trace_path: Path) -> str:
    return trace_run_id(trace_path) or trace_path.resolve().parent.name
