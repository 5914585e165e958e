"""Edits as real models write them: each tolerance applied (result checked byte for byte)
and each refusal (ambiguous with line numbers, not found, tab/space mix, elision, unsafe
path), through the public parse_edits / apply_edits; a sample end to end via `baton run`.

Several cases follow the real-model quirks collected in Aider's SEARCH/REPLACE tests
(tests/basic/test_editblock.py): a method copied without its class indentation, partly
missing indentation, a spurious leading blank line, "..." between blocks, a path line
mangled into its own fence. Where Aider replaces the first of several matches, baton
refuses as ambiguous.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from conftest import (
    IMPLEMENTER,
    demo_script,
    events,
    response,
    run_json,
    set_responses,
    snapshot,
)

from baton.errors import EditError
from baton.workspace.edits import TOLERANCES, Edit, UnsafePathError, apply_edits, parse_edits


def block(path: str, search: str, replace: str) -> str:
    return f"{path}\n<<<<<<< SEARCH\n{search}=======\n{replace}>>>>>>> REPLACE\n"


@dataclass
class Applied:
    """The edit applies: these files end up with exactly these bytes."""

    files: dict[str, bytes]
    tolerances: list[str]


@dataclass
class Refused:
    """The edit is refused with a message containing every one of ``says``."""

    says: list[str]
    error: type[EditError] = EditError
    extra: dict[str, str] = field(default_factory=dict)


CLASS = "class Stack:\n    def push(self, x):\n        self.items.append(x)\n\n" \
        "    def pop(self):\n        return self.items.pop()\n"
GO = "func f() {\n\tif ok {\n\t\treturn\n\t}\n}\n"

# (id, files before, reply, expected)
CASES: list[tuple[str, dict[str, str], str, Applied | Refused]] = [
    # --- exact and trailing whitespace -------------------------------------------------------
    ("exact", {"a.py": "x = 1\ny = 2\n"}, block("a.py", "y = 2\n", "y = 3\n"),
     Applied({"a.py": b"x = 1\ny = 3\n"}, ["none"])),
    ("trailing-spaces-in-search", {"a.py": "x = 1\ny = 2\n"},
     block("a.py", "y = 2   \n", "y = 3\n"),
     Applied({"a.py": b"x = 1\ny = 3\n"}, ["trailing_whitespace"])),
    ("trailing-tab-in-file", {"a.py": "x = 1\t\ny = 2\n"}, block("a.py", "x = 1\n", "x = 0\n"),
     Applied({"a.py": b"x = 0\ny = 2\n"}, ["trailing_whitespace"])),
    ("no-final-newline-kept", {"a.py": "x = 1\ny = 2"}, block("a.py", "y = 2\n", "y = 3\n"),
     Applied({"a.py": b"x = 1\ny = 3"}, ["trailing_whitespace"])),
    # --- a uniform indentation shift ---------------------------------------------------------
    ("method-without-class-indent", {"s.py": CLASS},
     block("s.py", "def pop(self):\n    return self.items.pop()\n",
           "def pop(self):\n    if not self.items:\n        raise IndexError('empty')\n"
           "    return self.items.pop()\n"),
     Applied({"s.py": CLASS.replace("        return self.items.pop()\n",
                                    "        if not self.items:\n"
                                    "            raise IndexError('empty')\n"
                                    "        return self.items.pop()\n").encode()},
             ["indentation"])),
    ("aider-missing-leading-whitespace", {"w.txt": "    line1\n    line2\n    line3\n"},
     block("w.txt", "line1\nline2\n", "new_line1\nnew_line2\n"),
     Applied({"w.txt": b"    new_line1\n    new_line2\n    line3\n"}, ["indentation"])),
    ("aider-varied-missing-whitespace",
     {"w.txt": "\n    line1\n    line2\n        line3\n    line4\n"},
     block("w.txt", "line2\n    line3\n", "new_line2\n    new_line3\n"),
     Applied({"w.txt": b"\n    line1\n    new_line2\n        new_line3\n    line4\n"},
             ["indentation"])),
    ("aider-some-missing-whitespace", {"w.txt": "    line1\n    line2\n    line3\n"},
     block("w.txt", " line1\n line2\n", " new_line1\n     new_line2\n"),
     Applied({"w.txt": b"    new_line1\n        new_line2\n    line3\n"}, ["indentation"])),
    ("search-with-extra-indent", {"s.py": CLASS},
     block("s.py", "        def pop(self):\n            return self.items.pop()\n",
           "        def pop(self):\n            return self.items.pop(0)\n"),
     Applied({"s.py": CLASS.replace("pop()", "pop(0)").encode()}, ["indentation"])),
    ("tabs-shift-carried", {"f.go": GO},
     block("f.go", "if ok {\n\treturn\n}\n", "if ok {\n\treturn 1\n}\n"),
     Applied({"f.go": GO.replace("\t\treturn\n", "\t\treturn 1\n").encode()}, ["indentation"])),
    ("shift-with-blank-line-inside", {"s.py": CLASS},
     block("s.py", "    self.items.append(x)\n\ndef pop(self):\n",
           "    self.items.append(x)\n\n\ndef pop(self):\n"),
     Applied({"s.py": CLASS.replace("(x)\n\n", "(x)\n\n\n").encode()}, ["indentation"])),
    ("shift-and-trailing-whitespace", {"s.py": CLASS},
     block("s.py", "def pop(self):  \n    return self.items.pop()\t\n",
           "def pop(self):\n    return None\n"),
     Applied({"s.py": CLASS.replace("return self.items.pop()", "return None").encode()},
             ["indentation"])),
    ("shift-keeps-blank-replace-lines-blank", {"s.py": CLASS},
     block("s.py", "def pop(self):\n    return self.items.pop()\n",
           "def pop(self):\n    return self.items.pop()\n\ndef peek(self):\n"
           "    return self.items[-1]\n"),
     Applied({"s.py": (CLASS + "\n    def peek(self):\n        return self.items[-1]\n").encode()},
             ["indentation"])),
    ("shift-in-crlf-file", {"c.py": "if x:\r\n    a = 1\r\n    b = 2\r\n"},
     block("c.py", "a = 1\nb = 2\n", "a = 10\nb = 20\n"),
     Applied({"c.py": b"if x:\r\n    a = 10\r\n    b = 20\r\n"}, ["indentation"])),
    ("shift-at-end-without-newline", {"e.py": "def f():\n    return 1"},
     block("e.py", "return 1\n", "return 2\n"),
     Applied({"e.py": b"def f():\n    return 2"}, ["indentation"])),
    # --- one extra blank line at the start or end of SEARCH ----------------------------------
    ("extra-blank-line-at-start", {"a.py": "x = 1\ny = 2\nz = 3\n"},
     block("a.py", "\ny = 2\n", "y = 20\n"),
     Applied({"a.py": b"x = 1\ny = 20\nz = 3\n"}, ["blank_line"])),
    ("extra-blank-line-at-end", {"a.py": "x = 1\ny = 2\nz = 3\n"},
     block("a.py", "y = 2\n\n", "y = 20\n"),
     Applied({"a.py": b"x = 1\ny = 20\nz = 3\n"}, ["blank_line"])),
    ("extra-blank-lines-at-both-ends", {"a.py": "x = 1\ny = 2\nz = 3\n"},
     block("a.py", "\ny = 2\n\n", "y = 20\n"),
     Applied({"a.py": b"x = 1\ny = 20\nz = 3\n"}, ["blank_line"])),
    ("extra-blank-line-in-search-and-replace", {"a.py": "x = 1\ny = 2\nz = 3\n"},
     block("a.py", "\ny = 2\n", "\ny = 20\n"),
     Applied({"a.py": b"x = 1\ny = 20\nz = 3\n"}, ["blank_line"])),
    ("aider-blank-line-and-missing-indent", {"w.txt": "    line1\n    line2\n    line3\n"},
     block("w.txt", "\n  line1\n  line2\n", "  new_line1\n  new_line2\n"),
     Applied({"w.txt": b"    new_line1\n    new_line2\n    line3\n"},
             ["blank_line+indentation"])),
    ("extra-trailing-blank-line-and-tab-shift", {"f.go": GO},
     block("f.go", "if ok {\n\treturn\n}\n\n", "if ok {\n\treturn 2\n}\n\n"),
     Applied({"f.go": GO.replace("\t\treturn\n", "\t\treturn 2\n").encode()},
             ["blank_line+indentation"])),
    ("missing-blank-line-needs-nothing", {"a.py": "x = 1\n\ny = 2\n\nz = 3\n"},
     block("a.py", "y = 2\n", "y = 20\n"),
     Applied({"a.py": b"x = 1\n\ny = 20\n\nz = 3\n"}, ["none"])),
    # --- parsing quirks ---------------------------------------------------------------------
    ("aider-dots-between-blocks", {"foo.txt": "one\nthree\n"},
     "```text\nfoo.txt\n<<<<<<< SEARCH\none\n=======\ntwo\n>>>>>>> REPLACE\n\n...\n\n"
     "<<<<<<< SEARCH\nthree\n=======\nfour\n>>>>>>> REPLACE\n```\n",
     Applied({"foo.txt": b"two\nfour\n"}, ["none", "none"])),
    ("unicode-ellipsis-between-blocks", {"foo.txt": "one\nthree\n"},
     block("foo.txt", "one\n", "1\n") + "…\n" + "<<<<<<< SEARCH\nthree\n=======\n3\n"
     ">>>>>>> REPLACE\n",
     Applied({"foo.txt": b"1\n3\n"}, ["none", "none"])),
    ("aider-deepseek-filename-in-own-fence", {"foo.txt": "one\n"},
     "Here's the change:\n\n ```python\nfoo.txt\n```\n```python\n<<<<<<< SEARCH\none\n"
     "=======\ntwo\n>>>>>>> REPLACE\n```\n",
     Applied({"foo.txt": b"two\n"}, ["none"])),
    ("search-marker-with-stray-bracket", {"foo.txt": "one\n"},
     "foo.txt\n<<<<<<< SEARCH>\none\n=======\ntwo\n>>>>>>> REPLACE\n",
     Applied({"foo.txt": b"two\n"}, ["none"])),
    ("batch-reports-each-tolerance", {"s.py": CLASS, "a.py": "x = 1\ny = 2\n"},
     block("a.py", "x = 1\n", "x = 0\n") + block("s.py", "return self.items.pop()\n",
                                                 "return self.items.pop(0)\n")
     + block("a.py", "\ny = 2\n", "y = 3\n"),
     Applied({"a.py": b"x = 0\ny = 3\n", "s.py": CLASS.replace("pop()", "pop(0)").encode()},
             ["none", "indentation", "blank_line"])),
    # --- elision markers that are allowed ---------------------------------------------------
    ("ellipsis-also-in-search", {"p.py": "class P(Protocol):\n    def f(self) -> int:\n"
                                         "        ...\n"},
     block("p.py", "    def f(self) -> int:\n        ...\n",
           "    def f(self) -> str:\n        ...\n"),
     Applied({"p.py": b"class P(Protocol):\n    def f(self) -> str:\n        ...\n"}, ["none"])),
    ("ellipsis-already-in-file", {"n.md": "# Notes\n\n...\n\nend\n"},
     "n.md\n<<<<<<< FILE\n# Notes\n\n...\n\nthe end\n>>>>>>> FILE\n",
     Applied({"n.md": b"# Notes\n\n...\n\nthe end\n"}, ["none"])),
    ("one-line-stub-is-not-an-elision", {},
     "stub.py\n<<<<<<< SEARCH\n=======\ndef f() -> int: ...\nx = [...]\n>>>>>>> REPLACE\n",
     Applied({"stub.py": b"def f() -> int: ...\nx = [...]\n"}, ["none"])),
    # --- ambiguous: refused, with line numbers ----------------------------------------------
    ("aider-multiple-matches-refused", {"m.txt": "line1\nline2\nline1\nline3\n"},
     block("m.txt", "line1\n", "new_line\n"),
     Refused(["occurs 2 times in m.txt (at lines 1, 3)", "add more surrounding lines"])),
    ("ambiguous-trailing-whitespace", {"m.txt": "a \nb\na\t\n"},
     block("m.txt", "a  \n", "A\n"), Refused(["occurs 2 times in m.txt (at lines 1, 3)"])),
    ("aider-multiple-matches-missing-whitespace-refused",
     {"m.txt": "    line1\n    line2\n    line1\n    line3\n"},
     block("m.txt", "line1\n", "new_line\n"), Refused(["occurs 2 times in m.txt (at lines 1, 3)"])),
    ("ambiguous-shift-by-different-amounts", {"m.py": "  a = 1\n        a = 1\n"},
     block("m.py", "a = 1\n", "a = 2\n"), Refused(["occurs 2 times in m.py (at lines 1, 2)"])),
    ("ambiguous-after-dropping-a-blank-line", {"m.txt": "x\ny\nx\n"},
     block("m.txt", "\nx\n", "z\n"), Refused(["occurs 2 times in m.txt (at lines 1, 3)"])),
    ("overlapping-exact-matches-are-ambiguous", {"m.txt": "x\nx\nx\n"},
     block("m.txt", "x\nx\n", "y\n"), Refused(["occurs 2 times in m.txt (at lines 1, 2)"])),
    ("periodic-search-in-periodic-file", {"p.txt": "x\n" * 200_000},
     block("p.txt", " x\n" * 30, "y\n"),
     Refused(["occurs 199971 times in p.txt (at lines 1, 2, 3, 4, 5, 6, 7, 8, ...)"])),
    # --- not found --------------------------------------------------------------------------
    ("not-found-shows-similar-part", {"a.py": "def add(a, b):\n    return a - b\n"},
     block("a.py", "def add(a, c):\n    return a - c\n", "x\n"),
     Refused(["was not found in a.py", "most similar part of a.py (from line 1)",
              "    1 | def add(a, b):"])),
    ("uneven-shift-is-not-found", {"s.py": CLASS},
     block("s.py", "def pop(self):\nreturn self.items.pop()\n", "pass\n"),
     Refused(["was not found in s.py", "lines 5-6", "differs by different amounts"])),
    ("two-extra-blank-lines-not-tolerated", {"a.py": "x = 1\ny = 2\n"},
     block("a.py", "\n\ny = 2\n", "y = 3\n"), Refused(["was not found in a.py"])),
    ("blank-line-in-the-middle-not-tolerated", {"a.py": "x = 1\ny = 2\n"},
     block("a.py", "x = 1\n\ny = 2\n", "y = 3\n"), Refused(["was not found in a.py"])),
    ("missing-file-says-how-to-create", {}, block("nope.py", "x\n", "y\n"),
     Refused(["does not exist; to create it, leave the SEARCH section empty"])),
    # --- tab/space mix ----------------------------------------------------------------------
    ("tabs-in-file-spaces-in-search", {"f.go": GO},
     block("f.go", "    if ok {\n        return\n    }\n", "    if ok {\n    }\n"),
     Refused(["matches f.go (lines 2-4) except for indentation", "tabs against spaces"])),
    ("mixed-shift-refused", {"t.py": "if x:\n\t  a = 1\n\t  b = 2\n"},
     block("t.py", "a = 1\nb = 2\n", "a = 2\nb = 3\n"),
     Refused(["except for indentation", "tabs against spaces"])),
    ("replace-indented-with-other-char", {"f.go": GO},
     block("f.go", "if ok {\n\treturn\n}\n", "if ok {\n    return 1\n}\n"),
     Refused(["1 tab less indentation", "line 2 of REPLACE", "mix tabs and spaces"])),
    ("replace-would-lose-indentation", {"s.py": CLASS},
     block("s.py", "        def pop(self):\n            return self.items.pop()\n",
           "def pop(self):\n    return None\n"),
     Refused(["4 spaces more indentation", "line 1 of REPLACE", "would lose indentation"])),
    # --- elisions ---------------------------------------------------------------------------
    ("elision-comment-in-replace", {"s.py": CLASS},
     block("s.py", "class Stack:\n    def push(self, x):\n        self.items.append(x)\n",
           "class Stack:\n    # ... existing code ...\n    def size(self):\n"
           "        return len(self.items)\n"),
     Refused(["line 2 of REPLACE, '# ... existing code ...'", "stands for code left out",
              "Write out every line"])),
    ("bare-dots-in-file-block", {"s.py": CLASS},
     "s.py\n<<<<<<< FILE\nclass Stack:\n    ...\n    def size(self):\n        return 0\n"
     ">>>>>>> FILE\n", Refused(["line 2 of FILE, '...'"])),
    ("rest-unchanged-in-new-file", {},
     "app.js\n<<<<<<< SEARCH\n=======\nexport function f() {}\n// rest unchanged\n"
     ">>>>>>> REPLACE\n", Refused(["line 2 of REPLACE, '// rest unchanged'"])),
    ("html-comment-elision", {"i.html": "<ul>\n  <li>a</li>\n</ul>\n"},
     block("i.html", "<ul>\n  <li>a</li>\n</ul>\n", "<ul>\n  <!-- ... -->\n  <li>b</li>\n</ul>\n"),
     Refused(["'<!-- ... -->'"])),
    ("python-body-elided", {"s.py": CLASS},
     block("s.py", "    def pop(self):\n        return self.items.pop()\n",
           "    def pop(self):\n        ...\n"),
     Refused(["line 2 of REPLACE, '...'", "'pass'"])),
    ("elision-refuses-the-whole-batch", {"a.py": "x = 1\n", "s.py": CLASS},
     block("a.py", "x = 1\n", "x = 2\n")
     + block("s.py", "class Stack:\n", "class Stack:\n    # rest of the class unchanged\n"),
     Refused(["edit 2 of 2 (s.py)", "'# rest of the class unchanged'", "No file was changed"])),
    # --- unsafe paths -----------------------------------------------------------------------
    ("dotdot-path", {}, block("../outside.py", "", "x = 1\n"),
     Refused(["'..' segments are not allowed"], UnsafePathError)),
    ("git-hook-path", {}, block(".git/hooks/pre-commit", "", "#!/bin/sh\n"),
     Refused(["baton's or git's own directory"], UnsafePathError)),
    ("protected-path", {"secrets/db.txt": "pw\n"}, block("secrets/db.txt", "pw\n", "x\n"),
     Refused(["protected by the pattern 'secrets/**'"], UnsafePathError)),
    ("absolute-path", {}, block("/tmp/baton-never.txt", "", "x\n"),
     Refused(["absolute paths are not allowed"], UnsafePathError)),
    # --- malformed replies end as an edit error ---------------------------------------------
    ("punctuation-and-carriage-return-before-block", {},
     ":\r:\n<<<<<<< SEARCH\nx\n=======\ny\n>>>>>>> REPLACE\n",
     Refused(["does not look like a file path"])),
    ("dots-before-first-block-are-not-a-path", {},
     "...\n<<<<<<< SEARCH\n=======\nx\n>>>>>>> REPLACE\n",
     Refused(["an edit block without a file path"])),
]  # fmt: skip


def _digest(root: Path) -> dict[str, str]:
    out = {}
    for dirpath, _, names in os.walk(root):
        for name in names:
            path = Path(dirpath, name)
            out[path.relative_to(root).as_posix()] = hashlib.sha256(path.read_bytes()).hexdigest()
    return out


@pytest.mark.parametrize(("files", "reply", "expected"),
                         [pytest.param(f, r, e, id=i) for i, f, r, e in CASES])
def test_edit_case(tmp_path: Path, files: dict[str, str], reply: str,
                   expected: Applied | Refused) -> None:
    root = tmp_path / "repo"
    root.mkdir()
    (root / ".git").mkdir()
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(text.encode())
    before = _digest(tmp_path)
    if isinstance(expected, Applied):
        result = apply_edits(root, parse_edits(reply), protected=["secrets/**"])
        for rel, data in expected.files.items():
            assert (root / rel).read_bytes() == data, rel
        assert result.tolerances == expected.tolerances
        assert set(result.tolerances) <= set(TOLERANCES)
        untouched = {k: v for k, v in before.items() if k.removeprefix("repo/")
                     not in expected.files}
        assert {k: v for k, v in _digest(tmp_path).items() if k in untouched} == untouched
    else:
        with pytest.raises(expected.error) as info:
            apply_edits(root, parse_edits(reply), protected=["secrets/**"])
        for needle in expected.says:
            assert needle in str(info.value), str(info.value)
        assert _digest(tmp_path) == before  # nothing written on a refusal
        assert not (tmp_path / "outside.py").exists()


def test_there_are_at_least_forty_cases_covering_every_tolerance() -> None:
    assert len(CASES) >= 40
    used = {t for *_, e in CASES if isinstance(e, Applied) for t in e.tolerances}
    assert used == set(TOLERANCES)


def test_path_made_only_of_dots_is_refused(tmp_path: Path) -> None:
    with pytest.raises(UnsafePathError, match="made only of dots"):
        apply_edits(tmp_path, [Edit("...", "whole", "", "x\n")])
    assert not list(tmp_path.iterdir())


def test_path_that_is_not_utf8_is_refused(tmp_path: Path) -> None:
    with pytest.raises(UnsafePathError, match="not valid UTF-8"):
        apply_edits(tmp_path, [Edit("\ud800.py", "whole", "", "x\n")])
    assert not list(tmp_path.iterdir())


def test_similarity_hint_cuts_long_lines(tmp_path: Path) -> None:
    (tmp_path / "data.py").write_text("".join(f"ROW_{i} = '{'ab' * 400}{i}'\n" for i in range(50)))
    reply = block("data.py", f"ROW_7 = '{'ab' * 400}x'\n", "ROW_7 = 0\n")
    with pytest.raises(EditError) as info:
        apply_edits(tmp_path, parse_edits(reply))
    message = str(info.value)
    assert "most similar part of data.py (from line 8)" in message
    assert "[cut here: the line has 811 characters]" in message
    assert len(message) < 4000


# --- end to end: sloppy edits through `baton run` -------------------------------------------

TASK = "Add a median() function to stats.py, with tests."


def run(baton, repo: Path, *extra: str):
    return baton("run", TASK, "--repo", str(repo), "--json", *extra)


def branch_file(repo: Path, branch: str, path: str) -> bytes:
    return subprocess.run(["git", "show", f"{branch}:{path}"], cwd=repo, capture_output=True,
                          check=True).stdout


SLOPPY_ROUND_1 = (  # SEARCH with a spurious leading blank line and trailing spaces
    "I will add median() after mean().\n\nstats.py\n<<<<<<< SEARCH\n\n"
    "    return sum(values) / len(values)   \n=======\n    return sum(values) / len(values)\n"
    "\n\ndef median(values):\n    \"\"\"Middle value of a non-empty sequence.\"\"\"\n"
    "    if not values:\n        raise ValueError(\"median() of an empty sequence\")\n"
    "    return values[len(values) // 2]\n>>>>>>> REPLACE\n"
)
SLOPPY_ROUND_2 = (  # a body copied without its indentation, "..." between blocks
    "Applying the reviewer's fixes.\n\nstats.py\n<<<<<<< SEARCH\n"
    "return values[len(values) // 2]\n=======\nordered = sorted(values)\n"
    "middle = len(ordered) // 2\nif len(ordered) % 2:\n    return ordered[middle]\n"
    "return (ordered[middle - 1] + ordered[middle]) / 2\n>>>>>>> REPLACE\n\n...\n\n"
    "<<<<<<< SEARCH\n    \"\"\"Middle value of a non-empty sequence.\"\"\"\n=======\n"
    "    \"\"\"Middle value of a non-empty sequence; for an even count, the mean of the two."
    "\"\"\"\n>>>>>>> REPLACE\n"
)


def test_run_applies_sloppy_edits_and_records_each_tolerance(baton, sample_repo):
    before = snapshot(sample_repo)
    script = demo_script()
    tests_block = "tests/test_median.py" + response(script, IMPLEMENTER, 1).split(
        "tests/test_median.py", 1)[1]
    set_responses(script, IMPLEMENTER, [SLOPPY_ROUND_1, SLOPPY_ROUND_2 + "\n" + tests_block])
    baton.serve(script)
    proc = run(baton, sample_repo)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    result = run_json(proc)
    assert result["decision"] == "go"
    applied = [e for e in events(Path(result["run_dir"])) if e["type"] == "edits.applied"]
    assert [e["tolerances"] for e in applied] == [["blank_line"],
                                                  ["indentation", "none", "none"]]
    summary = (Path(result["run_dir"]) / "summary.md").read_text()
    assert ("Edit blocks: 4 applied, 2 exactly, 1 with the `blank_line` tolerance, "
            "1 with the `indentation` tolerance.") in summary
    stats = branch_file(sample_repo, result["branch"], "stats.py").decode()
    assert stats.endswith(
        "    return sum(values) / len(values)\n\n\ndef median(values):\n"
        "    \"\"\"Middle value of a non-empty sequence; for an even count, the mean of the two."
        "\"\"\"\n    if not values:\n        raise ValueError(\"median() of an empty sequence\")\n"
        "    ordered = sorted(values)\n    middle = len(ordered) // 2\n"
        "    if len(ordered) % 2:\n        return ordered[middle]\n"
        "    return (ordered[middle - 1] + ordered[middle]) / 2\n")
    assert snapshot(sample_repo) == before


def test_run_sends_elisions_and_ambiguity_back_then_goes(baton, sample_repo):
    script = demo_script()
    first, second = response(script, IMPLEMENTER, 0), response(script, IMPLEMENTER, 1)
    elided = ("stats.py\n<<<<<<< FILE\n\"\"\"Small statistics helpers.\"\"\"\n\n"
              "# ... existing code ...\n\n\ndef median(values):\n    return values[0]\n"
              ">>>>>>> FILE\n")
    ambiguous = block("stats.py", "    if not values:\n", "    if len(values) == 0:\n")
    set_responses(script, IMPLEMENTER, [elided, first, ambiguous, second])
    baton.serve(script)
    proc = run(baton, sample_repo)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    result = run_json(proc)
    run_dir = Path(result["run_dir"])
    rejected = [e["reason"] for e in events(run_dir) if e["type"] == "edits.rejected"]
    assert len(rejected) == 2
    assert "'# ... existing code ...', stands for code left out" in rejected[0]
    assert "occurs 2 times in stats.py (at lines 6, 13)" in rejected[1]
    summary = (run_dir / "summary.md").read_text()
    assert "; 2 answer(s) rejected and asked again (first: " in summary
    retries = sorted((run_dir / "packets").glob("*-implementer.md"))
    assert "stands for code left out" in retries[1].read_text()
    stats = branch_file(sample_repo, result["branch"], "stats.py").decode()
    assert "def mean(values):" in stats and "# ... existing code ..." not in stats


def test_run_with_only_refused_edits_is_no_go_and_writes_nothing(baton, sample_repo):
    before = snapshot(sample_repo)
    script = demo_script()
    tabs = block("stats.py", "\treturn sum(values) / len(values)\n", "\treturn 0\n")
    unsafe = block("../outside.py", "", "print('escaped')\n")
    set_responses(script, IMPLEMENTER, [tabs, unsafe])
    baton.serve(script)
    proc = run(baton, sample_repo)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    result = run_json(proc)
    assert "did not apply after 2 attempts" in result["reasons"][0]
    run_dir = Path(result["run_dir"])
    rejected = [e["reason"] for e in events(run_dir) if e["type"] == "edits.rejected"]
    assert "tabs against spaces" in rejected[0] and "'..' segments" in rejected[1]
    assert (run_dir / "patch.diff").read_text() == ""
    assert not (sample_repo.parent / "outside.py").exists()
    assert snapshot(sample_repo) == before
