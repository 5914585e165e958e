"""The isolated git worktree a run works in, and every git command baton runs.

Every git command names its git directory (and work tree, when it needs one) explicitly:
baton never lets git discover a repository through a ``.git`` file or folder inside a
work tree, which a model's edit or a command could rewrite. The one discovery is of the
user's own repository, from the path the user gave, in :mod:`baton.workspace.discover`.

Git runs with the repository's helper programs switched off (hooks, fsmonitor, every
filter driver whatever its name, pagers, external diff and textconv, signing), so a
hostile repository cannot make baton execute its code by way of git. Settings go to git
through ``GIT_CONFIG_COUNT``/``GIT_CONFIG_KEY_n``/``GIT_CONFIG_VALUE_n``, so a filter name
holding a dot, ``=`` or a space is passed exactly. Path lists are read with ``-z``.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cached_property, lru_cache
from pathlib import Path
from typing import Literal, NamedTuple

from baton.errors import UserError
from baton.workspace.discover import repo_at
from baton.workspace.gitconfig import SettingsCache
from baton.workspace.gitenv import SAFE_CONFIG, git_env

ChangeStatus = Literal["A", "M", "D", "R"]


@dataclass(frozen=True)
class FileChange:
    """One changed file since the run's base commit (what the approval rules judge)."""

    path: str
    status: ChangeStatus
    added: int
    removed: int


# Variables that would point git (baton's, or a verification command's) somewhere else.
_GIT_LOCATION_VARS = ("GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE", "GIT_OBJECT_DIRECTORY",
                      "GIT_ALTERNATE_OBJECT_DIRECTORIES", "GIT_COMMON_DIR", "GIT_NAMESPACE",
                      "GIT_CONFIG", "GIT_CONFIG_PARAMETERS", "GIT_CONFIG_COUNT")


def command_env(environ: dict[str, str] | os._Environ[str], ceiling: Path) -> dict[str, str]:
    """``environ`` for a verification command: no variable points git at a repository,
    and git's discovery stops at ``ceiling`` (the disposable checkout's parent)."""
    env = {k: v for k, v in environ.items() if k not in _GIT_LOCATION_VARS
           and not k.startswith(("GIT_CONFIG_KEY_", "GIT_CONFIG_VALUE_"))}
    env["GIT_CEILING_DIRECTORIES"] = str(ceiling)
    return env


def filter_names(config_listing: bytes) -> list[str]:
    """Names of every filter driver in ``git config -z --get-regexp ^filter\\.`` output.

    Entries are ``key NEWLINE value NUL``; the key is ``filter.<name>.<variable>`` and the
    name may itself hold dots (``filter.x.y.clean`` is driver ``x.y``).
    """
    names: set[str] = set()
    for entry in config_listing.split(b"\0"):
        key = os.fsdecode(entry.split(b"\n", 1)[0])
        if key.lower().startswith("filter.") and key.count(".") >= 2:
            names.add(key[len("filter."):key.rindex(".")])
    return sorted(names)


# Commands that only read or write git's objects and refs: none converts between a work
# tree and the object store, so none can run a clean, smudge or process filter, and the
# filter drivers need not be read (one git process fewer per command).
# (``write-tree`` is not one: it may re-hash work-tree files of racy index entries.)
_OBJECTS_ONLY = frozenset({"rev-parse", "commit-tree", "update-ref", "diff-tree", "ls-tree",
                           "config", "for-each-ref", "show-ref", "mktree"})
_CONVERTING_OPTIONS = ("--filters", "--textconv", "--path")
_LS_FILES_NAMES_ONLY = frozenset({"-z", "--cached", "--others", "--exclude-standard", "--",
                                  "--with-tree=HEAD"})


def runs_no_filter(args: tuple[str, ...] | list[str]) -> bool:
    """True if the git command ``args`` can never run a filter driver.

    Everything not known to work on objects alone is assumed to convert (``add``,
    ``status``, ``worktree``, ``reset``, ``diff``, ``hash-object``, ...); ``cat-file`` only
    without ``--filters``/``--textconv``; ``ls-files`` only listing names (``--cached``,
    ``--others``, ``--exclude-standard``, ``--with-tree=HEAD``, ``-z``: no content is read).
    """
    command = next((a for a in args if not a.startswith("-")), "")
    if command == "cat-file":
        return not any(a.startswith(_CONVERTING_OPTIONS) for a in args)
    if command == "ls-files":  # names only; --modified would compare contents
        options = [a for a in args[args.index(command) + 1:] if a.startswith("-")]
        return set(options) <= _LS_FILES_NAMES_ONLY
    return command in _OBJECTS_ONLY


