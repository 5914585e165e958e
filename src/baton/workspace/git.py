"""The isolated git worktree a run works in, and every git command baton runs.

Git runs with the repository's helper programs switched off (hooks, fsmonitor,
filters, pagers, external diff and textconv, signing), so a hostile repository cannot
make baton execute its code by way of git.
"""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from baton.approvals import FileChange
from baton.errors import UserError

SAFE_CONFIG = [
    "core.hooksPath=/dev/null",
    "core.fsmonitor=false",
    "core.pager=cat",
    "core.attributesFile=/dev/null",
    "core.sshCommand=false",
    "diff.external=",
    "commit.gpgSign=false",
    "tag.gpgSign=false",
    "gc.auto=0",
    "protocol.allow=never",
    "advice.detachedHead=false",
]


def _git_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    env.update(
        GIT_TERMINAL_PROMPT="0", GIT_PAGER="cat", PAGER="cat", GIT_EDITOR="true",
        GIT_CONFIG_NOSYSTEM="1", GIT_ASKPASS="true", SSH_ASKPASS="true",
        LC_ALL="C",
    )
    return env


def _filter_overrides(cwd: Path) -> list[str]:
    """Neutralise every filter driver the config defines (clean/smudge/process)."""
    out = subprocess.run(
        ["git", *_c(SAFE_CONFIG), "config", "--name-only", "--get-regexp", r"^filter\."],
        cwd=cwd, capture_output=True, text=True, env=_git_env(), check=False,
    )
    names = {line.split(".")[1] for line in out.stdout.splitlines() if line.count(".") >= 2}
    overrides: list[str] = []
    for name in sorted(names):
        overrides += [f"filter.{name}.clean=cat", f"filter.{name}.smudge=cat",
                      f"filter.{name}.process=cat", f"filter.{name}.required=false"]
    return overrides


def _c(settings: list[str]) -> list[str]:
    args: list[str] = []
    for item in settings:
        args += ["-c", item]
    return args


class Git:
    """Runs git in one directory with helper programs disabled."""

    def __init__(self, cwd: Path) -> None:
        self.cwd = cwd
        self._config = SAFE_CONFIG + _filter_overrides(cwd)

    def run(self, *args: str, check: bool = True, input_text: str | None = None,
            env: dict[str, str] | None = None) -> str:
        """Run one git command and return its stdout (``env`` adds variables, e.g.
        ``GIT_INDEX_FILE`` for a temporary index)."""
        proc = subprocess.run(
            ["git", *_c(self._config), *args], cwd=self.cwd, capture_output=True, text=True,
            env={**_git_env(), **(env or {})}, input=input_text, check=False,
        )
        if check and proc.returncode != 0:
            raise UserError(f"git {' '.join(args[:3])} failed in {self.cwd}: {proc.stderr.strip()}")
        return proc.stdout


