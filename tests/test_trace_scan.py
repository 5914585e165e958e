"""The fast trace reader and the run summaries give exactly the line-by-line figures."""

from __future__ import annotations

import json
import random
import subprocess
import sys
from pathlib import Path

import pytest

from baton.runs import scan, statcache
from baton.runs import trace as T
from baton.runs.reader import run_overview, summarize
from baton.runs.stats import (
    GROUP_BYS,
    MAX_LINE_WARNINGS,
    summarize_line_by_line,
)
from baton.runs.trace import TraceWriter as _TraceWriter


def TraceWriter(path, run_id):  # a run's writer, as runs.reader.run_trace makes it
    return _TraceWriter(path, run_id, on_end=statcache.write_summary)

MODELS = ["openai/gpt-5", "qwen/qwen3-coder", "anthropic/claude-sonnet-4.5"]
ROLES = ["planner", "implementer", "reviewer", "verifier"]


def make_run(folder: Path, run_id: str, rng: random.Random, events: int = 120,
             close: bool = True) -> Path:
    """A run's trace with the real event mix, written through TraceWriter (so a closed run
    gets its summary as `baton run` leaves it)."""
    writer = TraceWriter(folder / "trace.jsonl", run_id)
    writer.emit("run.start", task="t", title="t")
    for i in range(events):
        roll = rng.random()
        if roll < 0.45:
            ok = rng.random() > 0.1
            writer.emit("model.call", role=rng.choice(ROLES), packet=1, round=1, attempt=1,
                        source=rng.choice(["baton", "manual"]),
                        task_id=rng.choice([None, "billing-1", "billing-2"]),
                        result=rng.choice([None, "approve", "ok", "pass"]), **{
                            T.MODEL: rng.choice(MODELS),
                            T.INPUT_TOKENS: rng.randint(1, 9000) if ok else None,
                            T.OUTPUT_TOKENS: rng.randint(1, 900) if ok else None,
                            T.CACHED_TOKENS: rng.choice([None, 0, 50])},
                        latency_s=round(rng.uniform(0.1, 30), rng.choice([1, 3, 6])),
                        cost_usd=rng.choice([None, rng.uniform(0, 0.3), 0.1, 0.2]),
                        outcome="ok" if ok else "error")
        elif roll < 0.55:
            writer.emit("review.verdict", packet=1, round=1, model=rng.choice(MODELS),
                        verdict=rng.choice(["approve", "request_changes", "block"]))
        else:
            writer.emit(rng.choice(["command", "edits.applied", "state"]), n=i)
    writer.emit("decision", decision=rng.choice(["go", "no-go"]), reasons=[])
    if close:
        writer.emit("run.end", state="done", decision=None, totals={})
    writer.close()
    return folder / "trace.jsonl"


@pytest.fixture(autouse=True)
def always_fast(monkeypatch):
    """Small test traces through the fast reader and the run summaries too."""
    from baton.runs import stats

    monkeypatch.setattr(stats, "FAST_FROM_BYTES", 0)


def figures(paths: list[Path], by: str, **kwargs) -> dict:
    return summarize(paths, by, **kwargs).to_dict()  # type: ignore[arg-type]


@pytest.fixture
def runs(tmp_path: Path) -> Path:
    rng = random.Random(19)
    for index in range(12):
        make_run(tmp_path / "runs" / f"run-{index:02d}", f"run-{index:02d}", rng,
                 close=index != 5)  # one run still going: no summary
    return tmp_path / "runs"


def test_a_closed_run_gets_a_summary_and_an_open_one_does_not(runs):
    assert statcache.summary_path(runs / "run-00" / "trace.jsonl").is_file()
    assert not statcache.summary_path(runs / "run-05" / "trace.jsonl").exists()
    assert statcache.read_summary(runs / "run-00" / "trace.jsonl", "model") is not None


