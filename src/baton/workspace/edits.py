"""Parse the implementer's edit blocks and apply them inside a worktree, all or nothing.

The format is described in docs/edit-format.md. Applying works in two phases: every path
is checked and every edit is matched against the files in memory; only if all of that
succeeds are the files written, each atomically, and a failed write rolls back the ones
already written. Paths are checked component by component with ``lstat`` and written
through directory file descriptors opened with ``O_NOFOLLOW``, so no symlink, ``..`` or
``.git`` path can make an edit land outside the worktree or inside git's own files.
"""

from __future__ import annotations

import difflib
import os
import stat
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from baton.errors import EditError
from baton.workspace.editformat import FORMAT_HELP, Edit, elisions, parse_edits
from baton.workspace.editmatch import TOLERANCES, replace_once, split_lines
from baton.workspace.safepaths import (
    MAX_FILE_BYTES,
    UnsafePathError,
    check_path,
)

__all__ = [
    "FORMAT_HELP",
    "MAX_FILE_BYTES",
    "TOLERANCES",
    "AppliedEdits",
    "Edit",
    "UnsafePathError",
    "apply_edits",
    "check_path",
    "parse_edits",
]

@dataclass
class AppliedEdits:
    """What apply_edits changed: files written and lines added and removed.

    ``tolerances`` has one entry per edit, in order: which matching step it needed (one of
    ``TOLERANCES``; "none" for an exact match, a new file or a whole-file block).
    """

    files: list[str]
    added: int
    removed: int
    per_file: dict[str, tuple[int, int]]
    outside_plan: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    tolerances: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    renamed: dict[str, str] = field(default_factory=dict)
    """Old path -> new path of every file moved (its old path is also in ``deleted``)."""
    edit_format: str = ""
    """The format the answer was in (``workspace.formats``), when a caller sets it."""
    notes: list[str] = field(default_factory=list)
    """Anything else the reviewer must be told (what an agent did to git, undone)."""

    def flags(self) -> list[str]:
        """What the reviewer is told about files this change deletes or renames."""
        moved = set(self.renamed)
        return ([f"renames {old} to {new}" for old, new in self.renamed.items()]
                + [f"deletes {path}" for path in self.deleted if path not in moved]
                + list(self.notes))


# --- applying ----------------------------------------------------------------------------


@dataclass
class _File:
    """One file the batch touches: what is on disk now and what it will become."""

    rel: str
    parts: list[str]
    original: bytes | None  # None: the file does not exist yet
    mode: int | None
    text: str  # with "\n" line endings; CRLF files are converted back on write
    crlf: bool
    new_bytes: bytes = b""
    deleted: bool = False  # removed by a delete, or moved away by a rename


def apply_edits(
    root: Path,
    edits: Sequence[Edit],
    *,
    protected: Iterable[str] = (),
    allowed_files: Iterable[str] | None = None,
    max_file_bytes: int = MAX_FILE_BYTES,
) -> AppliedEdits:
    """Apply every edit under ``root``, or none of them; EditError says what to fix."""
    root_real = Path(os.path.realpath(root))
    protected = list(protected)
    files: dict[str, _File] = {}
    problems: list[str] = []
    tolerances: list[str] = []
    renamed: dict[str, str] = {}

    def state_of(path: str) -> _File:
        rel = check_path(root_real, path, protected=protected).relative_to(root_real).as_posix()
        if rel not in files:
            files[rel] = _load(root_real, rel, max_file_bytes)
        return files[rel]

    for number, edit in enumerate(edits, 1):
        state = state_of(edit.path)
        try:
            if edit.kind == "move":
                target = state_of(edit.new_path)
                _move(state, target)
                renamed[state.rel] = target.rel
                tolerances.append("none")
                continue
            if state.deleted:
                raise EditError("an earlier change in this answer deletes or moves this file")
            state.text, tolerance = _apply_one(state, edit)
            tolerances.append(tolerance)
        except EditError as exc:
            problems.append(f"edit {number} of {len(edits)} ({state.rel}): {exc}")
    if problems:
        raise EditError("\n\n".join(problems) + "\n\nNo file was changed; fix these and resend.")
    _check_nesting({rel: f for rel, f in files.items() if not f.deleted})
    changed = [f for f in files.values()
               if (f.original is not None if f.deleted
                   else _render(f, max_file_bytes) != f.original)]
    _write_all(root_real, changed)
    result = _summary(files, changed, allowed_files)
    result.tolerances = tolerances
    result.renamed = {old: new for old, new in renamed.items()
                      if not files[new].deleted}
    return result


