"""Streaming summaries of traces: calls, latency, tokens and cost by model, role, run or task.

One pass over the files, nothing kept per event except one latency float per model call
(in a compact ``array('d')``) for the percentiles. Percentiles are *nearest-rank*: p95 is
the smallest recorded latency that at least 95% of the calls did not exceed, so it is
always a latency that really happened. A damaged line (a crash mid-write, a stray edit)
is skipped with a warning naming the file and line; it never stops the summary.

``baton.runs.reader`` picks between this reader, the fast one (``scan``) and a run's
summary file (``statcache``).
"""

from __future__ import annotations

import json
import math
import os
from array import array
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

from baton.errors import UserError
from baton.runs import trace as T

GroupBy = Literal["model", "role", "run", "task"]
GROUP_BYS: tuple[str, ...] = ("model", "role", "run", "task")
UNKNOWN = "(unknown)"
# Damaged lines reported one by one per file; the rest are counted in one warning.
MAX_LINE_WARNINGS = 5
# From this many bytes of traces on, `summarize` uses the fast reader and the run summaries.
FAST_FROM_BYTES = 1 << 20


def percentile(ordered: list[float] | array[float], p: float) -> float | None:
    """Nearest-rank percentile of already sorted values; ``None`` when there are none."""
    if not ordered:
        return None
    rank = max(1, math.ceil(p / 100 * len(ordered)))
    return ordered[min(rank, len(ordered)) - 1]


def _int(value: Any) -> int:
    return value if type(value) is int else 0  # not bool, not a damaged string


def _number(value: Any) -> float | None:
    kind = type(value)
    if kind is float:
        return value if math.isfinite(value) else None
    if kind is int:  # an int too large for a float is no latency or cost
        return float(value) if -(2**1023) < value < 2**1023 else None
    return None


def _round(value: float | None, digits: int = 9) -> float | None:
    return None if value is None else round(value, digits)


@dataclass
class GroupStats:
    """Everything counted for one model, role or run (or the totals)."""

    key: str
    calls: int = 0
    ok: int = 0
    errors: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cached_tokens: int = 0
    cost_usd: float = 0.0
    unknown_cost_calls: int = 0
    outcomes: Counter[str] = field(default_factory=Counter)
    latencies: array[float] = field(default_factory=lambda: array("d"), repr=False)

    def add_call(self, event: dict[str, Any]) -> None:
        """Count one ``model.call`` event."""
        self.calls += 1
        if event.get("outcome") == "ok":
            self.ok += 1
        else:
            self.errors += 1
        latency = _number(event.get("latency_s"))
        if latency is not None:
            self.latencies.append(latency)
        self.input_tokens += _int(event.get(T.INPUT_TOKENS))
        self.output_tokens += _int(event.get(T.OUTPUT_TOKENS))
        self.cached_tokens += _int(event.get(T.CACHED_TOKENS))
        cost = _number(event.get("cost_usd"))
        if cost is None:
            self.unknown_cost_calls += 1
        else:
            self.cost_usd += cost
        result = event.get("result")
        if isinstance(result, str) and result:
            self.outcomes[result] += 1

    def latency(self) -> dict[str, float | None]:
        """Mean, nearest-rank p50 and p95, and max of the call latencies, in seconds."""
        ordered = sorted(self.latencies)
        mean = sum(ordered) / len(ordered) if ordered else None
        return {"mean": _round(mean, 4), "p50": percentile(ordered, 50),
                "p95": percentile(ordered, 95), "max": ordered[-1] if ordered else None}

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready fields."""
        return {
            "key": self.key, "calls": self.calls, "ok": self.ok, "errors": self.errors,
            "latency_s": self.latency(), "input_tokens": self.input_tokens,
            "output_tokens": self.output_tokens, "cached_tokens": self.cached_tokens,
            "cost_usd": _round(self.cost_usd), "unknown_cost_calls": self.unknown_cost_calls,
            "outcomes": dict(sorted(self.outcomes.items())),
        }


@dataclass
class Summary:
    """The result of :func:`summarize`: groups, totals, decisions and what was skipped."""

    by: str
    groups: dict[str, GroupStats] = field(default_factory=dict)
    totals: GroupStats = field(default_factory=lambda: GroupStats("total"))
    decisions: Counter[str] = field(default_factory=Counter)
    files: int = 0
    events: int = 0
    skipped_lines: int = 0
    run_ids: set[str] = field(default_factory=set, repr=False)
    warnings: list[str] = field(default_factory=list)

    def group(self, key: str) -> GroupStats:
        """The group named ``key``, created empty on first use."""
        found = self.groups.get(key)
        if found is None:
            found = self.groups[key] = GroupStats(key)
        return found

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready fields; groups sorted by key."""
        return {
            "by": self.by, "files": self.files, "runs": len(self.run_ids),
            "events": self.events, "skipped_lines": self.skipped_lines,
            "groups": [self.groups[k].to_dict() for k in sorted(self.groups)],
            "totals": self.totals.to_dict(),
            "decisions": dict(sorted(self.decisions.items())),
            "warnings": list(self.warnings),
        }


