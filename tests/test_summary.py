"""The pull-request description a run leaves in summary.md."""

from __future__ import annotations

import json
from pathlib import Path

from baton.runs import trace as T
from baton.runs.summary import render_summary, write_summary
from baton.runs.trace import TraceWriter

PLANNER, IMPLEMENTER, REVIEWER = "openai/gpt-5", "qwen/qwen3-coder", "anthropic/claude-sonnet-4.5"

PLAN = {
    "summary": "Add median() and mode() to stats.py, with tests.",
    "affected_files": [{"path": "stats.py", "change": "add median() and mode()"},
                       {"path": "tests/test_stats.py", "change": "tests | edge cases"}],
    "risks": ["unsorted input"], "acceptance_criteria": ["median([3,1,2]) == 2"],
    "test_commands": ["python -m pytest -q"], "rollback": "Revert the commit on the branch.",
    "risk_level": "medium", "commit_message": "Add median() and mode()",
    "packets": [
        {"title": "median", "goal": "add median()", "files": ["stats.py"],
         "acceptance_criteria": ["a"]},
        {"title": "mode", "goal": "add mode()", "files": ["stats.py", "tests/test_stats.py"],
         "acceptance_criteria": ["b"]},
    ],
}


def call(w: TraceWriter, role: str, model: str, tokens_in: int, tokens_out: int,
         cost: float | None, packet: int | None = None, round_: int | None = None) -> None:
    w.emit("model.call", role=role, packet=packet, round=round_, attempt=1, call_key=role,
           endpoint="default", source="baton", **{
               T.OPERATION: "chat", T.MODEL: model, T.INPUT_TOKENS: tokens_in,
               T.OUTPUT_TOKENS: tokens_out, T.CACHED_TOKENS: None},
           latency_s=1.0, cost_usd=cost, cost_source="gateway" if cost is not None else "unknown",
           outcome="ok", error=None)


def complete_run(run_dir: Path) -> Path:
    """A finished two-packet run: a changes request, approvals, evidence, an approval gate."""
    run_dir.mkdir(parents=True)
    (run_dir / "workflow.json").write_text(json.dumps({
        "run_id": "20260101-000000-abcdef", "task": "Add median() and mode() to stats.py",
        "title": "median and mode", "state": "done", "decision": "go", "policy": "default",
        "branch": "baton/20260101-000000-abcdef", "base_commit": "1234567890abcdef"}))
    (run_dir / "plan.json").write_text(json.dumps(PLAN))
    (run_dir / "reviews").mkdir()
    (run_dir / "reviews" / "p1-r1.json").write_text(json.dumps({
        "verdict": "request_changes", "summary": "sorts the caller's list in place",
        "required_fixes": ["sort a copy"],
        "questions_for_owner": ["Should median() accept iterators?"]}))
    (run_dir / "reviews" / "p1-r2.json").write_text(json.dumps({"verdict": "approve"}))
    w = TraceWriter(run_dir / "trace.jsonl", "20260101-000000-abcdef")
    w.emit("run.start", task="Add median() and mode() to stats.py", title="median and mode")
    call(w, "planner", PLANNER, 500, 200, 0.0125)
    w.emit("plan.gate", attempt=1, passed=True, errors=[])
    for packet, rounds in ((1, ("request_changes", "approve")), (2, ("approve",))):
        w.emit("packet.start", packet=packet, title=PLAN["packets"][packet - 1]["title"])
        for round_, verdict in enumerate(rounds, 1):
            call(w, "implementer", IMPLEMENTER, 800, 300, None, packet, round_)
            w.emit("edits.applied", packet=packet, round=round_, files=["stats.py"], added=5,
                   removed=1, outside_plan=["setup.cfg"] if packet == 2 else [])
            call(w, "reviewer", REVIEWER, 900, 100, 0.02, packet, round_)
            w.emit("review.verdict", packet=packet, round=round_, model=REVIEWER,
                   verdict=verdict,
                   required_fixes=["sort a copy"] if verdict == "request_changes" else [])
        w.emit("packet.end", packet=packet, title="x", outcome="approved")
    w.emit("approval.required", rules=["risk level medium needs approval"])
    w.emit("approval.decision", approved=True, reason="looked at it")
    w.emit("command", command="python -m pytest -q", source="config", ran=True, exit_code=0,
           duration_s=1.234, timed_out=False, evidence_file="evidence/01.log")
    w.emit("command", command="make lint | tee out", source="reviewer", ran=False,
           exit_code=None, duration_s=None, timed_out=False, evidence_file=None,
           reason_not_run="proposed by a model and contains shell operators")
    w.emit("decision", decision="go", reasons=["review approved and 1 command exited 0"])
    w.emit("run.end", state="done", decision="go", totals={})
    w.close()
    return run_dir


