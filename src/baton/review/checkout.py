"""The disposable checkout verification runs in: exactly the snapshot tree's files, no .git.

Stand-in for ``baton.workspace.snapshot`` until that lands on main: the same two
functions, built the same way (a temporary index, never the user's). The checkout's
own index is kept beside the folder (not inside it), so the drift check after
verification compares by stat data first and hashes only files that look changed.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from baton.review.selection import RepoGit

_INDEX = "checkout.index"


@contextmanager
def disposable_checkout(repo_root: Path, treeish: str, *,
                        parent: Path | None = None) -> Iterator[Path]:
    """A throwaway folder holding exactly ``treeish``'s files, without git metadata."""
    git = RepoGit(repo_root)
    holder = Path(tempfile.mkdtemp(prefix="baton-verify-", dir=parent))
    folder = holder / "tree"
    folder.mkdir()
    index = holder / _INDEX
    try:
        git.run("read-tree", treeish, index=index)
        git.run("checkout-index", "-a", "-f", index=index, work_tree=folder)
        yield folder
    finally:
        shutil.rmtree(holder, ignore_errors=True)


def drift(checkout: Path, repo_root: Path, tree: str) -> list[str]:
    """Files of ``checkout`` that differ from ``tree`` (changed, deleted or new), sorted.

    Compares by content through a temporary index; writes no object to the repository.
    """
    git = RepoGit(repo_root)
    with tempfile.TemporaryDirectory(prefix="baton-index-") as tmp:
        index = Path(tmp) / "index"
        kept = checkout.parent / _INDEX
        if kept.is_file():
            shutil.copyfile(kept, index)
        else:
            git.run("read-tree", tree, index=index)

        def run(*args: str) -> str:
            return git.run(*args, index=index, work_tree=checkout, check=False)

        run("update-index", "-q", "--refresh")
        changed = run("diff-files", "-z", "--name-only").split("\0")
        new = run("ls-files", "-z", "--others", "--exclude-standard").split("\0")
    return sorted({p for p in [*changed, *new] if p})
