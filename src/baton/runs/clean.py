"""``baton clean``: remove the worktrees, branches and run folders of finished runs.

A run that can still go on (waiting for approval, paused on a budget, failed or
interrupted, hence resumable) is kept unless asked for (``include_unfinished``); a run a
live process is working on is never touched. A run that ended in go keeps its branch
until that branch is merged into the repository's HEAD, since the branch is the result.
"""

from __future__ import annotations

import shutil
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from baton.errors import RunNotFound, UserError
from baton.runs.store import RESUMABLE, effective_state, is_alive, list_runs, read_workflow

BRANCH_PREFIX = "baton/"


@dataclass
class CleanItem:
    """One run (or one leftover without a run folder) and what clean does to it."""

    run_id: str
    state: str
    remove: list[str] = field(default_factory=list)
    """What is removed: ``worktree PATH``, ``branch NAME``, ``run folder PATH``."""
    keep: str | None = None
    """Why something of this run is kept, if anything is."""
    errors: list[str] = field(default_factory=list)


@dataclass
class CleanReport:
    """What ``clean`` removed (or would remove, on a dry run) and what it kept."""

    repo: str
    dry_run: bool
    items: list[CleanItem]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        return {"repo": self.repo, "dry_run": self.dry_run,
                "items": [asdict(item) for item in self.items]}


def _git(repo_root: Path):
    from baton.workspace.git import repo_git

    return repo_git(repo_root)


def _branches(repo_root: Path) -> set[str]:
    out = _git(repo_root).run("for-each-ref", "--format=%(refname:short)",
                              f"refs/heads/{BRANCH_PREFIX}", check=False)
    return {line.strip() for line in out.splitlines() if line.strip()}


def _merged(repo_root: Path, commit: str | None) -> bool:
    if not commit:
        return False
    try:
        _git(repo_root).run("merge-base", "--is-ancestor", commit, "HEAD")
    except UserError:  # not an ancestor (exit 1), or the commit is gone
        return False
    return True


def _worktrees_dir(repo_root: Path) -> Path:
    return repo_root / ".baton" / "worktrees"


def _outside_leftovers(run_dir: Path) -> list[str]:
    """What a killed baton left outside the repository for this run: the disposable
    checkout (``/dev/shm`` or the temporary folder), the command's session (processes
    still running) and its scratch folder. Removed even when the run is kept: a resume
    makes new ones."""
    from baton.workspace.leftovers import SESSION_FILE, stale_checkout
    from baton.workspace.sandbox import orphaned_scratch

    found = []
    checkout = stale_checkout(run_dir)
    if checkout is not None:
        found.append(f"checkout {checkout}")
    session = run_dir / SESSION_FILE
    if session.is_file():
        found.append(f"session {session}")
        scratch = orphaned_scratch(session)
        if scratch is not None:
            found.append(f"scratch {scratch}")
    return found


def plan_clean(repo_root: Path, *, include_unfinished: bool = False,
               keep_run_folders: bool = False) -> list[CleanItem]:
    """Decide what to remove, touching nothing."""
    items: list[CleanItem] = []
    branches = _branches(repo_root)
    known: set[str] = set()
    for run_dir in list_runs(repo_root):
        try:
            wf = read_workflow(run_dir)
        except RunNotFound:
            continue
        run_id = str(wf.get("run_id") or run_dir.name)
        known.add(run_id)
        state = effective_state(run_dir, wf)
        item = CleanItem(run_id, state)
        items.append(item)
        if state == "running" or is_alive(run_dir):
            item.keep = "a baton process is working on it"
            continue
        item.remove += _outside_leftovers(run_dir)
        if state in RESUMABLE and not include_unfinished:
            item.keep = f"{state}: it can still be resumed (pass --all to remove it too)"
            continue
        worktree = Path(wf.get("worktree") or _worktrees_dir(repo_root) / run_id)
        if worktree.exists():
            item.remove.append(f"worktree {worktree}")
        branch = str(wf.get("branch") or f"{BRANCH_PREFIX}{run_id}")
        if branch in branches:
            if wf.get("decision") == "go" and not _merged(repo_root, wf.get("commit")) \
                    and not include_unfinished:
                item.keep = (f"go, and {branch} is not merged into HEAD: merge it first, "
                             "or pass --all to delete the branch too")
            else:
                item.remove.append(f"branch {branch}")
        if not keep_run_folders and item.keep is None:
            item.remove.append(f"run folder {run_dir}")
    # leftovers of runs whose folder is gone
    folder = _worktrees_dir(repo_root)
    leftovers = {p.name for p in folder.iterdir() if p.is_dir()} if folder.is_dir() else set()
    leftovers |= {b[len(BRANCH_PREFIX):] for b in branches}
    for run_id in sorted(leftovers - known):
        item = CleanItem(run_id, "no run folder")
        if (folder / run_id).exists():
            item.remove.append(f"worktree {folder / run_id}")
        if f"{BRANCH_PREFIX}{run_id}" in branches:
            item.remove.append(f"branch {BRANCH_PREFIX}{run_id}")
        items.append(item)
    return items


def clean(repo_root: Path, *, dry_run: bool = False, include_unfinished: bool = False,
          keep_run_folders: bool = False) -> CleanReport:
    """Remove what :func:`plan_clean` lists (nothing on a dry run)."""
    items = plan_clean(repo_root, include_unfinished=include_unfinished,
                       keep_run_folders=keep_run_folders)
    if not dry_run:
        from baton.workspace.git import repo_at, worktrees_locked

        git = _git(repo_root)
        with worktrees_locked(repo_at(repo_root).common_dir):
            for item in items:
                for what in item.remove:
                    kind, _, target = what.partition(" ")
                    if kind == "worktree":
                        git.run("worktree", "remove", "--force", target, check=False)
                        if Path(target).exists():
                            shutil.rmtree(target, ignore_errors=True)
                    elif kind == "branch":
                        git.run("worktree", "prune", check=False)
                        try:
                            git.run("branch", "-D", target)
                        except UserError as exc:
                            item.errors.append(f"could not delete {target}: {exc}")
                    elif kind == "checkout":
                        from baton.workspace.snapshot import remove_folder

                        remove_folder(Path(target))
                    elif kind == "session":  # ends its processes, removes its scratch
                        from baton.workspace.sandbox import end_orphaned_command

                        end_orphaned_command(Path(target))
                    elif kind == "scratch":
                        pass  # removed with its session, listed just before it
                    else:  # "run folder PATH"
                        shutil.rmtree(target.removeprefix("folder "), ignore_errors=True)
            git.run("worktree", "prune", check=False)
    return CleanReport(str(repo_root), dry_run, items)
