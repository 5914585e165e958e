"""How many tests a command collected, ran and skipped, read from what it printed or wrote.

Understood: pytest's summary line (``3 passed, 1 skipped, 2 xfailed in 0.1s``) and its
``collected N items`` line, unittest's ``Ran N tests`` with its ``OK (skipped=1)`` or
``FAILED (failures=1)`` line, and JUnit XML reports named on the command line
(``--junitxml=PATH``, ``--junit-xml PATH``). A command that prints none of these has no
counts (``None``), which is not the same as zero tests.
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path

from baton.models import TestCounts
from baton.workspace.safepaths import UnsafePathError, check_path

# The XML is written by the command under test: read a bounded file, never a DTD.
MAX_JUNIT_BYTES = 20 * 1024 * 1024

_PYTEST_SUMMARY = re.compile(
    r"^[=\s]*((?:\d+ (?:passed|failed|skipped|xfailed|xpassed|errors?|deselected|warnings?)"
    r"(?:, )?)+) in [\d.]+s", re.MULTILINE)
_PYTEST_PART = re.compile(r"(\d+) (passed|failed|skipped|xfailed|xpassed|errors?|deselected)")
_PYTEST_NO_TESTS = re.compile(r"^[=\s]*no tests ran in [\d.]+s", re.MULTILINE)
_PYTEST_COLLECTED = re.compile(r"^collected (\d+) items?(?: / (\d+) deselected)?", re.MULTILINE)
_UNITTEST_RAN = re.compile(r"^Ran (\d+) tests? in [\d.]+s\s*$", re.MULTILINE)
_UNITTEST_RESULT = re.compile(r"^(OK|FAILED|NO TESTS RAN)(?: \(([^)]*)\))?\s*$", re.MULTILINE)
_JUNIT_FLAG = re.compile(r"^--junit-?xml(?:=(.+))?$")


def count_tests(output: str, command: str = "", cwd: Path | None = None) -> TestCounts | None:
    """The counts a command reported: JUnit XML it wrote first, then its printed summary."""
    if cwd is not None:
        for rel in junit_paths(command):
            try:
                path = check_path(cwd, rel)  # no symlink out of the tree it ran in
            except UnsafePathError:
                continue
            counts = read_junit(path)
            if counts is not None:
                return counts
    return parse_pytest(output) or parse_unittest(output)


def parse_pytest(output: str) -> TestCounts | None:
    """pytest's last summary line (and its collected line), else None."""
    summaries = _PYTEST_SUMMARY.findall(output)
    if not summaries:
        if _PYTEST_NO_TESTS.search(output):
            return TestCounts(source="pytest", collected=0)
        return None
    parts: dict[str, int] = {}
    for number, word in _PYTEST_PART.findall(summaries[-1]):
        parts[word.rstrip("s") if word.startswith("error") else word] = int(number)
    counts = TestCounts(source="pytest", passed=parts.get("passed", 0),
                        failed=parts.get("failed", 0), errors=parts.get("error", 0),
                        skipped=parts.get("skipped", 0), xfailed=parts.get("xfailed", 0),
                        xpassed=parts.get("xpassed", 0), deselected=parts.get("deselected", 0))
    counts.ran = counts.passed + counts.failed + counts.xfailed + counts.xpassed
    collected = _PYTEST_COLLECTED.findall(output)
    if collected:
        counts.collected = int(collected[-1][0])
    else:
        counts.collected = counts.ran + counts.skipped + counts.errors + counts.deselected
    return counts


def parse_unittest(output: str) -> TestCounts | None:
    """unittest's ``Ran N tests`` and the result line after it, else None."""
    ran = _UNITTEST_RAN.findall(output)
    if not ran:
        return None
    total = int(ran[-1])
    details: dict[str, int] = {}
    results = _UNITTEST_RESULT.findall(output)
    if results and results[-1][1]:
        for item in results[-1][1].split(","):
            name, _, value = item.strip().partition("=")
            if value.strip().isdigit():
                details[name.strip()] = int(value)
    skipped = details.get("skipped", 0)
    failed = details.get("failures", 0)
    errors = details.get("errors", 0)
    xfailed = details.get("expected failures", 0)
    xpassed = details.get("unexpected successes", 0)
    return TestCounts(source="unittest", collected=total, ran=total - skipped, failed=failed,
                      errors=errors, skipped=skipped, xfailed=xfailed, xpassed=xpassed,
                      passed=max(total - skipped - failed - errors - xfailed - xpassed, 0))