def _move(source: _File, target: _File) -> None:
    """Rename ``source`` to ``target`` in memory: its text goes there, it is deleted."""
    if source.deleted or (source.original is None and not source.text):
        raise EditError("the file to move does not exist (or an earlier change in this answer "
                        "deletes or moves it)")
    if target.rel == source.rel:
        raise EditError("the file is moved to its own path")
    if (target.original is not None and not target.deleted) or target.text:
        raise EditError(f"the new path {target.rel} already exists; delete it first or "
                        "choose another path")
    target.text, target.crlf, target.deleted = source.text, source.crlf, False
    target.mode = source.mode
    source.text, source.deleted = "", True


def _load(root: Path, rel: str, max_file_bytes: int) -> _File:
    parts = rel.split("/")
    try:
        data, mode = _read_file(root, parts, max_file_bytes)
    except FileNotFoundError:
        return _File(rel, parts, None, None, "", False)
    except OSError as exc:
        raise UnsafePathError(rel, f"cannot read it safely: {exc.strerror or exc}") from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise EditError(f"{rel} is not UTF-8 text; baton only edits text files") from None
    crlf = "\r\n" in text and text.count("\r\n") == text.count("\n")
    return _File(rel, parts, data, mode, text.replace("\r\n", "\n") if crlf else text, crlf)


def _read_file(root: Path, parts: list[str], max_file_bytes: int) -> tuple[bytes, int]:
    dir_fd = _open_dirs(root, parts[:-1], created=None)
    try:
        flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
        fd = os.open(parts[-1], flags, dir_fd=dir_fd)
    finally:
        os.close(dir_fd)
    with os.fdopen(fd, "rb") as fh:
        st = os.fstat(fh.fileno())
        if not stat.S_ISREG(st.st_mode):
            raise UnsafePathError("/".join(parts), "the path is not a regular file")
        if st.st_size > max_file_bytes:
            raise UnsafePathError(
                "/".join(parts), f"the file is larger than {max_file_bytes} bytes; edit it by hand"
            )
        return fh.read(max_file_bytes + 1), stat.S_IMODE(st.st_mode)


def _apply_one(state: _File, edit: Edit) -> tuple[str, str]:
    """The file's new text after ``edit``, and the matching tolerance it needed."""
    exists = state.original is not None or bool(state.text)
    if edit.kind == "delete":
        if not exists:
            raise EditError("the file to delete does not exist")
        state.deleted = True
        return "", "none"
    _refuse_elisions(state, edit)
    if edit.kind == "whole":
        return edit.replace, "none"
    if edit.kind == "insert":
        if not exists:
            raise EditError("the file does not exist; to create it, use create")
        return _insert(state, edit.line, edit.replace), "none"
    if edit.kind == "substring":
        if not exists:
            raise EditError("the file does not exist; to create it, use create")
        return _replace_substring(state, edit)
    if edit.kind == "create" or not edit.search:
        if state.text.strip():
            raise EditError(
                "the SEARCH section is empty, which creates a file, but this file already "
                "exists and is not empty; put the lines to change in SEARCH, or use a "
                "FILE block to replace the whole file"
            )
        return edit.replace, "none"
    if not exists:
        raise EditError("the file does not exist; to create it, leave the SEARCH section empty")
    if edit.anchor:
        return _after_anchor(state, edit)
    return replace_once(state.text, edit.search, edit.replace, state.rel)


def _insert(state: _File, line: int, text: str) -> str:
    lines = split_lines(state.text)
    if line > len(lines):
        raise EditError(f"insert_line {line} is past the end of the file, which has "
                        f"{len(lines)} lines")
    at = len(lines) if line < 0 else line
    if at and not lines[at - 1].endswith("\n"):
        lines[at - 1] += "\n"
    return "".join([*lines[:at], text, *lines[at:]])