@pytest.mark.parametrize("by", GROUP_BYS)
def test_summaries_raw_reading_and_the_line_by_line_reader_agree(runs, by):
    reference = summarize_line_by_line([runs], by)  # type: ignore[arg-type]
    assert reference.totals.calls > 300 and len(reference.groups) >= 2
    assert figures([runs], by) == figures([runs], by, cached=False) == reference.to_dict()
    # Bit for bit: the cost sums and the mean latencies, not only after rounding.
    fast = summarize([runs], by)  # type: ignore[arg-type]
    assert fast.totals.cost_usd == reference.totals.cost_usd
    for key, group in reference.groups.items():
        assert fast.groups[key].cost_usd == group.cost_usd
        assert sorted(fast.groups[key].latencies) == sorted(group.latencies)


def _overview_in_full(trace: Path):
    """run_overview with the summary out of the way (then put back)."""
    summary = statcache.summary_path(trace)
    kept = summary.read_bytes() if summary.exists() else None
    summary.unlink(missing_ok=True)
    try:
        return run_overview(trace)
    finally:
        if kept is not None:
            summary.write_bytes(kept)


def test_baton_runs_figures_from_the_summary_equal_a_full_read(runs):
    for run_dir in sorted(runs.iterdir()):
        trace = run_dir / "trace.jsonl"
        cached = statcache.read_overview(trace)
        if run_dir.name == "run-05":  # still going: no summary, read in full
            assert cached is None
        else:
            assert cached is not None and cached["calls"] > 0
        full = _overview_in_full(trace)
        assert run_overview(trace).to_dict() == full.to_dict()
        if cached is not None:  # bit for bit, not only after rounding
            assert cached["cost_usd"] == full.cost_usd
    trace = runs / "run-02" / "trace.jsonl"
    before = run_overview(trace)
    with trace.open("a") as fh:  # a record appended after the run closed
        fh.write(json.dumps({"type": "model.call", "ts": "2099-01-01T00:00:00.000Z",
                             T.MODEL: "x", "cost_usd": 1.5, "outcome": "ok",
                             "run_id": "run-02", "seq": 10_000}) + "\n")
    assert statcache.read_overview(trace) is None
    after = run_overview(trace)
    assert after.calls == before.calls + 1 and after.ended == "2099-01-01T00:00:00.000Z"
    assert after.cost_usd == pytest.approx(before.cost_usd + 1.5)


def test_a_summary_without_timestamps_is_not_used_for_baton_runs(runs):
    import msgspec

    trace = runs / "run-03" / "trace.jsonl"
    summary = statcache.summary_path(trace)
    old = msgspec.json.decode(summary.read_bytes())
    for key in ("edges", "first_ts", "last_ts"):  # as an older baton wrote it
        old.pop(key)
    summary.write_bytes(msgspec.json.encode(old))
    assert statcache.read_summary(trace, "model") is not None  # still fine for summaries
    assert statcache.read_overview(trace) is None
    assert run_overview(trace).to_dict() == _overview_in_full(trace).to_dict()


def test_an_edited_trace_of_the_same_size_is_read_in_full(runs):
    trace = runs / "run-01" / "trace.jsonl"
    before = figures([trace], "model")
    text = trace.read_text()
    edited = text.replace('"outcome": "ok"', '"outcome": "no"', 1)
    assert len(edited) == len(text) and edited != text
    trace.write_text(edited)
    assert statcache.read_summary(trace, "model") is None  # the hash no longer matches
    after = figures([trace], "model")
    assert after["totals"]["errors"] == before["totals"]["errors"] + 1
    assert after == summarize_line_by_line([trace]).to_dict()


def test_a_torn_or_damaged_trace_is_read_in_full_and_its_bad_lines_reported(runs):
    torn = runs / "run-02" / "trace.jsonl"
    with torn.open("a") as fh:
        fh.write('{"schema_version": 1, "run_id": "run-02", "type": "model.ca')
    damaged = runs / "run-03" / "trace.jsonl"
    lines = damaged.read_text().splitlines(keepends=True)
    lines[4] = "not json at all\n"
    damaged.write_text("".join(lines))
    for trace in (torn, damaged):
        assert statcache.read_summary(trace, "model") is None
    data = figures([runs], "role")
    assert data == summarize_line_by_line([runs], "role").to_dict()
    assert data["skipped_lines"] == 2
    assert any(f"{torn}:" in w and "damaged line" in w for w in data["warnings"])
    assert any(f"{damaged}:5: skipped a damaged line" in w for w in data["warnings"])


