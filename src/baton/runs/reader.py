"""The one way in to a trace's figures: :func:`summarize` (``baton trace summary``, the
report) and :func:`run_overview` (one run's figures, for ``baton runs``).

Each picks the cheapest reader that gives the same figures: the plain line-by-line reader
(``stats``) for a few small traces, the fast one-pass reader (``scan``) past
``FAST_FROM_BYTES``, and a finished run's summary file (``statcache``) when it still
matches its trace byte for byte.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from baton.errors import UserError
from baton.runs.stats import (
    FAST_FROM_BYTES,
    GROUP_BYS,
    GroupBy,
    GroupStats,
    RunOverview,
    Summary,
    _events,
    _read_line_by_line,
    _seconds_between,
    _total_bytes,
    trace_files,
)
from baton.runs.trace import TraceWriter


def summarize(paths: Iterable[Path], by: GroupBy = "model", *, cached: bool = True
              ) -> Summary:
    """Summarize every trace under ``paths`` (trace files, run folders, or folders of them).

    Under :data:`FAST_FROM_BYTES` of traces in all, each line goes through ``json``, as in
    :func:`summarize_line_by_line`. From there on, each file is read in one fast pass
    (:mod:`baton.runs.scan`); with ``cached``, a run's
    summary file written when the run closed stands for its trace when it still matches the
    trace's size and hash (:mod:`baton.runs.statcache`). The figures are the same either
    way, and the same as :func:`summarize_line_by_line`.
    """
    if by not in GROUP_BYS:
        raise UserError(f"cannot group by {by!r}; choose one of {', '.join(GROUP_BYS)}")
    summary = Summary(by=by)
    files = trace_files(paths, warnings=summary.warnings)
    if _total_bytes(files) < FAST_FROM_BYTES:
        # A few runs: the plain reader is done before the fast one would have been imported.
        _read_line_by_line(summary, files)
        return summary

    from baton.runs.scan import merge_part  # msgspec: imported only for big traces
    from baton.runs.statcache import file_parts

    for part in file_parts(files, by, cached=cached):
        summary.files += 1
        merge_part(summary, part, by)
    return summary


def run_overview(trace_path: Path) -> RunOverview:
    """Calls, tokens, cost, and wall time from the first to the last event of one trace
    (from its summary when one matches the trace byte for byte, else read in full)."""
    from baton.runs.statcache import read_overview

    cached = read_overview(trace_path)
    if cached is not None:
        overview = RunOverview(**cached)
        overview.duration_s = _seconds_between(overview.started, overview.ended)
        return overview
    scratch = Summary(by="run")
    overview = RunOverview()
    stats = GroupStats("run")
    for event in _events(trace_path, scratch):
        if event.get("type") == "model.call":
            stats.add_call(event)
        ts = event.get("ts")
        if isinstance(ts, str):
            overview.started = overview.started or ts
            overview.ended = ts
    overview.calls, overview.cost_usd = stats.calls, stats.cost_usd
    overview.input_tokens, overview.output_tokens = stats.input_tokens, stats.output_tokens
    overview.unknown_cost_calls = stats.unknown_cost_calls
    overview.duration_s = _seconds_between(overview.started, overview.ended)
    overview.warnings = scratch.warnings
    return overview


def run_trace(path: Path, run_id: str) -> TraceWriter:
    """A run's trace writer: closed after its ``run.end``, it writes the run's summary
    beside the trace (``statcache``), which ``summarize`` and ``run_overview`` read."""
    return TraceWriter(path, run_id, on_end=_write_summary)


def _write_summary(path: Path) -> None:
    from baton.runs.statcache import write_summary  # msgspec: only when a run closes

    write_summary(path)
