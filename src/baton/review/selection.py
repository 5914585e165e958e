"""Freeze a change made elsewhere into an immutable tree, touching nothing of the user's.

Every selection becomes (base, tree): the commit the change is measured against and a git
tree object holding exactly the reviewed files. Uncommitted, staged and ``--diff``
changes are built in a temporary index file (``GIT_INDEX_FILE``), never the user's: the
user's working tree, index, HEAD, refs and stash stay as they were, and no hook runs (git
runs with hooks, filters and fsmonitor off). Only new objects (blobs, trees, one
unreferenced snapshot commit) are added to the object store, as ``git stash create`` does.
"""

from __future__ import annotations

import fnmatch
import shutil
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from baton.approvals import FileChange
from baton.errors import UserError
from baton.secrets import secret_file_pattern
from baton.workspace.git import Git, repo_at

SelectionKind = Literal["uncommitted", "staged", "base", "commit", "diff"]
EMPTY_TREE = "4b825dc642cb6eb9a060e54bf8d69288fbee4904"

_SNAPSHOT_IDENT = {"GIT_AUTHOR_NAME": "baton", "GIT_AUTHOR_EMAIL": "baton@localhost",
                   "GIT_COMMITTER_NAME": "baton", "GIT_COMMITTER_EMAIL": "baton@localhost"}


@dataclass(frozen=True)
class Selection:
    """What the user asked to review."""

    kind: SelectionKind
    ref: str | None = None
    """The base ref (``base``), the commit (``commit``) or the diff's source (``diff``)."""
    diff_text: str | None = None
    """The diff itself (``diff``)."""

    def label(self) -> str:
        """The selection as the flag that made it, for people."""
        if self.kind in ("uncommitted", "staged"):
            return f"--{self.kind}"
        return f"--{self.kind} {self.ref}"

    def to_dict(self) -> dict[str, str | None]:
        """What ``workflow.json`` remembers (a diff is kept in the run folder instead)."""
        return {"kind": self.kind, "ref": self.ref}


@dataclass(frozen=True)
class FrozenChange:
    """A change fixed as (base, tree), with what the reviewer is shown of it."""

    selection: Selection
    base: str
    """The commit the change is measured against (the empty tree for a root commit)."""
    tree: str
    commit: str
    """A commit object of ``tree`` on ``base`` (the reviewed commit itself for --base and
    --commit; an unreferenced snapshot commit otherwise)."""
    changes: list[FileChange]
    diff: str
    """The diff sent to the reviewer: every change except withheld files."""
    withheld: list[str] = field(default_factory=list)
    binary: list[str] = field(default_factory=list)
    messages: str = ""
    """Messages of the commits under review (for Co-Authored-By trailers)."""


class RepoGit:
    """Git on the user's repository, with its explicit git dir and work tree on every call
    (found once, from the user's own path), optional locks off, names unquoted."""

    def __init__(self, repo_root: Path) -> None:
        repo = repo_at(repo_root)
        self.root = repo.root
        self.git_dir = repo.git_dir

    def run(self, *args: str, index: Path | None = None, check: bool = True,
            input_text: str | None = None, work_tree: Path | None = None,
            env: dict[str, str] | None = None) -> str:
        """One git command; ``index`` is a temporary index file, ``work_tree`` another
        folder than the repository's."""
        git = Git(self.git_dir, work_tree or self.root, index_file=index)
        return git.run("-c", "core.quotePath=false", *args, check=check,
                       input_text=input_text, env={"GIT_OPTIONAL_LOCKS": "0", **(env or {})})

    def commit_of(self, ref: str, flag: str) -> str:
        out = self.run("rev-parse", "--verify", "-q", "--end-of-options", f"{ref}^{{commit}}",
                       check=False).strip()
        if not out:
            raise UserError(f"{flag} {ref}: no such commit or branch in {self.root}; "
                            "check the name (`git branch -a`, `git log`) or fetch it first")
        return out

    def tree_of(self, commit: str) -> str:
        return self.run("rev-parse", f"{commit}^{{tree}}").strip()


