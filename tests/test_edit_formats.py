"""A run with each edit format against the fake gateway, tool calls included.

Each run's implementer first sends a patch that cannot apply (one good change, one bad):
nothing of it is written (the retry prompt still shows the new file as not existing),
the repair message speaks that format; the second answer lands and the run goes.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from conftest import PLANNER, REVIEWER, demo_script, events, fence, run_json

from baton.demo import make_sample_repo

TASK = "Add a median() function to stats.py, with tests."
IMPLEMENTERS = {"search_replace": "qwen/qwen3-coder", "whole_file": "qwen/qwen3-coder",
                "apply_patch": "openai/gpt-5-codex", "editor_tool": "anthropic/claude-opus-4.1"}

MEAN_RETURN = "    return sum(values) / len(values)\n"
MEDIAN = '''

def median(values):
    """Middle value of a non-empty sequence."""
    if not values:
        raise ValueError("median() of an empty sequence")
    ordered = sorted(values)
    middle = len(ordered) // 2
    if len(ordered) % 2:
        return ordered[middle]
    return (ordered[middle - 1] + ordered[middle]) / 2
'''
TEST_FILE = '''import unittest

from stats import median


class MedianTest(unittest.TestCase):
    def test_odd_unsorted(self):
        self.assertEqual(median([3, 1, 2]), 2)

    def test_even(self):
        self.assertEqual(median([4, 1, 3, 2]), 2.5)


if __name__ == "__main__":
    unittest.main()
'''


def plus(text: str) -> str:
    return "".join(f"+{line}\n" for line in text.splitlines())


def editor(command: str, **args) -> dict:
    return {"name": "str_replace_based_edit_tool", "arguments": {"command": command, **args}}


def answers(fmt: str, stats: str) -> tuple[dict, dict]:
    """(refused answer, good answer) of the implementer in ``fmt``."""
    if fmt == "search_replace":
        good = (f"stats.py\n<<<<<<< SEARCH\n{MEAN_RETURN}=======\n{MEAN_RETURN}{MEDIAN}"
                f">>>>>>> REPLACE\n\ntests/test_median.py\n<<<<<<< SEARCH\n=======\n"
                f"{TEST_FILE}>>>>>>> REPLACE\n")
        bad = good.replace(MEAN_RETURN + "=", "    return total / count\n=", 1)
        return {"content": bad}, {"content": good}
    if fmt == "whole_file":
        good = (f"stats.py\n<<<<<<< FILE\n{stats}{MEDIAN}>>>>>>> FILE\n\n"
                f"tests/test_median.py\n<<<<<<< FILE\n{TEST_FILE}>>>>>>> FILE\n")
        bad = good.replace(stats, '"""Small statistics helpers."""\n\n# ... existing code ...\n')
        return {"content": bad}, {"content": good}
    if fmt == "editor_tool":
        create = editor("create", path="tests/test_median.py", file_text=TEST_FILE)
        good = [editor("str_replace", path="stats.py", old_str="Arithmetic mean of",
                       new_str="The arithmetic mean of"),
                editor("insert", path="stats.py", insert_line=len(stats.splitlines()),
                       insert_text=MEDIAN),
                create]
        bad = [create, editor("str_replace", path="stats.py", old_str="return total / count",
                              new_str="return 0")]
        return {"content": "", "tool_calls": bad}, {"content": "Done.", "tool_calls": good}
    raise AssertionError(fmt)


def prompts_of(run_dir: Path, role: str) -> list[str]:
    return [p.read_text() for p in sorted((run_dir / "packets").glob(f"*-{role}.md"))]


def start(baton, tmp_path: Path, fmt: str, implementer: list[dict], *, extra: str = "",
          plan: str | None = None, stream: bool = True, override: bool = False,
          prepare=None, route_extra: str = "", more_models: dict | None = None):
    repo = make_sample_repo(tmp_path / "repo")
    if prepare is not None:
        prepare(repo)
    model = IMPLEMENTERS[fmt]
    toml = repo / "baton.toml"
    text = toml.read_text().replace('model = "qwen/qwen3-coder"', f'model = "{model}"'
                                    + (f'\nedit_format = "{fmt}"' if override else "")
                                    + (f"\n{route_extra}" if route_extra else ""))
    toml.write_text(text + extra)
    subprocess.run(["git", "add", "-A"], cwd=repo, check=True)
    subprocess.run(["git", "commit", "-qm", "routes", "--allow-empty"], cwd=repo, check=True)
    script = demo_script()
    script["models"][model] = implementer
    script["models"].update(more_models or {})
    if plan is not None:
        script["models"][PLANNER] = [{"content": plan}]
    script["models"][REVIEWER] = [{"content": fence({
        "verdict": "approve", "summary": "fine", "top_risks": [], "required_fixes": []})}]
    gateway = baton.serve(script)
    cfg = tmp_path / "stream.toml"
    cfg.write_text(f"stream = {'true' if stream else 'false'}\n")
    proc = baton("run", TASK, "--repo", str(repo), "--json", "--config", str(cfg))
    return repo, gateway, proc


def branch_file(repo: Path, branch: str, name: str) -> str | None:
    out = subprocess.run(["git", "show", f"{branch}:{name}"], cwd=repo, capture_output=True,
                         text=True)
    return out.stdout if out.returncode == 0 else None


REPAIR_WORDS = {
    "search_replace": ["edit 1 of 2 (stats.py): the SEARCH text was not found",
                       "Return corrected edit blocks"],
    "whole_file": ["line 3 of FILE", "stands for code left out",
                   "Return every changed file in full again"],
    "editor_tool": ["tool call 2 of 2 (stats.py): the old_str was not found",
                    "Call the tool again", "str_replace_based_edit_tool call per change"],
}


@pytest.mark.parametrize("fmt,stream", [("search_replace", True), ("whole_file", False),
                                        ("editor_tool", True), ("editor_tool", False)])
def test_a_run_goes_with_each_format_after_a_refused_patch_that_wrote_nothing(
        baton, tmp_path, fmt, stream):
    stats = (Path(make_sample_repo(tmp_path / "probe")) / "stats.py").read_text()
    bad, good = answers(fmt, stats)
    repo, gateway, proc = start(baton, tmp_path, fmt, [bad, good], stream=stream,
                                override=fmt == "whole_file")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    result = run_json(proc)
    assert result["decision"] == "go"
    expected = stats + MEDIAN
    if fmt == "editor_tool":
        expected = expected.replace("Arithmetic mean of", "The arithmetic mean of")
    assert branch_file(repo, result["branch"], "stats.py") == expected
    assert branch_file(repo, result["branch"], "tests/test_median.py") == TEST_FILE

    run_dir = Path(result["run_dir"])
    first, second = prompts_of(run_dir, "implementer")
    # The first answer's good half was not written: the retry still sees no test file.
    assert "## tests/test_median.py\n(does not exist yet)" in second
    for words in REPAIR_WORDS[fmt]:
        assert words in second, second
    if fmt != "search_replace":
        assert "<<<<<<< SEARCH" not in first  # each format has its own prompt

    log = [r for r in gateway.requests() if r["model"] == IMPLEMENTERS[fmt]]
    tools = ["str_replace_based_edit_tool"] if fmt == "editor_tool" else None
    assert [r["tools"] for r in log] == [tools, tools]
    assert [r["stream"] for r in log] == [stream, stream]
    trace = events(run_dir)
    rejected = [e for e in trace if e["type"] == "edits.rejected"]
    applied = [e for e in trace if e["type"] == "edits.applied"]
    assert len(rejected) == 1 and len(applied) == 1
    assert applied[0]["edit_format"] == fmt
    calls = [e for e in trace if e["type"] == "model.call" and e["role"] == "implementer"]
    # Tool calls are output: counted, priced and budgeted like text ("Done." is 2 tokens).
    assert calls[1]["gen_ai.usage.output_tokens"] > 100
    assert all(c["cost_usd"] > 0 for c in calls)
    if fmt == "editor_tool":
        recorded = (run_dir / calls[1]["response_file"]).read_text()
        assert "<!-- baton: tool calls -->" in recorded and "insert_line" in recorded


V4A_PLAN = fence({
    "summary": "Add median() with tests; move the README under docs/; drop legacy.py.",
    "affected_files": [{"path": p, "change": c} for p, c in [
        ("stats.py", "add median()"), ("tests/test_median.py", "new tests"),
        ("README.md", "moved to docs/README.md"), ("docs/README.md", "the moved README"),
        ("legacy.py", "deleted: unused")]],
    "risks": ["a rename loses the file's history in simple tools"],
    "acceptance_criteria": ["median([3, 1, 2]) == 2"],
    "test_commands": ["python -m unittest discover -s tests"],
    "rollback": "Revert the commit.", "risk_level": "low",
    "commit_message": "Add median(), move README, drop legacy.py", "packets": []})


def v4a_patch(stats_hunk: str) -> str:
    return (
        "*** Begin Patch\n"
        "*** Update File: stats.py\n"
        f"{stats_hunk}"
        "*** Add File: tests/test_median.py\n"
        f"{plus(TEST_FILE)}"
        "*** Update File: README.md\n"
        "*** Move to: docs/README.md\n"
        "@@\n"
        " # stats\n"
        " \n"
        "-Small statistics helpers, used by `baton demo`.\n"
        "+Small statistics helpers (mean, median), used by `baton demo`.\n"
        "*** Delete File: legacy.py\n"
        "*** End Patch\n")


def test_a_v4a_patch_adds_updates_renames_and_deletes_in_one_reply_gated_and_reviewed(
        baton, tmp_path):
    good_hunk = ("@@ def mean(values):\n"
                 "     if not values:\n"
                 "         raise ValueError(\"mean() of an empty sequence\")\n"
                 f" {MEAN_RETURN}" + plus(MEDIAN))
    bad_hunk = ("@@ def mean(values):\n"
                "-    return total / count\n"
                "+    return 0\n")
    implementer = [
        # Refused: the stats.py hunk matches nothing. As a tool call, streamed in pieces.
        {"content": "", "tool_calls": [{"name": "apply_patch",
                                        "arguments": {"input": v4a_patch(bad_hunk)}}]},
        {"content": "", "tool_calls": [{"name": "apply_patch",
                                        "arguments": {"input": v4a_patch(good_hunk)}}]},
    ]
    repo = make_sample_repo(tmp_path / "probe")
    stats = (repo / "stats.py").read_text()
    readme = (repo / "README.md").read_text()
    extra = '\n[approval]\npaths = ["legacy.py"]\n'

    def add_legacy(repo: Path) -> None:
        (repo / "legacy.py").write_text("OLD = True\n")
        subprocess.run(["git", "add", "legacy.py"], cwd=repo, check=True)

    repo, gateway, proc = start(baton, tmp_path, "apply_patch", implementer, extra=extra,
                                plan=V4A_PLAN, prepare=add_legacy)
    # The deletion is gated like any change: legacy.py matches an approval glob.
    assert proc.returncode == 3, proc.stdout + proc.stderr
    result = run_json(proc)
    assert any("touched path 'legacy.py'" in r for r in result["reasons"]), result["reasons"]
    run_dir = Path(result["run_dir"])

    first, second = prompts_of(run_dir, "implementer")
    assert "*** Begin Patch" in first and "<<<<<<< SEARCH" not in first
    assert "tools: apply_patch" in first
    # Nothing of the refused patch was written: no new file, no move, no deletion.
    assert "## tests/test_median.py\n(does not exist yet)" in second
    assert "## docs/README.md\n(does not exist yet)" in second
    assert "OLD = True" in second and "Small statistics helpers, used by" in second
    assert "change 1 of 5 (stats.py): the hunk's context and '-' lines were not found" \
        in second
    assert "Send one corrected patch" in second and "*** Begin Patch" in second
    # The reviewer is told of the deletion and the rename, and sees them in the diff.
    review = prompts_of(run_dir, "reviewer")[0]
    assert "renames README.md to docs/README.md" in review and "deletes legacy.py" in review
    assert "legacy.py" in review and "docs/README.md" in review

    applied = next(e for e in events(run_dir) if e["type"] == "edits.applied")
    assert applied["edit_format"] == "apply_patch"
    assert applied["deleted"] == ["README.md", "legacy.py"]
    assert applied["renamed"] == {"README.md": "docs/README.md"}
    log = [r for r in gateway.requests() if r["model"] == IMPLEMENTERS["apply_patch"]]
    assert [r["tools"] for r in log] == [["apply_patch"]] * 2

    approved = baton("approve", result["run_id"], "--repo", str(repo), "--json")
    assert approved.returncode == 0, approved.stdout + approved.stderr
    done = run_json(approved)
    assert done["decision"] == "go"
    branch = done["branch"]
    assert branch_file(repo, branch, "stats.py") == stats + MEDIAN
    assert branch_file(repo, branch, "tests/test_median.py") == TEST_FILE
    assert branch_file(repo, branch, "docs/README.md") == readme.replace(
        "helpers, used", "helpers (mean, median), used")
    assert branch_file(repo, branch, "README.md") is None
    assert branch_file(repo, branch, "legacy.py") is None


def test_a_fallback_model_is_asked_in_its_own_format(baton, tmp_path):
    stats = (Path(make_sample_repo(tmp_path / "probe")) / "stats.py").read_text()
    _, good = answers("editor_tool", stats)
    fallback = IMPLEMENTERS["editor_tool"]
    extra_route = f'fallbacks = ["{fallback}"]'
    repo, gateway, proc = start(
        baton, tmp_path, "apply_patch", [{"content": "unused", "faults": ["422"]}],
        route_extra=extra_route, more_models={fallback: [good]})
    assert proc.returncode == 0, proc.stdout + proc.stderr
    result = run_json(proc)
    expected = (stats + MEDIAN).replace("Arithmetic mean of", "The arithmetic mean of")
    assert branch_file(repo, result["branch"], "stats.py") == expected
    log = [r for r in gateway.requests() if r["call"] == "implementer/p1/r1/e1"]
    # The primary (OpenAI) was offered apply_patch; its Anthropic fallback the editor tool.
    assert [(r["model"], r["tools"]) for r in log] == [
        (IMPLEMENTERS["apply_patch"], ["apply_patch"]),
        (fallback, ["str_replace_based_edit_tool"])]
    packet = prompts_of(Path(result["run_dir"]), "implementer")[0]
    assert "*** Begin Patch" in packet
    assert f"# implementer (fallback {fallback}) packet\ntools: str_replace_based_edit_tool" \
        in packet
    applied = next(e for e in events(Path(result["run_dir"])) if e["type"] == "edits.applied")
    assert applied["edit_format"] == "editor_tool"
