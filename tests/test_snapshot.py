"""The snapshot API on real git repositories: freeze, disposable checkout, exact names, drift.

No mocks: every test makes a repository with the git command line and checks baton's
answers against git's own.
"""

from __future__ import annotations

import os
import stat
import subprocess
from pathlib import Path

import pytest

from baton.errors import UserError
from baton.workspace.git import Git, create_worktree, filter_names, repo_at
from baton.workspace.snapshot import (
    Snapshot,
    disposable_checkout,
    drift,
    drift_changes,
    freeze,
    read_tree,
    tree_changes,
)

ODD_NAMES = ["ci-é.yml", "with space.txt", "new\nline.txt", "tab\there.txt", 'quote".txt',
             "日本語/ファイル.md"]


def git(repo: Path, *args: str, input_bytes: bytes | None = None) -> str:
    proc = subprocess.run(["git", "-c", "core.hooksPath=/dev/null", "-c", "user.name=t",
                           "-c", "user.email=t@t", *args], cwd=repo, capture_output=True,
                          input=input_bytes, check=True)
    return proc.stdout.decode("utf-8", "surrogateescape")


def make_repo(path: Path, files: dict[str, bytes | str]) -> Path:
    path.mkdir(parents=True)
    git(path, "init", "-q", "-b", "main")
    for name, content in files.items():
        target = path / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(content.encode() if isinstance(content, str) else content)
        if name.endswith(".sh"):
            target.chmod(0o755)
    git(path, "add", "-A")
    git(path, "commit", "-qm", "base")
    return path


def files_of(root: Path) -> dict[str, bytes]:
    out = {}
    for path in sorted(root.rglob("*")):
        if path.is_file() and not path.is_symlink():
            out[path.relative_to(root).as_posix()] = path.read_bytes()
    return out


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    return make_repo(tmp_path / "repo", {"a.py": "print(1)\n", "tests/test_a.py": "x = 1\n",
                                         "bin/run.sh": "#!/bin/sh\necho hi\n"})


def test_freeze_makes_a_commit_on_no_branch_and_leaves_the_user_index_alone(repo):
    (repo / "a.py").write_text("print(2)\n")
    (repo / "new.txt").write_text("new\n")
    index_before = (repo / ".git" / "index").read_bytes()
    refs_before = git(repo, "for-each-ref")
    snap = freeze(repo, "frozen")
    assert isinstance(snap, Snapshot)
    assert git(repo, "rev-parse", f"{snap.commit}^{{tree}}").strip() == snap.tree
    assert git(repo, "show", f"{snap.commit}:a.py") == "print(2)\n"
    assert git(repo, "show", f"{snap.commit}:new.txt") == "new\n"
    assert git(repo, "log", "-1", "--format=%s", snap.commit).strip() == "frozen"
    assert git(repo, "rev-parse", f"{snap.commit}^").strip() == git(repo, "rev-parse",
                                                                    "HEAD").strip()
    assert (repo / ".git" / "index").read_bytes() == index_before
    assert git(repo, "for-each-ref") == refs_before  # on no branch
    assert git(repo, "status", "--porcelain") == " M a.py\n?? new.txt\n"
    # Frozen again with the same tree and the recorded snapshot: the same commit.
    assert freeze(repo, "frozen", reuse=snap) == snap
    assert freeze(repo, "frozen", reuse=Snapshot(snap.commit, "0" * 40)).tree == snap.tree
    gone = Snapshot(commit="f" * 40, tree=snap.tree)  # a recorded commit that is missing
    assert freeze(repo, "frozen", reuse=gone).commit != gone.commit


def test_freeze_of_a_run_worktree(repo):
    base = git(repo, "rev-parse", "HEAD").strip()
    worktree = create_worktree(repo, "run-1", base)
    (worktree.path / "a.py").write_text("print(3)\n")
    snap = freeze(worktree, "run commit")
    assert git(repo, "show", f"{snap.commit}:a.py") == "print(3)\n"
    assert git(repo, "rev-parse", "refs/heads/baton/run-1").strip() == base  # not landed
    worktree.land(snap.commit)
    assert git(repo, "rev-parse", "refs/heads/baton/run-1").strip() == snap.commit


