"""A run's pull-request description (``summary.md``), a pure function of its run folder.

It reads the trace, ``workflow.json``, ``plan.json`` and ``reviews/``; any of them may be
missing (a run that failed early, or a folder copied by hand) and the summary says what
is not there rather than failing.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import Any

from baton.runs.reader import summarize
from baton.runs.trace import iter_events

TEMPLATE = "summary.md.j2"


def render_summary(run_dir: Path) -> str:
    """The Markdown pull-request description of the run in ``run_dir``; writes nothing."""
    return _env().get_template(TEMPLATE).render(**summary_context(Path(run_dir)))


def write_summary(run_dir: Path) -> Path:
    """Render the summary into ``run_dir/summary.md`` and return its path."""
    path = Path(run_dir) / "summary.md"
    tmp = path.with_name("summary.md.tmp")
    tmp.write_text(render_summary(run_dir), encoding="utf-8")
    tmp.replace(path)
    return path


def compile_template() -> None:
    """Compile the summary template now (it is kept compiled for the process)."""
    _env().get_template(TEMPLATE)


@lru_cache(maxsize=1)
def _env():
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.PackageLoader("baton", "templates"), undefined=jinja2.StrictUndefined,
        trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True, autoescape=False,
    )
    env.filters["cell"] = _cell
    env.filters["code"] = _code
    env.filters["cellcode"] = _cell_code
    env.filters["groupcost"] = _group_cost
    env.filters["usd"] = _usd
    return env


def _cell(value: Any) -> str:
    """Text safe inside one Markdown table cell."""
    text = "" if value is None else str(value)
    return " ".join(text.split()).replace("|", "\\|")


def _code(value: Any) -> str:
    """Inline code on one line that survives backticks in the text."""
    text = " ".join(("" if value is None else str(value)).split())
    return f"`` {text} ``" if "`" in text else f"`{text}`"


def _cell_code(value: Any) -> str:
    """Inline code inside a table cell (a pipe would end the cell)."""
    return _code(value).replace("|", "\\|")


def _usd(value: float | None) -> str:
    return "unknown" if value is None else f"${value:.4f}"


def _group_cost(group: dict[str, Any]) -> str:
    """A group's known cost, or "unknown" when no call of it had a known cost."""
    if group["calls"] and group["unknown_cost_calls"] == group["calls"]:
        return "unknown"
    return _usd(group["cost_usd"])


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def _list(value: Any) -> list:
    return [v for v in value if v not in (None, "")] if isinstance(value, list) else []


def _text(value: Any) -> str:
    return value.strip() if isinstance(value, str) else ""


def _first(*values: Any) -> str | None:
    """The first value that is a non-empty string (a damaged field counts as missing)."""
    for value in values:
        if _text(value):
            return _text(value)
    return None


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) \
        else None


def _ordinal(value: Any) -> int | None:
    return value if type(value) is int else None


# -- gathering --------------------------------------------------------------------------


def summary_context(run_dir: Path) -> dict[str, Any]:
    """Everything the template shows, each key present even when the run has no data."""
    trace = run_dir / "trace.jsonl"
    events = list(iter_events(trace, warn=False))
    workflow = _read_json(run_dir / "workflow.json")
    workflow = workflow if isinstance(workflow, dict) else {}
    start = _last(events, "run.start") or _last(events, "workflow.created") or {}
    plan = _plan(run_dir)
    reviews = _reviews(run_dir, events)
    commands = _commands(run_dir, events)
    decision = _last(events, "decision") or {}
    edits = [e for e in events if e.get("type") == "edits.applied"]
    context = {
        "run_id": _first(workflow.get("run_id"), start.get("run_id")) or run_dir.name,
        "title": _title(workflow, start, plan, run_dir),
        "task": _first(workflow.get("task"), start.get("task")) or "",
        "state": _first(workflow.get("state"), _state(events)),
        "decision": _first(decision.get("decision"), workflow.get("decision")),
        "reasons": _list(decision.get("reasons")) or _list(workflow.get("reasons")),
        "branch": _first(workflow.get("branch"), start.get("branch")),
        "base_commit": _first(workflow.get("base_commit"), start.get("base_commit")),
        "commit": _first(decision.get("commit"), workflow.get("commit")),
        "policy": _first(workflow.get("policy"), start.get("policy")),
        "plan": plan,
        "packets": _packets(plan, events),
        "changed_files": _changed_files(edits),
        "edit_format": _edit_format(events, edits),
        "reviews": reviews,
        "questions": [(r["packet"], r["round"], q) for r in reviews for q in r["questions"]],
        "commands_run": [c for c in commands if c["ran"]],
        "commands_not_run": [c for c in commands if not c["ran"]],
        "costs": _costs(trace),
        "approval_rules": _approval_rules(events),
        "approval": _approval(events),
        "outside_plan": sorted({str(f) for e in edits for f in _list(e.get("outside_plan"))}),
        "pause": _pause_detail(events),
        "vendor_notes": list(dict.fromkeys(
            _text(e.get("message")) for e in events
            if e.get("type") == "reviewer.vendor" and e.get("relation") != "other_vendor"
            and _text(e.get("message")))),
        "review": _review_of_change(run_dir, workflow),
        "snapshot": _snapshot(events),
        "drift": _drift(events),
        **_evidence_context(events),
        "sandbox_warnings": list(dict.fromkeys(
            _text(e.get("warning")) for e in events
            if e.get("type") == "sandbox" and e.get("warning"))),
    }
    _label_fix_reviews(reviews, events)
    return context


