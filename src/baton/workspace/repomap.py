"""A map of the repository for the planner, within a size budget.

Each file is one line: its path, its size and every top-level definition in it. Python
is read with ``ast`` (classes, functions, module constants, each class with its methods);
other languages fall back to a regex per language. When the whole outline of a file does
not fit in what is left of the budget, the file is listed with a count of its definitions
instead, so the list of files is cut last.
"""

from __future__ import annotations

import ast
import re
import threading
from pathlib import Path

KEY_FILE_NAMES = ("README.md", "README.rst", "README", "pyproject.toml", "package.json",
                  "Cargo.toml", "go.mod")
BINARY_SUFFIXES = {".png", ".jpg", ".jpeg", ".gif", ".pdf", ".zip", ".gz", ".whl", ".so",
                   ".pyc", ".ico", ".woff", ".woff2", ".ttf", ".jar", ".bin"}
MAX_OUTLINE_FILE_BYTES = 200_000

# CPython 3.11's AST constructor keeps one recursion counter per interpreter: two threads
# in ast.parse at once can trip "SystemError: AST constructor recursion depth mismatch"
# (python/cpython#106905; seen with 32 runs in one process). Parsing is milliseconds.
_PARSE_LOCK = threading.Lock()

_PY_FALLBACK = re.compile(r"^(?:async\s+def|def|class)\s+([A-Za-z_]\w*)", re.MULTILINE)
_JS = re.compile(
    r"^(?:export\s+(?:default\s+)?)?(?:async\s+)?(?:function\*?|class|interface|type|enum"
    r"|const|let|var)\s+([A-Za-z_$][\w$]*)", re.MULTILINE)
_REGEXES: dict[str, re.Pattern[str]] = {
    ".js": _JS, ".jsx": _JS, ".mjs": _JS, ".cjs": _JS, ".ts": _JS, ".tsx": _JS,
    ".go": re.compile(r"^(?:func(?:\s+\([^)]*\))?|type)\s+([A-Za-z_]\w*)", re.MULTILINE),
    ".rs": re.compile(r"^(?:pub(?:\([^)]*\))?\s+)?(?:async\s+)?(?:fn|struct|enum|trait|type"
                      r"|mod|const|static|union)\s+([A-Za-z_]\w*)", re.MULTILINE),
    ".rb": re.compile(r"^(?:def|class|module)\s+([A-Za-z_][\w.:]*[?!]?)", re.MULTILINE),
    ".java": re.compile(r"^(?:public\s+|final\s+|abstract\s+)*(?:class|interface|enum|record)"
                        r"\s+([A-Za-z_]\w*)", re.MULTILINE),
    ".kt": re.compile(r"^(?:\w+\s+)*(?:fun|class|object|interface)\s+([A-Za-z_]\w*)",
                      re.MULTILINE),
    ".sh": re.compile(r"^(?:function\s+)?([A-Za-z_][\w-]*)\s*\(\)\s*\{", re.MULTILINE),
}


def definitions(path: Path, text: str) -> list[str]:
    """Every top-level definition in a source file, in order (``[]`` for other files)."""
    if path.suffix == ".py":
        try:
            with _PARSE_LOCK:
                tree = ast.parse(text)
        except (SyntaxError, ValueError):
            return list(dict.fromkeys(_PY_FALLBACK.findall(text)))
        return _python_definitions(tree)
    regex = _REGEXES.get(path.suffix.lower())
    return list(dict.fromkeys(regex.findall(text))) if regex else []


def _python_definitions(tree: ast.Module) -> list[str]:
    names: list[str] = []
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            names.append(f"{node.name}()")
        elif isinstance(node, ast.ClassDef):
            methods = [n.name for n in node.body
                       if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)]
            names.append(f"{node.name}({', '.join(methods)})" if methods else node.name)
        elif isinstance(node, ast.Assign | ast.AnnAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names += [t.id for t in targets if isinstance(t, ast.Name) and t.id.isupper()]
    return names


def _outline(path: Path, size: int) -> list[str]:
    if size >= MAX_OUTLINE_FILE_BYTES:
        return []
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return []
    return definitions(path, text)


def repo_map(root: Path, files: list[str], budget_bytes: int) -> str:
    """One line per file (size, every top-level definition), cut at ``budget_bytes``."""
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
        names = _outline(path, size)
        line = f"{rel} ({size} B)" + (": " + ", ".join(names) if names else "")
        if used + len(line) + 1 > budget_bytes and names:
            line = f"{rel} ({size} B): {len(names)} definitions (not shown: map budget)"
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
