"""A real small project with an injected bug, and scripted model answers that work on it.

``clamp()`` forgets its upper bound, so ``test_above`` fails on the base commit. The
verify command is real pytest, run by the harness.
"""

from __future__ import annotations

import shlex
import subprocess
import sys
from pathlib import Path

from conftest import IMPLEMENTER, PLANNER, REVIEWER, fence

TASK = "Fix clamp(): values above hi must come back as hi."
VERIFY = f"{shlex.quote(sys.executable)} -m pytest -q -p no:cacheprovider tests"

CALC = '''"""Small numeric helpers."""


def clamp(x, lo, hi):
    """x limited to the range [lo, hi]."""
    return max(lo, x)


def mean(values):
    """Arithmetic mean of a non-empty sequence."""
    return sum(values) / len(values)
'''

TEST_CALC = '''import unittest

from calc import clamp


class ClampTest(unittest.TestCase):
    def test_inside(self):
        self.assertEqual(clamp(5, 0, 10), 5)

    def test_below(self):
        self.assertEqual(clamp(-1, 0, 10), 0)

    def test_above(self):
        self.assertEqual(clamp(15, 0, 10), 10)
'''

TEST_MEAN = '''from calc import mean


def test_mean():
    assert mean([1, 2, 3, 4]) == 2.5
'''

def run_task(baton, repo: Path, *extra: str):
    """``baton run TASK --repo REPO --json EXTRA...`` through the ``baton`` fixture."""
    return baton("run", TASK, "--repo", str(repo), "--json", *extra)


def make_buggy_repo(dest: Path) -> Path:
    """A git repository holding the buggy project, one commit."""
    files = {"calc.py": CALC, "tests/test_calc.py": TEST_CALC, "tests/test_mean.py": TEST_MEAN,
             ".gitignore": "__pycache__/\n*.pyc\n",
             "baton.toml": _toml(), "README.md": "# calc\n\nNumeric helpers.\n"}
    for name, text in files.items():
        path = dest / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@localhost",
           "-c", "init.defaultBranch=main"]
    for args in (["init", "-q"], ["add", "-A"], ["commit", "-q", "-m", "calc with a bug"]):
        subprocess.run([*git, *args], cwd=dest, check=True, capture_output=True)
    return dest


def _toml() -> str:
    import json

    return (f"verify_commands = [{json.dumps(VERIFY)}]\n\n"
            f'[routes.planner]\nmodel = "{PLANNER}"\n\n'
            f'[routes.implementer]\nmodel = "{IMPLEMENTER}"\n\n'
            f'[routes.reviewer]\nmodel = "{REVIEWER}"\n')


PLAN = fence({
    "summary": "clamp() ignores hi; limit the result to hi as well as lo.",
    "affected_files": [{"path": "calc.py", "change": "clamp returns min(max(x, lo), hi)"}],
    "risks": ["an off-by-one at the upper bound"],
    "acceptance_criteria": ["clamp(15, 0, 10) == 10", "the existing tests pass"],
    "test_commands": [VERIFY],
    "rollback": "Revert the commit.",
    "risk_level": "low",
    "commit_message": "Fix clamp() upper bound",
    "packets": [],
})


def edit(path: str, search: str, replace: str, note: str = "Here is the patch.") -> str:
    """One search/replace edit block, as an implementer answers."""
    return (f"{note}\n\n{path}\n<<<<<<< SEARCH\n{search}\n=======\n{replace}\n"
            ">>>>>>> REPLACE\n")


WRONG_FIX = edit("calc.py", "    return max(lo, x)", "    return min(max(x, lo), hi + 1)")
RIGHT_FIX = edit("calc.py", "    return max(lo, x)", "    return min(max(x, lo), hi)")
FIX_THE_FIX = edit("calc.py", "    return min(max(x, lo), hi + 1)",
                   "    return min(max(x, lo), hi)", "The harness showed 11 != 10; fixed.")
DELETE_TEST = edit("tests/test_calc.py", '''
    def test_above(self):
        self.assertEqual(clamp(15, 0, 10), 10)''', "")
SKIP_TEST = edit("tests/test_calc.py", '''    def test_above(self):
        self.assertEqual(clamp(15, 0, 10), 10)''', '''    def test_above(self):
        pytest.skip("flaky")
        self.assertEqual(clamp(15, 0, 10), 10)''') + edit(
    "tests/test_calc.py", "import unittest\n", "import unittest\n\nimport pytest\n", "")
DROP_ASSERT = edit("tests/test_calc.py", "        self.assertEqual(clamp(15, 0, 10), 10)",
                   "        clamp(15, 0, 10)")


def approve(summary: str = "correct and tested") -> str:
    return fence({"verdict": "approve", "summary": summary, "top_risks": [],
                  "required_fixes": [], "verification_commands": [],
                  "questions_for_owner": []})


def script(implementer: list[str], reviewer: list[str]) -> dict:
    """A fake-gateway script: the plan above, then these answers in order."""
    return {"models": {PLANNER: [{"content": PLAN}],
                       IMPLEMENTER: [{"content": c} for c in implementer],
                       REVIEWER: [{"content": c} for c in reviewer]}}
