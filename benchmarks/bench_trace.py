"""Time `baton.runs.stats.summarize` on many synthetic traces.

    .venv/bin/python benchmarks/bench_trace.py [--events 1000000] [--per-run 500] [--keep DIR]

Writes ``events / per-run`` run folders (``<dir>/<run-id>/trace.jsonl``) with the event mix
of a real run (model calls with every field, verdicts, commands, edits, packets,
decisions), then summarizes them by model, by role and by run, printing events per second
and peak memory. Not part of the test suite.
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import shutil
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

from baton.runs import trace as T
from baton.runs.stats import summarize

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


def bench(base: Path, events: int, by: str, trace_memory: bool) -> None:
    if trace_memory:
        tracemalloc.start()
    started = time.perf_counter()
    summary = summarize([base], by=by)  # type: ignore[arg-type]
    elapsed = time.perf_counter() - started
    peak = ""
    if trace_memory:
        _, peak_bytes = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        peak = (f", peak traced memory {peak_bytes / 2**20:.1f} MiB "
                "(tracemalloc slows Python several times: read the speed from the lines above)")
    assert summary.events == events, (summary.events, events)
    print(f"--by {by:<5}: {events:,} events, {summary.files:,} files, "
          f"{summary.totals.calls:,} calls in {elapsed:.2f} s "
          f"= {events / elapsed:,.0f} events/s{peak}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--per-run", type=int, default=500)
    parser.add_argument("--keep", type=Path, help="write the traces here and keep them")
    args = parser.parse_args()
    base = args.keep or Path(tempfile.mkdtemp(prefix="baton-bench-"))
    try:
        started = time.perf_counter()
        written, runs = generate(base, args.events, args.per_run)
        print(f"generated {written:,} events in {runs:,} runs "
              f"under {base} in {time.perf_counter() - started:.1f} s")
        for by in ("model", "role", "run"):
            bench(base, written, by, trace_memory=False)
        bench(base, written, "model", trace_memory=True)
        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        print(f"max resident set size of this process: {rss / 1024:.0f} MiB "
              "(includes generating the traces)")
    finally:
        if args.keep is None:
            shutil.rmtree(base, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
