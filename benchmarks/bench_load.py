"""Many runs at once in one process (issue 18, item 2): is baton the bottleneck?

    .venv/bin/python benchmarks/bench_load.py [--runs 200] [--concurrency 32]
        [--latency 1.0] [--jitter 0] [--rounds 1] [--floor]

Each round: ``--runs`` demo-shaped runs, ``--concurrency`` threads calling
``baton.pipeline.start_run`` in this process, each on its own sample repository (the
endpoint's ``max_concurrency`` set to ``--concurrency``: its default, 8, would queue the
calls on purpose), the fake
gateway (in a process of its own) answering every call after ``--latency`` seconds; then
the fake gateway alone under the same concurrency (threads making the same number of plain
``openai`` SDK calls, streamed), so its own limits are not blamed on baton; with
``--floor``, as many floor runs (benchmarks/floor.py: the same work, no gate, no trace)
at the same concurrency, a reference under the same load. Rounds alternate them.

Prints, median (min-max) over the rounds, each beside its goal:

- wall time vs max(latency ideal = sum of the runs' critical paths (their model calls at
  the waits the gateway served, from its request log, + their commands' durations from
  the traces) / concurrency,
  CPU seconds / cores); goal within 10%; and beside it the same against the FIFO ideal:
  whole runs, each taking its critical path, started in order on the first free worker
  (runs come in waves, so the latency ideal itself is out of reach of any harness);
- peak RSS of this process and its children (sampled every 0.5 s, summed; the gateway
  excluded), goal < 600 MB; and the same summed as PSS (shared pages counted once);
- model-call latency beyond the gateway's own wait, p50/p95/max, as baton saw it (trace
  ``model.call`` ``latency_s`` minus the wait served for that call), and the same for the
  gateway alone.

``--jitter`` varies each wait (uniform, same mean): with one fixed latency every run
reaches each step at the same moment as the others, and their git and test work comes in
bursts that the fixed ideal does not count.

Not part of the test suite; the machine is shared and noisy.
"""

from __future__ import annotations

import argparse
import heapq
import json
import os
import resource
import statistics
import sys
import tempfile
import time
import urllib.request
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from _common import Peak as _Peak
from _common import gateway_process, percentile, spread, user_config
from floor import IMPLEMENTER, PLANNER, REVIEWER, TASK, floor_run

from baton.demo import make_sample_repo

WALL_GOAL = 1.10
RSS_GOAL_MB = 600


def _cpu() -> float:
    return _self_cpu() + _children_cpu()