def _replace_substring(state: _File, edit: Edit) -> tuple[str, str]:
    """The editor tool's str_replace: an exact substring once, else tolerant line matching."""
    count = state.text.count(edit.search)
    at = state.text.find(edit.search)
    # Indented old_str found inside deeper indentation ("    return" in "        return")
    # was copied with the wrong indentation: the line matching below carries the shift.
    in_indent = edit.search[:1].isspace() and at > 0 and state.text[at - 1] != "\n"
    if count == 1 and not in_indent:
        return state.text.replace(edit.search, edit.replace), "none"
    if count > 1:
        starts: list[str] = []
        at = -1
        while (at := state.text.find(edit.search, at + 1)) >= 0 and len(starts) < 9:
            starts.append(str(state.text.count("\n", 0, at) + 1))
        raise EditError(f"the SEARCH text occurs {count} times in {state.rel} (at lines "
                        f"{', '.join(starts)}); add more surrounding lines to SEARCH so it "
                        "matches exactly one place")
    search = edit.search if edit.search.endswith("\n") else edit.search + "\n"
    replace = edit.replace if not edit.replace or edit.replace.endswith("\n") \
        else edit.replace + "\n"
    return replace_once(state.text, search, replace, state.rel)


def _after_anchor(state: _File, edit: Edit) -> tuple[str, str]:
    """A V4A hunk: SEARCH matched from the first line equal to its ``@@`` context on (that
    line included, as hunks often repeat it as their first context line)."""
    lines = split_lines(state.text)
    wanted = edit.anchor.strip()
    at = next((i for i, line in enumerate(lines) if line.strip() == wanted), None)
    if at is None:
        raise EditError(f"the @@ context line {edit.anchor[:80]!r} is not a line of "
                        f"{state.rel}; copy it exactly from the current file")
    head = "".join(lines[:at])
    tail, tolerance = replace_once("".join(lines[at:]), edit.search, edit.replace, state.rel)
    return head + tail, tolerance


def _refuse_elisions(state: _File, edit: Edit) -> None:
    """Refuse REPLACE / FILE content with a line standing for code left out."""
    found = elisions(edit.replace)
    if not found:
        return
    known = {line.strip() for line in split_lines(edit.search)}
    known.update(line.strip() for line in split_lines(state.text))
    new = [(n, line) for n, line in found if line not in known]
    if not new:
        return
    section = "FILE" if edit.kind == "whole" else "REPLACE"
    number, line = new[0]
    more = f" (and {len(new) - 1} more)" if len(new) > 1 else ""
    raise EditError(
        f"line {number} of {section}, {line[:80]!r}{more}, stands for code left out. baton "
        f"writes {section} literally, so this would delete the code it stands for. Write out "
        "every line the section should contain, or use smaller SEARCH/REPLACE blocks around "
        "just the lines that change (a Python body of only '...' can be 'pass', or go on the "
        "def line)"
    )


def _check_nesting(files: dict[str, _File]) -> None:
    """Refuse a batch in which one edit's file is another edit's directory."""
    names = sorted(files)
    for name in names:
        for other in names:
            if other.startswith(name + "/"):
                raise UnsafePathError(
                    other, f"another edit in this batch writes {name!r} as a file"
                )


def _render(state: _File, max_file_bytes: int) -> bytes:
    """The bytes to write for ``state``, after the checks on new content."""
    text = state.text.replace("\n", "\r\n") if state.crlf else state.text
    if "\x00" in text:
        raise EditError(f"{state.rel}: the new content contains NUL bytes; only text is written")
    try:
        data = text.encode("utf-8")
    except UnicodeEncodeError:
        raise EditError(f"{state.rel}: the new content is not valid UTF-8 text") from None
    if len(data) > max_file_bytes:
        raise UnsafePathError(
            state.rel,
            f"the new content is {len(data)} bytes, over the {max_file_bytes}-byte limit",
        )
    state.new_bytes = data
    return data


def _summary(
    files: dict[str, _File], changed: list[_File], allowed: Iterable[str] | None
) -> AppliedEdits:
    per_file: dict[str, tuple[int, int]] = {}
    for state in changed:
        old = (state.original or b"").decode("utf-8").replace("\r\n", "\n")
        per_file[state.rel] = _count_lines(old, "" if state.deleted else state.text)
    names = [s.rel for s in changed]
    outside: list[str] = []
    if allowed is not None:
        plan = {"/".join(p for p in a.split("/") if p not in ("", ".")) for a in allowed}
        outside = [n for n in names if n not in plan]
    return AppliedEdits(
        files=names,
        added=sum(a for a, _ in per_file.values()),
        removed=sum(r for _, r in per_file.values()),
        per_file=per_file,
        outside_plan=outside,
        unchanged=[n for n in files if n not in per_file],
        deleted=[s.rel for s in changed if s.deleted],
    )


