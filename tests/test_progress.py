"""On a terminal each step shows as it happens; without one, nothing extra is printed."""

from __future__ import annotations

import shutil
import subprocess
import sys

import pytest


@pytest.mark.skipif(shutil.which("script") is None, reason="util-linux `script` not installed")
def test_demo_on_a_terminal_shows_each_step(baton, tmp_path):
    command = f"{sys.executable} -m baton demo --keep {tmp_path / 'demo'}"
    proc = subprocess.run(["script", "-qec", command, "/dev/null"], capture_output=True,
                          text=True, env=baton.env(), timeout=120, stdin=subprocess.DEVNULL)
    assert proc.returncode == 0, proc.stdout
    out = proc.stdout
    for line in ("plan gate: passed", "review round 1: request_changes",
                 "review round 2: approve", "edits applied: stats.py", "-> exit 0",
                 "decision: go"):
        assert line in out, line
    assert out.index("review round 1") < out.index("review round 2") < out.index("decision")


def test_without_a_terminal_only_the_result_is_printed(baton, tmp_path):
    proc = baton("demo", "--keep", str(tmp_path / "demo"))
    assert proc.returncode == 0
    assert "plan gate" not in proc.stdout + proc.stderr
