"""Where runs live: ``.baton/runs/<run-id>/`` at the repo root, kept out of git."""

from __future__ import annotations

import fcntl
import json
import os
import shutil
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from baton.errors import RunNotFound, UserError

STATES = ("running", "awaiting_approval", "budget_exhausted", "done", "failed")


def find_repo_root(path: Path) -> Path:
    """The top of the git work tree containing ``path``, or a clear error."""
    from baton.workspace.git import locate_repo

    if shutil.which("git") is None:
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
    return repo.root


def check_run_home(repo_root: Path) -> None:
    """Refuse a ``.baton`` that is not baton's own: tracked by git, a symlink, a file, or
    leading outside the repository. A run folder that came with a clone must not steer
    baton, and run folders and worktrees must not be written where a link points."""
    from baton.workspace.git import repo_git, split_z

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
    git = repo_git(repo_root)
    tracked = split_z(git.run_bytes("ls-files", "-z", "--cached", "--", ".baton"))
    head = git.run("rev-parse", "--verify", "-q", "HEAD^{commit}", check=False).strip()
    if head and not tracked:
        tracked = split_z(git.run_bytes("ls-tree", "-r", "-z", "--name-only", head, "--",
                                        ".baton"))
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
    from baton.workspace.git import repo_at

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
    """The folder of a run, accepting a unique prefix of its id."""
    check_run_home(repo_root)
    base = runs_dir(repo_root)
    exact = base / run_id
    if (exact / "workflow.json").is_file():
        return exact
    matches = sorted(p for p in base.glob(f"{run_id}*") if (p / "workflow.json").is_file())
    if len(matches) == 1:
        return matches[0]
    if not matches:
        raise RunNotFound(f"no run {run_id!r} in {base}; `baton runs` lists them")
    raise RunNotFound(f"{run_id!r} matches {len(matches)} runs; give more of the id")


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
    check_run_home(repo_root)
    base = runs_dir(repo_root)
    if not base.is_dir():
        return []
    return sorted((p for p in base.iterdir() if (p / "workflow.json").is_file()), reverse=True)
