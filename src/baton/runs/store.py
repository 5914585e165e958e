"""Where runs live: ``.baton/runs/<run-id>/`` at the repo root, kept out of git."""

from __future__ import annotations

import fcntl
import json
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from baton.errors import RunNotFound, UserError

STATES = ("running", "awaiting_approval", "budget_exhausted", "done", "failed", "interrupted")


def find_repo_root(path: Path) -> Path:
    """The top of the git work tree containing ``path``, or a clear error."""
    from baton.workspace.discover import git_on_path, locate_repo, remember_repo

    if not git_on_path():
        raise UserError("git is not installed; baton needs git on PATH")
    if not path.is_dir():
        raise UserError(f"{path} is not a folder; pass --repo PATH of a git repository")
    repo = locate_repo(path)
    if repo is None:
        raise UserError(
            f"{path} is not inside a git repository; pass --repo PATH or run `git init`"
        )
    if ".baton" in repo.root.parts:
        raise UserError(f"{repo.root} is inside a .baton folder (one of baton's own "
                        "worktrees); run baton on the repository itself")
    return remember_repo(repo).root


def check_run_home(repo_root: Path) -> None:
    """Refuse a ``.baton`` that is not baton's own: tracked by git, a symlink, a file, or
    leading outside the repository. A run folder that came with a clone must not steer
    baton, and run folders and worktrees must not be written where a link points."""
    from baton.workspace.git import repo_git, tracked_paths

    home = repo_root / ".baton"
    for path in (home, home / "runs", home / "worktrees"):
        if path.is_symlink():
            raise UserError(f"{path} is a symbolic link; baton keeps its runs and worktrees "
                            "in a plain folder and will not follow it. Remove the link "
                            f"(`rm {path}`) and run again.")
        if path.exists() and not path.is_dir():
            raise UserError(f"{path} is not a folder; baton keeps its runs there. Move it "
                            "away and run again.")
    if home.exists():
        real = os.path.realpath(home)
        if os.path.dirname(real) != os.path.realpath(repo_root):
            raise UserError(f"{home} leads outside the repository ({real}); remove it and "
                            "run again.")
    tracked = tracked_paths(repo_git(repo_root), ".baton")
    if tracked:
        raise UserError(
            f"{home} is tracked by git ({tracked[0]}{' and more' if len(tracked) > 1 else ''});"
            " a run folder that came with the repository could steer baton, so baton "
            "refuses to use it. Remove it from git (`git rm -r --cached .baton`, then "
            "commit) and run again."
        )


def runs_dir(repo_root: Path) -> Path:
    """The folder holding every run of a repository."""
    return repo_root / ".baton" / "runs"


def new_run_id() -> str:
    """A sortable, unique run id: UTC time plus random suffix."""
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    return f"{stamp}-{os.urandom(3).hex()}"


def exclude_from_git(repo_root: Path) -> None:
    """Add ``.baton/`` to ``.git/info/exclude`` once."""
    from baton.workspace.discover import repo_at

    exclude = repo_at(repo_root).common_dir / "info" / "exclude"
    exclude.parent.mkdir(parents=True, exist_ok=True)
    with exclude.open("a+", encoding="utf-8") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)  # runs starting at once in one repo add it once
        fh.seek(0)
        existing = fh.read()
        if ".baton/" not in existing.split():
            if existing and not existing.endswith("\n"):
                fh.write("\n")
            fh.write(".baton/\n")


def find_run(repo_root: Path, run_id: str) -> Path:
    """The folder of a run, accepting a unique prefix of its id (or the run's folder)."""
    check_run_home(repo_root)
    base = runs_dir(repo_root)
    given = Path(run_id)
    if ("/" in run_id or run_id.startswith(".")) and (given / "workflow.json").is_file():
        return given.resolve()
    if not run_id or "/" in run_id or "\\" in run_id or run_id.startswith("."):
        raise RunNotFound(f"{run_id!r} is not a run id (they look like "
                          f"{new_run_id()}); `baton runs` lists the runs of {repo_root}")
    exact = base / run_id
    if (exact / "workflow.json").is_file():
        return exact
    # A prefix, compared as text: `*` or `?` in an id are not globs.
    matches = sorted(p for p in base.iterdir() if p.name.startswith(run_id)
                     and (p / "workflow.json").is_file()) if base.is_dir() else []
    if len(matches) == 1:
        return matches[0]
    if not matches:
        raise RunNotFound(f"no run {run_id!r} in {base}; `baton runs` lists them")
    raise RunNotFound(f"{run_id!r} matches {len(matches)} runs; give more of the id")


def last_run(repo_root: Path, *, unfinished: bool = False) -> Path:
    """The newest run (``unfinished``: the newest that can still be resumed)."""
    for run_dir in list_runs(repo_root):
        try:
            state = effective_state(run_dir, read_workflow(run_dir))
        except RunNotFound:
            continue
        if not unfinished or state in RESUMABLE:
            return run_dir
    what = "unfinished run (paused, failed or interrupted)" if unfinished else "run"
    raise RunNotFound(f"no {what} in {runs_dir(repo_root)}; `baton runs` lists them")


RESUMABLE = ("awaiting_approval", "budget_exhausted", "failed", "interrupted")
"""States a run can be continued from (``baton resume`` or ``baton approve``)."""


def is_alive(run_dir: Path) -> bool:
    """Whether a baton process holds the run's lock right now."""
    lock = run_dir / ".lock"
    if not lock.exists():
        return False
    fd = os.open(lock, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)  # closing also drops a lock taken just now
    return False


def effective_state(run_dir: Path, workflow: dict[str, Any]) -> str:
    """The recorded state, except that a ``running`` run no process holds is ``interrupted``
    (its process died: killed, crashed, or the machine went down)."""
    state = str(workflow.get("state") or "unknown")
    if state == "running" and not is_alive(run_dir):
        return "interrupted"
    return state


def read_workflow(run_dir: Path) -> dict[str, Any]:
    """The run's workflow.json."""
    try:
        return json.loads((run_dir / "workflow.json").read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise RunNotFound(f"{run_dir}: workflow.json is missing or unreadable ({exc})") from exc


def write_workflow(run_dir: Path, data: dict[str, Any]) -> None:
    """Replace workflow.json atomically (it is state, not the trace)."""
    tmp = run_dir / "workflow.json.tmp"
    tmp.write_text(json.dumps(data, indent=2, ensure_ascii=False, default=str), encoding="utf-8")
    os.replace(tmp, run_dir / "workflow.json")


def list_runs(repo_root: Path) -> list[Path]:
    """Run folders of a repository, newest first."""
    if not os.path.lexists(repo_root / ".baton"):
        return []  # nothing to list (and nothing a clone could have brought to steer baton)
    check_run_home(repo_root)
    base = runs_dir(repo_root)
    if not base.is_dir():
        return []
    return sorted((p for p in base.iterdir() if (p / "workflow.json").is_file()), reverse=True)
