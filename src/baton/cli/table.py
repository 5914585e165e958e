"""Plain text tables for the quick commands, drawn like rich's without importing rich.

``trace summary`` and ``runs`` print one table and exit; importing rich cost more than
the rest of such a command (issue 18). Cells are never cut or wrapped: a table wider than
the terminal is printed wider, so model names, run ids and amounts stay whole on a pipe
and on a narrow terminal alike.
"""

from __future__ import annotations

import unicodedata


def _width(text: str) -> int:
    """Columns ``text`` takes on a terminal (wide East Asian characters take two)."""
    if text.isascii():
        return len(text)
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 0
               if unicodedata.combining(ch) else 1 for ch in text)


class Table:
    """Columns, rows and section breaks; :meth:`render` gives the text."""

    def __init__(self, title: str = "") -> None:
        self.title = title
        self.columns: list[tuple[str, str]] = []
        self.rows: list[list[str]] = []
        self.breaks: set[int] = set()  # a rule after these row indexes

    def add_column(self, name: str, justify: str = "left") -> None:
        """A column; ``justify`` is ``left`` or ``right``."""
        self.columns.append((name, justify))

    def add_row(self, *cells: str, end_section: bool = False) -> None:
        """A row of as many cells as columns; ``end_section`` draws a rule under it."""
        if len(cells) != len(self.columns):
            raise ValueError(f"{len(cells)} cells for {len(self.columns)} columns")
        self.rows.append([" ".join(str(cell).split("\n")) for cell in cells])
        if end_section:
            self.breaks.add(len(self.rows) - 1)

    def render(self) -> str:
        """The table as lines of text (title, header, rows), ending in a newline."""
        widths = [max([_width(name)] + [_width(row[i]) for row in self.rows])
                  for i, (name, _) in enumerate(self.columns)]

        def line(cells: list[str], bar: str) -> str:
            parts = []
            for cell, width, (_, justify) in zip(cells, widths, self.columns, strict=True):
                pad = " " * (width - _width(cell))
                parts.append(f" {pad}{cell} " if justify == "right" else f" {cell}{pad} ")
            return bar + bar.join(parts) + bar

        def rule(left: str, fill: str, cross: str, right: str) -> str:
            return left + cross.join(fill * (w + 2) for w in widths) + right

        total = sum(widths) + 3 * len(widths) + 1
        out = []
        if self.title:
            out.append(self.title.center(total).rstrip())
        out.append(rule("┏", "━", "┳", "┓"))
        out.append(line([name for name, _ in self.columns], "┃"))
        out.append(rule("┡", "━", "╇", "┩"))
        for index, row in enumerate(self.rows):
            out.append(line(row, "│"))
            if index in self.breaks and index != len(self.rows) - 1:
                out.append(rule("├", "─", "┼", "┤"))
        out.append(rule("└", "─", "┴", "┘"))
        return "\n".join(out) + "\n"
