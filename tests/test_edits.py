"""Parsing and applying the implementer's edit blocks, including hostile paths."""

from __future__ import annotations

import hashlib
import os
import stat
from collections.abc import Callable
from pathlib import Path

import pytest

from baton.workspace.edits import (
    AppliedEdits,
    Edit,
    EditError,
    UnsafePathError,
    apply_edits,
    check_path,
    parse_edits,
)

# --- parsing -----------------------------------------------------------------------------

REPLY = """\
Sure! Here are the changes.

src/app.py
```python
<<<<<<< SEARCH
def add(a, b):
    return a - b
=======
def add(a, b):
    return a + b
>>>>>>> REPLACE
```

And a new test file:

`tests/test_app.py`
```python
<<<<<<< SEARCH
=======
from app import add
>>>>>>> REPLACE
```

### README.md
<<<<<<< FILE
# App
>>>>>>> FILE

That's all.
"""


def test_parse_prose_fences_and_several_blocks() -> None:
    edits = parse_edits(REPLY)
    assert edits == [
        Edit("src/app.py", "replace", "def add(a, b):\n    return a - b\n",
             "def add(a, b):\n    return a + b\n"),
        Edit("tests/test_app.py", "create", "", "from app import add\n"),
        Edit("README.md", "whole", "", "# App\n"),
    ]  # fmt: skip


def test_parse_crlf_reply_and_quoted_path() -> None:
    text = '"a.txt":\r\n<<<<<<< SEARCH\r\nold\r\n=======\r\nnew\r\n>>>>>>> REPLACE\r\n'
    assert parse_edits(text) == [Edit("a.txt", "replace", "old\n", "new\n")]


@pytest.mark.parametrize(
    "line",
    ["src/x.py", "`src/x.py`", "### src/x.py", "**src/x.py**:", "File: src/x.py",
     "Update `src/x.py`:", "'src/x.py'"],
)  # fmt: skip
def test_parse_path_decorations_are_stripped(line: str) -> None:
    edits = parse_edits(f"{line}\n```py\n<<<<<<< FILE\nx\n>>>>>>> FILE\n```\n")
    assert edits[0].path == "src/x.py"


def test_prose_line_is_not_taken_for_a_path() -> None:
    with pytest.raises(EditError, match="line 1: 'Here is the change:' does not look like a file"):
        parse_edits("Here is the change:\n<<<<<<< SEARCH\n=======\nx\n>>>>>>> REPLACE\n")


def test_block_right_after_a_block_is_for_the_same_file() -> None:
    text = (
        "a.py\n<<<<<<< SEARCH\none\n=======\n1\n>>>>>>> REPLACE\n\n"
        "<<<<<<< SEARCH\ntwo\n=======\n2\n>>>>>>> REPLACE\n"
    )
    assert [e.path for e in parse_edits(text)] == ["a.py", "a.py"]


def test_parse_empty_replace_deletes_lines() -> None:
    edits = parse_edits("a.txt\n<<<<<<< SEARCH\ngone\n=======\n>>>>>>> REPLACE\n")
    assert edits == [Edit("a.txt", "replace", "gone\n", "")]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("just prose, no blocks", "no edit blocks found"),
        ("a.py\n<<<<<<< SEARCH\nx\n", "line 2: the block opened here is never closed"),
        ("a.py\n<<<<<<< SEARCH\nx\n>>>>>>> REPLACE\n", "line 4: found '>>>>>>> REPLACE'"),
        ("<<<<<<< SEARCH\nx\n=======\ny\n>>>>>>> REPLACE\n", "line 1: an edit block without"),
        ("a.py\n>>>>>>> REPLACE\n", "line 2: '>>>>>>> REPLACE' without an opening marker"),
        ("a.py\n<<<<<<< FILE\nx\n", "never closed with '>>>>>>> FILE'"),
    ],
)
def test_parse_errors_name_the_line_and_show_the_format(text: str, message: str) -> None:
    with pytest.raises(EditError) as info:
        parse_edits(text)
    assert message in str(info.value)
    assert "<<<<<<< SEARCH" in str(info.value)  # the expected format is shown


# --- applying ----------------------------------------------------------------------------


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    (root / "src").mkdir(parents=True)
    (root / "src" / "app.py").write_text("def add(a, b):\n    return a - b\n")
    (root / "notes.txt").write_text("one\ntwo\n")
    (root / ".git" / "hooks").mkdir(parents=True)
    (root / ".git" / "config").write_text("[core]\n")
    return root


def _apply(root: Path, text: str, **kwargs: object) -> AppliedEdits:
    return apply_edits(root, parse_edits(text), **kwargs)  # type: ignore[arg-type]


