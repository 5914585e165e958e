"""A real OTLP/HTTP receiver on 127.0.0.1 that decodes what arrives with opentelemetry-proto."""

from __future__ import annotations

import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


def _value(any_value) -> Any:
    kind = any_value.WhichOneof("value")
    if kind == "array_value":
        return [_value(v) for v in any_value.array_value.values]
    if kind == "kvlist_value":
        return {kv.key: _value(kv.value) for kv in any_value.kvlist_value.values}
    return getattr(any_value, kind) if kind else None


def attributes(items) -> dict[str, Any]:
    """Decoded OTLP key-values."""
    return {kv.key: _value(kv.value) for kv in items}


class Receiver:
    """Collects every span posted to /v1/traces, decoded to plain dicts."""

    def __init__(self) -> None:
        from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
            ExportTraceServiceRequest,
        )

        self.spans: list[dict[str, Any]] = []
        self.bodies: list[bytes] = []
        self.content_types: list[str] = []
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                if self.path != "/v1/traces":
                    self.send_response(404)
                    self.end_headers()
                    return
                request = ExportTraceServiceRequest()
                request.ParseFromString(body)
                with receiver.lock:
                    receiver.bodies.append(body)
                    receiver.content_types.append(self.headers.get("Content-Type", ""))
                    for rs in request.resource_spans:
                        resource = attributes(rs.resource.attributes)
                        for ss in rs.scope_spans:
                            for span in ss.spans:
                                receiver.spans.append(_span(span, resource, ss.scope.name))
                self.send_response(200)
                self.send_header("Content-Type", "application/x-protobuf")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> Receiver:
        self.thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.server.shutdown()
        self.server.server_close()

    def wait_for(self, count: int, timeout_s: float = 30.0) -> list[dict[str, Any]]:
        """The spans once at least ``count`` arrived (bounded wait)."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            with self.lock:
                if len(self.spans) >= count:
                    return list(self.spans)
            time.sleep(0.05)
        with self.lock:
            return list(self.spans)


def _span(span, resource: dict[str, Any], scope: str) -> dict[str, Any]:
    from opentelemetry.proto.trace.v1.trace_pb2 import Span, Status

    return {
        "name": span.name, "trace_id": span.trace_id.hex(), "span_id": span.span_id.hex(),
        "parent_id": span.parent_span_id.hex() or None,
        "kind": Span.SpanKind.Name(span.kind), "start": span.start_time_unix_nano,
        "end": span.end_time_unix_nano, "attributes": attributes(span.attributes),
        "events": [{"name": e.name, "time": e.time_unix_nano,
                    "attributes": attributes(e.attributes)} for e in span.events],
        "status": Status.StatusCode.Name(span.status.code), "status_message": span.status.message,
        "resource": resource, "scope": scope,
    }