_UNITTEST_NAME = re.compile(r"^(test\w*) \(([\w.]+)\)(?:\n.*)?(?: \.\.\. (?:ok|FAIL|ERROR|"
                            r"expected failure|unexpected success))", re.MULTILINE)


def test_names(output: str, junit: Path | None = None) -> list[str] | None:
    """The tests a command ran (skipped ones left out), by name: the JUnit report's
    testcases (pytest node ids), else unittest's verbose lines; None when unknown."""
    if junit is not None:
        names = _junit_names(junit)
        if names is not None:
            return names
    found = _UNITTEST_NAME.findall(output)
    if not found:
        return None
    return list(dict.fromkeys(
        where if where.endswith("." + name) else f"{where}.{name}" for name, where in found))


def _junit_names(path: Path) -> list[str] | None:
    import xml.etree.ElementTree as ET

    try:
        if path.is_symlink() or not path.is_file() or path.stat().st_size > MAX_JUNIT_BYTES:
            return None
        data = path.read_bytes()
    except OSError:
        return None
    if b"<!DOCTYPE" in data or b"<!ENTITY" in data:
        return None
    try:
        root = ET.fromstring(data)
    except ET.ParseError:
        return None
    names = []
    for case in root.iter("testcase"):
        if case.find("skipped") is not None:
            continue
        module = case.get("classname") or ""
        file = case.get("file")
        name = case.get("name") or ""
        names.append(_node_id(module, name, file))
    return list(dict.fromkeys(names))


def _node_id(classname: str, name: str, file: str | None) -> str:
    """pytest's node id from a JUnit testcase (``tests.test_x.Class`` + ``test_y``)."""
    parts = classname.split(".") if classname else []
    for cut in range(len(parts), 0, -1):
        path = "/".join(parts[:cut]) + ".py"
        if file == path or (file is None and parts[cut - 1].startswith("test")):
            return "::".join([path, *parts[cut:], name])
    return f"{classname}::{name}" if classname else name


def junit_paths(command: str) -> list[str]:
    """Report paths a command names with ``--junitxml``/``--junit-xml`` (relative only)."""
    try:
        words = shlex.split(command)
    except ValueError:
        return []
    found = []
    for i, word in enumerate(words):
        match = _JUNIT_FLAG.match(word)
        if not match:
            continue
        path = match.group(1) or (words[i + 1] if i + 1 < len(words) else "")
        if path and not path.startswith("/") and ".." not in Path(path).parts:
            found.append(path)
    return found


def read_junit(path: Path) -> TestCounts | None:
    """Totals of a JUnit XML report; None when missing, too large, or not JUnit."""
    import xml.etree.ElementTree as ET

    try:
        if path.is_symlink() or not path.is_file() or path.stat().st_size > MAX_JUNIT_BYTES:
            return None
        data = path.read_bytes()
    except OSError:
        return None
    if b"<!DOCTYPE" in data or b"<!ENTITY" in data:
        return None  # no entity expansion from a file the tests wrote
    try:
        root = ET.fromstring(data)
    except ET.ParseError:
        return None
    suites = [root] if root.tag == "testsuite" else root.findall("testsuite")
    if root.tag not in ("testsuite", "testsuites") or not suites:
        return None

    def total(name: str) -> int:
        return sum(_int(s.get(name)) for s in suites)

    tests, skipped = total("tests"), total("skipped")
    failed, errors = total("failures"), total("errors")
    return TestCounts(source="junit", collected=tests, ran=tests - skipped, failed=failed,
                      errors=errors, skipped=skipped,
                      passed=max(tests - skipped - failed - errors, 0))


def _int(value: str | None) -> int:
    try:
        return int(value or 0)
    except ValueError:
        return 0
