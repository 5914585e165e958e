"""`trace summary` over many traces, beside DuckDB on the same files.

    .venv/bin/python benchmarks/bench_trace.py [--events 1000000] [--per-run 500]
        [--dir DIR] [--rounds 10] [--by model] [--duckdb-auto] [--before-rounds 1]

Generates (once, on demand; never in CI) ``events / per-run`` run folders
``<dir>/<run-id>/trace.jsonl`` with the event mix of a real run (model calls with every
field, verdicts, commands, edits, packets, decisions) and, as a run's close leaves it, each
run's ``trace.summary.json``. With ``--dir`` the fixture is kept there and reused by later
runs of this script; without it, it goes to a temporary folder removed at the end.

Then, in interleaved rounds (each measurement in its own process, so memory is that
process's peak): ``summarize`` using the run summaries; ``summarize`` reading every trace
in full (the raw path, as with no summaries); and DuckDB over the same files with explicit
columns (its fastest form; ``--duckdb-auto`` adds ``read_json_auto``). Prints medians with
their spread (min-max), each beside its goal (issue 18: summaries at or below DuckDB, raw
path within 2x DuckDB, both well under 100 MB), and checks that every figure agrees.
``--before-rounds N`` also times the line-by-line reader (the reader before issue 18).

DuckDB is only a benchmark dependency: ``.venv/bin/python -m pip install duckdb`` (or
``-e '.[bench]'``); without it the DuckDB rows are skipped.
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from baton.runs import trace as T

ROLES = {"planner": "openai/gpt-5", "implementer": "qwen/qwen3-coder",
         "reviewer": "anthropic/claude-sonnet-4.5", "verifier": "google/gemini-2.5-flash"}


def _call(rng: random.Random, role: str, packet: int, round_: int) -> dict:
    ok = rng.random() > 0.05
    return {
        "type": "model.call", "role": role, "packet": packet, "round": round_, "attempt": 1,
        "call_key": f"{role}/p{packet}/r{round_}", "endpoint": "default", "source": "baton",
        T.OPERATION: "chat", T.MODEL: ROLES[role], T.RESPONSE_MODEL: ROLES[role],
        T.RESPONSE_ID: f"gen-{rng.getrandbits(48):x}", T.FINISH_REASONS: ["stop"],
        T.INPUT_TOKENS: rng.randint(500, 20000) if ok else None,
        T.OUTPUT_TOKENS: rng.randint(50, 4000) if ok else None,
        T.CACHED_TOKENS: rng.randint(0, 400) if ok else None,
        "latency_s": round(rng.uniform(0.3, 40.0), 4),
        "cost_usd": round(rng.uniform(0.0001, 0.2), 6) if rng.random() > 0.1 else None,
        "cost_source": "gateway", "outcome": "ok" if ok else "error",
        "error": None if ok else "HTTP 503", "status_code": None if ok else 503,
        "prompt_file": "packets/01-planner.md", "response_file": "responses/01-planner.md",
    }


def _other(rng: random.Random, packet: int, round_: int) -> dict:
    kind = rng.choice(["review.verdict", "command", "edits.applied", "packet.start", "state"])
    if kind == "review.verdict":
        return {"type": kind, "packet": packet, "round": round_, "model": ROLES["reviewer"],
                "verdict": rng.choice(["approve", "request_changes", "block"]),
                "required_fixes": ["handle the empty list"]}
    if kind == "command":
        return {"type": kind, "command": "pytest -q", "source": "config", "ran": True,
                "exit_code": 0, "duration_s": 1.25, "timed_out": False,
                "output_sha256": "ab" * 32, "output_bytes": 2048,
                "evidence_file": "evidence/01.log", "sandbox": None, "reason_not_run": None}
    if kind == "edits.applied":
        return {"type": kind, "packet": packet, "round": round_, "files": ["stats.py"],
                "added": 12, "removed": 3, "outside_plan": []}
    if kind == "packet.start":
        return {"type": kind, "packet": packet, "title": "Add median()"}
    return {"type": kind, "state": "running", "detail": ""}


def write_run(folder: Path, run_id: str, events: int, rng: random.Random) -> None:
    """One run folder with ``events`` events (about 40% model calls)."""
    folder.mkdir(parents=True)
    lines = []
    start = {"type": "run.start", "task": "Add median() to stats.py", "title": "median",
             "repo": "/src/sample", "base_commit": "0" * 40, "branch": f"baton/{run_id}",
             "policy": "default", "routes": {r: {"endpoint": "default", "model": m}
                                              for r, m in ROLES.items()}}
    for seq in range(events):
        if seq == 0:
            body = start
        elif seq == events - 1:
            body = {"type": "decision", "decision": rng.choice(["go", "no-go"]),
                    "reasons": []}
        elif rng.random() < 0.4:
            body = _call(rng, rng.choice(list(ROLES)), 1 + seq % 3, 1 + seq % 2)
        else:
            body = _other(rng, 1 + seq % 3, 1 + seq % 2)
        event = {"schema_version": 1, "run_id": run_id, "seq": seq,
                 "ts": "2026-01-01T00:00:00.000Z", **body}
        lines.append(json.dumps(event))
    (folder / "trace.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")


def generate(base: Path, total: int, per_run: int) -> tuple[int, int]:
    """Write the runs; the number of events and of runs written."""
    rng = random.Random(7)
    written = 0
    index = 0
    while written < total:
        count = min(per_run, total - written)
        write_run(base / f"20260101-000000-{index:06x}", f"run-{index:06x}", count, rng)
        written += count
        index += 1
    return written, index


MARKER = "fixture.json"
DUCKDB_COLUMNS = ("{type: 'VARCHAR', run_id: 'VARCHAR', \"gen_ai.request.model\": 'VARCHAR', "
                  "outcome: 'VARCHAR', latency_s: 'DOUBLE', cost_usd: 'DOUBLE', "
                  "\"gen_ai.usage.input_tokens\": 'BIGINT', "
                  "\"gen_ai.usage.output_tokens\": 'BIGINT', "
                  "\"gen_ai.usage.cache_read.input_tokens\": 'BIGINT'}")
DUCKDB_QUERY = """
SELECT "gen_ai.request.model" AS model, count(*) AS calls,
       count(*) FILTER (WHERE outcome = 'ok') AS ok,
       quantile_disc(latency_s, 0.5) AS p50, quantile_disc(latency_s, 0.95) AS p95,
       avg(latency_s) AS mean, max(latency_s) AS max,
       coalesce(sum("gen_ai.usage.input_tokens"), 0) AS input_tokens,
       coalesce(sum("gen_ai.usage.output_tokens"), 0) AS output_tokens,
       coalesce(sum(cost_usd), 0) AS cost_usd, count(*) - count(cost_usd) AS unknown_cost_calls
