"""One demo-shaped run of baton beside the floor doing the same work (issue 18, item 1).

    .venv/bin/python benchmarks/bench_overhead.py [--rounds 10] [--latency 1.0]
        [--modes cli,inproc]

Each round runs, in a shuffled order (so the machine's noise hits every row alike), on a
fresh sample repository each:

- ``baton run`` as a user runs it (a subprocess; the demo's baton.toml, 5 calls);
- ``benchmarks/floor.py`` as a subprocess: the same 5 SDK calls, worktree, edits, the
  verify command on the base commit and on a disposable checkout, commit (no gate, no trace);
- (``--modes inproc``) ``baton.pipeline.start_run`` and ``floor.floor_run`` in this process.

The fake gateway serves in a process of its own (its CPU and memory count for neither).
Prints the median (min-max) of wall time, own CPU time (user+sys of the process tree) and
peak RSS (largest process of the tree), and the ratio of the medians beside the goal
(issue 18: wall within 2%). Not part of the test suite; the machine is shared and noisy,
so compare the ratios measured within one run of this script.
"""

from __future__ import annotations

import argparse
import os
import random
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from _common import compile_baton, gateway_process, spread, user_config
from floor import TASK, floor_run

from baton.demo import make_sample_repo

GOAL = 1.02
FLOOR = str(Path(__file__).with_name("floor.py"))


def _child(argv: list[str], env: dict[str, str]) -> tuple[float, float, float]:
    """Wall, CPU (user+sys, the child and its descendants) and peak RSS (MB) of one run."""
    with tempfile.TemporaryFile() as output:
        start = time.perf_counter()
        proc = subprocess.Popen(argv, env=env, stdout=output, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL)
        _, status, usage = os.wait4(proc.pid, 0)  # the child's own rusage, descendants in
        wall = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        output.seek(0)
        text = output.read().decode(errors="replace")
    if proc.returncode != 0:
        raise SystemExit(f"{argv[:3]} exited {proc.returncode}: {text[-800:]}")
    return wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024


def _inprocess(work: Callable[[], object]) -> tuple[float, float, float]:
    """Wall and CPU (this process and the children it waited for) of ``work()``."""
    before = [resource.getrusage(w) for w in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)]
    start = time.perf_counter()
    work()
    wall = time.perf_counter() - start
    after = [resource.getrusage(w) for w in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)]
    cpu = sum((a.ru_utime - b.ru_utime) + (a.ru_stime - b.ru_stime)
              for a, b in zip(after, before, strict=True))
    return wall, cpu, float("nan")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--latency", type=float, default=1.0, help="seconds per model call")
    parser.add_argument("--modes", default="cli,inproc",
                        help="cli (subprocesses), inproc (this process), or both")
    args = parser.parse_args()
    compile_baton()
    modes = set(args.modes.split(","))
    baton = str(Path(sys.executable).with_name("baton"))
    base = Path(tempfile.mkdtemp(prefix="baton-overhead-"))
    rows: dict[str, list[tuple[float, float, float]]] = {}
    try:
        with gateway_process(args.latency) as (url, _pid):
            env = user_config(base, url)
            from baton.pipeline import start_run  # warm in-process imports outside the timing

            jobs: dict[str, Callable[[Path], tuple[float, float, float]]] = {}
            if "cli" in modes:
                jobs["baton run (subprocess)"] = lambda repo: _child(
                    [baton, "run", TASK, "--repo", str(repo)], env)
                jobs["floor.py (subprocess)"] = lambda repo: _child(
                    [sys.executable, FLOOR, "--base-url", url, "--repo", str(repo)], env)
            if "inproc" in modes:
                jobs["start_run (in-process)"] = lambda repo: _inprocess(
                    lambda: start_run(TASK, repo, environ=env))
                jobs["floor_run (in-process)"] = lambda repo: _inprocess(
                    lambda: floor_run(url, repo))
            order = list(jobs)
            for name in order:  # warm-up round, not counted
                jobs[name](make_sample_repo(base / f"warm-{len(rows)}-{name[:5]}"))
                rows[name] = []
            for number in range(args.rounds):
                random.shuffle(order)
                for name in order:
                    repo = make_sample_repo(base / f"r{number}-{order.index(name)}")
                    rows[name].append(jobs[name](repo))
                    shutil.rmtree(repo, ignore_errors=True)
    finally:
        shutil.rmtree(base, ignore_errors=True)
    print(f"{args.rounds} interleaved rounds, {args.latency:g} s per model call; "
          "median (min-max)")
    print(f"  {'':26} {'wall s':>22} {'own CPU s':>20} {'peak RSS MB':>18}")
    for name, samples in rows.items():
        walls, cpus, rss = zip(*samples, strict=True)
        memory = spread(rss, "{:.0f}") if all(r == r for r in rss) else "-"
        print(f"  {name:26} {spread(walls):>22} {spread(cpus):>20} {memory:>18}")
    for baton_row, floor_row in (("baton run (subprocess)", "floor.py (subprocess)"),
                                 ("start_run (in-process)", "floor_run (in-process)")):
        if baton_row not in rows:
            continue
        b_wall, b_cpu = (statistics.median(s[i] for s in rows[baton_row]) for i in (0, 1))
        f_wall, f_cpu = (statistics.median(s[i] for s in rows[floor_row]) for i in (0, 1))
        ratio = b_wall / f_wall
        per_round = [b[0] / f[0] for b, f in zip(rows[baton_row], rows[floor_row], strict=True)]
        print(f"  {baton_row.split(' (')[0]} / floor: wall ratio {ratio:.3f} "
              f"(per round {min(per_round):.3f}-{max(per_round):.3f}), goal <= {GOAL} "
              f"{'ok' if ratio <= GOAL else 'MISSED'}; extra wall {b_wall - f_wall:+.3f} s, "
              f"extra CPU {b_cpu - f_cpu:+.3f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
