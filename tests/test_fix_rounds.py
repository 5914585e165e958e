"""Verify, fix, re-review; and before/after evidence, on a real project with a real bug.

The harness runs real pytest on the base commit and on each patched tree; the implementer
and reviewer answer from a script over real HTTP through the fake gateway.
"""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import pytest
from buggy_project import (
    FIX_THE_FIX,
    RIGHT_FIX,
    TASK,
    VERIFY,
    WRONG_FIX,
    approve,
    make_buggy_repo,
    run_task,
    script,
)
from conftest import demo_script, events, run_json, snapshot


def of(run_dir: Path, kind: str) -> list[dict]:
    return [e for e in events(run_dir) if e["type"] == kind]


def test_a_failing_first_patch_goes_back_and_the_fix_lands_after_one_round(baton, buggy_repo):
    before = snapshot(buggy_repo)
    baton.serve(script([WRONG_FIX, FIX_THE_FIX], [approve("looks right"), approve()]))
    proc = run_task(baton, buggy_repo)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    result = run_json(proc)
    assert result["decision"] == "go"
    run_dir = Path(result["run_dir"])
    assert snapshot(buggy_repo) == before

    # the base commit: the harness ran the verify command and saw the bug
    (base,) = of(run_dir, "base.command")
    assert base["command"] == VERIFY and base["exit_code"] == 1
    assert base["tests"]["failed"] == 1 and base["tests"]["collected"] == 4
    # round 0 failed, one fix round, then passed
    commands = of(run_dir, "command")
    ran = [c for c in commands if c["ran"]]
    assert [(c["stage"], c["exit_code"]) for c in ran] == [(None, 1), ("fix1", 0)]
    (start,) = of(run_dir, "fix.start")
    (end,) = of(run_dir, "fix.end")
    assert start["fix_round"] == 1 and start["failed"] == [VERIFY]
    assert end["outcome"] == "passed" and end["failed"] == []
    verdicts = [(e["packet"], e["round"], e["verdict"]) for e in of(run_dir, "review.verdict")]
    assert verdicts == [(1, 1, "approve"), (2, 1, "approve")]  # the fix was reviewed again

    # the failure's output went to the implementer as a required fix; the base run to both
    calls = of(run_dir, "model.call")
    assert [c["role"] for c in calls] == ["planner", "implementer", "reviewer",
                                          "implementer", "reviewer"]
    planner_prompt = (run_dir / calls[0]["prompt_file"]).read_text()
    assert "on the base commit, before any change" in planner_prompt
    assert "test_above" in planner_prompt and "exited 1" in planner_prompt
    first_impl = (run_dir / calls[1]["prompt_file"]).read_text()
    assert "on the base commit, before any change" in first_impl
    fix_prompt = (run_dir / calls[3]["prompt_file"]).read_text()
    assert "the harness ran" in fix_prompt and "11 != 10" in fix_prompt
    assert "not by deleting, skipping or weakening tests" in fix_prompt
    review_prompt = (run_dir / calls[4]["prompt_file"]).read_text()
    assert "verification failed before this fix" in review_prompt

    # before/after: fail -> pass, in the trace, the run folder and summary.md
    (ba,) = of(run_dir, "evidence.before_after")
    assert [(r["command"], r["change"]) for r in ba["commands"]] == [(VERIFY, "fail -> pass")]
    assert ba["already_passing"] is False
    summary = (run_dir / "summary.md").read_text()
    assert "### Before and after" in summary and "**fail -> pass**" in summary
    assert "exited 1; 4 collected, 4 run, 1 failed" in summary
    assert "### Fix rounds" in summary and "| 1 | " in summary and "| passed | none |" in summary
    assert "already passed on the base commit" not in summary
    assert "| fix 1 | 1 | " in summary and "- Fix round 1, round 1: correct and tested" in summary
    show = subprocess.run(["git", "show", f"{result['branch']}:calc.py"], cwd=buggy_repo,
                          capture_output=True, text=True).stdout
    assert "return min(max(x, lo), hi)\n" in show


def test_fix_rounds_exhausted_is_no_go_naming_the_rounds(baton, buggy_repo):
    still_wrong = FIX_THE_FIX.replace("hi)", "hi + 2)")
    baton.serve(script([WRONG_FIX, still_wrong], [approve(), approve()]))
    proc = run_task(baton, buggy_repo, "--set", "max_fix_rounds=1")
    assert proc.returncode == 1, proc.stdout + proc.stderr
    result = run_json(proc)
    assert result["decision"] == "no-go"
    assert any("exited 1" in r for r in result["reasons"])
    assert any("still failing after 1 fix round(s)" in r for r in result["reasons"])
    run_dir = Path(result["run_dir"])
    (end,) = of(run_dir, "fix.end")
    assert end["outcome"] == "failed" and end["failed"] == [VERIFY]
    summary = (run_dir / "summary.md").read_text()
    assert "| failed |" in summary and "**fail -> fail**" in summary


def test_zero_fix_rounds_is_todays_behaviour(baton, buggy_repo):
    gateway = baton.serve(script([WRONG_FIX], [approve()]))
    proc = run_task(baton, buggy_repo, "--set", "max_fix_rounds=0")
    assert proc.returncode == 1, proc.stdout + proc.stderr
    run_dir = Path(run_json(proc)["run_dir"])
    assert not of(run_dir, "fix.start")
    assert len(gateway.requests()) == 3  # plan, implement, review: nothing handed back