def _neutralised(names: list[str]) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    for name in names:
        out += [(f"filter.{name}.clean", ""), (f"filter.{name}.smudge", ""),
                (f"filter.{name}.process", ""), (f"filter.{name}.required", "false")]
    return out


class Settings(NamedTuple):
    """What baton reads from a repository's configuration."""

    config: tuple[tuple[str, str], ...]
    """What a command that could run a filter is given: SAFE_CONFIG, every filter off."""
    identity: tuple[tuple[str, str], ...]
    """Author and committer variables for baton's commits where the configuration names
    no ``user.name`` or ``user.email``."""


_SETTINGS: SettingsCache[Settings] = SettingsCache()


class Git:
    """Git on one explicit git directory (and work tree), helper programs disabled.

    ``git_dir`` is a repository's git directory (or a linked worktree's own one under
    ``<common>/worktrees/``); ``work_tree`` is given to commands that read or write files.
    The filter drivers to neutralise are read from the configuration before every command
    that could run one (see :func:`runs_no_filter`; the read is skipped while no
    configuration file changed), so one defined while a run goes on is neutralised too.
    """

    def __init__(self, git_dir: Path, work_tree: Path | None = None, *,
                 index_file: Path | None = None) -> None:
        self.git_dir = Path(git_dir)
        self.work_tree = Path(work_tree) if work_tree is not None else None
        self.index_file = index_file

    def _argv(self, args: tuple[str, ...]) -> list[str]:
        argv = ["git", f"--git-dir={self.git_dir}"]
        if self.work_tree is not None:
            argv.append(f"--work-tree={self.work_tree}")
        return [*argv, *args]

    def _cwd(self) -> Path:
        return self.work_tree if self.work_tree is not None else self.git_dir

    def config(self) -> list[tuple[str, str]]:
        """The settings every command of this Git runs with: read afresh unless no
        configuration file changed since the last read (see workspace/gitconfig.py)."""
        return list(self.settings().config)

    def settings(self) -> Settings:
        """What baton needs from the configuration (one read, kept as :meth:`config` says)."""
        return _SETTINGS.get(self.git_dir, self._read_settings)

    def _read_settings(self) -> Settings:
        listing = subprocess.run(
            self._argv(("config", "-z", "--get-regexp", r"^(filter\.|user\.(name|email)$)")),
            cwd=self._cwd(), capture_output=True, env=git_env(SAFE_CONFIG), check=False,
        ).stdout
        return Settings(tuple(SAFE_CONFIG + _neutralised(filter_names(listing))),
                        _identity(listing))

    def run_bytes(self, *args: str, check: bool = True, input_bytes: bytes | None = None,
                  env: dict[str, str] | None = None) -> bytes:
        """Run one git command and return its raw stdout."""
        extra = dict(env or {})
        if self.index_file is not None:
            extra["GIT_INDEX_FILE"] = str(self.index_file)
        config = SAFE_CONFIG if runs_no_filter(args) else self.config()
        proc = subprocess.run(
            self._argv(args), cwd=self._cwd(), capture_output=True, input=input_bytes,
            env=git_env(config, extra), check=False,
        )
        if check and proc.returncode != 0:
            where = self.work_tree or self.git_dir
            raise UserError(f"git {' '.join(args[:3])} failed in {where}: "
                            f"{proc.stderr.decode(errors='replace').strip()}")
        return proc.stdout

    def run(self, *args: str, check: bool = True, input_text: str | None = None,
            env: dict[str, str] | None = None) -> str:
        """Run one git command and return its stdout as text."""
        data = None if input_text is None else input_text.encode("utf-8", "surrogateescape")
        out = self.run_bytes(*args, check=check, input_bytes=data, env=env)
        return out.decode("utf-8", "surrogateescape")

    def with_work_tree(self, work_tree: Path, index_file: Path | None = None) -> Git:
        """The same repository with another work tree (and index)."""
        return Git(self.git_dir, work_tree, index_file=index_file)


def split_z(data: bytes) -> list[str]:
    """NUL-separated git output as exact names (undecodable bytes kept as surrogates)."""
    return [os.fsdecode(item) for item in data.split(b"\0") if item]


# --- the user's repository -------------------------------------------------------------


def repo_git(root: Path) -> Git:
    """Git on the repository at ``root``, with its work tree."""
    repo = repo_at(Path(root))
    return Git(repo.git_dir, repo.root)


def head_commit(repo_root: Path) -> str:
    """The commit HEAD points at, or a clear error for an empty repository."""
    out = repo_git(repo_root).run("rev-parse", "--verify", "-q", "HEAD^{commit}",
                                  check=False).strip()
    if not out:
        raise UserError(f"{repo_root} has no commits yet; commit something first")
    return out


