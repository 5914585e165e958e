"""The V4A patch format of OpenAI's ``apply_patch`` tool, parsed into baton's edits.

See docs/edit-format.md. The grammar is the one of openai/codex's apply-patch crate::

    *** Begin Patch
    *** Add File: path          then every line of the new file, each prefixed with "+"
    *** Delete File: path
    *** Update File: path
    *** Move to: new/path       optional, right after Update File: a rename
    @@ optional context line    then hunk lines: " " context, "-" removed, "+" added
    *** End of File             optional, after a hunk that ends at the end of the file
    *** End Patch

Each hunk becomes one search/replace edit (its context and "-" lines are what to find,
its context and "+" lines what they become), found with the same tolerant matching as a
SEARCH block, and only after the ``@@`` line when one is given. Like codex, the first hunk
of a file may leave out its ``@@`` line, a blank line inside a hunk is a blank context
line, and a hunk of only "+" lines with no ``@@`` context appends to the end of the file.
Parsing only; applying is ``baton.workspace.edits.apply_edits``, all or nothing.
"""

from __future__ import annotations

from baton.errors import EditError
from baton.workspace.editformat import Edit

BEGIN = "*** Begin Patch"
END = "*** End Patch"
ADD = "*** Add File: "
DELETE = "*** Delete File: "
UPDATE = "*** Update File: "
MOVE = "*** Move to: "
END_OF_FILE = "*** End of File"

FORMAT_HELP = """\
Expected format (the apply_patch tool's V4A patch), one patch with every change:

*** Begin Patch
*** Update File: path/to/file.py
@@ def the_function_around_the_change():
 an unchanged line, prefixed with one space
-a line to remove, prefixed with -
+a line to add, prefixed with +
*** Add File: path/to/new_file.py
+every line of the new file, prefixed with +
*** Delete File: path/to/old_file.py
*** Update File: path/to/renamed.py
*** Move to: path/to/new_name.py
*** End Patch

Give 3 lines of context above and below each change; paths are relative to the
repository root."""


def looks_like_patch(text: str) -> bool:
    """Whether ``text`` holds a V4A patch (its ``*** Begin Patch`` line)."""
    return any(line.strip() == BEGIN for line in text.replace("\r\n", "\n").split("\n"))


def parse_patch(text: str) -> list[Edit]:
    """The edits of the one V4A patch in ``text``; prose and fences around it are ignored."""
    lines = text.replace("\r\n", "\n").split("\n")
    starts = [i for i, line in enumerate(lines) if line.strip() == BEGIN]
    if not starts:
        raise EditError(f"no '{BEGIN}' line found in the reply.\n\n{FORMAT_HELP}")
    start = starts[0]
    ends = [i for i in range(start + 1, len(lines)) if lines[i].strip() == END]
    if not ends:
        raise EditError(
            f"line {start + 1}: the patch opened here is never closed with '{END}' (was "
            f"the answer cut off?); nothing was applied.\n\n{FORMAT_HELP}"
        )
    body = lines[start + 1 : ends[0]]
    edits: list[Edit] = []
    i = 0
    while i < len(body):
        line = body[i]
        number = start + 2 + i  # 1-based line number in the reply
        if not line.strip():
            i += 1
            continue
        if line.startswith(ADD):
            i, edit = _add_file(body, i, _path(line, ADD, number), start)
            edits.append(edit)
        elif line.startswith(DELETE):
            edits.append(Edit(path=_path(line, DELETE, number), kind="delete", search="",
                              replace=""))
            i += 1
        elif line.startswith(UPDATE):
            i, found = _update_file(body, i, _path(line, UPDATE, number), start)
            edits.extend(found)
        else:
            raise EditError(
                f"line {number}: {line.strip()[:80]!r} is not a file operation; each change "
                f"starts with '{ADD}', '{DELETE}' or '{UPDATE}' and a path.\n\n{FORMAT_HELP}"
            )
    if not edits:
        raise EditError(f"the patch holds no file operation.\n\n{FORMAT_HELP}")
    return edits


def _path(line: str, marker: str, number: int) -> str:
    path = line[len(marker) :].strip()
    if not path:
        raise EditError(f"line {number}: {marker.strip()!r} without a path.\n\n{FORMAT_HELP}")
    return path


def _is_header(line: str) -> bool:
    return line.startswith((ADD, DELETE, UPDATE))


def _add_file(body: list[str], i: int, path: str, start: int) -> tuple[int, Edit]:
    content: list[str] = []
    i += 1
    while i < len(body) and not _is_header(body[i]):
        line = body[i]
        if line.startswith("+"):
            content.append(line[1:])
        elif line.strip():
            raise EditError(
                f"line {start + 2 + i}: in '{ADD}{path}', every line of the new file starts "
                f"with '+'; this one starts with {line[:1]!r}.\n\n{FORMAT_HELP}"
            )
        else:
            content.append("")
        i += 1
    while content and content[-1] == "" and len(content) > 1:
        content.pop()  # a blank line before the next header is spacing, not content
    text = "".join(f"{line}\n" for line in content)
    return i, Edit(path=path, kind="create", search="", replace=text)


def _update_file(body: list[str], i: int, path: str, start: int) -> tuple[int, list[Edit]]:
    i += 1
    new_path = ""
    if i < len(body) and body[i].startswith(MOVE):
        new_path = _path(body[i], MOVE, start + 2 + i)
        i += 1
    edits: list[Edit] = []
    anchor: str | None = None
    old: list[str] = []
    new: list[str] = []
    seen_hunk = False

    def flush() -> None:
        nonlocal old, new, anchor
        if old or new:
            if not old and anchor is None:
                edits.append(Edit(path=path, kind="insert", search="",
                                  replace="".join(f"{n}\n" for n in new), line=-1))
            else:
                edits.append(Edit(path=path, kind="replace",
                                  search="".join(f"{o}\n" for o in old),
                                  replace="".join(f"{n}\n" for n in new),
                                  anchor=anchor or ""))
        old, new, anchor = [], [], None

    while i < len(body) and not _is_header(body[i]):
        line = body[i]
        number = start + 2 + i
        if line.startswith("@@"):
            flush()
            seen_hunk = True
            anchor = line[2:].strip() or None
        elif line.strip() == END_OF_FILE:
            flush()
        elif line.startswith(MOVE):
            raise EditError(f"line {number}: '{MOVE.strip()}' must come right after "
                            f"'{UPDATE}{path}'.\n\n{FORMAT_HELP}")
        elif line[:1] in (" ", "-", "+") or line == "":
            seen_hunk = True
            text = line[1:]
            if line[:1] in (" ", ""):
                old.append(text)
                new.append(text)
            elif line[0] == "-":
                old.append(text)
            else:
                new.append(text)
        else:
            raise EditError(
                f"line {number}: in '{UPDATE}{path}', a hunk line starts with ' ' (context), "
                f"'-' (removed) or '+' (added); {line.strip()[:80]!r} starts with "
                f"{line[:1]!r}.\n\n{FORMAT_HELP}"
            )
        i += 1
    flush()
    if new_path:
        edits.append(Edit(path=path, kind="move", search="", replace="", new_path=new_path))
    elif not seen_hunk or not edits:
        raise EditError(f"'{UPDATE}{path}' has no hunk: nothing would change.\n\n{FORMAT_HELP}")
    return i, edits

