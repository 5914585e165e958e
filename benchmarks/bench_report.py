"""Time the HTML report and the span mapping on a large synthetic run.

    .venv/bin/python benchmarks/bench_report.py [--packets 50] [--rounds 3]

Writes one run folder whose trace has ``packets x rounds`` implementer and reviewer calls
(plus a planner call, a few retries, commands and a diff), then times
``render_run_report`` (size of the HTML too), ``run_spans`` and, when the otel extra is
installed, the conversion to SDK spans. Not part of the test suite.
"""

from __future__ import annotations

import argparse
import random
import tempfile
import time
from pathlib import Path

from baton.export.spans import run_spans
from baton.report.run import render_run_report
from baton.runs import trace as T
from baton.runs.trace import TraceWriter, read_events

MODELS = {"planner": "openai/gpt-5", "implementer": "qwen/qwen3-coder",
          "reviewer": "anthropic/claude-sonnet-4.5"}


def make_run(folder: Path, packets: int, rounds: int, seed: int = 1) -> int:
    rng = random.Random(seed)
    w = TraceWriter(folder / "trace.jsonl", "bench-run")
    w.emit("run.start", task="bench", title="bench", policy="default",
           routes={r: {"endpoint": "default", "model": m} for r, m in MODELS.items()},
           limits={"max_cost_usd": 100.0, "max_tokens": None, "max_calls": None,
                   "max_wall_s": None}, role_limits={})

    def call(role: str, packet: int | None, round_: int | None) -> None:
        attempt = 1
        while True:
            failed = rng.random() < 0.05
            w.emit("model.call", role=role, packet=packet, round=round_, attempt=attempt,
                   call_key=f"{role}/p{packet}/r{round_}", endpoint="default", source="baton",
                   latency_s=rng.uniform(0.5, 30), outcome="error" if failed else "ok",
                   cost_usd=0.0 if failed else rng.uniform(0.001, 0.05),
                   cost_source="gateway", **{T.OPERATION: "chat", T.MODEL: MODELS[role],
                                             T.INPUT_TOKENS: rng.randint(500, 20000),
                                             T.OUTPUT_TOKENS: rng.randint(50, 4000)})
            if not failed:
                return
            attempt += 1

    call("planner", None, None)
    for p in range(1, packets + 1):
        w.emit("packet.start", packet=p, title=f"packet {p}")
        for r in range(1, rounds + 1):
            call("implementer", p, r)
            call("reviewer", p, r)
            w.emit("review.verdict", packet=p, round=r, model=MODELS["reviewer"],
                   verdict="approve" if r == rounds else "request_changes",
                   required_fixes=[] if r == rounds else ["fix it"])
        w.emit("packet.end", packet=p, title=f"packet {p}", outcome="approved")
    for n in range(1, 6):
        w.emit("command", command=f"pytest -q tests/part{n}", source="config", ran=True,
               exit_code=0, duration_s=rng.uniform(1, 60), step=f"command/{n}")
    w.emit("decision", decision="go", reasons=["ok"], commit=None)
    w.emit("run.end", state="done", decision="go", totals={})
    w.close()
    diff = "".join(f"diff --git a/f{i}.py b/f{i}.py\n--- a/f{i}.py\n+++ b/f{i}.py\n"
                   "@@ -1 +1,20 @@\n" + "".join(f"+line {j}\n" for j in range(20))
                   for i in range(100))
    (folder / "patch.diff").write_text(diff)
    return sum(1 for e in read_events(folder / "trace.jsonl") if e["type"] == "model.call")


def timed(label: str, func, repeat: int = 3):
    best, result = float("inf"), None
    for _ in range(repeat):
        start = time.perf_counter()
        result = func()
        best = min(best, time.perf_counter() - start)
    print(f"{label:<38} {best * 1000:8.1f} ms (best of {repeat})")
    return result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--packets", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        calls = make_run(folder, args.packets, args.rounds)
        events = read_events(folder / "trace.jsonl")
        print(f"synthetic run: {len(events)} events, {calls} model calls, 5 commands, "
              "a 2,400-line diff")
        html = timed("render_run_report", lambda: render_run_report(folder))
        print(f"{'report size':<38} {len(html) / 1024:8.1f} KiB")
        spans = timed("run_spans", lambda: run_spans(events, run_dir=folder))
        print(f"{'spans':<38} {len(spans):8d}")
        try:
            from baton.export.otlp import to_readable
        except ImportError:
            return
        timed("to_readable (SDK spans)", lambda: to_readable(spans, "bench-run"))


if __name__ == "__main__":
    main()
