"""The reusable pieces of reports and export, as functions: timeline, charts, diff, spans."""

from __future__ import annotations

import json
import re
from pathlib import Path

from baton.export.otlp import endpoint_from_env, traces_url
from baton.export.spans import packet_messages, provider_name, run_spans, span_id, trace_id
from baton.prompts import as_markdown
from baton.report.diff import diff_stats, render_diff
from baton.report.html import esc, table
from baton.report.run import render_run_report, timeline_bars
from baton.report.svg import Bar, bar_chart, cut_idle, gantt, nice_step
from baton.runs import trace as T
from baton.runs.trace import TraceWriter, read_events

IMPL, FALLBACK, REVIEWER = "qwen/qwen3-coder", "mistralai/devstral", "anthropic/claude-sonnet-4.5"


def synthetic_run(folder: Path) -> list[dict]:
    """Two packets; the implementer's model fails and its fallback answers; a command fails."""
    w = TraceWriter(folder / "trace.jsonl", "run-x")
    w.emit("run.start", task="t", title="t", policy="p", routes={
        "planner": {"endpoint": "gw", "model": "openai/gpt-5", "max_tokens": 100},
        "implementer": {"endpoint": "gw", "model": IMPL, "fallbacks": [FALLBACK]},
        "reviewer": {"endpoint": "gw", "model": REVIEWER}},
        limits={"max_cost_usd": 0.1, "max_tokens": None, "max_calls": 10, "max_wall_s": None},
        role_limits={})

    def call(role, model, packet, round_, attempt, outcome="ok", latency=0.5):
        w.emit("model.call", role=role, packet=packet, round=round_, attempt=attempt,
               call_key=f"{role}/p{packet}/r{round_}", endpoint="gw", source="baton",
               latency_s=latency, outcome=outcome, cost_usd=0.01 if outcome == "ok" else 0.0,
               cost_source="gateway" if outcome == "ok" else "no-usage",
               error=None if outcome == "ok" else "HTTP 500", status_code=None
               if outcome == "ok" else 500, **{T.OPERATION: "chat", T.MODEL: model,
                                                T.INPUT_TOKENS: 100, T.OUTPUT_TOKENS: 10})

    call("planner", "openai/gpt-5", None, None, 1)
    for packet in (1, 2):
        w.emit("packet.start", packet=packet, title=f"part {packet}")
        call("implementer", IMPL, packet, 1, 1, outcome="error")
        call("implementer", FALLBACK, packet, 1, 2)
        w.emit("edits.applied", packet=packet, round=1, files=["a.py"], added=1, removed=0)
        call("reviewer", REVIEWER, packet, 1, 1)
        w.emit("review.verdict", packet=packet, round=1, model=REVIEWER, verdict="approve",
               required_fixes=[])
        w.emit("packet.end", packet=packet, title=f"part {packet}", outcome="approved")
    w.emit("command", command="pytest -q", source="config", ran=True, exit_code=1,
           duration_s=0.2, timed_out=False, step="command/1")
    w.emit("command", command="make lint", source="plan", ran=False, exit_code=None,
           reason_not_run="not on the allowlist", step="command/2")
    w.emit("decision", decision="no-go", reasons=["`pytest -q` exited 1"], commit=None)
    w.emit("run.end", state="done", decision="no-go", totals={"calls": 7})
    w.close()
    return read_events(folder / "trace.jsonl")


