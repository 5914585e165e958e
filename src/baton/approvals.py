"""Human approval gates: which rules say a change must wait for a person.

The rules are pure functions of the configuration, the plan's risk level and the changed
files, so the same answer comes back on every resume. The pipeline stops (exit 3) when any
rule fires and continues only after ``baton approve RUN``. Path globs are gitignore's
wildmatch dialect (:mod:`baton.workspace.globs`), the same as for ``protected_paths``.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from baton.config import Approval
from baton.evidence.gatefiles import Reader, gate_file_rules, handled_here
from baton.models import RISK_ORDER
from baton.workspace.git import FileChange  # re-exported: the rules' input
from baton.workspace.globs import first_match, glob_match, normalize

__all__ = ["FileChange", "fired_rules", "glob_match", "is_test_file"]

if TYPE_CHECKING:
    from baton.evidence.contract import ContractCheck


_TEST_DIRS = frozenset({"test", "tests", "__tests__", "__snapshots__", "spec", "specs",
                        "testdata", "testing"})
_TEST_NAME = re.compile(
    r"""(
        test_.*\.py | .*_tests?\.py | conftest\.py          # pytest
      | .*_test\.go                                          # go
      | .*\.test\.[cm]?[jt]sx?                              # jest, vitest, mocha
      | .*\.spec\.[^/]+                                      # any *.spec.*
      | .*_spec\.rb | test_.*\.rb | .*_test\.rb              # rspec, minitest
      | .*(Test|Tests)\.(java|kt|scala|cs) | .*IT\.java      # junit, xunit
      | .*_test\.(rs|c|cc|cpp|exs?|dart|php)                 # assorted *_test.*
      | .*Test\.php | .*\.snap
    )$""",
    re.VERBOSE,
)
_VERBS = {"M": "modified", "D": "deleted", "R": "renamed", "A": "added"}


def is_test_file(path: str) -> bool:
    """Whether ``path`` is a test (by its directory or its name) in a common ecosystem."""
    parts = normalize(path).split("/")
    if any(part.lower() in _TEST_DIRS for part in parts[:-1]):
        return True
    return bool(_TEST_NAME.match(parts[-1]))


def fired_rules(approval: Approval, *, risk_level: str, changes: list[FileChange],
                read: Reader | None = None) -> list[str]:
    """The approval rules that fire, each described for a person; empty: no approval needed.

    ``read(path, "old" | "new")`` gives a file's text on either side, for the rules on
    files that configure baton or the project's checks (evidence/gatefiles.py)."""
    gate_files = [] if read is None else gate_file_rules(
        approval.paths, changes, read, gate_config=approval.gate_config)
    return [
        *_risk_rule(approval, risk_level),
        *gate_files,
        *_path_rules(approval, changes),
        *_test_rules(approval, changes),
        *_size_rule(approval, changes),
    ]


def tampering_rules(approval: Approval, flags: list[str]) -> list[str]:
    """The tampering rule: each sign of weakened tests, named (on by default)."""
    if not approval.tampering:
        return []
    return [f"test tampering: {flag}" for flag in dict.fromkeys(flags)]


def contract_rules(approval: Approval, contract: ContractCheck) -> list[str]:
    """The plan-as-contract rules that are switched on (all off by default)."""
    fired = []
    if approval.unplanned_files:
        fired += [f"file {p!r} changed but the plan did not name it"
                  for p in contract.unplanned_files]
    if approval.untouched_planned_files:
        fired += [f"file {p!r} named by the plan was left unchanged"
                  for p in contract.untouched_files]
    if approval.plan_commands_not_run:
        fired += [f"plan test command {c!r} did not run" for c in contract.commands_not_run]
    return fired


def _risk_rule(approval: Approval, risk_level: str) -> list[str]:
    if approval.risk_level == "never":
        return []
    if risk_level not in RISK_ORDER:
        return [f"plan risk level {risk_level!r} is not one of {', '.join(RISK_ORDER)}"]
    if RISK_ORDER[risk_level] >= RISK_ORDER[approval.risk_level]:
        return [f"plan risk level {risk_level!r} is at or above the threshold "
                f"{approval.risk_level!r}"]
    return []


def _path_rules(approval: Approval, changes: list[FileChange]) -> list[str]:
    fired = []
    for change in changes:
        glob = first_match([p for p in approval.paths if not handled_here(p)], change.path)
        if glob is not None:
            fired.append(f"touched path {change.path!r} ({_VERBS.get(change.status, 'changed')})"
                         f" matches approval glob {glob!r}")
    return fired


def _test_rules(approval: Approval, changes: list[FileChange]) -> list[str]:
    if not approval.test_changes:
        return []
    # Adding tests is welcome; changing or removing existing ones can hide a regression.
    return [
        f"test file {c.path!r} {_VERBS[c.status]} ({c.status})"
        for c in changes
        if c.status != "A" and is_test_file(c.path)
    ]


def _size_rule(approval: Approval, changes: list[FileChange]) -> list[str]:
    if approval.max_diff_lines is None:
        return []
    lines = sum(c.added + c.removed for c in changes)
    if lines > approval.max_diff_lines:
        return [f"diff of {lines} changed lines exceeds max_diff_lines "
                f"{approval.max_diff_lines}"]
    return []
