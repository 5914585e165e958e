"""What random faults on the wire cost: many runs in one process, at several fault rates.

For each rate, runs the demo workflow ``--runs`` times in a thread pool against one fake
gateway injecting that share of faults (429, 5xx, resets, cut streams), and prints the
wall time, the requests and faults seen by the gateway, the attempts per call and whether
every run reached the decision an unfaulted run reaches. Not part of the test suite.

    .venv/bin/python benchmarks/bench_faults.py [--runs 100] [--threads 8] [--rates 0,0.1,0.3]
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from baton.demo import demo_script_path, make_sample_repo
from baton.gateway.server import FakeGateway
from baton.pipeline import start_run

KINDS = ["429", "500", "502", "503", "reset", "cut"]
TASK = "Add median() to stats.py"


def _script(rate: float, latency: float) -> dict:
    script = json.loads(demo_script_path().read_text())
    for entries in script["models"].values():
        for entry in entries:
            entry["latency_s"] = latency
    script["faults"] = {"rate": rate, "seed": 1, "kinds": KINDS, "retry_after_s": 0}
    return script


def _environ(config: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "BATON_"))}
    env["BATON_CONFIG"] = str(config)
    return env


def measure(base: Path, rate: float, runs: int, threads: int, latency: float) -> dict:
    """Run ``runs`` workflows at ``rate``; figures from the results and the gateway log."""
    with FakeGateway(_script(rate, latency)) as gateway:
        config = base / f"user-{rate}.toml"
        config.write_text(f'[endpoints.default]\nbase_url = "{gateway.base_url}"\n'
                          "[retry]\nmax_attempts = 10\nbackoff_base_s = 0.01\n"
                          "backoff_max_s = 0.05\n")
        env = _environ(config)

        def one(index: int) -> str | None:
            repo = make_sample_repo(base / f"rate-{rate}" / f"r{index}")
            return start_run(TASK, repo, environ=env).decision

        start = time.perf_counter()
        with ThreadPoolExecutor(max_workers=threads) as pool:
            decisions = collections.Counter(pool.map(one, range(runs)))
        wall = time.perf_counter() - start
        log = gateway.requests()
    per_call = collections.Counter(collections.Counter((r["run"], r["call"])
                                                       for r in log).values())
    return {"rate": rate, "runs": runs, "wall_s": round(wall, 2),
            "runs_per_s": round(runs / wall, 2), "decisions": dict(decisions),
            "requests": len(log), "faults": sum(1 for r in log if r["fault"]),
            "requests_per_call": dict(sorted(per_call.items()))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=100)
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--rates", default="0,0.1,0.3")
    parser.add_argument("--latency", type=float, default=0.0,
                        help="seconds of scripted latency per answer")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="baton-bench-faults-") as tmp:
        for rate in (float(r) for r in args.rates.split(",")):
            print(json.dumps(measure(Path(tmp), rate, args.runs, args.threads, args.latency)))


if __name__ == "__main__":
    main()