def test_spans_of_two_packets_with_a_fallback_and_a_failed_command(tmp_path):
    events = synthetic_run(tmp_path)
    spans = {s.key: s for s in run_spans(events)}
    assert sorted(k for k in spans if not k.startswith(("call/", "command/"))) == [
        "agent/implementer/p1/r1", "agent/implementer/p2/r1", "agent/planner/pNone/rNone",
        "agent/reviewer/p1/r1", "agent/reviewer/p2/r1", "packet/1", "packet/2", "workflow"]
    fallbacks = [s for s in spans.values() if s.attributes.get("baton.fallback")]
    assert [s.attributes[T.MODEL] for s in fallbacks] == [FALLBACK, FALLBACK]
    assert all(s.attributes["gen_ai.provider.name"] == "mistral_ai" for s in fallbacks)
    failed = [s for s in spans.values() if s.key.startswith("call/") and s.error]
    assert len(failed) == 2 and all(s.attributes["error.type"] == "500" for s in failed)
    # The fallback answered, so the implementer step itself did not fail.
    assert spans["agent/implementer/p1/r1"].error is None
    assert spans["agent/implementer/p1/r1"].parent_key == "packet/1"
    assert spans["agent/implementer/p1/r1"].attributes[T.MODEL] == IMPL  # the route's model
    command = next(s for s in spans.values() if s.key.startswith("command/"))
    assert command.error == "`pytest -q` exited 1"
    assert command.attributes["error.type"] == "exit_code.1"
    names = [e.name for e in spans["workflow"].events]
    assert "command.not_run" in names and "decision" in names
    assert spans["workflow"].attributes["baton.decision"] == "no-go"
    for span in spans.values():
        if span.parent_key:
            parent = spans[span.parent_key]
            assert parent.start_ns <= span.start_ns and span.end_ns <= parent.end_ns
    assert span_id("run-x", "workflow") != span_id("run-y", "workflow")
    assert trace_id("run-x") == trace_id("run-x") != trace_id("run-y")


def test_timeline_marks_failed_attempts_retries_and_fallbacks(tmp_path):
    events = synthetic_run(tmp_path)
    bars, lanes, _ = timeline_bars(events)
    assert lanes == ["planner", "implementer", "reviewer", "commands"]
    assert len(bars) == 7 + 1  # every attempt, and the one command that ran
    implementer = [b for b in bars if b.lane == "implementer"]
    assert [b.classes.split() for b in implementer] == [
        ["implementer", "call", "error"], ["implementer", "call", "ok", "retry", "fallback"]] * 2
    assert "fail" in bars[-1].classes and bars[-1].lane == "commands"
    html = render_run_report(tmp_path)
    assert html.count('data-kind="call"') == 7 and html.count('data-kind="command"') == 1
    assert ">NO-GO<" in html and "not on the allowlist" in html
    assert "$0.1000" in html  # the cost limit, from run.start


def test_report_of_an_empty_folder_says_what_is_missing(tmp_path):
    html = render_run_report(tmp_path)
    assert "no model call or command was recorded" in html
    assert "no patch.diff" in html and "no review round" in html
    assert 'id="outcome">NO DECISION<' in html


def test_gantt_and_bar_chart_draw_one_shape_per_item():
    bars = [Bar("a", 0, 1, classes="x"), Bar("b", 0.5, 0.5001, label="tiny")]
    svg = gantt(bars, ["a", "b"])
    assert svg.count('class="bar x"') == 1 and svg.count("<rect") == 2 + 2  # lanes + bars
    assert 'width="3.0"' in svg  # a zero-length step still shows
    chart = bar_chart([("m1", 2.0), ("<m2>", 1.0)], fmt=str, title="t")
    assert chart.count('class="hbar"') == 2 and "&lt;m2&gt;" in chart
    assert "nothing to show" in bar_chart([], fmt=str, title="t")
    assert [nice_step(s) for s in (1, 7, 60, 0.05)] == [0.2, 1, 10, 0.01]


def test_diff_stats_and_highlighting():
    diff = ("diff --git a/x.py b/x.py\nindex 1..2 100644\n--- a/x.py\n+++ b/x.py\n"
            "@@ -1,2 +1,2 @@\n-old\n+new\n+<b>\n ctx\n")
    assert [(s.path, s.added, s.removed) for s in diff_stats(diff)] == [("x.py", 2, 1)]
    html = render_diff(diff)
    assert html.count('class="add"') == 2 and html.count('class="del"') == 1
    assert html.count('class="meta"') == 3 and "&lt;b&gt;" in html
    assert "no changes" in render_diff("")


