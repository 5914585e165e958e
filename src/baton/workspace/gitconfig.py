"""Which git configuration files a command of baton's reads, and whether any changed.

Before every git command that could run a filter driver, baton reads the filter settings
so that it can switch every driver off (see :class:`baton.workspace.git.Git`). That read
is a git process of its own; it is skipped when none of the files git would read has
changed since the last read: the same inode, size, modification and change times
(the change time moves on every write and cannot be set back), none of them changed in
the last few seconds (a file system with coarse timestamps could hide a second write
within one tick), and none of them includes another file. Anything else means a fresh
read. Files git reads for baton: the user's ``~/.gitconfig`` and
``$XDG_CONFIG_HOME/git/config`` (the system file is switched off), the repository's
``config`` and the ``config.worktree`` files (``GIT_*`` variables are removed, so no
other file is named).
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Generic, TypeVar

# A file changed this recently is read again every time (timestamps may be coarse).
SETTLED_S = 3.0
_MAX_ENTRIES = 256

T = TypeVar("T")
_Identity = tuple[tuple[str, int, int, int, int] | tuple[str], ...]


def config_files(git_dir: Path, environ: dict[str, str] | os._Environ[str] = os.environ
                 ) -> list[str]:
    """The configuration files git may read for a command on ``git_dir``."""
    files = []
    home = environ.get("HOME")
    if home:
        files.append(os.path.join(home, ".gitconfig"))
    xdg = environ.get("XDG_CONFIG_HOME") or (os.path.join(home, ".config") if home else "")
    if xdg:
        files.append(os.path.join(xdg, "git", "config"))
    common = str(git_dir)
    try:
        with open(os.path.join(git_dir, "commondir"), encoding="utf-8",
                  errors="surrogateescape") as fh:
            common = os.path.normpath(os.path.join(git_dir, fh.read().strip()))
    except FileNotFoundError:
        pass
    files += [os.path.join(common, "config"), os.path.join(common, "config.worktree")]
    if common != str(git_dir):
        files.append(os.path.join(git_dir, "config.worktree"))
    return files


def identity(files: list[str], now: float | None = None) -> _Identity | None:
    """What the files are right now, or None when that cannot stand for their content
    (one changed within :data:`SETTLED_S`, or cannot be examined)."""
    now = time.time() if now is None else now
    out: list[tuple[str, int, int, int, int] | tuple[str]] = []
    for name in files:
        try:
            info = os.stat(name)
        except FileNotFoundError:
            out.append((name,))
            continue
        except (OSError, ValueError):
            return None
        if max(info.st_mtime, info.st_ctime) > now - SETTLED_S:
            return None
        out.append((name, info.st_ino, info.st_size, info.st_mtime_ns, info.st_ctime_ns))
    return tuple(out)


def includes_another(files: list[str]) -> bool:
    """True if any of the files (that exist) may include another file."""
    for name in files:
        try:
            with open(name, "rb") as fh:
                if b"include" in fh.read().lower():
                    return True
        except FileNotFoundError:
            continue
        except OSError:
            return True
    return False


class SettingsCache(Generic[T]):
    """The settings read for a git directory, kept while its files stay the same.

    Git directories that read the same files share what was read: a linked worktree and
    its repository, when no ``config.worktree`` exists (git reads one only for its own
    worktree, so then the git directory is part of the key). ``read()`` must return an
    immutable value: every caller gets the kept one.
    """

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._entries: dict[tuple[str, _Identity], T] = {}
        self._lock = threading.Lock()

    def get(self, git_dir: Path, read: Callable[[], T]) -> T:
        """``read()``'s settings for ``git_dir``: kept ones when no file changed since."""
        files = config_files(git_dir)
        before = identity(files, self._clock())
        if before is None:
            return read()
        present = tuple(entry for entry in before if len(entry) > 1)
        own = any(entry[0].endswith("config.worktree") for entry in present)
        key = (str(git_dir) if own else "", present)
        with self._lock:
            kept = self._entries.get(key)
        if kept is not None:
            return kept
        if includes_another(files):
            return read()
        settings = read()
        if identity(files, self._clock()) == before:  # nothing changed while git read
            with self._lock:
                if len(self._entries) >= _MAX_ENTRIES:
                    self._entries.clear()
                self._entries[key] = settings
        return settings
