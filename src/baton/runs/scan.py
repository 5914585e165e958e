"""One fast pass over a trace file: the figures ``trace summary`` needs, mergeable in order.

Each line is decoded by msgspec into a struct holding only the fields the figures read
(the rest of the line is checked as JSON but not built into Python objects). A line
msgspec refuses goes through the standard library's parser (:func:`stats.parse_line`), so
what counts as a damaged line, and every figure, is exactly what the line-by-line reader
in :mod:`baton.runs.stats` computes (``tests/test_trace_scan.py`` checks them side by side).

A file's figures are a :class:`FilePart`: per grouping (model, role, run, task) and for the
totals, counts, outcomes, the call latencies and the known costs *in event order*. Merging
parts file after file continues each running cost sum exactly where the previous file left
it, so a merged summary is bit-for-bit the one-pass result (see :func:`merge_part`).
"""

from __future__ import annotations

import operator
from array import array
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from functools import reduce
from pathlib import Path
from typing import TYPE_CHECKING, Any

import msgspec

from baton.runs import trace as T
from baton.runs.stats import (
    MAX_LINE_WARNINGS,
    UNKNOWN,
    damaged_line,
    skipped_lines,
    stopped_early,
    unreadable,
)

if TYPE_CHECKING:
    from baton.runs.stats import Summary

UNSET = msgspec.UNSET
# Read this much of a file at a time (lines are split inside each block).
BLOCK_BYTES = 4 << 20
_NO_RUN_ID = object()


class _Event(msgspec.Struct):
    """The fields of an event that the figures read; everything else is skipped."""

    type: Any = UNSET
    run_id: Any = None
    role: Any = None
    model: Any = None
    verdict: Any = None
    decision: Any = None
    task_id: Any = None
    outcome: Any = None
    result: Any = None
    latency_s: Any = None
    cost_usd: Any = None
    request_model: Any = msgspec.field(default=None, name=T.MODEL)
    response_model: Any = msgspec.field(default=None, name=T.RESPONSE_MODEL)
    input_tokens: Any = msgspec.field(default=None, name=T.INPUT_TOKENS)
    output_tokens: Any = msgspec.field(default=None, name=T.OUTPUT_TOKENS)
    cached_tokens: Any = msgspec.field(default=None, name=T.CACHED_TOKENS)


_decode = msgspec.json.Decoder(_Event).decode


@dataclass(slots=True)
class GroupPart:
    """One group's figures within one file (or a cached run)."""

    calls: int = 0
    ok: int = 0
    errors: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cached_tokens: int = 0
    unknown_cost_calls: int = 0
    outcomes: Counter[str] = field(default_factory=Counter)
    latencies: array[float] = field(default_factory=lambda: array("d"))
    costs: array[float] = field(default_factory=lambda: array("d"))  # known costs, in order


@dataclass
class FilePart:
    """One file's figures for some groupings; ``clean`` if no line was skipped or lost."""

    dims: dict[str, dict[str, GroupPart]]
    totals: GroupPart = field(default_factory=GroupPart)  # latencies left empty: see merge
    events: int = 0
    skipped_lines: int = 0
    run_ids: set[str] = field(default_factory=set)
    decisions: Counter[str] = field(default_factory=Counter)
    warnings: list[str] = field(default_factory=list)
    read_error: bool = False

    @property
    def clean(self) -> bool:
        """True when every line was read as an event: the part can stand for the file."""
        return not self.skipped_lines and not self.read_error and not self.warnings


def _text(value: Any) -> str | None:
    return value if type(value) is str and value else None


def _group_key(value: Any) -> str:
    return str(value) if value else UNKNOWN


# Per grouping: the key of a model.call and of a review.verdict (as in stats._KEYS),
# given the event and its run key.
_CALL_KEYS: dict[str, Any] = {
    "model": lambda ev, run: _group_key(ev.request_model or ev.response_model),
    "role": lambda ev, run: _group_key(ev.role),
    "run": lambda ev, run: run,
    "task": lambda ev, run: _group_key(_text(ev.task_id)),
}
_VERDICT_KEYS: dict[str, Any] = {
    "model": lambda ev, run: _group_key(ev.model),
    "role": lambda ev, run: "reviewer",
    "run": lambda ev, run: run,
    "task": lambda ev, run: _group_key(_text(ev.task_id)),
}


