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
from collections.abc import Iterator
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


def repair_torn_tail(path: Path) -> bool:
    """Cut a torn last line (a crash mid-write) off the trace; True if one was cut."""
    if not path.exists():
        return False
    with path.open("rb+") as fh:
        fh.seek(0, os.SEEK_END)
        size = fh.tell()
        if size == 0:
            return False
        fh.seek(max(0, size - 65536))
        tail = fh.read()
        if tail.endswith(b"\n"):
            last = tail.rstrip(b"\n").rsplit(b"\n", 1)[-1]
            try:
                json.loads(last)
                return False
            except ValueError:
                cut = size - len(last) - 1
        else:
            idx = tail.rfind(b"\n")
            if idx < 0 and size > 65536:
                return False  # one huge line with no end: not a torn tail we can judge
            cut = size - len(tail) + idx + 1 if idx >= 0 else 0
        fh.truncate(cut)
    return True


class TraceWriter:
    """Appends events to one run's trace; safe to share between threads of one run."""

    def __init__(self, path: Path, run_id: str) -> None:
        self.path = path
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
            if getattr(self, "_ended", False):
                _write_run_summary(self.path)


def _write_run_summary(path: Path) -> None:
    """The compact summary `trace summary` reads instead of a finished trace (runs/statcache).

    Only ever a shortcut: if it cannot be written, the trace is read in full instead.
    """
    try:
        from baton.runs.statcache import write_summary

        write_summary(path)
    except (OSError, ValueError) as exc:
        warnings.warn(f"{path}: could not write the run's summary ({exc}); "
                      "`baton trace summary` will read the whole trace", TraceWarning,
                      stacklevel=3)


def _last_seq(path: Path) -> int:
    last = -1
    for event in iter_events(path, warn=False):
        last = max(last, int(event.get("seq", -1)))
    return last


def iter_events(path: Path, *, warn: bool = True) -> Iterator[dict[str, Any]]:
    """Yield the events of one trace file; a damaged line is skipped with a warning."""
    if not path.exists():
        return
    with path.open("rb") as fh:
        for lineno, raw in enumerate(fh, 1):
            if not raw.strip():
                continue
            try:
                event = json.loads(raw)
            except ValueError:
                if warn:
                    warnings.warn(
                        f"{path}:{lineno}: skipped a damaged trace line "
                        "(probably a crash mid-write)",
                        TraceWarning,
                        stacklevel=2,
                    )
                continue
            if isinstance(event, dict):
                yield event


def read_events(path: Path, *, warn: bool = True) -> list[dict[str, Any]]:
    """All events of one trace file, in order."""
    return list(iter_events(path, warn=warn))