def test_a_record_after_the_run_ended_is_counted(runs):
    trace = runs / "run-04" / "trace.jsonl"
    before = figures([trace], "task")
    proc = subprocess.run(
        [sys.executable, "-m", "baton", "record", "--trace", str(trace), "--role", "reviewer",
         "--model", "m", "--latency-s", "1", "--input-tokens", "1", "--output-tokens", "1",
         "--result", "changes", "--task-id", "billing-9", "--cost-usd", "0"],
        capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=60)
    assert proc.returncode == 0, proc.stderr
    after = figures([trace], "task")
    assert after["totals"]["calls"] == before["totals"]["calls"] + 1
    assert {g["key"]: g for g in after["groups"]}["billing-9"]["outcomes"] == {
        "request_changes": 1}


def test_a_broken_or_foreign_summary_file_is_ignored(runs):
    trace = runs / "run-06" / "trace.jsonl"
    expected = summarize_line_by_line([trace]).to_dict()
    target = statcache.summary_path(trace)
    for content in (b"", b"{not json", b'{"format": 99}', json.dumps(
            {**json.loads(target.read_bytes()), "format": 99}).encode()):
        target.write_bytes(content)
        assert statcache.read_summary(trace, "model") is None
        assert figures([trace], "model") == expected


def test_a_trace_with_foreign_lines_gets_no_summary(tmp_path):
    trace = tmp_path / "trace.jsonl"
    trace.write_text('{"no": "type"}\n')
    writer = TraceWriter(trace, "r")
    writer.emit("run.end", state="done")
    writer.close()
    assert not statcache.summary_path(trace).exists()
    assert figures([trace], "model")["skipped_lines"] == 1


HOSTILE_LINES = [
    '{"type": "model.call", "latency_s": NaN, "cost_usd": Infinity, "outcome": "ok"}',
    '{"type": "model.call", "latency_s": 1e400, "gen_ai.usage.input_tokens": true}',
    '{"type": "model.call", "gen_ai.usage.input_tokens": 123456789012345678901234567890}',
    '{"type": "model.call", "latency_s": 1' + "0" * 400 + ', "cost_usd": -1' + "0" * 400 + '}',
    '{"type": "model.call", "gen_ai.request.model": 7, "latency_s": 3, "cost_usd": 1}',
    '{"type": "model.call", "gen_ai.request.model": ["a"], "role": {"x": 1}}',
    '{"type": "model.call", "type": "review.verdict", "verdict": "approve"}',
    '{"type": null, "run_id": 5}',
    '{"type": "decision", "decision": "go", "run_id": ""}\r',
    '   ',
    '',
    '[1, 2]',
    '"just a string"',
    '{"type": "model.call", "latency_s": "slow"} trailing',
    '\ufeff{"type": "model.call"}',
    '{"type": "review.verdict", "verdict": "block", "model": "m", "task_id": "t1"}',
    '{"type": "model.call", "task_id": "t1", "result": "pass", "outcome": "ok",'
    ' "latency_s": 0.1, "cost_usd": 0.1}',
    '{"type": "model.call", "task_id": "", "latency_s": 0.2, "cost_usd": 0.2}',
    '{"type": "model.ca',
] + ["\xff not utf-8"] * (MAX_LINE_WARNINGS + 2)