def identity_env(git: Git) -> dict[str, str]:
    """Author and committer for commits baton makes, when the repository names none."""
    return dict(git.settings().identity)


def _identity(config_listing: bytes) -> tuple[tuple[str, str], ...]:
    found = {key: value for key, _, value in
             (entry.partition(b"\n") for entry in config_listing.split(b"\0") if entry)}
    env: list[tuple[str, str]] = []
    if not found.get(b"user.name", b"").strip():
        env += [("GIT_AUTHOR_NAME", "baton"), ("GIT_COMMITTER_NAME", "baton")]
    if not found.get(b"user.email", b"").strip():
        env += [("GIT_AUTHOR_EMAIL", "baton@localhost"),
                ("GIT_COMMITTER_EMAIL", "baton@localhost")]
    return tuple(env)


# --- the run's worktree ----------------------------------------------------------------


@dataclass
class Worktree:
    """A run's git worktree on branch ``baton/<run-id>``.

    ``git_dir`` is the worktree's own git directory inside the repository's
    (``<common>/worktrees/<name>``): baton finds it from the repository, never through
    the worktree's ``.git`` file.
    """

    repo_root: Path
    path: Path
    branch: str
    base_commit: str
    git_dir: Path
    common_dir: Path
    _packet_tree: str | None = field(default=None, repr=False)
    reviewed_tree: str | None = field(default=None, repr=False)
    """The tree of the last ``pending_diff`` (what the reviewer was shown)."""

    @cached_property
    def git(self) -> Git:
        """Git bound to the worktree, by its explicit git directory."""
        return Git(self.git_dir, self.path)

    @cached_property
    def objects(self) -> Git:
        """Git on the shared git directory: for reading objects, which every worktree of
        the repository shares (so a patch between two ids is computed once for all)."""
        return Git(self.common_dir)

    @cached_property
    def base_tree(self) -> str:
        """The tree of the base commit (a commit's tree never changes: read once)."""
        return resolve_tree(self.objects, self.base_commit)

    def tree(self) -> str:
        """The tree of the worktree's files now (everything staged, ignored files not)."""
        self.git.run("add", "-A")
        tree = self.git.run("write-tree").strip()
        remember_tree(self.common_dir, tree, tree)
        return tree

    def checkpoint(self) -> None:
        """Remember the current tree: the next ``pending_diff`` shows only later changes."""
        self._packet_tree = self.tree()

    def pending_diff(self) -> str:
        """Changes since the last checkpoint (or the base), new files included."""
        self.reviewed_tree = self.tree()
        return tree_diff(self.objects, self._packet_tree or self.base_commit,
                         self.reviewed_tree)

    @property
    def checkpoint_tree(self) -> str | None:
        """The tree the last :meth:`checkpoint` recorded."""
        return self._packet_tree

    def full_diff(self, tree: str | None = None) -> str:
        """Every change since the base commit (to ``tree`` when the caller has just made
        it, with nothing written since; else to the worktree's files now)."""
        return tree_diff(self.objects, self.base_commit, tree or self.tree())

    def changes(self) -> list[FileChange]:
        """Per-file status and line counts since the base commit."""
        return tree_changes_in(self.objects, self.base_commit, self.tree())

    def files(self) -> list[str]:
        """Files in the worktree that git would track (tracked and untracked, not ignored)."""
        return tracked_files_in(self.git)

    def reset(self) -> None:
        """Back to the base commit, dropping every change (used before a replay)."""
        self._remove_stale_locks()
        self.repair_gitfile()
        self.git.run("reset", "-q", "--hard", self.base_commit)
        self.git.run("clean", "-qfd")
        self._packet_tree = None
        self.reviewed_tree = None

    def _remove_stale_locks(self) -> None:
        """Drop the lock files a git killed with baton leaves behind.

        Only called with the run's lock held: no other process works on this worktree's
        index or branch, so a lock file here is stale, and it would block every git command.
        """
        for lock in (self.git_dir / "index.lock", self.git_dir / "HEAD.lock",
                     self.common_dir / "refs" / "heads" / f"{self.branch}.lock"):
            lock.unlink(missing_ok=True)

    def repair_gitfile(self) -> None:
        """Point the worktree's ``.git`` file back at its git directory, for people and
        tools that look at the folder (baton itself never reads it)."""
        gitfile = self.path / ".git"
        wanted = f"gitdir: {self.git_dir}\n"
        try:
            if gitfile.is_file() and not gitfile.is_symlink() \
                    and gitfile.read_text(errors="replace") == wanted:
                return
            if gitfile.is_dir() and not gitfile.is_symlink():
                shutil.rmtree(gitfile)
            else:
                gitfile.unlink(missing_ok=True)
            gitfile.write_text(wanted)
        except OSError:
            pass

    def land(self, commit: str) -> None:
        """Put ``commit`` on the run's branch, exactly (no index, no work tree involved)."""
        Git(self.common_dir).run("update-ref", "-m", "baton: go", f"refs/heads/{self.branch}",
                                 commit)

    def remove(self) -> None:
        """Remove the worktree folder and its git directory; the branch stays."""
        with worktrees_locked(self.common_dir):
            Git(self.common_dir).run_bytes("worktree", "remove", "--force", "--force",
                                           str(self.path), check=False)
        if self.path.exists() or self.git_dir.exists():
            shutil.rmtree(self.path, ignore_errors=True)
            shutil.rmtree(self.git_dir, ignore_errors=True)


