"""Repository discovery read from the files answers exactly what git answers, or leaves it
to git: each layout is asked both ways (baton.workspace.discover)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from baton.workspace.discover import ask_git, git_on_path, locate_repo, plain_config, read_repo


def git(cwd: Path, *args: str) -> str:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    proc = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, env=env,
                          check=True)
    return proc.stdout


def new_repo(path: Path) -> Path:
    path.mkdir(parents=True)
    git(path, "init", "-q")
    (path / "src" / "deep").mkdir(parents=True)
    (path / "src" / "deep" / "a.txt").write_text("a\n")
    git(path, "add", ".")
    git(path, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "one")
    return path


def same_as_git(path: Path, *, read: bool) -> None:
    """locate_repo answers git's answer; ``read``: without asking git."""
    answer = ask_git(path)
    assert answer is not None
    assert locate_repo(path) == answer
    assert read_repo(path) == (answer if read else None)


def test_a_plain_repository_is_read_from_its_files_at_every_depth(tmp_path):
    repo = new_repo(tmp_path / "repo")
    for path in (repo, repo / "src", repo / "src" / "deep"):
        same_as_git(path, read=True)
    assert read_repo(repo).git_dir == repo.resolve() / ".git"


def test_a_path_through_a_symbolic_link_gives_the_real_folders(tmp_path):
    repo = new_repo(tmp_path / "repo")
    (tmp_path / "link").symlink_to(repo / "src", target_is_directory=True)
    same_as_git(tmp_path / "link", read=True)
    assert read_repo(tmp_path / "link").root == repo.resolve()


def test_a_linked_worktree_names_its_own_and_the_shared_git_folder(tmp_path):
    repo = new_repo(tmp_path / "repo")
    git(repo, "worktree", "add", "-q", str(tmp_path / "wt"), "-b", "side")
    for path in (tmp_path / "wt", tmp_path / "wt" / "src" / "deep"):
        same_as_git(path, read=True)
    found = read_repo(tmp_path / "wt")
    assert found.common_dir == repo.resolve() / ".git"
    assert found.git_dir == repo.resolve() / ".git" / "worktrees" / "wt"


def test_a_repository_inside_another_is_the_inner_one(tmp_path):
    outer = new_repo(tmp_path / "outer")
    inner = new_repo(outer / "src" / "inner")
    same_as_git(inner / "src", read=True)
    assert read_repo(inner / "src").root == inner.resolve()


@pytest.mark.parametrize("change", [
    ["config", "core.worktree", "{repo}"],
    ["config", "core.bare", "true"],
    ["config", "include.path", "/dev/null"],
    ["config", "includeIf.gitdir:/x/.path", "/dev/null"],
    ["config", "extensions.worktreeConfig", "true"],
    ["config", "core.repositoryformatversion", "1"],
    ["config", "user.name", "A \"quoted\" name"],
])
def test_a_configuration_that_bears_on_discovery_is_left_to_git(tmp_path, change):
    repo = new_repo(tmp_path / "repo")
    git(repo, *[part.format(repo=repo) for part in change])
    answer = ask_git(repo / "src")
    assert read_repo(repo / "src") is None
    assert locate_repo(repo / "src") == answer


def test_a_separate_git_folder_or_a_submodule_is_left_to_git(tmp_path):
    (tmp_path / "elsewhere").mkdir()
    work = tmp_path / "work"
    work.mkdir()
    git(work, "init", "-q", "--separate-git-dir", str(tmp_path / "elsewhere" / "g"))
    assert (work / ".git").is_file()
    same_as_git(work, read=False)


@pytest.mark.parametrize("layout", ["bare", "inside .git", "no repository", "broken .git file",
                                    "empty .git folder", "HEAD file in the folder"])
def test_what_is_not_plainly_a_work_tree_is_left_to_git(tmp_path, layout):
    if layout == "bare":
        path = tmp_path / "bare.git"
        path.mkdir()
        git(path, "init", "-q", "--bare")
    elif layout == "inside .git":
        path = new_repo(tmp_path / "repo") / ".git" / "refs"
    elif layout == "no repository":
        path = tmp_path / "plain"
        path.mkdir()
    elif layout == "broken .git file":
        path = tmp_path / "broken"
        path.mkdir()
        (path / ".git").write_text("gitdir: /nowhere/at/all\n")
    elif layout == "empty .git folder":
        path = new_repo(tmp_path / "repo") / "src"
        (path / ".git").mkdir()
    else:
        path = new_repo(tmp_path / "repo") / "src"
        (path / "HEAD").write_text("not git's\n")
    assert read_repo(path) is None
    assert locate_repo(path) == ask_git(path)


def test_git_on_path_looks_where_the_shell_would(tmp_path, monkeypatch):
    assert git_on_path()
    monkeypatch.setenv("PATH", str(tmp_path))
    assert not git_on_path()
    (tmp_path / "git").write_text("#!/bin/sh\n")
    assert not git_on_path()  # not executable
    (tmp_path / "git").chmod(0o755)
    assert git_on_path()


def test_the_config_git_init_writes_is_plain():
    assert plain_config(b"[core]\n\trepositoryformatversion = 0\n\tfilemode = true\n"
                        b"\tbare = false\n\tlogallrefupdates = true\n")
    assert plain_config(b'[remote "origin"]\n\turl = https://example.com/x.git\n'
                        b"\tfetch = +refs/heads/*:refs/remotes/origin/*\n; a comment\n")
    for text in (b"[core] bare = true\n", b"[core]\n\tbare\n", b"[Core]\n\tBARE = TRUE\n",
                 b"[core.x]\n\ty = 1\n", b"[alias]\n\tx = !sh -c \\\n\t y\n"):
        assert not plain_config(text), text
