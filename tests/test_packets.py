"""``baton packets``: the model-free workflow folder."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

from conftest import events

FILES = ["README.md", "workflow.json", "trace.jsonl", "verify.sh", "plan.md",
         "review_checklist.md", "packets/01-planner.md", "packets/02-implementer.md",
         "packets/03-reviewer.md", "packets/04-verifier.md"]


def test_packets_writes_every_file_and_verify_passes(baton, sample_repo, tmp_path):
    out = tmp_path / "wf"
    proc = baton("packets", "Add median() to stats.py", "--title", "median", "--repo",
                 str(sample_repo), "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    for name in FILES:
        assert (out / name).is_file(), name
    assert os.access(out / "verify.sh", os.X_OK)
    workflow = json.loads((out / "workflow.json").read_text())
    assert workflow["roles"] == ["planner", "implementer", "reviewer", "verifier"]
    assert workflow["routes"]["reviewer"]["model"] == "anthropic/claude-sonnet-4.5"
    assert workflow["verify_commands_source"] == "from configuration"
    first = events(out)[0]
    assert first["type"] == "workflow.created" and first["seq"] == 0
    planner = (out / "packets/01-planner.md").read_text()
    assert "Add median() to stats.py" in planner and "stats.py (" in planner  # repo map
    assert "Completion gate" in planner and "baton record" in planner
    reviewer = (out / "packets/03-reviewer.md").read_text()
    assert "ADVERSARIAL REVIEWER" in reviewer and "<<fill in:" in reviewer
    checklist = (out / "review_checklist.md").read_text()
    assert "request_changes" in checklist and "Rollback path" in checklist

    ok = subprocess.run([str(out / "verify.sh")], capture_output=True, text=True)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "all commands passed" in ok.stdout

    # Break the sample's tests: verify.sh fails with the failing command's exit code.
    (sample_repo / "stats.py").write_text("def mean(values):\n    return 0\n")
    bad = subprocess.run([str(out / "verify.sh")], capture_output=True, text=True)
    assert bad.returncode == 1 and "FAILED (exit 1)" in bad.stderr


def test_packets_detects_commands_and_refuses_non_empty_out(baton, tmp_path):
    repo = tmp_path / "proj"
    (repo / "tests").mkdir(parents=True)
    (repo / "tests" / "test_a.py").write_text("def test_a():\n    assert True\n")
    subprocess.run(["git", "init", "-q"], cwd=repo, check=True)
    out = tmp_path / "wf"
    proc = baton("packets", "Do it", "--title", "t", "--repo", str(repo), "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    assert "detected" in proc.stdout
    script = (out / "verify.sh").read_text()
    assert "python -m pytest -q" in script and "detected from the project files" in script
    again = baton("packets", "Do it", "--title", "t", "--repo", str(repo), "--out", str(out))
    assert again.returncode == 2 and "not empty" in again.stderr
    forced = baton("packets", "Do it", "--title", "t", "--repo", str(repo), "--out", str(out),
                   "--force")
    assert forced.returncode == 0
    assert len(events(Path(out))) == 1