@contextmanager
def worktrees_locked(common_dir: Path) -> Iterator[None]:
    """Hold the repository's lock for adding, removing and pruning worktrees.

    git reads every worktree's files when it adds or removes one, and fails on one that
    another process is creating or deleting at that moment ("failed to read .../commondir").
    Runs starting at once in one repository (threads or processes) take turns for these
    few milliseconds; nothing else waits for it.
    """
    import fcntl

    with open(common_dir / "baton-worktrees-lock", "a", encoding="utf-8") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        yield


def _admin_dir(common: Path, path: Path) -> Path:
    """The git directory of the linked worktree at ``path``, found from the repository."""
    wanted = os.path.realpath(path / ".git")
    guess = common / "worktrees" / path.name
    candidates = [guess, *sorted((common / "worktrees").glob(f"{path.name}*"))]
    for admin in candidates:
        try:
            pointer = (admin / "gitdir").read_text(encoding="utf-8").strip()
        except OSError:
            continue
        if os.path.realpath(pointer) == wanted:
            return admin
    raise UserError(f"git has no worktree at {path}; remove the folder and run "
                    "`baton resume` again")


def _worktree_at(repo_root: Path, run_id: str, base_commit: str) -> Worktree:
    repo = repo_at(repo_root)
    path = repo_root / ".baton" / "worktrees" / run_id
    return Worktree(repo_root, path, f"baton/{run_id}", base_commit,
                    _admin_dir(repo.common_dir, path), repo.common_dir)


def create_worktree(repo_root: Path, run_id: str, base_commit: str) -> Worktree:
    """A new worktree at ``.baton/worktrees/<run-id>`` on a new branch from ``base_commit``."""
    repo = repo_at(repo_root)
    path = repo_root / ".baton" / "worktrees" / run_id
    path.parent.mkdir(parents=True, exist_ok=True)
    with worktrees_locked(repo.common_dir):
        Git(repo.common_dir).run("worktree", "add", "-q", "-b", f"baton/{run_id}", str(path),
                                 base_commit)
    return _worktree_at(repo_root, run_id, base_commit)


