"""The implementer's edit format: search/replace blocks, whole-file blocks as a fallback.

See docs/edit-format.md. Parsing only; applying is in ``baton.workspace.edits``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from baton.errors import EditError

FORMAT_HELP = """\
Expected format, one block per change:

path/to/file.py
<<<<<<< SEARCH
exact existing lines
=======
replacement lines
>>>>>>> REPLACE

An empty SEARCH section creates a new file. To replace a whole file:

path/to/file.py
<<<<<<< FILE
entire new content
>>>>>>> FILE"""


@dataclass
class Edit:
    """One change to one file, as parsed from the implementer's reply."""

    path: str
    kind: Literal["replace", "substring", "create", "whole", "insert", "delete", "move"]
    search: str
    replace: str
    anchor: str = ""
    """replace only: SEARCH is looked for after the first line equal to this (a V4A ``@@``)."""
    line: int = 0
    """insert only: the text goes after this line (0: at the top; -1: at the end)."""
    new_path: str = ""
    """move only: the file's new path (a rename)."""


# --- parsing -----------------------------------------------------------------------------

_SEARCH = re.compile(r"^\s*<{5,9}\s*SEARCH\s*>?\s*$")
_DIVIDER = re.compile(r"^\s*={5,9}\s*$")
_REPLACE = re.compile(r"^\s*>{5,9}\s*REPLACE\s*$")
_FILE_START = re.compile(r"^\s*<{5,9}\s*FILE\s*$")
_FILE_END = re.compile(r"^\s*>{5,9}\s*FILE\s*$")
_FENCE = re.compile(r"^\s*(`{3,}|~{3,})[\w+.-]*\s*$")


def parse_edits(text: str) -> list[Edit]:
    """Every edit block in ``text``; prose and markdown fences around them are ignored."""
    lines = text.replace("\r\n", "\n").split("\n")
    edits: list[Edit] = []
    i = 0
    while i < len(lines):
        line = lines[i]
        previous = edits[-1].path if edits else None
        if _SEARCH.match(line):
            i, edit = _parse_search_block(lines, i, previous)
            edits.append(edit)
        elif _FILE_START.match(line):
            i, edit = _parse_file_block(lines, i, previous)
            edits.append(edit)
        elif _REPLACE.match(line) or _FILE_END.match(line):
            raise EditError(
                f"line {i + 1}: {line.strip()!r} without an opening marker before it.\n\n"
                + FORMAT_HELP
            )
        else:
            i += 1
    if not edits:
        raise EditError("no edit blocks found in the reply.\n\n" + FORMAT_HELP)
    return edits


def _parse_search_block(lines: list[str], start: int, previous: str | None) -> tuple[int, Edit]:
    path = _path_before(lines, start, previous)
    search, i = _collect(lines, start + 1, _DIVIDER, "=======", start)
    replace, i = _collect(lines, i, _REPLACE, ">>>>>>> REPLACE", start)
    kind: Literal["replace", "create"] = "replace" if search else "create"
    return i, Edit(path=path, kind=kind, search=search, replace=replace)


def _parse_file_block(lines: list[str], start: int, previous: str | None) -> tuple[int, Edit]:
    path = _path_before(lines, start, previous)
    content, i = _collect(lines, start + 1, _FILE_END, ">>>>>>> FILE", start)
    return i, Edit(path=path, kind="whole", search="", replace=content)


def _collect(
    lines: list[str], i: int, end: re.Pattern[str], end_text: str, start: int
) -> tuple[str, int]:
    """Lines from ``i`` up to the ``end`` marker, as text; and the index after the marker."""
    body: list[str] = []
    while i < len(lines):
        line = lines[i]
        if end.match(line):
            return "".join(f"{b}\n" for b in body), i + 1
        if _SEARCH.match(line) or _FILE_START.match(line) or _REPLACE.match(line):
            raise EditError(
                f"line {i + 1}: found {line.strip()!r} while looking for {end_text!r} "
                f"to close the block opened on line {start + 1}.\n\n" + FORMAT_HELP
            )
        body.append(line)
        i += 1
    raise EditError(
        f"line {start + 1}: the block opened here is never closed with {end_text!r}.\n\n"
        + FORMAT_HELP
    )


