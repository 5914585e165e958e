"""What ``baton review`` adds beyond the reviewer call and the verification commands.

Overhead = wall time of ``start_review`` minus the reviewer call's recorded latency minus
the recorded durations of the verification commands: freezing the change (temporary
index, ``git add -A``, write-tree, diff), the run folder and trace, the prompt, the
disposable checkout, drift check and summary. The fake gateway answers at zero latency.
Median of N runs, on the demo sample and on a generated repository of a few thousand
files. Prints figures; not part of the test suite (the machine is shared and noisy).

    .venv/bin/python benchmarks/bench_review.py [--runs 10] [--files 3000]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

from baton.demo import make_sample_repo
from baton.gateway.server import FakeGateway
from baton.review.selection import Selection
from baton.review.workflow import start_review

APPROVE = ("```json\n" + json.dumps({"verdict": "approve", "summary": "ok", "findings": []})
           + "\n```\n")


def _git(repo: Path, *args: str) -> None:
    subprocess.run(["git", "-c", "user.name=b", "-c", "user.email=b@localhost",
                    "-c", "core.hooksPath=/dev/null", *args], cwd=repo, check=True,
                   capture_output=True)


def _big_repo(dest: Path, files: int) -> Path:
    repo = make_sample_repo(dest)
    for i in range(files):
        path = repo / "pkg" / f"mod{i // 100:03d}" / f"file_{i:05d}.py"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("".join(f"def f{j}(x):\n    return x + {j}\n" for j in range(20)))
    _git(repo, "add", "-A")
    _git(repo, "commit", "-q", "-m", f"{files} files")
    return repo


def _change(repo: Path, index: int) -> None:
    stats = repo / "stats.py"
    base = stats.read_text().split("\n# bench", 1)[0]
    stats.write_text(base + f"\n# bench {index}\n\ndef median(v):\n"
                     "    return sorted(v)[len(v) // 2]\n")
    (repo / "notes.txt").write_text(f"untracked {index}\n")


def _measure(repo: Path, runs: int, environ: dict[str, str]) -> dict[str, float]:
    overheads, walls = [], []
    for index in range(runs):
        _change(repo, index)
        start = time.perf_counter()
        result = start_review(repo, selection=Selection("uncommitted"), task="add median",
                              author_model="qwen/qwen3-coder", environ=environ)
        wall = time.perf_counter() - start
        assert result.decision == "go", result.reasons
        events = [json.loads(line) for line in (result.run_dir / "trace.jsonl").open()]
        calls = sum(e["latency_s"] for e in events if e["type"] == "model.call")
        commands = sum(e.get("duration_s") or 0 for e in events if e["type"] == "command")
        overheads.append(wall - calls - commands)
        walls.append(wall)
    return {"overhead": statistics.median(overheads), "wall": statistics.median(walls),
            "worst": max(overheads)}


def _phases(repo: Path, runs: int, place: str) -> dict[str, float]:
    """Medians of the two parts that touch every file: freezing the change (review's own)
    and the disposable checkout plus drift check (shared with ``baton run``)."""
    from baton.review.selection import freeze_change
    from baton.workspace.snapshot import disposable_checkout, drift

    freezes, checkouts = [], []
    for index in range(runs):
        _change(repo, 100 + index)
        start = time.perf_counter()
        change = freeze_change(repo, Selection("uncommitted"), protected=[])
        middle = time.perf_counter()
        with disposable_checkout(repo, change.tree, place=place) as folder:
            drift(folder, repo, change.tree)
        checkouts.append(time.perf_counter() - middle)
        freezes.append(middle - start)
    return {"freeze": statistics.median(freezes), "checkout": statistics.median(checkouts)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--files", type=int, default=3000)
    parser.add_argument("--checkout-dir", default="auto",
                        help="checkout_dir setting: auto (memory when there is room), temp")
    args = parser.parse_args()
    script = {"models": {"*": [{"content": APPROVE, "latency_s": 0}]}, "repeat_last": True}
    with tempfile.TemporaryDirectory() as tmp, FakeGateway(script) as gateway:
        base = Path(tmp)
        user = base / "user.toml"
        user.write_text(f'checkout_dir = "{args.checkout_dir}"\n'
                        f'[endpoints.default]\nbase_url = "{gateway.base_url}"\n')
        environ = {k: v for k, v in os.environ.items()
                   if not k.startswith(("OPENAI_", "BATON_"))}
        environ["BATON_CONFIG"] = str(user)
        for label, repo in (("demo sample", make_sample_repo(base / "demo")),
                            (f"{args.files + 5} files", _big_repo(base / "big", args.files))):
            figures = _measure(repo, args.runs, environ)
            parts = _phases(repo, args.runs, args.checkout_dir)
            print(f"{label}: baton review overhead median {figures['overhead']:.3f}s "
                  f"(worst {figures['worst']:.3f}s), wall median {figures['wall']:.3f}s, "
                  f"{args.runs} runs, fake gateway at zero latency, "
                  f"checkout_dir = {args.checkout_dir!r}")
            print(f"  of which: freezing the change {parts['freeze']:.3f}s; disposable "
                  f"checkout + drift check {parts['checkout']:.3f}s (shared with baton run)")


if __name__ == "__main__":
    main()
