"""A comparison's own cost at scale, in one process (issue 29, item 6).

    .venv/bin/python benchmarks/bench_compare.py [--trials 200] [--concurrency 32]
        [--latency 1.0] [--rounds 1]

The bundled demo suite (baton/compare/demo.py: 4 tasks, a real repository, hidden checks)
with the policies ``strong`` and ``cheap``, as many trials as make ``--trials`` runs, the
fake gateway in a process of its own answering every call after ``--latency`` seconds.
Each round runs, one after the other:

- **compare**: ``run_comparison`` with the thread backend: scheduling, a clone per trial,
  the run, scoring by the hidden checks in a disposable checkout, results.jsonl fsynced;
- **plain**: the same trials' runs by a plain ``ThreadPoolExecutor`` over ``start_run``
  (a clone per trial made the same way, the same flags; no scoring, no bookkeeping);
- **plain+score**: the plain pool, each run then scored by the same checks (what any
  harness must do to know whether a run succeeded).

Prints wall time, CPU seconds and the peak RSS of this process tree (the gateway
excluded) for each, and the ratios compare/plain (goal <= 1.10) and compare/plain+score;
peak RSS goal < 600 MB. Not part of the test suite; the machine is shared and noisy.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from _common import Peak, compile_baton, gateway_process, user_config

from baton.compare.comparison import Comparison, ThreadBackend, run_comparison
from baton.compare.demo import demo_script, make_demo_suite
from baton.compare.suite import Suite, load_suite
from baton.compare.trial import TrialResult, TrialSpec, prepare_clone, score, trial_overrides
from baton.pipeline import start_run
from baton.runs.trace import read_events

POLICIES = ["strong", "cheap"]
WALL_GOAL = 1.10
RSS_GOAL_MB = 600


def _cpu() -> float:
    me = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def _script(latency: float) -> dict[str, Any]:
    script = demo_script(f"{sys.executable} -m unittest discover -s tests")
    for model in script["models"].values():
        for sub in model["tasks"].values():
            groups = [sub] if isinstance(sub, list) else [v["entries"] for v in sub["variants"]]
            for entries in groups:
                for entry in entries:
                    entry["latency_s"] = latency
    return script


def _compare(folder: Path, suite: Suite, trials: int, concurrency: int,
             env: dict[str, str]) -> int:
    comparison = Comparison.create(folder, suite, POLICIES, trials,
                                   concurrency=concurrency, environ=env)
    results, _ = run_comparison(comparison, backend=ThreadBackend(env))
    return sum(r.state == "done" for r in results)


def _plain(folder: Path, suite: Suite, specs: list[TrialSpec], concurrency: int,
           env: dict[str, str], endpoints: list[str], scored: bool) -> int:
    def one(spec: TrialSpec) -> bool:
        task = suite.task(spec.task)
        clone = prepare_clone(task, folder / spec.id / "repo")
        run = start_run(task.task, clone, config_file=suite.config,
                        overrides=trial_overrides({}, task, spec, endpoints),
                        policy=spec.policy, environ=env)
        if scored and run.state == "done":
            result = TrialResult(id=spec.id, task=spec.task, policy=spec.policy,
                                 trial=spec.trial, state="done", decision=run.decision)
            score(result, task, clone, run.commit,
                  read_events(Path(run.run_dir) / "trace.jsonl", warn=False))
        return run.state == "done"

    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        return sum(pool.map(one, specs))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=200, help="runs in all")
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--latency", type=float, default=1.0)
    parser.add_argument("--rounds", type=int, default=1)
    args = parser.parse_args()
    compile_baton()
    per_task = max(1, round(args.trials / (4 * len(POLICIES))))
    figures: dict[str, list[tuple[float, float, float]]] = {
        "compare": [], "plain": [], "plain+score": []}
    with tempfile.TemporaryDirectory(prefix="baton-bench-compare-") as tmp, \
            gateway_process(args.latency, script=_script(args.latency)) as (url, gw_pid):
        base = Path(tmp)
        suite = load_suite(make_demo_suite(base / "suite"))
        env = user_config(base, url, max_concurrency=args.concurrency)
        probe = Comparison.create(base / "probe", suite, POLICIES, per_task,
                                  concurrency=args.concurrency, environ=env)
        specs, endpoints = probe.specs(), probe.endpoints
        print(f"{len(specs)} runs ({len(suite.tasks)} tasks x {len(POLICIES)} policies x "
              f"{per_task}), concurrency {args.concurrency}, {args.latency:g} s per call, "
              f"{os.cpu_count()} cores")
        for round_no in range(args.rounds):
            for kind in figures:
                folder = base / f"{kind}-{round_no}"
                cpu0, t0 = _cpu(), time.monotonic()
                with Peak({gw_pid}) as peak:
                    if kind == "compare":
                        done = _compare(folder, suite, per_task, args.concurrency, env)
                    else:
                        done = _plain(folder, suite, specs, args.concurrency, env, endpoints,
                                      scored=kind == "plain+score")
                wall, cpu = time.monotonic() - t0, _cpu() - cpu0
                figures[kind].append((wall, cpu, peak.peak))
                print(f"  round {round_no + 1} {kind:12s} {done}/{len(specs)} done: "
                      f"wall {wall:6.1f} s, CPU {cpu:6.1f} s, peak RSS {peak.peak:5.0f} MB",
                      flush=True)
                shutil.rmtree(folder, ignore_errors=True)

    def med(kind: str, i: int) -> float:
        return statistics.median(f[i] for f in figures[kind])

    ratio = med("compare", 0) / med("plain", 0)
    ratio_scored = med("compare", 0) / med("plain+score", 0)
    peak_mb = max(f[2] for f in figures["compare"])
    print(f"wall compare / plain        {ratio:.3f}  (goal <= {WALL_GOAL:.2f}: "
          f"{'met' if ratio <= WALL_GOAL else 'NOT met'})")
    print(f"wall compare / plain+score  {ratio_scored:.3f}")
    print(f"CPU  compare / plain        {med('compare', 1) / med('plain', 1):.3f}")
    print(f"peak RSS compare            {peak_mb:.0f} MB  (goal < {RSS_GOAL_MB}: "
          f"{'met' if peak_mb < RSS_GOAL_MB else 'NOT met'})")


if __name__ == "__main__":
    main()
