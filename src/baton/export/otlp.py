"""Send a run's spans over OTLP/HTTP with the official OpenTelemetry SDK and exporter.

OpenTelemetry is the optional extra ``baton[otel]``: it is imported only here, inside the
functions that need it, so baton works (and ``baton --help`` stays fast) without it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from baton.errors import ExportError, UserError
from baton.export.spans import Span, run_spans, span_id, trace_id
from baton.runs.trace import read_events
from baton.secrets import SecretMasker

INSTALL_HINT = "install the extra: pip install 'baton[otel]'"
DEFAULT_TIMEOUT_S = 10.0


def traces_url(url: str) -> str:
    """The OTLP/HTTP traces endpoint: a bare ``http://host:port`` gets ``/v1/traces``."""
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise UserError(f"{url!r} is not an OTLP/HTTP address; give one like "
                        "http://127.0.0.1:4318 or http://127.0.0.1:4318/v1/traces")
    if parts.path in ("", "/"):
        return url.strip().rstrip("/") + "/v1/traces"
    return url.strip()


def endpoint_from_env(environ: Mapping[str, str]) -> str | None:
    """The traces endpoint the standard OpenTelemetry variables name, if any."""
    specific = environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "").strip()
    if specific:
        return specific
    base = environ.get("OTEL_EXPORTER_OTLP_ENDPOINT", "").strip()
    if not base:
        return None
    return base.rstrip("/") + "/v1/traces"


def otel_available() -> bool:
    """Whether the ``otel`` extra is installed."""
    try:
        import opentelemetry.exporter.otlp.proto.http.trace_exporter  # noqa: F401
        import opentelemetry.sdk.trace  # noqa: F401
    except ImportError:
        return False
    return True


def require_otel() -> None:
    """Raise a UserError naming the extra when OpenTelemetry is not installed."""
    if not otel_available():
        raise UserError(f"OpenTelemetry export needs opentelemetry-sdk and "
                        f"opentelemetry-exporter-otlp-proto-http: {INSTALL_HINT}")


def resource():
    """service.name ``baton`` (``OTEL_SERVICE_NAME`` and ``OTEL_RESOURCE_ATTRIBUTES`` apply)."""
    from opentelemetry.sdk.resources import Resource

    from baton import __version__

    return Resource.create({"service.name": "baton", "service.version": __version__})


def to_readable(spans: Iterable[Span], run_id: str, masker: SecretMasker | None = None,
                res: Any = None) -> list[Any]:
    """SDK ``ReadableSpan`` objects for baton's span records (ids derived from the run)."""
    from opentelemetry.sdk.trace import Event, ReadableSpan
    from opentelemetry.sdk.util.instrumentation import InstrumentationScope
    from opentelemetry.trace import SpanContext, SpanKind, Status, StatusCode, TraceFlags

    from baton import __version__

    res = res if res is not None else resource()
    scope = InstrumentationScope("baton", __version__)
    tid = trace_id(run_id)
    mask = masker.mask_obj if masker is not None else (lambda value: value)

    def context(key: str) -> SpanContext:
        return SpanContext(tid, span_id(run_id, key), is_remote=False,
                           trace_flags=TraceFlags(TraceFlags.SAMPLED))

    out = []
    for span in spans:
        status = (Status(StatusCode.ERROR, mask(span.error)) if span.error is not None
                  else Status(StatusCode.UNSET))
        out.append(ReadableSpan(
            name=span.name, context=context(span.key),
            parent=context(span.parent_key) if span.parent_key else None,
            resource=res, attributes=mask(span.attributes),
            events=[Event(e.name, mask(e.attributes), e.time_ns) for e in span.events],
            kind=SpanKind.CLIENT if span.kind == "client" else SpanKind.INTERNAL,
            status=status, start_time=span.start_ns, end_time=span.end_ns,
            instrumentation_scope=scope,
        ))
    return out


def make_exporter(url: str, timeout_s: float = DEFAULT_TIMEOUT_S):
    """The official OTLP/HTTP (protobuf) span exporter for ``url``."""
    require_otel()
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

    return OTLPSpanExporter(endpoint=traces_url(url), timeout=timeout_s)


@dataclass
class ExportedRun:
    """What one run's export sent."""

    run_id: str
    trace_id: str
    spans: int
    path: str

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        return {"run_id": self.run_id, "trace_id": self.trace_id, "spans": self.spans,
                "trace": self.path}


def export_traces(paths: Iterable[Path], url: str, *, include_content: bool = False,
                  environ: Mapping[str, str] | None = None,
                  timeout_s: float = DEFAULT_TIMEOUT_S) -> list[ExportedRun]:
    """Send the spans of each trace file to the OTLP/HTTP receiver at ``url``."""
    import os

    from opentelemetry.sdk.trace.export import SpanExportResult

    exporter = make_exporter(url, timeout_s)
    masker = SecretMasker(dict(os.environ if environ is None else environ))
    res = resource()
    done = []
    try:
        for path in paths:
            events = read_events(path, warn=False)
            if not events:
                continue
            spans = run_spans(events, run_dir=path.parent, include_content=include_content)
            run_id = str(spans[0].attributes.get("baton.run_id") or events[0].get("run_id"))
            readable = to_readable(spans, run_id, masker, res)
            if exporter.export(readable) is not SpanExportResult.SUCCESS:
                raise ExportError(
                    f"the OTLP receiver at {traces_url(url)} did not accept the spans of run "
                    f"{run_id} (unreachable, or it answered with an error; see the log above); "
                    "check the address and that the receiver speaks OTLP/HTTP protobuf")
            done.append(ExportedRun(run_id, f"{trace_id(run_id):032x}", len(readable),
                                    str(path)))
    finally:
        exporter.shutdown()
    return done