def test_apply_reply_changes_creates_and_counts(repo: Path) -> None:
    result = _apply(repo, REPLY, allowed_files=["src/app.py", "./README.md"])
    assert (repo / "src/app.py").read_text() == "def add(a, b):\n    return a + b\n"
    assert (repo / "tests/test_app.py").read_text() == "from app import add\n"
    assert (repo / "README.md").read_text() == "# App\n"
    assert result.files == ["src/app.py", "tests/test_app.py", "README.md"]
    assert result.per_file == {"src/app.py": (1, 1), "tests/test_app.py": (1, 0),
                               "README.md": (1, 0)}  # fmt: skip
    assert (result.added, result.removed) == (3, 1)
    assert result.outside_plan == ["tests/test_app.py"]


def test_several_edits_to_one_file_apply_in_order(repo: Path) -> None:
    text = (
        "notes.txt\n<<<<<<< SEARCH\none\n=======\nONE\n>>>>>>> REPLACE\n"
        "notes.txt\n<<<<<<< SEARCH\nONE\ntwo\n=======\nONE\n2\n>>>>>>> REPLACE\n"
    )
    result = _apply(repo, text)
    assert (repo / "notes.txt").read_text() == "ONE\n2\n"
    assert result.per_file == {"notes.txt": (2, 2)}


def test_trailing_whitespace_is_tolerated(repo: Path) -> None:
    (repo / "ws.py").write_text("x = 1   \ny = 2\t\nz = 3")  # no final newline either
    _apply(repo, "ws.py\n<<<<<<< SEARCH\ny = 2\nz = 3\n=======\ny = 20\nz = 30\n>>>>>>> REPLACE\n")
    assert (repo / "ws.py").read_text() == "x = 1   \ny = 20\nz = 30"


def test_crlf_file_keeps_its_line_endings(repo: Path) -> None:
    (repo / "win.txt").write_bytes(b"a\r\nb\r\n")
    _apply(repo, "win.txt\n<<<<<<< SEARCH\nb\n=======\nB\nc\n>>>>>>> REPLACE\n")
    assert (repo / "win.txt").read_bytes() == b"a\r\nB\r\nc\r\n"


def test_mode_is_preserved(repo: Path) -> None:
    script = repo / "run.sh"
    script.write_text("echo a\n")
    script.chmod(0o755)
    _apply(repo, "run.sh\n<<<<<<< SEARCH\necho a\n=======\necho b\n>>>>>>> REPLACE\n")
    assert stat.S_IMODE(script.stat().st_mode) == 0o755


def test_create_appends_to_empty_file(repo: Path) -> None:
    (repo / "empty.txt").write_text("")
    _apply(repo, "empty.txt\n<<<<<<< SEARCH\n=======\nhello\n>>>>>>> REPLACE\n")
    assert (repo / "empty.txt").read_text() == "hello\n"


def test_ambiguous_match_is_refused_with_count(repo: Path) -> None:
    (repo / "dup.py").write_text("pass\nx = 1\npass\n")
    with pytest.raises(EditError, match=r"occurs 2 times in dup.py \(at lines 1, 3\).*more"):
        _apply(repo, "dup.py\n<<<<<<< SEARCH\npass\n=======\nreturn\n>>>>>>> REPLACE\n")
    assert (repo / "dup.py").read_text() == "pass\nx = 1\npass\n"


def test_missing_match_shows_search_and_most_similar_region(repo: Path) -> None:
    text = (
        "src/app.py\n<<<<<<< SEARCH\ndef add(a, c):\n    return a - c\n"
        "=======\nx\n>>>>>>> REPLACE\n"
    )
    with pytest.raises(EditError) as info:
        _apply(repo, text)
    message = str(info.value)
    assert "was not found in src/app.py" in message
    assert "    | def add(a, c):" in message
    assert "most similar part of src/app.py (from line 1)" in message
    assert "    1 | def add(a, b):" in message


def test_all_or_nothing_when_a_later_block_fails(repo: Path) -> None:
    text = (
        "notes.txt\n<<<<<<< SEARCH\none\n=======\nchanged\n>>>>>>> REPLACE\n"
        "new/file.txt\n<<<<<<< SEARCH\n=======\nnew\n>>>>>>> REPLACE\n"
        "src/app.py\n<<<<<<< SEARCH\nnot there\n=======\nx\n>>>>>>> REPLACE\n"
    )
    with pytest.raises(EditError, match="(?s)edit 3 of 3 .*No file was changed"):
        _apply(repo, text)
    assert (repo / "notes.txt").read_text() == "one\ntwo\n"
    assert not (repo / "new").exists()


def test_no_op_edit_writes_nothing(repo: Path) -> None:
    result = _apply(repo, "notes.txt\n<<<<<<< SEARCH\none\n=======\none\n>>>>>>> REPLACE\n")
    assert result.files == [] and result.unchanged == ["notes.txt"]


