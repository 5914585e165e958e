"""The base commit's throwaway checkout: exactly the commit's files, no .git, then gone."""

from __future__ import annotations

import subprocess

from baton.demo import make_sample_repo
from baton.evidence.baseline import base_checkout


def test_the_checkout_holds_the_commit_not_the_working_tree_and_is_removed(tmp_path):
    repo = make_sample_repo(tmp_path / "repo")
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=repo, capture_output=True,
                          text=True).stdout.strip()
    (repo / "stats.py").write_text("# uncommitted edit\n")
    (repo / "untracked.txt").write_text("not in the commit\n")
    (repo / "link").symlink_to("/etc/hostname")
    with base_checkout(repo, head) as folder:
        names = sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*"))
        assert names == ["README.md", "baton.toml", "stats.py", "tests", "tests/test_stats.py"]
        assert "def mean" in (folder / "stats.py").read_text()
        (folder / "written-by-a-command").write_text("x")
    assert not folder.exists()
    assert not (repo / "written-by-a-command").exists()
