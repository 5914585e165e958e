"""CPU time of one refused edit: the "most similar part" hint on files that used to be slow.

    .venv/bin/python benchmarks/bench_edit_hint.py [--repeat 3] [--before]

For each file shape below, a SEARCH of 12 lines that is close to, but not in, the file is
sent through ``parse_edits`` + ``apply_edits``; the refusal (with its hint) is timed in CPU
seconds. ``--before`` also times the hint algorithm baton had before it was bounded (kept
below, verbatim, for comparison only; on the long-lines file it takes about a minute).
Not part of the test suite.

Measured on the shared 2-core machine, CPU seconds of one refusal (issue 10 reported 26 s
for a file like the first shape):

    shape        size       before      after
    long-lines   112 KB     70.7        0.009
    many-lines   1007 KB    27.1        0.18
    repetitive   1545 KB    > 700 (stopped by a timeout)   0.10
"""

from __future__ import annotations

import argparse
import difflib
import random
import re
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from baton.errors import EditError
from baton.workspace import editmatch
from baton.workspace.edits import apply_edits, parse_edits


def _long_lines(rng: random.Random) -> list[str]:
    """110 rows of 130 numbers each: generated data, minified code, CSV-like modules."""
    return [f"ROW_{n} = [" + ", ".join(f"{rng.random():0.4f}" for _ in range(130)) + "]\n"
            for n in range(110)]


def _many_lines(rng: random.Random) -> list[str]:
    """20,000 ordinary code lines (about 1 MB), names reused as in real modules."""
    names = [f"value_{i}" for i in range(300)]
    return [f"    {rng.choice(names)} = compute({rng.choice(names)}, {rng.randint(0, 99)})"
            f"  # step {n}\n" for n in range(20_000)]


def _repetitive(rng: random.Random) -> list[str]:
    """20,000 nearly identical lines: every word is common, nothing singles a line out."""
    return [f"    total = total + item  # {'x' * rng.randint(40, 100)}\n" for _ in range(16_000)]


SHAPES: dict[str, Callable[[random.Random], list[str]]] = {
    "long-lines": _long_lines, "many-lines": _many_lines, "repetitive": _repetitive,
}


def _reply(lines: list[str]) -> str:
    middle = len(lines) // 3
    search = "".join(line.replace(" = ", " := ", 1) for line in lines[middle : middle + 12])
    return f"data.py\n<<<<<<< SEARCH\n{search}=======\nx = 1\n>>>>>>> REPLACE\n"


def _old_most_similar(lines: list[str], wanted: list[str]) -> int | None:
    """The hint before it was bounded: every probe against every line with difflib."""
    if not lines or len(lines) > 20_000:
        return None
    have = [h.strip() for h in lines]
    probes = [(i, w.strip()) for i, w in enumerate(wanted) if len(w.strip()) > 2][:12]
    votes: dict[int, float] = {}
    matcher = difflib.SequenceMatcher(autojunk=False)
    for offset, probe in probes:
        matcher.set_seq2(probe)
        for index, line in enumerate(have):
            matcher.set_seq1(line)
            if (matcher.real_quick_ratio() >= 0.6 and matcher.quick_ratio() >= 0.6
                    and (score := matcher.ratio()) >= 0.6):
                start = max(0, index - offset)
                votes[start] = votes.get(start, 0.0) + score
    if not votes:
        return None
    return max(votes, key=lambda s: (votes[s], -s))


def _time_refusal(root: Path, reply: str, repeat: int) -> tuple[float, str]:
    times, message = [], ""
    for _ in range(repeat):
        started = time.process_time()
        try:
            apply_edits(root, parse_edits(reply))
        except EditError as exc:
            message = str(exc)
        else:
            raise SystemExit("the edit applied; the benchmark needs a refusal")
        times.append(time.process_time() - started)
    return statistics.median(times), message


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--before", action="store_true",
                        help="also time the unbounded hint it replaced (slow)")
    args = parser.parse_args(argv)
    rng = random.Random(1)
    print(f"{'shape':<12} {'size':>9} {'after (s)':>10} {'before (s)':>11}  hint")
    for name, make in SHAPES.items():
        lines = make(rng)
        with tempfile.TemporaryDirectory() as tmp:
            root = Path(tmp)
            (root / "data.py").write_text("".join(lines))
            reply = _reply(lines)
            after, message = _time_refusal(root, reply, args.repeat)
            before = "-"
            if args.before:
                current = editmatch.most_similar
                editmatch.most_similar = _old_most_similar  # type: ignore[assignment]
                try:
                    before = f"{_time_refusal(root, reply, 1)[0]:.2f}"
                finally:
                    editmatch.most_similar = current
            found = re.search(r"most similar part of data.py \(from line (\d+)\)", message)
            hint = f"line {found.group(1)} (SEARCH cut from {len(lines) // 3 + 1})" if found else (
                "none")
            size = f"{sum(map(len, lines)) // 1024} KB"
            print(f"{name:<12} {size:>9} {after:>10.3f} {before:>11}  {hint}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
