"""Per edit format: the share of realistic slips that applies on the first try, and the cost
of parsing and matching an answer against a 2 MiB file.

    .venv/bin/python benchmarks/bench_edit_formats.py [--repeat 5]

The corpus is baton's own: four edits to four real-looking modules, each written in every
format with each of that format's slips (what models get wrong when they write edits:
trailing spaces, shifted indentation, an extra blank line, CRLF, fences and prose, a
missing ``@@`` line, a stale context line, a partial ``old_str``, ...). Each answer goes
through ``parse_answer`` and ``apply_edits`` on a fresh copy of its file, as the
implementer's does. "applied" means the file became exactly what a perfect edit gives;
"wrong" means written but different: it must stay 0 for the formats that match old text,
while a whole-file answer cannot show a slip in its content, so it writes it (its "wrong"
column is what that costs). Slips no tool can repair (a stale line, an elision) are in the
corpus on purpose and count as not applied. Not part of the
test suite; it prints figures and asserts nothing.

Measured on the shared 2-core machine (``--repeat 3``):

    format           cases  applied   share  refused  wrong
    search_replace      44       36     82%        8      0
    apply_patch         48       40     83%        8      0
    editor_tool         44       36     82%        8      0
    whole_file          44       24     55%        4     16

and on a 2 MiB file (83,577 lines), CPU ms of one answer: 0.1-0.35 s for an exact or
shifted edit in the matching formats (the write included), under 0.1 s for a miss with
its hint or an ambiguous SEARCH (7.8 s before the ambiguity message counted lines for the
first few matches only), 0.3-1.5 s for a whole-file answer of that size.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

from baton.errors import EditError
from baton.workspace.edits import MAX_FILE_BYTES, apply_edits
from baton.workspace.formats import EDIT_FORMATS, parse_answer

FILES = {
    "billing/invoice.py": '''"""Invoices and their totals."""

from decimal import Decimal


class Invoice:
    def __init__(self, lines, tax_rate):
        self.lines = list(lines)
        self.tax_rate = Decimal(tax_rate)

    def subtotal(self):
        total = Decimal(0)
        for line in self.lines:
            total += line.price * line.quantity
        return total

    def tax(self):
        return (self.subtotal() * self.tax_rate).quantize(Decimal("0.01"))

    def total(self):
        return self.subtotal() + self.tax()
''',
    "web/routes.py": '''from flask import Blueprint, jsonify, request

bp = Blueprint("api", __name__)


@bp.get("/items")
def list_items():
    limit = int(request.args.get("limit", 20))
    items = store.list(limit=limit)
    return jsonify([item.to_dict() for item in items])


@bp.post("/items")
def create_item():
    data = request.get_json()
    item = store.create(name=data["name"])
    return jsonify(item.to_dict()), 201
''',
    "cli/config.py": '''import os
import tomllib


def load(path):
    with open(path, "rb") as fh:
        data = tomllib.load(fh)
    data.setdefault("timeout", 30)
    if "TOKEN" in os.environ:
        data["token"] = os.environ["TOKEN"]
    return data


def save(path, data):
    raise NotImplementedError("config files are read-only")
''',
    "util/retry.py": '''import time


def retry(call, attempts=3, delay=0.5):
    last = None
    for attempt in range(attempts):
        try:
            return call()
        except OSError as exc:
            last = exc
            time.sleep(delay * 2 ** attempt)
    raise last
''',
}


@dataclass(frozen=True)
class Case:
    """One edit: replace ``old`` (whole lines of the file) with ``new``, below ``anchor``."""

    path: str
    anchor: str
    old: str
    new: str
    crlf: bool = False
    fence: bool = False
    path_shown: str = ""
    no_at: bool = False
    bare_blank: bool = False
    partial: bool = False
    wrap: str = ""


CASES = [
    Case("billing/invoice.py", "def tax(self):",
         '        return (self.subtotal() * self.tax_rate).quantize(Decimal("0.01"))\n',
         '        rate = max(self.tax_rate, Decimal(0))\n'
         '        return (self.subtotal() * rate).quantize(Decimal("0.01"))\n'),
    Case("web/routes.py", "def list_items():",
         '    limit = int(request.args.get("limit", 20))\n'
         '    items = store.list(limit=limit)\n',
         '    limit = min(int(request.args.get("limit", 20)), 100)\n'
         '    items = store.list(limit=limit)\n'),
    Case("cli/config.py", "def load(path):",
         '    data.setdefault("timeout", 30)\n'
         '    if "TOKEN" in os.environ:\n',
         '    data.setdefault("timeout", 30)\n'
         '    data.setdefault("retries", 3)\n'
         '    if "TOKEN" in os.environ:\n'),
    Case("util/retry.py", "def retry(call, attempts=3, delay=0.5):",
         '        except OSError as exc:\n'
         '            last = exc\n',
         '        except (OSError, TimeoutError) as exc:\n'
         '            last = exc\n'),
]


def _lines(text: str, change: Callable[[str], str]) -> str:
    return "".join(change(line[:-1]) + "\n" if line.strip() else line
                   for line in text.splitlines(keepends=True))


def trailing_spaces(c: Case) -> Case:
    return replace(c, old=_lines(c.old, lambda s: s + "  "))


def dedented(c: Case) -> Case:
    def less(s: str) -> str:
        return s[4:] if s.startswith("    ") else s

    return replace(c, old=_lines(c.old, less), new=_lines(c.new, less))


def indented_more(c: Case) -> Case:
    return replace(c, old=_lines(c.old, lambda s: "    " + s),
                   new=_lines(c.new, lambda s: "    " + s))


def blank_before(c: Case) -> Case:
    return replace(c, old="\n" + c.old, new="\n" + c.new)


def blank_after(c: Case) -> Case:
    return replace(c, old=c.old + "\n", new=c.new + "\n")


def crlf(c: Case) -> Case:
    return replace(c, crlf=True)


def fenced(c: Case) -> Case:
    return replace(c, fence=True)


def dot_slash_path(c: Case) -> Case:
    return replace(c, path_shown="./" + c.path)


def stale_line(c: Case) -> Case:
    """A context line as the model remembers it, not as it is: no tool can match it."""
    first = c.old.splitlines(keepends=True)
    first[0] = first[0].replace("(", "( ", 1) if "(" in first[0] else "x" + first[0]
    return replace(c, old="".join(first))


def elided(c: Case) -> Case:
    """The replacement stands for code by a comment: refused, never written."""
    indent = c.new[: len(c.new) - len(c.new.lstrip())]
    return replace(c, new=c.new + f"{indent}# ... existing code ...\n")


def no_at_line(c: Case) -> Case:
    return replace(c, no_at=True)


def bare_blank(c: Case) -> Case:
    return replace(c, old=c.old + "\n", new=c.new + "\n", bare_blank=True)


def heredoc(c: Case) -> Case:
    return replace(c, wrap="heredoc")


def partial_old(c: Case) -> Case:
    return replace(c, partial=True)


def prose_around(c: Case) -> Case:
    return replace(c, wrap="prose")


COMMON = [trailing_spaces, dedented, indented_more, blank_before, blank_after, crlf,
          stale_line, elided, prose_around]
SLIPS: dict[str, list[Callable[[Case], Case]]] = {
    "search_replace": [*COMMON, fenced, dot_slash_path],
    "whole_file": [crlf, fenced, dot_slash_path, prose_around, elided, trailing_spaces,
                   blank_before, blank_after, stale_line, dedented, indented_more],
    "apply_patch": [*COMMON, no_at_line, bare_blank, heredoc],
    "editor_tool": [trailing_spaces, dedented, indented_more, blank_before, blank_after,
                    stale_line, elided, partial_old, dot_slash_path, crlf, prose_around],
}


def render(fmt: str, c: Case, clean: Case | None = None
           ) -> tuple[str, list[tuple[str, str]], str]:
    """(answer text, tool calls, the file as a perfect edit leaves it)."""
    original = FILES[c.path]
    clean = clean or next(x for x in CASES if x.path == c.path)
    expected = original.replace(clean.old, clean.new, 1)
    path = c.path_shown or c.path
    if fmt == "search_replace":
        body = f"{path}\n<<<<<<< SEARCH\n{c.old}=======\n{c.new}>>>>>>> REPLACE\n"
    elif fmt == "whole_file":
        # A whole file carries the slip wherever the changed lines are.
        content = original.replace(clean.old, c.new, 1)
        body = f"{path}\n<<<<<<< FILE\n{content}>>>>>>> FILE\n"
    elif fmt == "apply_patch":
        at = "" if c.no_at else f"@@ {c.anchor}\n" if c.anchor else "@@\n"
        hunk = "".join((" " + line if line.strip() or not c.bare_blank else line) + "\n"
                       for line in _common(c.old, c.new)[0])
        hunk += "".join("-" + line + "\n" for line in _common(c.old, c.new)[1])
        hunk += "".join("+" + line + "\n" for line in _common(c.old, c.new)[2])
        hunk += "".join((" " + line if line.strip() or not c.bare_blank else line) + "\n"
                        for line in _common(c.old, c.new)[3])
        body = f"*** Begin Patch\n*** Update File: {path}\n{at}{hunk}*** End Patch\n"
        if c.wrap == "heredoc":
            body = f"apply_patch <<'EOF'\n{body}EOF\n"
        if c.fence:
            body = f"```\n{body}```\n"
        return _wrap(body, c), [("apply_patch", json.dumps({"input": _crlf(body, c)}))], \
            expected
    else:
        old, new = c.old, c.new
        if c.partial:  # from the first line's code on, no final newline: as models send
            old, new = c.old.strip(), c.new.strip()
        args = {"command": "str_replace", "path": path, "old_str": _crlf(old, c),
                "new_str": _crlf(new, c)}
        return _wrap("I will make the change.", c), [
            ("str_replace_based_edit_tool", json.dumps(args))], expected
    if c.fence:
        body = f"```python\n{body}```\n"
    return _crlf(_wrap(body, c), c), [], expected


def _common(old: str, new: str) -> tuple[list[str], list[str], list[str], list[str]]:
    """Lines shared at the start, the removed, the added, lines shared at the end."""
    a, b = old.splitlines(), new.splitlines()
    head = 0
    while head < min(len(a), len(b)) and a[head] == b[head]:
        head += 1
    tail = 0
    while tail < min(len(a), len(b)) - head and a[-1 - tail] == b[-1 - tail]:
        tail += 1
    return a[:head], a[head:len(a) - tail], b[head:len(b) - tail], a[len(a) - tail:]


def _wrap(body: str, c: Case) -> str:
    if c.wrap == "prose":
        return f"Here is the change you asked for.\n\n{body}\nThis keeps behaviour otherwise.\n"
    return body


def _crlf(text: str, c: Case) -> str:
    return text.replace("\n", "\r\n") if c.crlf else text


def corpus_shares() -> dict[str, dict[str, int]]:
    out: dict[str, dict[str, int]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        for fmt in EDIT_FORMATS:
            counts = {"cases": 0, "applied": 0, "refused": 0, "wrong": 0}
            for slip in SLIPS[fmt]:
                for case in CASES:
                    counts["cases"] += 1
                    for rel, text in FILES.items():
                        (root / rel).parent.mkdir(parents=True, exist_ok=True)
                        (root / rel).write_text(text)
                    text, calls, expected = render(fmt, slip(case))
                    try:
                        apply_edits(root, parse_answer(text, calls)[1])
                    except EditError:
                        counts["refused"] += 1
                        continue
                    ok = (root / case.path).read_text() == expected
                    counts["applied" if ok else "wrong"] += 1
            out[fmt] = counts
    return out


def big_file_costs(repeat: int) -> dict[str, dict[str, tuple[float, str]]]:
    """Milliseconds of parse_answer + apply_edits on a 2 MiB module: an exact edit near its
    end, the same with its lines shifted (tolerant matching), and a miss (with the hint)."""
    block = FILES["billing/invoice.py"].split("\n\n\n", 1)[1]
    parts, n = [], 0
    size = 0
    while size + len(block) + 16 < MAX_FILE_BYTES - 4096:  # the largest file baton edits
        parts.append(block.replace("class Invoice", f"class Invoice{n}"))
        size += len(parts[-1]) + 2
        n += 1
    text = '"""Generated."""\n\nfrom decimal import Decimal\n\n\n' + "\n\n".join(parts)
    last = f"class Invoice{n - 1}:"
    init = "    def __init__(self, lines, tax_rate):\n"
    case = Case("big.py", last, f"{last}\n{init}",
                f'{last}\n    """One invoice."""\n\n{init}')
    # "ambiguous": lines that occur in every class (thousands of times) with no anchor.
    variants = {"exact": case, "shifted": indented_more(case), "miss": stale_line(case),
                "ambiguous": replace(CASES[0], path="big.py", anchor="")}
    out: dict[str, dict[str, tuple[float, str]]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        FILES["big.py"] = text
        print(f"(the file: {len(text.encode()) / 2**20:.2f} MiB, {text.count(chr(10))} lines)")
        for fmt in EDIT_FORMATS:
            out[fmt] = {}
            for name, variant in variants.items():
                times = []
                outcome = "applied"
                for _ in range(repeat):
                    (root / "big.py").write_text(text)
                    answer, calls, _ = render(fmt, variant, case)
                    start = time.process_time()
                    try:
                        apply_edits(root, parse_answer(answer, calls)[1])
                    except EditError:
                        outcome = "refused"
                    times.append((time.process_time() - start) * 1000)
                out[fmt][name] = (statistics.median(times), outcome)
        del FILES["big.py"]
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    print("share of the slip corpus that applies on the first try")
    print(f"{'format':<16}{'cases':>6}{'applied':>9}{'share':>8}{'refused':>9}{'wrong':>7}")
    for fmt, c in corpus_shares().items():
        print(f"{fmt:<16}{c['cases']:>6}{c['applied']:>9}{c['applied'] / c['cases']:>8.0%}"
              f"{c['refused']:>9}{c['wrong']:>7}")
    print("\nparse + match + write of one answer on a 2 MiB file, median CPU ms "
          f"of {args.repeat}")
    print(f"{'format':<16}{'exact':>18}{'shifted':>18}{'miss':>18}{'ambiguous':>18}")
    for fmt, t in big_file_costs(args.repeat).items():
        cells = "".join(f"{f'{ms:.1f} ({outcome})':>18}" for ms, outcome in t.values())
        print(f"{fmt:<16}{cells}")


if __name__ == "__main__":
    main()