def protected_match(path: str, patterns: Iterable[str]) -> str | None:
    """The first protected-path glob matching ``path`` or one of its parent folders."""
    parts = path.split("/")
    candidates = [path.casefold()] + ["/".join(parts[:n]).casefold() for n in range(1, len(parts))]
    for pattern in patterns:
        folded = pattern.strip().strip("/").casefold()
        if folded and any(fnmatch.fnmatchcase(c, folded) for c in candidates):
            return pattern
    return None


def freeze_change(repo_root: Path, selection: Selection, *,
                  protected: list[str]) -> FrozenChange:
    """Fix the selected change as a tree; a clear UserError (nothing touched) when there is
    nothing to review, the base or commit does not exist, the diff does not apply or the
    change is binary only. Files matching the secret-file patterns or ``protected`` are
    left out of the reviewer's diff (``withheld``)."""
    git = RepoGit(repo_root)
    head = git.run("rev-parse", "--verify", "-q", "HEAD^{commit}", check=False).strip()
    if not head and selection.kind != "commit":
        raise UserError(f"{repo_root} has no commits yet; commit something first, then review "
                        "later changes against it")
    messages = ""
    if selection.kind in ("uncommitted", "staged", "diff"):
        base, tree = head, _index_tree(git, selection)
        commit = git.run("commit-tree", tree, "-p", base, "-m",
                         f"baton review snapshot ({selection.label()})",
                         env=_SNAPSHOT_IDENT) if tree != git.tree_of(base) else ""
        commit = commit.strip()
    elif selection.kind == "base":
        target = git.commit_of(selection.ref or "", "--base")
        base = git.run("merge-base", target, head, check=False).strip()
        if not base:
            raise UserError(f"--base {selection.ref}: it shares no history with HEAD; "
                            "pass a branch HEAD was made from, e.g. --base origin/main")
        tree, commit = git.tree_of(head), head
        messages = git.run("log", "--format=%B%x00", f"{base}..{head}")
    else:
        commit = git.commit_of(selection.ref or "", "--commit")
        parent = git.run("rev-parse", "--verify", "-q", f"{commit}^1", check=False).strip()
        base, tree = parent or EMPTY_TREE, git.tree_of(commit)
        messages = git.run("log", "-1", "--format=%B", commit)
    base_tree = git.tree_of(base) if base != EMPTY_TREE else EMPTY_TREE
    if tree == base_tree:
        raise UserError(_nothing_message(selection))
    changes = _changes(git, base, tree)
    binary = [c.path for c in changes if c.binary]
    if changes and len(binary) == len(changes):
        raise UserError(
            "the change is binary only (" + ", ".join(binary[:5])
            + "): a reviewer reads text diffs, so there is nothing it can check; review "
            "the binary files yourself")
    withheld = [c.path for c in changes
                if secret_file_pattern(c.path) or protected_match(c.path, protected)]
    excludes = [f":(exclude,literal){p}" for p in withheld]
    diff = git.run("diff", "--no-color", "--no-ext-diff", "--no-textconv", "-M", base, tree,
                   "--", *excludes)
    return FrozenChange(selection=selection, base=base, tree=tree, commit=commit,
                        changes=[c.change for c in changes], diff=diff, withheld=withheld,
                        binary=binary, messages=messages)


def _nothing_message(selection: Selection) -> str:
    if selection.kind == "uncommitted":
        return ("nothing to review: the working tree is clean (no staged, unstaged or "
                "untracked changes that git does not ignore); make a change, or use "
                "--base REF or --commit SHA for committed work")
    if selection.kind == "staged":
        return ("nothing is staged: stage the change with `git add`, or use --uncommitted "
                "to review unstaged and untracked files too")
    if selection.kind == "base":
        return (f"nothing to review: HEAD has no changes since its merge base with "
                f"{selection.ref}; commit the work first, or use --uncommitted")
    if selection.kind == "commit":
        return f"nothing to review: commit {selection.ref} changes no file"
    return "nothing to review: the diff changes no file when applied to HEAD"


