"""A unified diff (``git diff`` output) as highlighted HTML, one block per file."""

from __future__ import annotations

from dataclasses import dataclass

from baton.report.html import Html, join, table, tag


@dataclass
class FileStat:
    """Lines added and removed in one file of a diff."""

    path: str
    added: int = 0
    removed: int = 0


def _line_class(line: str, in_header: bool) -> str:
    if line.startswith("diff --git"):
        return "file"
    if in_header:
        return "meta"
    if line.startswith("@@"):
        return "hunk"
    if line.startswith("+"):
        return "add"
    if line.startswith("-"):
        return "del"
    if line.startswith("\\"):
        return "meta"
    return "ctx"


def diff_stats(text: str) -> list[FileStat]:
    """Per-file added/removed line counts of a unified diff."""
    stats: list[FileStat] = []
    in_header = False
    for line in text.splitlines():
        if line.startswith("diff --git"):
            path = line.split(" b/", 1)[-1] if " b/" in line else line[len("diff --git "):]
            stats.append(FileStat(path))
            in_header = True
        elif line.startswith("@@"):
            in_header = False
        elif stats and not in_header:
            if line.startswith("+"):
                stats[-1].added += 1
            elif line.startswith("-"):
                stats[-1].removed += 1
    return stats


def render_diff(text: str, *, max_lines: int = 5000) -> Html:
    """The diff with file headers, hunks, additions and removals coloured."""
    if not text.strip():
        return tag("p", "no changes", class_="muted")
    lines = text.splitlines()
    shown = lines[:max_lines]
    rows = []
    in_header = False
    for line in shown:
        if line.startswith("diff --git"):
            in_header = True
        elif line.startswith("@@"):
            in_header = False
        rows.append(tag("div", line or " ", class_=_line_class(line, in_header)))
    if len(lines) > max_lines:
        rows.append(tag("div", f"... {len(lines) - max_lines} more lines in patch.diff",
                        class_="meta"))
    stats = diff_stats(text)
    summary = table(["file", "added", "removed"],
                    [[s.path, f"+{s.added}", f"-{s.removed}"] for s in stats], numeric=(1, 2),
                    class_="diffstat")
    return join([summary, tag("pre", join(rows), class_="diff")])