def test_a_right_first_patch_needs_no_fix_round_and_shows_fail_to_pass(baton, buggy_repo):
    baton.serve(script([RIGHT_FIX], [approve()]))
    proc = run_task(baton, buggy_repo)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    run_dir = Path(run_json(proc)["run_dir"])
    assert not of(run_dir, "fix.start")
    (ba,) = of(run_dir, "evidence.before_after")
    assert ba["commands"][0]["change"] == "fail -> pass"
    stored = (run_dir / "evidence" / "before-after.json").read_text()
    assert '"fail -> pass"' in stored and (run_dir / "evidence" / "base-01.log").is_file()


def test_checks_that_already_passed_before_the_change_are_said_plainly(baton, sample_repo):
    baton.serve(demo_script())
    proc = baton("run", "Add a median() function to stats.py, with tests.", "--repo",
                 str(sample_repo), "--json")
    assert proc.returncode == 0, proc.stderr
    run_dir = Path(run_json(proc)["run_dir"])
    (ba,) = of(run_dir, "evidence.before_after")
    assert ba["already_passing"] is True and ba["commands"][0]["change"] == "pass -> pass"
    assert "already passed on the base commit" in (run_dir / "summary.md").read_text()


def test_without_verify_base_no_base_run_happens(baton, buggy_repo):
    baton.serve(script([RIGHT_FIX], [approve()]))
    proc = run_task(baton, buggy_repo, "--set", "verify_base=false")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    run_dir = Path(run_json(proc)["run_dir"])
    assert not of(run_dir, "base.command") and not of(run_dir, "evidence.before_after")


def test_a_budget_stop_inside_a_fix_round_resumes_to_go(baton, buggy_repo):
    gateway = baton.serve(script([WRONG_FIX, FIX_THE_FIX], [approve(), approve()]))
    proc = run_task(baton, buggy_repo, "--max-calls", "4")  # stops before the fix is reviewed
    assert proc.returncode == 4, proc.stdout + proc.stderr
    result = run_json(proc)
    run_dir = Path(result["run_dir"])
    assert of(run_dir, "fix.start") and not of(run_dir, "fix.end")
    proc = baton("resume", result["run_id"], "--json", "--max-calls", "100", cwd=buggy_repo)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert run_json(proc)["decision"] == "go"
    keys = [r["call"] for r in gateway.requests()]
    assert len(keys) == len(set(keys)) == 5  # nothing recorded was asked again
    assert [e["outcome"] for e in of(run_dir, "fix.end")] == ["passed"]
    assert len(of(run_dir, "base.command")) == 1  # the base run is not repeated


@pytest.mark.parametrize("chunk", range(3))  # interleaved thirds, spread by pytest-xdist
def test_killed_at_every_step_of_the_fix_round_then_resumed_ends_in_the_same_go(baton,
                                                                                 tmp_path,
                                                                                 chunk):
    """SIGKILL at each trace step from the first verification on, then ``baton resume``
    (each third of the steps in its own test)."""
    from concurrent.futures import ThreadPoolExecutor

    from test_crash_resume import kill, start_baton, trace_lines

    answers = script([WRONG_FIX, FIX_THE_FIX], [approve(), approve()])
    for entries in answers["models"].values():
        for entry in entries:
            entry["latency_s"] = 0.2
    baton.serve(answers)
    reference_repo = make_buggy_repo(tmp_path / "reference")
    proc = run_task(baton, reference_repo)
    assert proc.returncode == 0, proc.stderr
    reference = run_json(proc)
    kinds = [e["type"] for e in events(Path(reference["run_dir"]))]
    first = kinds.index("command")
    points = list(range(first, len(kinds) - 1))  # kill once the trace has this many lines
    points = points[chunk::3]
    expected = subprocess.run(["git", "show", f"{reference['branch']}:calc.py"],
                              cwd=reference_repo, capture_output=True, text=True).stdout

    def crash(lines: int) -> str:
        repo = make_buggy_repo(tmp_path / f"crash{lines}")
        proc = start_baton(baton, repo, "run", TASK, "--json")
        runs = repo / ".baton" / "runs"
        while proc.poll() is None and not (runs.is_dir() and any(runs.iterdir())):
            time.sleep(0.002)
        run_dir = next(runs.iterdir())
        while proc.poll() is None and len(trace_lines(run_dir)) < lines:
            time.sleep(0.002)
        kill(proc)
        resumed = baton("resume", run_dir.name, "--json", cwd=repo)
        if resumed.returncode != 0:
            return f"{lines}: exit {resumed.returncode}: {resumed.stderr[-500:]}"
        result = run_json(resumed)
        got = subprocess.run(["git", "show", f"{result['branch']}:calc.py"], cwd=repo,
                             capture_output=True, text=True).stdout
        ends = [e["outcome"] for e in events(run_dir) if e["type"] == "fix.end"]
        if result["decision"] != "go" or got != expected or ends != ["passed"]:
            return f"{lines}: {result['decision']}, fix.end {ends}, calc.py {got!r}"
        return ""

    with ThreadPoolExecutor(max_workers=3) as pool:
        problems = [p for p in pool.map(crash, points) if p]
    assert not problems, "\n".join(problems)
