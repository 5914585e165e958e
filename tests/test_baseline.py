"""The base commit's run: the same isolation as verification, nothing reaches the repo."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from conftest import demo_script, events, run_json, snapshot

PROBE = ("import os, pathlib; print('CWD', os.getcwd()); "
         "print('GIT', os.path.exists('.git')); "
         "print('FILES', sorted(p.name for p in pathlib.Path('.').iterdir())); "
         "open('written-by-base-run.txt', 'w').write('x')")


def test_the_base_run_sees_exactly_the_base_commit_in_a_throwaway_checkout(baton, sample_repo,
                                                                            tmp_path):
    (sample_repo / "uncommitted.txt").write_text("not in the commit\n")
    before = snapshot(sample_repo)
    cfg = tmp_path / "probe.toml"
    cfg.write_text(f"verify_commands = [{json.dumps(f'{sys.executable} -c {PROBE!r}')}]\n"
                   .replace("\\'", "'"))
    baton.serve(demo_script())
    proc = baton("run", "Add a median() function to stats.py, with tests.", "--repo",
                 str(sample_repo), "--json", "--config", str(cfg))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    run_dir = Path(run_json(proc)["run_dir"])
    # verify commands of every layer run: the sample's own, then the probe
    (base,) = [e for e in events(run_dir) if e["type"] == "base.command" and "CWD" in e["command"]]
    assert base["exit_code"] == 0 and base["stage"] == "base"
    log = (run_dir / base["evidence_file"]).read_text()
    cwd = log.split("CWD ", 1)[1].splitlines()[0]
    assert not cwd.startswith(str(sample_repo)) and "GIT False" in log
    assert "FILES ['README.md', 'baton.toml', 'stats.py', 'tests']" in log  # no stray file
    drift = [e for e in events(run_dir) if e["type"] == "verify.drift"]
    assert drift[0]["stage"] == "base" and drift[0]["added"] >= 1
    assert snapshot(sample_repo) == before
    assert not list(sample_repo.rglob("written-by-base-run.txt"))
