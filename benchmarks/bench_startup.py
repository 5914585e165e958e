"""Start-up time of baton's quick commands beside a minimal click program.

    .venv/bin/python benchmarks/bench_startup.py [--rounds 15]

Each round runs, in turn (interleaved, so the machine's noise hits every row alike): bare
Python, a minimal click program with two commands printing its ``--help``, and
``baton --help``, ``baton runs`` (a repository with no runs), ``baton policies`` (from its
cache, and with no cache: the first call after a change) and
``baton trace summary`` on an 18-event trace, ``baton show`` of that run and shell completion
of ``baton ru``. baton's bytecode is written first, as an install writes it. Prints the
median wall time of each with its spread (min-max over the rounds) and the ratio to the
click program beside the goal (issue 18: within 1.5x). Not part of the test suite.
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

from _common import compile_baton
from bench_trace import write_run

from baton.demo import make_sample_repo

GOAL = 1.5
MINIMAL_CLICK = '''
import click


@click.group()
def cli():
    """A minimal click program."""


@cli.command()
def one():
    """The first command."""


@cli.command()
def two():
    """The second command."""


cli()
'''


def _time(argv: list[str], cwd: Path, env: dict[str, str]) -> tuple[float, float]:
    """Wall time and CPU time (user + system) of one run of ``argv``."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    proc = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, stdin=subprocess.DEVNULL)
    elapsed = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        raise SystemExit(f"{argv} failed ({proc.returncode}): {proc.stderr.decode()[-500:]}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return elapsed, cpu


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=15)
    args = parser.parse_args()
    compile_baton()
    baton = [str(Path(sys.executable).with_name("baton"))]
    if not Path(baton[0]).exists():
        baton = [sys.executable, "-m", "baton"]
    base = Path(tempfile.mkdtemp(prefix="baton-startup-"))
    try:
        repo = make_sample_repo(base / "repo")
        click_program = base / "minimal_click.py"
        click_program.write_text(MINIMAL_CLICK)
        run_id = "20260101-000000-abcdef"
        history = make_sample_repo(base / "history")  # `runs` lists none in `repo`
        run_dir = history / ".baton" / "runs" / run_id
        write_run(run_dir, run_id, 18, random.Random(7))
        (run_dir / "workflow.json").write_text(json.dumps(
            {"run_id": run_id, "task": "Add median()", "state": "done", "decision": "go"}))
        trace = str(run_dir / "trace.jsonl")
        env = {k: v for k, v in os.environ.items() if not k.startswith(("BATON_", "OPENAI_"))}
        env["BATON_CONFIG"] = str(base / "no-user-config.toml")
        env["BATON_CACHE_DIR"] = str(base / "cache")
        rows = {
            "bare python": [sys.executable, "-c", "pass"],
            "minimal click --help": [sys.executable, str(click_program), "--help"],
            "baton --help": [*baton, "--help"],
            "baton runs (none)": [*baton, "runs"],
            "baton policies": [*baton, "policies"],
            # a cache folder that cannot exist: every call loads the typed models
            "baton policies (no cache)": ["env", "BATON_CACHE_DIR=/proc/no-cache",
                                          *baton, "policies"],
            "baton trace summary (18 events)": [*baton, "trace", "summary", trace],
            "baton show (a finished run)": [*baton, "show", run_id, "--no-diff",
                                            "--repo", str(history)],
            "completion of 'baton ru'": ["env", "_BATON_COMPLETE=bash_complete",
                                          "COMP_WORDS=baton ru", "COMP_CWORD=1", *baton],
        }
        walls: dict[str, list[float]] = {name: [] for name in rows}
        cpus: dict[str, list[float]] = {name: [] for name in rows}
        for argv in rows.values():  # warm the page cache once
            _time(argv, repo, env)
        for _ in range(args.rounds):
            for name, argv in rows.items():
                wall, cpu = _time(argv, repo, env)
                walls[name].append(wall)
                cpus[name].append(cpu)
        print(f"{args.rounds} interleaved rounds; median (min-max) in ms; "
              f"goal: within {GOAL}x the minimal click program")
        for label, times in (("wall time", walls), ("CPU time (user+sys)", cpus)):
            reference = statistics.median(times["minimal click --help"])
            print(label)
            for name, samples in times.items():
                median = statistics.median(samples)
                line = (f"  {name:<34} {median * 1000:7.1f} "
                        f"({min(samples) * 1000:.1f}-{max(samples) * 1000:.1f})")
                if name.startswith("baton"):
                    ratio = median / reference
                    line += (f"   {ratio:4.2f}x click  goal <= {GOAL}x  "
                             f"{'ok' if ratio <= GOAL else 'MISSED'}")
                print(line)
    finally:
        shutil.rmtree(base, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
