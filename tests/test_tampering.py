"""Patches that pass by deleting, skipping or weakening tests are flagged and stopped.

A real project with a real bug; the scripted implementer "fixes" it by tampering with the
test that shows the bug. The run stops for a person's approval (exit 3), naming what it
found, before anything is verified or committed.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from buggy_project import (
    DELETE_TEST,
    DROP_ASSERT,
    RIGHT_FIX,
    SKIP_TEST,
    WRONG_FIX,
    approve,
    edit,
    run_task,
    script,
)
from conftest import REVIEWER, events, run_json, snapshot

CASES = {
    "deleted test": (DELETE_TEST, ["test removed: tests/test_calc.py: `test_above` was deleted",
                                   "assertions removed: tests/test_calc.py"]),
    "pytest.skip": (SKIP_TEST, ['test skipped: tests/test_calc.py: added `pytest.skip("flaky")`']),
    "removed assertion": (DROP_ASSERT, ["assertions removed: tests/test_calc.py: 1 assertion"]),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_a_tampering_patch_is_flagged_and_stopped_for_approval(baton, buggy_repo, case):
    patch, expected = CASES[case]
    before = snapshot(buggy_repo)
    baton.serve(script([patch], [approve("tests pass now")]))
    proc = run_task(baton, buggy_repo)
    assert proc.returncode == 3, proc.stdout + proc.stderr
    result = run_json(proc)
    assert result["state"] == "awaiting_approval"
    message = "\n".join(result["reasons"])
    for text in expected:
        assert "test tampering: " + text in message, message
    run_dir = Path(result["run_dir"])
    trace = events(run_dir)
    (required,) = [e for e in trace if e["type"] == "approval.required"]
    assert all(any(t in r for r in required["rules"]) for t in expected)
    flags = [f["message"] for e in trace if e["type"] == "evidence.flags" for f in e["tampering"]]
    assert all(any(t in f for f in flags) for t in expected)
    assert not [e for e in trace if e["type"] == "command"]  # stopped before verification
    # the reviewer was told, and so is the person reading summary.md
    review_call = [e for e in trace if e["type"] == "model.call" and e["role"] == "reviewer"]
    review_prompt = (run_dir / review_call[0]["prompt_file"]).read_text()
    assert all(t in review_prompt for t in expected)
    summary = (run_dir / "summary.md").read_text()
    assert "### Test tampering" in summary and all(t in summary for t in expected)
    assert snapshot(buggy_repo) == before


def test_approved_skip_is_stopped_again_when_the_counts_show_fewer_tests(baton, buggy_repo):
    baton.serve(script([SKIP_TEST], [approve()]))
    proc = run_task(baton, buggy_repo)
    assert proc.returncode == 3, proc.stdout + proc.stderr
    run_id = run_json(proc)["run_id"]
    proc = baton("approve", run_id, "--json", cwd=buggy_repo)  # approves, then continues
    # verification ran: pytest now reports a skip the base commit did not have
    assert proc.returncode == 3, proc.stdout + proc.stderr
    message = "\n".join(run_json(proc)["reasons"])
    assert "more tests skipped" in message and "0 on the base commit, 1 after" in message
    assert "fewer tests run" in message and "before the commit" in message
    assert "added `pytest.skip" not in message  # already approved: not asked twice
    run_dir = buggy_repo / ".baton" / "runs" / run_id
    stages = [e.get("stage") for e in events(run_dir) if e["type"] == "approval.required"]
    assert stages == [None, "evidence"]
    proc = baton("approve", run_id, "--json", cwd=buggy_repo)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert run_json(proc)["decision"] == "go"  # a person approved both times
    workflow = json.loads((run_dir / "workflow.json").read_text())
    assert any("more tests skipped" in r for r in workflow["approval"]["rules"])


def test_tampering_in_a_fix_round_is_caught_too(baton, buggy_repo):
    baton.serve(script([WRONG_FIX, DELETE_TEST], [approve(), approve()]))
    proc = run_task(baton, buggy_repo)
    assert proc.returncode == 3, proc.stdout + proc.stderr
    result = run_json(proc)
    assert "`test_above` was deleted" in "\n".join(result["reasons"])
    run_dir = Path(result["run_dir"])
    stages = [e.get("stage") for e in events(run_dir) if e["type"] == "approval.required"]
    assert stages == ["fix1"]


def test_the_tampering_rule_can_be_switched_off(baton, buggy_repo):
    baton.serve(script([DELETE_TEST], [approve()]))
    proc = run_task(baton, buggy_repo, "--set", "approval.tampering=false",
               "--set", "approval.test_changes=false")
    # nothing stops it, the harness still records what it saw
    assert proc.returncode == 0, proc.stdout + proc.stderr
    run_dir = Path(run_json(proc)["run_dir"])
    summary = (run_dir / "summary.md").read_text()
    assert "`test_above` was deleted" in summary and "fewer tests collected" in summary


LOOSEN_MEAN = edit("tests/test_mean.py", "    assert mean([1, 2, 3, 4]) == 2.5",
                   "    assert mean([1, 2, 3, 4])")


def test_an_assertion_loosened_in_place_is_named_with_its_test_and_line(baton, buggy_repo):
    """No fix, only ``assert mean(...) == 2.5`` -> ``assert mean(...)``: the finding names
    the test function and the line in the approval reason, the trace, the reviewer's
    packet and summary.md."""
    baton.serve(script([LOOSEN_MEAN], [approve()]))
    proc = run_task(baton, buggy_repo)
    assert proc.returncode == 3, proc.stdout + proc.stderr
    result = run_json(proc)
    said = ("assertion loosened: tests/test_mean.py: `test_mean` line 5: "
            "`assert mean([1, 2, 3, 4]) == 2.5` became `assert mean([1, 2, 3, 4])` "
            "(a comparison weakened to a truthiness test)")
    assert "test tampering: " + said in "\n".join(result["reasons"]), result["reasons"]
    run_dir = Path(result["run_dir"])
    trace = events(run_dir)
    flags = [f["message"] for e in trace if e["type"] == "evidence.flags" for f in e["tampering"]]
    assert said in flags
    review_call = [e for e in trace if e["type"] == "model.call" and e["role"] == "reviewer"]
    assert said in (run_dir / review_call[0]["prompt_file"]).read_text()
    assert said in (run_dir / "summary.md").read_text()


def test_baton_review_sees_a_loosened_assertion_too(baton, sample_repo):
    test = sample_repo / "tests" / "test_stats.py"
    test.write_text(test.read_text()
                    .replace("self.assertEqual(mean([1, 2, 3, 4]), 2.5)",
                             "self.assertTrue(mean([1, 2, 3, 4]))")
                    .replace("self.assertRaises(ValueError)", "self.assertRaises(Exception)"))
    baton.serve({"models": {REVIEWER: [{"content": approve()}]}})
    proc = baton("review", "--repo", str(sample_repo), "--json", "--uncommitted")
    assert proc.returncode == 3, proc.stdout + proc.stderr
    result = run_json(proc)
    message = "\n".join(result["reasons"])
    assert "`MeanTest.test_mean` line 8: `self.assertEqual(mean([1, 2, 3, 4]), 2.5)` became " \
        "`self.assertTrue(mean([1, 2, 3, 4]))`" in message, message
    assert "`MeanTest.test_empty` line 11" in message and "broadened to Exception" in message
    run_dir = Path(result["run_dir"])
    packet = (run_dir / "packets" / "01-reviewer.md").read_text()
    assert "`MeanTest.test_empty` line 11" in packet
    assert "`MeanTest.test_mean` line 8" in (run_dir / "summary.md").read_text()


def test_when_the_count_drops_the_tests_that_stopped_running_are_named(baton, buggy_repo):
    """A root conftest.py that stops test_mean from being collected: after approval the
    counts drop, and the stop names the test that ran on the base commit and not after
    (from the JUnit report baton asks pytest for), with a count."""
    deselect = "conftest.py\n<<<<<<< FILE\ncollect_ignore = ['tests/test_mean.py']\n" \
        ">>>>>>> FILE\n"
    baton.serve(script([RIGHT_FIX + "\n" + deselect], [approve()]))
    proc = run_task(baton, buggy_repo)
    assert proc.returncode == 3, proc.stdout + proc.stderr
    run_id = run_json(proc)["run_id"]
    proc = baton("approve", run_id, "--json", cwd=buggy_repo)
    assert proc.returncode == 3, proc.stdout + proc.stderr
    message = "\n".join(run_json(proc)["reasons"])
    assert "fewer tests collected" in message and "4 on the base commit, 3 after" in message
    assert "1 test(s) ran on the base commit and not after the change: " \
        "tests/test_mean.py::test_mean" in message, message
    run_dir = buggy_repo / ".baton" / "runs" / run_id
    base_names = (run_dir / "evidence" / "base-01.tests.txt").read_text().splitlines()
    assert "tests/test_calc.py::ClampTest::test_above" in base_names and len(base_names) == 4
    assert not list(run_dir.glob("**/.baton-tests.xml"))
    drift = [e for e in events(run_dir) if e["type"] == "verify.drift"]
    assert not any(".baton-tests.xml" in json.dumps(e) for e in drift)
