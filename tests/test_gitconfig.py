"""The filter-settings read is skipped only while no configuration file git reads has
changed (baton.workspace.gitconfig); every change, however disguised, means a fresh read."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

import pytest

from baton.workspace.gitconfig import SETTLED_S, SettingsCache, config_files, identity


class Clock:
    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now

    def settle(self) -> None:
        self.now += SETTLED_S + 1


@pytest.fixture
def repo(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.delenv("XDG_CONFIG_HOME", raising=False)
    (tmp_path / "home").mkdir()
    path = tmp_path / "repo"
    path.mkdir()
    subprocess.run(["git", "init", "-q"], cwd=path, check=True)
    return path


class Reads:
    def __init__(self) -> None:
        self.count = 0

    def __call__(self) -> list[tuple[str, str]]:
        self.count += 1
        return [("filter.x.clean", f"read {self.count}")]


def test_settled_unchanged_files_are_read_once(repo):
    clock, reads = Clock(), Reads()
    cache = SettingsCache(clock)
    git_dir = repo / ".git"
    assert cache.get(git_dir, reads) == [("filter.x.clean", "read 1")]  # young: not kept
    clock.settle()
    cache.get(git_dir, reads)
    assert cache.get(git_dir, reads) == [("filter.x.clean", "read 2")]
    assert reads.count == 2


def test_a_rewrite_of_the_same_size_with_the_old_times_put_back_is_seen(repo):
    clock, reads = Clock(), Reads()
    cache = SettingsCache(clock)
    config = repo / ".git" / "config"
    clock.settle()
    cache.get(repo / ".git", reads)
    before = config.stat()
    text = config.read_bytes()
    time.sleep(0.01)
    config.write_bytes(text.replace(b"false", b"fals0"))  # same size
    os.utime(config, ns=(before.st_atime_ns, before.st_mtime_ns))
    assert config.stat().st_size == before.st_size
    assert config.stat().st_mtime_ns == before.st_mtime_ns
    clock.settle()
    cache.get(repo / ".git", reads)
    assert reads.count == 2  # the change time moved


@pytest.mark.parametrize("where", ["repository", "user file", "new user file"])
def test_a_change_to_any_file_git_reads_means_a_fresh_read(repo, where):
    clock, reads = Clock(), Reads()
    cache = SettingsCache(clock)
    user = Path(os.environ["HOME"]) / ".gitconfig"
    if where == "user file":
        user.write_text("[user]\n\tname = t\n")
    clock.settle()
    cache.get(repo / ".git", reads)
    cache.get(repo / ".git", reads)
    assert reads.count == 1
    target = repo / ".git" / "config" if where == "repository" else user
    with target.open("a") as fh:
        fh.write('[filter "evil"]\n\tclean = touch /tmp/x\n')
    assert cache.get(repo / ".git", reads) == [("filter.x.clean", "read 2")]
    clock.settle()
    assert cache.get(repo / ".git", reads) == [("filter.x.clean", "read 2")]  # kept anew


def test_a_file_that_includes_another_is_never_trusted(repo):
    clock, reads = Clock(), Reads()
    cache = SettingsCache(clock)
    subprocess.run(["git", "config", "include.path", "elsewhere"], cwd=repo, check=True)
    clock.settle()
    for _ in range(3):
        cache.get(repo / ".git", reads)
    assert reads.count == 3


def test_a_linked_worktree_reads_the_shared_config_and_its_own(repo, tmp_path):
    subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q",
                    "--allow-empty", "-m", "x"], cwd=repo, check=True)
    subprocess.run(["git", "worktree", "add", "-q", str(tmp_path / "wt")], cwd=repo,
                   check=True)
    files = config_files(repo / ".git" / "worktrees" / "wt")
    assert str(repo / ".git" / "config") in files
    assert str(repo / ".git" / "worktrees" / "wt" / "config.worktree") in files
    assert files[0] == os.path.join(os.environ["HOME"], ".gitconfig")


def test_a_file_that_cannot_be_examined_is_no_identity(tmp_path):
    assert identity([str(tmp_path / "absent")], time.time()) == ((str(tmp_path / "absent"),),)
    (tmp_path / "file").write_text("")
    assert identity([str(tmp_path / "file" / "config")], time.time()) is None


def _linked_worktree(repo: Path, where: Path) -> Path:
    subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q",
                    "--allow-empty", "-m", "x"], cwd=repo, check=True)
    subprocess.run(["git", "worktree", "add", "-q", str(where)], cwd=repo, check=True)
    return repo / ".git" / "worktrees" / where.name


def test_a_linked_worktree_shares_its_repositorys_read_while_no_worktree_config(repo, tmp_path):
    clock, reads = Clock(), Reads()
    cache = SettingsCache(clock)
    admin = _linked_worktree(repo, tmp_path / "wt")
    clock.settle()
    assert cache.get(repo / ".git", reads) == [("filter.x.clean", "read 1")]
    assert cache.get(admin, reads) == [("filter.x.clean", "read 1")]  # the same files
    assert reads.count == 1


@pytest.mark.parametrize("own", ["repository", "worktree"])
def test_a_config_worktree_file_keeps_the_reads_apart(repo, tmp_path, own):
    clock, reads = Clock(), Reads()
    cache = SettingsCache(clock)
    admin = _linked_worktree(repo, tmp_path / "wt")
    folder = repo / ".git" if own == "repository" else admin
    (folder / "config.worktree").write_text('[filter "w"]\n\tclean = cat\n')
    clock.settle()
    cache.get(repo / ".git", reads)
    cache.get(admin, reads)  # git reads a config.worktree for its own worktree only
    assert reads.count == 2
    cache.get(repo / ".git", reads)
    cache.get(admin, reads)
    assert reads.count == 2
