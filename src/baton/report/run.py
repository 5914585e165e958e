"""One run's HTML report, a pure function of its run folder (``baton report RUN``).

It reads the trace, ``workflow.json``, ``plan.json``, ``reviews/``, ``evidence/`` and
``patch.diff`` (any may be missing: the report says what is not there), and writes one
self-contained file: inline CSS and SVG, no script, no network. Secrets are masked again
on the way out, as in every artifact.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from baton.report.diff import render_diff
from baton.report.html import (
    Html,
    badge,
    esc,
    join,
    page,
    seconds,
    section,
    table,
    tag,
    usd,
)
from baton.report.svg import Bar, bar_chart, cut_idle, gantt
from baton.runs import trace as T
from baton.runs.reader import summarize
from baton.runs.summary import summary_context
from baton.runs.trace import iter_events
from baton.secrets import SecretMasker

ROLES = ("planner", "implementer", "reviewer", "verifier")
COMMANDS_LANE = "commands"
REPORT_FILE = "report.html"
IDLE_CUT_S = 60.0
"""Idle stretches longer than this (and than the time spent working) are cut from the axis."""

_OUTCOME = {"go": ("GO", "good"), "no-go": ("NO-GO", "bad"),
            "awaiting_approval": ("AWAITING APPROVAL", "warn"),
            "budget_exhausted": ("BUDGET EXHAUSTED", "warn"), "failed": ("FAILED", "bad"),
            "running": ("RUNNING", "neutral")}
_VERDICT = {"approve": "good", "request_changes": "warn", "block": "bad"}
_LIMITS = (("max_cost_usd", "cost", "cost_usd", usd),
           ("max_tokens", "tokens", "tokens", lambda v: f"{int(v):,}"),
           ("max_calls", "calls", "calls", lambda v: f"{int(v):,}"),
           ("max_wall_s", "wall time", "wall_s", seconds))


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) \
        else None


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


# -- the timeline ------------------------------------------------------------------------


def timeline_bars(events: list[dict[str, Any]]) -> tuple[list[Bar], list[str], float]:
    """A bar per model call (every attempt) and per command that ran; lanes; the t0."""
    start = next((e for e in events if e.get("type") == "run.start"), {})
    routes = _dict(start.get("routes"))
    spans: list[tuple[float, float, dict[str, Any]]] = []
    for event in events:
        end = _epoch(event.get("ts"))
        if end is None:
            continue
        if event.get("type") == "model.call":
            spans.append((end - (_number(event.get("latency_s")) or 0.0), end, event))
        elif event.get("type") == "command" and event.get("ran"):
            spans.append((end - (_number(event.get("duration_s")) or 0.0), end, event))
    starts = [s for s, _, _ in spans] + [t for t in [_epoch(start.get("ts"))] if t is not None]
    t0 = min(starts) if starts else 0.0
    bars: list[Bar] = []
    for begin, end, event in spans:
        if event.get("type") == "model.call":
            bars.append(_call_bar(event, begin - t0, end - t0, routes))
        else:
            bars.append(_command_bar(event, begin - t0, end - t0))
    used = {b.lane for b in bars}
    lanes = [r for r in ROLES if r in used]
    lanes += sorted(lane for lane in used if lane not in ROLES and lane != COMMANDS_LANE)
    if COMMANDS_LANE in used:
        lanes.append(COMMANDS_LANE)
    return bars, lanes, t0


def _epoch(ts: Any) -> float | None:
    from baton.export.spans import time_ns

    ns = time_ns(ts)
    return ns / 1e9 if ns is not None else None


def _call_bar(event: dict[str, Any], start: float, end: float,
              routes: dict[str, Any]) -> Bar:
    role = str(event.get("role") or "unknown")
    model = str(event.get(T.MODEL) or "?")
    attempt: int = event["attempt"] if type(event.get("attempt")) is int else 1
    outcome = "ok" if event.get("outcome") == "ok" else "error"
    classes = [role, "call", outcome]
    route_model = _dict(routes.get(role)).get("model")
    fallback = bool(route_model and model != route_model)
    if attempt > 1:
        classes.append("retry")
    if fallback:
        classes.append("fallback")
    where = ", ".join(f"{k} {event[k]}" for k in ("packet", "round")
                      if type(event.get(k)) is int)
    tokens = f"{event.get(T.INPUT_TOKENS) or 0:,} in / {event.get(T.OUTPUT_TOKENS) or 0:,} out"
    title = (f"{role} · {model}" + (f" · {where}" if where else "")
             + f" · attempt {attempt}" + (" (fallback model)" if fallback else "")
             + f" · {seconds(end - start)} · {tokens} · {usd(_number(event.get('cost_usd')))}"
             + f" · {outcome}" + (f": {event.get('error')}" if outcome == "error" else ""))
    return Bar(role, start, end, label=model.rsplit("/", 1)[-1], classes=" ".join(classes),
               title=title, data={"kind": "call", "role": role, "model": model,
                                  "attempt": str(attempt), "outcome": outcome,
                                  "seq": str(event.get("seq"))})


def _command_bar(event: dict[str, Any], start: float, end: float) -> Bar:
    code = event.get("exit_code")
    ok = code == 0 and not event.get("timed_out")
    status = "timed out" if event.get("timed_out") else f"exit {code}"
    command = str(event.get("command") or "")
    return Bar(COMMANDS_LANE, start, end, label=status, classes=f"command {'ok' if ok else 'fail'}",
               title=f"{command} · {status} · {seconds(end - start)}",
               data={"kind": "command", "exit": str(code), "seq": str(event.get("seq"))})


def _legend() -> Html:
    items = [(r, f"var(--{r})") for r in ROLES] + [("command", "var(--command)"),
                                                   ("failed attempt", "var(--bad)")]
    parts = [tag("span", join([tag("i", "", style=f"background:{color}"), name]))
             for name, color in items]
    parts.append(tag("span", join([tag("i", "", style="border:2px solid var(--warn)"),
                                   "retry"])))
    parts.append(tag("span", join([tag("i", "", style="border:2px dashed var(--fg)"),
                                   "fallback model"])))
    return tag("p", join(parts), class_="legend")


# -- sections ----------------------------------------------------------------------------


def _header(ctx: dict[str, Any], workflow: dict[str, Any], totals: dict[str, Any],
            duration: float | None, rounds: int, commands: int) -> Html:
    label, kind = _OUTCOME.get(ctx["decision"] or ctx["state"] or "",
                               ((ctx["decision"] or ctx["state"] or "no decision").upper(),
                                "neutral"))
    reasons = ctx["reasons"] or ([ctx["pause"]] if ctx["pause"] else [])
    outcome = tag("div", join([
        tag("div", label, class_=f"big {kind}", id="outcome"),
        tag("div", join([tag("ul", join(tag("li", r) for r in reasons), class_="reasons")
                         if reasons else tag("p", "no decision recorded", class_="muted")])),
    ]), class_="outcome")
    facts = [("run", ctx["run_id"]), ("branch", ctx["branch"]), ("policy", ctx["policy"]),
             ("base commit", (ctx["base_commit"] or "")[:12]),
             ("commit", (ctx["commit"] or "")[:12]), ("created", workflow.get("created"))]
    meta = tag("p", join([join([tag("b", k), " ", tag("code", v), "  "]) for k, v in facts
                          if v]), class_="muted")
    cells = [("model calls", f"{totals['calls']:,}", "calls"),
             ("tokens in", f"{totals['input_tokens']:,}", "input-tokens"),
             ("tokens out", f"{totals['output_tokens']:,}", "output-tokens"),
             ("cost", usd(totals["cost_usd"]) + (f" (+{totals['unknown_cost_calls']} unknown)"
                                                 if totals["unknown_cost_calls"] else ""), "cost"),
             ("duration", seconds(duration), "duration"),
             ("review rounds", str(rounds), "rounds"), ("commands run", str(commands), "commands")]
    grid = tag("div", join(tag("div", join([tag("div", value, class_="value"),
                                            tag("div", name, class_="label")]),
                               class_="total", data_total=key) for name, value, key in cells),
               class_="totals", id="totals")
    task = tag("pre", ctx["task"], class_="task") if ctx["task"] else Html("")
    return join([tag("h1", ctx["title"]), meta, outcome, grid, task])


def _group_rows(groups: list[dict[str, Any]]) -> list[list[Any]]:
    rows = []
    for g in groups:
        lat = g["latency_s"]
        cost = "unknown" if g["calls"] and g["unknown_cost_calls"] == g["calls"] \
            else usd(g["cost_usd"])
        rows.append([g["key"], g["calls"], g["errors"], f"{g['input_tokens']:,}",
                     f"{g['cached_tokens']:,}", f"{g['output_tokens']:,}", cost,
                     seconds(lat["p50"]), seconds(lat["max"]),
                     seconds((lat["mean"] or 0) * g["calls"])])
    return rows


_GROUP_HEADERS = ["", "calls", "errors", "tokens in", "cached", "tokens out", "cost",
                  "latency p50", "latency max", "time in calls"]


def _costs(trace: Path) -> Html:
    if not trace.is_file():
        return tag("p", "no trace", class_="muted")
    by_role = summarize([trace], by="role").to_dict()
    by_model = summarize([trace], by="model").to_dict()
    if not by_role["groups"]:
        return tag("p", "no model calls were made", class_="muted")
    numeric = tuple(range(1, 10))
    role_table = table(["role", *_GROUP_HEADERS[1:]], _group_rows(by_role["groups"]),
                       numeric=numeric, class_="by-role",
                       foot=_group_rows([{**by_role["totals"], "key": "total"}])[0])
    model_table = table(["model", *_GROUP_HEADERS[1:]], _group_rows(by_model["groups"]),
                        numeric=numeric, class_="by-model")
    charts = tag("div", join([
        bar_chart([(g["key"], g["cost_usd"]) for g in by_model["groups"]], fmt=usd,
                  title="cost by model"),
        bar_chart([(g["key"], (g["latency_s"]["mean"] or 0) * g["calls"])
                   for g in by_role["groups"]], fmt=seconds, title="time in calls by role"),
        bar_chart([(g["key"], g["input_tokens"] + g["output_tokens"])
                   for g in by_role["groups"]], fmt=lambda v: f"{int(v):,}",
                  title="tokens (in + out) by role"),
    ]), class_="charts")
    return join([tag("h3", "by role"), role_table, tag("h3", "by model"), model_table, charts])


def _reviews(ctx: dict[str, Any]) -> Html:
    if not ctx["reviews"]:
        return tag("p", "no review round was recorded", class_="muted")
    blocks = []
    for r in ctx["reviews"]:
        head = join([tag("b", f"packet {r['packet']}, round {r['round']}"), " ",
                     badge(r["verdict"] or "?", _VERDICT.get(r["verdict"], "neutral")),
                     " ", tag("span", r["model"], class_="muted")])
        parts = [tag("div", head)]
        if r.get("summary"):
            parts.append(tag("p", r["summary"]))
        if r["required_fixes"]:
            parts.append(join([tag("div", "required fixes:", class_="muted"),
                               tag("ol", join(tag("li", f) for f in r["required_fixes"]),
                                   class_="fixes")]))
        if r.get("questions"):
            parts.append(join([tag("div", "questions for the owner:", class_="muted"),
                               tag("ul", join(tag("li", q) for q in r["questions"]))]))
        blocks.append(tag("div", join(parts), class_="round", data_verdict=r["verdict"]))
    return join(blocks)


def _approvals(ctx: dict[str, Any]) -> Html:
    if not ctx["approval_rules"]:
        return tag("p", "no approval rule fired: the change went on without a person's gate",
                   class_="muted")
    rules = tag("ul", join(tag("li", r) for r in ctx["approval_rules"]))
    answer = ctx["approval"]
    if answer is None:
        state = join([badge("waiting", "warn"), " for a person: baton approve / baton reject"])
    else:
        state = join([badge("approved" if answer["approved"] else "rejected",
                            "good" if answer["approved"] else "bad"),
                      " ", answer["reason"] or ""])
    return join([tag("p", "approval rules that fired:"), rules, tag("p", state)])


def _evidence(run_dir: Path, events: list[dict[str, Any]]) -> Html:
    commands = [e for e in events if e.get("type") == "command"]
    if not commands:
        return tag("p", "no verification command was recorded", class_="muted")
    rows, tails = [], []
    for e in commands:
        ran = e.get("ran") is True
        code = e.get("exit_code")
        if not ran:
            status = badge("not run", "neutral")
        elif e.get("timed_out"):
            status = badge("timed out", "bad")
        else:
            status = badge(f"exit {code}", "good" if code == 0 else "bad")
        rows.append([tag("code", e.get("command")), e.get("source"), status,
                     seconds(_number(e.get("duration_s"))) if ran else "-",
                     e.get("sandbox") or "-", e.get("reason_not_run") or ""])
        if ran:
            tails.append(join([tag("h3", join(["output tail of ", tag("code", e.get("command")),
                                               f" (exit {code}, {e.get('output_bytes', 0)} "
                                               f"bytes, sha256 {str(e.get('output_sha256'))[:16]}"
                                               "…)"])),
                               tag("pre", _output_tail(run_dir, e) or "(no output)",
                                   class_="tail")]))
    return join([table(["command", "source", "result", "duration", "sandbox", "why not run"],
                       rows, numeric=(3,), class_="evidence"), *tails])


def _output_tail(run_dir: Path, event: dict[str, Any]) -> str:
    step = str(event.get("step") or "")
    number = step.partition("/")[2]
    if number.isdigit():
        try:
            data = json.loads((run_dir / "evidence" / f"{int(number):02d}.json").read_text())
            return str(data.get("output_tail") or "")
        except (OSError, ValueError, AttributeError):
            pass
    log = event.get("evidence_file")
    if isinstance(log, str):
        path = (run_dir / log).resolve()
        if run_dir.resolve() in path.parents and path.is_file():
            return path.read_text(encoding="utf-8", errors="replace")[-4000:]
    return ""


def _budget(events: list[dict[str, Any]]) -> Html:
    from baton.config import Limits
    from baton.llm.budget import Budget

    recorded = [e for e in events if e.get("type") in ("run.start", "run.resume")
                and isinstance(e.get("limits"), dict)]
    try:
        limits = Limits.model_validate(recorded[-1]["limits"]) if recorded else None
        role_limits = {r: Limits.model_validate(v)
                       for r, v in _dict(recorded[-1].get("role_limits")).items()} \
            if recorded else {}
    except ValueError:
        limits, role_limits = None, {}
    budget = Budget(limits or Limits(), role_limits)
    spent = Budget.from_events(limits or Limits(), role_limits, events)
    rows = [_limit_rows("run", limits, spent.spent.as_dict() | {"tokens": spent.spent.tokens})]
    by_role = spent.spent_by_role()
    for role, lim in budget.role_limits.items():
        use = by_role.get(role)
        used = (use.as_dict() | {"tokens": use.tokens}) if use else {}
        rows.append(_limit_rows(f"{role} role", lim, used))
    body = [r for block in rows for r in block]
    note = ("" if recorded else "The limits in force were not recorded in this trace "
            "(runs made before baton recorded them); only what was used is shown.")
    exhausted = [e for e in events if e.get("type") == "budget.exhausted"]
    warn = [tag("p", join([badge("paused", "warn"), " ", e.get("message") or ""]))
            for e in exhausted]
    return join([tag("p", note, class_="muted") if note else Html(""), *warn,
                 table(["scope", "limit", "used", "limit value", "share"], body,
                       numeric=(2, 3), class_="budget")])


def _limit_rows(scope: str, limits: Any, used: Mapping[str, Any]) -> list[list[Any]]:
    rows = []
    for field_name, label, key, fmt in _LIMITS:
        value = getattr(limits, field_name, None) if limits is not None else None
        spent = _number(used.get(key)) or 0.0
        if value is None:
            rows.append([scope, label, fmt(spent), "no limit", ""])
            continue
        share = spent / value if value else (1.0 if spent else 0.0)
        level = "over" if share >= 1 else "high" if share >= 0.8 else ""
        meter = tag("div", tag("div", "", style=f"width:{min(share, 1) * 100:.0f}%",
                               class_=level or None), class_="meter",
                    title=f"{share * 100:.0f}%")
        rows.append([scope, label, fmt(spent), fmt(value),
                     join([meter, f" {share * 100:.0f}%"])])
    return rows


# -- the page ----------------------------------------------------------------------------


def render_run_report(run_dir: Path, *, environ: Mapping[str, str] | None = None) -> str:
    """The report of the run in ``run_dir`` as one HTML document; writes nothing."""
    run_dir = Path(run_dir)
    trace = run_dir / "trace.jsonl"
    events = list(iter_events(trace, warn=False))
    ctx = summary_context(run_dir)
    workflow = _dict(_read_json(run_dir / "workflow.json"))
    totals = summarize([trace], by="run").to_dict()["totals"] if trace.is_file() else {
        "calls": 0, "input_tokens": 0, "output_tokens": 0, "cost_usd": 0.0,
        "unknown_cost_calls": 0}
    bars, lanes, t0 = timeline_bars(events)
    times = [t for t in (_epoch(e.get("ts")) for e in events) if t is not None]
    duration = (max(times) - min([t0, *times])) if times else None
    commands_run = sum(1 for e in events if e.get("type") == "command" and e.get("ran"))
    marks: list[tuple[float, str]] = []
    if bars:
        busy = sum(b.end - b.start for b in bars)
        shown, cuts = cut_idle(bars, min_gap_s=max(IDLE_CUT_S, busy), keep_s=max(1.0, busy / 20))
        marks = [(at, f"paused {seconds(gap)}") for at, gap in cuts]
        timeline = join([_legend(), gantt(shown, lanes, cuts=marks)])
    else:
        timeline = tag("p", "no model call or command was recorded", class_="muted")
    not_run = [e for e in events if e.get("type") == "command" and not e.get("ran")]
    calls = sum(1 for b in bars if b.data["kind"] == "call")
    timeline_note = (f"One bar per model call attempt ({calls}) "
                     f"and per command that ran ({commands_run}); hover a bar for details. "
                     + (f"{len(not_run)} proposed command(s) did not run (see Evidence). "
                        if not_run else "")
                     + (f"{len(marks)} idle stretch(es) (waiting for a person, a pause) are cut "
                        "out of the time axis and marked." if marks else ""))
    patch = run_dir / "patch.diff"
    diff = render_diff(patch.read_text(encoding="utf-8", errors="replace")) \
        if patch.is_file() else tag("p", "no patch.diff in the run folder (the run did not "
                                         "reach a decision)", class_="muted")
    body = join([
        _header(ctx, workflow, totals, duration, len(ctx["reviews"]), commands_run),
        section("Timeline", timeline, id_="timeline", note=timeline_note),
        section("Cost, tokens and latency", _costs(trace), id_="costs"),
        section("Review rounds", _reviews(ctx), id_="reviews"),
        section("Approval gates", _approvals(ctx), id_="approvals"),
        section("Final diff", diff, id_="diff"),
        section("Verification evidence", _evidence(run_dir, events), id_="evidence",
                note="Run by the harness itself; go needs every command that ran to exit 0."),
        section("Budget", _budget(events), id_="budget"),
        tag("footer", join(["generated by baton from ", tag("code", str(run_dir)),
                            ": the trace (trace.jsonl) is the record; this page is computed "
                            "from it and has no script and no network access."])),
    ])
    document = page(f"baton run {ctx['run_id']}: {ctx['title']}", body)
    masker = SecretMasker(dict(os.environ if environ is None else environ))
    return masker.mask(str(document))


def write_run_report(run_dir: Path, out: Path | None = None, *,
                     environ: Mapping[str, str] | None = None) -> Path:
    """Write the report (default ``run_dir/report.html``) and return its path."""
    run_dir = Path(run_dir)
    path = Path(out) if out is not None else run_dir / REPORT_FILE
    text = render_run_report(run_dir, environ=environ)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)
    return path


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


__all__ = ["esc", "render_run_report", "timeline_bars", "write_run_report"]