def _edit_format(events: list[dict[str, Any]], edits: list[dict[str, Any]]
                 ) -> dict[str, Any] | None:
    """How the implementer's edit blocks fared: applied exactly, applied with a tolerance
    (counted by kind), or rejected (the implementer was asked again)."""
    kinds = [str(t) for e in edits for t in _list(e.get("tolerances"))]
    rejected = [e for e in events if e.get("type") == "edits.rejected"]
    if not kinds and not rejected:
        return None
    tolerated: dict[str, int] = {}
    for kind in kinds:
        if kind != "none":
            tolerated[kind] = tolerated.get(kind, 0) + 1
    return {"edits": len(kinds), "exact": kinds.count("none"),
            "tolerated": sorted(tolerated.items()), "rejected": len(rejected),
            "reasons": [_text(e.get("reason")).split("\n", 1)[0] for e in rejected][:3]}


def _review_of_change(run_dir: Path, workflow: dict[str, Any]) -> dict[str, Any] | None:
    """What ``baton review`` recorded about the change it gated (None for ``baton run``)."""
    review = workflow.get("review")
    if workflow.get("kind") != "review" or not isinstance(review, dict):
        return None
    findings = _read_json(run_dir / "findings.json")
    return {
        "selection": _text(review.get("label")), "base": _text(review.get("base")),
        "tree": _text(review.get("tree")), "commit": _text(review.get("commit")),
        "files": [f for f in _list(review.get("files")) if isinstance(f, dict)],
        "withheld": _list(review.get("withheld")),
        "plan_checks": _list(review.get("plan_checks")),
        "round": _ordinal(review.get("round")), "follows": _text(review.get("follows")),
        "author": _text(review.get("author")),
        "findings": [f for f in findings if isinstance(f, dict)]
        if isinstance(findings, list) else [],
    }


def _last(events: list[dict[str, Any]], kind: str) -> dict[str, Any] | None:
    for event in reversed(events):
        if event.get("type") == kind:
            return event
    return None


def _state(events: list[dict[str, Any]]) -> str | None:
    last = _last(events, "run.end") or _last(events, "state")
    return _first(last.get("state")) if last else None


def _title(workflow: dict, start: dict, plan: dict | None, run_dir: Path) -> str:
    for candidate in (workflow.get("title"), start.get("title"),
                      plan and plan["commit_message"], workflow.get("task"), start.get("task")):
        text = _text(candidate)
        if text:
            return text.splitlines()[0][:100]
    return f"baton run {run_dir.name}"


def _plan(run_dir: Path) -> dict[str, Any] | None:
    raw = _read_json(run_dir / "plan.json")
    if not isinstance(raw, dict):
        return None
    files = [{"path": f.get("path", ""), "change": f.get("change", "")}
             for f in _list(raw.get("affected_files")) if isinstance(f, dict)]
    packets = [{"title": _text(p.get("title")), "goal": _text(p.get("goal")),
                "files": _list(p.get("files"))}
               for p in _list(raw.get("packets")) if isinstance(p, dict)]
    return {
        "summary": _text(raw.get("summary")), "affected_files": files,
        "risks": _list(raw.get("risks")), "risk_level": _text(raw.get("risk_level")),
        "acceptance_criteria": _list(raw.get("acceptance_criteria")),
        "test_commands": _list(raw.get("test_commands")), "rollback": _text(raw.get("rollback")),
        "commit_message": _text(raw.get("commit_message")), "packets": packets,
    }


