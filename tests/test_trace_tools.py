"""`baton record`, `baton trace summary` and `baton runs`, from the outside."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from baton.runs import trace as T
from baton.runs.reader import summarize
from baton.runs.stats import percentile
from baton.runs.trace import TraceWriter

REVIEWER = "anthropic/claude-sonnet-4.5"
IMPLEMENTER = "qwen/qwen3-coder"


def cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "baton", *args], cwd=cwd,
                          capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)


def record(trace: Path, *extra: str, role="reviewer", model=REVIEWER, latency="2.0",
           tokens_in="1000", tokens_out="200", result="approve") -> subprocess.CompletedProcess:
    return cli("record", "--trace", str(trace), "--role", role, "--model", model,
               "--latency-s", latency, "--input-tokens", tokens_in, "--output-tokens",
               tokens_out, "--result", result, *extra)


def summary_json(*args: str, cwd: Path | None = None) -> dict:
    proc = cli("trace", "summary", "--json", *args, cwd=cwd)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def call(writer: TraceWriter, role: str, model: str, latency: float, tokens_in: int | None,
         tokens_out: int | None, cost: float | None, outcome: str = "ok", cached: int = 0):
    writer.emit("model.call", role=role, packet=1, round=1, attempt=1, call_key=role,
                endpoint="default", source="baton", **{
                    T.OPERATION: "chat", T.MODEL: model, T.RESPONSE_MODEL: model,
                    T.INPUT_TOKENS: tokens_in, T.OUTPUT_TOKENS: tokens_out,
                    T.CACHED_TOKENS: cached},
                latency_s=latency, cost_usd=cost,
                cost_source="gateway" if cost is not None else "unknown", outcome=outcome,
                error=None if outcome == "ok" else "HTTP 503")


def two_runs(base: Path) -> tuple[Path, Path]:
    """Two run folders: run a (planner + implementer + reviewer, go), run b (no-go)."""
    a, b = base / "run-a", base / "run-b"
    w = TraceWriter(a / "trace.jsonl", "run-a")
    w.emit("run.start", task="t", title="t")
    call(w, "planner", "openai/gpt-5", 3.0, 500, 100, 0.01)
    call(w, "implementer", IMPLEMENTER, 1.0, None, None, 0.0, outcome="error")
    call(w, "implementer", IMPLEMENTER, 5.0, 800, 300, None, cached=200)
    call(w, "reviewer", REVIEWER, 2.0, 900, 50, 0.02)
    w.emit("review.verdict", packet=1, round=1, model=REVIEWER, verdict="approve",
           required_fixes=[])
    w.emit("decision", decision="go", reasons=["ok"])
    w.close()
    w = TraceWriter(b / "trace.jsonl", "run-b")
    call(w, "reviewer", REVIEWER, 4.0, 100, 10, 0.03)
    w.emit("review.verdict", packet=1, round=1, model=REVIEWER, verdict="block",
           required_fixes=["no"])
    w.emit("decision", decision="no-go", reasons=["blocked"])
    w.close()
    return a, b


def groups(data: dict) -> dict[str, dict]:
    return {g["key"]: g for g in data["groups"]}


# -- record, then summary --------------------------------------------------------------


def test_record_then_summary_returns_exactly_what_was_recorded(tmp_path):
    trace = tmp_path / "run-x" / "trace.jsonl"
    trace.parent.mkdir()
    first = record(trace, "--cost-usd", "0.25", "--cached-tokens", "40",
                   "--evidence", "pytest -q: exit 0", "--evidence", "ruff: clean", "--json")
    assert first.returncode == 0, first.stderr
    event = json.loads(first.stdout)
    assert event["type"] == "model.call" and event["source"] == "manual"
    assert event["run_id"] == "run-x" and event["cost_source"] == "manual"
    assert event["evidence"] == ["pytest -q: exit 0", "ruff: clean"]
    assert event[T.MODEL] == REVIEWER and event[T.CACHED_TOKENS] == 40
    second = record(trace, "--cost-usd", "0.5", latency="4.0", tokens_in="3000",
                    tokens_out="600", result="request_changes")
    assert second.returncode == 0, second.stderr
    assert "recorded reviewer step" in second.stdout

    data = summary_json(str(trace))
    assert [g["key"] for g in data["groups"]] == [REVIEWER]
    g = data["groups"][0]
    assert (g["calls"], g["ok"], g["errors"]) == (2, 2, 0)
    assert (g["input_tokens"], g["output_tokens"], g["cached_tokens"]) == (4000, 800, 40)
    assert g["latency_s"] == {"mean": 3.0, "p50": 2.0, "p95": 4.0, "max": 4.0}
    assert g["cost_usd"] == 0.75 and g["unknown_cost_calls"] == 0
    assert g["outcomes"] == {"approve": 1, "request_changes": 1}
    assert data["totals"]["calls"] == 2 and data["runs"] == 1 and data["warnings"] == []
    by_role = summary_json(str(trace), "--by", "role")
    assert [g["key"] for g in by_role["groups"]] == ["reviewer"]


def test_record_keeps_the_run_id_of_an_existing_trace(tmp_path):
    trace = tmp_path / "somewhere" / "t.jsonl"
    trace.parent.mkdir()
    TraceWriter(trace, "packets-demo").emit("workflow.created", task="t")
    proc = record(trace, "--json", "--packet", "2", "--round", "1", role="implementer",
                  model=IMPLEMENTER, result="ok")
    assert proc.returncode == 0, proc.stderr
    event = json.loads(proc.stdout)
    assert event["run_id"] == "packets-demo" and event["seq"] == 1
    assert (event["packet"], event["round"]) == (2, 1)
    assert event["call_key"] == "manual/implementer/p2/r1"
    assert event["cost_source"] in ("unknown", "genai-prices", "config")


@pytest.mark.parametrize("args, message", [
    ({"role": "tester"}, "'tester' is not one of 'planner', 'implementer', 'reviewer'"),
    ({"latency": "-1"}, "--latency-s"),
    ({"tokens_in": "-5"}, "--input-tokens"),
    ({"tokens_out": "many"}, "'many' is not a whole number"),
    ({"latency": "nan"}, "finite"),
    ({"result": "maybe"}, "'maybe' is not one of 'approve'"),
])
def test_record_refuses_bad_input_and_leaves_the_trace_alone(tmp_path, args, message):
    trace = tmp_path / "trace.jsonl"
    assert record(trace, "--cost-usd", "0.1").returncode == 0
    before = trace.read_bytes()
    proc = record(trace, **args)
    assert proc.returncode == 2
    assert message in proc.stderr
    assert trace.read_bytes() == before


def test_record_refuses_a_negative_cost_and_a_missing_folder(tmp_path):
    trace = tmp_path / "trace.jsonl"
    proc = record(trace, "--cost-usd", "-0.1")
    assert proc.returncode == 2 and "--cost-usd" in proc.stderr and not trace.exists()
    proc = record(tmp_path / "nowhere" / "trace.jsonl")
    assert proc.returncode == 2 and "does not exist" in proc.stderr


def test_record_refuses_a_file_that_is_not_a_trace(tmp_path):
    notes = tmp_path / "notes.md"
    notes.write_text("# notes\nthe last line")
    proc = record(notes, "--cost-usd", "0")
    assert proc.returncode == 2 and "does not look like a baton trace" in proc.stderr
    assert notes.read_text() == "# notes\nthe last line"


# -- damaged traces ----------------------------------------------------------------------


def test_a_torn_last_line_is_skipped_with_a_warning(tmp_path):
    trace = tmp_path / "trace.jsonl"
    assert record(trace, "--cost-usd", "0.1").returncode == 0
    with trace.open("a") as fh:
        fh.write('{"schema_version": 1, "run_id": "x", "seq": 1, "type": "model.ca')
    proc = cli("trace", "summary", "--json", str(trace))
    assert proc.returncode == 0, proc.stderr
    assert f"{trace}:2: skipped a damaged line" in proc.stderr
    data = json.loads(proc.stdout)
    assert data["totals"]["calls"] == 1 and data["skipped_lines"] == 1
    table = cli("trace", "summary", str(trace))
    assert table.returncode == 0 and REVIEWER in table.stdout and "skipped" in table.stderr


def test_damaged_and_foreign_lines_never_stop_the_summary(tmp_path):
    trace = tmp_path / "trace.jsonl"
    w = TraceWriter(trace, "r")
    call(w, "planner", "m", 1.0, 10, 10, 0.1)
    w.close()
    with trace.open("a", encoding="utf-8") as fh:
        fh.write("not json\n[1, 2]\n" + "\xff garbage\n" * 8 + '{"no": "type"}\n\n')
        fh.write(json.dumps({"type": "model.call", "latency_s": "slow", "cost_usd": "x",
                             T.INPUT_TOKENS: "12", "outcome": "ok"}) + "\n")
    summary = summarize([trace])
    assert summary.totals.calls == 2 and summary.totals.input_tokens == 10
    assert summary.totals.unknown_cost_calls == 1
    assert summary.skipped_lines == 11
    assert any("more damaged lines" in w for w in summary.warnings)
    assert any("not baton trace events" in w for w in summary.warnings)


# -- grouping ----------------------------------------------------------------------------


def test_summary_groups_by_model_role_and_run(tmp_path):
    two_runs(tmp_path / "runs")
    by_model = summary_json(str(tmp_path / "runs"), "--by", "model")
    assert by_model["files"] == 2 and by_model["runs"] == 2
    models = groups(by_model)
    assert set(models) == {"openai/gpt-5", IMPLEMENTER, REVIEWER}
    impl = models[IMPLEMENTER]
    assert (impl["calls"], impl["ok"], impl["errors"]) == (2, 1, 1)
    assert (impl["input_tokens"], impl["cached_tokens"]) == (800, 200)
    assert impl["unknown_cost_calls"] == 1
    assert impl["cost_usd"] == 0.0
    assert impl["latency_s"] == {"mean": 3.0, "p50": 1.0, "p95": 5.0, "max": 5.0}
    assert models[REVIEWER]["outcomes"] == {"approve": 1, "block": 1}
    assert models[REVIEWER]["cost_usd"] == 0.05
    assert by_model["decisions"] == {"go": 1, "no-go": 1}
    totals = by_model["totals"]
    assert (totals["calls"], totals["errors"], totals["input_tokens"]) == (5, 1, 2300)
    assert totals["cost_usd"] == 0.06 and totals["unknown_cost_calls"] == 1

    roles = groups(summary_json(str(tmp_path / "runs"), "--by", "role"))
    assert {k: v["calls"] for k, v in roles.items()} == {
        "planner": 1, "implementer": 2, "reviewer": 2}
    assert roles["reviewer"]["outcomes"] == {"approve": 1, "block": 1}

    runs = groups(summary_json(str(tmp_path / "runs"), "--by", "run"))
    assert {k: v["calls"] for k, v in runs.items()} == {"run-a": 4, "run-b": 1}
    assert runs["run-a"]["outcomes"] == {"approve": 1, "go": 1}
    assert runs["run-b"]["outcomes"] == {"block": 1, "no-go": 1}


def test_the_same_trace_given_twice_counts_once(tmp_path):
    a, b = two_runs(tmp_path)
    data = summary_json(str(a), str(a / "trace.jsonl"), str(b / "trace.jsonl"))
    assert data["files"] == 2 and data["totals"]["calls"] == 5


def test_record_offers_the_roles_of_the_workflow():
    from baton.cli.record import ROLE_CHOICES
    from baton.config import ROLES

    assert ROLE_CHOICES == ROLES


def test_nearest_rank_percentiles():
    values = [float(v) for v in range(1, 101)]
    assert percentile(values, 50) == 50.0 and percentile(values, 95) == 95.0
    assert percentile([7.0], 95) == 7.0 and percentile([], 50) is None
    assert percentile([1.0, 2.0, 3.0], 50) == 2.0 and percentile([1.0, 2.0], 95) == 2.0


# -- runs of a repository ---------------------------------------------------------------


def make_run(repo: Path, run_id: str, *, task: str, state: str, decision: str | None,
             events: list[dict]) -> Path:
    run_dir = repo / ".baton" / "runs" / run_id
    run_dir.mkdir(parents=True)
    (run_dir / "workflow.json").write_text(json.dumps(
        {"run_id": run_id, "task": task, "title": task[:20], "state": state,
         "decision": decision, "policy": "default", "branch": f"baton/{run_id}"}))
    lines = [json.dumps({"schema_version": 1, "run_id": run_id, "seq": i, **e})
             for i, e in enumerate(events)]
    (run_dir / "trace.jsonl").write_text("\n".join(lines) + "\n")
    return run_dir


def model_call(ts: str, cost: float | None, tokens: int = 100) -> dict:
    return {"ts": ts, "type": "model.call", "role": "planner", T.MODEL: "m",
            T.INPUT_TOKENS: tokens, T.OUTPUT_TOKENS: tokens // 2, "latency_s": 1.5,
            "cost_usd": cost, "outcome": "ok"}


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    repo = tmp_path / "repo"
    repo.mkdir()
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    make_run(repo, "20260101-090000-aaaaaa", task="Add median() " + "x" * 80, state="done",
             decision="go", events=[
                 {"ts": "2026-01-01T09:00:00.000Z", "type": "run.start"},
                 model_call("2026-01-01T09:00:10.000Z", 0.01),
                 model_call("2026-01-01T09:00:20.000Z", None),
                 {"ts": "2026-01-01T09:01:30.500Z", "type": "run.end", "state": "done"}])
    make_run(repo, "20260102-090000-bbbbbb", task="Fix the parser", state="awaiting_approval",
             decision=None, events=[
                 {"ts": "2026-01-02T09:00:00.000Z", "type": "run.start"},
                 model_call("2026-01-02T09:00:05.000Z", 0.5, tokens=1000)])
    return repo


def test_runs_lists_newest_first_with_cost_and_time(repo):
    proc = cli("runs", "--json", "--repo", str(repo))
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert Path(data["repo"]).resolve() == repo.resolve()
    rows = data["runs"]
    assert [r["run_id"] for r in rows] == ["20260102-090000-bbbbbb", "20260101-090000-aaaaaa"]
    newest, oldest = rows
    assert (newest["state"], newest["decision"], newest["calls"]) == ("awaiting_approval", None, 1)
    assert newest["cost_usd"] == 0.5 and newest["duration_s"] == 5.0
    assert (oldest["decision"], oldest["calls"], oldest["unknown_cost_calls"]) == ("go", 2, 1)
    assert oldest["cost_usd"] == 0.01 and oldest["duration_s"] == 90.5
    assert oldest["input_tokens"] == 200 and oldest["task"].startswith("Add median()")
    table = cli("runs", cwd=repo)
    assert table.returncode == 0, table.stderr
    assert "20260102-090000-bbbbbb" in table.stdout and "awaiting_approval" in table.stdout
    assert table.stdout.index("bbbbbb") < table.stdout.index("aaaaaa")


def test_runs_outside_a_repository_says_what_to_do(tmp_path):
    proc = cli("runs", cwd=tmp_path)
    assert proc.returncode == 2 and "--repo" in proc.stderr
    typo = cli("trace", "summary", "trace.jsonl", cwd=tmp_path)
    assert typo.returncode == 2
    assert "'trace.jsonl' is not a file, a folder or a run id" in typo.stderr


def test_summary_of_a_repo_and_of_a_run_id_prefix(repo):
    everything = summary_json(cwd=repo)
    assert everything["runs"] == 2 and everything["totals"]["calls"] == 3
    one = summary_json("20260102", "--repo", str(repo), "--by", "run")
    assert [g["key"] for g in one["groups"]] == ["20260102-090000-bbbbbb"]
    missing = cli("trace", "summary", "nope", "--repo", str(repo))
    assert missing.returncode == 2 and "not a file, a folder or a run id" in missing.stderr
    ambiguous = cli("trace", "summary", "2026", "--repo", str(repo))
    assert ambiguous.returncode == 2 and "matches 2 runs" in ambiguous.stderr
