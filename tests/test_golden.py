"""Golden files for the prompts every role is sent.

A change to a template shows up here as a diff to review. Regenerate with:

    BATON_REGEN_GOLDEN=1 .venv/bin/python -m pytest tests/test_golden.py
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from baton import prompts
from baton.models import PlanPacket

GOLDEN = Path(__file__).parent / "golden"
PACKET = PlanPacket(title="median", goal="add median()", files=["stats.py"],
                    acceptance_criteria=["median([3, 1, 2]) == 2"])
FILES = [{"path": "stats.py", "exists": True, "refused": "",
          "content": "def mean(values):\n    return sum(values) / len(values)\n"},
         {"path": "tests/test_median.py", "exists": False, "content": "", "refused": ""},
         {"path": "../secret", "exists": False, "content": "",
          "refused": "refused: '..' segments are not allowed"}]
CASES = {
    "planner": dict(task="Add median()", repo_map="stats.py (120 B): mean",
                    key_files=[{"path": "README.md", "content": "# stats\n"}], max_packets=5,
                    repair_errors=["rollback: must not be empty"],
                    base_results=[{"command": "python -m pytest -q",
                                   "status": "exited 1; 3 collected, 3 run, 1 failed",
                                   "output": "FAILED tests/test_stats.py::test_mean"}]),
    "implementer": dict(task="Add median()", plan_text="## Summary\nAdd median().\n",
                        packet=PACKET, packet_index=1, packet_count=2, files=FILES,
                        required_fixes=["sort the values first"], round=2,
                        edit_error="edit 1 of 1 (stats.py): SEARCH text not found"),
    "reviewer": dict(task="Add median()", plan_text="## Summary\nAdd median().\n",
                     packet=PACKET, packet_index=1, packet_count=2, round=2, max_rounds=2,
                     flags=["changed outside the plan: README.md"],
                     previous_fixes=["sort the values first"],
                     diff="--- a/stats.py\n+++ b/stats.py\n@@ -1 +1,2 @@\n+def median(v): ...\n"),
    "verifier": dict(decision="go", evidence=[
        {"command": "python -m pytest -q", "source": "config", "ran": True, "exit_code": 0,
         "timed_out": False, "duration_s": 1.25, "output_tail": "3 passed\n",
         "reason_not_run": None},
        {"command": "make lint", "source": "reviewer", "ran": False, "exit_code": None,
         "timed_out": False, "duration_s": None, "output_tail": "",
         "reason_not_run": "not on command_allowlist"}]),
}


@pytest.mark.parametrize("role", sorted(CASES))
def test_prompt_matches_its_golden_file(role):
    rendered = prompts.as_markdown(role, prompts.render(role, **CASES[role]))
    golden = GOLDEN / f"{role}.md"
    if os.environ.get("BATON_REGEN_GOLDEN"):
        golden.write_text(rendered, encoding="utf-8")
    assert golden.is_file(), f"missing {golden}; regenerate with BATON_REGEN_GOLDEN=1"
    assert rendered == golden.read_text(encoding="utf-8")


@pytest.mark.parametrize("edit_format", ["apply_patch", "editor_tool", "whole_file"])
def test_each_edit_format_prompt_matches_its_golden_file(edit_format):
    context = {**CASES["implementer"], "variant": edit_format, "edit_format": edit_format}
    rendered = prompts.as_markdown("implementer", prompts.render("implementer", **context))
    golden = GOLDEN / f"implementer.{edit_format}.md"
    if os.environ.get("BATON_REGEN_GOLDEN"):
        golden.write_text(rendered, encoding="utf-8")
    assert golden.is_file(), f"missing {golden}; regenerate with BATON_REGEN_GOLDEN=1"
    assert rendered == golden.read_text(encoding="utf-8")


def test_summary_report_matches_its_golden_file(tmp_path):
    from test_summary import complete_run

    from baton.runs.summary import render_summary

    run_dir = complete_run(tmp_path / "run")
    rendered = render_summary(run_dir).replace(str(tmp_path), "<tmp>")
    golden = GOLDEN / "summary.md"
    if os.environ.get("BATON_REGEN_GOLDEN"):
        golden.write_text(rendered, encoding="utf-8")
    assert rendered == golden.read_text(encoding="utf-8")
