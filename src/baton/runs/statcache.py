"""A run's compact summary, written beside its trace when the run closes.

``trace.summary.json`` holds a finished trace's figures for every grouping (see
:class:`baton.runs.scan.FilePart`), with the size and SHA-256 of the trace it was computed
from. ``trace summary`` uses it in place of reading the trace only while the trace still
has that size and hash; a trace that was appended to, edited, damaged or cut is read in
full, so its bad lines are reported as always. The trace stays the record: the summary is
only ever derived from it, and deleting it changes nothing but speed.

Only a clean trace gets a summary (every line an event): a trace with damaged or foreign
lines is read in full each time, so its warnings never go missing.
"""

from __future__ import annotations

import hashlib
import os
import sys
from array import array
from collections import Counter, deque
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import msgspec

from baton.runs.scan import FilePart, GroupPart, scan_blocks, scan_file

FORMAT = 1
GROUPINGS = ("model", "role", "run", "task")  # every --by of stats.GROUP_BYS (a test checks)
# Check summaries ahead on threads (hashing releases the GIL) when there are this many files.
PARALLEL_FROM = 8


class _Group(msgspec.Struct, array_like=True):
    calls: int
    ok: int
    errors: int
    input_tokens: int
    output_tokens: int
    cached_tokens: int
    unknown_cost_calls: int
    outcomes: dict[str, int]
    latencies: bytes
    costs: bytes


class _Header(msgspec.Struct):
    format: int
    byteorder: str
    trace_size: int
    trace_sha256: str


class _Summary(_Header):
    events: int
    run_ids: list[str]
    decisions: dict[str, int]
    totals: _Group
    dims: dict[str, msgspec.Raw]  # each grouping decoded only when asked for
    edges: bool = False  # written by a baton that records the first and last timestamps
    first_ts: str | None = None
    last_ts: str | None = None


_decode_summary = msgspec.json.Decoder(_Summary).decode
_decode_groups = msgspec.json.Decoder(dict[str, _Group]).decode


def summary_path(trace: Path) -> Path:
    """Where the summary of ``trace`` lives: ``trace.jsonl`` -> ``trace.summary.json``."""
    return trace.with_name(trace.stem + ".summary.json")


def write_summary(trace: Path) -> Path | None:
    """Compute and write the summary of a finished trace; ``None`` if the trace is not clean.

    The trace is read once, into memory, and hashed and counted from those same bytes, so
    the summary always describes exactly the bytes it names.
    """
    target = summary_path(trace)
    data = trace.read_bytes()
    part = scan_blocks([data], GROUPINGS, trace)
    if not part.clean:
        target.unlink(missing_ok=True)
        return None
    record = _Summary(
        format=FORMAT, byteorder=sys.byteorder, trace_size=len(data),
        trace_sha256=hashlib.sha256(data).hexdigest(), events=part.events,
        run_ids=sorted(part.run_ids), decisions=dict(part.decisions),
        totals=_group_record(part.totals),
        dims={dim: msgspec.Raw(msgspec.json.encode(
            {key: _group_record(g) for key, g in part.dims[dim].items()}))
            for dim in GROUPINGS},
        edges=True, first_ts=_edge_ts(lines := data.splitlines()),
        last_ts=_edge_ts(reversed(lines)))
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    tmp.write_bytes(msgspec.json.encode(record))
    os.replace(tmp, target)
    return target


def _edge_ts(lines: Iterable[bytes]) -> str | None:
    """The ``ts`` of the first event among ``lines`` that has one."""
    for line in lines:
        try:
            event = msgspec.json.decode(line)
        except msgspec.DecodeError:
            continue
        ts = event.get("ts") if isinstance(event, dict) else None
        if isinstance(ts, str):
            return ts
    return None


def _matching(trace: Path) -> _Summary | None:
    """The summary of ``trace`` if it describes exactly the trace's current bytes."""
    try:
        raw = summary_path(trace).read_bytes()
        size = trace.stat().st_size
    except OSError:
        return None
    try:
        record = _decode_summary(raw)
    except msgspec.DecodeError:
        return None
    if (record.format != FORMAT or record.byteorder != sys.byteorder
            or record.trace_size != size):
        return None
    try:
        with trace.open("rb") as fh:
            digest = hashlib.file_digest(fh, "sha256").hexdigest()
    except OSError:
        return None
    return record if digest == record.trace_sha256 else None


def read_overview(trace: Path) -> dict[str, Any] | None:
    """What ``baton runs`` shows of a run (calls, tokens, cost, first and last timestamp)
    from the trace's summary, if it has one that matches it and records the timestamps."""
    record = _matching(trace)
    if record is None or not record.edges:
        return None
    totals = _group_part(record.totals)
    return {"calls": totals.calls, "input_tokens": totals.input_tokens,
            "output_tokens": totals.output_tokens, "cost_usd": sum(totals.costs),
            "unknown_cost_calls": totals.unknown_cost_calls,
            "started": record.first_ts, "ended": record.last_ts}


def read_summary(trace: Path, by: str) -> FilePart | None:
    """The trace's figures from its summary, if it has one that matches it; else ``None``."""
    record = _matching(trace)
    if record is None or by not in record.dims:
        return None
    try:
        groups = _decode_groups(record.dims[by])
    except msgspec.DecodeError:
        return None
    return FilePart(
        dims={by: {key: _group_part(g) for key, g in groups.items()}},
        totals=_group_part(record.totals), events=record.events,
        run_ids=set(record.run_ids), decisions=Counter(record.decisions))


def file_parts(files: Iterable[Path], by: str, *, cached: bool = True) -> Iterator[FilePart]:
    """Each file's figures, in order: from its summary when it matches, else read in full."""
    files = list(files)
    if not cached:
        for path in files:
            yield scan_file(path, (by,))
        return
    if len(files) < PARALLEL_FROM:
        for path in files:
            yield read_summary(path, by) or scan_file(path, (by,))
        return
    from concurrent.futures import ThreadPoolExecutor

    workers = max(1, min(4, os.cpu_count() or 1))
    with ThreadPoolExecutor(max_workers=workers) as pool:
        ahead: deque[Any] = deque()
        pending = iter(files)
        for path in pending:
            ahead.append((path, pool.submit(read_summary, path, by)))
            if len(ahead) >= 4 * workers:
                break
        while ahead:
            path, future = ahead.popleft()
            for nxt in pending:
                ahead.append((nxt, pool.submit(read_summary, nxt, by)))
                break
            yield future.result() or scan_file(path, (by,))


def _group_record(g: GroupPart) -> _Group:
    return _Group(calls=g.calls, ok=g.ok, errors=g.errors, input_tokens=g.input_tokens,
                  output_tokens=g.output_tokens, cached_tokens=g.cached_tokens,
                  unknown_cost_calls=g.unknown_cost_calls, outcomes=dict(g.outcomes),
                  latencies=g.latencies.tobytes(), costs=g.costs.tobytes())


def _group_part(g: _Group) -> GroupPart:
    latencies, costs = array("d"), array("d")
    latencies.frombytes(g.latencies)
    costs.frombytes(g.costs)
    return GroupPart(calls=g.calls, ok=g.ok, errors=g.errors, input_tokens=g.input_tokens,
                     output_tokens=g.output_tokens, cached_tokens=g.cached_tokens,
                     unknown_cost_calls=g.unknown_cost_calls, outcomes=Counter(g.outcomes),
                     latencies=latencies, costs=costs)
