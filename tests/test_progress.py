"""Progress: live on a terminal (checked through a real pty), plain lines when piped, and
start events in the trace so a second terminal can follow a run."""

from __future__ import annotations

import json
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import IMPLEMENTER, PLANNER, demo_script, events, run_json

from baton.cli.progress import RunDisplay

TASK = "Add a median() function to stats.py, with tests."
needs_script = pytest.mark.skipif(shutil.which("script") is None,
                                  reason="util-linux `script` not installed")


def in_pty(baton, args: list[str], cwd: Path) -> subprocess.CompletedProcess:
    """Run baton on a real pseudo-terminal (util-linux `script`), output as the user sees."""
    command = " ".join(shlex.quote(a) for a in [sys.executable, "-m", "baton", *args])
    return subprocess.run(["script", "-qec", command, "/dev/null"], capture_output=True,
                          text=True, env=baton.env(COLUMNS="200"), timeout=180,
                          stdin=subprocess.DEVNULL, cwd=cwd)


def plain(text: str) -> str:
    """Terminal output without escape sequences."""
    return re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", text).replace("\r", "\n")


@needs_script
def test_demo_on_a_terminal_shows_each_step(baton, tmp_path):
    proc = in_pty(baton, ["demo", "--keep", str(tmp_path / "demo")], tmp_path)
    assert proc.returncode == 0, proc.stdout
    out = proc.stdout
    for line in ("plan gate: passed", "review round 1: request_changes",
                 "review round 2: approve", "edits applied: stats.py", "-> exit 0",
                 "decision: go"):
        assert line in out, line
    assert out.index("review round 1") < out.index("review round 2") < out.index("decision")


@needs_script
def test_the_live_display_shows_the_step_in_flight(baton, sample_repo):
    """A slow planner shows its role, model and elapsed seconds while it thinks; a
    trickled answer shows tokens as they stream; a slow command shows its latest line."""
    script = demo_script()
    script["models"][PLANNER][0]["latency_s"] = 2.5
    script["models"][IMPLEMENTER][0]["faults"] = [{"kind": "trickle",
                                                   "trickle_interval_s": 0.02}]
    baton.serve(script)
    slow = (f"{sys.executable} -c \"import time; print('compiling step 1 of 2', flush=True); "
            "time.sleep(2.5); print('done')\"")
    proc = in_pty(baton, ["run", TASK, "--repo", str(sample_repo),
                          "--set", f"verify_commands=[{json.dumps(slow)}]"], sample_repo)
    assert proc.returncode == 0, proc.stdout
    out = plain(proc.stdout)
    assert re.search(r"planner · openai/gpt-5\s+[0-9]+s", out), out
    assert re.search(r"implementer p1 r1 · qwen/qwen3-coder\s+[0-9]+s\s+~[0-9]+ tokens", out), out
    live_command = re.search(r"\$ .*-c .*[0-9]+s\s+compiling step 1 of 2", out)
    assert live_command, out
    # the live area is transient: what stays are the lines of steps that ended
    assert out.index("compiling step 1 of 2") < out.rindex("-> exit 0")
    assert "GO: run " in out


def test_a_piped_run_prints_a_line_when_each_step_starts_and_ends(baton, sample_repo):
    baton.serve(demo_script())
    proc = baton("run", TASK, "--repo", str(sample_repo))
    assert proc.returncode == 0, proc.stderr
    err = proc.stderr.splitlines()
    run_id = re.search(r"GO: run (\S+)", proc.stdout).group(1)
    assert err[0] == f"run {run_id} on baton/{run_id}"  # the run id comes first
    starts = [i for i, line in enumerate(err) if line.endswith(" ...")]
    ends = [i for i, line in enumerate(err) if re.search(r"\d+\.\ds, \d+ in / \d+ out", line)
            or "-> exit" in line]
    # the command on the base commit (before/after evidence), five model calls, the command
    assert len(starts) == len(ends) == 7
    for start, end in zip(starts, ends, strict=True):
        assert start < end
    assert err[starts[0]].startswith("  base commit: $ ") and "unittest" in err[starts[0]]
    assert err[starts[1]] == f"  planner: asking {PLANNER} ..."
    assert err[starts[-1]].startswith("  $ ") and "unittest" in err[starts[-1]]
    assert "decision: go" in err
    assert "\x1b[" not in proc.stderr  # no escape codes in a log


