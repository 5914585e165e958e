"""Where code changes: the git worktree, parsing and applying edits with path safety, the
sandboxed command runner, verification, the repo map and test-command detection."""