def _packets(plan: dict | None, events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The scoped packets with their outcome, when the work was split into more than one."""
    outcomes = {_ordinal(e.get("packet")): _first(e.get("outcome"))
                for e in events if e.get("type") == "packet.end"}
    titles = {_ordinal(e.get("packet")): _first(e.get("title"))
              for e in events if e.get("type") == "packet.start"}
    titles.pop(None, None)
    planned = plan["packets"] if plan else []
    count = max(len(planned), len(titles))
    rows = []
    for index in range(1, count + 1):
        spec = planned[index - 1] if index <= len(planned) else {"goal": "", "files": []}
        rows.append({"index": index, "title": spec.get("title") or titles.get(index) or "",
                     "goal": spec["goal"], "files": spec["files"],
                     "outcome": outcomes.get(index) or "not finished"})
    return rows if count > 1 else []


def _changed_files(edits: list[dict[str, Any]]) -> list[dict[str, Any]]:
    files: dict[str, int] = {}
    for event in edits:
        for name in _list(event.get("files")):
            files[str(name)] = files.get(str(name), 0) + 1
    return [{"path": name, "rounds": count} for name, count in sorted(files.items())]


def _reviews(run_dir: Path, events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Every review round: verdict events from the trace, details from ``reviews/``."""
    found: dict[tuple[Any, Any], dict[str, Any]] = {}
    for event in events:
        if event.get("type") == "review.verdict":
            key = (_ordinal(event.get("packet")), _ordinal(event.get("round")))
            found[key] = {"packet": key[0], "round": key[1],
                          "model": _first(event.get("model")) or "",
                          "verdict": _first(event.get("verdict")) or "",
                          "required_fixes": _list(event.get("required_fixes"))}
    for path in sorted((run_dir / "reviews").glob("p*-r*.json")):
        packet, _, round_ = path.stem[1:].partition("-r")
        if not (packet.isdigit() and round_.isdigit()):
            continue
        data = _read_json(path)
        if not isinstance(data, dict):
            continue
        key = (int(packet), int(round_))
        row = found.setdefault(key, {"packet": key[0], "round": key[1], "model": "",
                                     "verdict": _text(data.get("verdict")),
                                     "required_fixes": _list(data.get("required_fixes"))})
        row["summary"] = _text(data.get("summary"))
        row["questions"] = _list(data.get("questions_for_owner"))
    rows = [found[k] for k in sorted(found, key=lambda k: (k[0] or 0, k[1] or 0))]  # ints
    for row in rows:
        row.setdefault("summary", "")
        row.setdefault("questions", [])
    return rows


def _commands(run_dir: Path, events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The verification commands: trace events, else ``evidence/evidence.json``."""
    by_step: dict[Any, dict[str, Any]] = {}
    for index, event in enumerate(events):
        if event.get("type") == "command":
            by_step[event.get("step") or index] = event
    items = list(by_step.values())
    if items:  # after fix rounds, the evidence is the last verification's
        last = items[-1].get("stage")
        items = [i for i in items if i.get("stage") == last]
    if not items:
        stored = _read_json(run_dir / "evidence" / "evidence.json")
        items = [i for i in stored if isinstance(i, dict)] if isinstance(stored, list) else []
    return [{"command": _text(i.get("command")), "source": _first(i.get("source")) or "",
             "ran": i.get("ran") is True, "exit_code": _ordinal(i.get("exit_code")),
             "duration_s": _number(i.get("duration_s")), "timed_out": i.get("timed_out") is True,
             "reason_not_run": _first(i.get("reason_not_run")) or "",
             "log": _first(i.get("evidence_file"))}
            for i in items]


def _label_fix_reviews(reviews: list[dict[str, Any]], events: list[dict[str, Any]]) -> None:
    """A fix round's reviews are numbered after the packets: name them as fix rounds."""
    fixes = {_ordinal(e.get("packet")): _ordinal(e.get("fix_round"))
             for e in events if e.get("type") == "fix.start"}
    for row in reviews:
        number = fixes.get(row["packet"]) if row["packet"] is not None else None
        if number is not None:
            row["fix_round"] = number
            row["label"] = f"fix {number}"


def _evidence_context(events: list[dict[str, Any]]) -> dict[str, Any]:
    """Before/after, fix rounds, tampering flags and the plan contract, from the trace."""
    before_after = _last(events, "evidence.before_after") or {}
    rows = [r for r in _list(before_after.get("commands")) if isinstance(r, dict)]
    ends = {_ordinal(e.get("fix_round")): e for e in events if e.get("type") == "fix.end"}
    fixes = [{"round": _ordinal(e.get("fix_round")),
              "failed": [str(c) for c in _list(e.get("failed"))],
              "outcome": _first((ends.get(_ordinal(e.get("fix_round"))) or {}).get("outcome"))
              or "not finished",
              "still_failing": [str(c) for c in _list(
                  (ends.get(_ordinal(e.get("fix_round"))) or {}).get("failed"))]}
             for e in events if e.get("type") == "fix.start"]
    flags = [e for e in events if e.get("type") == "evidence.flags"]
    empty: dict[str, Any] = {}
    diff_stage = next((e for e in reversed(flags) if e.get("stage") != "after"), empty)
    after = next((e for e in reversed(flags) if e.get("stage") == "after"), empty)
    tampering = [str(f.get("message")) for e in (diff_stage, after)
                 for f in _list(e.get("tampering")) if isinstance(f, dict)]
    contract = dict(diff_stage.get("contract") or {})
    if isinstance(after.get("contract"), dict):
        contract.update(after["contract"])
    return {
        "before_after": rows,
        "already_passing": before_after.get("already_passing") is True,
        "base_commands": [e for e in events if e.get("type") == "base.command"],
        "fix_rounds": fixes,
        "tampering": list(dict.fromkeys(tampering)),
        "contract": {k: [str(v) for v in _list(contract.get(k))]
                     for k in ("unplanned_files", "untouched_files", "commands_not_run")},
        "contract_checked": bool(flags),
    }


def _costs(trace: Path) -> dict[str, Any]:
    if not trace.is_file():
        return {"roles": [], "totals": None}
    data = summarize([trace], by="role").to_dict()
    return {"roles": data["groups"], "totals": data["totals"] if data["groups"] else None}


def _approval_rules(events: list[dict[str, Any]]) -> list[str]:
    rules = [r for e in events if e.get("type") == "approval.required"
             for r in _list(e.get("rules"))]
    return list(dict.fromkeys(str(r) for r in rules))


def _approval(events: list[dict[str, Any]]) -> dict[str, Any] | None:
    last = _last(events, "approval.decision")
    if last is None:
        return None
    return {"approved": last.get("approved") is True, "reason": _text(last.get("reason"))}


MAX_DRIFT_SHOWN = 50
_DRIFT_VERBS = {"A": "added", "M": "changed", "D": "deleted"}


def _snapshot(events: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The reviewed tree fixed before verification: its commit and changed files."""
    last = _last(events, "snapshot")
    if last is None or not _text(last.get("commit")):
        return None
    files = [{"path": str(f.get("path")), "status": _text(f.get("status"))}
             for f in _list(last.get("files")) if isinstance(f, dict) and f.get("path")]
    return {"commit": _text(last.get("commit")), "tree": _text(last.get("tree")),
            "count": len(files), "files": files[:MAX_DRIFT_SHOWN],
            "more": max(0, len(files) - MAX_DRIFT_SHOWN)}


def _drift(events: list[dict[str, Any]]) -> dict[str, Any] | None:
    """What verification commands wrote in their checkout (never committed)."""
    last = next((e for e in reversed(events) if e.get("type") == "verify.drift"
                 and e.get("stage") != "base"), None)  # the base commit's is not the patch's
    if last is None:
        return None
    rows = [{"path": str(f.get("path")), "verb": _DRIFT_VERBS.get(_text(f.get("status")), "?"),
             "status": _text(f.get("status"))}
            for f in _list(last.get("files")) if isinstance(f, dict) and f.get("path")]
    total = _ordinal(last.get("total"))
    total = total if total is not None else len(rows)
    return {"total": total, "shown": rows[:MAX_DRIFT_SHOWN],
            "more": max(0, total - min(len(rows), MAX_DRIFT_SHOWN)),
            "tracked": [r for r in rows if r["status"] in ("M", "D")]}


def _pause_detail(events: list[dict[str, Any]]) -> str:
    last = _last(events, "state")
    if last and last.get("state") in ("awaiting_approval", "budget_exhausted", "failed"):
        return _text(last.get("detail"))
    return ""
