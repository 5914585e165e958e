"""A run's trace events as OpenTelemetry spans, following the GenAI semantic conventions.

Pure and dependency-free: the spans are plain records that ``otlp.py`` hands to the SDK.

    invoke_workflow baton                 one per run (the OpenTelemetry trace)
    ├── invoke_agent planner              one per role step
    │   └── chat openai/gpt-5             one per model call attempt (CLIENT)
    ├── packet 1                          one per scoped packet
    │   ├── invoke_agent implementer      round 1, 2, ...
    │   │   └── chat qwen/qwen3-coder
    │   └── invoke_agent reviewer
    │       └── chat anthropic/claude-sonnet-4.5
    └── command python                    one per verification command that ran

Ids are derived from the run id and the step, so the same run exported twice (or live,
then again by hand) gives the same trace and span ids. Prompt and response text is not
exported unless ``include_content`` is set; keys never are (the trace holds none).
"""

from __future__ import annotations

import hashlib
import json
import shlex
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from baton.runs import trace as T

WORKFLOW_NAME = "baton"

# Model-id vendor prefixes (``vendor/model``, OpenRouter's naming) mapped to the
# well-known values of ``gen_ai.provider.name``.
_PROVIDERS = {
    "openai": "openai", "anthropic": "anthropic", "deepseek": "deepseek",
    "mistralai": "mistral_ai", "mistral": "mistral_ai", "x-ai": "x_ai", "xai": "x_ai",
    "google": "gcp.gen_ai", "gemini": "gcp.gemini", "cohere": "cohere", "groq": "groq",
    "perplexity": "perplexity", "moonshotai": "moonshot_ai", "ibm": "ibm.watsonx.ai",
    "amazon": "aws.bedrock",
}

# Events that become span events of the workflow span (the rest have their own spans or
# belong to an agent span).
_WORKFLOW_EVENTS = ("approval.required", "approval.decision", "budget.exhausted",
                    "decision", "state", "run.resume", "packet.start", "packet.end")


# Event fields that may quote repository or model text: sent only with include_content.
_CONTENT_FIELDS = {"edits.rejected": {"reason"}}


@dataclass
class SpanEvent:
    """A point in time inside a span."""

    name: str
    time_ns: int
    attributes: dict[str, Any] = field(default_factory=dict)


@dataclass
class Span:
    """One span, ready to export: ids come from ``trace_id`` / ``span_id``."""

    key: str
    name: str
    kind: str  # "internal" or "client"
    start_ns: int
    end_ns: int
    parent_key: str | None
    attributes: dict[str, Any] = field(default_factory=dict)
    events: list[SpanEvent] = field(default_factory=list)
    error: str | None = None
    """The status description when the span's status is ERROR."""


def trace_id(run_id: str) -> int:
    """The 128-bit OpenTelemetry trace id of a run."""
    return int.from_bytes(hashlib.sha256(f"baton:{run_id}".encode()).digest()[:16], "big") or 1


def span_id(run_id: str, key: str) -> int:
    """The 64-bit span id of one step of a run."""
    digest = hashlib.sha256(f"baton:{run_id}:{key}".encode()).digest()
    return int.from_bytes(digest[:8], "big") or 1


def provider_name(model: str | None, endpoint: str | None = None) -> str:
    """``gen_ai.provider.name`` for a model: its vendor prefix, else the endpoint's name."""
    vendor, sep, _ = (model or "").partition("/")
    if sep and vendor:
        return _PROVIDERS.get(vendor.lower(), vendor.lower())
    return endpoint or "openai"


def time_ns(ts: Any) -> int | None:
    """Nanoseconds since the epoch of an ISO 8601 timestamp, or None."""
    if not isinstance(ts, str):
        return None
    try:
        return int(datetime.fromisoformat(ts.replace("Z", "+00:00")).timestamp() * 1e9)
    except ValueError:
        return None


def _seconds_ns(value: Any) -> int:
    if isinstance(value, int | float) and not isinstance(value, bool) and value > 0:
        return int(value * 1e9)
    return 0


def clean(attributes: Mapping[str, Any]) -> dict[str, Any]:
    """Attribute values OpenTelemetry accepts: no None, lists of one type, dicts as JSON."""
    out: dict[str, Any] = {}
    for name, value in attributes.items():
        if value is None:
            continue
        if isinstance(value, bool | int | float | str):
            out[name] = value
        elif isinstance(value, list | tuple):
            items = [v for v in value if v is not None]
            if all(isinstance(v, str) for v in items):
                out[name] = list(items)
            elif all(isinstance(v, int) and not isinstance(v, bool) for v in items):
                out[name] = list(items)
            else:
                out[name] = [json.dumps(v, default=str) if not isinstance(v, str) else v
                             for v in items]
        else:
            out[name] = json.dumps(value, default=str, sort_keys=True)
    return out



