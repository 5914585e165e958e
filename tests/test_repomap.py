"""The planner's repo map: every top-level definition, parsed, within the budget."""

from __future__ import annotations

from pathlib import Path

from baton.workspace.repomap import definitions, repo_map

MODULE = '''"""Doc."""
import os

LIMIT = 3
_private = 1


def one():
    def inner():
        pass


async def two():
    pass


class Thing(Base):
    x = 1

    def a(self):
        pass

    async def b(self):
        pass


class Empty:
    pass


if True:
    def hidden():
        pass
''' + "".join(f"\ndef f{i}():\n    pass\n" for i in range(20))


def test_python_definitions_come_from_the_parser_and_are_all_listed():
    names = definitions(Path("m.py"), MODULE)
    assert names[:5] == ["LIMIT", "one()", "two()", "Thing(a, b)", "Empty"]
    assert len(names) == 25 and names[-1] == "f19()"  # not the first twelve only
    assert "inner()" not in names and "hidden()" not in names and "_private" not in names


def test_a_file_that_does_not_parse_falls_back_to_a_regex():
    assert definitions(Path("bad.py"), "def ok():\n  pass\nclass X(:\n") == ["ok", "X"]


def test_other_languages_use_a_regex_per_language():
    js = "export function run() {}\nexport default class App {}\nconst x = 1\n  function no() {}\n"
    assert definitions(Path("a.ts"), js) == ["run", "App", "x"]
    go = "package m\nfunc Run() {}\nfunc (s *S) Stop() {}\ntype S struct{}\n"
    assert definitions(Path("m.go"), go) == ["Run", "Stop", "S"]
    rs = "pub fn go() {}\nstruct P;\npub(crate) enum E {}\n"
    assert definitions(Path("l.rs"), rs) == ["go", "P", "E"]
    assert definitions(Path("notes.txt"), "def x(): pass") == []


def test_the_map_fits_the_budget_and_drops_outlines_before_files(tmp_path):
    (tmp_path / "big.py").write_text(MODULE)
    (tmp_path / "small.py").write_text("def s():\n    pass\n")
    (tmp_path / "README.md").write_text("# hi\n")
    files = ["README.md", "big.py", "small.py"]
    full = repo_map(tmp_path, files, 10_000)
    assert "f19()" in full and "Thing(a, b)" in full and "small.py" in full
    tight = repo_map(tmp_path, files, 120)
    assert len(tight) <= 120
    assert "big.py" in tight and "25 definitions (not shown: map budget)" in tight
    assert "small.py" in tight
    assert repo_map(tmp_path, files, 20).startswith("README.md")
    assert "more files (map cut at budget)" in repo_map(tmp_path, files, 40)
