"""baton's git commands: the filter drivers are read (and neutralised) for every command that
could run one; commands on objects alone skip that read and still run no filter."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from baton.workspace.git import Git, create_worktree, repo_at, runs_no_filter


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "-c", "core.hooksPath=/dev/null", "-c", "user.name=t",
                           "-c", "user.email=t@t", *args], cwd=repo, capture_output=True,
                          check=True, text=True).stdout


@pytest.mark.parametrize("args", [
    ("rev-parse", "--verify", "-q", "HEAD^{commit}"), ("commit-tree", "abc", "-m", "x"),
    ("update-ref", "refs/heads/x", "abc"), ("diff-tree", "-p", "a", "b"),
    ("ls-tree", "-r", "-z", "HEAD"), ("config", "user.name"),
    ("cat-file", "--batch"), ("ls-files", "-z", "--cached", "--", ".baton"),
    ("ls-files", "-z", "--cached", "--others", "--exclude-standard"),
])
def test_commands_on_objects_alone_skip_the_filter_read(args):
    assert runs_no_filter(args)


@pytest.mark.parametrize("args", [
    ("add", "-A"), ("--no-optional-locks", "status", "--porcelain"),
    ("worktree", "add", "-q", "x"), ("worktree", "remove", "--force", "x"),
    ("reset", "-q", "--hard", "HEAD"), ("diff",), ("hash-object", "-w", "f"),
    ("cat-file", "--filters", "HEAD:f"), ("cat-file", "--textconv", "HEAD:f"),
    ("cat-file", "--batch", "--path=f"), ("-c", "x=y", "rev-parse", "HEAD"),
    ("checkout", "HEAD"), ("ls-files", "-m"), ("ls-files", "--modified"),
    ("ls-files", "-mz"), ("ls-files", "--cached", "-t"), ("write-tree",), (),
])
def test_commands_that_may_convert_files_read_the_filters(args):
    assert not runs_no_filter(args)


def test_a_filter_defined_mid_run_never_runs_through_any_command(tmp_path):
    repo = tmp_path / "repo"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    (repo / "f.txt").write_text("one\n")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "base")
    base = git(repo, "rev-parse", "HEAD").strip()
    worktree = create_worktree(repo, "run1", base)
    # defined after the worktree exists, as a command or an edit might while a run goes on
    marker = tmp_path / "ran"
    git(repo, "config", "filter.evil.clean", f"touch {marker}; cat")
    git(repo, "config", "filter.evil.smudge", f"touch {marker}; cat")
    git(repo, "config", "filter.evil.process", f"touch {marker}")
    git(repo, "config", "filter.evil.required", "true")
    (worktree.path / ".gitattributes").write_text("* filter=evil\n")
    (worktree.path / "f.txt").write_text("two\n")
    tree = worktree.tree()  # add -A: would run the clean filter
    plumbing = Git(repo_at(repo).common_dir)
    commit = plumbing.run("commit-tree", tree, "-p", base, "-m", "x").strip()
    plumbing.run("diff-tree", "-p", "-r", base, tree, "--")
    plumbing.run_bytes("cat-file", "--batch", input_bytes=f"{tree}\n".encode())
    worktree.land(commit)
    worktree.reset()  # reset --hard: would run the smudge filter
    assert not marker.exists()
    assert git(repo, "show", f"{commit}:f.txt") == "two\n"
