"""OpenTelemetry export of run traces (optional extra ``baton[otel]``).

``spans.py`` maps trace events to spans following the GenAI semantic conventions (pure,
no OpenTelemetry import); ``otlp.py`` sends them over OTLP/HTTP with the official SDK;
``live.py`` does it while a run happens when ``OTEL_EXPORTER_OTLP_ENDPOINT`` is set.
"""