def test_html_escapes_everything_that_is_not_markup():
    assert esc("<a href='x'>") == "&lt;a href=&#x27;x&#x27;&gt;"
    assert "<script>" not in table(["<script>"], [["<script>"]])


def test_packet_messages_read_back_what_as_markdown_wrote():
    messages = [{"role": "system", "content": "be brief\n## not a heading"},
                {"role": "user", "content": "task <!-- message: x --> text"}]
    text = as_markdown("planner", messages, header="call: `planner/a1`")
    assert packet_messages(text) == [(m["role"], m["content"]) for m in messages]


def test_provider_names_and_urls():
    assert provider_name("anthropic/claude-sonnet-4.5") == "anthropic"
    assert provider_name("x-ai/grok-4") == "x_ai"
    assert provider_name("llama3", "ollama") == "ollama"
    assert traces_url("http://127.0.0.1:4318") == "http://127.0.0.1:4318/v1/traces"
    assert traces_url("http://h:1/custom/path") == "http://h:1/custom/path"
    assert endpoint_from_env({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://h:1/"}) == \
        "http://h:1/v1/traces"
    assert endpoint_from_env({"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://h:2/t",
                              "OTEL_EXPORTER_OTLP_ENDPOINT": "http://h:1"}) == "http://h:2/t"
    assert endpoint_from_env({}) is None


def test_idle_time_is_cut_from_the_timeline(tmp_path):
    bars = [Bar("a", 0, 10), Bar("b", 5, 12), Bar("a", 3612, 3620), Bar("b", 3625, 3630)]
    shown, cuts = cut_idle(bars, min_gap_s=60, keep_s=2)
    assert [(b.start, b.end) for b in shown] == [(0, 10), (5, 12), (14, 22), (27, 32)]
    assert cuts == [(13.0, 3600.0)]
    assert cut_idle(bars[:2], min_gap_s=60, keep_s=2)[1] == []

    # A run that waited an hour at the approval gate: the calls stay readable.
    def event(seq, ts, **fields):
        return {"schema_version": 1, "run_id": "r", "seq": seq, "ts": ts, **fields}

    lines = [
        event(0, "2026-01-01T09:00:00.000Z", type="run.start", task="t", title="t"),
        event(1, "2026-01-01T09:00:10.000Z", type="model.call", role="planner",
              latency_s=10.0, outcome="ok", **{T.MODEL: "openai/gpt-5"}),
        event(2, "2026-01-01T09:00:11.000Z", type="approval.required", rules=["risk high"]),
        event(3, "2026-01-01T10:00:11.000Z", type="approval.decision", approved=True),
        event(4, "2026-01-01T10:00:20.000Z", type="command", command="pytest", ran=True,
              exit_code=0, duration_s=9.0),
    ]
    (tmp_path / "trace.jsonl").write_text("".join(json.dumps(e) + "\n" for e in lines))
    html = render_run_report(tmp_path)
    assert "paused 60.0 min" in html and "1 idle stretch(es)" in html
    bars_x = re.findall(r'<rect x="([\d.]+)"[^>]*width="([\d.]+)"[^>]*class="bar ', html)
    assert len(bars_x) == 2 and all(float(w) > 100 for _, w in bars_x)


def test_rejected_edit_reasons_are_content(tmp_path):
    w = TraceWriter(tmp_path / "trace.jsonl", "r")
    w.emit("run.start", task="secret plan", title="t")
    w.emit("edits.rejected", packet=1, round=1, attempt=1,
           reason="SEARCH not found; nearest lines: password = load()")
    w.close()
    events = read_events(tmp_path / "trace.jsonl")

    def reasons(**kw) -> list:
        return [e.attributes.get("baton.reason") for s in run_spans(events, **kw)
                for e in s.events if e.name == "edits.rejected"]

    assert reasons() == [None]
    assert reasons(include_content=True) == [
        "SEARCH not found; nearest lines: password = load()"]
