"""What before/after verification (the verify commands on the base commit) adds to a run.

Runs the demo task on the bundled sample project, alternating ``verify_base`` on and
off, and prints the median wall time of each and the base run's own parts: the checkout
of the base commit and the commands' durations. Not part of the test suite (the machine
is shared and noisy; read the figures of one run of this script against each other).

    .venv/bin/python benchmarks/bench_beforeafter.py [--runs 10] [--latency 0.2]
        [--command "python -m unittest discover -s tests"]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

from baton.demo import demo_script_path, make_sample_repo
from baton.gateway.server import FakeGateway
from baton.pipeline import start_run
from baton.workspace.snapshot import disposable_checkout


def _script(latency: float) -> dict:
    script = json.loads(demo_script_path().read_text())
    for entries in script["models"].values():
        for entry in entries:
            entry["latency_s"] = latency
    return script


def _one_run(base: Path, name: str, environ: dict[str, str], verify_base: bool,
             command: str | None) -> dict:
    repo = make_sample_repo(base / name)
    overrides: dict = {"verify_base": verify_base}
    if command:
        overrides["verify_commands"] = [command]
    start = time.perf_counter()
    result = start_run("Add median() to stats.py", repo, environ=environ, overrides=overrides)
    wall = time.perf_counter() - start
    events = [json.loads(line) for line in (result.run_dir / "trace.jsonl").open()]
    base_cmds = sum(e.get("duration_s") or 0 for e in events if e["type"] == "base.command")
    return {"wall": wall, "base_commands": base_cmds, "decision": result.decision,
            "repo": repo}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--latency", type=float, default=0.2)
    parser.add_argument("--command", default=None,
                        help="verify command to use instead of the sample's own")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp, FakeGateway(_script(args.latency)) as gw:
        base = Path(tmp)
        user = base / "user.toml"
        user.write_text(f'[endpoints.default]\nbase_url = "{gw.base_url}"\n')
        environ = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "BATON_"))}
        environ["BATON_CONFIG"] = str(user)
        on, off = [], []
        for i in range(args.runs):  # alternate, so drift on a shared machine hits both
            on.append(_one_run(base, f"on{i}", environ, True, args.command))
            off.append(_one_run(base, f"off{i}", environ, False, args.command))
        checkouts = []
        for run in on[:5]:
            t = time.perf_counter()
            with disposable_checkout(run["repo"], "HEAD"):
                pass
            checkouts.append(time.perf_counter() - t)

    def med(rows: list[dict], key: str) -> float:
        return statistics.median(r[key] for r in rows)

    added = med(on, "wall") - med(off, "wall")
    print(f"{args.runs} runs each, model latency {args.latency}s per call (5 calls a run), "
          f"python {sys.version.split()[0]}")
    print(f"  verify_base = false: median wall {med(off, 'wall'):.3f}s")
    print(f"  verify_base = true:  median wall {med(on, 'wall'):.3f}s "
          f"(+{added:.3f}s, {added / med(off, 'wall'):+.0%})")
    print(f"  of which the base commands ran {med(on, 'base_commands'):.3f}s; "
          f"checkout of the base commit {statistics.median(checkouts) * 1000:.1f} ms")
    print(f"  decisions: {sorted({r['decision'] for r in on + off})}")


if __name__ == "__main__":
    main()