def _number(value: Any) -> float | None:
    kind = type(value)
    if kind is float:
        return value if value - value == 0.0 else None  # finite
    if kind is int:
        return float(value) if -_HUGE < value < _HUGE else None  # as stats._number
    return None


_HUGE = 2**1023  # an int beyond this is no latency or cost (and no float)


def _fallback(raw: bytes) -> _Event | None:
    """A line msgspec refused, as the standard library reads it (or None if damaged)."""
    from baton.runs.stats import parse_line

    event = parse_line(raw)
    if event is None:
        return None
    return msgspec.convert({k: v for k, v in event.items() if k in _FIELDS}, _Event)


_FIELDS = frozenset(
    f.encode_name for f in msgspec.structs.fields(_Event))  # type: ignore[attr-defined]


def scan_file(path: Path, dims: Iterable[str], shown: Path | None = None) -> FilePart:
    """Read one trace file once, counting for each grouping in ``dims``.

    Warnings name the file as ``shown`` (default ``path``), like the line-by-line reader.
    """
    name = shown if shown is not None else path
    try:
        fh = path.open("rb")
    except OSError as exc:
        part = FilePart(dims={dim: {} for dim in dims}, read_error=True)
        part.warnings.append(unreadable(name, exc))
        return part
    with fh:
        return scan_blocks(_blocks(fh), dims, name)


def _blocks(fh: Any) -> Iterator[bytes]:
    while True:
        block = fh.read(BLOCK_BYTES)
        if not block:
            return
        yield block


def scan_blocks(blocks: Iterable[bytes], dims: Iterable[str], name: Path | str) -> FilePart:
    """The figures of a trace given as consecutive blocks of its bytes."""
    dims = tuple(dims)
    part = FilePart(dims={dim: {} for dim in dims})
    warnings = part.warnings
    damaged = not_events = lineno = 0
    decode, fallback, count = _decode, _fallback, _counter(part, dims)
    events = 0
    run_ids = part.run_ids
    last_id: Any = _NO_RUN_ID
    run_key = UNKNOWN
    try:
        for block in _lines_in(blocks):
            for raw in block:
                lineno += 1
                if not raw or raw.isspace():
                    continue
                try:
                    ev: _Event | None = decode(raw)
                except msgspec.DecodeError:
                    ev = fallback(raw)
                if ev is None:
                    damaged += 1
                    if damaged <= MAX_LINE_WARNINGS:
                        warnings.append(damaged_line(name, lineno))
                    continue
                if ev.type is UNSET:
                    not_events += 1
                    continue
                events += 1
                run_id = ev.run_id
                if run_id != last_id:  # most files hold one run: look its key up once
                    last_id = run_id
                    run_key = run_id if type(run_id) is str and run_id else UNKNOWN
                    run_ids.add(run_key)
                kind = ev.type
                if kind == "model.call" or kind == "review.verdict" or kind == "decision":
                    count(ev, kind, run_key)
    except OSError as exc:
        warnings.append(stopped_early(name, exc))
        part.read_error = True
    part.events = events
    if dims:
        _finish(part, dims[0])
    part.skipped_lines = damaged + not_events
    warnings += skipped_lines(name, damaged, not_events)
    return part


def _lines_in(blocks: Iterable[bytes]) -> Iterator[list[bytes]]:
    """Lists of whole lines (without their newline) from consecutive blocks of bytes."""
    rest = b""
    for block in blocks:
        pieces = (rest + block).split(b"\n") if rest else block.split(b"\n")
        rest = pieces.pop()
        yield pieces
    if rest:
        yield [rest]