def test_a_complete_run_reads_as_a_pull_request_description(tmp_path):
    run_dir = complete_run(tmp_path / "run")
    before = sorted(p.name for p in run_dir.rglob("*"))
    text = render_summary(run_dir)
    assert sorted(p.name for p in run_dir.rglob("*")) == before  # writes nothing

    assert text.startswith("# median and mode\n")
    assert "**Decision: GO**" in text
    assert PLAN["summary"] in text
    assert "| `stats.py` | add median() and mode() |" in text
    assert "| `tests/test_stats.py` | tests \\| edge cases |" in text
    assert "| 1 | median | add median() | `stats.py` | approved |" in text
    assert "| 2 | mode |" in text
    assert (f"| 1 | 1 | `{REVIEWER}` | **request_changes** | sort a copy |") in text
    assert f"| 1 | 2 | `{REVIEWER}` | **approve** | none |" in text
    assert f"| 2 | 1 | `{REVIEWER}` | **approve** | none |" in text
    assert "sorts the caller's list in place" in text
    assert ("| `python -m pytest -q` | config | yes | 0 | 1.23s | `evidence/01.log` |") in text
    assert ("- `make lint | tee out` (reviewer): proposed by a model and contains shell "
            "operators") in text
    assert "| planner | 1 | 500 | 200 | $0.0125 | 0 |" in text
    assert "| implementer | 3 | 2400 | 900 | unknown | 3 |" in text
    assert "| reviewer | 3 | 2700 | 300 | $0.0600 | 0 |" in text
    assert "| **total** | **7** | **5600** | **1400** | **$0.0725** | **3** |" in text
    assert "leaves out 3 call(s) whose cost is unknown" in text
    assert "- review approved and 1 command exited 0" in text
    left = text.split("## Left for a human")[1]
    assert "(packet 1, round 1) Should median() accept iterators?" in left
    assert "risk level medium needs approval" in left and "approved: looked at it" in left
    assert "- `make lint | tee out`\n" in left
    assert "`setup.cfg`" in left
    assert "Rollback: Revert the commit on the branch." in left


def test_write_summary_writes_summary_md(tmp_path):
    run_dir = complete_run(tmp_path / "run")
    path = write_summary(run_dir)
    assert path == run_dir / "summary.md"
    assert path.read_text() == render_summary(run_dir)
    assert not (run_dir / "summary.md.tmp").exists()


def test_an_empty_run_folder_does_not_crash(tmp_path):
    run_dir = tmp_path / "20260101-000000-empty"
    run_dir.mkdir()
    text = render_summary(run_dir)
    assert text.startswith("# baton run 20260101-000000-empty")
    assert "No plan was recorded" in text and "No review was recorded" in text
    assert "No verification command ran" in text and "No model call was recorded" in text
    assert "Nothing was flagged" in text


def test_a_run_that_stopped_early_says_so(tmp_path):
    run_dir = tmp_path / "run"
    w = TraceWriter(run_dir / "trace.jsonl", "r1")
    w.emit("run.start", task="Fix the parser\nwith details", title="")
    call(w, "planner", PLANNER, 100, 10, None)
    w.emit("state", state="budget_exhausted", detail="the next call would cross max_cost_usd")
    w.close()
    with (run_dir / "trace.jsonl").open("a") as fh:
        fh.write('{"torn')
    (run_dir / "plan.json").write_text('{"summary": "only a summary", "packets": "nonsense"}')
    (run_dir / "reviews").mkdir()
    (run_dir / "reviews" / "p1-r1.json").write_text("not json")
    text = render_summary(run_dir)
    assert text.startswith("# Fix the parser\n")
    assert "**No decision yet**: the run is budget_exhausted" in text
    assert "max_cost_usd" in text and "only a summary" in text
    assert "| planner | 1 | 100 | 10 | unknown | 1 |" in text


def test_evidence_json_is_used_when_the_trace_has_no_commands(tmp_path):
    run_dir = tmp_path / "run"
    (run_dir / "evidence").mkdir(parents=True)
    (run_dir / "evidence" / "evidence.json").write_text(json.dumps([
        {"command": "npm test", "source": "detected", "ran": True, "exit_code": 1,
         "duration_s": 3.5, "timed_out": True}]))
    assert "| `npm test` | detected | yes | 1 (timed out) | 3.50s | - |" in render_summary(run_dir)


def test_fields_of_the_wrong_type_do_not_break_the_summary(tmp_path):
    run_dir = tmp_path / "run"
    w = TraceWriter(run_dir / "trace.jsonl", "r1")
    w.emit("run.start", task=["not", "text"], title=7, base_commit=12345, branch=None)
    w.emit("packet.start", packet=[1], title={"a": 1})
    w.emit("packet.end", packet="1", outcome=3)
    w.emit("edits.applied", packet=1, round=1, files="stats.py", outside_plan=[{"x": 1}, 2])
    w.emit("review.verdict", packet="1", round=None, model=5, verdict=["approve"],
           required_fixes="fix")
    w.emit("review.verdict", packet=1, round=1, model=REVIEWER, verdict="approve",
           required_fixes=[1, None])
    w.emit("command", command=None, source=3, ran="yes", exit_code="0", duration_s="slow")
    w.emit("command", command="pytest", source="config", ran=True, exit_code=0,
           duration_s=True)
    w.emit("approval.required", rules="everything")
    w.emit("decision", decision=None, reasons="because", commit=1)
    w.close()
    (run_dir / "workflow.json").write_text("[1, 2]")
    text = render_summary(run_dir)
    assert text.startswith("# baton run run\n")
    assert f"| 1 | 1 | `{REVIEWER}` | **approve** | 1 |" in text
    assert "| `pytest` | config | yes | 0 | - | - |" in text