def _path_before(lines: list[str], start: int, previous: str | None) -> str:
    """The file path: the last non-empty line before ``start`` that is not a fence.

    A block right after another block, with no path between them, is for the same file.
    """
    for j in range(start - 1, -1, -1):
        line = lines[j]
        if not line.strip() or _FENCE.match(line) or is_elision(line):
            continue  # "..." between blocks means "more blocks follow": not a path
        if previous and (_REPLACE.match(line) or _FILE_END.match(line)):
            return previous
        path = _clean_path(line)
        if path:
            return path
        raise EditError(
            f"line {j + 1}: {line.strip()!r} does not look like a file path; put the path "
            "alone on the line before the block (paths with spaces are not supported).\n\n"
            + FORMAT_HELP
        )
    raise EditError(
        f"line {start + 1}: an edit block without a file path on the line before it.\n\n"
        + FORMAT_HELP
    )


_PATH_JUNK = "`'\"*#: \t"


def _clean_path(line: str) -> str:
    """The path on a line like ``### `src/app.py`:`` or ``File: src/app.py``; "" if none.

    A line with spaces is prose unless its last word looks like a path ("Update
    src/app.py:"); that keeps "Here is the change:" from becoming a file name.
    """
    path = line.strip().strip(_PATH_JUNK)
    if any(c.isspace() for c in path):
        words = path.split()
        last = words[-1].strip(_PATH_JUNK) if words else ""
        path = last if ("/" in last or "." in last.lstrip(".")[:-1]) else ""
    return path


# --- elisions ----------------------------------------------------------------------------
# Lines a model writes for code it left out ("...", "# ... existing code ...",
# "// rest unchanged"). Written literally they would delete that code, so a REPLACE or FILE
# section holding one (that is not also in SEARCH or in the file) is refused.

_COMMENT_OPEN = re.compile(r"^(?:#+|//+|/\*+|\*+|<!--|--|;+|%+|\{/\*+|\(\*)\s*")
_COMMENT_CLOSE = re.compile(r"\s*(?:\*+/\}?|-->|\*\))$")
_DOTS = re.compile(r"\.{3,}|…|\. \. \.")
_ELIDED_WORDS = re.compile(
    r"\b(?:existing|unchanged|rest|remaining|remainder|omitted|elided|same|previous|"
    r"other|original|more|etc|snip|snipped|as before|untouched)\b"
)
_LEFT_OUT = re.compile(
    r"^(?:"
    r"(?:the )?(?:rest|remainder)(?: of(?: the)? [\w ]{1,30}?)?"
    r"(?: (?:is|are|remains?|stays?|left|kept))?"
    r" (?:unchanged|the same|as before|as is|untouched|omitted)"
    r"|(?:the )?(?:rest|remainder) of(?: the)? (?:file|code|function|method|class|module|body|"
    r"implementation|tests?|lines)"
    r"|(?:existing|remaining|unchanged|previous) (?:code|content|lines|methods|functions|"
    r"tests|imports|implementation|logic|fields|body|cases|definitions)(?: [\w ]{1,30})?"
    r"|(?:everything|all|other|original) [\w ]{0,30}?(?:unchanged|as before|untouched|omitted)"
    r"|(?:code|content|lines|body|implementation) (?:unchanged|omitted|elided|as before)"
    r"|unchanged|omitted|snip|snipped|\[snip\]|<snip>"
    r")$"
)


def is_elision(line: str) -> bool:
    """True for a line that stands for code left out rather than being code itself."""
    text = line.strip()
    if not text or len(text) > 120:
        return False
    if not _DOTS.sub("", text).strip():
        return True  # "...", "…", "....", ". . ."
    body = _COMMENT_CLOSE.sub("", text)
    opened = _COMMENT_OPEN.match(body)
    if not opened:
        return False
    body = body[opened.end() :].strip()
    had_dots = bool(_DOTS.search(body))
    words = _DOTS.sub(" ", body).strip(" .()[]{}:-").casefold()
    words = " ".join(words.split())
    if not words:
        return had_dots  # "# ...", "/* ... */", "<!-- ... -->"; a bare "#" is not
    if had_dots and _ELIDED_WORDS.search(words):
        return True  # "# ... existing code ...", "// ... rest of the function"
    return bool(_LEFT_OUT.match(words))


def elisions(text: str) -> list[tuple[int, str]]:
    """The elision lines in ``text``: (line number from 1, the line stripped)."""
    return [(n, line.strip()) for n, line in enumerate(text.split("\n"), 1) if is_elision(line)]