def test_json_output_prints_no_progress(baton, sample_repo):
    baton.serve(demo_script())
    proc = baton("run", TASK, "--repo", str(sample_repo), "--json")
    assert proc.returncode == 0
    run_json(proc)
    assert "plan gate" not in proc.stdout + proc.stderr


def test_start_events_in_the_trace_precede_each_call_and_command(baton, sample_repo):
    baton.serve(demo_script())
    proc = baton("run", TASK, "--repo", str(sample_repo), "--json")
    evs = events(Path(run_json(proc)["run_dir"]))
    kinds = [e["type"] for e in evs if e["type"] in ("model.start", "model.call",
                                                     "command.start", "command",
                                                     "base.command")]
    ran = [e for e in evs if e["type"] in ("command", "base.command") and e["ran"]]
    # the verify command on the base commit first (before/after evidence), then the calls
    assert kinds[:2] == ["command.start", "base.command"]
    assert kinds[2:12] == ["model.start", "model.call"] * 5
    assert kinds[12:14] == ["command.start", "command"]
    assert len([k for k in kinds if k == "command.start"]) == len(ran)
    command_starts = [e for e in evs if e["type"] == "command.start"]
    assert [s["stage"] for s in command_starts] == ["base", None]
    starts = [e for e in evs if e["type"] == "model.start"]
    calls = [e for e in evs if e["type"] == "model.call"]
    for start, call in zip(starts, calls, strict=True):
        assert start["call_key"] == call["call_key"] and start["role"] == call["role"]
        assert start["gen_ai.request.model"] == call["gen_ai.request.model"]
        assert start["seq"] < call["seq"] and start["est_input_tokens"] > 0
    assert next(e for e in evs if e["type"] == "command.start")["command"] == ran[0]["command"]


def test_plain_display_lines_and_quiet_mode_keeps_warnings(tmp_path):
    out = tmp_path / "log.txt"
    with out.open("w") as fh:
        display = RunDisplay("plain", fh)
        display({"type": "model.start", "run_id": "r", "role": "reviewer", "packet": 1,
                 "round": 2, "attempt": 2, "gen_ai.request.model": "m/x"})
        display({"type": "model.delta", "run_id": "r", "est_output_tokens": 5})
        display({"type": "command.output", "run_id": "r", "line": "noise"})
        quiet = RunDisplay("quiet", fh)
        quiet({"type": "plan.gate", "run_id": "r", "passed": True, "errors": []})
        quiet({"type": "warning", "run_id": "r", "message": "dirty tree"})
    assert out.read_text().splitlines() == [
        "  reviewer p1 r2: asking m/x (attempt 2) ...", "baton: warning: dirty tree"]
    assert quiet.warnings_shown == {"dirty tree"}


def test_the_dirty_tree_warning_comes_before_any_money_is_spent(baton, sample_repo):
    (sample_repo / "stats.py").write_text("# work in progress\n")
    baton.serve(demo_script())
    proc = baton("run", TASK, "--repo", str(sample_repo))
    assert proc.returncode == 0, proc.stderr
    err = proc.stderr
    warning = "baton: warning: your working tree has uncommitted changes"
    assert err.count(warning) == 1  # said once, early, not again at the end
    assert err.index(warning) < err.index("planner: asking")
    as_json = baton("run", TASK, "--repo", str(sample_repo), "--json")
    assert as_json.stderr.count(warning) == 1 and "planner" not in as_json.stderr
