"""How much of a run's wall time is baton itself, and how runs scale in one process.

Prints figures; not part of the test suite (these machines are shared and noisy, so read
the ratios measured within one run of this script).

    .venv/bin/python benchmarks/bench_overhead.py [--runs 20] [--latency 0.2]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from baton.demo import demo_script_path, make_sample_repo
from baton.gateway.server import FakeGateway
from baton.pipeline import start_run


def _script(latency: float) -> dict:
    script = json.loads(demo_script_path().read_text())
    for entries in script["models"].values():
        for entry in entries:
            entry["latency_s"] = latency
    return script


def _one_run(base: Path, index: int, environ: dict[str, str]) -> dict:
    repo = make_sample_repo(base / f"r{index}")
    start = time.perf_counter()
    result = start_run("Add median() to stats.py", repo, environ=environ)
    wall = time.perf_counter() - start
    events = [json.loads(line) for line in (result.run_dir / "trace.jsonl").open()]
    calls = sum(e["latency_s"] for e in events if e["type"] == "model.call")
    commands = sum(e.get("duration_s") or 0 for e in events if e["type"] == "command")
    return {"wall": wall, "critical": calls + commands, "decision": result.decision}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--latency", type=float, default=0.2)
    parser.add_argument("--threads", type=int, default=8)
    args = parser.parse_args()

    help_times = []
    for _ in range(5):
        t = time.perf_counter()
        subprocess.run([sys.executable, "-m", "baton", "--help"], capture_output=True,
                       check=True)
        help_times.append(time.perf_counter() - t)
    bare = []
    for _ in range(5):
        t = time.perf_counter()
        subprocess.run([sys.executable, "-c", "pass"], check=True)
        bare.append(time.perf_counter() - t)
    print(f"baton --help: median {statistics.median(help_times) * 1000:.0f} ms "
          f"(bare python: {statistics.median(bare) * 1000:.0f} ms)")

    with tempfile.TemporaryDirectory() as tmp, FakeGateway(_script(args.latency)) as gw:
        base = Path(tmp)
        user = base / "user.toml"
        user.write_text(f'[endpoints.default]\nbase_url = "{gw.base_url}"\n')
        environ = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "BATON_"))}
        environ["BATON_CONFIG"] = str(user)

        sequential = [_one_run(base, i, environ) for i in range(args.runs)]
        overhead = [r["wall"] - r["critical"] for r in sequential]
        shares = [r["wall"] - r["critical"] for r in sequential]
        shares = [o / r["wall"] for o, r in zip(shares, sequential, strict=True)]
        print(f"sequential: {args.runs} runs, model latency {args.latency}s per call")
        print(f"  wall per run: median {statistics.median(r['wall'] for r in sequential):.3f}s;"
              f" model calls + commands (critical path): "
              f"{statistics.median(r['critical'] for r in sequential):.3f}s")
        print(f"  baton's own work per run: median {statistics.median(overhead):.3f}s "
              f"({statistics.median(shares):.0%}"
              " of wall; git worktree, edits, prompts, trace)")

        t = time.perf_counter()
        with ThreadPoolExecutor(args.threads) as pool:
            parallel = list(pool.map(lambda i: _one_run(base, 1000 + i, environ),
                                     range(args.runs)))
        elapsed = time.perf_counter() - t
        seq_total = sum(r["wall"] for r in sequential)
        print(f"concurrent: {args.runs} runs on {args.threads} threads in one process: "
              f"{elapsed:.2f}s vs {seq_total:.2f}s sequential "
              f"(speed-up {seq_total / elapsed:.1f}x); decisions "
              f"{sorted({r['decision'] for r in parallel})}")


if __name__ == "__main__":
    main()