def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _ordinal(value: Any) -> int | None:
    return value if type(value) is int else None


class _Builder:
    def __init__(self, events: list[dict[str, Any]], run_dir: Path | None,
                 include_content: bool) -> None:
        self.events = events
        self.run_dir = run_dir
        self.include_content = include_content
        self.spans: dict[str, Span] = {}
        start = next((e for e in events if e.get("type") in ("run.start", "workflow.created")),
                     {})
        self.start = start
        self.run_id = str(start.get("run_id") or (events[0].get("run_id") if events else "")
                          or "unknown")
        self.routes: dict[str, Any] = _dict(start.get("routes"))

    def route(self, role: str) -> dict[str, Any]:
        return _dict(self.routes.get(role))

    # -- spans ------------------------------------------------------------------------

    def build(self) -> list[Span]:
        times = [t for t in (time_ns(e.get("ts")) for e in self.events) if t is not None]
        first, last = (min(times), max(times)) if times else (0, 0)
        workflow = self._workflow(first, last)
        self.spans[workflow.key] = workflow
        for event in self.events:
            kind = event.get("type")
            if kind == "model.call":
                self._chat(event)
            elif kind == "command":
                self._command(event)
            elif kind == "packet.start" or kind == "packet.end":
                self._packet(event)
            elif kind == "review.verdict":
                self._verdict(event)
            elif kind in ("edits.applied", "edits.rejected"):
                self._on_agent("implementer", event)
            elif kind == "plan.gate":
                self._on_agent("planner", event, packet=None, round_=None)
            if kind in _WORKFLOW_EVENTS:
                workflow.events.append(self._event(event))
        self._widen()
        return sorted(self.spans.values(), key=lambda s: (s.start_ns, s.key != "workflow"))

    def _last(self, kind: str) -> dict[str, Any]:
        return next((e for e in reversed(self.events) if e.get("type") == kind), {})

    def _workflow(self, first: int, last: int) -> Span:
        end = self._last("run.end")
        decision = self._last("decision")
        state = end.get("state") or next(
            (e.get("state") for e in reversed(self.events) if e.get("type") == "state"), None)
        totals = _dict(end.get("totals"))
        attrs = {
            T.OPERATION: "invoke_workflow", "gen_ai.workflow.name": WORKFLOW_NAME,
            "gen_ai.conversation.id": self.run_id, "baton.run_id": self.run_id,
            "baton.policy": self.start.get("policy"),
            "baton.branch": self.start.get("branch"),
            "baton.base_commit": self.start.get("base_commit"),
            "baton.state": state, "baton.decision": decision.get("decision") or end.get(
                "decision"),
            "baton.decision.reasons": decision.get("reasons"),
            "baton.commit": decision.get("commit"),
            **{f"baton.totals.{k}": v for k, v in totals.items()},
        }
        if self.include_content:  # the title defaults to the task's first line
            attrs.update({"baton.task": self.start.get("task"),
                          "baton.title": self.start.get("title")})
        error = None
        if state == "failed":
            error = str(end.get("error") or "the run failed")
            attrs["error.type"] = "baton.run_failed"
        return Span("workflow", f"invoke_workflow {WORKFLOW_NAME}", "internal",
                    time_ns(self.start.get("ts")) or first, last, None, attrs, error=error)

    def _packet(self, event: dict[str, Any]) -> Span | None:
        index = _ordinal(event.get("packet"))
        if index is None:
            return None
        key = f"packet/{index}"
        ts = time_ns(event.get("ts")) or 0
        span = self.spans.get(key)
        if span is None:
            span = self.spans[key] = Span(key, f"packet {index}", "internal", ts, ts, "workflow",
                                          {"baton.packet": index})
        span.attributes["baton.packet.title"] = event.get("title")
        if event.get("type") == "packet.end":
            span.attributes["baton.packet.outcome"] = event.get("outcome")
            span.end_ns = max(span.end_ns, ts)
        return span

    def _agent(self, role: str, packet: int | None, round_: int | None, ts: int,
               model: str | None = None, endpoint: str | None = None) -> Span:
        key = f"agent/{role}/p{packet}/r{round_}"
        span = self.spans.get(key)
        if span is not None:
            return span
        route = self.route(role)
        model = route.get("model") or model
        parent = "workflow"
        if packet is not None:
            parent = f"packet/{packet}"
            if parent not in self.spans:
                self.spans[parent] = Span(parent, f"packet {packet}", "internal", ts, ts,
                                          "workflow", {"baton.packet": packet})
        attrs = {T.OPERATION: "invoke_agent", "gen_ai.agent.name": role,
                 "gen_ai.provider.name": provider_name(model, route.get("endpoint") or endpoint),
                 T.MODEL: model, "gen_ai.conversation.id": self.run_id,
                 "baton.role": role, "baton.packet": packet, "baton.round": round_}
        span = self.spans[key] = Span(key, f"invoke_agent {role}", "internal", ts, ts, parent,
                                      attrs)
        return span

    def _chat(self, event: dict[str, Any]) -> None:
        end = time_ns(event.get("ts")) or 0
        start = end - _seconds_ns(event.get("latency_s"))
        role = str(event.get("role") or "unknown")
        packet, round_ = _ordinal(event.get("packet")), _ordinal(event.get("round"))
        model = event.get(T.MODEL)
        agent = self._agent(role, packet, round_, start, model, event.get("endpoint"))
        route = self.route(role)
        attrs: dict[str, Any] = {
            T.OPERATION: event.get(T.OPERATION) or "chat",
            "gen_ai.provider.name": provider_name(model, event.get("endpoint")),
            T.MODEL: model, T.RESPONSE_MODEL: event.get(T.RESPONSE_MODEL),
            T.RESPONSE_ID: event.get(T.RESPONSE_ID),
            T.FINISH_REASONS: event.get(T.FINISH_REASONS) or None,
            T.INPUT_TOKENS: event.get(T.INPUT_TOKENS), T.OUTPUT_TOKENS: event.get(T.OUTPUT_TOKENS),
            T.CACHED_TOKENS: event.get(T.CACHED_TOKENS),
            "gen_ai.request.max_tokens": route.get("max_tokens"),
            "gen_ai.request.temperature": route.get("temperature"),
            "gen_ai.conversation.id": self.run_id,
            "baton.role": role, "baton.packet": packet, "baton.round": round_,
            "baton.attempt": event.get("attempt"), "baton.call_key": event.get("call_key"),
            "baton.endpoint": event.get("endpoint"), "baton.source": event.get("source"),
            "baton.cost_usd": event.get("cost_usd"), "baton.cost_source": event.get("cost_source"),
            "baton.fallback": bool(route.get("model") and model and model != route.get("model")),
            "baton.prompt_file": event.get("prompt_file"),
            "baton.response_file": event.get("response_file"),
            "baton.result": event.get("result"),
        }
        error = None
        if event.get("outcome") == "error":
            code = event.get("status_code")
            error = str(event.get("error") or "the call failed")
            attrs["error.type"] = str(code) if isinstance(code, int) else "_OTHER"
            attrs["http.response.status_code"] = code if isinstance(code, int) else None
            agent.error = error
            agent.attributes["error.type"] = attrs["error.type"]
        elif agent.error is not None:  # a retry or fallback that succeeded clears the step
            agent.error = None
            agent.attributes.pop("error.type", None)
        if self.include_content:
            attrs.update(self._content(event))
        key = f"call/{event.get('seq')}"
        self.spans[key] = Span(key, f"{attrs[T.OPERATION]} {model}", "client", start, end,
                               agent.key, attrs, error=error)

    def _content(self, event: dict[str, Any]) -> dict[str, Any]:
        """Opt-in: the exact messages sent and the answer, in the GenAI JSON shapes."""
        out: dict[str, Any] = {}
        if self.run_dir is None:
            return out
        prompt = _read(self.run_dir, event.get("prompt_file"))
        if prompt is not None:
            out["gen_ai.input.messages"] = json.dumps(
                [{"role": role, "parts": [{"type": "text", "content": text}]}
                 for role, text in packet_messages(prompt)], ensure_ascii=False)
        answer = _read(self.run_dir, event.get("response_file"))
        if answer is not None:
            reasons = event.get(T.FINISH_REASONS) or ["stop"]
            out["gen_ai.output.messages"] = json.dumps(
                [{"role": "assistant", "parts": [{"type": "text", "content": answer}],
                  "finish_reason": reasons[0]}], ensure_ascii=False)
        return out

    def _command(self, event: dict[str, Any]) -> None:
        if not event.get("ran"):
            self.spans["workflow"].events.append(self._event(event, name="command.not_run"))
            return
        end = time_ns(event.get("ts")) or 0
        start = end - _seconds_ns(event.get("duration_s"))
        command = str(event.get("command") or "")
        try:
            exe = Path(shlex.split(command)[0]).name if command.strip() else "command"
        except ValueError:
            exe = Path(command.split()[0]).name if command.split() else "command"
        code = event.get("exit_code")
        attrs = {"baton.command": command, "process.exit.code": code,
                 "baton.command.source": event.get("source"),
                 "baton.command.duration_s": event.get("duration_s"),
                 "baton.command.timed_out": event.get("timed_out"),
                 "baton.command.output_sha256": event.get("output_sha256"),
                 "baton.command.output_bytes": event.get("output_bytes"),
                 "baton.command.sandbox": event.get("sandbox"),
                 "baton.command.evidence_file": event.get("evidence_file")}
        error = None
        if event.get("timed_out") or code != 0:
            error = f"`{command}` " + ("timed out" if event.get("timed_out")
                                       else f"exited {code}")
            attrs["error.type"] = "timeout" if event.get("timed_out") else f"exit_code.{code}"
        key = f"command/{event.get('seq')}"
        self.spans[key] = Span(key, f"command {exe}", "internal", start, end, "workflow",
                               attrs, error=error)

    def _verdict(self, event: dict[str, Any]) -> None:
        span = self._on_agent("reviewer", event)
        span.attributes["baton.review.verdict"] = event.get("verdict")
        span.attributes["baton.review.required_fixes"] = event.get("required_fixes") or []

    def _on_agent(self, role: str, event: dict[str, Any], **where: Any) -> Span:
        packet = where["packet"] if "packet" in where else _ordinal(event.get("packet"))
        round_ = where["round_"] if "round_" in where else _ordinal(event.get("round"))
        ts = time_ns(event.get("ts")) or 0
        span = self._agent(role, packet, round_, ts)
        span.end_ns = max(span.end_ns, ts)
        span.events.append(self._event(event))
        return span

    def _event(self, event: dict[str, Any], name: str | None = None) -> SpanEvent:
        skip = {"schema_version", "run_id", "seq", "ts", "type", "task"}
        if not self.include_content:
            skip |= _CONTENT_FIELDS.get(str(event.get("type")), set())
        attrs = {f"baton.{k}": v for k, v in event.items() if k not in skip}
        return SpanEvent(name or str(event.get("type")), time_ns(event.get("ts")) or 0,
                         clean(attrs))

    def _widen(self) -> None:
        """A parent starts no later and ends no sooner than any of its children."""
        children: dict[str, list[Span]] = {}
        for span in self.spans.values():
            if span.parent_key:
                children.setdefault(span.parent_key, []).append(span)

        def visit(span: Span) -> None:
            for child in children.get(span.key, []):
                visit(child)
                span.start_ns = min(span.start_ns, child.start_ns)
                span.end_ns = max(span.end_ns, child.end_ns)

        visit(self.spans["workflow"])
        for span in self.spans.values():
            span.attributes = clean(span.attributes)