FROM {source} WHERE type = 'model.call' GROUP BY 1 ORDER BY 1
"""
KINDS = {
    "baton, run summaries": "baton",
    "baton, raw traces": "baton-raw",
    "duckdb, explicit columns": "duckdb-columns",
    "duckdb, read_json_auto": "duckdb-auto",
    "baton before (line by line)": "baton-before",
}


def prepare(base: Path, total: int, per_run: int) -> None:
    """The fixture in ``base``, generated unless a matching one is already there."""
    wanted = {"events": total, "per_run": per_run, "summaries": 1}
    marker = base / MARKER
    if marker.is_file() and json.loads(marker.read_text()) == wanted:
        print(f"reusing the fixture in {base}")
        return
    if base.exists() and any(base.iterdir()):
        raise SystemExit(f"{base} is not empty and holds no matching fixture; give an empty "
                         "or new --dir")
    from baton.runs.statcache import write_summary

    started = time.perf_counter()
    written, runs = generate(base, total, per_run)
    for trace in sorted(base.glob("*/trace.jsonl")):
        write_summary(trace)  # what closing the run leaves beside its trace
    marker.write_text(json.dumps(wanted))
    print(f"generated {written:,} events in {runs:,} runs (with their summaries) under {base} "
          f"in {time.perf_counter() - started:.1f} s")


def measure(kind: str, base: Path, by: str) -> dict:
    """One measurement, in this process: time, CPU, figures by model."""
    if kind.startswith("duckdb"):
        import duckdb

        glob = str(base / "*" / "trace.jsonl")
        source = (f"read_json_auto('{glob}', format='newline_delimited')"
                  if kind == "duckdb-auto" else
                  f"read_json('{glob}', format='newline_delimited', columns={DUCKDB_COLUMNS})")
        con = duckdb.connect()
        started, cpu = time.perf_counter(), time.process_time()
        rows = con.execute(DUCKDB_QUERY.format(source=source)).fetchall()
        events = con.execute(f"SELECT count(*) FROM {source}").fetchone()[0]  # not timed
        elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
        names = ["key", "calls", "ok", "p50", "p95", "mean", "max", "input_tokens",
                 "output_tokens", "cost_usd", "unknown_cost_calls"]
        groups = [dict(zip(names, row, strict=True)) for row in rows]
    else:
        from baton.runs.reader import summarize
        from baton.runs.stats import summarize_line_by_line

        started, cpu = time.perf_counter(), time.process_time()
        if kind == "baton-before":
            summary = summarize_line_by_line([base], by=by)  # type: ignore[arg-type]
        else:
            summary = summarize([base], by=by, cached=kind == "baton")  # type: ignore[arg-type]
        elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
        data = summary.to_dict()
        events = data["events"]
        groups = [{"key": g["key"], "calls": g["calls"], "ok": g["ok"],
                   **{k: g["latency_s"][k] for k in ("p50", "p95", "mean", "max")},
                   **{k: g[k] for k in ("input_tokens", "output_tokens", "cost_usd",
                                         "unknown_cost_calls")}} for g in data["groups"]]
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"wall": elapsed, "cpu": cpu, "rss_mib": rss, "events": events, "groups": groups}


def _run(kind: str, base: Path, by: str) -> dict:
    proc = subprocess.run([sys.executable, __file__, "--measure", kind, "--dir", str(base),
                           "--by", by], capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"{kind} failed: {proc.stderr[-2000:]}")
    return json.loads(proc.stdout)


def _agree(a: list[dict], b: list[dict]) -> list[str]:
    """Differences between two sets of figures (DuckDB's float sums and means may differ in
    the last bits: they are compared to 1e-9 relative; everything else exactly)."""
    problems = []
    if [g["key"] for g in a] != [g["key"] for g in b]:
        return [f"groups differ: {[g['key'] for g in a]} vs {[g['key'] for g in b]}"]
    for x, y in zip(a, b, strict=True):
        for name in x:
            u, v = x[name], y[name]
            if name in ("cost_usd", "mean"):
                ok = abs(u - v) <= 1e-9 * max(1.0, abs(u)) + (5e-5 if name == "mean" else 0)
            else:
                ok = u == v
            if not ok:
                problems.append(f"{x['key']} {name}: {u} vs {v}")
    return problems


def _spread(values: list[float], scale: float = 1.0, unit: str = "s") -> str:
    med = statistics.median(values) * scale
    return f"{med:7.2f} {unit} ({min(values) * scale:.2f}-{max(values) * scale:.2f})"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--per-run", type=int, default=500)
    parser.add_argument("--dir", type=Path, help="keep (and reuse) the fixture here")
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--by", default="model", choices=["model"])
    parser.add_argument("--duckdb-auto", action="store_true",
                        help="also time DuckDB's read_json_auto (slower than explicit columns)")
    parser.add_argument("--before-rounds", type=int, default=0,
                        help="also time the line-by-line reader this many times")
    parser.add_argument("--measure", choices=sorted(KINDS.values()), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        print(json.dumps(measure(args.measure, args.dir, args.by)))
        return 0
    base = args.dir or Path(tempfile.mkdtemp(prefix="baton-bench-"))
    try:
        prepare(base, args.events, args.per_run)
        try:
            import duckdb  # noqa: F401
            have_duckdb = True
        except ImportError:
            have_duckdb = False
            print("duckdb is not installed (`.venv/bin/python -m pip install duckdb`): "
                  "its rows are skipped")
        kinds = ["baton", "baton-raw"]
        if have_duckdb:
            kinds.append("duckdb-columns")
            if args.duckdb_auto:
                kinds.append("duckdb-auto")
        results: dict[str, list[dict]] = {kind: [] for kind in kinds}
        for number in range(args.rounds):
            for kind in kinds:
                results[kind].append(_run(kind, base, args.by))
            print(f"  round {number + 1}/{args.rounds}: " + ", ".join(
                f"{kind} {results[kind][-1]['wall']:.2f}s" for kind in kinds), flush=True)
        for _ in range(args.before_rounds):
            results.setdefault("baton-before", []).append(_run("baton-before", base, args.by))
        _report(results, args)
    finally:
        if args.dir is None:
            shutil.rmtree(base, ignore_errors=True)
    return 0


def _report(results: dict[str, list[dict]], args: argparse.Namespace) -> None:
    names = {v: k for k, v in KINDS.items()}
    first = results["baton"][0]
    print(f"\ntrace summary --by {args.by} over {first['events']:,} events; median (min-max) "
          f"of {args.rounds} interleaved rounds, each in its own process")
    duck = None
    for ref in ("duckdb-columns", "duckdb-auto"):
        if ref in results:
            duck = ref if duck is None or (statistics.median(r["wall"] for r in results[ref])
                                           < statistics.median(r["wall"] for r in results[duck])
                                           ) else duck
    duck_wall = statistics.median(r["wall"] for r in results[duck]) if duck else None
    goals = {"baton": (1.0, "<= DuckDB"), "baton-raw": (2.0, "<= 2x DuckDB")}
    for kind, runs in results.items():
        walls = [r["wall"] for r in runs]
        cpus = [r["cpu"] for r in runs]
        line = (f"  {names[kind]:<30} wall {_spread(walls)}  CPU {_spread(cpus)}"
                f"  peak {_spread([r['rss_mib'] for r in runs], unit='MiB')}")
        if duck_wall and kind != duck:
            ratio = statistics.median(walls) / duck_wall
            line += f"  {ratio:.2f}x {names[duck]}"
            if kind in goals:
                limit, text = goals[kind]
                peak = statistics.median(r["rss_mib"] for r in runs)
                met = ratio <= limit and peak < 100
                line += f"  goal {text}, < 100 MiB: {'ok' if met else 'MISSED'}"
        print(line)
    problems = []
    for kind, runs in results.items():
        for run in runs:
            if run["events"] != first["events"]:
                problems.append(f"{kind}: {run['events']} events, not {first['events']}")
            exact = kind.startswith("baton")
            if exact and run["groups"] != first["groups"]:
                problems.append(f"{kind}: figures differ from the run summaries' figures")
            elif not exact:
                problems += [f"{kind}: {p}" for p in _agree(first["groups"], run["groups"])]
    print("figures: " + ("every measurement agrees (baton's exactly; DuckDB's float sums "
                         "and means to 1e-9)" if not problems else "DISAGREE"))
    for problem in problems[:20]:
        print(f"  {problem}")


if __name__ == "__main__":
    sys.exit(main())
