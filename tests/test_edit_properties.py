"""Property tests: whatever the reply and the files, only an EditError escapes the edit
parser and matcher, and a refused batch writes nothing.

Bounded so CI stays fast: BATON_HYPOTHESIS_EXAMPLES (default 150) examples per property.
"""

from __future__ import annotations

import hashlib
import os
import stat
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from baton.errors import EditError
from baton.workspace.edits import Edit, apply_edits, parse_edits

EXAMPLES = int(os.environ.get("BATON_HYPOTHESIS_EXAMPLES", "150"))
SETTINGS = settings(max_examples=EXAMPLES, deadline=None, database=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

FILES = {"app.py": "class A:\n    def f(self):\n        return 1\n\n    def g(self):\n"
                   "        return 2\n",
         "tabs.go": "func f() {\n\tif x {\n\t\treturn\n\t}\n}\n",
         "win.txt": "a\r\nb\r\n",
         "dir/notes.md": "# Notes\n\n...\n\nend",
         "secret/key.txt": "pw\n"}

MARKERS = ["<<<<<<< SEARCH", "=======", ">>>>>>> REPLACE", "<<<<<<< FILE", ">>>>>>> FILE",
           "<<<<< SEARCH>", "=========", " >>>>>>> REPLACE ", "<<<<<<<<<< SEARCH", "```",
           "```python", "~~~"]
PATHS = ["app.py", "tabs.go", "win.txt", "dir/notes.md", "new/file.py", "dir", "secret/key.txt",
         "`app.py`", "### app.py:", "../escape.txt", "/etc/passwd", ".git/config", "...", "…",
         "*\r", ":\r:", "#\r#", "a\\b", "~/x", "Update app.py:", "Here is the change:", "\ud800.py",
         "link.txt", "app.py/child", "C:/x", ". . .", "x" * 300]
CONTENT = ["class A:", "    def f(self):", "        return 1", "def f(self):", "return 1", "",
           "    ", "\tif x {", "\t\treturn", "    if x {", "# ... existing code ...", "...",
           "// rest unchanged", "a\r", "b", "        return 2   ", "\x00", "\ud83d", "é", "\t \t",
           "    def g(self):", "end", "# Notes"]

line = st.one_of(st.sampled_from(MARKERS), st.sampled_from(PATHS), st.sampled_from(CONTENT),
                 st.text(max_size=20))
structured = st.lists(line, max_size=40).flatmap(
    lambda lines: st.sampled_from(["\n", "\r\n", "\r"]).map(lambda sep: sep.join(lines)))
body = st.lists(st.one_of(st.sampled_from(CONTENT), st.text(max_size=12)), max_size=6)


@st.composite
def block(draw: st.DrawFn) -> list[str]:
    """One edit block, mostly well formed: a path, maybe a fence, SEARCH/REPLACE or FILE."""
    lines = [draw(st.sampled_from(PATHS))]
    if draw(st.booleans()):
        lines.append(draw(st.sampled_from(["```", "```python", "~~~"])))
    if draw(st.integers(0, 3)):
        lines += ["<<<<<<< SEARCH", *draw(body), "=======", *draw(body), ">>>>>>> REPLACE"]
    else:
        lines += ["<<<<<<< FILE", *draw(body), ">>>>>>> FILE"]
    return lines


@st.composite
def blocks(draw: st.DrawFn) -> str:
    """A reply of 1-3 blocks with prose or "..." between, perhaps damaged in one place."""
    lines: list[str] = []
    for _ in range(draw(st.integers(1, 3))):
        lines += draw(block())
        lines.append(draw(st.sampled_from(["", "...", "Then:", "```"])))
    if lines and draw(st.booleans()):
        at = draw(st.integers(0, len(lines) - 1))
        damage = draw(st.sampled_from(["drop", "double", "replace"]))
        if damage == "drop":
            del lines[at]
        elif damage == "double":
            lines.insert(at, lines[at])
        else:
            lines[at] = draw(line)
    return draw(st.sampled_from(["\n", "\r\n"])).join(lines)


replies = st.one_of(blocks(), blocks(), structured, st.text(max_size=300))


def _world(tmp: Path) -> Path:
    root = tmp / "root"
    for rel, text in FILES.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(text.encode())
    (root / ".git").mkdir()
    (root / ".git" / "config").write_text("[core]\n")
    (tmp / "outside.txt").write_text("outside\n")
    (root / "link.txt").symlink_to(tmp / "outside.txt")
    return root


def _snapshot(path: Path) -> dict[str, str]:
    found: dict[str, str] = {}
    for dirpath, dirnames, filenames in os.walk(path):
        for name in dirnames + filenames:
            full = Path(dirpath, name)
            st_ = full.lstat()
            if stat.S_ISLNK(st_.st_mode):
                found[str(full)] = "link:" + os.readlink(full)
            elif stat.S_ISREG(st_.st_mode):
                found[str(full)] = hashlib.sha256(full.read_bytes()).hexdigest()
            else:
                found[str(full)] = "dir"
    return found


def _check_batch(reply: str) -> None:
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        root = _world(tmp)
        before = _snapshot(tmp)
        try:
            edits = parse_edits(reply)
        except EditError as exc:
            assert str(exc)  # every refusal says something
            return
        try:
            apply_edits(root, edits, protected=["secret/**"])
        except EditError as exc:
            assert str(exc)
            assert _snapshot(tmp) == before  # a refusal writes nothing, anywhere
            return
        after = _snapshot(tmp)
        outside = {k: v for k, v in after.items() if not k.startswith(str(root) + os.sep)}
        assert outside == {k: v for k, v in before.items()
                           if not k.startswith(str(root) + os.sep)}
        assert all(after.get(k) == v for k, v in before.items() if "/.git" in k)
        assert not [k for k in after if ".baton-" in k]  # no temporary file left


@SETTINGS
@given(replies)
def test_any_reply_only_edit_errors_escape_and_refusals_write_nothing(reply: str) -> None:
    _check_batch(reply)


file_lines = st.lists(st.sampled_from(CONTENT[:12] + ["x = 1", "    x = 1", "\tx = 1", "}"]),
                      min_size=1, max_size=25)


@SETTINGS
@given(file_lines, st.data())
def test_search_cut_from_the_file_and_shifted_either_applies_once_or_is_refused(
        lines: list[str], data: st.DataObject) -> None:
    """SEARCH is a slice of the file, maybe re-indented, maybe with an extra blank line;
    REPLACE is arbitrary. Either exactly one place changes or nothing is written."""
    text = "\n".join(lines) + data.draw(st.sampled_from(["\n", ""]))
    start = data.draw(st.integers(0, len(lines) - 1))
    end = data.draw(st.integers(start + 1, len(lines)))
    how, prefix = data.draw(st.sampled_from([("add", "  "), ("add", "    "), ("add", "\t"),
                                             ("cut", "  "), ("cut", "    "), ("cut", "\t"),
                                             ("add", "")]))
    search = []
    for cut in lines[start:end]:
        if how == "cut":
            cut = cut.removeprefix(prefix)
        elif cut.strip():
            cut = prefix + cut
        search.append(cut)
    if data.draw(st.booleans()):
        search.insert(0, "")
    replace = data.draw(st.lists(st.sampled_from(CONTENT[:12]), max_size=6))
    reply = ("f.txt\n<<<<<<< SEARCH\n" + "".join(s + "\n" for s in search) + "=======\n"
             + "".join(r + "\n" for r in replace) + ">>>>>>> REPLACE\n")
    with tempfile.TemporaryDirectory() as tmp_name:
        root = Path(tmp_name)
        (root / "f.txt").write_bytes(text.encode("utf-8", "surrogatepass"))
        try:
            result = apply_edits(root, parse_edits(reply))
        except EditError:
            assert (root / "f.txt").read_bytes() == text.encode("utf-8", "surrogatepass")
            return
        assert len(result.tolerances) == 1
        new = (root / "f.txt").read_bytes().decode()
        if result.tolerances == ["none"] and "".join(s + "\n" for s in search) in text:
            body = "".join(s + "\n" for s in search)
            at = ("\n" + text).index("\n" + body)
            assert new == text[:at] + "".join(r + "\n" for r in replace) + text[at + len(body):]


ws_text = st.lists(st.sampled_from(["a", "b", " ", "\t", "\n", "\r", "\x0c", "\xa0", "\u2028",
                                    "...", "#", "é", "\ud800", "    ", "\n\n"]),
                   max_size=40).map("".join)


@SETTINGS
@given(ws_text, ws_text, ws_text, st.sampled_from(["replace", "create", "whole"]))
def test_matcher_on_arbitrary_text_only_raises_edit_errors(
        file_text: str, search: str, replace: str, kind: str) -> None:
    """Arbitrary file, SEARCH and REPLACE text (odd white space, lone surrogates, elisions)
    given straight to apply_edits: it applies or raises EditError, and a refusal writes
    nothing."""
    data = file_text.encode("utf-8", "surrogatepass")
    with tempfile.TemporaryDirectory() as tmp_name:
        root = Path(tmp_name)
        (root / "f.txt").write_bytes(data)
        try:
            result = apply_edits(root, [Edit("f.txt", kind, search, replace)])  # type: ignore[arg-type]
        except EditError as exc:
            assert str(exc)
            assert (root / "f.txt").read_bytes() == data
            assert sorted(p.name for p in root.iterdir()) == ["f.txt"]
            return
        assert len(result.tolerances) == 1