def _index_tree(git: RepoGit, selection: Selection) -> str:
    """The tree of a temporary index: a copy of the user's (or HEAD's) with the change."""
    with tempfile.TemporaryDirectory(prefix="baton-index-") as tmp:
        index = Path(tmp) / "index"
        user_index = git.git_dir / "index"
        if selection.kind in ("uncommitted", "staged") and user_index.is_file():
            # A copy (with its time, for git's racy-entry check) keeps git's stat cache, so
            # `add -A` hashes only changed files; the user's index stays as it is.
            shutil.copy2(user_index, index)
        else:
            git.run("read-tree", "HEAD", index=index)
        if selection.kind == "uncommitted":
            try:
                git.run("add", "-A", "--", ":/", index=index)
            except UserError:  # an index git cannot use from a copy (e.g. a split index)
                index.unlink(missing_ok=True)
                git.run("read-tree", "HEAD", index=index)
                git.run("add", "-A", "--", ":/", index=index)
        elif selection.kind == "diff":
            _apply(git, selection, index)
        return git.run("write-tree", index=index).strip()


def _apply(git: RepoGit, selection: Selection, index: Path) -> None:
    """Apply the diff to the temporary index (HEAD's files), or a clear error."""
    text = selection.diff_text or ""
    if not text.strip():
        raise UserError(f"--diff {selection.ref}: the diff is empty; pass a unified diff "
                        "(`git diff > change.diff`)")
    try:
        git.run("apply", "--cached", "--whitespace=nowarn", "-", index=index,
                input_text=text)
    except UserError as exc:
        detail = str(exc).split(": ", 1)[-1].strip().splitlines()
        raise UserError(f"--diff {selection.ref}: the diff does not apply to HEAD "
                        f"({'; '.join(detail[:3])}); make it against the current HEAD "
                        "(`git diff HEAD > change.diff`) or check out the commit it was "
                        "made on") from None


@dataclass(frozen=True)
class _Change:
    change: FileChange
    binary: bool

    @property
    def path(self) -> str:
        return self.change.path


def _changes(git: RepoGit, base: str, tree: str) -> list[_Change]:
    """Per-file status and line counts from ``base`` to ``tree``, names read with -z."""
    status: dict[str, str] = {}
    fields = git.run("diff-tree", "-r", "-z", "--no-renames", "--name-status", base,
                     tree).split("\0")
    for code, path in zip(fields[0::2], fields[1::2], strict=False):
        if path:
            status[path] = code[:1]
    out: list[_Change] = []
    for record in git.run("diff-tree", "-r", "-z", "--no-renames", "--numstat", base,
                          tree).split("\0"):
        if not record:
            continue
        added, removed, path = record.split("\t", 2)
        out.append(_Change(FileChange(
            path=path, status=status.get(path, "M"),  # type: ignore[arg-type]
            added=int(added) if added.isdigit() else 0,
            removed=int(removed) if removed.isdigit() else 0), binary=added == "-"))
    return out


def read_diff_source(source: str, stdin_text: str | None = None) -> str:
    """The text of ``--diff FILE`` (``-`` is standard input), or a clear error."""
    if source == "-":
        return stdin_text or ""
    path = Path(source)
    if not path.is_file():
        raise UserError(f"--diff {source}: no such file; pass a unified diff file or - for "
                        "standard input")
    try:
        return path.read_bytes().decode("utf-8")
    except UnicodeDecodeError:
        raise UserError(f"--diff {source}: not UTF-8 text; pass a unified diff as git "
                        "writes it (`git diff > change.diff`)") from None
    except OSError as exc:
        raise UserError(f"--diff {source}: cannot read ({exc.strerror})") from exc