@dataclass
class Worktree:
    """A run's git worktree on branch ``baton/<run-id>``."""

    repo_root: Path
    path: Path
    branch: str
    base_commit: str

    @cached_property
    def git(self) -> Git:
        """Git bound to the worktree (its filter overrides are looked up once)."""
        return Git(self.path)

    def checkpoint(self) -> None:
        """Stage everything: the next ``pending_diff`` shows only later changes."""
        self.git.run("add", "-A")

    def pending_diff(self) -> str:
        """Changes since the last checkpoint, new files included."""
        self.git.run("add", "-A", "-N")
        return self.git.run("diff", "--no-ext-diff", "--no-textconv", "--no-color")

    def full_diff(self) -> str:
        """Every change since the base commit."""
        self.git.run("add", "-A")
        return self.git.run(
            "diff", "--cached", "--no-ext-diff", "--no-textconv", "--no-color", self.base_commit
        )

    def changes(self) -> list[FileChange]:
        """Per-file status and line counts since the base commit."""
        self.git.run("add", "-A")
        status = {}
        for line in self.git.run("diff", "--cached", "--name-status", "--no-renames",
                                 self.base_commit).splitlines():
            code, _, path = line.partition("\t")
            status[path] = code[:1]
        changes = []
        for line in self.git.run("diff", "--cached", "--numstat", "--no-renames",
                                 self.base_commit).splitlines():
            added, removed, path = line.split("\t", 2)
            changes.append(FileChange(
                path=path, status=status.get(path, "M"),  # type: ignore[arg-type]
                added=int(added) if added.isdigit() else 0,
                removed=int(removed) if removed.isdigit() else 0,
            ))
        return changes

    def reset(self) -> None:
        """Back to the base commit, dropping every change (used before a replay)."""
        self._remove_stale_locks()
        self.git.run("reset", "-q", "--hard", self.base_commit)
        self.git.run("clean", "-qfd")

    def _remove_stale_locks(self) -> None:
        """Drop the lock files a git killed with baton leaves behind.

        Only called with the run's lock held: no other process works on this worktree's
        index or branch, so a lock file here is stale, and it would block every git command.
        """
        git_dir, common = self.git.run("rev-parse", "--path-format=absolute", "--git-dir",
                                       "--git-common-dir").splitlines()
        for lock in (Path(git_dir) / "index.lock", Path(git_dir) / "HEAD.lock",
                     Path(common) / "refs" / "heads" / f"{self.branch}.lock"):
            lock.unlink(missing_ok=True)

    def commit(self, message: str) -> str:
        """Commit everything on the run's branch; returns the commit id."""
        self.git.run("add", "-A")
        ident = []
        if not self.git.run("config", "user.email", check=False).strip():
            ident = ["-c", "user.name=baton", "-c", "user.email=baton@localhost"]
        self.git.run(*ident, "commit", "-q", "--no-verify", "-m", message)
        return self.git.run("rev-parse", "HEAD").strip()

    def remove(self) -> None:
        """Remove the worktree folder; the branch stays."""
        Git(self.repo_root).run("worktree", "remove", "--force", str(self.path), check=False)


def head_commit(repo_root: Path) -> str:
    """The commit HEAD points at, or a clear error for an empty repository."""
    out = Git(repo_root).run("rev-parse", "--verify", "-q", "HEAD^{commit}", check=False).strip()
    if not out:
        raise UserError(f"{repo_root} has no commits yet; commit something first")
    return out


def create_worktree(repo_root: Path, run_id: str, base_commit: str) -> Worktree:
    """A new worktree at ``.baton/worktrees/<run-id>`` on a new branch from ``base_commit``."""
    path = repo_root / ".baton" / "worktrees" / run_id
    branch = f"baton/{run_id}"
    path.parent.mkdir(parents=True, exist_ok=True)
    Git(repo_root).run("worktree", "add", "-q", "-b", branch, str(path), base_commit)
    return Worktree(repo_root, path, branch, base_commit)


def open_worktree(repo_root: Path, run_id: str, base_commit: str) -> Worktree:
    """The worktree of an existing run, re-created from its branch if it was removed."""
    path = repo_root / ".baton" / "worktrees" / run_id
    branch = f"baton/{run_id}"
    if not (path / ".git").exists():
        Git(repo_root).run("worktree", "prune")
        exists = Git(repo_root).run("rev-parse", "--verify", "-q", branch, check=False).strip()
        if exists:
            Git(repo_root).run("worktree", "add", "-q", str(path), branch)
        else:
            Git(repo_root).run("worktree", "add", "-q", "-b", branch, str(path), base_commit)
    return Worktree(repo_root, path, branch, base_commit)


def tracked_files(root: Path) -> list[str]:
    """Files git knows about in ``root`` (tracked and untracked, not ignored)."""
    out = Git(root).run("ls-files", "-z", "--cached", "--others", "--exclude-standard")
    return sorted({p for p in out.split("\0") if p})