def summarize_line_by_line(paths: Iterable[Path], by: GroupBy = "model") -> Summary:
    """The straightforward reader: every line through the standard library's JSON parser.

    What ``reader.summarize`` uses for a few small traces, and the reference the fast reader
    is checked against (tests/test_trace_scan.py).
    """
    if by not in GROUP_BYS:
        raise UserError(f"cannot group by {by!r}; choose one of {', '.join(GROUP_BYS)}")
    summary = Summary(by=by)
    _read_line_by_line(summary, trace_files(paths, warnings=summary.warnings))
    return summary


def _read_line_by_line(summary: Summary, files: list[Path]) -> None:
    call_key, verdict_key = _KEYS[summary.by]
    for path in files:
        summary.files += 1
        for event in _events(path, summary):
            _count(summary, event, call_key, verdict_key)


def _total_bytes(files: list[Path]) -> int:
    total = 0
    for path in files:
        try:
            total += path.stat().st_size
        except OSError:
            pass
        if total >= FAST_FROM_BYTES:
            break
    return total


# (key of a model.call, key of a review.verdict), given the event and its run key.
_KEYS = {
    "model": (lambda e, run: e.get(T.MODEL) or e.get(T.RESPONSE_MODEL),
              lambda e, run: e.get("model")),
    "role": (lambda e, run: e.get("role"), lambda e, run: "reviewer"),
    "run": (lambda e, run: run, lambda e, run: run),
    # The caller's own task key (`baton record --task-id`), not the run id.
    "task": (lambda e, run: _text(e.get("task_id")), lambda e, run: _text(e.get("task_id"))),
}


def _text(value: Any) -> str | None:
    return value if type(value) is str and value else None


def _count(summary: Summary, event: dict[str, Any], call_key, verdict_key) -> None:
    summary.events += 1
    run_id = event.get("run_id")
    run_key = run_id if type(run_id) is str and run_id else UNKNOWN
    summary.run_ids.add(run_key)
    kind = event.get("type")
    if kind == "model.call":
        key = call_key(event, run_key)
        summary.group(str(key) if key else UNKNOWN).add_call(event)
        summary.totals.add_call(event)
    elif kind == "review.verdict":
        verdict = event.get("verdict")
        if isinstance(verdict, str) and verdict:
            key = verdict_key(event, run_key)
            summary.group(str(key) if key else UNKNOWN).outcomes[verdict] += 1
            summary.totals.outcomes[verdict] += 1
    elif kind == "decision":
        decision = event.get("decision")
        if isinstance(decision, str) and decision:
            summary.decisions[decision] += 1
            if summary.by == "run":
                summary.group(run_key).outcomes[decision] += 1


def _events(path: Path, summary: Summary) -> Iterator[dict[str, Any]]:
    """The events of one file; damaged lines become warnings on ``summary``."""
    damaged = not_events = 0
    try:
        fh = path.open("rb")
    except OSError as exc:
        summary.warnings.append(unreadable(path, exc))
        return
    with fh:
        try:
            for lineno, raw in enumerate(fh, 1):
                if not raw.strip():
                    continue
                event = parse_line(raw)
                if event is None:
                    damaged += 1
                    if damaged <= MAX_LINE_WARNINGS:
                        summary.warnings.append(damaged_line(path, lineno))
                    continue
                if "type" not in event:
                    not_events += 1
                    continue
                yield event
        except OSError as exc:
            summary.warnings.append(stopped_early(path, exc))
    summary.skipped_lines += damaged + not_events
    summary.warnings += skipped_lines(path, damaged, not_events)


