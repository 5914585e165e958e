"""The edit formats piece by piece: V4A patches, editor tool calls, the format choice, the
repair message's words, and the writer's deletes and renames with rollback."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from baton.errors import EditError
from baton.workspace.applypatch import parse_patch
from baton.workspace.editformat import Edit
from baton.workspace.edits import apply_edits
from baton.workspace.formats import (
    AUTO_BY_VENDOR,
    choose_format,
    detect_format,
    parse_answer,
    speak,
)

APP = "import os\n\n\nclass App:\n    def run(self):\n        return 1\n\n    def stop(self):\n" \
      "        return 1\n"


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    (root / "pkg").mkdir(parents=True)
    (root / "app.py").write_text(APP)
    (root / "old.txt").write_text("old\n")
    (root / "pkg" / "mod.py").write_text("X = 1\n")
    (root / "keep.txt").write_text("keep\n")
    return root


def tree(root: Path) -> dict[str, str]:
    return {p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()} | {
        p.relative_to(root).as_posix() + "/": "" for p in root.rglob("*") if p.is_dir()}


def patch(*body: str) -> str:
    return "*** Begin Patch\n" + "".join(body) + "*** End Patch\n"


def test_v4a_update_with_context_header_add_move_delete_and_end_of_file(repo: Path) -> None:
    text = "Sure:\n```\n" + patch(
        "*** Update File: app.py\n",
        "@@ def stop(self):\n",       # the same body as run(): the @@ line says which one
        "-        return 1\n",
        "+        return 0\n",
        "*** End of File\n",
        "*** Add File: docs/new.md\n", "+# New\n", "+\n", "+text\n",
        "*** Update File: pkg/mod.py\n", "*** Move to: pkg/renamed.py\n",
        "*** Delete File: old.txt\n") + "```\n"
    fmt, edits = parse_answer(text, [])
    assert fmt == "apply_patch"
    assert [e.kind for e in edits] == ["replace", "create", "move", "delete"]
    result = apply_edits(repo, edits)
    assert (repo / "app.py").read_text() == APP.replace("        return 1\n", "        return 0\n"
                                                        ).replace("return 0", "return 1", 1)
    assert (repo / "docs/new.md").read_text() == "# New\n\ntext\n"
    assert (repo / "pkg/renamed.py").read_text() == "X = 1\n"
    assert not (repo / "pkg/mod.py").exists() and not (repo / "old.txt").exists()
    assert result.deleted == ["pkg/mod.py", "old.txt"]
    assert result.renamed == {"pkg/mod.py": "pkg/renamed.py"}
    assert result.flags() == ["renames pkg/mod.py to pkg/renamed.py", "deletes old.txt"]
    assert result.per_file["old.txt"] == (0, 1)


def test_v4a_first_hunk_may_omit_its_at_line_and_plus_only_hunk_appends(repo: Path) -> None:
    edits = parse_patch(patch("*** Update File: app.py\n", " import os\n", "+import sys\n",
                              "@@\n", "+# the end\n"))
    apply_edits(repo, edits)
    text = (repo / "app.py").read_text()
    assert text.startswith("import os\nimport sys\n") and text.endswith("return 1\n# the end\n")


@pytest.mark.parametrize("body,words", [
    ("*** Update File: app.py\n@@\n?bad line\n", "starts with ' ' (context), '-'"),
    ("*** Add File: x.py\nno plus\n", "every line of the new file starts with '+'"),
    ("*** Update File: app.py\n", "has no hunk"),
    ("*** Frobnicate File: app.py\n", "is not a file operation"),
    ("*** Delete File: \n", "without a path"),
])
def test_v4a_malformed_patches_say_what_is_wrong(body: str, words: str) -> None:
    with pytest.raises(EditError, match="Expected format") as info:
        parse_patch(patch(body))
    assert words in str(info.value)


def test_v4a_add_file_never_overwrites_a_file(repo: Path) -> None:
    with pytest.raises(EditError) as info:
        apply_edits(repo, parse_patch(patch("*** Add File: app.py\n+x = 1\n")))
    assert "'*** Add File' is for a new file, but this file already exists and is not " \
        "empty; change it with '*** Update File'" in speak(str(info.value), "apply_patch")
    assert (repo / "app.py").read_text() == APP


def test_v4a_patch_without_its_end_is_refused_as_cut_off() -> None:
    with pytest.raises(EditError, match="never closed with '\\*\\*\\* End Patch'"):
        parse_patch("*** Begin Patch\n*** Delete File: old.txt\n")


def editor(**args: object) -> tuple[str, str]:
    return ("str_replace_based_edit_tool", json.dumps(args))


def test_editor_tool_commands_and_substring_and_tolerant_matching(repo: Path) -> None:
    calls = [editor(command="str_replace", path="app.py", old_str="class App:",
                    new_str="class Application:"),
             # Indented one level too little: found by the tolerant line matching.
             editor(command="str_replace", path="app.py",
                    old_str="def stop(self):\n    return 1", new_str="def stop(self):\n    pass"),
             editor(command="insert", path="app.py", insert_line=1, insert_text="import sys"),
             editor(command="create", path="pkg/new.py", file_text="Y = 2")]
    fmt, edits = parse_answer("", calls)
    assert fmt == "editor_tool"
    result = apply_edits(repo, edits)
    assert (repo / "app.py").read_text() == (
        "import os\nimport sys\n\n\nclass Application:\n    def run(self):\n        return 1\n"
        "\n    def stop(self):\n        pass\n")
    assert (repo / "pkg/new.py").read_text() == "Y = 2\n"
    assert result.tolerances == ["none", "indentation", "none", "none"]


@pytest.mark.parametrize("args,words", [
    ({"command": "view", "path": "app.py"}, "'view' is not offered"),
    ({"command": "str_replace", "path": "app.py", "old_str": "return 1", "new_str": "x"},
     "old_str occurs 2 times in app.py (at lines 6, 9)"),
    ({"command": "create", "path": "app.py", "file_text": "x"},
     "already exists and is not empty; change it with str_replace"),
    ({"command": "insert", "path": "app.py", "insert_line": 99, "insert_text": "x"},
     "past the end of the file, which has 9 lines"),
    ({"command": "insert", "path": "app.py", "insert_line": -2, "insert_text": "x"},
     "insert_line must be a line number"),
    ({"command": "rename", "path": "app.py"}, "unknown command 'rename'"),
])
def test_editor_tool_refusals_speak_its_terms_and_write_nothing(repo: Path, args: dict,
                                                               words: str) -> None:
    before = tree(repo)
    calls = [editor(command="create", path="fresh.py", file_text="ok"),
             ("str_replace_based_edit_tool", json.dumps(args))]
    with pytest.raises(EditError) as info:
        apply_edits(repo, parse_answer("", calls)[1])
    message = speak(str(info.value), "editor_tool")
    assert words in message and "str_replace_based_edit_tool call per change" in message
    assert "SEARCH" not in message
    assert tree(repo) == before


def test_editor_tool_arguments_cut_off_are_refused() -> None:
    with pytest.raises(EditError, match="not valid JSON.*cut off"):
        parse_answer("", [("str_replace_based_edit_tool", '{"command": "create", "pa')])


REFUSED = {
    "search_replace": ("fresh.py\n<<<<<<< SEARCH\n=======\nok\n>>>>>>> REPLACE\n\n"
                       "app.py\n<<<<<<< SEARCH\nnot in the file\n=======\nx\n>>>>>>> REPLACE\n",
                       [], "the SEARCH text was not found in app.py"),
    "whole_file": ("fresh.py\n<<<<<<< FILE\nok\n>>>>>>> FILE\n\napp.py\n<<<<<<< FILE\n"
                   "import os\n# ... rest of the file unchanged ...\n>>>>>>> FILE\n", [],
                   "stands for code left out"),
    "apply_patch": ("", [("apply_patch", json.dumps({"input": patch(
        "*** Add File: fresh.py\n+ok\n", "*** Delete File: old.txt\n",
        "*** Update File: pkg/mod.py\n*** Move to: pkg/moved.py\n",
        "*** Update File: app.py\n@@ class App:\n-    def start(self):\n+    def go(self):\n")}))],
        "the hunk's context and '-' lines were not found in app.py"),
    "editor_tool": ("", [editor(command="create", path="fresh.py", file_text="ok"),
                         editor(command="str_replace", path="app.py", old_str="nope",
                                new_str="x")], "the old_str was not found in app.py"),
}


@pytest.mark.parametrize("fmt", sorted(REFUSED))
def test_a_refused_answer_in_each_format_writes_nothing_and_hints_the_similar_part(
        repo: Path, fmt: str) -> None:
    text, calls, words = REFUSED[fmt]
    assert detect_format(text, calls) == fmt
    before = tree(repo)
    with pytest.raises(EditError) as info:
        apply_edits(repo, parse_answer(text, calls)[1])
    message = speak(str(info.value), fmt)
    assert words in message and "No file was changed" in message
    assert tree(repo) == before
    if fmt == "apply_patch":
        assert "The most similar part of app.py" in message and "change 4 of 4" in message


def test_protected_paths_and_path_safety_hold_for_deletes_and_renames(repo: Path) -> None:
    before = tree(repo)
    for body in ("*** Delete File: ../outside.txt\n", "*** Delete File: .git/config\n",
                 "*** Update File: keep.txt\n*** Move to: secrets/keep.txt\n",
                 "*** Update File: keep.txt\n*** Move to: app.py\n",
                 "*** Delete File: missing.txt\n"):
        with pytest.raises(EditError):
            apply_edits(repo, parse_patch(patch(body)), protected=["secrets/**"])
    assert tree(repo) == before


def test_a_failed_delete_rolls_back_the_writes_renames_and_deletes_before_it(
        repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from baton.workspace import edits as module

    original = module._check_nesting

    def check_then_swap(files: dict) -> None:  # after every check, before any write
        original(files)
        (repo / "keep.txt").unlink()
        (repo / "keep.txt").mkdir()

    monkeypatch.setattr(module, "_check_nesting", check_then_swap)
    edits = [Edit("app.py", "replace", "import os\n", "import sys\n"),
             Edit("pkg/mod.py", "move", "", "", new_path="moved/mod.py"),
             Edit("old.txt", "delete", "", ""),
             Edit("keep.txt", "delete", "", "")]
    with pytest.raises(EditError, match="writing keep.txt failed.*no file was changed"):
        apply_edits(repo, edits)
    assert (repo / "app.py").read_text() == APP
    assert (repo / "pkg/mod.py").read_text() == "X = 1\n"
    assert (repo / "old.txt").read_text() == "old\n"
    assert not (repo / "moved").exists()


def test_auto_picks_each_vendors_own_format_and_an_override_wins() -> None:
    assert choose_format("auto", "openai") == "apply_patch"
    assert choose_format("auto", "anthropic") == "editor_tool"
    assert choose_format("auto", "qwen") == "search_replace"
    assert choose_format("auto", None) == "search_replace"
    assert choose_format("whole_file", "openai") == "whole_file"
    assert set(AUTO_BY_VENDOR.values()) == {"apply_patch", "editor_tool"}
    with pytest.raises(EditError, match="unknown edit_format 'diff'"):
        choose_format("diff", "openai")
