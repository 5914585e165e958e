"""Live export while a run happens, when ``OTEL_EXPORTER_OTLP_ENDPOINT`` is set.

Each model call and command is sent as its span the moment its trace event is written;
the structure spans (workflow, packets, role steps) follow when the process stops working
on the run (it ended, paused, or failed). Spans go through the SDK's batch processor, so
a slow or absent receiver never slows a run down; at the end of a run baton waits at most
a few seconds for the last batch. A run that pauses and is resumed sends its structure
spans again with the same ids and a later end.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from baton.export.spans import event_span_key, run_spans
from baton.runs.trace import read_events
from baton.secrets import SecretMasker

log = logging.getLogger(__name__)

FLUSH_TIMEOUT_MS = 5000

_PROCESSORS: dict[str, Any] = {}
_LOCK = threading.Lock()
_WARNED: set[Any] = set()


def _processor(url: str) -> Any:
    """One batch processor per receiver, shared by every run of the process."""
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    from baton.export.otlp import make_exporter

    with _LOCK:
        if url not in _PROCESSORS:
            _PROCESSORS[url] = BatchSpanProcessor(make_exporter(url, timeout_s=5.0))
        return _PROCESSORS[url]


class LiveExport:
    """Watches one run's trace events and sends them as spans."""

    def __init__(self, url: str, run_dir: Path, masker: SecretMasker) -> None:
        from baton.export.otlp import resource

        self.url = url
        self.run_dir = run_dir
        self.masker = masker
        self.processor = _processor(url)
        self.resource = resource()
        self.start: dict[str, Any] | None = None
        self.sent: set[str] = set()

    def event(self, event: dict[str, Any]) -> None:
        """Called after each event is appended to the trace; never raises."""
        try:
            if event.get("type") == "run.start":
                self.start = event
            key = event_span_key(event)
            if key is None:
                return
            if self.start is None:  # a resumed run: its routes are in the earlier events
                self.start = next((e for e in read_events(self.run_dir / "trace.jsonl",
                                                          warn=False)
                                   if e.get("type") == "run.start"), {})
            context = [self.start, event] if self.start else [event]
            self._send([s for s in run_spans(context) if s.key == key], event.get("run_id"))
        except Exception as exc:  # export must never break a run
            _warn_once(self.url, exc)

    def close(self) -> None:
        """Send the structure spans (from the whole trace) and wait for the batch."""
        try:
            events = read_events(self.run_dir / "trace.jsonl", warn=False)
            if events:
                spans = [s for s in run_spans(events, run_dir=self.run_dir)
                         if not s.key.startswith(("call/", "command/"))]
                self._send(spans, events[0].get("run_id"))
            self.processor.force_flush(FLUSH_TIMEOUT_MS)
        except Exception as exc:  # export must never break a run
            _warn_once(self.url, exc)

    def _send(self, spans: list, run_id: Any) -> None:
        from baton.export.otlp import to_readable

        for readable in to_readable(spans, str(run_id), self.masker, self.resource):
            self.processor.on_end(readable)
        self.sent.update(s.key for s in spans)


def _warn_once(url: str, exc: Exception) -> None:
    if ("error", url) not in _WARNED:
        _WARNED.add(("error", url))
        log.warning("live OpenTelemetry export to %s failed: %s", url, exc)


def live_export(environ: Mapping[str, str], run_dir: Path) -> LiveExport | None:
    """A live exporter when the OpenTelemetry endpoint variable is set, else None."""
    from baton.export.otlp import endpoint_from_env, otel_available

    url = endpoint_from_env(environ)
    if not url:
        return None
    protocol = environ.get("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL") or environ.get(
        "OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf")
    if protocol.strip() != "http/protobuf" and ("protocol", url) not in _WARNED:
        _WARNED.add(("protocol", url))
        log.warning("baton sends OTLP over HTTP (protobuf) only, not %s: point "
                    "OTEL_EXPORTER_OTLP_ENDPOINT at the receiver's HTTP port (often 4318)",
                    protocol)
    if not otel_available():
        if url not in _WARNED:
            _WARNED.add(url)
            log.warning("OTEL_EXPORTER_OTLP_ENDPOINT is set but OpenTelemetry is not "
                        "installed; spans are not sent (pip install 'baton[otel]')")
        return None
    return LiveExport(url, run_dir, SecretMasker(dict(environ)))
