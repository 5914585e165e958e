"""Which paths an edit may write: regular files inside the worktree, nothing else.

Paths are checked component by component with ``lstat``: no absolute paths, ``..``,
control characters, symlinks, ``.git``/``.baton`` in any letter case, or protected globs.
"""

from __future__ import annotations

import fnmatch
import os
import re
import stat
from collections.abc import Iterable
from pathlib import Path

from baton.errors import EditError

MAX_FILE_BYTES = 2 * 1024 * 1024
MAX_PATH_CHARS = 4096
MAX_NAME_BYTES = 255
# Directories an edit may never touch, compared case-insensitively. "git~1" is the DOS
# short name of ".git" on Windows file systems.
FORBIDDEN_DIRS = frozenset({".git", ".baton", "git~1"})

class UnsafePathError(EditError):
    """An edit names a path that baton refuses to write; ``reason`` says why."""

    def __init__(self, path: str, reason: str) -> None:
        super().__init__(f"refused to write {path!r}: {reason}")
        self.path = path
        self.reason = reason


# --- path safety -------------------------------------------------------------------------


def check_path(
    root: Path, rel: str, *, protected: Iterable[str] = (), max_path: int = MAX_PATH_CHARS
) -> Path:
    """The safe absolute path for ``rel`` under ``root``, or UnsafePathError saying why."""
    parts = safe_parts(rel, protected, max_path)
    root_real = Path(os.path.realpath(root))
    current = root_real
    for index, part in enumerate(parts):
        current = current / part
        try:
            st = os.lstat(current)
        except FileNotFoundError:
            break  # the rest does not exist yet and will be created as plain directories
        except OSError as exc:
            raise UnsafePathError(rel, f"cannot inspect {part!r}: {exc.strerror}") from None
        is_last = index == len(parts) - 1
        check_existing(rel, part, st.st_mode, is_last)
    target = root_real.joinpath(*parts)
    resolved = os.path.realpath(target)
    if os.path.commonpath([resolved, root_real]) != str(root_real):
        raise UnsafePathError(rel, "it resolves to a location outside the worktree")
    return target


def safe_parts(rel: str, protected: Iterable[str], max_path: int) -> list[str]:
    """The path's components, after every check that needs no file system."""
    if not isinstance(rel, str) or not rel.strip():
        raise UnsafePathError(str(rel), "the path is empty")
    if len(rel) > max_path:
        raise UnsafePathError(rel[:80] + "...", f"the path is longer than {max_path} characters")
    if any(ord(c) < 32 or ord(c) == 127 for c in rel):
        raise UnsafePathError(rel, "the path contains control characters (NUL, newline, ...)")
    try:
        rel.encode("utf-8")
    except UnicodeEncodeError:
        raise UnsafePathError(rel, "the path is not valid UTF-8 text") from None
    if "\\" in rel:
        raise UnsafePathError(rel, "the path contains a backslash; use '/' between directories")
    if rel.startswith("/") or re.match(r"^[A-Za-z]:", rel):
        raise UnsafePathError(
            rel, "absolute paths are not allowed; give a path relative to the repository root"
        )
    if rel.startswith("~"):
        raise UnsafePathError(rel, "home-relative paths ('~') are not allowed")
    parts = [p for p in rel.split("/") if p not in ("", ".")]
    if not parts:
        raise UnsafePathError(rel, "the path names the repository root, not a file")
    for part in parts:
        if part == "..":
            raise UnsafePathError(rel, "'..' segments are not allowed")
        if not part.strip("."):
            raise UnsafePathError(rel, f"{part!r} is made only of dots, which is not a file name")
        if part.rstrip(". ").casefold() in FORBIDDEN_DIRS:
            raise UnsafePathError(rel, f"{part!r} is baton's or git's own directory")
        if len(part.encode("utf-8", "surrogatepass")) > MAX_NAME_BYTES:
            raise UnsafePathError(rel, f"a path component is longer than {MAX_NAME_BYTES} bytes")
    posix = "/".join(parts)
    pattern = _protected_match(posix, protected)
    if pattern:
        raise UnsafePathError(rel, f"the path is protected by the pattern {pattern!r}")
    return parts


def _protected_match(posix: str, patterns: Iterable[str]) -> str | None:
    """The first protected pattern matching the path or one of its parent directories."""
    parts = posix.split("/")
    candidates = [posix.casefold()] + ["/".join(parts[:n]).casefold() for n in range(1, len(parts))]
    for pattern in patterns:
        folded = pattern.strip().strip("/").casefold()
        if folded and any(fnmatch.fnmatchcase(c, folded) for c in candidates):
            return pattern
    return None


def check_existing(rel: str, part: str, mode: int, is_last: bool) -> None:
    if stat.S_ISLNK(mode):
        raise UnsafePathError(
            rel, f"{part!r} is a symbolic link; edits never follow or replace symlinks"
        )
    if not is_last and not stat.S_ISDIR(mode):
        raise UnsafePathError(rel, f"{part!r} is not a directory")
    if is_last and stat.S_ISDIR(mode):
        raise UnsafePathError(rel, "the path is a directory, not a file")
    if is_last and not stat.S_ISREG(mode):
        raise UnsafePathError(rel, "the path is not a regular file (a fifo, socket or device)")


