"""Dynamic splitting: a plan of scoped packets, implemented and reviewed one by one."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from conftest import IMPLEMENTER, PLANNER, REVIEWER, demo_script, events, fence, set_responses

PLAN = {
    "summary": "Add median() and mode() to stats.py, then tests for both.",
    "affected_files": [{"path": "stats.py", "change": "add median and mode"},
                       {"path": "tests/test_more.py", "change": "tests"}],
    "risks": ["unsorted input"], "acceptance_criteria": ["tests pass"],
    "test_commands": ["python -m unittest discover -s tests"],
    "rollback": "revert the commit", "risk_level": "low",
    "commit_message": "Add median() and mode()",
    "packets": [
        {"title": "median", "goal": "add median()", "files": ["stats.py"],
         "acceptance_criteria": ["median([3,1,2]) == 2"]},
        {"title": "mode", "goal": "add mode()", "files": ["stats.py"],
         "acceptance_criteria": ["mode([1,1,2]) == 1"]},
        {"title": "tests", "goal": "test both", "files": ["tests/test_more.py"],
         "acceptance_criteria": ["tests cover both"]},
    ],
}
MEDIAN = ("stats.py\n<<<<<<< SEARCH\n    return sum(values) / len(values)\n=======\n"
          "    return sum(values) / len(values)\n\n\ndef median(values):\n"
          "    ordered = sorted(values)\n    mid = len(ordered) // 2\n"
          "    return ordered[mid] if len(ordered) % 2 else "
          "(ordered[mid - 1] + ordered[mid]) / 2\n>>>>>>> REPLACE\n")
MODE = ("stats.py\n<<<<<<< SEARCH\n    return ordered[mid] if len(ordered) % 2 else "
        "(ordered[mid - 1] + ordered[mid]) / 2\n=======\n"
        "    return ordered[mid] if len(ordered) % 2 else "
        "(ordered[mid - 1] + ordered[mid]) / 2\n\n\ndef mode(values):\n"
        "    return max(sorted(set(values)), key=list(values).count)\n>>>>>>> REPLACE\n")
TESTS = ("tests/test_more.py\n<<<<<<< SEARCH\n=======\nimport unittest\n\n"
         "from stats import median, mode\n\n\nclass MoreTest(unittest.TestCase):\n"
         "    def test_median(self):\n        self.assertEqual(median([3, 1, 2]), 2)\n\n"
         "    def test_mode(self):\n        self.assertEqual(mode([1, 1, 2]), 1)\n"
         ">>>>>>> REPLACE\n")


def verdict(kind: str, summary: str = "ok") -> str:
    return fence({"verdict": kind, "summary": summary, "top_risks": [],
                  "required_fixes": ["fix it"] if kind == "request_changes" else []})


def split_script(reviews: list[str]) -> dict:
    script = demo_script()
    set_responses(script, PLANNER, [fence(PLAN)])
    set_responses(script, IMPLEMENTER, [MEDIAN, MODE, TESTS])
    set_responses(script, REVIEWER, reviews)
    return script


def test_three_packets_each_implemented_and_reviewed(baton, sample_repo):
    baton.serve(split_script([verdict("approve")] * 3))
    proc = baton("run", "median, mode and tests", "--repo", str(sample_repo), "--json")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    result = json.loads(proc.stdout)
    run_dir = Path(result["run_dir"])
    evs = events(run_dir)
    assert [e["packet"] for e in evs if e["type"] == "packet.start"] == [1, 2, 3]
    assert [(e["packet"], e["outcome"]) for e in evs if e["type"] == "packet.end"] == [
        (1, "approved"), (2, "approved"), (3, "approved")]
    assert [e["packet"] for e in evs if e["type"] == "review.verdict"] == [1, 2, 3]
    applied = [(e["packet"], e["files"]) for e in evs if e["type"] == "edits.applied"]
    assert applied == [(1, ["stats.py"]), (2, ["stats.py"]), (3, ["tests/test_more.py"])]
    assert sorted(p.name for p in (run_dir / "reviews").iterdir()) == [
        "p1-r1.json", "p2-r1.json", "p3-r1.json"]
    # Packet 2's reviewer sees only packet 2's diff.
    prompts = sorted((run_dir / "packets").glob("*-reviewer.md"))
    second = prompts[1].read_text()
    assert "+def mode(values):" in second and "+def median(values):" not in second
    assert "packet 2 of 3" in second.lower() or "(2 of 3)" in second
    # One commit with everything; the verifier ran the whole suite once at the end.
    files = subprocess.run(["git", "show", "--name-only", "--format=", result["branch"]],
                           cwd=sample_repo, capture_output=True, text=True).stdout.split()
    assert sorted(files) == ["stats.py", "tests/test_more.py"]
    commands = [e for e in evs if e["type"] == "command" and e["ran"]]
    assert len(commands) == 1 and commands[0]["exit_code"] == 0
    assert evs.index(commands[0]) > max(i for i, e in enumerate(evs)
                                        if e["type"] == "packet.end")


def test_packet_blocked_in_the_middle_stops_with_no_go(baton, sample_repo):
    gateway = baton.serve(split_script([verdict("approve"),
                                        verdict("block", "mode() is not wanted")]))
    proc = baton("run", "median, mode and tests", "--repo", str(sample_repo), "--json")
    assert proc.returncode == 1, proc.stderr
    result = json.loads(proc.stdout)
    assert result["decision"] == "no-go"
    assert "packet 2/3 (mode)" in result["reasons"][0] and "blocked" in result["reasons"][0]
    evs = events(Path(result["run_dir"]))
    assert [(e["packet"], e["outcome"]) for e in evs if e["type"] == "packet.end"] == [
        (1, "approved"), (2, "blocked")]
    assert not any(e["type"] == "command" for e in evs)
    assert [r["model"] for r in gateway.requests()].count(IMPLEMENTER) == 2
