"""Test tampering: a patch that passes by deleting, skipping or weakening tests.

Two sources, neither trusted to a model: the diff since the base commit (test files
deleted, test functions removed, skip/xfail markers added, assertions removed or
loosened), and the test counts the harness read from the same commands run on the base
commit and on the patched tree (fewer tests collected or run, more skipped or xfailed).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import asdict, dataclass, field

from baton.approvals import is_test_file
from baton.evidence.asserts import loosened
from baton.evidence.testcounts import TestCounts

# old or new text of a path (None: absent on that side)
Reader = Callable[[str, str], str | None]

_TEST_DEF = re.compile(
    r"^\s*(?:async\s+)?def\s+(test\w*)\s*\("          # pytest / unittest
    r"|^\s*class\s+(Test\w*|\w+Tests?)\b"              # test classes
    r"|^\s*(?:it|test)\s*\(\s*['\"`]([^'\"`]+)"        # jest, mocha, vitest
    r"|^\s*func\s+(Test\w+)\s*\("                      # go
)
_SKIP = re.compile(
    r"pytest\.skip\s*\(|pytest\.mark\.skip(?:if)?\b|pytest\.mark\.xfail\b|pytest\.xfail\s*\("
    r"|pytest\.importorskip\s*\(|unittest\.skip(?:If|Unless)?\b|unittest\.expectedFailure\b"
    r"|@skip(?:If|Unless)?\b|@expectedFailure\b|\.skipTest\s*\(|raise\s+(?:unittest\.)?SkipTest\b"
    r"|\b(?:it|test|describe)\.(?:skip|todo)\s*\(|\bx(?:it|describe|test)\s*\("
    r"|\bt\.Skip(?:Now|f)?\s*\(|#\[ignore\]"
)
# Ways to stop tests from being collected at all, wherever they are written.
_DESELECT = re.compile(r"--deselect\b|\bcollect_ignore(?:_glob)?\b|--ignore(?:-glob)?[= ]"
                       r"|\s-k\s+['\"]?not\b")
_ASSERT = re.compile(r"^\s*assert\b|\bself\.assert\w*\s*\(|\bassert\w*\s*\(|\bexpect\s*\("
                     r"|\bpytest\.raises\s*\(|\bself\.fail\s*\("
                     r"|\b(?:assert|require)\.\w+\s*\(|\bt\.(?:Error|Fatal)f?\s*\(")
_WEAK_ASSERT = re.compile(
    r"^\s*assert\s+(?:True|1|not\s+False)\s*(?:,|$|#)|assertTrue\s*\(\s*(?:True|1)\s*[,)]"
    r"|\bor\s+True\b|assertIsNotNone\s*\(|\bis\s+not\s+None\s*$|assert\s+\w+\s*$"
    r"|\.toBeDefined\s*\(|\.toBeTruthy\s*\(|\.not\.toBe(?:Null|Undefined)\s*\("
    r"|\b(?:assert|require)\.(?:NotNil|True|NotEmpty|NotZero)\s*\("  # go testify
)


@dataclass(frozen=True)
class TamperFlag:
    """One sign that the tests were weakened; ``str()`` is the sentence a person reads."""

    kind: str
    path: str
    detail: str

    def __str__(self) -> str:
        return f"{self.kind}: {self.path}: {self.detail}" if self.path else \
            f"{self.kind}: {self.detail}"

    def to_dict(self) -> dict[str, str]:
        """JSON-ready form for the trace."""
        return {**asdict(self), "message": str(self)}


@dataclass
class _FileDiff:
    path: str
    deleted: bool = False
    added_file: bool = False
    hunks: list[tuple[list[str], list[str]]] = field(default_factory=list)

    @property
    def removed(self) -> list[str]:
        return [line for minus, _ in self.hunks for line in minus]

    @property
    def added(self) -> list[str]:
        return [line for _, plus in self.hunks for line in plus]


def parse_diff(diff: str) -> list[_FileDiff]:
    """The files of a ``git diff`` with, per hunk, its removed and added lines."""
    files: list[_FileDiff] = []
    current: _FileDiff | None = None
    for line in diff.splitlines():
        if line.startswith("diff --git "):
            _, _, rest = line.partition(" b/")
            current = _FileDiff(path=rest)
            files.append(current)
            continue
        if current is None:
            continue
        if line.startswith("deleted file mode"):
            current.deleted = True
        elif line.startswith("new file mode"):
            current.added_file = True
        elif line.startswith("--- ") or line.startswith("+++ "):
            if line.startswith("+++ b/"):
                current.path = line[6:]
            elif line.startswith("--- a/") and current.deleted:
                current.path = line[6:]
        elif line.startswith("@@"):
            current.hunks.append(([], []))
        elif current.hunks and line.startswith("-"):
            current.hunks[-1][0].append(line[1:])
        elif current.hunks and line.startswith("+"):
            current.hunks[-1][1].append(line[1:])
    return files


def diff_flags(diff: str, read: Reader | None = None) -> list[TamperFlag]:
    """Tampering visible in the diff since the base commit (added test files are welcome).

    With ``read(path, "old" | "new")``, a Python test's assertions are compared on the
    syntax trees of both sides (evidence/asserts.py), each finding naming the test
    function and the line; otherwise (and for other languages) by tokens of the diff."""
    flags: list[TamperFlag] = []
    for f in parse_diff(diff):
        flags += [TamperFlag("collection narrowed", f.path, f"added `{line.strip()[:120]}`")
                  for line in f.added if _DESELECT.search(line)
                  and not any(_DESELECT.search(old) for old in f.removed)]
        if not is_test_file(f.path):
            continue
        if f.deleted:
            flags.append(TamperFlag("test file deleted", f.path, "the whole file is gone"))
            continue
        if f.added_file and not f.path.endswith("conftest.py"):
            continue  # a new test file weakens nothing (a new conftest.py may skip others)
        flags += _removed_tests(f)
        flags += _added_skips(f)
        found = _ast_loosened(f.path, read) if read is not None else None
        flags += [TamperFlag("assertion loosened", f.path, str(x)) for x in found or []]
        flags += _weakened_assertions(f, pair=found is None)
    return flags


def _ast_loosened(path: str, read: Reader) -> list | None:
    if not path.endswith(".py"):
        return None
    old, new = read(path, "old"), read(path, "new")
    if old is None or new is None:
        return None
    return loosened(old, new)


def _names(lines: list[str]) -> list[str]:
    out = []
    for line in lines:
        match = _TEST_DEF.match(line)
        if match:
            out.append(next(g for g in match.groups() if g))
    return out


def _removed_tests(f: _FileDiff) -> list[TamperFlag]:
    added = set(_names(f.added))
    removed = [n for n in _names(f.removed) if n not in added]
    return [TamperFlag("test removed", f.path, f"`{name}` was deleted") for name in removed]


def _added_skips(f: _FileDiff) -> list[TamperFlag]:
    before = sum(1 for line in f.removed if _SKIP.search(line))
    new = [line.strip() for line in f.added if _SKIP.search(line)]
    return [TamperFlag("test skipped", f.path, f"added `{line[:120]}`") for line in new[before:]]


def _weakened_assertions(f: _FileDiff, *, pair: bool = True) -> list[TamperFlag]:
    flags: list[TamperFlag] = []
    lost = 0
    for minus, plus in f.hunks:
        gone = [line for line in minus if _ASSERT.search(line) and not _commented(line)]
        kept = [line for line in plus if _ASSERT.search(line) and not _commented(line)]
        strong_gone = [line for line in gone if not _WEAK_ASSERT.search(line)]
        weak_new = [line for line in kept if _WEAK_ASSERT.search(line)]
        for old, new in zip(strong_gone, weak_new if pair else [], strict=False):
            flags.append(TamperFlag("assertion loosened", f.path,
                                    f"`{old.strip()[:100]}` became `{new.strip()[:100]}`"))
        lost += max(len(gone) - len(kept), 0)
        flags += [TamperFlag("assertion commented out", f.path, f"`{line.strip()[:120]}`")
                  for line in plus if _commented(line) and _ASSERT.search(line)]
    if lost:
        flags.append(TamperFlag("assertions removed", f.path,
                                f"{lost} assertion line(s) deleted and not replaced"))
    return flags


def _commented(line: str) -> bool:
    return line.lstrip().startswith(("#", "//"))


MAX_NAMED = 20


def count_flags(command: str, before: TestCounts | None, after: TestCounts | None,
                names: tuple[list[str] | None, list[str] | None] = (None, None)
                ) -> list[TamperFlag]:
    """Fewer tests collected or run, or more skipped or xfailed, than on the base commit.

    ``names`` (the tests that ran on the base commit, and after the change) name the
    tests that stopped running, at most MAX_NAMED of them and a count."""
    if before is None or after is None:
        return []
    flags = []
    gone = _stopped(*names)
    checks = [("fewer tests collected", before.collected or 0, after.collected or 0, True),
              ("fewer tests run", before.ran, after.ran, True),
              ("more tests skipped", before.skipped, after.skipped, False),
              ("more tests xfailed", before.xfailed, after.xfailed, False)]
    for kind, old, new, fewer in checks:
        if (new < old) if fewer else (new > old):
            flags.append(TamperFlag(kind, "", f"`{command}`: {old} on the base commit, "
                                              f"{new} after the change" + gone))
            gone = ""  # said once, on the first flag of the command
    return flags


def _stopped(before: list[str] | None, after: list[str] | None) -> str:
    if before is None or after is None:
        return ""
    still = set(after)
    missing = [name for name in before if name not in still]
    if not missing:
        return ""
    shown = ", ".join(missing[:MAX_NAMED])
    more = f" and {len(missing) - MAX_NAMED} more" if len(missing) > MAX_NAMED else ""
    return (f"; {len(missing)} test(s) ran on the base commit and not after the change: "
            f"{shown}{more}")
