"""The verify commands on the base commit, once per run, in a throwaway checkout.

The results are the "before" half of the before/after evidence and context for the
planner and implementer (a failing test's output says where the bug is).
"""

from __future__ import annotations

import contextlib
import io
import shutil
import subprocess
import tarfile
import tempfile
from collections.abc import Iterator
from pathlib import Path

from baton.errors import UserError
from baton.models import CommandEvidence
from baton.run_context import RunContext
from baton.workspace.git import SAFE_CONFIG, _c, _filter_overrides, _git_env
from baton.workspace.verify import base_commands, verify

STAGE = "base"


@contextlib.contextmanager
def base_checkout(repo_root: Path, commit: str) -> Iterator[Path]:
    """A throwaway folder holding exactly ``commit``'s files, with no ``.git``."""
    folder = Path(tempfile.mkdtemp(prefix="baton-base-"))
    try:
        config = SAFE_CONFIG + _filter_overrides(repo_root)  # no smudge filter runs
        proc = subprocess.run(["git", *_c(config), "archive", "--format=tar", commit],
                              cwd=repo_root, capture_output=True, env=_git_env(), check=False)
        if proc.returncode != 0:
            raise UserError(f"git archive {commit[:12]} failed in {repo_root}: "
                            f"{proc.stderr.decode(errors='replace').strip()}")
        try:
            # git's paths never leave the folder; symlinks stay as committed (as in the
            # worktree), which the "data" filter would refuse for an absolute target
            with tarfile.open(fileobj=io.BytesIO(proc.stdout)) as tar:
                tar.extractall(folder, filter="tar")
        except (tarfile.TarError, OSError) as exc:
            raise UserError(f"could not check out the base commit {commit[:12]} into "
                            f"{folder}: {exc}") from exc
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def run_baseline(ctx: RunContext, base_commit: str) -> list[CommandEvidence]:
    """Run (or replay) the configured or detected verify commands on ``base_commit``."""
    commands = [(c, source, None) for c, source in base_commands(ctx)]
    if not ctx.config.verify_base or not commands:
        return []
    done = all(f"command/{STAGE}/{n}" in ctx.emitted for n in range(1, len(commands) + 1))
    if done:  # replayed from the run folder: no checkout needed
        return verify(ctx, None, [], stage=STAGE, commands=commands,
                      event="base.command")
    with base_checkout(ctx.repo_root, base_commit) as folder:
        return verify(ctx, None, [], stage=STAGE, commands=commands, cwd=folder,
                      event="base.command")