def _self_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _process_cpu(pid: int) -> float:
    """CPU seconds (user + system) a live process has used so far, from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _served(url: str) -> dict[str, list[float]]:
    """The waits the gateway served (``latency_s`` of its log), per run id header."""
    with urllib.request.urlopen(url.removesuffix("/v1") + "/_gateway/requests") as resp:
        log = json.loads(resp.read())
    out: dict[str, list[float]] = {}
    for record in log:
        if record.get("status") == 200 and record.get("run"):
            out.setdefault(record["run"], []).append(record["latency_s"])
    return out


def _load_round(base: Path, env: dict[str, str], runs: int, threads: int,
                gateway_pid: int, url: str) -> dict[str, Any]:
    from baton.pipeline import start_run

    repos = [make_sample_repo(base / f"r{i}") for i in range(runs)]
    own, gateway = _self_cpu(), _process_cpu(gateway_pid)
    cpu, start = _cpu(), time.perf_counter()
    with _Peak({gateway_pid}) as peak, ThreadPoolExecutor(threads) as pool:
        results = list(pool.map(lambda repo: start_run(TASK, repo, environ=env), repos))
    wall, cpu = time.perf_counter() - start, _cpu() - cpu
    own, gateway = _self_cpu() - own, _process_cpu(gateway_pid) - gateway
    critical, latencies = [], []
    served = _served(url)
    for result in results:
        if result.decision != "go":
            raise SystemExit(f"run {result.run_id} ended {result.decision}: {result.reasons}")
        events = [json.loads(line) for line in (result.run_dir / "trace.jsonl").open()]
        calls = [e["latency_s"] for e in events if e["type"] == "model.call"]
        commands = [e.get("duration_s") or 0.0 for e in events
                    if e["type"] in ("command", "base.command")]
        latencies += [c - s for c, s in zip(calls, served[result.run_id], strict=True)]
        critical.append(sum(served[result.run_id]) + sum(commands))  # calls as served
    ideal = sum(critical) / threads
    bound = max(ideal, cpu / (os.cpu_count() or 1))
    scheduled = max(_fifo_makespan(critical, threads), cpu / (os.cpu_count() or 1))
    return {"wall": wall, "cpu": cpu, "ideal": ideal, "bound": bound, "ratio": wall / bound,
            "scheduled": scheduled, "scheduled_ratio": wall / scheduled,
            "rss": peak.peak, "pss": peak.peak_pss, "latencies": latencies, "own": own,
            "gateway": gateway}


def _fifo_makespan(durations: list[float], workers: int) -> float:
    """When the last of ``durations`` ends if each is started, in order, on the first of
    ``workers`` to be free (what the thread pool does) and takes exactly its duration.

    The latency ideal (sum / workers) assumes the runs could be cut into pieces; whole runs
    of about equal length come in waves: 200 runs on 32 workers are 7 waves, the last of
    8 runs, so even a harness with no cost of its own ends at about 7/6.25 = 1.12x it.
    """
    free = [0.0] * workers
    for duration in durations:
        heapq.heapreplace(free, free[0] + duration)
    return max(free)


def _floor_round(base: Path, url: str, runs: int, threads: int, gateway_pid: int
                 ) -> dict[str, Any]:
    """The same number of floor runs (benchmarks/floor.py) at the same concurrency."""
    repos = [make_sample_repo(base / f"f{i}") for i in range(runs)]
    own, gateway = _self_cpu(), _process_cpu(gateway_pid)
    cpu, start = _cpu(), time.perf_counter()
    with _Peak({gateway_pid}) as peak, ThreadPoolExecutor(threads) as pool:
        list(pool.map(lambda repo: floor_run(url, repo), repos))
    return {"wall": time.perf_counter() - start, "cpu": _cpu() - cpu, "rss": peak.peak,
            "own": _self_cpu() - own, "gateway": _process_cpu(gateway_pid) - gateway}


def _gateway_round(url: str, calls: int, threads: int) -> dict[str, Any]:
    """The gateway alone: ``calls`` streamed SDK calls on ``threads`` threads, in sequences
    of the demo's five (each sequence its own run id, so the script answers in order)."""
    import openai

    client = openai.OpenAI(base_url=url, api_key="no-key", max_retries=0)
    models = [PLANNER, IMPLEMENTER, REVIEWER, IMPLEMENTER, REVIEWER]

    def sequence(_: int) -> tuple[str, list[float]]:
        run = uuid.uuid4().hex
        out = []
        for model in models:
            start = time.perf_counter()
            stream = client.post(  # sent as baton sends a call
                "/chat/completions", cast_to=object, stream=True,
                stream_cls=openai.Stream[object],
                options={"headers": {"X-Baton-Run": run}, "security": {"bearer_auth": True}},
                body={"model": model, "max_tokens": 4096, "stream": True,
                      "stream_options": {"include_usage": True},
                      "messages": [{"role": "user", "content": TASK}]})
            "".join(c["choices"][0]["delta"].get("content") or "" for c in stream
                    if c["choices"])  # read as baton reads a stream
            out.append(time.perf_counter() - start)
        return run, out

    start = time.perf_counter()
    with ThreadPoolExecutor(threads) as pool:
        sequences = list(pool.map(sequence, range(-(-calls // 5))))
    wall = time.perf_counter() - start
    served = _served(url)
    extra = [took - wait for run, took_all in sequences
             for took, wait in zip(took_all, served[run], strict=True)]
    return {"wall": wall, "latencies": extra}


def _latency_line(name: str, rounds: list[list[float]]) -> str:
    parts = []
    for label, pct in (("p50", 50), ("p95", 95), ("max", 100)):
        values = [1000 * percentile(r, pct) for r in rounds]
        parts.append(f"{label} {spread(values, '{:+.0f}')}")
    return f"  {name:34} " + "  ".join(parts) + " ms   (goal at p95: a few ms)"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--latency", type=float, default=1.0, help="seconds per model call")
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--jitter", type=float, default=0.0,
                        help="each call waits --latency plus a uniform draw in [-jitter, "
                             "+jitter] (the runs then drift out of step, as with real models)")
    parser.add_argument("--floor", action="store_true",
                        help="each round also runs as many floor runs (benchmarks/floor.py) "
                             "at the same concurrency, as a reference under the same load")
    args = parser.parse_args()
    loads: list[dict[str, Any]] = []
    alone: list[dict[str, Any]] = []
    floors: list[dict[str, Any]] = []
    with gateway_process(args.latency, args.jitter) as (url, gateway_pid):
        for number in range(args.rounds):
            with tempfile.TemporaryDirectory(prefix="baton-load-") as tmp:
                env = user_config(Path(tmp), url, args.concurrency)
                loads.append(_load_round(Path(tmp), env, args.runs, args.concurrency,
                                         gateway_pid, url))
            alone.append(_gateway_round(url, len(loads[-1]["latencies"]), args.concurrency))
            if args.floor:
                with tempfile.TemporaryDirectory(prefix="baton-load-floor-") as tmp:
                    floors.append(_floor_round(Path(tmp), url, args.runs, args.concurrency,
                                               gateway_pid))
            print(f"round {number + 1}: wall {loads[-1]['wall']:.2f} s, "
                  f"ratio {loads[-1]['ratio']:.3f}, load average {os.getloadavg()[0]:.1f}",
                  file=sys.stderr)
    cores = os.cpu_count() or 1

    def col(key: str) -> list[float]:
        return [r[key] for r in loads]

    ratio = statistics.median(col("ratio"))
    rss = statistics.median(col("rss"))
    print(f"{args.runs} runs at concurrency {args.concurrency} in one process, "
          f"{args.latency:g} s per call (jitter +-{args.jitter:g} s), {cores} cores, "
          f"{args.rounds} round(s); "
          "median (min-max)")
    print(f"  wall s                             {spread(col('wall'))}")
    print(f"  latency ideal s (critical / {args.concurrency})    {spread(col('ideal'))}")
    print(f"  CPU s (this process + children)    {spread(col('cpu'))}  "
          f"(/ {cores} cores = {statistics.median(col('cpu')) / cores:.2f} s)")
    print(f"    of which this process            {spread(col('own'))}  "
          "(its Python runs on one core at a time)")
    print(f"  CPU s of the gateway (own process) {spread(col('gateway'))}  "
          "(not counted above; it shares the cores)")
    print(f"  wall / max(ideal, CPU/cores)       {spread(col('ratio'))}   goal <= {WALL_GOAL} "
          f"{'ok' if ratio <= WALL_GOAL else 'MISSED'}")
    print(f"  whole runs in waves: FIFO ideal s  {spread(col('scheduled'))}  (each run its "
          f"critical path, on the first free of {args.concurrency} workers)")
    print(f"  wall / max(FIFO ideal, CPU/cores)  {spread(col('scheduled_ratio'))}   "
          "(no harness does better than 1.00 here)")
    print(f"  peak RSS MB (process tree)         {spread(col('rss'), '{:.0f}')}   "
          f"goal < {RSS_GOAL_MB} {'ok' if rss < RSS_GOAL_MB else 'MISSED'}")
    print(f"  peak PSS MB (process tree)         {spread(col('pss'), '{:.0f}')}   "
          "(shared pages counted once)")
    if floors:
        f_wall = [r["wall"] for r in floors]
        per_round = [b["wall"] / f["wall"] for b, f in zip(loads, floors, strict=True)]
        print(f"  floor runs, same concurrency: wall {spread(f_wall)}, CPU "
              f"{spread([r['cpu'] for r in floors])} (this process "
              f"{spread([r['own'] for r in floors])}, gateway "
              f"{spread([r['gateway'] for r in floors])}), peak RSS "
              f"{spread([r['rss'] for r in floors], '{:.0f}')} MB; baton / floor wall "
              f"{statistics.median(col('wall')) / statistics.median(f_wall):.3f} "
              f"(per round {min(per_round):.3f}-{max(per_round):.3f})")
    print("model-call latency beyond the wait the gateway served (each call's own draw)")
    print(_latency_line("inside baton (trace latency_s)", col("latencies")))
    print(_latency_line("gateway alone (plain SDK calls)", [r["latencies"] for r in alone]))
    print(f"  gateway alone: {len(alone[0]['latencies'])} calls on {args.concurrency} "
          f"threads in {spread([r['wall'] for r in alone])} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
