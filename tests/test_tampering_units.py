"""Test tampering read from diffs and from test counts: each sign fires, honest changes don't."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from baton.evidence.tampering import count_flags, diff_flags
from baton.evidence.testcounts import TestCounts, count_tests, junit_paths, read_junit

MIXED = '''import unittest
import pytest


def test_one():
    assert 1 == 1


@pytest.mark.skip(reason="x")
def test_two():
    assert 0


@pytest.mark.xfail
def test_three():
    assert 0


def test_four():
    assert 0


class T(unittest.TestCase):
    @unittest.skip("no")
    def test_s(self):
        pass

    def test_ok(self):
        self.assertEqual(1, 1)
'''


def git_diff(tmp_path: Path, before: dict[str, str], after: dict[str, str | None]) -> str:
    """A real ``git diff`` between two trees."""
    repo = tmp_path / f"diffrepo{len(list(tmp_path.iterdir()))}"
    repo.mkdir()

    def git(*args: str) -> str:
        return subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@t", *args],
                              cwd=repo, capture_output=True, text=True, check=True).stdout

    git("init", "-q")
    for name, text in before.items():
        (repo / name).parent.mkdir(parents=True, exist_ok=True)
        (repo / name).write_text(text)
    git("add", "-A")
    git("commit", "-q", "-m", "base")
    for name, text in after.items():
        path = repo / name
        if text is None:
            path.unlink()
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
    git("add", "-A")
    return git("diff", "--cached", "HEAD")


TEST = '''import unittest

from stats import mean


class MeanTest(unittest.TestCase):
    def test_mean(self):
        self.assertEqual(mean([1, 2, 3, 4]), 2.5)

    def test_empty(self):
        with self.assertRaises(ValueError):
            mean([])
'''


def kinds(flags) -> list[str]:
    return [f.kind for f in flags]


def test_a_deleted_test_file_is_flagged(tmp_path):
    diff = git_diff(tmp_path, {"tests/test_stats.py": TEST}, {"tests/test_stats.py": None})
    flags = diff_flags(diff)
    assert kinds(flags) == ["test file deleted"]
    assert str(flags[0]) == "test file deleted: tests/test_stats.py: the whole file is gone"


def test_a_removed_test_function_and_its_assertions_are_flagged(tmp_path):
    after = TEST.replace('''
    def test_empty(self):
        with self.assertRaises(ValueError):
            mean([])
''', "")
    flags = diff_flags(git_diff(tmp_path, {"tests/test_stats.py": TEST},
                                {"tests/test_stats.py": after}))
    assert "test removed" in kinds(flags)
    assert any("`test_empty` was deleted" in str(f) for f in flags)
    assert "assertions removed" in kinds(flags)


@pytest.mark.parametrize("marker", [
    "    @unittest.skip('flaky')\n", "    @pytest.mark.skip\n", "    @pytest.mark.xfail\n",
    "    @unittest.expectedFailure\n",
])
def test_an_added_skip_or_xfail_marker_is_flagged(tmp_path, marker):
    after = TEST.replace("    def test_mean", marker + "    def test_mean")
    flags = diff_flags(git_diff(tmp_path, {"tests/test_stats.py": TEST},
                                {"tests/test_stats.py": after}))
    assert kinds(flags) == ["test skipped"], flags


def test_a_skip_call_inside_a_test_is_flagged(tmp_path):
    after = TEST.replace("        self.assertEqual(mean([1, 2, 3, 4]), 2.5)",
                         "        pytest.skip('later')\n"
                         "        self.assertEqual(mean([1, 2, 3, 4]), 2.5)")
    flags = diff_flags(git_diff(tmp_path, {"tests/test_stats.py": TEST},
                                {"tests/test_stats.py": after}))
    assert kinds(flags) == ["test skipped"]


def test_a_loosened_and_a_commented_out_assertion_are_flagged(tmp_path):
    loosened = TEST.replace("self.assertEqual(mean([1, 2, 3, 4]), 2.5)",
                            "self.assertIsNotNone(mean([1, 2, 3, 4]))")
    flags = diff_flags(git_diff(tmp_path, {"tests/test_stats.py": TEST},
                                {"tests/test_stats.py": loosened}))
    assert kinds(flags) == ["assertion loosened"]
    commented = TEST.replace("self.assertEqual(", "# self.assertEqual(")
    flags = diff_flags(git_diff(tmp_path, {"tests/test_stats.py": TEST},
                                {"tests/test_stats.py": commented}))
    assert "assertion commented out" in kinds(flags) and "assertions removed" in kinds(flags)


def test_honest_changes_are_not_flagged(tmp_path):
    stronger = TEST.replace("self.assertEqual(mean([1, 2, 3, 4]), 2.5)",
                            "self.assertEqual(mean([1, 2, 3, 4]), 2.5)\n"
                            "        self.assertEqual(mean([2]), 2)")
    diff = git_diff(tmp_path, {"tests/test_stats.py": TEST, "stats.py": "x = 1\n"},
                    {"tests/test_stats.py": stronger, "stats.py": "x = 2\nassert x\n",
                     "tests/test_new.py": "import pytest\n@pytest.mark.skip\ndef test_x():\n"
                                          "    pass\n"})
    assert diff_flags(diff) == []  # a new test file, a stronger test, asserts in source


def test_deselecting_tests_in_config_is_flagged(tmp_path):
    diff = git_diff(tmp_path, {"pytest.ini": "[pytest]\n"},
                    {"pytest.ini": "[pytest]\naddopts = --deselect tests/test_stats.py::t\n"})
    assert kinds(diff_flags(diff)) == ["collection narrowed"]


def test_counts_from_real_pytest_unittest_and_junit(tmp_path):
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "test_mixed.py").write_text(MIXED)

    def run(*args: str) -> str:
        return subprocess.run([sys.executable, *args], cwd=tmp_path, capture_output=True,
                              text=True).stdout + "\n"

    pytest_out = run("-m", "pytest", "-q", "-p", "no:cacheprovider", "tests")
    counts = count_tests(pytest_out)
    assert counts == TestCounts(source="pytest", collected=6, ran=4, passed=2, failed=1,
                                skipped=2, xfailed=1)
    command = "python -m pytest -p no:cacheprovider --junitxml=out/r.xml tests"
    run("-m", "pytest", "-p", "no:cacheprovider", "--junitxml=out/r.xml", "tests")
    assert junit_paths(command) == ["out/r.xml"]
    junit = count_tests("", command, tmp_path)
    assert junit is not None and junit.source == "junit"
    assert (junit.collected, junit.failed, junit.skipped) == (6, 1, 3)  # xfail is a skip here
    proc = subprocess.run([sys.executable, "-m", "unittest", "discover", "-s", "tests"],
                          cwd=tmp_path, capture_output=True, text=True)
    counts = count_tests(proc.stderr)
    assert counts is not None and counts.source == "unittest"
    assert (counts.collected, counts.ran, counts.skipped) == (2, 1, 1)
    assert count_tests("make: Nothing to be done") is None


def test_junit_with_a_doctype_or_outside_the_tree_is_not_read(tmp_path):
    (tmp_path / "r.xml").write_text('<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "b">]>'
                                    '<testsuite tests="3"/>')
    assert read_junit(tmp_path / "r.xml") is None
    assert junit_paths("pytest --junitxml=/etc/passwd --junit-xml ../x.xml") == []


def test_count_flags_compare_base_and_patched_runs():
    before = TestCounts(source="pytest", collected=5, ran=5, passed=5)
    after = TestCounts(source="pytest", collected=4, ran=3, passed=3, skipped=1)
    flags = count_flags("pytest -q", before, after)
    assert kinds(flags) == ["fewer tests collected", "fewer tests run", "more tests skipped"]
    assert "5 on the base commit, 4 after the change" in str(flags[0])
    more = TestCounts(source="pytest", collected=7, ran=7, passed=7)
    assert count_flags("pytest -q", before, more) == []
    assert count_flags("pytest -q", None, after) == []


def test_the_tests_that_stopped_running_are_named_at_most_twenty():
    before = TestCounts(source="pytest", collected=30, ran=30, passed=30)
    after = TestCounts(source="pytest", collected=5, ran=5, passed=5)
    names = [f"tests/test_a.py::test_{i}" for i in range(30)]
    flags = count_flags("pytest -q", before, after, (names, names[:5]))
    said = str(flags[0])
    assert "25 test(s) ran on the base commit and not after the change: " \
        "tests/test_a.py::test_5, " in said and said.endswith("test_24 and 5 more")
    assert "test_25" not in said and "test(s) ran" not in str(flags[1])  # said once


def test_unittest_verbose_names_are_read(tmp_path):
    from baton.evidence.testcounts import test_names

    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "test_x.py").write_text(
        "import unittest\n\nclass T(unittest.TestCase):\n"
        "    def test_a(self):\n        '''Doc line.'''\n\n"
        "    def test_b(self):\n        self.fail('x')\n\n"
        "    @unittest.skip('no')\n    def test_c(self):\n        pass\n")
    proc = subprocess.run([sys.executable, "-m", "unittest", "discover", "-v", "-s", "tests"],
                          cwd=tmp_path, capture_output=True, text=True)
    assert test_names(proc.stderr) == ["test_x.T.test_a", "test_x.T.test_b"]
    assert test_names("..\n3 passed in 0.1s\n") is None