def test_a_snapshot_commit_names_the_configured_author_or_baton(repo, tmp_path,
                                                                  monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path / "home"))  # no user configuration at all
    monkeypatch.delenv("XDG_CONFIG_HOME", raising=False)
    for name in ("GIT_AUTHOR_NAME", "GIT_AUTHOR_EMAIL", "GIT_COMMITTER_NAME",
                 "GIT_COMMITTER_EMAIL", "EMAIL"):
        monkeypatch.delenv(name, raising=False)
    base = git(repo, "rev-parse", "HEAD").strip()
    worktree = create_worktree(repo, "run-1", base)
    (worktree.path / "a.py").write_text("print(4)\n")
    snap = freeze(worktree, "no identity")
    assert git(repo, "log", "-1", "--format=%an <%ae> / %cn <%ce>", snap.commit).strip() \
        == "baton <baton@localhost> / baton <baton@localhost>"
    git(repo, "config", "user.name", "Ada")  # read again: the configuration changed
    (worktree.path / "a.py").write_text("print(5)\n")
    snap = freeze(worktree, "a name")
    assert git(repo, "log", "-1", "--format=%an <%ae>", snap.commit).strip() \
        == "Ada <baton@localhost>"


def test_tree_changes_reads_every_name_exactly(repo):
    base = git(repo, "rev-parse", "HEAD").strip()
    for name in ODD_NAMES:
        target = repo / ".github" / "workflows" / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text("on: push\n")
    (repo / "a.py").write_text("print(1)\nprint(2)\n")
    (repo / "tests" / "test_a.py").unlink()
    snap = freeze(repo)
    changes = {c.path: c for c in tree_changes(repo, base, snap.tree)}
    expected = {f".github/workflows/{n}" for n in ODD_NAMES} | {"a.py", "tests/test_a.py"}
    assert set(changes) == expected
    assert changes[".github/workflows/ci-é.yml"].status == "A"
    assert changes[".github/workflows/new\nline.txt"].added == 1
    assert (changes["a.py"].status, changes["a.py"].added, changes["a.py"].removed) == \
        ("M", 1, 0)
    assert changes["tests/test_a.py"].status == "D"


def test_disposable_checkout_is_the_tree_byte_for_byte_with_no_git(repo, tmp_path):
    # Attributes and filters that a normal checkout would apply must not change a byte.
    (repo / ".gitattributes").write_text("* text eol=crlf ident filter=x.y\n")
    (repo / "dollar.txt").write_text("$Id$\nline\n")
    for name in ODD_NAMES:
        target = repo / "odd" / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(b"\x00binary\xff" + name.encode())
    os.symlink("a.py", repo / "link.py")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "more")
    marker = tmp_path / "smudged"
    git(repo, "config", "filter.x.y.smudge", f"touch {marker}; cat")
    git(repo, "config", "filter.x.y.required", "true")
    expected = {}
    for entry in read_tree(repo, "HEAD"):
        expected[entry] = subprocess.run(["git", "cat-file", "blob", f"HEAD:{entry}"],
                                         cwd=repo, capture_output=True).stdout
    parent = tmp_path / "checkouts"
    parent.mkdir()
    with disposable_checkout(repo, "HEAD", parent=parent) as folder:
        assert not (folder / ".git").exists()
        assert not str(folder).startswith(str(repo))
        got = files_of(folder)
        assert os.readlink(folder / "link.py") == "a.py"
        assert os.stat(folder / "bin" / "run.sh").st_mode & stat.S_IXUSR
        assert not os.stat(folder / "a.py").st_mode & stat.S_IXUSR
        # git run inside finds no repository
        proc = subprocess.run(["git", "rev-parse", "--git-dir"], cwd=folder,
                              capture_output=True, text=True,
                              env={**os.environ, "GIT_CEILING_DIRECTORIES": str(parent)})
        assert proc.returncode != 0
        assert drift(folder, repo, "HEAD") == []
    expected.pop("link.py")
    assert got == expected
    assert not marker.exists()
    assert list(parent.iterdir()) == []  # removed afterwards


