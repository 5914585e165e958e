"""The append-only run trace: JSON Lines, one event per line, flushed as it happens.

Every event carries ``schema_version``, ``run_id``, ``seq``, ``ts`` and ``type``; the
rest depends on the type (see docs/trace.md). Model-call fields follow the OpenTelemetry
GenAI names (``gen_ai.request.model``, ``gen_ai.usage.input_tokens``, ...).
"""

from __future__ import annotations

import json
import os
import threading
import warnings
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

SCHEMA_VERSION = 1

# Names used in model.call events, shared by writers and readers.
MODEL = "gen_ai.request.model"
RESPONSE_MODEL = "gen_ai.response.model"
RESPONSE_ID = "gen_ai.response.id"
FINISH_REASONS = "gen_ai.response.finish_reasons"
INPUT_TOKENS = "gen_ai.usage.input_tokens"
OUTPUT_TOKENS = "gen_ai.usage.output_tokens"
CACHED_TOKENS = "gen_ai.usage.cache_read.input_tokens"
OPERATION = "gen_ai.operation.name"


class TraceWarning(UserWarning):
    """A trace had a damaged line that was skipped or repaired."""


def now_iso() -> str:
    """The current UTC time as an ISO 8601 string with milliseconds."""
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


_CHUNK = 65536


def _last_newline(fh, size: int) -> int:
    """Offset of the last ``\\n`` in the first ``size`` bytes of ``fh``, or -1."""
    end = size
    while end > 0:
        start = max(0, end - _CHUNK)
        fh.seek(start)
        idx = fh.read(end - start).rfind(b"\n")
        if idx >= 0:
            return start + idx
        end = start
    return -1


def repair_torn_tail(path: Path) -> bool:
    """Cut a torn last line (a crash mid-write), of any length, off the trace.

    True if one was cut. A last line that ends in a newline but is not JSON is cut too;
    earlier damaged lines are left for readers to report.
    """
    if not path.exists():
        return False
    with path.open("rb+") as fh:
        fh.seek(0, os.SEEK_END)
        size = fh.tell()
        if size == 0:
            return False
        fh.seek(size - 1)
        if fh.read(1) == b"\n":
            end = size - 1
            while end > 0:  # skip blank lines at the end
                fh.seek(end - 1)
                if fh.read(1) != b"\n":
                    break
                end -= 1
            if end == 0:
                return False
            start = _last_newline(fh, end) + 1
            fh.seek(start)
            try:
                json.loads(fh.read(end - start))
                return False
            except ValueError:
                cut = start
        else:
            cut = _last_newline(fh, size) + 1
            fh.seek(cut)
            try:  # a whole event that only lost its newline is kept
                if isinstance(json.loads(fh.read(size - cut)), dict):
                    fh.seek(size)
                    fh.write(b"\n")
                    return True
            except ValueError:
                pass
        fh.truncate(cut)
    return True


class TraceWriter:
    """Appends events to one run's trace; safe to share between threads of one run."""

    def __init__(self, path: Path, run_id: str, *,
                 on_end: Callable[[Path], None] | None = None) -> None:
        """``on_end``: called with the trace's path when it is closed after a ``run.end``
        (a run's writer writes its summary: ``baton.runs.reader.run_trace``)."""
        self.path = path
        self._on_end = on_end
        self.run_id = run_id
        self._lock = threading.Lock()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.repaired = repair_torn_tail(path)
        self._seq = _last_seq(path) + 1
        self._fh = path.open("a", encoding="utf-8")

    def emit(self, type_: str, **fields: Any) -> dict[str, Any]:
        """Append one event and flush it to the file before returning it."""
        with self._lock:
            event = {
                "schema_version": SCHEMA_VERSION,
                "run_id": self.run_id,
                "seq": self._seq,
                "ts": now_iso(),
                "type": type_,
                **fields,
            }
            line = json.dumps(event, ensure_ascii=False, default=str)
            self._fh.write(line + "\n")
            self._fh.flush()
            self._seq += 1
            self._ended = type_ == "run.end"
            return event

    def close(self) -> None:
        """Close the file; after a ``run.end``, write the run's summary beside it."""
        with self._lock:
            if self._fh.closed:
                return
            self._fh.close()
            if getattr(self, "_ended", False) and self._on_end is not None:
                _write_run_summary(self._on_end, self.path)


def _write_run_summary(write: Callable[[Path], None], path: Path) -> None:
    """The compact summary `trace summary` reads instead of a finished trace (runs/statcache).

    Only ever a shortcut: if it cannot be written, the trace is read in full instead.
    """
    try:
        write(path)
    except (OSError, ValueError) as exc:
        warnings.warn(f"{path}: could not write the run's summary ({exc}); "
                      "`baton trace summary` will read the whole trace", TraceWarning,
                      stacklevel=3)


def _last_seq(path: Path) -> int:
    last = -1
    for event in iter_events(path, warn=False):
        seq = event.get("seq")
        if type(seq) is int:
            last = max(last, seq)
    return last


def iter_events(path: Path, *, warn: bool = True,
                problems: list[str] | None = None) -> Iterator[dict[str, Any]]:
    """Yield the events of one trace file; a damaged line is skipped with a warning.

    A line that is not JSON, not an object, or whose ``seq`` or ``type`` has the wrong
    type is skipped; ``problems``, if given, collects one message per skipped line.
    """
    if not path.exists():
        return
    with path.open("rb") as fh:
        for lineno, raw in enumerate(fh, 1):
            if not raw.strip():
                continue
            try:
                event = json.loads(raw)
            except ValueError:
                _skipped(path, lineno, "a damaged trace line (not JSON; probably a crash "
                         "mid-write)", warn, problems)
                continue
            if not isinstance(event, dict) or ("seq" in event and type(event["seq"]) is not int) \
                    or ("type" in event and not isinstance(event["type"], str)):
                _skipped(path, lineno, "a malformed trace event (not an object with an "
                         "integer seq and a string type)", warn, problems)
                continue
            yield event


def _skipped(path: Path, lineno: int, what: str, warn: bool,
             problems: list[str] | None) -> None:
    message = f"{path}:{lineno}: skipped {what}"
    if problems is not None:
        problems.append(message)
    if warn:
        warnings.warn(message, TraceWarning, stacklevel=3)


def read_events(path: Path, *, warn: bool = True,
                problems: list[str] | None = None) -> list[dict[str, Any]]:
    """All events of one trace file, in order (see :func:`iter_events` for ``problems``)."""
    return list(iter_events(path, warn=warn, problems=problems))