def _read(run_dir: Path, relpath: Any) -> str | None:
    if not isinstance(relpath, str) or not relpath:
        return None
    path = (run_dir / relpath).resolve()
    if run_dir.resolve() not in path.parents or not path.is_file():
        return None
    return path.read_text(encoding="utf-8", errors="replace")


def packet_messages(text: str) -> list[tuple[str, str]]:
    """The (role, content) messages of a packet file written by ``prompts.as_markdown``."""
    out = []
    for chunk in text.split("\n<!-- message: ")[1:]:
        role, _, rest = chunk.partition(" -->\n")
        heading = f"## {role}\n\n"
        content = rest[len(heading):] if rest.startswith(heading) else rest
        out.append((role, content.rstrip("\n")))
    return out


def run_spans(events: Iterable[dict[str, Any]], *, run_dir: Path | None = None,
              include_content: bool = False) -> list[Span]:
    """Every span of one run's trace events, parents before children at equal times."""
    return _Builder(list(events), run_dir, include_content).build()


def event_span_key(event: Mapping[str, Any]) -> str | None:
    """The key of the span one event completes on its own (a call or a command), if any."""
    if event.get("type") == "model.call":
        return f"call/{event.get('seq')}"
    if event.get("type") == "command" and event.get("ran"):
        return f"command/{event.get('seq')}"
    return None
