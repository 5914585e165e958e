"""Guess a project's test command when none is configured (and say so)."""

from __future__ import annotations

import json
from pathlib import Path


def detect_test_commands(root: Path) -> list[str]:
    """Test commands inferred from the project's files, most specific first."""
    commands: list[str] = []
    pyproject = root / "pyproject.toml"
    has_py_tests = (root / "tests").is_dir() or (root / "test").is_dir() or any(
        root.glob("test_*.py")
    )
    if has_py_tests or (pyproject.is_file() and "pytest" in pyproject.read_text(errors="ignore")):
        commands.append("python -m pytest -q")
    package = root / "package.json"
    if package.is_file():
        try:
            scripts = json.loads(package.read_text(encoding="utf-8")).get("scripts", {})
        except ValueError:
            scripts = {}
        if "test" in scripts:
            commands.append("npm test")
    if (root / "Cargo.toml").is_file():
        commands.append("cargo test")
    if (root / "go.mod").is_file():
        commands.append("go test ./...")
    if not commands and (root / "Makefile").is_file():
        if "\ntest:" in "\n" + (root / "Makefile").read_text(errors="ignore"):
            commands.append("make test")
    return commands