@pytest.mark.parametrize("by", GROUP_BYS)
def test_hostile_lines_read_exactly_as_the_line_by_line_reader_reads_them(tmp_path, by):
    trace = tmp_path / "trace.jsonl"
    trace.write_bytes("\n".join(HOSTILE_LINES).encode("utf-8", "surrogateescape"))
    fast = figures([trace], by, cached=False)
    assert fast == summarize_line_by_line([trace], by).to_dict()  # type: ignore[arg-type]
    assert fast["skipped_lines"] > MAX_LINE_WARNINGS and fast["totals"]["calls"] >= 7


def test_long_lines_across_read_blocks(tmp_path, monkeypatch):
    monkeypatch.setattr(scan, "BLOCK_BYTES", 64)
    trace = make_run(tmp_path / "run", "run", random.Random(3), events=40)
    with trace.open("a") as fh:
        fh.write(json.dumps({"type": "model.call", "latency_s": 2.0, "pad": "x" * 500}))
    assert figures([trace], "model", cached=False) == summarize_line_by_line([trace]).to_dict()


def test_the_summary_covers_every_grouping_and_the_same_damage_limit():
    from baton.runs import stats

    assert statcache.GROUPINGS == stats.GROUP_BYS
    assert scan.MAX_LINE_WARNINGS == stats.MAX_LINE_WARNINGS


def test_quick_commands_do_not_import_heavy_modules(tmp_path):
    """`baton runs` (nothing to list) and `trace summary` of a small trace stay light."""
    repo = tmp_path / "repo"
    repo.mkdir()
    subprocess.run(["git", "init", "-q"], cwd=repo, check=True)
    trace = make_run(tmp_path / "run", "run", random.Random(1), events=10)
    light = ("openai", "httpx2", "genai_prices", "jinja2", "rich")
    # `policies` reads the configuration, which is pydantic models; nothing else needs them.
    # A small trace is read with `json` (done before msgspec would have been imported).
    for argv, heavy in ((["runs"], (*light, "pydantic", "msgspec")),
                        (["trace", "summary", str(trace)], (*light, "pydantic", "msgspec")),
                        (["trace", "summary", "--json", str(trace)], (*light, "pydantic")),
                        (["policies"], light)):
        code = ("import sys, runpy\n"
                f"sys.argv = ['baton', *{argv!r}]\n"
                "try:\n    runpy.run_module('baton', run_name='__main__')\n"
                "except SystemExit:\n    pass\n"
                f"print('HEAVY', [m for m in {heavy!r} if m in sys.modules])")
        proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                              cwd=repo, timeout=60)
        assert "HEAVY []" in proc.stdout, (argv, proc.stdout, proc.stderr)


def test_plain_tables_keep_every_cell_whole():
    from baton.cli.table import Table

    table = Table(title="t")
    table.add_column("model")
    table.add_column("cost", justify="right")
    long_name = "openrouter/some-vendor/a-very-long-model-name-that-must-stay-whole" * 2
    table.add_row(long_name, "$0.0418", end_section=True)
    table.add_row("total", "$12.5000")
    lines = table.render().splitlines()
    assert any(long_name in line for line in lines)
    assert any(line.endswith("  $0.0418 │") for line in lines)  # right-justified
    assert sum(line.startswith("├") for line in lines) == 1
    assert len({len(line) for line in lines[1:]}) == 1  # every row as wide as the rules


def test_a_finished_run_leaves_a_summary_that_matches_its_trace(baton, tmp_path):
    proc = baton("demo", "--keep", str(tmp_path / "demo"), "--json", timeout=300)
    assert proc.returncode == 0, proc.stderr
    (trace,) = (tmp_path / "demo").rglob(".baton/runs/*/trace.jsonl")
    assert statcache.summary_path(trace).is_file()
    for by in GROUP_BYS:
        assert statcache.read_summary(trace, by) is not None
        assert figures([trace], by) == summarize_line_by_line([trace], by).to_dict()  # type: ignore[arg-type]


def test_small_and_large_inputs_read_the_same(runs, monkeypatch):
    from baton.runs import stats

    fast = figures([runs], "model")
    monkeypatch.setattr(stats, "FAST_FROM_BYTES", 1 << 40)
    assert figures([runs], "model") == fast