def test_replace_in_missing_file_says_how_to_create(repo: Path) -> None:
    with pytest.raises(EditError, match="does not exist; to create it, leave the SEARCH"):
        _apply(repo, "nope.py\n<<<<<<< SEARCH\nx\n=======\ny\n>>>>>>> REPLACE\n")


def test_check_path_returns_path_inside_root(repo: Path) -> None:
    assert check_path(repo, "./src//app.py") == Path(os.path.realpath(repo)) / "src" / "app.py"


# --- hostile payloads --------------------------------------------------------------------


def _snapshot(path: Path) -> dict[str, str]:
    """Every entry under ``path`` with a fingerprint of its content or link target."""
    found: dict[str, str] = {}
    for dirpath, dirnames, filenames in os.walk(path):
        for name in dirnames + filenames:
            full = Path(dirpath, name)
            st = full.lstat()
            if stat.S_ISLNK(st.st_mode):
                found[str(full)] = "link:" + os.readlink(full)
            elif stat.S_ISREG(st.st_mode):
                found[str(full)] = hashlib.sha256(full.read_bytes()).hexdigest()
            else:
                found[str(full)] = f"mode:{stat.S_IFMT(st.st_mode)}"
    return found


@pytest.fixture
def arena(tmp_path: Path) -> tuple[Path, Path]:
    """A worktree ``root`` and a sibling ``outside`` directory that must never change."""
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text("do not touch\n")
    root = tmp_path / "root"
    (root / "sub").mkdir(parents=True)
    (root / "inside.txt").write_text("inside\n")
    (root / "full.txt").write_text("already here\n")
    (root / ".git" / "hooks").mkdir(parents=True)
    (root / ".git" / "config").write_text("[core]\n")
    (root / "secrets").mkdir()
    (root / "secrets" / "db.txt").write_text("pw\n")
    return root, outside


Setup = Callable[[Path, Path], None]


def _none(root: Path, outside: Path) -> None:
    return None


def _link_dir_out(root: Path, outside: Path) -> None:
    (root / "escape").symlink_to(outside, target_is_directory=True)


def _link_file_out(root: Path, outside: Path) -> None:
    (root / "out.txt").symlink_to(outside / "secret.txt")


def _link_file_in(root: Path, outside: Path) -> None:
    (root / "alias.txt").symlink_to(root / "inside.txt")


def _fifo(root: Path, outside: Path) -> None:
    os.mkfifo(root / "pipe")


def _big_file(root: Path, outside: Path) -> None:
    (root / "big.txt").write_text("x\n" * (1_600_000))  # 3.2 MB


def _git_file(root: Path, outside: Path) -> None:
    (root / "wt").mkdir()
    (root / "wt" / ".git").write_text("gitdir: /elsewhere\n")


def _file_as_dir(root: Path, outside: Path) -> None:
    (root / "plain").write_text("x\n")


def _e(path: str, kind: str = "whole", search: str = "", replace: str = "pwned\n") -> list[Edit]:
    return [Edit(path, kind, search, replace)]  # type: ignore[arg-type]


