"""What the snapshot and the disposable verification checkout cost per run.

For the demo's sample project and for generated projects of a few thousand files, times
each step baton adds to a run for issue 9 (median of several repetitions):

- freeze: stage the worktree, write its tree and a commit object (``git add -A``,
  ``write-tree``, ``commit-tree``), what ``git add -A && git commit`` cost before;
- checkout: write the snapshot's files into a fresh folder from git's objects;
- drift: hash every file of the checkout and compare with the tree;
- remove: delete the checkout;
- land: ``update-ref`` of the run's branch to the snapshot commit;

and, for scale, ``git worktree add`` of the same repository, which every run already paid,
and ``cp -r`` of the checkout (what this file system takes to write that many files).
The "extra" figure is checkout + drift + remove: the work a run did not do before.

    .venv/bin/python benchmarks/bench_snapshot.py [--files 3000 10000] [--repeat 5]

Figures only, not a test: the machines are shared and noisy.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from baton.demo import make_sample_repo
from baton.workspace.git import create_worktree, head_commit
from baton.workspace.snapshot import (
    checkout_parent,
    disposable_checkout,
    drift_changes,
    freeze,
    tree_changes,
)


def _git(repo: Path, *args: str) -> None:
    subprocess.run(["git", "-c", "user.name=b", "-c", "user.email=b@b", "-c",
                    "core.hooksPath=/dev/null", *args], cwd=repo, check=True,
                   capture_output=True)


def generated_repo(dest: Path, files: int) -> Path:
    """A repository of ``files`` source-like files (about 2 KB each) in nested folders."""
    dest.mkdir(parents=True)
    line = "def function_{n}(value):\n    return value * {n} + len(str(value))\n\n"
    for n in range(files):
        folder = dest / f"pkg{n % 40:02d}" / f"mod{n % 7}"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"file_{n:05d}.py").write_text("".join(line.format(n=n + k)
                                                         for k in range(30)))
    _git(dest, "init", "-q")
    _git(dest, "add", "-A")
    _git(dest, "commit", "-qm", "generated")
    _git(dest, "repack", "-adq")  # packed, as a cloned repository is
    return dest


def timed(func: Callable[[], object], repeat: int) -> float:
    """Median seconds of ``func`` over ``repeat`` calls."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        func()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def measure(repo: Path, repeat: int) -> dict[str, float]:
    base = head_commit(repo)
    counter = iter(range(10_000))
    worktree_add = timed(lambda: create_worktree(repo, f"bench-{next(counter)}", base),
                         repeat)
    worktree = create_worktree(repo, "bench-run", base)
    # A small change, as a run makes.
    changed = sorted(p for p in worktree.path.rglob("*.py"))[0]
    changed.write_text(changed.read_text() + "\n# changed by the run\n")
    (worktree.path / "new_module.py").write_text("VALUE = 1\n")
    worktree.checkpoint()

    snap = freeze(worktree, "bench")
    figures = {"freeze": timed(lambda: freeze(worktree, "bench"), repeat)}
    figures["gate diff"] = timed(lambda: tree_changes(repo, base, snap.tree), repeat)

    for place, tag in (("temp", "disk"), ("auto", "mem")):
        checkout_s: list[float] = []
        drift_s: list[float] = []
        remove_s: list[float] = []
        for _ in range(repeat):
            start = time.perf_counter()
            context = disposable_checkout(repo, snap.tree, place=place)
            folder = context.__enter__()
            checkout_s.append(time.perf_counter() - start)
            (folder / "__pycache__").mkdir()
            (folder / "__pycache__" / "x.pyc").write_bytes(b"pyc")
            start = time.perf_counter()
            found = drift_changes(folder, repo, snap.tree)
            drift_s.append(time.perf_counter() - start)
            assert [d.path for d in found] == ["__pycache__/x.pyc"], found
            start = time.perf_counter()
            context.__exit__(None, None, None)
            remove_s.append(time.perf_counter() - start)
        figures[f"checkout {tag}"] = statistics.median(checkout_s)
        figures[f"drift {tag}"] = statistics.median(drift_s)
        figures[f"remove {tag}"] = statistics.median(remove_s)
        figures[f"extra {tag}"] = (figures[f"checkout {tag}"] + figures[f"drift {tag}"]
                                   + figures[f"remove {tag}"])
    figures["land"] = timed(lambda: worktree.land(snap.commit), repeat)
    copies = iter(range(10_000))
    scratch = Path(tempfile.mkdtemp(prefix="baton-bench-copy-"))
    figures["cp -r"] = timed(lambda: shutil.copytree(
        worktree.path, scratch / str(next(copies)), symlinks=True,
        ignore=shutil.ignore_patterns(".git")), repeat)
    shutil.rmtree(scratch, ignore_errors=True)
    figures["worktree add"] = worktree_add
    return figures


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--files", type=int, nargs="*", default=[3000])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    base = Path(tempfile.mkdtemp(prefix="baton-bench-snapshot-"))
    try:
        cases = [("demo sample", make_sample_repo(base / "demo"))]
        for count in args.files:
            cases.append((f"{count} files", generated_repo(base / f"gen{count}", count)))
        columns = ["freeze", "gate diff", "land", "checkout disk", "drift disk",
                   "remove disk", "extra disk", "checkout mem", "drift mem", "remove mem",
                   "extra mem", "worktree add", "cp -r"]
        print(f"median of {args.repeat}, milliseconds; disk: the temporary folder "
              f"{os.path.realpath(tempfile.gettempdir())}; mem: checkout_dir = 'auto' "
              f"({checkout_parent('auto', 0, base) or 'no memory-backed folder here'})")
        print(f"{'repository':<14}{'files':>7}" + "".join(f"{c:>14}" for c in columns))
        for label, repo in cases:
            count = len(subprocess.run(["git", "ls-files"], cwd=repo, capture_output=True,
                                       text=True, check=True).stdout.splitlines())
            figures = measure(repo, args.repeat)
            print(f"{label:<14}{count:>7}"
                  + "".join(f"{figures[c] * 1000:>14.1f}" for c in columns))
    finally:
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
