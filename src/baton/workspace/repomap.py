"""A map of the repository for the planner, within a size budget."""

from __future__ import annotations

import re
from pathlib import Path

_DEF = re.compile(r"^(?:async\s+def|def|class)\s+([A-Za-z_][A-Za-z0-9_]*)", re.MULTILINE)
KEY_FILE_NAMES = ("README.md", "README.rst", "README", "pyproject.toml", "package.json",
                  "Cargo.toml", "go.mod")
BINARY_SUFFIXES = {".png", ".jpg", ".jpeg", ".gif", ".pdf", ".zip", ".gz", ".whl", ".so",
                   ".pyc", ".ico", ".woff", ".woff2", ".ttf", ".jar", ".bin"}


def _outline(path: Path) -> str:
    if path.suffix != ".py":
        return ""
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""
    names = _DEF.findall(text)
    return (": " + ", ".join(names[:12]) + (" ..." if len(names) > 12 else "")) if names else ""


def repo_map(root: Path, files: list[str], budget_bytes: int) -> str:
    """One line per file (size, top-level Python names), cut at ``budget_bytes``."""
    lines: list[str] = []
    used = 0
    for rel in files:
        path = root / rel
        # a symlink may point anywhere (~/.ssh): never follow one into a prompt
        if path.suffix.lower() in BINARY_SUFFIXES or path.is_symlink() or not path.is_file():
            continue
        try:
            size = path.stat().st_size
        except OSError:
            continue
        line = f"{rel} ({size} B){_outline(path) if size < 200_000 else ''}"
        if used + len(line) + 1 > budget_bytes:
            lines.append(f"... and {len(files) - len(lines)} more files (map cut at budget)")
            break
        lines.append(line)
        used += len(line) + 1
    return "\n".join(lines) if lines else "(empty repository)"


def key_files(root: Path, files: list[str], budget_bytes: int) -> list[dict[str, str]]:
    """The README and manifest files, each cut to fit a shared budget."""
    chosen = []
    left = budget_bytes
    for name in KEY_FILE_NAMES:
        path = root / name
        if name in files and left > 200 and path.is_file() and not path.is_symlink():
            text = path.read_text(encoding="utf-8", errors="replace")
            if len(text) > left:
                text = text[:left] + "\n... (cut)"
            chosen.append({"path": name, "content": text})
            left -= len(text)
    return chosen