def _count_lines(old: str, new: str) -> tuple[int, int]:
    added = removed = 0
    matcher = difflib.SequenceMatcher(None, split_lines(old), split_lines(new))
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag in ("replace", "delete"):
            removed += i2 - i1
        if tag in ("replace", "insert"):
            added += j2 - j1
    return added, removed


# --- writing -----------------------------------------------------------------------------


def _write_all(root: Path, changed: list[_File]) -> None:
    """Write every file atomically; if one write fails, put back the ones already written."""
    written: list[_File] = []
    created_dirs: list[tuple[str, ...]] = []
    # Deletions last: a failed write then has nothing deleted to put back.
    for state in sorted(changed, key=lambda s: s.deleted):
        try:
            if state.deleted:
                _delete_file(root, state.parts)
            else:
                _write_file(root, state.parts, state.new_bytes, state.mode, created_dirs)
        except (OSError, EditError) as exc:
            leftovers = _rollback(root, written, created_dirs)
            detail = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
            note = f" Could not restore: {', '.join(leftovers)}." if leftovers else ""
            raise EditError(
                f"writing {state.rel} failed ({detail}); no file was changed.{note}"
            ) from exc
        written.append(state)


def _write_file(
    root: Path,
    parts: list[str],
    data: bytes,
    mode: int | None,
    created_dirs: list[tuple[str, ...]] | None,
) -> None:
    dir_fd = _open_dirs(root, parts[:-1], created=created_dirs)
    name = parts[-1]
    tmp = f".baton-{os.urandom(6).hex()}.tmp"
    try:
        try:
            st = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
        except FileNotFoundError:
            st = None
        if st is not None and not stat.S_ISREG(st.st_mode):
            raise UnsafePathError("/".join(parts), "the path is no longer a regular file")
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
        fd = os.open(tmp, flags, 0o666 if mode is None else mode, dir_fd=dir_fd)
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
                if mode is not None:
                    os.fchmod(fh.fileno(), mode)
            os.replace(tmp, name, src_dir_fd=dir_fd, dst_dir_fd=dir_fd)
        except BaseException:
            _unlink_quietly(tmp, dir_fd)
            raise
    finally:
        os.close(dir_fd)


def _delete_file(root: Path, parts: list[str]) -> None:
    dir_fd = _open_dirs(root, parts[:-1], created=None)
    try:
        st = os.stat(parts[-1], dir_fd=dir_fd, follow_symlinks=False)
        if not stat.S_ISREG(st.st_mode):
            raise UnsafePathError("/".join(parts), "the path is no longer a regular file")
        os.unlink(parts[-1], dir_fd=dir_fd)
    finally:
        os.close(dir_fd)


def _open_dirs(root: Path, parts: list[str], *, created: list[tuple[str, ...]] | None) -> int:
    """A descriptor for root/parts, never following a symlink; creates missing dirs if asked."""
    fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    flags = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
    try:
        for depth, part in enumerate(parts, 1):
            try:
                next_fd = os.open(part, flags, dir_fd=fd)
            except FileNotFoundError:
                if created is None:
                    raise
                os.mkdir(part, 0o777, dir_fd=fd)
                created.append(tuple(parts[:depth]))
                next_fd = os.open(part, flags, dir_fd=fd)
            os.close(fd)
            fd = next_fd
    except BaseException:
        os.close(fd)
        raise
    return fd


def _rollback(root: Path, written: list[_File], created_dirs: list[tuple[str, ...]]) -> list[str]:
    """Restore written files and remove created directories; the names that could not be."""
    failed: list[str] = []
    for state in reversed(written):
        try:
            if state.deleted:
                assert state.original is not None
                _write_file(root, state.parts, state.original, state.mode, None)
            elif state.original is None:
                dir_fd = _open_dirs(root, state.parts[:-1], created=None)
                try:
                    os.unlink(state.parts[-1], dir_fd=dir_fd)
                finally:
                    os.close(dir_fd)
            else:
                _write_file(root, state.parts, state.original, state.mode, None)
        except (OSError, EditError):
            failed.append(state.rel)
    for parts in reversed(created_dirs):
        try:
            dir_fd = _open_dirs(root, list(parts[:-1]), created=None)
            try:
                os.rmdir(parts[-1], dir_fd=dir_fd)
            finally:
                os.close(dir_fd)
        except OSError:
            failed.append("/".join(parts) + "/")
    return failed


def _unlink_quietly(name: str, dir_fd: int) -> None:
    try:
        os.unlink(name, dir_fd=dir_fd)
    except OSError:
        pass
