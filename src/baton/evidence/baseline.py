"""The verify commands on the base commit, once per run, in the same isolation.

They run through the verifier on a disposable checkout of the base commit's tree (no
``.git``, outside the repository, the sandbox hiding git's metadata), exactly as the
patched tree is verified. The results are the "before" half of the before/after evidence
and context for the planner and implementer (a failing test's output says where the bug
is).
"""

from __future__ import annotations

from baton.evidence.verify import base_commands, verify
from baton.models import CommandEvidence
from baton.run_context import RunContext
from baton.workspace.snapshot import Snapshot

STAGE = "base"


def run_baseline(ctx: RunContext) -> list[CommandEvidence]:
    """Run (or replay) the configured or detected verify commands on the base commit."""
    commands = [(c, source, None) for c, source in base_commands(ctx)]
    if not ctx.config.verify_base or not commands:
        return []
    base = Snapshot(commit=ctx.worktree.base_commit, tree=ctx.worktree.base_tree)
    return verify(ctx, None, [], base, stage=STAGE, commands=commands, event="base.command")
