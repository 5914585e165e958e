"""Finding the user's repository from the path they gave: baton's one repository discovery.

Git itself decides what the repository is (``git rev-parse`` with every ``GIT_*``
variable removed, see :func:`locate_repo`). Starting a git process costs a quick command
(``baton runs``, ``baton policies``) more than the rest of its work, so the common case is
answered by reading the same files git reads, and only when the answer is certainly git's:
a plain ``.git`` folder or a linked worktree's ``.git`` file, owned by this user, on one
file system, whose configuration is git's default (format version 0, not bare, no
``core.worktree``, no includes). Anything else, and every "not a repository", is asked of
git. tests/test_discover.py compares both answers on each layout.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import NamedTuple

from baton.errors import UserError


class Repo(NamedTuple):
    """The user's repository: its work tree, its git directory and the shared one."""

    root: Path
    git_dir: Path
    common_dir: Path


def git_on_path() -> bool:
    """True if an executable ``git`` is on PATH (what ``shutil.which`` would find)."""
    for folder in os.environ.get("PATH", os.defpath).split(os.pathsep):
        candidate = os.path.join(folder or ".", "git")
        if os.access(candidate, os.X_OK) and not os.path.isdir(candidate):
            return True
    return False


def locate_repo(path: Path) -> Repo | None:
    """The repository whose work tree contains ``path`` (the user's own path), or None.

    This is baton's only repository discovery; everything later names the directories it
    found here.
    """
    found = read_repo(path)
    return found if found is not None else ask_git(path)


def ask_git(path: Path) -> Repo | None:
    """The answer of ``git rev-parse`` run in ``path`` (no ``GIT_*`` variable), or None."""
    import subprocess

    from baton.workspace.gitenv import SAFE_CONFIG, git_env

    proc = subprocess.run(
        ["git", "rev-parse", "--path-format=absolute", "--show-toplevel", "--git-dir",
         "--git-common-dir"], cwd=path, capture_output=True, env=git_env(SAFE_CONFIG),
        check=False,
    )
    lines = proc.stdout.decode("utf-8", "surrogateescape").splitlines()
    if proc.returncode != 0 or len(lines) != 3 or not lines[0]:
        return None
    return Repo(Path(lines[0]), Path(lines[1]), Path(lines[2]))


_HEAD = re.compile(rb"(ref: refs/[^\s]+|[0-9a-f]{40}|[0-9a-f]{64})\n?\Z")
_SECTION = re.compile(rb'\[\s*([A-Za-z0-9.-]+)(?:\s+"[^"\\\n]*")?\s*\]\s*(?:[#;].*)?')
_SETTING = re.compile(rb'([A-Za-z][A-Za-z0-9-]*)\s*(?:=([^#;\\"]*))?(?:[#;].*)?')
# The settings of [core] that bear on discovery, and the only values git's answer is read
# for here (what `git init` writes); any other value, and any include or extension, is
# left to git.
_DISCOVERY = {b"repositoryformatversion": b"0", b"bare": b"false"}


def plain_config(text: bytes) -> bool:
    """True if a repository's config leaves discovery at git's defaults: no include, no
    extension, format 0, not bare, no ``core.worktree``, and nothing this reading of the
    format is not sure of."""
    section = b""
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith((b"#", b";")):
            continue
        header = _SECTION.fullmatch(line)
        if header:
            section = header.group(1).lower()
            if section.startswith((b"include", b"extensions")) or b"." in section:
                return False
            continue
        setting = _SETTING.fullmatch(line)
        if setting is None:
            return False  # quotes, continuations, a value after a header: git reads it
        if section == b"core":
            key, value = setting.group(1).lower(), (setting.group(2) or b"").strip().lower()
            if key == b"worktree" or (key in _DISCOVERY and value != _DISCOVERY[key]):
                return False
    return True


def read_repo(path: Path) -> Repo | None:
    """Git's answer for ``path`` read from the files, or None when only git can say."""
    try:
        here = os.path.realpath(path)
        if not os.path.isdir(here) or ".git" in here.split(os.sep):
            return None
        uid = os.geteuid()
        device = os.stat(here).st_dev
        while True:
            if os.path.exists(os.path.join(here, "HEAD")):
                return None  # maybe a git directory itself (bare): git decides
            dot_git = os.path.join(here, ".git")
            if os.path.lexists(dot_git):
                return _repo_at(here, dot_git, uid)
            parent = os.path.dirname(here)
            if parent == here or os.stat(parent).st_dev != device:
                return None  # the top, or another file system: git decides
            here = parent
    except (OSError, ValueError):
        return None


def _repo_at(top: str, dot_git: str, uid: int) -> Repo | None:
    info = os.lstat(dot_git)
    if os.stat(top).st_uid != uid or info.st_uid != uid:
        return None  # safe.directory decides
    if os.path.islink(dot_git):
        return None
    if os.path.isdir(dot_git):
        git_dir = common = dot_git
    else:
        with open(dot_git, "rb") as fh:
            text = fh.read(4097)
        if not text.startswith(b"gitdir: ") or len(text) > 4096 or text.count(b"\n") > 1:
            return None
        target = os.fsdecode(text[len(b"gitdir: "):].rstrip(b"\n"))
        if not target or "\r" in target:
            return None
        git_dir = os.path.realpath(os.path.join(top, target))
        try:
            with open(os.path.join(git_dir, "commondir"), "rb") as fh:
                shared = os.fsdecode(fh.read(4097).rstrip(b"\n"))
        except FileNotFoundError:
            return None  # a submodule or a moved git directory: git decides
        if not shared or "\n" in shared:
            return None
        common = os.path.realpath(os.path.join(git_dir, shared))
        with open(os.path.join(git_dir, "gitdir"), "rb") as fh:  # the worktree's back link
            if os.path.realpath(os.fsdecode(fh.read(4097).rstrip(b"\n"))) != dot_git:
                return None
    for folder in {git_dir, common}:
        if os.stat(folder).st_uid != uid:
            return None
    with open(os.path.join(git_dir, "HEAD"), "rb") as fh:
        if os.path.islink(os.path.join(git_dir, "HEAD")) or not _HEAD.match(fh.read(200)):
            return None
    if not (os.path.isdir(os.path.join(common, "objects"))
            and os.path.isdir(os.path.join(common, "refs"))):
        return None
    for config in {os.path.join(git_dir, "config"), os.path.join(common, "config")}:
        try:
            with open(config, "rb") as fh:
                text = fh.read(1 << 20)
        except FileNotFoundError:
            continue
        if len(text) >= 1 << 20 or not plain_config(text):
            return None
    return Repo(Path(top), Path(git_dir), Path(common))


# Work-tree root -> its repository, found once per process (see remember_repo).
_REPOS: dict[Path, Repo] = {}
_MAX_REPOS = 256


def remember_repo(repo: Repo) -> Repo:
    """Keep a repository :func:`locate_repo` found, so :func:`repo_at` on its root needs no
    second look."""
    if len(_REPOS) >= _MAX_REPOS:
        _REPOS.clear()
    _REPOS[repo.root] = repo
    return repo


def repo_at(root: Path) -> Repo:
    """The repository at work-tree root ``root`` (looked up once per process)."""
    repo = _REPOS.get(root)
    if repo is None:
        found = locate_repo(root)
        if found is None:
            raise UserError(f"{root} is not a git repository; pass --repo PATH or run "
                            "`git init`")
        repo = remember_repo(found)
    return repo