HOSTILE: list[tuple[str, Setup, list[Edit], str]] = [
    ("absolute", _none, _e("/etc/passwd"), "absolute"),
    ("absolute-outside", _none, _e("{outside}/secret.txt"), "absolute"),
    ("dotdot", _none, _e("../outside/secret.txt"), "'..'"),
    ("dotdot-new", _none, _e("../outside.txt"), "'..'"),
    ("dotdot-nested", _none, _e("a/../../outside.txt"), "'..'"),
    ("dotdot-sub", _none, _e("sub/../../x"), "'..'"),
    ("nul", _none, _e("inside.txt\x00.py"), "control characters"),
    ("newline", _none, _e("inside\n.txt"), "control characters"),
    ("escape-char", _none, _e("a\x1b[2J.txt"), "control characters"),
    ("empty", _none, _e(""), "empty"),
    ("blank", _none, _e("   "), "empty"),
    ("root-itself", _none, _e("./"), "repository root"),
    ("git-hook", _none, _e(".git/hooks/pre-commit"), ".git"),
    ("git-upper", _none, _e(".GIT/hooks/pre-commit"), ".GIT"),
    ("git-mixed", _none, _e(".Git/config"), ".Git"),
    ("git-nested", _none, _e("sub/.git/x"), ".git"),
    ("git-file", _git_file, _e("wt/.git"), ".git"),
    ("git-trailing-dot", _none, _e(".git./config"), ".git."),
    ("baton", _none, _e(".baton/x"), ".baton"),
    ("symlink-dir-out", _link_dir_out, _e("escape/secret.txt"), "symbolic link"),
    ("symlink-dir-new", _link_dir_out, _e("escape/new.txt"), "symbolic link"),
    ("symlink-file-out", _link_file_out, _e("out.txt"), "symbolic link"),
    ("symlink-file-out-replace", _link_file_out,
     _e("out.txt", "replace", "do not touch\n", "x\n"), "symbolic link"),
    ("symlink-file-in", _link_file_in, _e("alias.txt"), "symbolic link"),
    ("fifo", _fifo, _e("pipe"), "not a regular file"),
    ("directory", _none, _e("sub"), "directory"),
    ("under-a-file", _file_as_dir, _e("plain/x.txt"), "not a directory"),
    ("big-new", _none, _e("huge.txt", replace="y" * (3 * 1024 * 1024)), "limit"),
    ("big-existing", _big_file, _e("big.txt", "replace", "x\n", "y\n"), "larger than"),
    ("protected-glob", _none, _e("secrets/db.txt"), "secrets/**"),
    ("protected-ext", _none, _e("keys/server.pem"), "*.pem"),
    ("protected-dir", _none, _e("vault/new.txt"), "'vault'"),
    ("windows", _none, _e("..\\..\\x"), "backslash"),
    ("tilde", _none, _e("~/x"), "'~'"),
    ("drive", _none, _e("C:/Windows/x"), "absolute"),
    ("create-over-full", _none, _e("full.txt", "create"), "already exists and is not empty"),
    ("long-path", _none, _e("a/" * 2100 + "x"), "longer than 4096"),
    ("long-name", _none, _e("n" * 300), "longer than 255"),
    ("batch-file-then-dir", _none,
     [*_e("a"), *_e("a/../../x")], "'..'"),
    ("batch-file-then-child", _none,
     [*_e("newfile"), *_e("newfile/child")], "as a file"),
    ("batch-good-then-bad", _none,
     [*_e("fine.txt"), *_e("../outside/secret.txt")], "'..'"),
    ("binary-content", _none, _e("bin.dat", replace="a\x00b"), "NUL"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("setup", "edits", "reason"),
    [pytest.param(s, e, r, id=i) for i, s, e, r in HOSTILE],
)
def test_hostile_payloads_are_refused(
    arena: tuple[Path, Path], setup: Setup, edits: list[Edit], reason: str
) -> None:
    root, outside = arena
    setup(root, outside)
    edits = [Edit(e.path.replace("{outside}", str(outside)), e.kind, e.search, e.replace)
             for e in edits]  # fmt: skip
    before_all = _snapshot(root.parent)
    before_git = _snapshot(root / ".git")
    with pytest.raises(EditError) as info:
        apply_edits(root, edits, protected=["secrets/**", "*.pem", "vault"])
    assert reason in str(info.value)
    assert _snapshot(root.parent) == before_all  # nothing written anywhere, inside or out
    assert _snapshot(root / ".git") == before_git
    assert not list(root.parent.rglob(".baton-*.tmp"))


def test_unsafe_path_error_carries_reason(arena: tuple[Path, Path]) -> None:
    root, _ = arena
    with pytest.raises(UnsafePathError) as info:
        check_path(root, ".GIT/hooks/pre-commit")
    assert info.value.reason == "'.GIT' is baton's or git's own directory"
    assert isinstance(info.value, EditError)


def test_tilde_is_never_expanded(arena: tuple[Path, Path]) -> None:
    root, _ = arena
    with pytest.raises(UnsafePathError, match="'~'"):
        apply_edits(root, _e("~/baton-test-never.txt"))
    assert not (Path.home() / "baton-test-never.txt").exists()
    assert not (root / "~").exists()


def test_protected_patterns_ignore_case(arena: tuple[Path, Path]) -> None:
    root, _ = arena
    with pytest.raises(UnsafePathError, match="protected"):
        check_path(root, "Secrets/DB.txt", protected=["secrets/**"])


def test_symlink_swapped_in_after_check_fails_the_write_and_rolls_back(
    arena: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A directory replaced by a symlink between check and write (a race) is not followed,
    and the files already written in the batch are restored."""
    from baton.workspace import edits as module

    root, outside = arena
    (root / "later").mkdir()
    original = module._check_nesting

    def check_then_swap(files: dict) -> None:  # runs after every check, before any write
        original(files)
        (root / "later").rmdir()
        (root / "later").symlink_to(outside, target_is_directory=True)

    monkeypatch.setattr(module, "_check_nesting", check_then_swap)
    before = _snapshot(outside)
    edits = [
        Edit("inside.txt", "replace", "inside\n", "changed\n"),
        Edit("brand/new.txt", "create", "", "new\n"),
        Edit("later/secret.txt", "whole", "", "pwned\n"),
    ]
    with pytest.raises(EditError, match="writing later/secret.txt failed.*no file was changed"):
        apply_edits(root, edits)
    assert _snapshot(outside) == before
    assert (root / "inside.txt").read_text() == "inside\n"
    assert not (root / "brand").exists()
    assert not list(root.rglob(".baton-*.tmp"))
