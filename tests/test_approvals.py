"""Approval rules: each fires when it should and stays quiet when it should not."""

from __future__ import annotations

import pytest

from baton.approvals import FileChange, fired_rules, glob_match, is_test_file
from baton.config import Approval


def change(path: str, status: str = "M", added: int = 1, removed: int = 1) -> FileChange:
    return FileChange(path=path, status=status, added=added, removed=removed)  # type: ignore[arg-type]


QUIET = Approval(risk_level="never", paths=[], test_changes=False, max_diff_lines=None)


def test_nothing_fires_for_a_small_low_risk_change():
    assert fired_rules(Approval(), risk_level="low", changes=[change("src/app/util.py")]) == []


@pytest.mark.parametrize(("threshold", "level", "fires"), [
    ("high", "high", True), ("high", "critical", True), ("high", "medium", False),
    ("low", "low", True), ("critical", "high", False), ("never", "critical", False),
])
def test_risk_rule(threshold, level, fires):
    approval = QUIET.model_copy(update={"risk_level": threshold})
    rules = fired_rules(approval, risk_level=level, changes=[])
    if fires:
        assert rules == [f"plan risk level {level!r} is at or above the threshold "
                         f"{threshold!r}"]
    else:
        assert rules == []


def test_path_rule_names_path_and_glob():
    rules = fired_rules(Approval(risk_level="never"), risk_level="low",
                        changes=[change(".github/workflows/ci.yml"), change("src/x.py")])
    assert rules == ["touched path '.github/workflows/ci.yml' (modified) matches approval glob "
                     "'.github/workflows/**'"]


@pytest.mark.parametrize("path", [
    "pyproject.toml", "app/migrations/0002_add.py", "migrations/0001.sql", "db/schema.sql",
    "src/auth/tokens.py", "src/oauth_client.py", "uv.lock", "Cargo.lock", "web/yarn.lock",
    "requirements-dev.txt", ".circleci/config.yml",
])
def test_default_globs_fire(path):
    assert fired_rules(Approval(risk_level="never"), risk_level="low",
                       changes=[change(path, "A")])


@pytest.mark.parametrize("path", [
    "src/app.py", "docs/migrations.md", "README.md", "sub/pyproject.toml", "authors.txt",
])
def test_default_globs_stay_quiet(path):
    assert fired_rules(Approval(risk_level="never"), risk_level="low",
                       changes=[change(path, "A")]) == []


def test_deleting_a_file_on_an_approval_path_fires():
    rules = fired_rules(QUIET.model_copy(update={"paths": ["Jenkinsfile"]}), risk_level="low",
                        changes=[change("Jenkinsfile", "D", 0, 10)])
    assert rules == ["touched path 'Jenkinsfile' (deleted) matches approval glob 'Jenkinsfile'"]


@pytest.mark.parametrize(("pattern", "path", "matches"), [
    ("**/migrations/**", "migrations/0001.sql", True),
    ("**/migrations/**", "app/migrations/x.py", True),
    ("**/migrations/**", "a/b/migrations/c/d.py", True),
    ("**/migrations/**", "app/migrations.py", False),
    ("**/migrations/**", "app/old_migrations/x.py", False),
    ("*.lock", "uv.lock", True),
    ("*.lock", "web/yarn.lock", True),  # gitignore: no slash, any depth
    ("/*.lock", "web/yarn.lock", False),  # a leading slash anchors at the root
    ("Jenkinsfile", "jenkinsfile", True),  # case never slips past a rule
    ("vault", "vault/keys/a.txt", True),  # a folder covers what is inside
    ("**/*.lock", "web/yarn.lock", True),
    ("**/*.lock", "uv.lock", True),
    (".github/workflows/**", ".github/workflows/ci.yml", True),
    (".github/workflows/**", ".github/workflows/sub/x.yml", True),
    (".github/workflows/**", ".github/dependabot.yml", False),
    ("src/**/test.py", "src/test.py", True),
    ("src/**/test.py", "src/a/b/test.py", True),
    ("src/**/test.py", "lib/src/test.py", False),
    ("**/*auth*.py", "auth.py", True),
    ("**/*auth*.py", "pkg/oauth2.py", True),
    ("**/*auth*.py", "auth/x.py", False),
    ("requirements*.txt", "requirements.txt", True),
    ("requirements*.txt", "requirements/dev.txt", False),
    ("file?.txt", "file1.txt", True),
    ("file?.txt", "file/.txt", False),
    ("data[0-9].csv", "data7.csv", True),
    ("data[!0-9].csv", "data7.csv", False),
    ("a.b", "axb", False),
    ("./setup.py", "setup.py", True),
    ("setup.py", "./setup.py", True),
])
def test_glob(pattern, path, matches):
    assert glob_match(pattern, path) is matches


@pytest.mark.parametrize(("path", "expected"), [
    ("tests/test_x.py", True), ("src/pkg/tests/helpers.py", True), ("test/unit/a.c", True),
    ("web/__tests__/App.jsx", True), ("spec/models/user_spec.rb", True),
    ("test_app.py", True), ("pkg/app_test.py", True), ("conftest.py", True),
    ("server/handler_test.go", True), ("ui/Button.test.tsx", True), ("ui/a.test.js", True),
    ("ui/b.spec.ts", True), ("src/test/java/FooTest.java", True), ("FooTests.cs", True),
    ("src/app.py", False), ("src/contest.py", False), ("src/testing_utils.go", False),
    ("docs/testing.md", False), ("src/attestation.py", False), ("latest.py", False),
])
def test_is_test_file(path, expected):
    assert is_test_file(path) is expected


def test_test_rule_fires_on_modifying_or_deleting_existing_tests_only():
    approval = QUIET.model_copy(update={"test_changes": True})
    rules = fired_rules(approval, risk_level="low", changes=[
        change("tests/test_x.py", "M"), change("tests/test_y.py", "D", 0, 30),
        change("tests/test_new.py", "A", 40, 0), change("src/x.py", "M"),
    ])
    assert rules == ["test file 'tests/test_x.py' modified (M)",
                     "test file 'tests/test_y.py' deleted (D)"]


def test_test_rule_can_be_turned_off():
    assert fired_rules(QUIET, risk_level="low", changes=[change("tests/test_x.py", "D")]) == []


def test_diff_size_rule():
    approval = QUIET.model_copy(update={"max_diff_lines": 500})
    big = [change("src/a.py", "M", 400, 12), change("src/b.py", "A", 400, 0)]
    assert fired_rules(approval, risk_level="low", changes=big) == [
        "diff of 812 changed lines exceeds max_diff_lines 500"]
    exact = [change("src/a.py", "M", 250, 250)]
    assert fired_rules(approval, risk_level="low", changes=exact) == []
    assert fired_rules(QUIET, risk_level="low", changes=big) == []


def test_every_rule_reported_together():
    rules = fired_rules(Approval(max_diff_lines=10), risk_level="critical", changes=[
        change("pyproject.toml", "M", 5, 5), change("tests/test_a.py", "M", 3, 3)])
    assert len(rules) == 4
