"""What reading loosened assertions from the syntax trees costs, per test file.

Builds a test module of N test functions (each a few assertions of every kind the
detector knows), loosens every tenth one, and prints the median time of
``evidence.asserts.loosened`` on the old and new text, and of the token rule on their
diff, for comparison. Not part of the test suite (the machine is shared and noisy).

    .venv/bin/python benchmarks/bench_asserts.py [--functions 500] [--repeat 7]
"""

from __future__ import annotations

import argparse
import difflib
import statistics
import time

from baton.evidence.asserts import loosened
from baton.evidence.tampering import diff_flags

BODY = '''
def test_{n}():
    value = compute({n})
    assert value == {n}
    assert value in range(1000)
    assert area({n}) == pytest.approx(3.14, rel=1e-6)
    with pytest.raises(ValueError, match="bad"):
        parse("x{n}")
'''


def _module(functions: int, loosen: bool) -> str:
    parts = ["import pytest\n"]
    for n in range(functions):
        body = BODY.format(n=n)
        if loosen and n % 10 == 0:
            body = body.replace(f"assert value == {n}", "assert value")
        parts.append(body)
    return "".join(parts)


def _median(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--functions", type=int, default=500)
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    old, new = _module(args.functions, False), _module(args.functions, True)
    diff = "diff --git a/tests/test_big.py b/tests/test_big.py\n--- a/tests/test_big.py\n" \
        "+++ b/tests/test_big.py\n" + "".join(
            line if line.startswith(("@@", "+", "-", " ")) else " " + line
            for line in difflib.unified_diff(old.splitlines(True), new.splitlines(True), n=3)
            if not line.startswith(("---", "+++")))
    found = loosened(old, new) or []
    ast_s = _median(lambda: loosened(old, new), args.repeat)
    token_s = _median(lambda: diff_flags(diff), args.repeat)
    print(f"test file: {args.functions} functions, {len(old.splitlines())} lines, "
          f"{len(found)} loosened found")
    print(f"AST rule (old + new parsed):  {ast_s * 1000:8.1f} ms")
    print(f"token rule (diff only):       {token_s * 1000:8.1f} ms")


if __name__ == "__main__":
    main()