def test_drift_names_what_a_command_added_changed_and_deleted(repo, tmp_path):
    tree = git(repo, "rev-parse", "HEAD^{tree}").strip()
    with disposable_checkout(repo, tree) as folder:
        (folder / "__pycache__").mkdir()
        (folder / "__pycache__" / "a.cpython-311.pyc").write_bytes(b"\x00pyc")
        (folder / "tests" / "test_a.py").write_text("")  # emptied
        st = (folder / "a.py").stat()
        (folder / "a.py").write_text("print(9)\n")  # same size, old mtime: still found
        os.utime(folder / "a.py", ns=(st.st_atime_ns, st.st_mtime_ns))
        (folder / "bin" / "run.sh").unlink()
        (folder / "ci-é.yml").write_text("x")
        (folder / "empty-dir").mkdir()
        found = drift_changes(folder, repo, tree)
        ro = folder / "locked"
        ro.mkdir()
        (ro / "f").write_text("x")
        ro.chmod(0o500)
        leftover = folder.parent
    assert [(d.status, d.path) for d in found] == [
        ("A", "__pycache__/a.cpython-311.pyc"), ("M", "a.py"), ("D", "bin/run.sh"),
        ("A", "ci-é.yml"), ("M", "tests/test_a.py")]
    assert not leftover.exists()  # removed even with a read-only folder inside


def test_drift_sees_a_mode_change_and_a_file_replaced_by_a_folder(repo):
    with disposable_checkout(repo, "HEAD") as folder:
        (folder / "a.py").chmod(0o755)
        (folder / "tests" / "test_a.py").unlink()
        (folder / "tests" / "test_a.py").mkdir()
        (folder / "tests" / "test_a.py" / "inner").write_text("x")
        assert drift(folder, repo, "HEAD") == ["a.py", "tests/test_a.py",
                                               "tests/test_a.py/inner"]


def test_a_tree_naming_git_metadata_is_not_checked_out(repo):
    blob = git(repo, "hash-object", "-w", "--stdin", input_bytes=b"[core]\n").strip()
    inner = git(repo, "mktree", input_bytes=f"100644 blob {blob}\tconfig\n".encode()).strip()
    evil = git(repo, "mktree", "--missing",
               input_bytes=f"040000 tree {inner}\t.GIT\n".encode()).strip()
    with pytest.raises(UserError, match="unsafe path"), disposable_checkout(repo, evil):
        pass
    with pytest.raises(UserError, match="names no commit or tree"), \
            disposable_checkout(repo, "no-such-ref"):
        pass


def test_filter_names_with_dots_equals_and_spaces_are_all_found_and_neutralised(repo,
                                                                               tmp_path):
    names = ["plain", "x.y", "a=b", "with space", "lfs.v2.z"]
    marker = tmp_path / "markers"
    marker.mkdir()
    attributes = ""
    for number, name in enumerate(names):
        git(repo, "config", f"filter.{name}.clean", f"touch {marker}/{number}; cat")
        git(repo, "config", f"filter.{name}.process", f"touch {marker}/p{number}")
        git(repo, "config", f"filter.{name}.required", "true")
        if " " not in name:  # an attribute value cannot hold a space
            attributes += f"f{number}.txt filter={name}\n"
    listing = subprocess.run(["git", "config", "-z", "--get-regexp", r"^filter\."], cwd=repo,
                             capture_output=True).stdout
    assert filter_names(listing) == sorted(names)
    # A real add through baton's Git runs none of them (plain git runs them all).
    (repo / ".gitattributes").write_text(attributes)
    for number in range(len(names)):
        (repo / f"f{number}.txt").write_text("content\n")
    Git(repo_at(repo).git_dir, repo).run("add", "-A")
    assert list(marker.iterdir()) == []