def _counter(part: FilePart, dims: tuple[str, ...]) -> Any:
    """A function counting one event into ``part`` for each grouping of ``dims``.

    The totals count only what cannot be derived from the groups (the costs in event order
    and the outcomes); :func:`_finish` adds the rest up from the groups.
    """
    ways = [(part.dims[dim], _CALL_KEYS[dim], _VERDICT_KEYS[dim]) for dim in dims]
    run_groups = part.dims.get("run")
    totals, decisions = part.totals, part.decisions
    totals_costs, totals_outcomes = totals.costs, totals.outcomes
    number = _number

    def count(ev: _Event, kind: str, run_key: str) -> None:
        if kind == "model.call":
            latency = number(ev.latency_s)
            cost = number(ev.cost_usd)
            ok = ev.outcome == "ok"
            tokens_in, tokens_out, cached = ev.input_tokens, ev.output_tokens, ev.cached_tokens
            if type(tokens_in) is not int:
                tokens_in = 0
            if type(tokens_out) is not int:
                tokens_out = 0
            if type(cached) is not int:
                cached = 0
            result = ev.result
            if not (isinstance(result, str) and result):
                result = None
            for groups, call_key, _ in ways:
                key = call_key(ev, run_key)
                g = groups.get(key)
                if g is None:
                    g = groups[key] = GroupPart()
                g.calls += 1
                if ok:
                    g.ok += 1
                else:
                    g.errors += 1
                if latency is not None:
                    g.latencies.append(latency)
                g.input_tokens += tokens_in
                g.output_tokens += tokens_out
                g.cached_tokens += cached
                if cost is None:
                    g.unknown_cost_calls += 1
                else:
                    g.costs.append(cost)
                if result is not None:
                    g.outcomes[result] += 1
            if cost is not None:
                totals_costs.append(cost)
            if result is not None:
                totals_outcomes[result] += 1
        elif kind == "review.verdict":
            verdict = ev.verdict
            if isinstance(verdict, str) and verdict:
                for groups, _, verdict_key in ways:
                    key = verdict_key(ev, run_key)
                    g = groups.get(key)
                    if g is None:
                        g = groups[key] = GroupPart()
                    g.outcomes[verdict] += 1
                totals_outcomes[verdict] += 1
        elif kind == "decision":
            decision = ev.decision
            if isinstance(decision, str) and decision:
                decisions[decision] += 1
                if run_groups is not None:
                    g = run_groups.get(run_key)
                    if g is None:
                        g = run_groups[run_key] = GroupPart()
                    g.outcomes[decision] += 1

    return count


def _finish(part: FilePart, dim: str) -> None:
    """The totals' counts: the sums over the groups of one grouping (each call is in one)."""
    totals = part.totals
    for g in part.dims[dim].values():
        _add_counts(totals, g)


def merge_part(summary: Summary, part: FilePart, by: str) -> None:
    """Add one file's figures to ``summary`` (files must be merged in reading order)."""
    summary.events += part.events
    summary.skipped_lines += part.skipped_lines
    summary.run_ids.update(part.run_ids)
    summary.decisions.update(part.decisions)
    summary.warnings.extend(part.warnings)
    totals = summary.totals
    for key, gp in part.dims[by].items():
        _merge_group(summary.group(key), gp)
        totals.latencies.extend(gp.latencies)
    _merge_group(totals, part.totals, latencies=False)


def _add_counts(g: Any, gp: GroupPart) -> None:
    """Add the call counts and tokens of ``gp`` to ``g`` (a GroupPart or GroupStats)."""
    g.calls += gp.calls
    g.ok += gp.ok
    g.errors += gp.errors
    g.input_tokens += gp.input_tokens
    g.output_tokens += gp.output_tokens
    g.cached_tokens += gp.cached_tokens
    g.unknown_cost_calls += gp.unknown_cost_calls


def _merge_group(g: Any, gp: GroupPart, latencies: bool = True) -> None:
    _add_counts(g, gp)
    g.outcomes.update(gp.outcomes)
    if latencies:
        g.latencies.extend(gp.latencies)
    # One addition after another, in event order, from where the running sum stands:
    # the same float as adding each call's cost as it is read.
    g.cost_usd = reduce(operator.add, gp.costs, g.cost_usd)