def open_worktree(repo_root: Path, run_id: str, base_commit: str) -> Worktree:
    """The worktree of an existing run, re-created from its branch if it was removed."""
    repo = repo_at(repo_root)
    path = repo_root / ".baton" / "worktrees" / run_id
    branch = f"baton/{run_id}"
    git = Git(repo.common_dir)
    try:
        return _worktree_at(repo_root, run_id, base_commit)
    except UserError:
        pass
    with worktrees_locked(repo.common_dir):
        git.run("worktree", "prune")
        if path.exists():
            shutil.rmtree(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        exists = git.run("rev-parse", "--verify", "-q", f"refs/heads/{branch}",
                         check=False).strip()
        if exists:
            git.run("worktree", "add", "-q", str(path), branch)
        else:
            git.run("worktree", "add", "-q", "-b", branch, str(path), base_commit)
    return _worktree_at(repo_root, run_id, base_commit)


# --- reading trees ---------------------------------------------------------------------


# Object names this process has resolved to trees (or trees it wrote), per object store:
# the tree of a commit or tree id never changes. Failures are never kept.
_TREES: dict[tuple[str, str], str] = {}
_TREES_MAX = 1024


def remember_tree(store: Path, name: str, tree: str) -> None:
    """Note that the object ``name`` (a full id) in ``store`` (a common git directory)
    has the tree ``tree``."""
    if _ids(name, tree):
        if len(_TREES) >= _TREES_MAX:
            _TREES.clear()
        _TREES[(str(store), name)] = _TREES[(str(store), tree)] = tree


def resolve_tree(git: Git, treeish: str) -> str:
    """The tree id of a commit or tree name, or a clear error (an id once per process)."""
    known = _TREES.get((str(git.git_dir), treeish))
    if known is not None:
        return known
    out = git.run("rev-parse", "--verify", "-q", f"{treeish}^{{tree}}", check=False).strip()
    if not out:
        raise UserError(f"{treeish!r} names no commit or tree in this repository")
    remember_tree(git.git_dir, treeish, out)
    return out


_OBJECT_ID = re.compile(r"[0-9a-f]{40}|[0-9a-f]{64}")


def _ids(*names: str) -> bool:
    """True if every name is a full object id (a commit or tree, immutable), not a ref."""
    return all(_OBJECT_ID.fullmatch(n) for n in names)


def tree_diff(git: Git, base: str, tree: str) -> str:
    """The patch from ``base`` to ``tree`` (trees or commits), as a reviewer reads it.

    Between two object ids the patch never changes: it is computed once per process.
    """
    if _ids(base, tree):
        return _tree_diff_of_ids(str(git.git_dir), base, tree)
    return _tree_diff(git, base, tree)


def _tree_diff(git: Git, base: str, tree: str) -> str:
    return git.run("diff-tree", "-p", "-r", "--no-color", "--no-ext-diff", "--no-textconv",
                   "--no-renames", base, tree, "--")


@lru_cache(maxsize=128)
def _tree_diff_of_ids(git_dir: str, base: str, tree: str) -> str:
    return _tree_diff(Git(Path(git_dir)), base, tree)


def tree_changes_in(git: Git, base: str, tree: str) -> list[FileChange]:
    """Per-file status and line counts from ``base`` to ``tree``, names read exactly
    (computed once per process between two object ids)."""
    if _ids(base, tree):
        return list(_tree_changes_of_ids(str(git.git_dir), base, tree))
    return list(_tree_changes(git, base, tree))


@lru_cache(maxsize=128)
def _tree_changes_of_ids(git_dir: str, base: str, tree: str) -> tuple[FileChange, ...]:
    return _tree_changes(Git(Path(git_dir)), base, tree)


def _tree_changes(git: Git, base: str, tree: str) -> tuple[FileChange, ...]:
    # One diff-tree gives both: the raw records (":old new oid oid STATUS\0path\0") first,
    # then the numstat records ("added\tremoved\tpath\0").
    out = git.run_bytes("diff-tree", "-r", "-z", "--no-renames", "--raw", "--numstat",
                        "--no-ext-diff", "--no-textconv", base, tree, "--")
    tokens = out.split(b"\0")
    status: dict[str, str] = {}
    at = 0
    while at < len(tokens) and tokens[at].startswith(b":"):
        letter = tokens[at].split()[-1].decode()[:1]
        status[os.fsdecode(tokens[at + 1])] = {"T": "M"}.get(letter, letter)
        at += 2
    changes = []
    for record in tokens[at:]:
        if not record:
            continue
        added, removed, name = record.split(b"\t", 2)
        path = os.fsdecode(name)
        changes.append(FileChange(
            path=path, status=status.get(path, "M"),  # type: ignore[arg-type]
            added=int(added) if added.isdigit() else 0,
            removed=int(removed) if removed.isdigit() else 0,
        ))
    return tuple(changes)


def tracked_files_in(git: Git) -> list[str]:
    """Files of a work tree git would track (tracked and untracked, not ignored)."""
    out = git.run_bytes("ls-files", "-z", "--cached", "--others", "--exclude-standard")
    return sorted(set(split_z(out)))


def tracked_paths(git: Git, path: str) -> list[str]:
    """Paths under ``path`` that git tracks: in the index or in the HEAD commit (one git
    process; three when HEAD has no commit yet or the short form fails)."""
    try:
        return split_z(git.run_bytes("ls-files", "-z", "--cached", "--with-tree=HEAD", "--",
                                     path))
    except UserError:  # no commit yet (or an odd HEAD): ask the index and HEAD one by one
        pass
    tracked = split_z(git.run_bytes("ls-files", "-z", "--cached", "--", path))
    head = git.run("rev-parse", "--verify", "-q", "HEAD^{commit}", check=False).strip()
    if head and not tracked:
        tracked = split_z(git.run_bytes("ls-tree", "-r", "-z", "--name-only", head, "--",
                                        path))
    return tracked


def tracked_files(root: Path) -> list[str]:
    """Files git knows about in the repository at ``root`` (tracked and untracked)."""
    return tracked_files_in(repo_git(root))