# What both readers (this one and baton.runs.scan) say about a file's lines, word for word.


def unreadable(name: Path | str, exc: OSError) -> str:
    return f"{name}: could not be read ({exc.strerror or exc}); skipped"


def stopped_early(name: Path | str, exc: OSError) -> str:
    return f"{name}: reading stopped early ({exc.strerror or exc})"


def damaged_line(name: Path | str, lineno: int) -> str:
    return (f"{name}:{lineno}: skipped a damaged line "
            "(not a JSON object; probably a crash mid-write)")


def skipped_lines(name: Path | str, damaged: int, not_events: int) -> list[str]:
    """The warnings closing a file: damaged lines beyond the first few, non-events."""
    out = []
    if damaged > MAX_LINE_WARNINGS:
        out.append(f"{name}: {damaged - MAX_LINE_WARNINGS} more damaged lines skipped")
    if not_events:
        out.append(f"{name}: {not_events} lines are not baton trace events (no 'type'); "
                   "skipped")
    return out


def parse_line(raw: bytes) -> dict[str, Any] | None:
    """One line as a JSON object, or ``None`` if it is not one."""
    try:
        event = json.loads(raw.decode("utf-8"))
    except (ValueError, RecursionError):
        return None
    return event if isinstance(event, dict) else None


def trace_files(paths: Iterable[Path], warnings: list[str] | None = None) -> list[Path]:
    """The trace files under ``paths``, each once, in a stable order."""
    found: dict[Path, None] = {}
    for path in paths:
        path = Path(path)
        if path.is_file():
            found[path] = None
        elif path.is_dir():
            inside = dict.fromkeys(_walk(path))
            if not inside and warnings is not None:
                warnings.append(f"{path}: no trace.jsonl or *.jsonl file in this folder")
            found.update(inside)
        else:
            raise UserError(f"{path} does not exist; give a trace file, a run folder, "
                            "a folder of runs, or a run id")
    unique: dict[Path, Path] = {}
    for path in found:
        unique.setdefault(path.resolve(), path)
    return list(unique.values())


def _walk(top: Path) -> Iterator[Path]:
    """A run folder's trace.jsonl; elsewhere every *.jsonl file, recursively."""
    for root, dirs, files in os.walk(top):
        dirs.sort()
        if "trace.jsonl" in files:
            dirs.clear()  # a run folder: its trace is the only trace in it
            yield Path(root) / "trace.jsonl"
            continue
        for name in sorted(files):
            if name.endswith(".jsonl"):
                yield Path(root) / name


# -- one run at a glance (for `baton runs`) ------------------------------------------


@dataclass
class RunOverview:
    """The figures `baton runs` shows for one run, read from its trace."""

    calls: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float = 0.0
    unknown_cost_calls: int = 0
    started: str | None = None
    ended: str | None = None
    duration_s: float | None = None
    warnings: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready fields (warnings left out)."""
        return {"calls": self.calls, "input_tokens": self.input_tokens,
                "output_tokens": self.output_tokens, "cost_usd": _round(self.cost_usd),
                "unknown_cost_calls": self.unknown_cost_calls, "started": self.started,
                "ended": self.ended, "duration_s": self.duration_s}


def _seconds_between(start: str | None, end: str | None) -> float | None:
    if not start or not end:
        return None
    try:
        delta = datetime.fromisoformat(end) - datetime.fromisoformat(start)
    except (ValueError, TypeError):
        return None
    return round(delta.total_seconds(), 3)


def trace_run_id(trace_path: Path) -> str | None:
    """The run id of the first readable event of a trace, if any."""
    for event in T.iter_events(trace_path, warn=False):
        run_id = event.get("run_id")
        if isinstance(run_id, str) and run_id:
            return run_id
    return None
