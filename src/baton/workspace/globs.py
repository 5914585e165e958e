"""The one glob dialect of every path rule: gitignore's wildmatch, through ``pathspec``.

Used for approval ``paths`` and for ``protected_paths`` alike, so a pattern means the same
thing everywhere, and what it means is what ``.gitignore`` users already know:

- a pattern with no slash (``*.pem``, ``vault``) matches a name at any depth;
- a pattern with a slash (``.github/workflows/**``, ``/setup.py``) is anchored at the
  repository root; ``**/`` is zero or more directories, ``/**`` everything inside;
- ``*`` and ``?`` never cross a ``/``; ``[...]`` is a character class (``[!...]`` negated);
- a pattern naming a directory covers everything inside it.

Matching ignores letter case (a case-insensitive filesystem must not slip past a rule).
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import lru_cache
from typing import Any


def normalize(path: str) -> str:
    """``path`` with forward slashes and no leading ``./`` or ``/``."""
    path = path.replace("\\", "/")
    while path.startswith("./"):
        path = path[2:]
    return path.lstrip("/")


@lru_cache(maxsize=1024)
def _spec(pattern: str) -> Any:
    import pathspec

    text = pattern.strip()
    anchored = text.startswith("/")
    text = normalize(text).casefold()
    return pathspec.PathSpec.from_lines("gitignore", ["/" + text if anchored else text])


def glob_match(pattern: str, path: str) -> bool:
    """Whether ``path`` (relative to the repository root) matches ``pattern``."""
    if not pattern.strip().strip("/"):
        return False
    return bool(_spec(pattern).match_file(normalize(path).casefold()))


def first_match(patterns: Iterable[str], path: str) -> str | None:
    """The first of ``patterns`` that matches ``path``, or None."""
    return next((p for p in patterns if glob_match(p, path)), None)
