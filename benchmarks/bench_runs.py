"""``baton runs`` over a long history: from the run summaries, and with none present.

Makes a repository with N run folders (each a ``workflow.json`` and a trace of E events with
the real event mix, plus the ``trace.summary.json`` a run's close leaves), then times
``baton runs --json`` in interleaved rounds: with the summaries, and with them moved away
(every trace read in full). Checks that both print the same rows. Not part of the tests.

    .venv/bin/python benchmarks/bench_runs.py [--runs 500] [--events 500] [--rounds 10]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench_trace import write_run

from baton.demo import make_sample_repo
from baton.runs.statcache import summary_path, write_summary


def _time(argv: list[str], cwd: Path, env: dict[str, str]) -> tuple[float, float, str]:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    proc = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True,
                          stdin=subprocess.DEVNULL)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        raise SystemExit(f"{argv} failed: {proc.stderr[-500:]}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, proc.stdout


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=500)
    parser.add_argument("--events", type=int, default=500)
    parser.add_argument("--rounds", type=int, default=10)
    args = parser.parse_args()
    base = Path(tempfile.mkdtemp(prefix="baton-bench-runs-"))
    try:
        repo = make_sample_repo(base / "repo")
        runs = repo / ".baton" / "runs"
        rng = random.Random(11)
        for index in range(args.runs):
            run_id = f"20260101-{index:06d}-abcdef"
            folder = runs / run_id
            write_run(folder, run_id, args.events, rng)
            (folder / "workflow.json").write_text(json.dumps(
                {"run_id": run_id, "task": "Add median() to stats.py", "state": "done",
                 "decision": "go", "created": "2026-01-01T00:00:00Z"}))
            write_summary(folder / "trace.jsonl")
        size = sum(p.stat().st_size for p in runs.glob("*/trace.jsonl"))
        env = {k: v for k, v in os.environ.items() if not k.startswith(("BATON_", "OPENAI_"))}
        env["BATON_CONFIG"] = str(base / "no-user-config.toml")
        argv = [sys.executable, "-m", "baton", "runs", "--json"]
        hidden = base / "summaries"
        hidden.mkdir()

        def move(out: bool) -> None:
            for trace in runs.glob("*/trace.jsonl"):
                kept = hidden / trace.parent.name
                if out:
                    summary_path(trace).rename(kept)
                else:
                    kept.rename(summary_path(trace))

        figures: dict[str, tuple[list[float], list[float]]] = {
            "with run summaries": ([], []), "traces read in full": ([], [])}
        outputs: dict[str, str] = {}
        for _ in range(args.rounds):
            for label in figures:
                full = label != "with run summaries"
                if full:
                    move(out=True)
                wall, cpu, out = _time(argv, repo, env)
                if full:
                    move(out=False)
                figures[label][0].append(wall)
                figures[label][1].append(cpu)
                outputs.setdefault(label, out)
        same = len({json.dumps(json.loads(o)["runs"], sort_keys=True)
                    for o in outputs.values()}) == 1
        print(f"baton runs --json over {args.runs} runs x {args.events} events "
              f"({size / 2**20:.0f} MiB of traces); median (min-max) of {args.rounds} "
              "interleaved rounds")
        for label, (walls, cpus) in figures.items():
            print(f"  {label:<22} wall {statistics.median(walls):6.3f} s "
                  f"({min(walls):.3f}-{max(walls):.3f})  CPU {statistics.median(cpus):6.3f} s")
        ratio = statistics.median(figures["with run summaries"][0]) / statistics.median(
            figures["traces read in full"][0])
        print(f"  summaries / full read: {ratio:.2f}x wall; rows identical: {same}")
    finally:
        shutil.rmtree(base, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
