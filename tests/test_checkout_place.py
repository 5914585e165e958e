"""Where verification's disposable checkout is made: ``checkout_dir`` (auto, temp, a folder).

End to end through the CLI against the fake gateway, plus the placement rule itself on this
machine's real file systems.
"""

from __future__ import annotations

import json
import os
import shlex
import sys
from pathlib import Path

import pytest
from conftest import demo_script, run_json

from baton.errors import UserError
from baton.workspace.leftovers import CHECKOUT_FILE, remove_stale_checkout
from baton.workspace.snapshot import (
    MEMORY_FOLDER,
    MEMORY_MAX_TREE,
    checkout_parent,
    disposable_checkout,
)

TASK = "Add a median() function to stats.py, with tests."
UNITTEST = f"{shlex.quote(sys.executable)} -m unittest discover -s tests"


def _memory_is_tmpfs() -> bool:
    with open("/proc/self/mounts") as mounts:
        return any(line.split()[1:3] == [str(MEMORY_FOLDER), "tmpfs"] for line in mounts)


def test_temp_and_a_named_folder(tmp_path, sample_repo):
    assert checkout_parent("temp", 10, sample_repo) is None
    folder = tmp_path / "checkouts"
    folder.mkdir()
    assert checkout_parent(str(folder), 10, sample_repo) == folder
    with disposable_checkout(sample_repo, "HEAD", place=str(folder)) as root:
        assert root.parent.parent == folder and root.parent.name.startswith("baton-verify-")
        assert (root / "stats.py").is_file()
    assert list(folder.iterdir()) == []


def test_a_missing_folder_or_one_inside_the_repository_is_refused(tmp_path, sample_repo):
    with pytest.raises(UserError, match="not an existing folder"):
        checkout_parent(str(tmp_path / "nope"), 10, sample_repo)
    inside = sample_repo / "build"
    inside.mkdir()
    for place in (str(inside), str(sample_repo)):
        with pytest.raises(UserError, match="inside the repository"):
            checkout_parent(place, 10, sample_repo)
    link = tmp_path / "sneaky"
    link.symlink_to(inside)  # a symlink into the repository is inside it too
    with pytest.raises(UserError, match="inside the repository"):
        checkout_parent(str(link), 10, sample_repo)


@pytest.mark.skipif(not _memory_is_tmpfs(), reason=f"{MEMORY_FOLDER} is not a tmpfs here")
def test_auto_uses_memory_for_a_small_tree_and_the_disk_for_a_large_one(sample_repo):
    assert checkout_parent("auto", 1000, sample_repo) == MEMORY_FOLDER
    assert checkout_parent("auto", MEMORY_MAX_TREE + 1, sample_repo) is None
    free = os.statvfs(MEMORY_FOLDER)
    too_big_for_room = free.f_bavail * free.f_frsize  # 4x of it can never fit
    assert checkout_parent("auto", too_big_for_room, sample_repo) is None
    with disposable_checkout(sample_repo, "HEAD", place="auto") as root:
        assert root.parent.parent == MEMORY_FOLDER
        held = root.parent
    assert not held.exists()


def test_a_run_verifies_in_the_configured_folder_and_leaves_it_empty(baton, sample_repo,
                                                                     tmp_path):
    folder = tmp_path / "verify-here"
    folder.mkdir()
    # the command fails unless it runs in a checkout under the folder (the sandbox keeps
    # the rest of /tmp read-only, so it cannot write its location elsewhere)
    here = f'case "$PWD" in {folder}/baton-verify-*/*) exit 0;; *) exit 7;; esac'
    cfg = tmp_path / "place.toml"
    cfg.write_text(f"checkout_dir = {json.dumps(str(folder))}\nmax_fix_rounds = 0\n"
                   f"verify_commands = {json.dumps([here, UNITTEST])}\n")
    baton.serve(demo_script())
    proc = baton("run", TASK, "--repo", str(sample_repo), "--json", "--config", str(cfg))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    result = run_json(proc)
    assert result["decision"] == "go"
    run_dir = Path(result["run_dir"])
    ran = [json.loads(line) for line in (run_dir / "trace.jsonl").open()]
    checks = [e for e in ran if e["type"] in ("command", "base.command") and e["ran"]]
    assert checks and all(e["exit_code"] == 0 for e in checks), [
        (e["type"], e["command"], e["exit_code"]) for e in checks]
    assert list(folder.iterdir()) == []


def test_a_repository_may_not_choose_the_checkout_folder(baton, sample_repo, tmp_path):
    (sample_repo / "baton.toml").write_text(f'checkout_dir = "{tmp_path}"\n')
    baton.serve(demo_script())
    proc = baton("run", TASK, "--repo", str(sample_repo), "--json")
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "checkout_dir" in proc.stderr and "may not choose" in proc.stderr
    assert baton.gateway is not None and baton.gateway.requests() == []


def test_a_stale_checkout_is_removed_only_from_a_place_baton_uses(tmp_path):
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    folder = tmp_path / "mine"
    left = folder / "baton-verify-abc"
    (left / "repo").mkdir(parents=True)
    (run_dir / CHECKOUT_FILE).write_text(f"{left}\n")
    assert remove_stale_checkout(run_dir) is False  # not a place baton was told to use
    assert left.is_dir()
    (run_dir / CHECKOUT_FILE).write_text(f"{left}\n")
    assert remove_stale_checkout(run_dir, str(folder)) is True
    assert not left.exists() and not (run_dir / CHECKOUT_FILE).exists()


def test_resume_removes_a_crashed_runs_checkout_from_the_configured_folder(baton,
                                                                          sample_repo,
                                                                          tmp_path):
    from test_crash_resume import kill_once_verifying

    folder = tmp_path / "verify-here"
    folder.mkdir()
    flag = tmp_path / "verification-started"
    cfg = tmp_path / "slow.toml"
    cfg.write_text(f"checkout_dir = {json.dumps(str(folder))}\nsandbox = \"none\"\n"
                   "verify_base = false\n" + "verify_commands = " + json.dumps(
                       [f"test -f {flag} || (touch {flag}; sleep 120)", UNITTEST]) + "\n")
    baton.serve(demo_script())
    kill_once_verifying(baton, sample_repo, cfg, flag, TASK)
    (left,) = folder.iterdir()
    assert left.name.startswith("baton-verify-")
    (run_dir,) = (sample_repo / ".baton" / "runs").iterdir()
    resumed = baton("resume", run_dir.name, "--repo", str(sample_repo), "--json",
                    "--config", str(cfg))
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert run_json(resumed)["decision"] == "go"
    assert list(folder.iterdir()) == []
