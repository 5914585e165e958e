"""``baton init``: write a commented starting configuration."""

from __future__ import annotations

import os
from pathlib import Path

from baton.config import user_config_path
from baton.errors import UserError
from baton.prompts import render_template
from baton.runs.store import find_repo_root
from baton.workspace.detect import detect_test_commands


def write_starting_config(repo: Path, *, user_level: bool = False, force: bool = False) -> Path:
    """Write ``baton.toml`` in the repo (or the user config); returns the file written."""
    if user_level:
        target = user_config_path()
        text = render_template("user-config.toml.j2")
    else:
        root = find_repo_root(repo)
        target = root / "baton.toml"
        commands = detect_test_commands(root) or ["python -m pytest -q"]
        text = render_template("baton.toml.j2", verify_commands=commands,
                               user_config=user_config_path())
    if target.exists() and not force:
        raise UserError(f"{target} exists; pass --force to overwrite it")
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(text, encoding="utf-8")
    if user_level:
        os.chmod(target, 0o600)  # it names where your keys go, even if not the keys
    return target
